//! The replicated state machine: a string map with put, delete and compare-and-set, plus
//! the table of client sessions (client → latest request sequence and its result) that
//! makes a retried write apply once. Commands travel through the log as JSON text; the
//! whole state (map and sessions) is the snapshot.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A client request id, from `X-Request-Id: <client>-<seq>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestId {
    /// The client.
    pub client: String,
    /// Its sequence number (increasing per client).
    pub seq: u64,
}

impl RequestId {
    /// Parse `<client>-<seq>` (the client part may itself contain `-`).
    pub fn parse(s: &str) -> Result<RequestId, String> {
        let (client, seq) = s
            .rsplit_once('-')
            .ok_or_else(|| format!("X-Request-Id `{s}`: expected <client>-<seq>"))?;
        let seq = seq
            .parse()
            .map_err(|_| format!("X-Request-Id `{s}`: `{seq}` is not a sequence number"))?;
        if client.is_empty() {
            return Err(format!("X-Request-Id `{s}`: empty client"));
        }
        Ok(RequestId {
            client: client.to_string(),
            seq,
        })
    }
}

/// An operation on the map.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    /// Set `key` to `value`.
    Put { key: String, value: String },
    /// Remove `key`.
    Delete { key: String },
    /// Set `key` to `to` if its current value is `from` (`None` = absent).
    Cas {
        key: String,
        from: Option<String>,
        to: String,
    },
}

/// A command as proposed into the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Command {
    /// What to do.
    pub op: Op,
    /// Duplicate suppression id, if the client sent one.
    pub req: Option<RequestId>,
}

impl Command {
    /// The log encoding.
    pub fn encode(&self) -> String {
        serde_json::to_string(self).expect("a command always encodes")
    }
}

/// What applying a command did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ApplyResult {
    /// A put or delete took effect.
    Done,
    /// A cas matched and took effect.
    CasApplied,
    /// A cas did not match; the current value.
    CasFailed { current: Option<String> },
    /// The request id is older than the client's latest: not applied.
    Stale { latest: u64 },
    /// The log entry did not decode (never for entries this node wrote).
    Invalid,
}

/// The map and the session table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Kv {
    data: BTreeMap<String, String>,
    sessions: BTreeMap<String, (u64, ApplyResult)>,
}

impl Kv {
    /// Current value of `key`.
    pub fn get(&self, key: &str) -> Option<&String> {
        self.data.get(key)
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// True when no key is set.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Apply one log entry's command text.
    pub fn apply_encoded(&mut self, text: &str) -> ApplyResult {
        match serde_json::from_str::<Command>(text) {
            Ok(cmd) => self.apply(cmd),
            Err(_) => ApplyResult::Invalid,
        }
    }

    /// Apply a command once per request id: a retry returns the first result.
    pub fn apply(&mut self, cmd: Command) -> ApplyResult {
        if let Some(req) = &cmd.req {
            if let Some((latest, result)) = self.sessions.get(&req.client) {
                if req.seq == *latest {
                    return result.clone();
                }
                if req.seq < *latest {
                    return ApplyResult::Stale { latest: *latest };
                }
            }
        }
        let result = self.apply_op(cmd.op);
        if let Some(req) = cmd.req {
            self.sessions.insert(req.client, (req.seq, result.clone()));
        }
        result
    }

    fn apply_op(&mut self, op: Op) -> ApplyResult {
        match op {
            Op::Put { key, value } => {
                self.data.insert(key, value);
                ApplyResult::Done
            }
            Op::Delete { key } => {
                self.data.remove(&key);
                ApplyResult::Done
            }
            Op::Cas { key, from, to } => {
                let current = self.data.get(&key).cloned();
                if current == from {
                    self.data.insert(key, to);
                    ApplyResult::CasApplied
                } else {
                    ApplyResult::CasFailed { current }
                }
            }
        }
    }

    /// The snapshot encoding.
    pub fn snapshot(&self) -> String {
        serde_json::to_string(self).expect("the state always encodes")
    }

    /// Load a snapshot.
    pub fn from_snapshot(text: &str) -> Result<Kv, serde_json::Error> {
        serde_json::from_str(text)
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

    #[test]
    fn request_ids_parse_with_dashes_in_the_client() {
        let r = RequestId::parse("w-3-17").unwrap();
        assert_eq!((r.client.as_str(), r.seq), ("w-3", 17));
        assert!(RequestId::parse("nodash").is_err());
        assert!(RequestId::parse("c-x").is_err());
        assert!(RequestId::parse("-4").is_err());
    }

    #[test]
    fn a_retried_request_applies_once_and_older_ones_are_refused() {
        let mut kv = Kv::default();
        assert_eq!(kv.apply(put("k", "1", Some(("c", 1)))), ApplyResult::Done);
        kv.apply(put("k", "2", None));
        assert_eq!(kv.apply(put("k", "1", Some(("c", 1)))), ApplyResult::Done);
        assert_eq!(
            kv.get("k").map(String::as_str),
            Some("2"),
            "the retry did not apply"
        );
        assert_eq!(
            kv.apply(put("k", "0", Some(("c", 0)))),
            ApplyResult::Stale { latest: 1 }
        );
    }

    #[test]
    fn cas_compares_with_absent_and_present_values_and_snapshots_round_trip() {
        let mut kv = Kv::default();
        let cas = |from: Option<&str>, to: &str| Command {
            op: Op::Cas {
                key: "k".into(),
                from: from.map(String::from),
                to: to.into(),
            },
            req: None,
        };
        assert_eq!(kv.apply(cas(None, "a")), ApplyResult::CasApplied);
        assert_eq!(
            kv.apply(cas(None, "b")),
            ApplyResult::CasFailed {
                current: Some("a".into())
            }
        );
        assert_eq!(kv.apply(cas(Some("a"), "b")), ApplyResult::CasApplied);
        let back = Kv::from_snapshot(&kv.snapshot()).unwrap();
        assert_eq!(back, kv);
        assert_eq!(kv.apply_encoded("not json"), ApplyResult::Invalid);
    }
}
