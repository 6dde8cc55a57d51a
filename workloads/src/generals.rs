//! The `generals` workload: rounds of the Two Generals (`nodes/two-generals`). Worker `w` of
//! `c` plays rounds `w`, `w + c`, `w + 2c`, ... one after the other (`f: "round"`, invoke
//! value `{"round": R}`); each round is started on general A, played by the generals over
//! the (lossy) link between them, and completed with what both decided (see
//! [`crate::clients::generals`]). No keys, no final reads; the generals checker counts the
//! rounds without a joint attack and the agreement by loss rate and number of
//! acknowledgements.

use crate::clients::Client;
use crate::workload::OpSpec;
use crate::Completion;
use serde_json::{json, Value};

/// The attack times rounds carry, in turn (only for the generals' terminal lines).
const TIMES: [&str; 4] = ["dawn", "noon", "dusk", "midnight"];

/// One worker's rounds.
#[derive(Debug, Clone)]
pub struct GeneralsGen {
    next: u64,
    step: u64,
}

impl GeneralsGen {
    pub fn new(worker: usize, concurrency: usize) -> GeneralsGen {
        GeneralsGen {
            next: worker as u64,
            step: concurrency.max(1) as u64,
        }
    }

    pub fn next_op(&mut self) -> OpSpec {
        let round = self.next;
        self.next += self.step;
        OpSpec {
            f: "round".into(),
            key: None,
            value: json!({ "round": round }),
        }
    }
}

/// Plays the round `op` names.
pub async fn execute(client: &Client, op: &OpSpec) -> Completion {
    let round = op.value.get("round").and_then(Value::as_u64);
    match (op.f.as_str(), round) {
        ("round", Some(r)) => {
            let time = TIMES[(r % TIMES.len() as u64) as usize];
            client.generals_round(r, time).await
        }
        _ => Completion::Fail(format!("generals: unknown op `{}` {}", op.f, op.value)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workers_play_disjoint_rounds() {
        let mut w0 = GeneralsGen::new(0, 3);
        let mut w2 = GeneralsGen::new(2, 3);
        let r = |g: &mut GeneralsGen| g.next_op().value["round"].as_u64().unwrap();
        assert_eq!([r(&mut w0), r(&mut w0), r(&mut w0)], [0, 3, 6]);
        assert_eq!([r(&mut w2), r(&mut w2)], [2, 5]);
        assert_eq!(w0.next_op().f, "round");
    }
}
