//! Link conditions as data, a leaf module: how one directed node-to-node link misbehaves
//! ([`LinkCondition`]: a loss probability, a delay and its jitter), a set of them per directed
//! link ([`LinkFaults`]), how a whole-run condition and several active faults combine, and how
//! they are written in the history ("n1→n2 30% loss"). The planner draws them, the cluster
//! combines them and the network backends apply them.

use std::collections::BTreeMap;
use std::time::Duration;

/// How one directed link `from -> to` misbehaves. The default is a healthy link.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LinkCondition {
    /// Probability in `[0, 1]` that a message (a packet in netns, a request chunk in proxy
    /// mode) on the link is lost.
    pub loss: f64,
    /// One-way delay added to what the link carries.
    pub delay: Duration,
    /// Each delay is drawn uniformly from `delay ± jitter` (never below zero).
    pub jitter: Duration,
    /// Probability that a message (a chunk in proxy mode) has one byte corrupted in flight
    /// (`--nemesis wire`; proxy only).
    pub corrupt: f64,
    /// Probability that a message (a chunk in proxy mode) is delivered twice (`--nemesis
    /// wire`; proxy only).
    pub duplicate: f64,
}

impl LinkCondition {
    pub fn is_healthy(&self) -> bool {
        self.loss <= 0.0
            && self.delay.is_zero()
            && self.jitter.is_zero()
            && self.corrupt <= 0.0
            && self.duplicate <= 0.0
    }

    /// Both conditions at once: losses are independent (a message survives only if it
    /// survives both), delays and jitters add.
    pub fn and(&self, other: &LinkCondition) -> LinkCondition {
        LinkCondition {
            loss: 1.0 - (1.0 - self.loss) * (1.0 - other.loss),
            delay: self.delay + other.delay,
            jitter: self.jitter + other.jitter,
            corrupt: 1.0 - (1.0 - self.corrupt) * (1.0 - other.corrupt),
            duplicate: 1.0 - (1.0 - self.duplicate) * (1.0 - other.duplicate),
        }
    }

    /// One delay drawn from `delay ± jitter`, `u` uniform in `[0, 1)`.
    pub fn draw_delay(&self, u: f64) -> Duration {
        let lo = self.delay.saturating_sub(self.jitter);
        let hi = self.delay + self.jitter;
        lo + (hi - lo).mul_f64(u.clamp(0.0, 1.0))
    }

    /// "30% loss", "50ms ±20ms delay", or both.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if self.loss > 0.0 {
            parts.push(format!("{}% loss", round2(self.loss * 100.0)));
        }
        if !self.delay.is_zero() || !self.jitter.is_zero() {
            let mut d = format!("{}ms", self.delay.as_millis());
            if !self.jitter.is_zero() {
                d.push_str(&format!(" ±{}ms", self.jitter.as_millis()));
            }
            parts.push(format!("{d} delay"));
        }
        if self.corrupt > 0.0 {
            parts.push(format!("{}% corrupted", round2(self.corrupt * 100.0)));
        }
        if self.duplicate > 0.0 {
            parts.push(format!("{}% duplicated", round2(self.duplicate * 100.0)));
        }
        if parts.is_empty() {
            "healthy".into()
        } else {
            parts.join(", ")
        }
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Conditions per directed link `(from, to)` (node names); links not named are healthy.
pub type LinkFaults = BTreeMap<(String, String), LinkCondition>;

/// The same condition on every directed link among `nodes`.
pub fn on_all_links(nodes: &[String], c: LinkCondition) -> LinkFaults {
    let mut out = LinkFaults::new();
    for a in nodes {
        for b in nodes {
            if a != b {
                out.insert((a.clone(), b.clone()), c);
            }
        }
    }
    out
}

/// The same condition on every link into and out of `node`.
pub fn on_links_of(node: &str, nodes: &[String], c: LinkCondition) -> LinkFaults {
    on_all_links(nodes, c)
        .into_iter()
        .filter(|((a, b), _)| a == node || b == node)
        .collect()
}

/// Every fault in `layers` on top of `base` (which applies to every link among `nodes`): the
/// condition each directed link has now. Healthy links are left out.
pub fn combine<'a>(
    nodes: &[String],
    base: LinkCondition,
    layers: impl IntoIterator<Item = &'a LinkFaults>,
) -> LinkFaults {
    let mut out = on_all_links(nodes, base);
    for layer in layers {
        for (link, c) in layer {
            let now = out.entry(link.clone()).or_default();
            *now = now.and(c);
        }
    }
    out.retain(|_, c| !c.is_healthy());
    out
}

/// The history value of a link fault: `{"links": ["n1→n2", ...], "loss": 0.3, "delay_ms":
/// 50, "jitter_ms": 20, "text": "n1→n2, n2→n1: 30% loss"}` (links grouped by condition; the
/// fields of the first group, which is the only one for planned faults).
pub fn history_value(faults: &LinkFaults) -> serde_json::Value {
    let mut groups: Vec<(LinkCondition, Vec<String>)> = Vec::new();
    for ((a, b), c) in faults {
        let name = format!("{a}→{b}");
        match groups.iter_mut().find(|(g, _)| g == c) {
            Some((_, v)) => v.push(name),
            None => groups.push((*c, vec![name])),
        }
    }
    let text: Vec<String> = groups
        .iter()
        .map(|(c, links)| format!("{}: {}", links.join(", "), c.describe()))
        .collect();
    let first = groups.first().map(|(c, _)| *c).unwrap_or_default();
    let links: Vec<String> = groups.iter().flat_map(|(_, l)| l.clone()).collect();
    serde_json::json!({
        "links": links,
        "loss": first.loss,
        "delay_ms": first.delay.as_millis() as u64,
        "jitter_ms": first.jitter.as_millis() as u64,
        "corrupt": first.corrupt,
        "duplicate": first.duplicate,
        "text": text.join("; "),
    })
}

/// Which links a `--nemesis loss` or `delay` fault hits (`--link-targets`), one drawn per
/// fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkTarget {
    /// Every directed node-to-node link.
    All,
    /// Every link into and out of one random node.
    One,
}

/// Parses `--link-targets` (`all,one`).
pub fn parse_link_targets(s: &str) -> Result<Vec<LinkTarget>, String> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let t = match part {
            "all" => LinkTarget::All,
            "one" => LinkTarget::One,
            other => return Err(format!("unknown link target `{other}` (all, one)")),
        };
        if !out.contains(&t) {
            out.push(t);
        }
    }
    if out.is_empty() {
        return Err("expected all, one or both".into());
    }
    Ok(out)
}

/// What `--nemesis loss` and `--nemesis delay` faults put on the links they hit.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkFaultOptions {
    /// Loss probabilities; each loss fault draws one.
    pub losses: Vec<f64>,
    /// The delay each delay fault adds, and its jitter.
    pub delay: Duration,
    pub jitter: Duration,
    /// Which links a fault hits, one drawn per fault.
    pub targets: Vec<LinkTarget>,
    /// What each `--nemesis wire` fault does to the messages on its links: corrupt one
    /// byte with this probability (`--corrupt`), deliver twice with that (`--duplicate`).
    pub corrupt: f64,
    pub duplicate: f64,
}

impl Default for LinkFaultOptions {
    fn default() -> Self {
        LinkFaultOptions {
            losses: vec![0.3],
            delay: Duration::from_millis(50),
            jitter: Duration::ZERO,
            targets: vec![LinkTarget::All, LinkTarget::One],
            corrupt: 0.2,
            duplicate: 0.1,
        }
    }
}

/// Parses a loss probability: `0.3` or `30%`, in `[0, 1]`.
pub fn parse_loss(s: &str) -> Result<f64, String> {
    let s = s.trim();
    let p = match s.strip_suffix('%') {
        Some(pct) => pct.trim().parse::<f64>().map(|v| v / 100.0),
        None => s.parse::<f64>(),
    }
    .map_err(|_| format!("`{s}`: expected a probability such as 0.3 or 30%"))?;
    if !(0.0..=1.0).contains(&p) {
        return Err(format!("`{s}`: a loss probability is between 0 and 1"));
    }
    Ok(p)
}

/// Parses a list of loss probabilities (`0.1,0.3`).
pub fn parse_loss_list(s: &str) -> Result<Vec<f64>, String> {
    let out: Vec<f64> = s
        .split(',')
        .filter(|p| !p.trim().is_empty())
        .map(parse_loss)
        .collect::<Result<_, _>>()?;
    if out.is_empty() {
        return Err("expected at least one loss probability".into());
    }
    Ok(out)
}

/// Parses a duration in milliseconds: `50`, `50ms`, `0.2s`; at most 10 s.
pub fn parse_millis(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let (num, scale) = if let Some(v) = t.strip_suffix("ms") {
        (v, 0.001)
    } else if let Some(v) = t.strip_suffix('s') {
        (v, 1.0)
    } else {
        (t, 0.001)
    };
    let v: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("`{t}`: expected milliseconds such as 50 or 50ms"))?;
    let secs = v * scale;
    if !(0.0..=10.0).contains(&secs) {
        return Err(format!("`{t}`: expected 0 to 10000 ms"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Parses `MS[,JITTER]` (`--link-delay 50,20`).
pub fn parse_delay_jitter(s: &str) -> Result<(Duration, Duration), String> {
    match s.split_once(',') {
        Some((d, j)) => Ok((parse_millis(d)?, parse_millis(j)?)),
        None => Ok((parse_millis(s)?, Duration::ZERO)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("n{i}")).collect()
    }

    #[test]
    fn conditions_combine_and_describe() {
        let a = LinkCondition {
            loss: 0.5,
            ..Default::default()
        };
        let b = LinkCondition {
            loss: 0.5,
            delay: Duration::from_millis(50),
            jitter: Duration::from_millis(20),
            ..Default::default()
        };
        let c = a.and(&b);
        assert!((c.loss - 0.75).abs() < 1e-9);
        assert_eq!(c.delay, Duration::from_millis(50));
        assert_eq!(c.describe(), "75% loss, 50ms ±20ms delay");
        assert_eq!(LinkCondition::default().describe(), "healthy");
        assert_eq!(b.draw_delay(0.0), Duration::from_millis(30));
        assert_eq!(b.draw_delay(1.0), Duration::from_millis(70));
        let small = LinkCondition {
            delay: Duration::from_millis(5),
            jitter: Duration::from_millis(20),
            loss: 0.0,
            ..Default::default()
        };
        let wire = LinkCondition {
            corrupt: 0.2,
            duplicate: 0.1,
            ..Default::default()
        };
        assert!(!wire.is_healthy());
        assert_eq!(wire.describe(), "20% corrupted, 10% duplicated");
        assert_eq!(
            history_value(&on_all_links(&names(2), wire))["corrupt"],
            0.2
        );
        assert_eq!(small.draw_delay(0.0), Duration::ZERO);
    }

    #[test]
    fn combine_layers_faults_on_the_whole_run_condition() {
        let nodes = names(3);
        assert!(combine(&nodes, LinkCondition::default(), []).is_empty());
        let loss = LinkCondition {
            loss: 0.3,
            ..Default::default()
        };
        let f = on_links_of("n2", &nodes, loss);
        assert_eq!(f.len(), 4);
        let base = LinkCondition {
            delay: Duration::from_millis(10),
            ..Default::default()
        };
        let all = combine(&nodes, base, [&f]);
        assert_eq!(all.len(), 6);
        assert_eq!(all[&("n1".into(), "n3".into())], base);
        assert_eq!(all[&("n1".into(), "n2".into())], base.and(&loss));
    }

    #[test]
    fn history_value_names_links_and_amount() {
        let mut f = LinkFaults::new();
        f.insert(
            ("n1".into(), "n2".into()),
            LinkCondition {
                loss: 0.3,
                ..Default::default()
            },
        );
        let v = history_value(&f);
        assert_eq!(v["links"][0], "n1→n2");
        assert_eq!(v["loss"], 0.3);
        assert_eq!(v["text"], "n1→n2: 30% loss");
    }

    #[test]
    fn parses_flags_with_clear_errors() {
        assert_eq!(parse_loss("30%").unwrap(), 0.3);
        assert_eq!(parse_loss_list("0.1, 0.3").unwrap(), vec![0.1, 0.3]);
        assert!(parse_loss("1.5").unwrap_err().contains("between 0 and 1"));
        assert!(parse_loss_list("").is_err());
        assert_eq!(parse_millis("50ms").unwrap(), Duration::from_millis(50));
        assert_eq!(parse_millis("0.2s").unwrap(), Duration::from_millis(200));
        assert!(parse_millis("20000").is_err());
        assert!(parse_millis("fast").unwrap_err().contains("`fast`"));
        assert_eq!(
            parse_delay_jitter("50,20").unwrap(),
            (Duration::from_millis(50), Duration::from_millis(20))
        );
    }
}
