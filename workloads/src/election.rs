//! The `election` workload: every worker, on its home node, alternates sampling the node's
//! view of the leader (`f: "status"`, ok value `{role, leader_id, epoch}`) and performing the
//! leader-only action (`f: "act"`, ok value `{leader_id, epoch, ..}` when the node acted as
//! leader, `fail not_leader` otherwise). No keys, no final reads; the election checker judges
//! split brain from the acts.

use crate::clients::Client;
use crate::workload::OpSpec;
use crate::Completion;
use serde_json::Value;

/// One worker's op stream: act, status, act, status, ...
#[derive(Debug, Clone)]
pub struct ElectionGen {
    next_is_act: bool,
}

impl ElectionGen {
    /// Workers start on different halves of the cycle so both kinds run at once.
    pub fn new(worker: usize) -> ElectionGen {
        ElectionGen {
            next_is_act: worker.is_multiple_of(2),
        }
    }

    pub fn next_op(&mut self) -> OpSpec {
        let f = if self.next_is_act { "act" } else { "status" };
        self.next_is_act = !self.next_is_act;
        OpSpec {
            f: f.into(),
            key: None,
            value: Value::Null,
        }
    }
}

/// Executes an election op on the client's home node.
pub async fn execute(client: &Client, op: &OpSpec) -> Completion {
    match op.f.as_str() {
        "status" => client.leader_status().await,
        "act" => client.leader_act().await,
        other => Completion::Fail(format!("election: unknown op `{other}`")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workers_alternate_act_and_status_from_different_phases() {
        let mut even = ElectionGen::new(0);
        let mut odd = ElectionGen::new(1);
        let fs: Vec<String> = (0..4).map(|_| even.next_op().f).collect();
        assert_eq!(fs, ["act", "status", "act", "status"]);
        assert_eq!(odd.next_op().f, "status");
        assert!(odd.next_op().key.is_none());
    }
}
