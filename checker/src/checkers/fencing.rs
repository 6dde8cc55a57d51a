//! The `fencing` checker: what lock holders did to the protected resource, judged against
//! the lock service's acknowledged grants (acquire `ok`s and their tokens). Four kinds of
//! violation, each reported with the ops involved (process, lock, token, times in ns since
//! the test started):
//!
//! - **stale write** (`stale_writes`): the resource accepted a write whose token is lower
//!   than a token it had already accepted for that resource (by its own sequence numbers):
//!   a holder whose lock had been granted to another wrote anyway. Fencing (the resource
//!   rejecting lower tokens) makes this impossible; without fencing a stalled holder does it.
//! - **lease violation** (`lease_violations`): another process's grant of the same lock was
//!   acknowledged after this holder's own grant and before this holder sent a write, while
//!   this holder's own lease (counted conservatively from its keep-alives' send times) was
//!   still running when it sent. The service gave away a lock whose holder still held a valid
//!   lease (e.g. `no-grace`); fencing cannot hide this.
//! - **token regression** (`token_regressions`): a grant acknowledged before another grant
//!   of the same lock was invoked carries a token at least as high: tokens must strictly
//!   increase in real-time order (e.g. `reuse-token`); the same process given the same token
//!   again (a re-grant of a lock it holds) is not one.
//! - **stale check** (`stale_checks`): a holder asked the service who holds its lock while its
//!   lease ran (still running when the answer came) and was told another token (or none): a
//!   read that missed an acknowledged grant, not linearizable (e.g. `stale-read`).
//!
//! Ops read: `acquire` ok (value: the token), `write` ok (value: `{"token","accepted","seq",
//! "highest","lease_left_us","sent_after_us"}`), `check` ok (value: `{"token": K|null,
//! "lease_left_us"}`), `release` (ends a holder's claim to its token). A history without a
//! single grant is `unknown`.

use super::common::{bad_op, push_capped, verdict};
use super::CheckerError;
use crate::history::{History, OpType, Process};
use crate::verdict::Validity;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// An acknowledged grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Grant {
    pub process: Process,
    pub lock: String,
    pub token: u64,
    /// When the acquire was invoked and when its ok was recorded.
    pub invoked: i64,
    pub acked: i64,
}

/// A write the resource answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Write {
    pub process: Process,
    pub lock: String,
    pub token: u64,
    pub accepted: bool,
    /// The resource's sequence number of this write.
    pub seq: u64,
    pub invoked: i64,
    pub completed: i64,
    /// The writer's own lease left when it sent (µs; 0 = lapsed).
    pub lease_left_us: u64,
    /// Time from the invocation to the send (µs): a stall shows here.
    pub sent_after_us: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StaleWrite {
    pub write: Write,
    /// The higher token the resource had accepted before, and its grant (if acknowledged).
    pub newer_token: u64,
    pub newer_grant: Option<Grant>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LeaseViolation {
    pub write: Write,
    pub own_grant: Grant,
    pub other_grant: Grant,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenRegression {
    pub earlier: Grant,
    pub later: Grant,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StaleCheck {
    pub grant: Grant,
    /// The token the service named (`None`: not held).
    pub seen: Option<u64>,
    pub invoked: i64,
    pub completed: i64,
}

/// The result of [`fencing`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FencingReport {
    pub valid: Validity,
    pub grants: u64,
    pub writes: u64,
    pub accepted: u64,
    pub rejected: u64,
    pub stale_write_count: u64,
    pub lease_violation_count: u64,
    pub token_regression_count: u64,
    pub stale_check_count: u64,
    pub stale_writes: Vec<StaleWrite>,
    pub lease_violations: Vec<LeaseViolation>,
    pub token_regressions: Vec<TokenRegression>,
    pub stale_checks: Vec<StaleCheck>,
    /// One line for the report's summary.
    pub summary: String,
}

impl FencingReport {
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// What the history holds, per lock.
#[derive(Debug, Default)]
struct Facts {
    grants: Vec<Grant>,
    writes: Vec<Write>,
    /// (grant, seen, lease_left_us, invoked, completed)
    checks: Vec<(Grant, Option<u64>, u64, i64, i64)>,
}

/// Checks the fencing and lease rules over `history`.
pub fn fencing(history: &History) -> Result<FencingReport, CheckerError> {
    let by_lock = facts(history)?;
    let mut r = FencingReport {
        valid: Validity::Valid,
        grants: 0,
        writes: 0,
        accepted: 0,
        rejected: 0,
        stale_write_count: 0,
        lease_violation_count: 0,
        token_regression_count: 0,
        stale_check_count: 0,
        stale_writes: vec![],
        lease_violations: vec![],
        token_regressions: vec![],
        stale_checks: vec![],
        summary: String::new(),
    };
    for f in by_lock.values() {
        r.grants += f.grants.len() as u64;
        r.writes += f.writes.len() as u64;
        r.accepted += f.writes.iter().filter(|w| w.accepted).count() as u64;
        stale_writes(f, &mut r);
        lease_violations(history, f, &mut r);
        token_regressions(f, &mut r);
        stale_checks(f, &mut r);
    }
    r.rejected = r.writes - r.accepted;
    let bad = r.stale_write_count
        + r.lease_violation_count
        + r.token_regression_count
        + r.stale_check_count;
    r.valid = verdict(bad > 0, r.grants > 0);
    r.summary = summary(&r);
    Ok(r)
}

fn summary(r: &FencingReport) -> String {
    let mut parts = Vec::new();
    if let Some(s) = r.stale_writes.first() {
        parts.push(format!(
            "{} stale write(s) landed: process {} wrote {} with token {} at {:.3} s after token {} had been accepted",
            r.stale_write_count,
            s.write.process,
            s.write.lock,
            s.write.token,
            s.write.completed as f64 / 1e9,
            s.newer_token
        ));
    }
    if let Some(v) = r.lease_violations.first() {
        parts.push(format!(
            "{} lease violation(s): process {} was granted {} (token {}) at {:.3} s while process {} (token {}) still had {} ms of lease when it wrote",
            r.lease_violation_count,
            v.other_grant.process,
            v.other_grant.lock,
            v.other_grant.token,
            v.other_grant.acked as f64 / 1e9,
            v.own_grant.process,
            v.own_grant.token,
            v.write.lease_left_us / 1000
        ));
    }
    if let Some(t) = r.token_regressions.first() {
        parts.push(format!(
            "{} token regression(s): process {} got token {} for {} after process {} had been granted token {}",
            r.token_regression_count,
            t.later.process,
            t.later.token,
            t.later.lock,
            t.earlier.process,
            t.earlier.token
        ));
    }
    if let Some(c) = r.stale_checks.first() {
        parts.push(format!(
            "{} stale check(s): process {} holding {} with token {} was told {:?}",
            r.stale_check_count, c.grant.process, c.grant.lock, c.grant.token, c.seen
        ));
    }
    if parts.is_empty() {
        format!(
            "{} grants, {} writes ({} accepted, {} rejected): no stale write, lease violation, token regression or stale check",
            r.grants, r.writes, r.accepted, r.rejected
        )
    } else {
        parts.join("; ")
    }
}

fn u64_field(v: &Value, k: &str) -> Option<u64> {
    v.get(k).and_then(Value::as_u64)
}

/// Grants, writes and checks per lock; a process's current grant per lock.
fn facts(history: &History) -> Result<BTreeMap<String, Facts>, CheckerError> {
    let mut out: BTreeMap<String, Facts> = BTreeMap::new();
    let mut current: BTreeMap<(Process, String), Grant> = BTreeMap::new();
    for call in history.pair()? {
        let Some(lock) = call.key.as_ref().and_then(Value::as_str) else {
            continue;
        };
        let lock = lock.to_string();
        let invoked = history.ops[call.invoke].time;
        let done = match (call.outcome, call.complete) {
            (OpType::Ok, Some(i)) => Some(&history.ops[i]),
            _ => None,
        };
        let facts = out.entry(lock.clone()).or_default();
        match (call.f.as_str(), done) {
            ("acquire", Some(op)) => {
                let token = op
                    .value
                    .as_u64()
                    .ok_or_else(|| bad_op(op, "acquire ok without an integer token"))?;
                let g = Grant {
                    process: call.process,
                    lock: lock.clone(),
                    token,
                    invoked,
                    acked: op.time,
                };
                facts.grants.push(g.clone());
                current.insert((call.process, lock), g);
            }
            ("release", _) => {
                current.remove(&(call.process, lock));
            }
            ("write", Some(op)) => {
                let v = &op.value;
                let (Some(token), Some(accepted)) = (
                    u64_field(v, "token"),
                    v.get("accepted").and_then(Value::as_bool),
                ) else {
                    return Err(bad_op(op, "write ok without `token` and `accepted`"));
                };
                facts.writes.push(Write {
                    process: call.process,
                    lock,
                    token,
                    accepted,
                    seq: u64_field(v, "seq").unwrap_or(0),
                    invoked,
                    completed: op.time,
                    lease_left_us: u64_field(v, "lease_left_us").unwrap_or(0),
                    sent_after_us: u64_field(v, "sent_after_us").unwrap_or(0),
                });
            }
            ("check", Some(op)) => {
                if let Some(g) = current.get(&(call.process, lock)) {
                    let seen = op.value.get("token").and_then(Value::as_u64);
                    let left = u64_field(&op.value, "lease_left_us").unwrap_or(0);
                    facts.checks.push((g.clone(), seen, left, invoked, op.time));
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

fn stale_writes(f: &Facts, r: &mut FencingReport) {
    let mut accepted: Vec<&Write> = f.writes.iter().filter(|w| w.accepted).collect();
    accepted.sort_by_key(|w| w.seq);
    let mut highest: Option<u64> = None;
    for w in accepted {
        match highest {
            Some(h) if w.token < h => {
                r.stale_write_count += 1;
                let newer_grant = f.grants.iter().find(|g| g.token == h).cloned();
                push_capped(
                    &mut r.stale_writes,
                    StaleWrite {
                        write: w.clone(),
                        newer_token: h,
                        newer_grant,
                    },
                );
            }
            _ => highest = Some(highest.map_or(w.token, |h| h.max(w.token))),
        }
    }
}

/// The grant `w` was made under: the writer's latest grant of that token acknowledged
/// before the write was invoked.
fn own_grant<'a>(f: &'a Facts, w: &Write) -> Option<&'a Grant> {
    f.grants
        .iter()
        .filter(|g| g.process == w.process && g.token == w.token && g.acked <= w.invoked)
        .max_by_key(|g| g.acked)
}

fn lease_violations(_history: &History, f: &Facts, r: &mut FencingReport) {
    for w in f.writes.iter().filter(|w| w.lease_left_us > 0) {
        let Some(own) = own_grant(f, w) else { continue };
        // The send happened no earlier than this.
        let sent = w.invoked + (w.sent_after_us as i64) * 1000;
        let other = f
            .grants
            .iter()
            .filter(|g| g.process != w.process && g.acked > own.acked && g.acked < sent)
            .min_by_key(|g| g.acked);
        if let Some(other) = other {
            r.lease_violation_count += 1;
            push_capped(
                &mut r.lease_violations,
                LeaseViolation {
                    write: w.clone(),
                    own_grant: own.clone(),
                    other_grant: other.clone(),
                },
            );
        }
    }
}

fn token_regressions(f: &Facts, r: &mut FencingReport) {
    let mut by_ack: Vec<&Grant> = f.grants.iter().collect();
    by_ack.sort_by_key(|g| g.acked);
    let mut by_invoke: Vec<&Grant> = f.grants.iter().collect();
    by_invoke.sort_by_key(|g| g.invoked);
    // The grant with the highest token among those acknowledged so far.
    let mut top: Option<&Grant> = None;
    let mut next = 0;
    for later in by_invoke {
        while next < by_ack.len() && by_ack[next].acked < later.invoked {
            let g = by_ack[next];
            if top.is_none_or(|t| g.token > t.token) {
                top = Some(g);
            }
            next += 1;
        }
        // The same session asking again for a lock it holds gets the same token back.
        let regrant = |t: &Grant| t.process == later.process && t.token == later.token;
        if let Some(earlier) = top.filter(|t| t.token >= later.token && !regrant(t)) {
            r.token_regression_count += 1;
            push_capped(
                &mut r.token_regressions,
                TokenRegression {
                    earlier: earlier.clone(),
                    later: later.clone(),
                },
            );
        }
    }
}

fn stale_checks(f: &Facts, r: &mut FencingReport) {
    for (grant, seen, left, invoked, completed) in &f.checks {
        if *left > 0 && *seen != Some(grant.token) {
            r.stale_check_count += 1;
            push_capped(
                &mut r.stale_checks,
                StaleCheck {
                    grant: grant.clone(),
                    seen: *seen,
                    invoked: *invoked,
                    completed: *completed,
                },
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{Op, OpType::*};
    use serde_json::json;

    /// Ops at time = 10 × position.
    fn h(ops: &[(u64, OpType, &str, Value)]) -> History {
        History::new(
            ops.iter()
                .enumerate()
                .map(|(i, (p, t, f, v))| {
                    let mut o = Op::new(
                        i as u64,
                        i as i64 * 10,
                        *t,
                        Process::Client(*p),
                        f,
                        v.clone(),
                    );
                    o.key = Some(json!("/locks/l0"));
                    o
                })
                .collect(),
        )
    }

    fn write(token: u64, accepted: bool, seq: u64, lease_left_us: u64) -> Value {
        json!({"token": token, "accepted": accepted, "seq": seq, "highest": token,
               "lease_left_us": lease_left_us, "sent_after_us": 0})
    }

    #[test]
    fn holders_one_after_another_are_valid() {
        let r = fencing(&h(&[
            (1, Invoke, "acquire", Value::Null),
            (1, Ok, "acquire", json!(5)),
            (1, Invoke, "check", Value::Null),
            (1, Ok, "check", json!({"token": 5, "lease_left_us": 900})),
            (1, Invoke, "write", Value::Null),
            (1, Ok, "write", write(5, true, 1, 2_000_000)),
            (1, Invoke, "release", Value::Null),
            (1, Ok, "release", json!(5)),
            (2, Invoke, "acquire", Value::Null),
            (2, Ok, "acquire", json!(9)),
            (2, Invoke, "write", Value::Null),
            (2, Ok, "write", write(9, true, 2, 2_000_000)),
        ]))
        .unwrap();
        assert_eq!(r.valid, Validity::Valid, "{}", r.summary);
        assert_eq!((r.grants, r.writes, r.accepted), (2, 2, 2));
    }

    #[test]
    fn a_stalled_holder_s_write_after_a_newer_token_is_a_stale_write_unless_fenced() {
        let ops = |accepted| {
            h(&[
                (1, Invoke, "acquire", Value::Null),
                (1, Ok, "acquire", json!(5)),
                (1, Invoke, "write", Value::Null),
                // Process 1 stalls (lease lapses: 0 left when it finally sends).
                (2, Invoke, "acquire", Value::Null),
                (2, Ok, "acquire", json!(9)),
                (2, Invoke, "write", Value::Null),
                (2, Ok, "write", write(9, true, 1, 2_000_000)),
                (1, Ok, "write", write(5, accepted, 2, 0)),
            ])
        };
        let r = fencing(&ops(true)).unwrap();
        assert_eq!(r.valid, Validity::Invalid);
        assert_eq!(r.stale_write_count, 1);
        assert_eq!(r.stale_writes[0].newer_token, 9);
        assert_eq!(r.stale_writes[0].write.token, 5);
        assert_eq!(r.lease_violation_count, 0, "its lease had lapsed");
        assert!(r.summary.contains("stale write"), "{}", r.summary);
        let fenced = fencing(&ops(false)).unwrap();
        assert_eq!(fenced.valid, Validity::Valid, "{}", fenced.summary);
        assert_eq!(fenced.rejected, 1);
    }

    #[test]
    fn a_grant_to_another_while_the_writer_s_lease_ran_is_a_lease_violation() {
        let r = fencing(&h(&[
            (1, Invoke, "acquire", Value::Null),
            (1, Ok, "acquire", json!(5)),
            (1, Invoke, "write", Value::Null),
            (2, Invoke, "acquire", Value::Null),
            (2, Ok, "acquire", json!(9)),
            // Sent 40 ns after its invocation (after the grant at 40), lease still valid.
            (
                1,
                Ok,
                "write",
                json!({"token": 5, "accepted": false, "seq": 1, "highest": 9,
                       "lease_left_us": 500_000, "sent_after_us": 1}),
            ),
        ]))
        .unwrap();
        assert_eq!(r.valid, Validity::Invalid);
        assert_eq!(r.lease_violation_count, 1, "{}", r.summary);
        assert_eq!(r.lease_violations[0].other_grant.token, 9);
    }

    #[test]
    fn lower_tokens_after_acknowledged_grants_and_stale_checks_are_reported() {
        let r = fencing(&h(&[
            (1, Invoke, "acquire", Value::Null),
            (1, Ok, "acquire", json!(5)),
            (1, Invoke, "release", Value::Null),
            (1, Ok, "release", json!(5)),
            (2, Invoke, "acquire", Value::Null),
            (2, Ok, "acquire", json!(5)),
            (2, Invoke, "check", Value::Null),
            (2, Ok, "check", json!({"token": null, "lease_left_us": 100})),
        ]))
        .unwrap();
        assert_eq!(r.valid, Validity::Invalid);
        assert_eq!(r.token_regression_count, 1);
        assert_eq!(r.token_regressions[0].later.process, Process::Client(2));
        assert_eq!(r.stale_check_count, 1);
        assert_eq!(r.stale_checks[0].seen, None);
    }

    #[test]
    fn no_grant_is_unknown_and_a_malformed_write_is_an_error() {
        let r = fencing(&h(&[
            (1, Invoke, "acquire", Value::Null),
            (1, Fail, "acquire", Value::Null),
        ]))
        .unwrap();
        assert_eq!(r.valid, Validity::Unknown);
        let e = fencing(&h(&[
            (1, Invoke, "write", Value::Null),
            (1, Ok, "write", json!(3)),
        ]));
        assert!(e.is_err());
    }
}
