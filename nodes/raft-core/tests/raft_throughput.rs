//! Throughput of the pure Raft core alone (no disk, no network): a 3-node cluster wired
//! in memory, clients proposing in batches, everything delivered at once. Measures how many
//! committed entries per second the core itself can move, i.e. the ceiling the server's
//! batching can reach. The measurement is `#[ignore]`d (run it with
//! `cargo test -p raft-core --release --test raft_throughput -- --ignored --nocapture`);
//! a small always-on test checks that every proposal commits exactly once and in order.

use std::collections::VecDeque;
use std::time::Instant;

use raft_core::raft::{Config, Message, Raft, RestoreState, Role};

struct Cluster {
    nodes: Vec<Raft>,
    applied: Vec<Vec<u64>>,
    queue: VecDeque<Message>,
}

impl Cluster {
    fn new(n: u64) -> Cluster {
        let voters: Vec<u64> = (1..=n).collect();
        let nodes = voters
            .iter()
            .map(|&id| {
                let mut cfg = Config::new(id, voters.clone());
                cfg.seed = id;
                Raft::new(cfg, RestoreState::default()).expect("config")
            })
            .collect();
        Cluster {
            nodes,
            applied: vec![Vec::new(); n as usize],
            queue: VecDeque::new(),
        }
    }

    fn drain(&mut self) {
        loop {
            for i in 0..self.nodes.len() {
                while self.nodes[i].has_ready() {
                    let rd = self.nodes[i].ready();
                    self.queue.extend(rd.messages);
                    for e in rd.committed {
                        if !e.data.is_empty() {
                            let mut b = [0u8; 8];
                            b.copy_from_slice(&e.data[..8]);
                            self.applied[i].push(u64::from_le_bytes(b));
                        }
                    }
                }
            }
            if self.queue.is_empty() {
                return;
            }
            while let Some(m) = self.queue.pop_front() {
                let to = (m.to - 1) as usize;
                self.nodes[to].step(m).expect("valid message");
            }
        }
    }

    fn elect(&mut self) -> usize {
        for _ in 0..100 {
            self.nodes[0].tick();
            self.drain();
            if self.nodes[0].status().role == Role::Leader {
                return 0;
            }
        }
        panic!("no leader");
    }

    /// Proposes `total` entries in batches of `batch`; returns seconds taken.
    fn run(&mut self, total: u64, batch: u64) -> f64 {
        let leader = self.elect();
        let start = Instant::now();
        let mut v = 0u64;
        while v < total {
            for _ in 0..batch.min(total - v) {
                self.nodes[leader]
                    .propose(v.to_le_bytes().to_vec())
                    .expect("leader");
                v += 1;
            }
            self.drain();
        }
        start.elapsed().as_secs_f64()
    }
}

#[test]
fn every_proposal_commits_once_in_order() {
    let mut c = Cluster::new(3);
    c.run(2_000, 37);
    let expected: Vec<u64> = (0..2_000).collect();
    for a in &c.applied {
        assert_eq!(a, &expected);
    }
}

#[test]
#[ignore = "measurement; run with --release --ignored --nocapture"]
fn core_throughput() {
    for batch in [1u64, 16, 64, 512] {
        let total = 20_000 * batch.min(16);
        let mut c = Cluster::new(3);
        let secs = c.run(total, batch);
        assert!(c.applied.iter().all(|a| a.len() as u64 == total));
        println!(
            "3 nodes, batch {batch:>3}: {total} entries in {secs:.3} s = {:.0} committed entries/s",
            total as f64 / secs
        );
    }
}
