//! Faults from nemesis events, named by who they hit. One table ([`KINDS`]) says, per
//! fault kind, which event starts it, which stops it, its colour and how to say its start
//! event in words ("n4 isolated from n1 n2 n3 n5", "n2 paused", "n1 n3 killed"); a new
//! kind is one entry. Events of kinds not in the table (a generic `start-X`/`stop-X`, or
//! Jepsen's bare `start`/`stop`) become intervals too, named by their raw JSON. A kind is
//! active while at least one of its targets is faulted; a start with no stop runs to the
//! end of the history.

use super::load::NemesisEvent;
use super::notation::fmt_dur;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// How one fault kind is recorded and said.
pub struct KindSpec {
    /// Name of the kind (`partition`, `pause`, `kill`).
    pub kind: &'static str,
    /// The nemesis `f` that starts it and the one that undoes it.
    pub start: &'static str,
    pub stop: &'static str,
    pub rgb: (u8, u8, u8),
    /// The start event's value in words; `None` when it is not of the expected shape (the
    /// raw JSON is shown instead).
    pub words: fn(&Value) -> Option<String>,
    /// How the undo is said, with the duration: `restarted after 1.2 s`.
    pub undone: &'static str,
    /// Whether the start value lists target nodes that the stop event names again (so a
    /// kind is active while any of them is still faulted).
    pub per_target: bool,
}

/// Every fault kind the report knows by name. Add a kind here.
pub const KINDS: &[KindSpec] = &[
    KindSpec {
        kind: "partition",
        start: "start-partition",
        stop: "stop-partition",
        rgb: (120, 120, 120),
        words: grudge_words,
        undone: "healed",
        per_target: false,
    },
    KindSpec {
        kind: "pause",
        start: "pause",
        stop: "resume",
        rgb: (86, 180, 233),
        words: |v| nodes_words(v, "paused"),
        undone: "resumed",
        per_target: true,
    },
    KindSpec {
        kind: "kill",
        start: "kill",
        stop: "restart",
        rgb: (204, 121, 167),
        words: |v| nodes_words(v, "killed"),
        undone: "restarted",
        per_target: true,
    },
    KindSpec {
        kind: "loss",
        start: "start-loss",
        stop: "stop-loss",
        rgb: (213, 94, 0),
        words: link_words,
        undone: "links healthy again",
        per_target: false,
    },
    KindSpec {
        kind: "delay",
        start: "start-delay",
        stop: "stop-delay",
        rgb: (0, 114, 178),
        words: link_words,
        undone: "links healthy again",
        per_target: false,
    },
    KindSpec {
        kind: "clock",
        start: "start-clock",
        stop: "stop-clock",
        rgb: (230, 159, 0),
        words: clock_words,
        undone: "clocks reset",
        per_target: false,
    },
    KindSpec {
        kind: "wire",
        start: "start-wire",
        stop: "stop-wire",
        rgb: (0, 158, 115),
        words: link_words,
        undone: "links healthy again",
        per_target: false,
    },
    KindSpec {
        kind: "byzantine",
        start: "start-byzantine",
        stop: "stop-byzantine",
        rgb: (230, 159, 0),
        words: byzantine_words,
        undone: "honest again",
        per_target: false,
    },
    KindSpec {
        kind: "stall",
        start: "start-stall",
        stop: "stop-stall",
        rgb: (230, 159, 0),
        words: link_words,
        undone: "woke",
        per_target: false,
    },
];

/// A clock fault in words, from `{"fault":"skew","nodes":{"n2":4.2}}` (rate: a factor;
/// strobe: with `period_ms`): `n2's clock +4.2 s`, `n2's clock runs 2× (fast)`,
/// `n2's clock strobes between +0 and -1.5 s every 100 ms`.
pub fn clock_words(v: &Value) -> Option<String> {
    let fault = v.get("fault")?.as_str()?;
    let nodes = v.get("nodes")?.as_object()?;
    let mut names: Vec<&String> = nodes.keys().collect();
    names.sort_by(|a, b| natural(a, b));
    let secs = |a: f64| format!("{} s", signed_trimmed(a));
    let parts: Option<Vec<String>> = names
        .into_iter()
        .map(|n| {
            let a = nodes[n].as_f64()?;
            Some(match fault {
                "skew" => format!("{n}'s clock {}", secs(a)),
                "rate" => format!(
                    "{n}'s clock runs {}× ({})",
                    trimmed(a),
                    if a > 1.0 { "fast" } else { "slow" }
                ),
                "strobe" => {
                    let period = v.get("period_ms")?.as_u64()?;
                    format!(
                        "{n}'s clock strobes between +0 and {} every {period} ms",
                        secs(a)
                    )
                }
                _ => return None,
            })
        })
        .collect();
    let parts = parts?;
    (!parts.is_empty()).then(|| parts.join("; "))
}

/// A number with at most three decimals, without trailing zeros (`4.2`, `0.437`, `2`).
fn trimmed(a: f64) -> String {
    let s = format!("{a:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// [`trimmed`] with its sign (`+4.2`, `-1.5`).
fn signed_trimmed(a: f64) -> String {
    if a < 0.0 {
        format!("-{}", trimmed(-a))
    } else {
        format!("+{}", trimmed(a))
    }
}

/// Lying nodes and their modes: `n1 lies (equivocate), n4 lies (forge-votes)`.
fn byzantine_words(v: &Value) -> Option<String> {
    let modes = v.get("modes")?.as_object()?;
    let mut names: Vec<&String> = modes.keys().collect();
    names.sort_by(|a, b| natural(a, b));
    let parts: Vec<String> = names
        .iter()
        .map(|n| format!("{n} lies ({})", modes[*n].as_str().unwrap_or("?")))
        .collect();
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// A link fault (or a stall) in words, as the nemesis recorded it: `n1→n2, n2→n1: 30%
/// loss`, `w3 frozen holding /locks/l0 (token 17) for 4.2 s (1.40 TTL)`.
fn link_words(v: &Value) -> Option<String> {
    v.get("text")?.as_str().map(str::to_string)
}

/// Colours of kinds not in [`KINDS`], picked by the kind's name.
const EXTRA_RGB: [(u8, u8, u8); 4] = [(0, 158, 115), (200, 180, 0), (150, 100, 60), (90, 60, 160)];

/// One period during which a kind of fault was active.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultInterval {
    /// `partition`, `pause`, `kill`, or the `X` of `start-X`.
    pub kind: String,
    pub start_ns: i64,
    pub end_ns: i64,
    /// True when no stop event ended it (it runs to the end of the history).
    pub open_ended: bool,
    /// Who it hit, in words, one entry per start event inside the interval.
    pub what: Vec<String>,
    /// The raw JSON of those start events' values.
    pub raw: Vec<String>,
}

impl FaultInterval {
    /// The whole fault in words: `n1 n3 killed, restarted after 1.2 s`.
    pub fn words(&self) -> String {
        let what = if self.what.is_empty() {
            self.kind.clone()
        } else {
            self.what.join("; ")
        };
        if self.open_ended {
            return format!("{what}, never undone");
        }
        let undone = spec(&self.kind).map_or("stopped", |s| s.undone);
        format!(
            "{what}, {undone} after {}",
            fmt_dur(self.end_ns - self.start_ns)
        )
    }

    /// Whether the interval overlaps `[a, b]`.
    pub fn overlaps(&self, a: i64, b: i64) -> bool {
        self.start_ns <= b && self.end_ns >= a
    }
}

/// The table entry of a kind, if it has one.
pub fn spec(kind: &str) -> Option<&'static KindSpec> {
    KINDS.iter().find(|k| k.kind == kind)
}

enum Edge {
    Start,
    Stop,
}

/// The kind and direction of a nemesis event, if it starts or stops a fault.
fn classify(f: &str) -> Option<(String, Edge)> {
    for k in KINDS {
        if f == k.start {
            return Some((k.kind.into(), Edge::Start));
        }
        if f == k.stop {
            return Some((k.kind.into(), Edge::Stop));
        }
    }
    match f {
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

/// Node names in natural order (`n2` before `n10`).
fn natural(a: &str, b: &str) -> std::cmp::Ordering {
    let split = |s: &str| {
        let d = s.trim_end_matches(|c: char| c.is_ascii_digit());
        (d.to_string(), s[d.len()..].parse::<u64>().unwrap_or(0))
    };
    split(a).cmp(&split(b)).then_with(|| a.cmp(b))
}

fn join(names: &BTreeSet<String>) -> String {
    let mut v: Vec<&String> = names.iter().collect();
    v.sort_by(|a, b| natural(a, b));
    v.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ")
}

/// Target names of an event's value (a list of node names, or one name).
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

/// `n1 n3 killed`.
fn nodes_words(v: &Value, verb: &str) -> Option<String> {
    let ts: BTreeSet<String> = targets(v)?.into_iter().collect();
    Some(format!("{} {verb}", join(&ts)))
}

/// A grudge (node → the nodes it cannot hear) in words: `n4 isolated from n1 n2 n3 n5`,
/// `n1 n2 cut off from n3 n4 n5`, `split into n1 | n2 n3 | n4 n5`, and for shapes that are
/// not clean components (a bridge, a ring, one-way cuts) who cannot hear whom.
pub fn grudge_words(v: &Value) -> Option<String> {
    let obj = v.as_object()?;
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (node, deaf) in obj {
        let set: BTreeSet<String> = targets(deaf).unwrap_or_default().into_iter().collect();
        g.insert(node.clone(), set);
    }
    let mut nodes: BTreeSet<String> = g.keys().cloned().collect();
    nodes.extend(g.values().flatten().cloned());
    for n in &nodes {
        g.entry(n.clone()).or_default();
    }
    if g.values().all(BTreeSet::is_empty) {
        return Some("no link cut".into());
    }
    let hears = |a: &str, b: &str| a == b || !g[a].contains(b);
    let symmetric = nodes
        .iter()
        .all(|a| g[a].iter().all(|b| g.get(b).is_some_and(|s| s.contains(a))));
    if symmetric {
        if let Some(comps) = clique_components(&nodes, &hears) {
            return Some(components_words(comps));
        }
        return Some(groups_words(&g, "cut off from"));
    }
    Some(groups_words(&g, "cannot hear"))
}

/// The components of the "hears" relation when every component is a clique.
fn clique_components(
    nodes: &BTreeSet<String>,
    hears: &dyn Fn(&str, &str) -> bool,
) -> Option<Vec<BTreeSet<String>>> {
    let mut comps: Vec<BTreeSet<String>> = Vec::new();
    for n in nodes {
        match comps.iter_mut().find(|c| c.iter().any(|m| hears(n, m))) {
            Some(c) => {
                if !c.iter().all(|m| hears(n, m) && hears(m, n)) {
                    return None;
                }
                c.insert(n.clone());
            }
            None => comps.push(BTreeSet::from([n.clone()])),
        }
    }
    Some(comps)
}

fn components_words(mut comps: Vec<BTreeSet<String>>) -> String {
    comps.sort_by_key(|c| (c.len(), c.iter().next().cloned()));
    match comps.as_slice() {
        [one] => format!("{} (no link cut)", join(one)),
        [a, b] if a.len() == 1 => format!("{} isolated from {}", join(a), join(b)),
        [a, b] => format!("{} cut off from {}", join(a), join(b)),
        many => format!(
            "split into {}",
            many.iter().map(join).collect::<Vec<_>>().join(" | ")
        ),
    }
}

/// Nodes grouped by the set they cannot hear: `n1 n2 cut off from n4 n5; n3 hears all`.
fn groups_words(g: &BTreeMap<String, BTreeSet<String>>, verb: &str) -> String {
    let mut groups: Vec<(BTreeSet<String>, BTreeSet<String>)> = Vec::new();
    for (n, deaf) in g {
        match groups.iter_mut().find(|(_, d)| d == deaf) {
            Some((members, _)) => {
                members.insert(n.clone());
            }
            None => groups.push((BTreeSet::from([n.clone()]), deaf.clone())),
        }
    }
    let mut parts = Vec::new();
    let mut whole = Vec::new();
    for (members, deaf) in &groups {
        if deaf.is_empty() {
            let verb = if members.len() == 1 { "hears" } else { "hear" };
            whole.push(format!("{} {verb} all", join(members)));
            continue;
        }
        // Symmetric pairs are said once: "A cut off from B" covers "B cut off from A".
        if verb == "cut off from"
            && groups
                .iter()
                .any(|(m, d)| m == deaf && d == members && join(m) < join(members))
        {
            continue;
        }
        parts.push(format!("{} {verb} {}", join(members), join(deaf)));
    }
    parts.extend(whole);
    parts.join("; ")
}

/// The start event in words, or its kind and raw JSON when the kind is unknown or the
/// value is not of the expected shape.
fn event_words(kind: &str, v: &Value) -> String {
    spec(kind)
        .and_then(|s| (s.words)(v))
        .unwrap_or_else(|| match v {
            Value::Null => kind.to_string(),
            other => format!(
                "{kind} {}",
                super::load::truncate_to(&other.to_string(), 120)
            ),
        })
}

struct Active {
    kind: String,
    set: BTreeSet<String>,
    since: i64,
    what: Vec<String>,
    raw: Vec<String>,
}

/// Most start events described per interval.
const WHAT_CAP: usize = 8;

/// Compute fault intervals from nemesis events (in history order), closing open ones at
/// `end_ns`. Intervals are sorted by start time.
pub fn intervals(events: &[NemesisEvent], end_ns: i64) -> Vec<FaultInterval> {
    let mut active: Vec<Active> = Vec::new();
    let mut out = Vec::new();
    for e in events {
        let Some((kind, edge)) = classify(&e.f) else {
            continue;
        };
        let per_target = spec(&kind).is_none_or(|s| s.per_target);
        let slot = match active.iter().position(|a| a.kind == kind) {
            Some(i) => i,
            None => {
                active.push(Active {
                    kind: kind.clone(),
                    set: BTreeSet::new(),
                    since: 0,
                    what: Vec::new(),
                    raw: Vec::new(),
                });
                active.len() - 1
            }
        };
        let a = &mut active[slot];
        match edge {
            Edge::Start => {
                if a.set.is_empty() {
                    a.since = e.time_ns;
                    a.what.clear();
                    a.raw.clear();
                }
                if a.what.len() < WHAT_CAP {
                    a.what.push(event_words(&kind, &e.value));
                    a.raw.push(e.value.to_string());
                }
                match targets(&e.value).filter(|_| per_target) {
                    Some(ts) => a.set.extend(ts),
                    None => {
                        a.set.insert("*".into());
                    }
                }
            }
            Edge::Stop => {
                if a.set.is_empty() {
                    continue;
                }
                match targets(&e.value).filter(|_| per_target) {
                    Some(ts) => {
                        for t in ts {
                            a.set.remove(&t);
                        }
                        // A stop naming targets that were started without names heals all.
                        if a.set.len() == 1 && a.set.contains("*") {
                            a.set.clear();
                        }
                    }
                    None => a.set.clear(),
                }
                if a.set.is_empty() {
                    out.push(close(a, e.time_ns, false));
                }
            }
        }
    }
    for a in &mut active {
        if !a.set.is_empty() {
            let end = end_ns.max(a.since);
            out.push(close(a, end, true));
        }
    }
    out.sort_by(|a, b| {
        a.start_ns
            .cmp(&b.start_ns)
            .then_with(|| a.kind.cmp(&b.kind))
    });
    out
}

fn close(a: &mut Active, end_ns: i64, open_ended: bool) -> FaultInterval {
    FaultInterval {
        kind: a.kind.clone(),
        start_ns: a.since,
        end_ns,
        open_ended,
        what: std::mem::take(&mut a.what),
        raw: std::mem::take(&mut a.raw),
    }
}

/// The distinct kinds in `intervals`, in a stable order (table kinds first, in table
/// order, then the others by name).
pub fn kinds(intervals: &[FaultInterval]) -> Vec<String> {
    let mut ks: Vec<String> = KINDS
        .iter()
        .filter(|k| intervals.iter().any(|i| i.kind == k.kind))
        .map(|k| k.kind.to_string())
        .collect();
    let mut other: Vec<String> = intervals
        .iter()
        .filter(|i| spec(&i.kind).is_none())
        .map(|i| i.kind.clone())
        .collect();
    other.sort();
    other.dedup();
    ks.extend(other);
    ks
}

/// RGB colour of a fault kind (shading is drawn translucent).
pub fn colour(kind: &str) -> (u8, u8, u8) {
    if let Some(s) = spec(kind) {
        return s.rgb;
    }
    let h = kind
        .bytes()
        .fold(0usize, |h, b| h.wrapping_mul(31).wrapping_add(b as usize));
    EXTRA_RGB[h % EXTRA_RGB.len()]
}

/// CSS `rgb(...)` of a fault kind.
pub fn css(kind: &str) -> String {
    super::notation::css(colour(kind))
}

/// Per kind: how many intervals and how long in all, in [`kinds`] order.
pub fn totals(intervals: &[FaultInterval]) -> Vec<(String, usize, i64)> {
    kinds(intervals)
        .into_iter()
        .map(|k| {
            let of: Vec<&FaultInterval> = intervals.iter().filter(|i| i.kind == k).collect();
            let ns = of.iter().map(|i| i.end_ns - i.start_ns).sum();
            (k, of.len(), ns)
        })
        .collect()
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
            ev(
                10,
                "start-partition",
                json!({"n1": ["n2", "n3"], "n2": ["n1"], "n3": ["n1"]}),
            ),
            ev(20, "pause", json!(["n1"])),
            ev(25, "pause", json!(["n2"])),
            ev(30, "resume", json!(["n1"])),
            ev(35, "stop-partition", Value::Null),
            ev(40, "resume", json!(["n2"])),
            ev(50, "kill", json!(["n3"])),
            ev(60, "stop-partition", Value::Null), // stray stop: ignored
        ];
        let iv = intervals(&evs, 100);
        let got: Vec<(&str, i64, i64, bool)> = iv
            .iter()
            .map(|i| (i.kind.as_str(), i.start_ns, i.end_ns, i.open_ended))
            .collect();
        assert_eq!(
            got,
            vec![
                ("partition", 10, 35, false),
                ("pause", 20, 40, false),
                ("kill", 50, 100, true)
            ]
        );
        assert_eq!(iv[0].what, vec!["n1 isolated from n2 n3"]);
        assert_eq!(iv[1].what, vec!["n1 paused", "n2 paused"]);
        assert_eq!(iv[2].words(), "n3 killed, never undone");
        assert_eq!(kinds(&iv), vec!["partition", "pause", "kill"]);
    }

    #[test]
    fn byzantine_faults_name_each_liar_and_its_mode() {
        let evs = vec![
            ev(
                0,
                "start-byzantine",
                json!({"nodes": ["n4", "n1"], "modes": {"n4": "forge-votes", "n1": "equivocate"}}),
            ),
            ev(2_000_000_000, "stop-byzantine", json!(["n4", "n1"])),
        ];
        let iv = intervals(&evs, 9);
        assert_eq!(
            iv[0].words(),
            "n1 lies (equivocate), n4 lies (forge-votes), honest again after 2.0 s"
        );
    }

    #[test]
    fn kills_say_when_they_were_restarted() {
        let evs = vec![
            ev(0, "kill", json!(["n3", "n1"])),
            ev(1_200_000_000, "restart", json!(["n3", "n1"])),
        ];
        let iv = intervals(&evs, 9);
        assert_eq!(iv[0].words(), "n1 n3 killed, restarted after 1.2 s");
    }

    #[test]
    fn grudges_in_words() {
        let w = |v: Value| grudge_words(&v).unwrap();
        assert_eq!(
            w(
                json!({"n4": ["n1","n2","n3","n5"], "n1": ["n4"], "n2": ["n4"], "n3": ["n4"], "n5": ["n4"]})
            ),
            "n4 isolated from n1 n2 n3 n5"
        );
        assert_eq!(
            w(
                json!({"n1": ["n3","n4","n5"], "n2": ["n3","n4","n5"], "n3": ["n1","n2"], "n4": ["n1","n2"], "n5": ["n1","n2"]})
            ),
            "n1 n2 cut off from n3 n4 n5"
        );
        // A bridge: n3 hears both halves, which cannot hear each other.
        assert_eq!(
            w(
                json!({"n1": ["n4","n5"], "n2": ["n4","n5"], "n3": [], "n4": ["n1","n2"], "n5": ["n1","n2"]})
            ),
            "n1 n2 cut off from n4 n5; n3 hears all"
        );
        // One way: n1 cannot hear n2, n2 hears n1.
        assert_eq!(w(json!({"n1": ["n2"]})), "n1 cannot hear n2; n2 hears all");
        assert_eq!(grudge_words(&json!([1])), None);
    }

    #[test]
    fn unknown_kinds_fall_back_to_raw_json() {
        let evs = vec![
            ev(1, "start-clock-skew", json!({"n2": 250})),
            ev(5, "stop-clock-skew", Value::Null),
        ];
        let iv = intervals(&evs, 9);
        assert_eq!(iv[0].kind, "clock-skew");
        assert_eq!(iv[0].what, vec![r#"clock-skew {"n2":250}"#]);
        assert_eq!(iv[0].raw, vec![r#"{"n2":250}"#]);
    }

    #[test]
    fn clock_faults_in_words() {
        let evs = vec![
            ev(
                0,
                "start-clock",
                json!({"fault": "skew", "nodes": {"n10": -1.5, "n2": 4.2}}),
            ),
            ev(2_000_000_000, "stop-clock", json!(["n2", "n10"])),
            ev(
                3_000_000_000,
                "start-clock",
                json!({"fault": "rate", "nodes": {"n1": 0.5}}),
            ),
            ev(4_000_000_000, "stop-clock", json!(["n1"])),
            ev(
                5_000_000_000,
                "start-clock",
                json!({"fault": "strobe", "nodes": {"n3": 0.25}, "period_ms": 100}),
            ),
        ];
        let iv = intervals(&evs, 6_000_000_000);
        assert_eq!(iv.len(), 3);
        assert_eq!(
            iv[0].words(),
            "n2's clock +4.2 s; n10's clock -1.5 s, clocks reset after 2.0 s"
        );
        assert_eq!(iv[1].what, vec!["n1's clock runs 0.5× (slow)"]);
        assert_eq!(
            iv[2].words(),
            "n3's clock strobes between +0 and +0.25 s every 100 ms, never undone"
        );
        assert_eq!(kinds(&iv), vec!["clock"]);
        assert_eq!(
            clock_words(&json!({"fault": "warp", "nodes": {"n1": 1}})),
            None
        );
        assert_eq!(
            clock_words(&json!({"fault": "rate", "nodes": {"n1": 2}})).unwrap(),
            "n1's clock runs 2× (fast)"
        );
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
