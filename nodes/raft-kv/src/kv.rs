//! The key-value state machine replicated by Raft.
//!
//! Owns the command format stored in log entries (JSON bytes of [`Command`]), applying a
//! command (put, delete, append, compare-and-set where `from: None` means "key absent"), duplicate
//! suppression of client retries by request id (client → last sequence number and its
//! result, so a retried write is applied once), and the snapshot encoding of all of it.

pub use raft_core::http::RequestId;
use raft_core::node::StateMachine;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// The operation of a command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum Op {
    /// Set `key` to `value`.
    Put {
        /// Key.
        key: String,
        /// New value.
        value: String,
    },
    /// Remove `key` (no error if absent).
    Delete {
        /// Key.
        key: String,
    },
    /// Set `key` to `to` if its current value is `from` (`None` = absent).
    Cas {
        /// Key.
        key: String,
        /// Expected current value (`None` = key absent).
        from: Option<String>,
        /// New value.
        to: String,
    },
    /// Concatenate `value` to the end of `key`'s value (an absent key counts as `""`).
    Append {
        /// Key.
        key: String,
        /// The text appended.
        value: String,
    },
}

/// A command as stored in a log entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Command {
    /// What to do.
    #[serde(flatten)]
    pub op: Op,
    /// Optional request id for duplicate suppression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub req: Option<RequestId>,
}

impl Command {
    /// Encode to entry bytes (never empty: empty data is the core's no-op).
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
    /// Decode entry bytes.
    pub fn decode(b: &[u8]) -> Result<Command, serde_json::Error> {
        serde_json::from_slice(b)
    }
}

/// The result of applying a command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "r", rename_all = "snake_case")]
pub enum ApplyResult {
    /// A put or delete took effect.
    Done,
    /// A cas took effect.
    CasApplied,
    /// A cas did not take effect; the current value.
    CasFailed {
        /// The value found (`None` = absent).
        current: Option<String>,
    },
    /// A request id older than the client's latest: it was not applied (and never will be).
    StaleRequest {
        /// The client's latest sequence number seen.
        latest: u64,
    },
    /// The entry bytes were not a command (applied as nothing).
    Invalid,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Session {
    seq: u64,
    result: ApplyResult,
}

/// The replicated key-value state machine.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Kv {
    data: BTreeMap<String, String>,
    sessions: HashMap<String, Session>,
}

impl Kv {
    /// An empty store.
    pub fn new() -> Kv {
        Kv::default()
    }

    /// Read a key from local state.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.data.get(key).map(String::as_str)
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// True if no key is set.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Evaluate a command against the current state without applying it (the `early-ack`
    /// bug uses this to answer before commit).
    pub fn preview(&self, cmd: &Command) -> ApplyResult {
        let mut copy = Kv {
            data: BTreeMap::new(),
            sessions: HashMap::new(),
        };
        if let Op::Cas { key, .. } = &cmd.op {
            if let Some(v) = self.data.get(key) {
                copy.data.insert(key.clone(), v.clone());
            }
        }
        copy.apply_op(&cmd.op)
    }

    fn apply_op(&mut self, op: &Op) -> ApplyResult {
        match op {
            Op::Put { key, value } => {
                self.data.insert(key.clone(), value.clone());
                ApplyResult::Done
            }
            Op::Delete { key } => {
                self.data.remove(key);
                ApplyResult::Done
            }
            Op::Append { key, value } => {
                self.data.entry(key.clone()).or_default().push_str(value);
                ApplyResult::Done
            }
            Op::Cas { key, from, to } => {
                let cur = self.data.get(key);
                if cur.map(String::as_str) == from.as_deref() {
                    self.data.insert(key.clone(), to.clone());
                    ApplyResult::CasApplied
                } else {
                    ApplyResult::CasFailed {
                        current: cur.cloned(),
                    }
                }
            }
        }
    }

    /// Apply a command, suppressing duplicates: a request id equal to the client's latest
    /// returns the recorded result without applying again; an older one is not applied.
    pub fn apply(&mut self, cmd: &Command) -> ApplyResult {
        if let Some(req) = &cmd.req {
            if let Some(s) = self.sessions.get(&req.client) {
                if req.seq == s.seq {
                    return s.result.clone();
                }
                if req.seq < s.seq {
                    return ApplyResult::StaleRequest { latest: s.seq };
                }
            }
            let result = self.apply_op(&cmd.op);
            self.sessions.insert(
                req.client.clone(),
                Session {
                    seq: req.seq,
                    result: result.clone(),
                },
            );
            return result;
        }
        self.apply_op(&cmd.op)
    }

    /// Apply entry bytes (empty = no-op, returns `None`).
    pub fn apply_bytes(&mut self, data: &[u8]) -> Option<ApplyResult> {
        if data.is_empty() {
            return None;
        }
        Some(match Command::decode(data) {
            Ok(cmd) => self.apply(&cmd),
            Err(e) => {
                tracing::warn!("log entry is not a kv command ({e}); skipped");
                ApplyResult::Invalid
            }
        })
    }

    /// Serialize the whole state (data and sessions) for a snapshot.
    pub fn snapshot(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Rebuild from snapshot bytes (empty bytes = empty store).
    pub fn restore(b: &[u8]) -> Result<Kv, serde_json::Error> {
        if b.is_empty() {
            return Ok(Kv::new());
        }
        serde_json::from_slice(b)
    }
}

/// The event loop drives the store through this: a read is a key, its answer the value.
impl StateMachine for Kv {
    type Output = ApplyResult;
    type Query = String;
    type Answer = Option<String>;

    fn apply(&mut self, _index: u64, _term: u64, data: &[u8]) -> ApplyResult {
        self.apply_bytes(data).unwrap_or(ApplyResult::Invalid)
    }

    fn query(&mut self, key: String) -> Option<String> {
        self.get(&key).map(str::to_string)
    }

    fn snapshot(&self) -> Vec<u8> {
        Kv::snapshot(self)
    }

    fn restore(&mut self, _index: u64, data: &[u8]) -> Result<(), String> {
        *self = Kv::restore(data).map_err(|e| e.to_string())?;
        Ok(())
    }

    fn preview(&self, data: &[u8]) -> Option<ApplyResult> {
        Command::decode(data).ok().map(|c| Kv::preview(self, &c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(k: &str, v: &str, req: Option<(&str, u64)>) -> Command {
        Command {
            op: Op::Put {
                key: k.into(),
                value: v.into(),
            },
            req: req.map(|(c, s)| RequestId {
                client: c.into(),
                seq: s,
            }),
        }
    }

    fn cas(k: &str, from: Option<&str>, to: &str) -> Command {
        Command {
            op: Op::Cas {
                key: k.into(),
                from: from.map(Into::into),
                to: to.into(),
            },
            req: None,
        }
    }

    #[test]
    fn put_get_delete() {
        let mut kv = Kv::new();
        assert_eq!(kv.apply(&put("a", "1", None)), ApplyResult::Done);
        assert_eq!(kv.get("a"), Some("1"));
        kv.apply(&Command {
            op: Op::Delete { key: "a".into() },
            req: None,
        });
        assert_eq!(kv.get("a"), None);
    }

    #[test]
    fn append_concatenates_in_order_and_a_retry_appends_once() {
        let mut kv = Kv::new();
        let append = |v: &str, seq: u64| Command {
            op: Op::Append {
                key: "l".into(),
                value: v.into(),
            },
            req: Some(RequestId {
                client: "c".into(),
                seq,
            }),
        };
        assert_eq!(kv.apply(&append("1,", 1)), ApplyResult::Done);
        assert_eq!(kv.get("l"), Some("1,"));
        kv.apply(&append("2,", 2));
        // A retried request id is not appended twice.
        kv.apply(&append("2,", 2));
        assert_eq!(kv.get("l"), Some("1,2,"));
        kv.apply(&put("l", "x", None));
        kv.apply(&append("3,", 3));
        assert_eq!(kv.get("l"), Some("x3,"));
    }

    #[test]
    fn cas_semantics_with_absent_key() {
        let mut kv = Kv::new();
        assert_eq!(kv.apply(&cas("k", None, "1")), ApplyResult::CasApplied);
        assert_eq!(
            kv.apply(&cas("k", None, "2")),
            ApplyResult::CasFailed {
                current: Some("1".into())
            }
        );
        assert_eq!(kv.apply(&cas("k", Some("1"), "2")), ApplyResult::CasApplied);
        assert_eq!(kv.get("k"), Some("2"));
        assert_eq!(
            kv.apply(&cas("x", Some("1"), "2")),
            ApplyResult::CasFailed { current: None }
        );
    }

    #[test]
    fn duplicate_request_applied_once() {
        let mut kv = Kv::new();
        kv.apply(&put("a", "1", Some(("c", 1))));
        kv.apply(&put("a", "2", None));
        // Retry of request c-1 must not set a back to 1.
        assert_eq!(kv.apply(&put("a", "1", Some(("c", 1)))), ApplyResult::Done);
        assert_eq!(kv.get("a"), Some("2"));
        kv.apply(&put("a", "3", Some(("c", 2))));
        assert_eq!(
            kv.apply(&put("a", "9", Some(("c", 1)))),
            ApplyResult::StaleRequest { latest: 2 }
        );
        assert_eq!(kv.get("a"), Some("3"));
    }

    #[test]
    fn duplicate_cas_returns_recorded_result() {
        let mut kv = Kv::new();
        let mut c = cas("k", None, "1");
        c.req = Some(RequestId {
            client: "p".into(),
            seq: 7,
        });
        assert_eq!(kv.apply(&c), ApplyResult::CasApplied);
        // Re-applying the same request reports the original outcome.
        assert_eq!(kv.apply(&c), ApplyResult::CasApplied);
    }

    #[test]
    fn snapshot_roundtrip_keeps_sessions() {
        let mut kv = Kv::new();
        kv.apply(&put("a", "1", Some(("c", 4))));
        let restored = Kv::restore(&kv.snapshot()).expect("restore");
        assert_eq!(restored, kv);
        let mut r = restored;
        r.apply(&put("a", "2", None));
        r.apply(&put("a", "1", Some(("c", 4))));
        assert_eq!(r.get("a"), Some("2"));
    }

    #[test]
    fn command_bytes_roundtrip_and_non_empty() {
        let c = cas("k", None, "v");
        let b = c.encode();
        assert!(!b.is_empty());
        assert_eq!(Command::decode(&b).expect("decode"), c);
    }
}
