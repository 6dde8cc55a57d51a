//! Nemesis scripts (`--nemesis-script FILE`), as data: a TOML list of steps that apply faults
//! in a fixed order to nodes named by their role in the run ("the leader when the script
//! began", "the leader elected after it", "every node not named yet"), so that one exact
//! interleaving (a promise forgotten across a restart, a stale leader's accept arriving after
//! it) can be reproduced on purpose instead of waited for. This module parses and validates
//! a script and resolves roles to node names; it does no I/O beyond taking the file's text
//! (the runner, [`super::scripted`], applies the steps to a cluster).
//!
//! ```toml
//! repeat = true                         # start again (everything healed) until the run ends
//! [[step]]
//! wait-leader = "old"                   # wait for a leader (at most `timeout` s); call it `old`
//! [[step]]
//! delay = { links = ["others<>others"], ms = 250 }
//! [[step]]
//! isolate = "old"
//! [[step]]
//! wait-leader = "new"                   # a leader that is not a node named already
//! [[step]]
//! kill = "others"                       # every node not named by a role yet
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::Duration;

use crate::cluster::grudge::Grudge;
use crate::cluster::links::{LinkCondition, LinkFaults};

/// The scripts built into the binary (`--nemesis-script NAME` works from any directory):
/// name → text of `examples/nemesis/NAME.toml`.
pub const BUNDLED: &[(&str, &str)] = &[
    (
        "paxos-forget-promise",
        include_str!("../../../../examples/nemesis/paxos-forget-promise.toml"),
    ),
    (
        "raft-forget-vote",
        include_str!("../../../../examples/nemesis/raft-forget-vote.toml"),
    ),
];

/// Longest a `wait-leader` step waits when the script gives no `timeout`.
pub const DEFAULT_LEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Names a script may not use for a role: they mean something already.
const RESERVED: &[&str] = &["others", "all"];

/// A parsed script.
#[derive(Debug, Clone, PartialEq)]
pub struct Script {
    /// Where it came from (for messages and the run's config).
    pub source: String,
    /// The file's text, kept in the run's `test.json` so the run can be repeated after the
    /// file changes.
    pub text: String,
    /// Start again from the first step, everything undone, until the run ends.
    pub repeat: bool,
    pub steps: Vec<Step>,
}

/// Who a step acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Who {
    /// A role a `wait-leader` step named earlier in the round.
    Role(String),
    /// A node by name (`n2`).
    Node(String),
    /// Every node no role names yet.
    Others,
    /// Every node.
    All,
}

/// A directed link pattern: `a>b` (from a to b), `a<>b` (both ways), or every link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkPattern {
    Directed(Who, Who),
    Both(Who, Who),
    Every,
}

/// What a heal step undoes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HealWhat {
    Partition,
    Links,
    /// The partition, link faults, pauses (resumed) and kills (restarted).
    All,
}

/// One step.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Wait for a node that says it leads and is not named by a role yet; name it.
    WaitLeader {
        role: String,
        timeout: Duration,
    },
    Sleep(Duration),
    /// Cut these nodes off from every other node (replaces the partition in force).
    Isolate(Who),
    /// Cut each pair apart, both ways (replaces the partition in force).
    Cut(Vec<(Who, Who)>),
    /// Add a delay (`kind` delay) or loss (`kind` loss) on these links.
    Links {
        loss: bool,
        links: Vec<LinkPattern>,
        condition: LinkCondition,
    },
    Heal(HealWhat),
    Kill(Who),
    Restart(Who),
    Pause(Who),
    Resume(Who),
}

/// A script that cannot be used, with where and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptError(pub String);

impl fmt::Display for ScriptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ScriptError {}

/// The actions a step may have (exactly one each).
const ACTIONS: &[&str] = &[
    "wait-leader",
    "sleep",
    "isolate",
    "cut",
    "delay",
    "loss",
    "heal",
    "kill",
    "restart",
    "pause",
    "resume",
];

impl Script {
    /// Parses a script's text; `source` names it in errors (a path).
    pub fn parse(source: &str, text: &str) -> Result<Script, ScriptError> {
        let err = |m: String| ScriptError(format!("{source}: {m}"));
        let doc: toml::Table = text.parse().map_err(|e| err(format!("not TOML: {e}")))?;
        for key in doc.keys() {
            if key != "repeat" && key != "step" && key != "description" {
                return Err(err(format!(
                    "unknown key `{key}` (expected `repeat`, `description`, `[[step]]`)"
                )));
            }
        }
        let repeat = match doc.get("repeat") {
            None => false,
            Some(toml::Value::Boolean(b)) => *b,
            Some(v) => return Err(err(format!("`repeat` must be true or false, not {v}"))),
        };
        let Some(toml::Value::Array(raw)) = doc.get("step") else {
            return Err(err("no steps: add `[[step]]` tables".into()));
        };
        let mut steps = Vec::new();
        let mut named = BTreeSet::new();
        for (i, v) in raw.iter().enumerate() {
            let at = |m: String| err(format!("step {}: {m}", i + 1));
            let toml::Value::Table(t) = v else {
                return Err(at("not a table".into()));
            };
            let step = parse_step(t).map_err(at)?;
            if let Step::WaitLeader { role, .. } = &step {
                if !named.insert(role.clone()) {
                    return Err(at(format!("role `{role}` is named twice")));
                }
            }
            steps.push(step);
        }
        bind_role_names(&mut steps);
        Ok(Script {
            source: source.to_string(),
            text: text.to_string(),
            repeat,
            steps,
        })
    }

    /// Reads and parses the file at `path`; a bare name that is no file but names a
    /// bundled script ([`BUNDLED`]) is that script.
    pub fn load(path: &std::path::Path) -> Result<Script, ScriptError> {
        let source = path.display().to_string();
        if !path.exists() {
            if let Some((_, text)) = BUNDLED.iter().find(|(name, _)| *name == source) {
                return Script::parse(&source, text);
            }
        }
        let text = std::fs::read_to_string(path).map_err(|e| {
            let names: Vec<&str> = BUNDLED.iter().map(|(n, _)| *n).collect();
            ScriptError(format!(
                "{source}: cannot read: {e} (bundled scripts: {})",
                names.join(", ")
            ))
        })?;
        Script::parse(&source, &text)
    }

    /// Whether a step waits for a leader (the system must say who leads).
    pub fn waits_for_leaders(&self) -> bool {
        self.steps
            .iter()
            .any(|s| matches!(s, Step::WaitLeader { .. }))
    }

    /// Whether a step delays links (the system's links must go through the proxies).
    pub fn delays_links(&self) -> bool {
        self.steps
            .iter()
            .any(|s| matches!(s, Step::Links { loss: false, .. }))
    }

    /// Checks the node names the script uses against the cluster's.
    pub fn check_nodes(&self, nodes: &[String]) -> Result<(), ScriptError> {
        let mut steps = self.steps.clone();
        for (i, step) in steps.iter_mut().enumerate() {
            for who in step.whos_mut() {
                if let Who::Node(n) = who {
                    if !nodes.contains(n) {
                        return Err(ScriptError(format!(
                            "{}: step {}: `{n}` is neither a role named by an earlier \
                             wait-leader step nor a node ({})",
                            self.source,
                            i + 1,
                            nodes.join(", ")
                        )));
                    }
                }
            }
        }
        Ok(())
    }
}

fn parse_step(t: &toml::Table) -> Result<Step, String> {
    let actions: Vec<&String> = t.keys().filter(|k| *k != "timeout").collect();
    let action = match actions.as_slice() {
        [a] => a.as_str(),
        [] => return Err(format!("no action (one of {})", ACTIONS.join(", "))),
        more => {
            let names: Vec<&str> = more.iter().map(|s| s.as_str()).collect();
            return Err(format!("one action per step, not {}", names.join(" and ")));
        }
    };
    if t.contains_key("timeout") && action != "wait-leader" {
        return Err("`timeout` belongs to wait-leader steps".into());
    }
    let value = &t[action];
    match action {
        "wait-leader" => Ok(Step::WaitLeader {
            role: role_name(value)?,
            timeout: match t.get("timeout") {
                Some(v) => seconds("timeout", v)?,
                None => DEFAULT_LEADER_TIMEOUT,
            },
        }),
        "sleep" => Ok(Step::Sleep(seconds("sleep", value)?)),
        "isolate" => Ok(Step::Isolate(who(value)?)),
        "cut" => parse_cut(value),
        "delay" | "loss" => parse_links(action == "loss", value),
        "heal" => parse_heal(value),
        "kill" => Ok(Step::Kill(who(value)?)),
        "restart" => Ok(Step::Restart(who(value)?)),
        "pause" => Ok(Step::Pause(who(value)?)),
        "resume" => Ok(Step::Resume(who(value)?)),
        other => Err(format!(
            "unknown action `{other}` (expected one of {})",
            ACTIONS.join(", ")
        )),
    }
}

fn text<'a>(what: &str, v: &'a toml::Value) -> Result<&'a str, String> {
    v.as_str()
        .ok_or_else(|| format!("`{what}` must be a string, not {v}"))
}

fn role_name(v: &toml::Value) -> Result<String, String> {
    let s = text("wait-leader", v)?;
    let ok = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !ok || RESERVED.contains(&s) {
        return Err(format!(
            "role `{s}`: use letters, digits, `-` or `_`, and not {}",
            RESERVED.join(" or ")
        ));
    }
    Ok(s.to_string())
}

fn seconds(what: &str, v: &toml::Value) -> Result<Duration, String> {
    let x = match v {
        toml::Value::Integer(i) => *i as f64,
        toml::Value::Float(f) => *f,
        other => return Err(format!("`{what}` must be seconds (a number), not {other}")),
    };
    if !(0.0..=3600.0).contains(&x) {
        return Err(format!("`{what}` = {x}: expected 0 to 3600 seconds"));
    }
    Ok(Duration::from_secs_f64(x))
}

fn who_of(s: &str) -> Who {
    match s {
        "others" => Who::Others,
        "all" => Who::All,
        _ => Who::Node(s.to_string()), // a role if named earlier (see bind_role_names)
    }
}

fn who(v: &toml::Value) -> Result<Who, String> {
    Ok(who_of(text("target", v)?.trim()))
}

fn parse_cut(v: &toml::Value) -> Result<Step, String> {
    let list = v
        .as_array()
        .ok_or("`cut` must be a list of pairs: [[\"old\", \"new\"]]")?;
    let mut pairs = Vec::new();
    for p in list {
        match p.as_array().map(|a| a.as_slice()) {
            Some([a, b]) => pairs.push((who(a)?, who(b)?)),
            _ => {
                return Err(format!(
                    "`cut` pair {p}: expected two names, [\"a\", \"b\"]"
                ))
            }
        }
    }
    Ok(Step::Cut(pairs))
}

fn parse_link_pattern(s: &str) -> Result<LinkPattern, String> {
    let s = s.trim();
    if s == "all" {
        return Ok(LinkPattern::Every);
    }
    if let Some((a, b)) = s.split_once("<>") {
        return Ok(LinkPattern::Both(who_of(a.trim()), who_of(b.trim())));
    }
    if let Some((a, b)) = s.split_once('>') {
        return Ok(LinkPattern::Directed(who_of(a.trim()), who_of(b.trim())));
    }
    Err(format!(
        "link `{s}`: expected `all`, `from>to` or `a<>b` (roles or nodes)"
    ))
}

fn parse_links(loss: bool, v: &toml::Value) -> Result<Step, String> {
    let name = if loss { "loss" } else { "delay" };
    let t = v
        .as_table()
        .ok_or_else(|| format!("`{name}` must be a table: {{ links = [\"a>b\"], ... }}"))?;
    let allowed: &[&str] = if loss {
        &["links", "p"]
    } else {
        &["links", "ms", "jitter"]
    };
    if let Some(k) = t.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(format!(
            "`{name}`: unknown key `{k}` (expected {})",
            allowed.join(", ")
        ));
    }
    let links = match t.get("links") {
        Some(toml::Value::String(s)) => vec![parse_link_pattern(s)?],
        Some(toml::Value::Array(a)) => a
            .iter()
            .map(|x| parse_link_pattern(text("links", x)?))
            .collect::<Result<_, _>>()?,
        _ => return Err(format!("`{name}` needs `links` (\"all\" or a list)")),
    };
    let mut condition = LinkCondition::default();
    if loss {
        let p = t
            .get("p")
            .and_then(|p| p.as_float().or(p.as_integer().map(|i| i as f64)));
        match p {
            Some(p) if (0.0..=1.0).contains(&p) => condition.loss = p,
            _ => return Err("`loss` needs `p`, a probability from 0 to 1".into()),
        }
    } else {
        let ms = |k: &str| -> Result<Duration, String> {
            match t.get(k) {
                None => Ok(Duration::ZERO),
                Some(toml::Value::Integer(i)) if *i >= 0 => Ok(Duration::from_millis(*i as u64)),
                Some(v) => Err(format!(
                    "`delay`: `{k}` must be whole milliseconds, not {v}"
                )),
            }
        };
        condition.delay = ms("ms")?;
        condition.jitter = ms("jitter")?;
        if condition.delay.is_zero() && condition.jitter.is_zero() {
            return Err("`delay` needs `ms` above zero".into());
        }
    }
    Ok(Step::Links {
        loss,
        links,
        condition,
    })
}

fn parse_heal(v: &toml::Value) -> Result<Step, String> {
    match text("heal", v)? {
        "partition" => Ok(Step::Heal(HealWhat::Partition)),
        "links" => Ok(Step::Heal(HealWhat::Links)),
        "all" => Ok(Step::Heal(HealWhat::All)),
        other => Err(format!(
            "heal `{other}`: expected `partition`, `links` or `all`"
        )),
    }
}

impl Step {
    /// Every node or role the step names.
    fn whos_mut(&mut self) -> Vec<&mut Who> {
        match self {
            Step::Isolate(w) | Step::Kill(w) | Step::Restart(w) | Step::Pause(w) => vec![w],
            Step::Resume(w) => vec![w],
            Step::Cut(pairs) => pairs.iter_mut().flat_map(|(a, b)| [a, b]).collect(),
            Step::Links { links, .. } => links
                .iter_mut()
                .flat_map(|l| match l {
                    LinkPattern::Directed(a, b) | LinkPattern::Both(a, b) => vec![a, b],
                    LinkPattern::Every => vec![],
                })
                .collect(),
            Step::WaitLeader { .. } | Step::Sleep(_) | Step::Heal(_) => vec![],
        }
    }

    /// What a history or log line calls this step.
    pub fn describe(&self) -> String {
        match self {
            Step::WaitLeader { role, .. } => format!("wait-leader {role}"),
            Step::Sleep(d) => format!("sleep {:.3}s", d.as_secs_f64()),
            Step::Isolate(_) => "isolate".into(),
            Step::Cut(_) => "cut".into(),
            Step::Links { loss: true, .. } => "loss".into(),
            Step::Links { loss: false, .. } => "delay".into(),
            Step::Heal(_) => "heal".into(),
            Step::Kill(_) => "kill".into(),
            Step::Restart(_) => "restart".into(),
            Step::Pause(_) => "pause".into(),
            Step::Resume(_) => "resume".into(),
        }
    }
}

/// Rewrites the names of `steps` that earlier wait-leader steps bind into [`Who::Role`]; any
/// other name stays a node name (checked against the cluster by [`Script::check_nodes`]).
pub fn bind_role_names(steps: &mut [Step]) {
    let mut named = BTreeSet::new();
    for step in steps.iter_mut() {
        for w in step.whos_mut() {
            if let Who::Node(n) = w {
                if named.contains(n.as_str()) {
                    *w = Who::Role(n.clone());
                }
            }
        }
        if let Step::WaitLeader { role, .. } = step {
            named.insert(role.clone());
        }
    }
}

/// The roles named so far in one round: role → node.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Roles(pub BTreeMap<String, String>);

impl Roles {
    /// Whether `node` has a role already.
    pub fn names(&self, node: &str) -> bool {
        self.0.values().any(|n| n == node)
    }

    /// The nodes `who` means now (sorted, no duplicates).
    pub fn resolve(&self, who: &Who, nodes: &[String]) -> Vec<String> {
        let mut out: Vec<String> = match who {
            Who::Role(r) => self.0.get(r).cloned().into_iter().collect(),
            Who::Node(n) => vec![n.clone()],
            Who::Others => nodes.iter().filter(|n| !self.names(n)).cloned().collect(),
            Who::All => nodes.to_vec(),
        };
        out.sort();
        out.dedup();
        out
    }

    /// The grudge that cuts the nodes `who` means off from every other node.
    pub fn isolate(&self, who: &Who, nodes: &[String]) -> Grudge {
        let inside = self.resolve(who, nodes);
        let outside: Vec<String> = nodes
            .iter()
            .filter(|n| !inside.contains(n))
            .cloned()
            .collect();
        super::planner::grudge_from_components(nodes, &[inside, outside])
    }

    /// The grudge that cuts each pair apart, both ways.
    pub fn cut(&self, pairs: &[(Who, Who)], nodes: &[String]) -> Grudge {
        let sides: Vec<(Vec<String>, Vec<String>)> = pairs
            .iter()
            .map(|(a, b)| (self.resolve(a, nodes), self.resolve(b, nodes)))
            .collect();
        cut_grudge(&sides)
    }

    /// The directed links the patterns mean, each with `condition` (no self-links).
    pub fn links(
        &self,
        patterns: &[LinkPattern],
        condition: LinkCondition,
        nodes: &[String],
    ) -> LinkFaults {
        let mut out = LinkFaults::new();
        let mut add = |from: &[String], to: &[String]| {
            for a in from {
                for b in to {
                    if a != b {
                        out.insert((a.clone(), b.clone()), condition);
                    }
                }
            }
        };
        for p in patterns {
            match p {
                LinkPattern::Every => add(nodes, nodes),
                LinkPattern::Directed(a, b) => {
                    add(&self.resolve(a, nodes), &self.resolve(b, nodes))
                }
                LinkPattern::Both(a, b) => {
                    let (a, b) = (self.resolve(a, nodes), self.resolve(b, nodes));
                    add(&a, &b);
                    add(&b, &a);
                }
            }
        }
        out
    }
}

/// Each side of each pair cannot hear from the other side.
fn cut_grudge(pairs: &[(Vec<String>, Vec<String>)]) -> Grudge {
    let mut g = Grudge::new();
    for (a, b) in pairs {
        for x in a {
            for y in b {
                if x != y {
                    g.entry(x.clone()).or_default().insert(y.clone());
                    g.entry(y.clone()).or_default().insert(x.clone());
                }
            }
        }
    }
    g
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nodes() -> Vec<String> {
        ["n1", "n2", "n3"].iter().map(|s| s.to_string()).collect()
    }

    fn parse(text: &str) -> Result<Script, String> {
        Script::parse("s.toml", text).map_err(|e| e.0)
    }

    #[test]
    fn names_bound_by_wait_leader_become_roles_and_others_stay_nodes() {
        let s = parse(
            r#"repeat = true
            [[step]]
            wait-leader = "old"
            [[step]]
            delay = { links = ["old>others", "n2<>n3"], ms = 250, jitter = 10 }
            [[step]]
            wait-leader = "new"
            timeout = 2.5
            [[step]]
            cut = [["old", "new"]]
            [[step]]
            kill = "n3"
            [[step]]
            heal = "all""#,
        )
        .unwrap();
        assert!(s.repeat);
        assert_eq!(s.steps.len(), 6);
        assert_eq!(
            s.steps[2],
            Step::WaitLeader {
                role: "new".into(),
                timeout: Duration::from_millis(2500)
            }
        );
        assert_eq!(
            s.steps[3],
            Step::Cut(vec![(Who::Role("old".into()), Who::Role("new".into()))])
        );
        assert_eq!(s.steps[4], Step::Kill(Who::Node("n3".into())));
        let Step::Links {
            loss: false,
            links,
            condition,
        } = &s.steps[1]
        else {
            panic!("{:?}", s.steps[1]);
        };
        assert_eq!(
            links[0],
            LinkPattern::Directed(Who::Role("old".into()), Who::Others)
        );
        assert_eq!(condition.delay, Duration::from_millis(250));
        assert_eq!(condition.jitter, Duration::from_millis(10));
        assert!(s.check_nodes(&nodes()).is_ok());
    }

    #[test]
    fn bad_scripts_say_which_step_and_why() {
        let cases = [
            ("[[step]]\nkil = \"n1\"", "step 1: unknown action `kil`"),
            (
                "[[step]]\nkill = \"n1\"\npause = \"n2\"",
                "one action per step",
            ),
            (
                "[[step]]\nsleep = 1\ntimeout = 2",
                "`timeout` belongs to wait-leader",
            ),
            (
                "[[step]]\nwait-leader = \"a\"\n[[step]]\nwait-leader = \"a\"",
                "step 2: role `a` is named twice",
            ),
            ("[[step]]\nwait-leader = \"others\"", "role `others`"),
            (
                "[[step]]\ndelay = { links = \"n1-n2\", ms = 5 }",
                "link `n1-n2`",
            ),
            ("[[step]]\ndelay = { links = \"all\" }", "needs `ms`"),
            ("[[step]]\nloss = { links = \"all\", p = 2 }", "probability"),
            ("[[step]]\nheal = \"everything\"", "heal `everything`"),
            ("[[step]]\nsleep = -1", "0 to 3600"),
            ("[[step]]\ncut = [[\"n1\"]]", "expected two names"),
            ("repeat = 1\n[[step]]\nsleep = 1", "`repeat` must be"),
            ("[[step]]\nsleep = 1\n[oops]", "unknown key `oops`"),
            ("repeat = true", "no steps"),
            ("[[step", "not TOML"),
        ];
        for (text, want) in cases {
            let e = parse(text).unwrap_err();
            assert!(e.starts_with("s.toml: "), "{e}");
            assert!(e.contains(want), "{text:?}: {e} lacks {want}");
        }
        // A name that is neither a role bound earlier nor a node.
        let s = parse("[[step]]\nkill = \"new\"\n[[step]]\nwait-leader = \"new\"").unwrap();
        let e = s.check_nodes(&nodes()).unwrap_err().0;
        assert!(e.contains("step 1: `new` is neither a role"), "{e}");
    }

    #[test]
    fn roles_resolve_to_grudges_and_links() {
        let mut roles = Roles::default();
        roles.0.insert("old".into(), "n2".into());
        let n = nodes();
        assert_eq!(roles.resolve(&Who::Others, &n), vec!["n1", "n3"]);
        assert_eq!(roles.resolve(&Who::Role("old".into()), &n), vec!["n2"]);
        assert_eq!(
            roles.resolve(&Who::Role("unbound".into()), &n),
            Vec::<String>::new()
        );
        let g = roles.isolate(&Who::Role("old".into()), &n);
        assert_eq!(g["n2"].iter().collect::<Vec<_>>(), ["n1", "n3"]);
        assert_eq!(g["n1"].iter().collect::<Vec<_>>(), ["n2"]);
        let g = roles.cut(&[(Who::Node("n1".into()), Who::Node("n3".into()))], &n);
        assert_eq!(g.len(), 2);
        assert!(g["n1"].contains("n3") && g["n3"].contains("n1"));
        let c = LinkCondition {
            delay: Duration::from_millis(5),
            ..Default::default()
        };
        let l = roles.links(&[LinkPattern::Both(Who::Others, Who::Others)], c, &n);
        let keys: Vec<String> = l.keys().map(|(a, b)| format!("{a}>{b}")).collect();
        assert_eq!(keys, ["n1>n3", "n3>n1"]);
        assert_eq!(roles.links(&[LinkPattern::Every], c, &n).len(), 6);
    }

    #[test]
    fn the_bundled_example_scripts_parse() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/nemesis");
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "toml") {
                let s = Script::load(&path).unwrap_or_else(|e| panic!("{e}"));
                s.check_nodes(&nodes()).unwrap();
                seen += 1;
            }
        }
        assert_eq!(seen, BUNDLED.len(), "every example is bundled");
        for (name, text) in BUNDLED {
            let file = std::fs::read_to_string(dir.join(format!("{name}.toml"))).unwrap();
            assert_eq!(&file, text, "{name}");
            let s = Script::load(std::path::Path::new(name)).unwrap();
            assert_eq!(s.source, *name);
        }
        let e = Script::load(std::path::Path::new("no-such-script"))
            .unwrap_err()
            .0;
        assert!(
            e.contains("bundled scripts: paxos-forget-promise, raft-forget-vote"),
            "{e}"
        );
    }
}
