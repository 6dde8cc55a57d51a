//! Per-node faked clocks for the clock nemesis, without touching the host's clock: every node
//! of a run with `--nemesis clock` is started with libfaketime preloaded and its own control
//! file (`run_dir/nodes/<name>/faketime`), which this module rewrites to skew a node's clock,
//! change its rate, strobe it, and reset it (docs/libfaketime.md has what was measured).
//!
//! libfaketime reads a relative spec `+O xR` as `fake(t) = S + (t − S)·R + O`, where `S` is
//! when the process started (measured: a rate change alone makes the clock jump by
//! `(t − S)·(R − 1)`, and a rate stays until a spec says `x1`). The pure part,
//! [`ClockState`] and [`control_line`], keeps a node's clock continuous across rate changes
//! by folding the elapsed time into the offset; the impure part, [`Clocks`], writes the
//! files, sets the environment of a spawned node and runs strobes on a thread per node.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Where Debian's `libfaketime` package puts the preload library.
pub const DEFAULT_LIBFAKETIME: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";
/// Overrides [`DEFAULT_LIBFAKETIME`].
pub const LIBFAKETIME_ENV: &str = "HARNESS_LIBFAKETIME";
/// The control file's name in a node's folder.
pub const CONTROL_FILE: &str = "faketime";

/// The preload library: `$HARNESS_LIBFAKETIME`, else Debian's path; an error saying how to
/// install it when it is not there.
pub fn locate_libfaketime() -> Result<PathBuf, String> {
    let path = std::env::var_os(LIBFAKETIME_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_LIBFAKETIME));
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!(
            "--nemesis clock needs libfaketime, not found at {} (install Debian's `libfaketime` \
             package, e.g. by `bash scripts/setup.sh`, or set {LIBFAKETIME_ENV})",
            path.display()
        ))
    }
}

/// A node's clock as an offset from real time that may grow at a rate:
/// `offset(t) = base + (t − since)·(rate − 1)` seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClockState {
    pub base: f64,
    pub rate: f64,
    pub since: Instant,
}

impl ClockState {
    /// Real time.
    pub fn real(now: Instant) -> Self {
        ClockState {
            base: 0.0,
            rate: 1.0,
            since: now,
        }
    }

    /// The offset from real time at `t`, in seconds.
    pub fn offset_at(&self, t: Instant) -> f64 {
        self.base + signed_secs(t, self.since) * (self.rate - 1.0)
    }

    /// The clock jumped by `secs` at `now` (ahead if positive), keeping its rate.
    pub fn bumped(&self, secs: f64, now: Instant) -> Self {
        ClockState {
            base: self.offset_at(now) + secs,
            rate: self.rate,
            since: now,
        }
    }

    /// The clock runs at `rate` from `now` on, without a jump.
    pub fn with_rate(&self, rate: f64, now: Instant) -> Self {
        ClockState {
            base: self.offset_at(now),
            rate,
            since: now,
        }
    }
}

/// `a − b` in seconds, negative when `a` is earlier.
fn signed_secs(a: Instant, b: Instant) -> f64 {
    match a.checked_duration_since(b) {
        Some(d) => d.as_secs_f64(),
        None => -b.duration_since(a).as_secs_f64(),
    }
}

/// The libfaketime spec that gives a process started at `started` the clock `state`:
/// `O = base + (started − since)·(rate − 1)` (so `S + (t − S)·rate + O` = `t + offset(t)`).
pub fn control_line(state: &ClockState, started: Instant) -> String {
    let o = state.base + signed_secs(started, state.since) * (state.rate - 1.0);
    format!("{o:+.6} x{:.6}\n", state.rate)
}

/// One node's faked clock: its control file, its state, when its process started, and the
/// strobe running on it, if any.
struct NodeClock {
    file: PathBuf,
    state: ClockState,
    started: Instant,
    strobe: Option<Strobe>,
}

struct Strobe {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

/// The faked clocks of a cluster's nodes (by node name).
pub struct Clocks {
    lib: PathBuf,
    nodes: Mutex<BTreeMap<String, Arc<Mutex<NodeClock>>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn write_line(file: &Path, line: &str) -> std::io::Result<()> {
    // Written whole to a temporary file and renamed, so a node never reads half a spec.
    let tmp = file.with_extension("tmp");
    std::fs::write(&tmp, line)?;
    std::fs::rename(&tmp, file)
}

impl Clocks {
    pub fn new(lib: PathBuf) -> Self {
        Clocks {
            lib,
            nodes: Mutex::new(BTreeMap::new()),
        }
    }

    fn node(&self, name: &str) -> Option<Arc<Mutex<NodeClock>>> {
        lock(&self.nodes).get(name).cloned()
    }

    /// Before `cmd` starts node `name` (whose folder is `dir`): writes its control file for a
    /// process starting now (real time for a new node; the current skew and rate for a
    /// restarted one) and sets the preload environment.
    pub fn prepare(&self, name: &str, dir: &Path, cmd: &mut Command) -> std::io::Result<()> {
        let now = Instant::now();
        let node = self.node(name).unwrap_or_else(|| {
            let n = Arc::new(Mutex::new(NodeClock {
                file: dir.join(CONTROL_FILE),
                state: ClockState::real(now),
                started: now,
                strobe: None,
            }));
            lock(&self.nodes).insert(name.to_string(), n.clone());
            n
        });
        let mut n = lock(&node);
        n.started = now;
        write_line(&n.file, &control_line(&n.state, now))?;
        cmd.env("LD_PRELOAD", &self.lib)
            .env("FAKETIME_TIMESTAMP_FILE", &n.file)
            // Re-read on every clock call, so a rewrite takes effect at once.
            .env("FAKETIME_NO_CACHE", "1");
        Ok(())
    }

    /// Runs `f` on node `name`'s clock state at `now` and writes the result.
    fn change(
        &self,
        name: &str,
        f: impl FnOnce(&ClockState, Instant) -> ClockState,
    ) -> std::io::Result<()> {
        let node = self.node(name).ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("{name} was not started with a faked clock"),
            )
        })?;
        let mut n = lock(&node);
        let now = Instant::now();
        n.state = f(&n.state, now);
        write_line(&n.file, &control_line(&n.state, n.started))
    }

    /// Node `name`'s clock jumps by `secs` (ahead if positive).
    pub fn bump(&self, name: &str, secs: f64) -> std::io::Result<()> {
        self.change(name, |s, now| s.bumped(secs, now))
    }

    /// Node `name`'s clock runs at `rate` (2 = twice as fast) from now on.
    pub fn set_rate(&self, name: &str, rate: f64) -> std::io::Result<()> {
        self.change(name, |s, now| s.with_rate(rate, now))
    }

    /// Node `name`'s clock flips between its current time and `delta` seconds off it every
    /// `period`, on a thread of its own, until [`reset`](Self::reset).
    pub fn strobe(&self, name: &str, delta: f64, period: Duration) -> std::io::Result<()> {
        self.stop_strobe(name);
        let node = self.node(name).ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::NotFound, format!("{name}: no clock"))
        })?;
        let stop = Arc::new(AtomicBool::new(false));
        let (node2, stop2) = (node.clone(), stop.clone());
        let thread = std::thread::Builder::new()
            .name(format!("strobe-{name}"))
            .spawn(move || {
                let mut off = false;
                while !stop2.load(Ordering::SeqCst) {
                    off = !off;
                    {
                        let n = lock(&node2);
                        let shown = if off { delta } else { 0.0 };
                        let state = n.state.bumped(shown, Instant::now());
                        let _ = write_line(&n.file, &control_line(&state, n.started));
                    }
                    std::thread::sleep(period);
                }
            })?;
        lock(&node).strobe = Some(Strobe { stop, thread });
        Ok(())
    }

    fn stop_strobe(&self, name: &str) {
        let Some(node) = self.node(name) else { return };
        let strobe = lock(&node).strobe.take();
        if let Some(s) = strobe {
            s.stop.store(true, Ordering::SeqCst);
            let _ = s.thread.join();
        }
    }

    /// Node `name`'s clock back to real time (any strobe stopped first).
    pub fn reset(&self, name: &str) -> std::io::Result<()> {
        self.stop_strobe(name);
        self.change(name, |_, now| ClockState::real(now))
    }

    /// Every strobe stopped and every control file removed (after the nodes are gone).
    pub fn remove_all(&self) {
        let names: Vec<String> = lock(&self.nodes).keys().cloned().collect();
        for name in &names {
            self.stop_strobe(name);
        }
        for (_, node) in std::mem::take(&mut *lock(&self.nodes)) {
            let n = lock(&node);
            let _ = std::fs::remove_file(&n.file);
            let _ = std::fs::remove_file(n.file.with_extension("tmp"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What libfaketime shows a process started at `s` with `line`, at `t`, minus real time.
    fn shown_offset(line: &str, s: Instant, t: Instant) -> f64 {
        let mut parts = line.split_whitespace();
        let o: f64 = parts.next().unwrap().parse().unwrap();
        let r: f64 = parts
            .next()
            .unwrap()
            .trim_start_matches('x')
            .parse()
            .unwrap();
        // fake(t) − t = (t − S)(R − 1) + O
        signed_secs(t, s) * (r - 1.0) + o
    }

    #[test]
    fn the_spec_gives_the_process_the_state_whenever_it_started() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let real = ClockState::real(at(0));
        assert_eq!(control_line(&real, at(0)), "+0.000000 x1.000000\n");
        // Runs twice as fast from 1 s; the process started at 0 (and at 5 s, restarted).
        let fast = real.with_rate(2.0, at(1000));
        for started in [at(0), at(5000)] {
            let line = control_line(&fast, started);
            for t in [1000, 3000, 9000] {
                let want = fast.offset_at(at(t));
                let got = shown_offset(&line, started, at(t));
                assert!((want - got).abs() < 1e-6, "{line} at {t}: {got} vs {want}");
            }
        }
        // No jump at the rate change; +2 s after 2 more seconds.
        assert!(fast.offset_at(at(1000)).abs() < 1e-9);
        assert!((fast.offset_at(at(3000)) - 2.0).abs() < 1e-9);
        // A bump keeps the rate and adds to the drift so far.
        let bumped = fast.bumped(-4.5, at(3000));
        assert!((bumped.offset_at(at(3000)) + 2.5).abs() < 1e-9);
        assert!((bumped.offset_at(at(4000)) + 1.5).abs() < 1e-9);
        // Slow: half speed loses half a second per second.
        let slow = real.with_rate(0.5, at(0));
        assert!((slow.offset_at(at(2000)) + 1.0).abs() < 1e-9);
    }

    #[test]
    fn control_files_are_written_reset_and_removed() {
        let dir = std::env::temp_dir().join(format!("h16-clock-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let clocks = Clocks::new(PathBuf::from("/nonexistent/libfaketime.so.1"));
        let mut cmd = Command::new("true");
        clocks.prepare("n1", &dir, &mut cmd).unwrap();
        let envs: BTreeMap<_, _> = cmd
            .get_envs()
            .map(|(k, v)| (k.to_owned(), v.map(|v| v.to_owned())))
            .collect();
        assert!(envs.contains_key(std::ffi::OsStr::new("LD_PRELOAD")));
        let file = dir.join(CONTROL_FILE);
        let read = || std::fs::read_to_string(&file).unwrap();
        assert_eq!(read(), "+0.000000 x1.000000\n");
        clocks.bump("n1", 4.2).unwrap();
        assert!(read().starts_with("+4.2"), "{}", read());
        clocks.set_rate("n1", 2.0).unwrap();
        assert!(read().ends_with("x2.000000\n"), "{}", read());
        clocks.strobe("n1", -3.0, Duration::from_millis(5)).unwrap();
        std::thread::sleep(Duration::from_millis(30));
        clocks.reset("n1").unwrap();
        assert_eq!(read(), "+0.000000 x1.000000\n");
        assert!(clocks.bump("n9", 1.0).is_err(), "unknown node");
        clocks.remove_all();
        assert!(!file.exists());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
