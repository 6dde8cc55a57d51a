//! Progress of a running test: phase, elapsed time, ops/s, ok/fail/info counts and the
//! faults active now. On a terminal an indicatif spinner line is redrawn every half second;
//! otherwise a plain line goes to stderr (and `harness.log`) every few seconds.

use super::journal::{Counts, Journal};
use crate::logging::RunLog;
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::BTreeSet;
use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Shared state the progress line shows; the runner updates the phase, the nemesis
/// callback the active faults.
#[derive(Clone)]
pub struct ProgressState {
    pub phase: Arc<Mutex<&'static str>>,
    pub faults: Arc<Mutex<BTreeSet<String>>>,
}

impl ProgressState {
    pub fn new() -> ProgressState {
        ProgressState {
            phase: Arc::new(Mutex::new("setup")),
            faults: Arc::new(Mutex::new(BTreeSet::new())),
        }
    }

    pub fn set_phase(&self, p: &'static str) {
        *self.phase.lock().unwrap_or_else(|e| e.into_inner()) = p;
    }

    fn phase(&self) -> &'static str {
        *self.phase.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Update the active faults from a nemesis event name and value.
    pub fn on_nemesis(&self, f: &str, value: &serde_json::Value) {
        let mut set = self.faults.lock().unwrap_or_else(|e| e.into_inner());
        let nodes = || -> Vec<String> {
            value
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        match f {
            "start-partition" => {
                set.insert("partition".into());
            }
            "stop-partition" => {
                set.remove("partition");
            }
            "pause" => set.extend(nodes().into_iter().map(|n| format!("pause:{n}"))),
            "resume" => nodes().iter().for_each(|n| {
                set.remove(&format!("pause:{n}"));
            }),
            "kill" => set.extend(nodes().into_iter().map(|n| format!("kill:{n}"))),
            "restart" => nodes().iter().for_each(|n| {
                set.remove(&format!("kill:{n}"));
            }),
            "start-clock" => {
                set.insert("clock".into());
            }
            "stop-clock" => {
                set.remove("clock");
            }
            _ => {}
        }
    }

    fn faults_text(&self) -> String {
        let set = self.faults.lock().unwrap_or_else(|e| e.into_inner());
        if set.is_empty() {
            "none".into()
        } else {
            set.iter().cloned().collect::<Vec<_>>().join(",")
        }
    }
}

impl Default for ProgressState {
    fn default() -> Self {
        ProgressState::new()
    }
}

/// One progress line.
pub fn line(phase: &str, elapsed: Duration, rate: f64, c: Counts, faults: &str) -> String {
    format!(
        "[{phase}] {:>6.1}s {:>8.0} ops/s  ok {} fail {} info {}  faults: {faults}",
        elapsed.as_secs_f64(),
        rate,
        c.ok,
        c.fail,
        c.info
    )
}

/// Run until aborted: redraw (TTY) or print (plain) the progress line.
pub async fn progress_loop(
    state: ProgressState,
    journal: Journal,
    log: Arc<RunLog>,
    start: Instant,
    plain_every: Duration,
) {
    let tty = std::io::stderr().is_terminal();
    let bar = tty.then(|| {
        let b = ProgressBar::new_spinner();
        b.set_style(
            ProgressStyle::with_template("{spinner} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        b
    });
    let every = if tty {
        Duration::from_millis(500)
    } else {
        plain_every
    };
    let mut last = (Instant::now(), 0u64);
    loop {
        tokio::time::sleep(every).await;
        let c = journal.counts();
        let done = c.ok + c.fail + c.info;
        let dt = last.0.elapsed().as_secs_f64().max(1e-3);
        let rate = (done.saturating_sub(last.1)) as f64 / dt;
        last = (Instant::now(), done);
        let text = line(
            state.phase(),
            start.elapsed(),
            rate,
            c,
            &state.faults_text(),
        );
        match &bar {
            Some(b) => {
                b.set_message(text);
                b.tick();
            }
            None => log.log(&text),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn faults_follow_nemesis_events() {
        let s = ProgressState::new();
        s.on_nemesis("start-partition", &json!({"n1": ["n2"]}));
        s.on_nemesis("pause", &json!(["n3"]));
        assert_eq!(s.faults_text(), "partition,pause:n3");
        s.on_nemesis("stop-partition", &serde_json::Value::Null);
        s.on_nemesis("resume", &json!(["n3"]));
        assert_eq!(s.faults_text(), "none");
        let l = line(
            "main",
            Duration::from_secs(3),
            1234.0,
            Counts {
                invoked: 5,
                ok: 3,
                fail: 1,
                info: 1,
            },
            "none",
        );
        assert!(
            l.contains("[main]") && l.contains("1234 ops/s") && l.contains("ok 3 fail 1 info 1")
        );
    }
}
