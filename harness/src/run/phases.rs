//! Wall times of a run's phases (docs/design.md, "Results store"): setup (binaries, run folder,
//! `test.json`, journal), start (cluster up and ready), main, heal, recovery, final reads,
//! teardown (nodes stopped), check (the history file completed, then checked), report. The runner records each phase as it ends
//! ([`PhaseTimes::done`] also writes a `harness.log` line); `results.json` gets them as
//! `"phases": {"setup_ms": .., ..., "total_ms": ..}` (plus the older `"phases_ms"` object,
//! kept with its original names and phases).

use crate::logging::RunLog;
use serde_json::{json, Map, Value};
use std::time::{Duration, Instant};

/// Every phase name, in the order a run goes through them.
pub const PHASES: [&str; 9] = [
    "setup",
    "start",
    "main",
    "heal",
    "recovery",
    "final_reads",
    "teardown",
    "check",
    "report",
];

/// The phases measured so far, in order, and the run's start.
#[derive(Debug, Clone)]
pub struct PhaseTimes {
    started: Instant,
    done: Vec<(&'static str, Duration)>,
}

impl PhaseTimes {
    /// Time zero of the run (the `total_ms` counts from here).
    pub fn new(started: Instant) -> PhaseTimes {
        PhaseTimes {
            started,
            done: Vec::new(),
        }
    }

    /// Phase `name` (one of [`PHASES`]) took `took`; logged as `phase NAME: X ms`.
    pub fn done(&mut self, name: &'static str, took: Duration, log: &RunLog) {
        debug_assert!(PHASES.contains(&name), "unknown phase {name}");
        log.log(&format!("phase {name}: {:.1} ms", ms(took)));
        self.done.push((name, took));
    }

    /// Phase `name` began at `since` and ends now.
    pub fn done_since(&mut self, name: &'static str, since: Instant, log: &RunLog) {
        self.done(name, since.elapsed(), log);
    }

    /// `{"setup_ms": .., "start_ms": .., ..., "total_ms": ..}` (milliseconds, fractional).
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        for (name, took) in &self.done {
            m.insert(format!("{name}_ms"), json!(ms(*took)));
        }
        m.insert("total_ms".into(), json!(ms(self.started.elapsed())));
        Value::Object(m)
    }

    /// The older `phases_ms` object: `setup` meant the cluster start, `final-reads` had a
    /// dash, and the setup before the cluster and the report were not in it.
    pub fn legacy_json(&self) -> Value {
        let mut m = Map::new();
        for (name, took) in &self.done {
            let legacy = match *name {
                "start" => "setup",
                "final_reads" => "final-reads",
                "setup" | "report" => continue,
                other => other,
            };
            m.insert(legacy.into(), json!(ms(*took)));
        }
        Value::Object(m)
    }

    /// One line: `setup 4 ms, start 452 ms, ...`.
    pub fn summary(&self) -> String {
        self.done
            .iter()
            .map(|(n, d)| format!("{n} {:.0} ms", ms(*d)))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_in_order_with_total_and_the_legacy_names() {
        let dir = tempfile::tempdir().unwrap();
        let log = RunLog::open(&dir.path().join("harness.log"), false).unwrap();
        let mut p = PhaseTimes::new(Instant::now());
        for (i, name) in PHASES.iter().enumerate() {
            p.done(name, Duration::from_millis(i as u64), &log);
        }
        let j = p.to_json();
        for (i, name) in PHASES.iter().enumerate() {
            assert_eq!(j[format!("{name}_ms")], json!(i as f64));
        }
        assert!(j["total_ms"].as_f64().unwrap() >= 0.0);
        let legacy = p.legacy_json();
        let keys: Vec<&String> = legacy.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            [
                "check",
                "final-reads",
                "heal",
                "main",
                "recovery",
                "setup",
                "teardown"
            ]
        );
        assert_eq!(legacy["setup"], json!(1.0), "legacy setup = cluster start");
        let text = std::fs::read_to_string(dir.path().join("harness.log")).unwrap();
        let at = |s: &str| text.find(s).unwrap();
        assert!(at("phase setup:") < at("phase start:"));
        assert!(at("phase check:") < at("phase report:"));
        assert_eq!(
            p.summary().split(", ").count(),
            PHASES.len(),
            "{}",
            p.summary()
        );
    }
}
