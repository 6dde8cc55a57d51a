//! The `bank` checker: `transfer` operations move money between accounts and every ok
//! `read` returns all balances (a map account → balance, or a list of balances). The total
//! must always be the same (the given `total`, or else the first read's, said so in the
//! report), and with `allow_negative` false no balance may be negative. Unknown when no
//! read succeeded.

use super::common::{bad_op, push_capped, verdict};
use super::CheckerError;
use crate::history::{History, OpType};
use crate::verdict::Validity;
use serde::Serialize;
use serde_json::Value;

/// Options of [`bank`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BankOptions {
    /// The total every read must show; `None` = the first ok read's total.
    pub total: Option<i64>,
    /// Whether a negative balance is allowed.
    pub allow_negative: bool,
}

/// A read that broke the invariant.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BadRead {
    /// `wrong-total` or `negative`.
    pub kind: &'static str,
    /// `index` of the read's completion.
    pub index: u64,
    pub line: Option<u64>,
    pub total: i128,
    pub balances: Value,
}

/// The result of [`bank`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BankReport {
    pub valid: Validity,
    /// The total reads were held to.
    pub expected_total: Option<i128>,
    /// True when the expected total was taken from the first read.
    pub total_inferred: bool,
    pub reads: u64,
    pub bad_read_count: u64,
    pub bad_reads: Vec<BadRead>,
}

impl BankReport {
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// Check a bank history. See the module doc.
pub fn bank(history: &History, opts: &BankOptions) -> Result<BankReport, CheckerError> {
    let calls = history.pair()?;
    let mut report = BankReport {
        valid: Validity::Valid,
        expected_total: opts.total.map(i128::from),
        total_inferred: false,
        reads: 0,
        bad_read_count: 0,
        bad_reads: Vec::new(),
    };
    for call in calls
        .iter()
        .filter(|c| c.f == "read" && c.outcome == OpType::Ok)
    {
        let Some(done) = call.complete else { continue };
        let op = &history.ops[done];
        let balances: Vec<&Value> = match &op.value {
            Value::Object(m) => m.values().collect(),
            Value::Array(a) => a.iter().collect(),
            other => {
                return Err(bad_op(
                    op,
                    format!("a bank read must return a map of balances, found {other}"),
                ))
            }
        };
        let mut total: i128 = 0;
        let mut negative = false;
        for b in balances {
            let Some(b) = b.as_i64() else {
                return Err(bad_op(
                    op,
                    format!("a balance must be an integer, found {b}"),
                ));
            };
            negative |= b < 0;
            total += b as i128;
        }
        report.reads += 1;
        let expected = *report.expected_total.get_or_insert_with(|| {
            report.total_inferred = true;
            total
        });
        let kind = if total != expected {
            Some("wrong-total")
        } else if negative && !opts.allow_negative {
            Some("negative")
        } else {
            None
        };
        if let Some(kind) = kind {
            report.bad_read_count += 1;
            push_capped(
                &mut report.bad_reads,
                BadRead {
                    kind,
                    index: op.index,
                    line: op.line,
                    total,
                    balances: op.value.clone(),
                },
            );
        }
    }
    report.valid = verdict(report.bad_read_count > 0, report.reads > 0);
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{Op, Process};
    use serde_json::json;
    use OpType::{Invoke, Ok};

    fn reads(values: &[Value]) -> History {
        let mut ops = vec![
            Op::new(
                0,
                0,
                Invoke,
                Process::Client(9),
                "transfer",
                json!({"from": 0, "to": 1, "amount": 5}),
            ),
            Op::new(
                1,
                1,
                Ok,
                Process::Client(9),
                "transfer",
                json!({"from": 0, "to": 1, "amount": 5}),
            ),
        ];
        for v in values {
            let i = ops.len() as u64;
            ops.push(Op::new(
                i,
                i as i64,
                Invoke,
                Process::Client(0),
                "read",
                Value::Null,
            ));
            ops.push(Op::new(
                i + 1,
                i as i64 + 1,
                Ok,
                Process::Client(0),
                "read",
                v.clone(),
            ));
        }
        History::new(ops)
    }

    #[test]
    fn preserved_total_is_valid() {
        let h = reads(&[
            json!({"0": 10, "1": 10}),
            json!({"0": 5, "1": 15}),
            json!([20, 0]),
        ]);
        let r = bank(
            &h,
            &BankOptions {
                total: Some(20),
                allow_negative: false,
            },
        )
        .unwrap();
        assert_eq!((r.valid, r.reads), (Validity::Valid, 3));
    }

    #[test]
    fn changed_total_or_negative_balance_is_invalid() {
        let h = reads(&[json!({"0": 10, "1": 10}), json!({"0": 5, "1": 10})]);
        let r = bank(&h, &BankOptions::default()).unwrap();
        assert!(r.total_inferred);
        assert_eq!((r.valid, r.bad_read_count), (Validity::Invalid, 1));
        assert_eq!(
            (
                r.bad_reads[0].kind,
                r.bad_reads[0].total,
                r.bad_reads[0].index
            ),
            ("wrong-total", 15, 5)
        );
        let h = reads(&[json!([25, -5])]);
        let r = bank(
            &h,
            &BankOptions {
                total: Some(20),
                allow_negative: false,
            },
        )
        .unwrap();
        assert_eq!(r.bad_reads[0].kind, "negative");
        let r = bank(
            &h,
            &BankOptions {
                total: Some(20),
                allow_negative: true,
            },
        )
        .unwrap();
        assert_eq!(r.valid, Validity::Valid);
    }

    #[test]
    fn no_reads_is_unknown_and_malformed_reads_are_errors() {
        assert_eq!(
            bank(&reads(&[]), &BankOptions::default()).unwrap().valid,
            Validity::Unknown
        );
        assert!(bank(&reads(&[json!("x")]), &BankOptions::default()).is_err());
        assert!(bank(&reads(&[json!({"a": "ten"})]), &BankOptions::default()).is_err());
    }
}
