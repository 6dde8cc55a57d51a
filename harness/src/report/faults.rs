//! Fault intervals computed from nemesis events: `start-partition`→`stop-partition`,
//! `pause`→`resume`, `kill`→`restart` (and, generically, `start-X`→`stop-X`). A kind is
//! active while at least one of its targets is faulted; a start with no stop runs to the
//! end of the history. Also the colour of each kind, shared by plots and the timeline.

use super::load::NemesisEvent;
use serde_json::Value;
use std::collections::BTreeSet;

/// One period during which a kind of fault was active.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultInterval {
    /// `partition`, `pause`, `kill`, or the `X` of `start-X`.
    pub kind: String,
    pub start_ns: i64,
    pub end_ns: i64,
    /// True when no stop event ended it (it runs to the end of the history).
    pub open_ended: bool,
}

enum Edge {
    Start,
    Stop,
}

/// The kind and direction of a nemesis event, if it starts or stops a fault.
fn classify(f: &str) -> Option<(String, Edge)> {
    match f {
        "pause" => Some(("pause".into(), Edge::Start)),
        "resume" => Some(("pause".into(), Edge::Stop)),
        "kill" => Some(("kill".into(), Edge::Start)),
        "restart" => Some(("kill".into(), Edge::Stop)),
        // Jepsen's classic nemeses log bare :start / :stop.
        "start" => Some(("nemesis".into(), Edge::Start)),
        "stop" => Some(("nemesis".into(), Edge::Stop)),
        _ => {
            if let Some(k) = f.strip_prefix("start-") {
                Some((k.to_string(), Edge::Start))
            } else {
                f.strip_prefix("stop-").map(|k| (k.to_string(), Edge::Stop))
            }
        }
    }
}

/// Targets named by an event's value (a list of node names), if it names any.
fn targets(v: &Value) -> Option<Vec<String>> {
    match v {
        Value::Array(items) if !items.is_empty() => Some(
            items
                .iter()
                .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_string))
                .collect(),
        ),
        Value::String(s) => Some(vec![s.clone()]),
        _ => None,
    }
}

/// Compute fault intervals from nemesis events (in history order), closing open ones at
/// `end_ns`. Intervals are sorted by start time.
pub fn intervals(events: &[NemesisEvent], end_ns: i64) -> Vec<FaultInterval> {
    // Per kind: the set of faulted targets ("*" when the event named none) and since when.
    let mut active: Vec<(String, BTreeSet<String>, i64)> = Vec::new();
    let mut out = Vec::new();
    for e in events {
        let Some((kind, edge)) = classify(&e.f) else {
            continue;
        };
        let slot = match active.iter().position(|(k, _, _)| *k == kind) {
            Some(i) => i,
            None => {
                active.push((kind.clone(), BTreeSet::new(), 0));
                active.len() - 1
            }
        };
        let (_, set, since) = &mut active[slot];
        match edge {
            Edge::Start => {
                if set.is_empty() {
                    *since = e.time_ns;
                }
                match targets(&e.value).filter(|_| kind != "partition") {
                    Some(ts) => set.extend(ts),
                    None => {
                        set.insert("*".into());
                    }
                }
            }
            Edge::Stop => {
                if set.is_empty() {
                    continue;
                }
                match targets(&e.value).filter(|_| kind != "partition") {
                    Some(ts) => {
                        for t in ts {
                            set.remove(&t);
                        }
                        // A stop naming targets that were started without names heals all.
                        if set.len() == 1 && set.contains("*") {
                            set.clear();
                        }
                    }
                    None => set.clear(),
                }
                if set.is_empty() {
                    out.push(FaultInterval {
                        kind,
                        start_ns: *since,
                        end_ns: e.time_ns,
                        open_ended: false,
                    });
                }
            }
        }
    }
    for (kind, set, since) in active {
        if !set.is_empty() {
            out.push(FaultInterval {
                kind,
                start_ns: since,
                end_ns: end_ns.max(since),
                open_ended: true,
            });
        }
    }
    out.sort_by(|a, b| {
        a.start_ns
            .cmp(&b.start_ns)
            .then_with(|| a.kind.cmp(&b.kind))
    });
    out
}

/// The distinct kinds in `intervals`, in a stable order (known kinds first).
pub fn kinds(intervals: &[FaultInterval]) -> Vec<String> {
    let mut ks: Vec<String> = Vec::new();
    for k in ["partition", "pause", "kill"] {
        if intervals.iter().any(|i| i.kind == k) {
            ks.push(k.to_string());
        }
    }
    for i in intervals {
        if !ks.contains(&i.kind) {
            ks.push(i.kind.clone());
        }
    }
    ks
}

/// RGB colour of a fault kind (shading is drawn translucent).
pub fn colour(kind: &str) -> (u8, u8, u8) {
    match kind {
        "partition" => (140, 140, 140),
        "pause" => (86, 180, 233),
        "kill" => (204, 121, 167),
        other => {
            const EXTRA: [(u8, u8, u8); 4] = [
                (0, 158, 115),
                (240, 228, 66),
                (120, 120, 120),
                (150, 100, 60),
            ];
            let h = other
                .bytes()
                .fold(0usize, |h, b| h.wrapping_mul(31).wrapping_add(b as usize));
            EXTRA[h % EXTRA.len()]
        }
    }
}

/// CSS `rgb(...)` of a fault kind.
pub fn css(kind: &str) -> String {
    let (r, g, b) = colour(kind);
    format!("rgb({r},{g},{b})")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ev(t: i64, f: &str, v: Value) -> NemesisEvent {
        NemesisEvent {
            time_ns: t,
            index: t as u64,
            f: f.into(),
            value: v,
        }
    }

    #[test]
    fn pairs_each_kind_and_leaves_unmatched_open() {
        let evs = vec![
            ev(10, "start-partition", json!({"n1": ["n2", "n3"]})),
            ev(20, "pause", json!(["n1"])),
            ev(25, "pause", json!(["n2"])),
            ev(30, "resume", json!(["n1"])),
            ev(35, "stop-partition", Value::Null),
            ev(40, "resume", json!(["n2"])),
            ev(50, "kill", json!(["n3"])),
            ev(60, "stop-partition", Value::Null), // stray stop: ignored
        ];
        let iv = intervals(&evs, 100);
        assert_eq!(
            iv,
            vec![
                FaultInterval {
                    kind: "partition".into(),
                    start_ns: 10,
                    end_ns: 35,
                    open_ended: false
                },
                FaultInterval {
                    kind: "pause".into(),
                    start_ns: 20,
                    end_ns: 40,
                    open_ended: false
                },
                FaultInterval {
                    kind: "kill".into(),
                    start_ns: 50,
                    end_ns: 100,
                    open_ended: true
                },
            ]
        );
        assert_eq!(kinds(&iv), vec!["partition", "pause", "kill"]);
    }

    #[test]
    fn resume_without_names_heals_all() {
        let evs = vec![
            ev(1, "pause", json!(["n1", "n2"])),
            ev(5, "resume", Value::Null),
        ];
        let iv = intervals(&evs, 9);
        assert_eq!(iv.len(), 1);
        assert_eq!((iv[0].start_ns, iv[0].end_ns), (1, 5));
    }
}
