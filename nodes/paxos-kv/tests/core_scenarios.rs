//! Hand-driven scenarios of the pure core: election and phase 2, adoption of the highest
//! accepted value by a new leader (and what `no-adopt` does instead), what a restart keeps
//! of a promise (and what `forget-promise` loses), read index, catch-up by snapshot.

use paxos_kv::paxos::{
    Ballot, Core, CoreBugs, CoreConfig, Message, NodeId, Ready, Record, Restored, Role, Slot,
    SnapshotData, Value,
};
use std::collections::{BTreeMap, BTreeSet};

struct Net {
    cores: BTreeMap<NodeId, Core>,
    disks: BTreeMap<NodeId, (Vec<Record>, Option<SnapshotData>)>,
    applied: BTreeMap<NodeId, Vec<(Slot, Value)>>,
    reads: BTreeMap<NodeId, Vec<u64>>,
    queue: Vec<Message>,
    cut: BTreeSet<NodeId>,
    bugs: CoreBugs,
}

fn config(id: NodeId, bugs: CoreBugs) -> CoreConfig {
    CoreConfig {
        id,
        nodes: vec![1, 2, 3],
        // node 2 times out late, so the scenarios decide who takes over
        election_ticks: if id == 2 { (10, 1000) } else { (10, 10) },
        heartbeat_ticks: 2,
        max_batch: 16,
        seed: 7,
        bugs,
    }
}

impl Net {
    fn new(bugs: CoreBugs) -> Net {
        let mut net = Net {
            cores: BTreeMap::new(),
            disks: BTreeMap::new(),
            applied: BTreeMap::new(),
            reads: BTreeMap::new(),
            queue: Vec::new(),
            cut: BTreeSet::new(),
            bugs,
        };
        for id in 1..=3 {
            net.disks.insert(id, (Vec::new(), None));
            net.restart(id);
        }
        net
    }

    fn restart(&mut self, id: NodeId) {
        let (records, snapshot) = self.disks[&id].clone();
        let core = Core::new(config(id, self.bugs), Restored { records, snapshot });
        self.cores.insert(id, core);
        self.applied.insert(id, Vec::new());
    }

    fn core(&mut self, id: NodeId) -> &mut Core {
        self.cores.get_mut(&id).unwrap()
    }

    fn collect(&mut self) {
        let ids: Vec<NodeId> = self.cores.keys().copied().collect();
        for id in ids {
            let r: Ready = self.core(id).take_ready();
            let disk = self.disks.get_mut(&id).unwrap();
            if let Some(s) = r.snapshot {
                disk.1 = Some(s);
            }
            if let Some(recs) = r.rewrite {
                disk.0 = recs;
            }
            disk.0.extend(r.persist);
            if let Some(s) = r.install {
                self.applied.insert(
                    id,
                    vec![(s.slot, Value::Cmd(format!("snapshot:{}", s.data)))],
                );
            }
            self.applied.get_mut(&id).unwrap().extend(r.apply);
            self.reads
                .entry(id)
                .or_default()
                .extend(r.reads_ready.iter().map(|x| x.0));
            self.queue.extend(r.messages);
        }
    }

    /// Deliver until quiet, dropping messages to or from a cut node.
    fn pump(&mut self) {
        for _ in 0..1000 {
            self.collect();
            if self.queue.is_empty() {
                return;
            }
            for m in std::mem::take(&mut self.queue) {
                if !self.cut.contains(&m.from) && !self.cut.contains(&m.to) {
                    self.core(m.to).step(m);
                }
            }
        }
        panic!("messages never settled");
    }

    /// Tick `id`, then every other reachable node, until `id` has `role`.
    fn tick_until_role(&mut self, id: NodeId, role: Role) {
        for _ in 0..100 {
            if self.core(id).status().role == role {
                return;
            }
            let mut order: Vec<NodeId> = vec![id];
            order.extend((1..=3).filter(|&n| n != id && !self.cut.contains(&n)));
            for n in order {
                self.core(n).tick();
                self.pump();
            }
        }
        panic!("node {id} never became {role:?}");
    }

    fn heartbeat(&mut self, id: NodeId) {
        for _ in 0..2 {
            self.core(id).tick();
        }
        self.pump();
    }

    fn values(&self, id: NodeId) -> Vec<Value> {
        self.applied[&id].iter().map(|(_, v)| v.clone()).collect()
    }
}

fn cmd(s: &str) -> Value {
    Value::Cmd(s.into())
}

#[test]
fn a_leader_is_elected_and_its_proposals_are_chosen_everywhere_in_order() {
    let mut net = Net::new(CoreBugs::default());
    net.tick_until_role(1, Role::Leader);
    assert_eq!(net.core(2).status().leader, Some(1));
    assert_eq!(net.core(2).propose("x".into()).unwrap_err().leader, Some(1));
    for v in ["a", "b", "c"] {
        net.core(1).propose(v.into()).unwrap();
    }
    net.pump();
    net.heartbeat(1);
    for id in 1..=3 {
        assert_eq!(
            net.values(id),
            vec![cmd("a"), cmd("b"), cmd("c")],
            "node {id}"
        );
    }
}

/// Node 1 leads and gets `v` accepted by itself and node 2 only, then dies. Node 3 takes
/// over with promises from 2 and 3: it must adopt `v` (it may be chosen).
fn takeover_after_a_partial_accept(bugs: CoreBugs) -> Net {
    let mut net = Net::new(bugs);
    net.tick_until_role(1, Role::Leader);
    net.core(1).propose("v".into()).unwrap();
    net.collect();
    net.queue.retain(|m| m.to == 2);
    net.pump(); // node 2 accepts; node 1 learns v is chosen (1 and 2 are a majority)
    assert_eq!(
        net.values(1),
        vec![cmd("v")],
        "v is chosen and applied on node 1"
    );
    net.cut.insert(1);
    net.tick_until_role(3, Role::Leader);
    net.core(3).propose("w".into()).unwrap();
    net.pump();
    net.heartbeat(3);
    net
}

#[test]
fn a_new_leader_adopts_the_accepted_value_of_the_highest_ballot() {
    let mut net = takeover_after_a_partial_accept(CoreBugs::default());
    assert_eq!(net.values(3), vec![cmd("v"), cmd("w")]);
    assert_eq!(net.values(2), vec![cmd("v"), cmd("w")]);
    assert_eq!(net.core(3).status().ballot.node, 3);
}

#[test]
fn no_adopt_overwrites_a_chosen_value() {
    let net = takeover_after_a_partial_accept(CoreBugs {
        no_adopt: true,
        forget_promise: false,
    });
    assert_eq!(net.values(1), vec![cmd("v")]);
    assert_eq!(
        net.values(3)[0],
        cmd("w"),
        "slot 1 chosen twice: v on node 1, w on node 3"
    );
}

fn promise_after_restart(bugs: CoreBugs) -> Ballot {
    let mut net = Net::new(bugs);
    net.tick_until_role(1, Role::Leader);
    let b = net.core(1).status().ballot;
    assert_eq!(net.core(2).promised(), b);
    net.restart(2);
    net.core(2).promised()
}

#[test]
fn a_promise_survives_a_restart_unless_forget_promise() {
    let kept = promise_after_restart(CoreBugs::default());
    assert_eq!(kept, Ballot { round: 1, node: 1 });
    let forgot = promise_after_restart(CoreBugs {
        no_adopt: false,
        forget_promise: true,
    });
    assert_eq!(
        forgot,
        Ballot::ZERO,
        "nothing accepted yet, so the promise is gone"
    );
}

#[test]
fn a_read_waits_for_a_quorum_round_and_followers_refuse() {
    let mut net = Net::new(CoreBugs::default());
    net.tick_until_role(1, Role::Leader);
    assert!(net.core(2).read(1).is_err());
    net.cut.insert(2);
    net.cut.insert(3);
    net.core(1).read(9).unwrap();
    net.pump();
    assert!(
        net.reads.get(&1).is_none_or(|r| r.is_empty()),
        "no quorum, no read"
    );
    net.cut.clear();
    net.heartbeat(1);
    assert_eq!(net.reads[&1], vec![9]);
}

#[test]
fn a_lagging_replica_catches_up_from_the_leaders_snapshot() {
    let mut net = Net::new(CoreBugs::default());
    net.tick_until_role(1, Role::Leader);
    net.cut.insert(3);
    for i in 0..5 {
        net.core(1).propose(format!("c{i}")).unwrap();
    }
    net.pump();
    net.core(1).compact(5, "state@5".into());
    net.core(1).propose("after".into()).unwrap();
    net.pump();
    net.cut.clear();
    net.heartbeat(1);
    net.heartbeat(1);
    let got = net.values(3);
    assert_eq!(got, vec![cmd("snapshot:state@5"), cmd("after")], "{got:?}");
    assert_eq!(net.core(3).status().snapshot_slot, 5);
    let persisted = net.disks[&3].1.as_ref().map(|s| s.slot);
    assert_eq!(persisted, Some(5), "the received snapshot was persisted");
}
