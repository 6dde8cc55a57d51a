//! What a failed operation (`fail`) means to the models: the explicit reading of the check.
//!
//! - [`FailedOps::Ignore`] (Jepsen's and Knossos's meaning, the default for our JSONL and
//!   for EDN): a `fail` did not take effect, and says nothing more. A failed `cas` is also
//!   the observation "the value differed from `from`" only when its error says so
//!   explicitly: [`CAS_MISMATCH`], as our clients write it (`"error": "cas-mismatch"`), or
//!   in EDN `:error :cas-mismatch` or `:error [:cas-mismatch ...]` (a string
//!   `"cas-mismatch"` or a vector starting with it works in both formats).
//! - [`FailedOps::Observe`] (Porcupine's reading of its etcd logs, the default for both
//!   Porcupine formats): every failed `cas` means the value differed from `from`.
//!
//! Under both readings every other failed operation (write, read, acquire, ...) did not
//! happen and constrains nothing. [`reading_matters`] says, cheaply, whether a history has
//! failed operations that the two readings see differently, so that a caller can re-check
//! under the other reading only then ([`verdict_under_other_reading`] does both).

use crate::history::{History, OpType};
use crate::model::ModelKind;
use serde_json::Value;
use std::fmt;
use std::str::FromStr;

/// The error a failed cas carries when the compare failed (the value differed).
pub const CAS_MISMATCH: &str = "cas-mismatch";

/// How failed operations are read (`--failed-ops ignore|observe`).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum FailedOps {
    /// A `fail` did not happen; a failed cas observes a mismatch only when its error says
    /// `cas-mismatch`.
    #[default]
    Ignore,
    /// A failed cas means the value differed from its `from` (Porcupine's reading).
    Observe,
}

impl FailedOps {
    pub const ALL: [FailedOps; 2] = [FailedOps::Ignore, FailedOps::Observe];

    pub fn name(self) -> &'static str {
        match self {
            FailedOps::Ignore => "ignore",
            FailedOps::Observe => "observe",
        }
    }

    /// The other reading.
    pub fn other(self) -> FailedOps {
        match self {
            FailedOps::Ignore => FailedOps::Observe,
            FailedOps::Observe => FailedOps::Ignore,
        }
    }

    /// Whether a failed cas with this completion error is the observation "the value
    /// differed from `from`" under this reading.
    pub fn cas_fail_observes_mismatch(self, error: Option<&Value>) -> bool {
        match self {
            FailedOps::Observe => true,
            FailedOps::Ignore => error.is_some_and(says_cas_mismatch),
        }
    }
}

/// Whether an error value says "the compare failed": `cas-mismatch` (a string or an EDN
/// keyword, which the reader turns into the same string) or a vector whose first element
/// is it (EDN `[:cas-mismatch {:actual 3}]`).
pub fn says_cas_mismatch(error: &Value) -> bool {
    match error {
        Value::String(s) => s == CAS_MISMATCH,
        Value::Array(a) => a.first().is_some_and(|v| v.as_str() == Some(CAS_MISMATCH)),
        _ => false,
    }
}

impl fmt::Display for FailedOps {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for FailedOps {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        FailedOps::ALL
            .into_iter()
            .find(|r| r.name() == s)
            .ok_or_else(|| format!("unknown failed-ops reading `{s}` (expected ignore or observe)"))
    }
}

/// How many failed operations of `history` the two readings see differently under
/// `model` (0: the verdict cannot depend on the reading, no need to check twice). Only a
/// cas-register model reads failed cas ops; a failed cas whose error already says
/// `cas-mismatch` is an observation under both readings. O(history); never fails (a
/// history that does not pair counts the completions it can match).
pub fn reading_matters(history: &History, model: ModelKind) -> usize {
    if model != ModelKind::CasRegister {
        return 0;
    }
    let mut open_cas: ahash::AHashMap<u64, bool> = ahash::AHashMap::new();
    let mut differing = 0;
    for op in &history.ops {
        let crate::history::Process::Client(p) = op.process else {
            continue;
        };
        match op.op_type {
            OpType::Invoke => {
                open_cas.insert(p, op.f == "cas");
            }
            OpType::Fail => {
                let was_cas = open_cas.remove(&p).unwrap_or(false);
                if was_cas && !op.error.as_ref().is_some_and(says_cas_mismatch) {
                    differing += 1;
                }
            }
            _ => {
                open_cas.remove(&p);
            }
        }
    }
    differing
}

/// For the note "the verdict would differ under the other reading": when
/// [`reading_matters`], check again under `opts.failed_ops.other()` (without building a
/// counterexample) and return that reading and its verdict if it differs from `verdict`;
/// `None` when it cannot differ or does not.
pub fn verdict_under_other_reading(
    history: &History,
    model: ModelKind,
    opts: &crate::linear::LinearOptions,
    verdict: crate::Validity,
) -> Result<Option<(FailedOps, crate::Validity)>, crate::linear::LinearError> {
    if reading_matters(history, model) == 0 {
        return Ok(None);
    }
    let other = crate::linear::LinearOptions {
        failed_ops: opts.failed_ops.other(),
        counterexample: false,
        ..opts.clone()
    };
    let report = crate::linear::check(history, model, &other)?;
    Ok((report.valid != verdict).then_some((other.failed_ops, report.valid)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{Op, Process};
    use serde_json::json;

    #[test]
    fn names_round_trip_and_other_flips() {
        for r in FailedOps::ALL {
            assert_eq!(r.name().parse::<FailedOps>(), Ok(r));
            assert_eq!(r.other().other(), r);
            assert_ne!(r.other(), r);
        }
        assert!("maybe"
            .parse::<FailedOps>()
            .unwrap_err()
            .contains("observe"));
        assert_eq!(
            serde_json::to_value(FailedOps::Observe).unwrap(),
            json!("observe")
        );
    }

    #[test]
    fn only_an_explicit_mismatch_is_an_observation_under_ignore() {
        let ig = FailedOps::Ignore;
        assert!(ig.cas_fail_observes_mismatch(Some(&json!("cas-mismatch"))));
        assert!(ig.cas_fail_observes_mismatch(Some(&json!(["cas-mismatch", {"actual": 3}]))));
        for other in [
            json!("not_leader"),
            json!("mismatch"),
            json!(null),
            json!(["x"]),
        ] {
            assert!(!ig.cas_fail_observes_mismatch(Some(&other)), "{other}");
        }
        assert!(!ig.cas_fail_observes_mismatch(None));
        assert!(FailedOps::Observe.cas_fail_observes_mismatch(None));
        assert!(FailedOps::Observe.cas_fail_observes_mismatch(Some(&json!("not_leader"))));
    }

    #[test]
    fn reading_matters_counts_failed_cas_without_a_mismatch_error() {
        let c = Process::Client;
        let mut ops = vec![
            Op::new(0, 0, OpType::Invoke, c(0), "cas", json!([1, 2])),
            Op::new(1, 1, OpType::Fail, c(0), "cas", json!([1, 2])),
            Op::new(2, 2, OpType::Invoke, c(0), "cas", json!([1, 2])),
            Op::new(3, 3, OpType::Fail, c(0), "cas", json!([1, 2])),
            Op::new(4, 4, OpType::Invoke, c(1), "write", json!(1)),
            Op::new(5, 5, OpType::Fail, c(1), "write", json!(1)),
        ];
        ops[3].error = Some(json!("cas-mismatch"));
        let h = History::new(ops);
        assert_eq!(reading_matters(&h, ModelKind::CasRegister), 1);
        assert_eq!(reading_matters(&h, ModelKind::Register), 0);
    }

    #[test]
    fn the_other_reading_is_reported_only_when_its_verdict_differs() {
        use crate::linear::{check, LinearOptions};
        use crate::Validity;
        let c = Process::Client;
        // write 1; cas 1->2 fails (not applied, no mismatch error); read 1.
        let mut ops = vec![
            Op::new(0, 0, OpType::Invoke, c(0), "write", json!(1)),
            Op::new(1, 1, OpType::Ok, c(0), "write", json!(1)),
            Op::new(2, 2, OpType::Invoke, c(1), "cas", json!([1, 2])),
            Op::new(3, 3, OpType::Fail, c(1), "cas", json!([1, 2])),
            Op::new(4, 4, OpType::Invoke, c(0), "read", Value::Null),
            Op::new(5, 5, OpType::Ok, c(0), "read", json!(1)),
        ];
        let h = History::new(ops.clone());
        let m = ModelKind::CasRegister;
        let opts = LinearOptions::default();
        let v = check(&h, m, &opts).unwrap().valid;
        assert_eq!(v, Validity::Valid);
        assert_eq!(
            verdict_under_other_reading(&h, m, &opts, v).unwrap(),
            Some((FailedOps::Observe, Validity::Invalid))
        );
        // The read of 2 is invalid under both readings: no note.
        ops[5].value = json!(2);
        let h = History::new(ops);
        let v = check(&h, m, &opts).unwrap().valid;
        assert_eq!(v, Validity::Invalid);
        assert_eq!(verdict_under_other_reading(&h, m, &opts, v).unwrap(), None);
    }
}
