//! Where log lines go, a leaf module. [`RunLog`] is a run's `harness.log` (the runner's own
//! lines, echoed to the terminal as progress lines); [`install`] sets up the one `tracing`
//! subscriber of the binary, which writes every event that passes its `RUST_LOG`-style
//! filter (default [`DEFAULT_FILTER`]: info for the harness's own crates) into the
//! `harness.log` of the run in progress ([`route_to`]), and never to the terminal, except
//! warnings and errors raised while no run is in progress.

use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use time::OffsetDateTime;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::EnvFilter;

/// The filter when `RUST_LOG` is unset or invalid: info for the harness's own crates,
/// warnings from everything else.
pub const DEFAULT_FILTER: &str = "warn,harness=info,workloads=info,checker=info";

/// RFC 3339 text of `t` (what `harness.log` lines and `test.json`'s `start_time` carry).
pub fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| format!("@{}", t.unix_timestamp()))
}

/// A run's `harness.log`: timestamped lines, optionally echoed to stderr as `harness: ...`.
#[derive(Debug)]
pub struct RunLog {
    file: Mutex<File>,
    start: Instant,
    echo: bool,
}

impl RunLog {
    /// Append to `path` (created if missing); `echo`: also print each [`log`](Self::log)
    /// line on stderr.
    pub fn open(path: &Path, echo: bool) -> std::io::Result<RunLog> {
        let f = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(RunLog {
            file: Mutex::new(f),
            start: Instant::now(),
            echo,
        })
    }

    /// A runner line: into the file, and on stderr when echoing.
    pub fn log(&self, msg: &str) {
        self.write_line(msg);
        if self.echo {
            eprintln!("harness: {msg}");
        }
    }

    /// A line into the file only (tracing events).
    pub fn write_line(&self, msg: &str) {
        let line = format!(
            "{} +{:.3}s {}\n",
            rfc3339(OffsetDateTime::now_utc()),
            self.start.elapsed().as_secs_f64(),
            msg
        );
        let mut f = self.file.lock().unwrap_or_else(|p| p.into_inner());
        let _ = f.write_all(line.as_bytes());
    }
}

static CURRENT: Mutex<Option<Arc<RunLog>>> = Mutex::new(None);

fn current() -> Option<Arc<RunLog>> {
    CURRENT.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

/// Sends tracing events to `log` until the guard is dropped.
#[must_use = "events go to the run log only while the guard lives"]
pub struct RouteGuard(Arc<RunLog>);

impl Drop for RouteGuard {
    fn drop(&mut self) {
        let mut cur = CURRENT.lock().unwrap_or_else(|p| p.into_inner());
        if cur.as_ref().is_some_and(|c| Arc::ptr_eq(c, &self.0)) {
            *cur = None;
        }
    }
}

/// Routes tracing events into `log` (the run in progress) while the guard lives.
pub fn route_to(log: Arc<RunLog>) -> RouteGuard {
    *CURRENT.lock().unwrap_or_else(|p| p.into_inner()) = Some(log.clone());
    RouteGuard(log)
}

/// The filter from `RUST_LOG`, else [`DEFAULT_FILTER`].
pub fn filter_from_env() -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER))
}

/// Installs the binary's one subscriber: `filter`, then [`RunLogLayer`]. A second call
/// (a subscriber already set) does nothing.
pub fn install(filter: EnvFilter) {
    let subscriber = tracing_subscriber::registry()
        .with(filter)
        .with(RunLogLayer);
    let _ = tracing::subscriber::set_global_default(subscriber);
}

/// The layer that writes events into the current run's log.
pub struct RunLogLayer;

impl<S: Subscriber> Layer<S> for RunLogLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let meta = event.metadata();
        let mut fields = Fields::default();
        event.record(&mut fields);
        let line = format!("{} {}: {}", meta.level(), meta.target(), fields.text);
        match current() {
            Some(log) => log.write_line(&line),
            None if *meta.level() <= Level::WARN => eprintln!("harness: {line}"),
            None => {}
        }
    }
}

/// An event's message, then its other fields as ` key=value`.
#[derive(Default)]
struct Fields {
    text: String,
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let rest = std::mem::take(&mut self.text);
            let _ = write!(self.text, "{value:?}{rest}");
        } else {
            let _ = write!(self.text, " {}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            let rest = std::mem::take(&mut self.text);
            self.text = format!("{value}{rest}");
        } else {
            let _ = write!(self.text, " {}={value}", field.name());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_reach_the_current_run_log_through_the_filter() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("harness.log");
        let log = Arc::new(RunLog::open(&path, false).unwrap());
        let subscriber = tracing_subscriber::registry()
            .with(EnvFilter::new("warn,harness=info"))
            .with(RunLogLayer);
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!("before the run");
            {
                let _route = route_to(log.clone());
                tracing::info!(node = "n1", "net backend: proxy");
                tracing::debug!("too fine for the filter");
                tracing::warn!(target: "other_crate", "a warning of another crate");
                tracing::info!(target: "other_crate", "info of another crate");
            }
            tracing::info!("after the run");
        });
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.contains("INFO harness::logging::tests: net backend: proxy node=n1"),
            "{text}"
        );
        assert!(text.contains("WARN other_crate: a warning of another crate"));
        for absent in [
            "too fine",
            "info of another crate",
            "before the run",
            "after",
        ] {
            assert!(!text.contains(absent), "{absent} in {text}");
        }
        log.log("a runner line");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.lines().last().unwrap().ends_with(" a runner line"));
    }
}
