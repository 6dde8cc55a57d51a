//! The phases of a run in history time (main, heal, recovery, final reads), derived from
//! the phase durations the runner writes to `results.json` (`"phases": {"main_ms": ..,
//! "heal_ms": .., "recovery_ms": .., "final_reads_ms": ..}`), anchored at the first client
//! invocation (the workers start with the main phase). A history without them (imported
//! files, older runs) has no phases.

use serde_json::Value;

/// One phase, as history times in nanoseconds.
#[derive(Debug, Clone, PartialEq)]
pub struct Phase {
    /// `main`, `heal`, `recovery`, `final reads`.
    pub name: &'static str,
    /// What happens in it, for the page.
    pub what: &'static str,
    pub start_ns: i64,
    pub end_ns: i64,
}

/// The phases that happen while the history is recorded, with their `results.json` keys.
const TABLE: [(&str, &str, &str); 4] = [
    (
        "main",
        "main_ms",
        "clients run operations while the nemesis injects faults",
    ),
    (
        "heal",
        "heal_ms",
        "every fault still active is removed (partitions healed, paused nodes resumed, killed nodes restarted)",
    ),
    (
        "recovery",
        "recovery_ms",
        "no operations: the cluster has time to elect a leader and catch up (--recovery-time)",
    ),
    (
        "final reads",
        "final_reads_ms",
        "every key is read on every node, so a lost or divergent write shows in the last state",
    ),
];

/// The phases of `results` starting at `main_start_ns`; empty when results.json has no
/// main phase duration.
pub fn phases(results: &Value, main_start_ns: Option<i64>) -> Vec<Phase> {
    let (Some(p), Some(mut t)) = (results.get("phases"), main_start_ns) else {
        return Vec::new();
    };
    if p.get("main_ms").and_then(Value::as_f64).is_none() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for (name, key, what) in TABLE {
        let Some(ms) = p.get(key).and_then(Value::as_f64) else {
            break;
        };
        let ns = (ms * 1e6).round() as i64;
        out.push(Phase {
            name,
            what,
            start_ns: t,
            end_ns: t + ns,
        });
        t += ns;
    }
    out
}

/// When the recovery started (the main phase and the heal are over), if known.
pub fn recovery_start(phases: &[Phase]) -> Option<i64> {
    phases
        .iter()
        .find(|p| p.name == "recovery")
        .map(|p| p.start_ns)
}

/// When the final reads started, if known.
pub fn final_reads_start(phases: &[Phase]) -> Option<i64> {
    phases
        .iter()
        .find(|p| p.name == "final reads")
        .map(|p| p.start_ns)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn phases_follow_each_other_from_the_first_invocation() {
        let r = json!({"phases": {"setup_ms": 7.0, "start_ms": 400.0, "main_ms": 30000.0,
            "heal_ms": 20.0, "recovery_ms": 5000.0, "final_reads_ms": 560.5}});
        let p = phases(&r, Some(400_000_000));
        let names: Vec<&str> = p.iter().map(|p| p.name).collect();
        assert_eq!(names, vec!["main", "heal", "recovery", "final reads"]);
        assert_eq!((p[0].start_ns, p[0].end_ns), (400_000_000, 30_400_000_000));
        assert_eq!(
            p[3].end_ns,
            30_400_000_000 + 20_000_000 + 5_000_000_000 + 560_500_000
        );
        assert_eq!(final_reads_start(&p), Some(35_420_000_000));
        assert!(phases(&json!({}), Some(0)).is_empty());
        assert!(phases(&r, None).is_empty());
    }
}
