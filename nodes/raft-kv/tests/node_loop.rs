//! The generic `raft-core` event loop driving the key-value state machine on one node:
//! batched proposals all applied in order, reads, snapshots by threshold, and recovery of
//! the same state from snapshot + WAL after a restart.

use raft_core::node::{
    start, CoreBugs, LoopConfig, NodeError, NodeHandle, Outbox, ProposeOutcome, ReadOutcome,
    Request,
};
use raft_core::raft::Message;
use raft_core::storage::{Storage, StorageOptions};
use raft_kv::kv::{ApplyResult, Command, Kv, Op};
use std::time::Duration;
use tokio::sync::oneshot;

struct NoPeers;
impl Outbox for NoPeers {
    fn send(&mut self, _msg: Message) {}
}

type Loop = std::thread::JoinHandle<Result<(), NodeError>>;

fn single(dir: &std::path::Path) -> (NodeHandle<Kv>, Loop) {
    let (storage, restore, _) = Storage::open(dir, StorageOptions::default()).expect("storage");
    let cfg = LoopConfig {
        id: 1,
        voters: vec![1],
        tick: Duration::from_millis(1),
        election_ticks: (5, 10),
        heartbeat_ticks: 1,
        snapshot_threshold: 30,
        bugs: CoreBugs::default(),
        bug_names: Vec::new(),
    };
    // The loop thread ends when the handle (the only sender) is dropped.
    start(cfg, storage, restore, Kv::new(), NoPeers).expect("start")
}

fn put(h: &NodeHandle<Kv>, k: &str, v: &str) -> oneshot::Receiver<ProposeOutcome<ApplyResult>> {
    let (tx, rx) = oneshot::channel();
    let cmd = Command {
        op: Op::Put {
            key: k.into(),
            value: v.into(),
        },
        req: None,
    };
    assert!(h.send(Request::Propose {
        data: cmd.encode(),
        reply: tx
    }));
    rx
}

fn read(h: &NodeHandle<Kv>, k: &str) -> ReadOutcome<Option<String>> {
    let (tx, rx) = oneshot::channel();
    assert!(h.send(Request::Read {
        query: k.into(),
        reply: tx
    }));
    rx.blocking_recv().expect("reply")
}

fn wait_leader(h: &NodeHandle<Kv>) {
    for _ in 0..500 {
        let (tx, rx) = oneshot::channel();
        h.send(Request::Status { reply: tx });
        if rx.blocking_recv().expect("status").role == "leader" {
            return;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    panic!("single node never led");
}

#[test]
fn single_node_applies_batches_snapshots_and_recovers() {
    let tmp = tempfile::tempdir().expect("tmp");
    {
        let (h, th) = single(tmp.path());
        wait_leader(&h);
        // 100 proposals queued at once: all are applied, in order, with their indexes.
        let rxs: Vec<_> = (0..100)
            .map(|i| put(&h, &format!("k{}", i % 10), &i.to_string()))
            .collect();
        let mut last = 0;
        for rx in rxs {
            match rx.blocking_recv().expect("reply") {
                ProposeOutcome::Applied { index, result, .. } => {
                    assert!(index > last);
                    assert_eq!(result, ApplyResult::Done);
                    last = index;
                }
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(read(&h, "k3"), ReadOutcome::Answer(Some("93".into())));
        assert_eq!(read(&h, "nope"), ReadOutcome::Answer(None));
        let (tx, rx) = oneshot::channel();
        h.send(Request::Status { reply: tx });
        let s = rx.blocking_recv().expect("status");
        assert!(
            s.snapshot_index > 30,
            "threshold 30 triggers snapshots: {s:?}"
        );
        assert!(s.snapshot_bytes > 0);
        drop(h);
        th.join().expect("loop thread").expect("loop ended cleanly");
    }
    // Restart from the same dir: snapshot + WAL give back the same state.
    let (h, _th) = single(tmp.path());
    wait_leader(&h);
    for k in 0..10 {
        assert_eq!(
            read(&h, &format!("k{k}")),
            ReadOutcome::Answer(Some((90 + k).to_string()))
        );
    }
}
