//! Guaranteed cleanup of what a run creates: the `cleanup.json` manifest (written to the run's
//! folder and to a state directory before anything is created, so a SIGKILLed harness leaves a
//! record), the synchronous teardown of a start that failed half-way, and [`clean_leftovers`] behind
//! `harness clean` (manifests plus a scan by name prefix of namespaces, links and processes
//! whose environment carries `HARNESS_RUN=<prefix>`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::Pid;

use super::error::ClusterError;
use super::net::netns::{self, NetnsNames};
use super::process::{OWNER_ENV, RUN_ENV};
use crate::pathio::PathError;

/// What `harness clean` removed (or would remove, in a dry run).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct CleanReport {
    /// `pid cmdline` of each process killed.
    pub processes: Vec<String>,
    pub namespaces: Vec<String>,
    pub links: Vec<String>,
    /// Manifest files removed from the state directory.
    pub manifests: Vec<String>,
    /// Run prefixes whose harness is still alive, left alone.
    pub skipped_live: Vec<String>,
}

/// The record of a run's resources (`cleanup.json`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Manifest {
    pub prefix: String,
    pub harness_pid: u32,
    /// The harness process's start time (field 22 of `/proc/<pid>/stat`), to tell a live
    /// harness from a reused pid.
    pub harness_start: u64,
    pub run_dir: PathBuf,
    pub net: String,
    pub namespaces: Vec<String>,
    pub links: Vec<String>,
    /// Node process ids (updated on restart).
    pub pids: Vec<i32>,
    /// True once the run tore everything down itself.
    pub cleaned: bool,
}

/// A fresh run prefix: `hx` + 6 lowercase alphanumerics.
pub fn new_run_prefix() -> String {
    use rand::Rng;
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::thread_rng();
    let tail: String = (0..6)
        .map(|_| CHARS[rng.gen_range(0..CHARS.len())] as char)
        .collect();
    format!("hx{tail}")
}

/// Whether `p` is usable as a run prefix: 2..=8 chars of `[a-z0-9]`, starting with a letter.
pub fn valid_prefix(p: &str) -> bool {
    (2..=8).contains(&p.len())
        && p.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && p.as_bytes()[0].is_ascii_lowercase()
}

/// Where manifests of live runs are kept, per user (a folder shared between users would be
/// owned by whoever created it first): `$HARNESS_STATE_DIR`, else
/// `$XDG_RUNTIME_DIR/harness-runs`, else `<tmp>/harness-runs-<uid>`.
pub fn state_dir() -> PathBuf {
    state_dir_from(
        std::env::var_os("HARNESS_STATE_DIR"),
        std::env::var_os("XDG_RUNTIME_DIR"),
        nix::unistd::getuid().as_raw(),
    )
}

fn state_dir_from(
    explicit: Option<std::ffi::OsString>,
    runtime: Option<std::ffi::OsString>,
    uid: u32,
) -> PathBuf {
    let nonempty = |v: Option<std::ffi::OsString>| v.filter(|s| !s.is_empty());
    if let Some(dir) = nonempty(explicit) {
        return PathBuf::from(dir);
    }
    match nonempty(runtime) {
        Some(rt) => PathBuf::from(rt).join("harness-runs"),
        None => std::env::temp_dir().join(format!("harness-runs-{uid}")),
    }
}

#[cfg(test)]
mod state_dir_tests {
    use super::*;

    #[test]
    fn the_state_dir_is_per_user() {
        let d = state_dir_from(None, None, 1234);
        assert!(d.ends_with("harness-runs-1234"), "{}", d.display());
        let d = state_dir_from(None, Some("/run/user/1234".into()), 1234);
        assert_eq!(d, PathBuf::from("/run/user/1234/harness-runs"));
        let d = state_dir_from(Some("/x".into()), Some("/run/user/1".into()), 1);
        assert_eq!(d, PathBuf::from("/x"));
        let d = state_dir_from(Some("".into()), Some("".into()), 7);
        assert!(d.ends_with("harness-runs-7"), "{}", d.display());
    }
}

fn proc_start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces; fields after the last ')' are fixed.
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// This harness process's (pid, start time).
pub fn self_identity() -> (u32, u64) {
    let pid = std::process::id();
    (pid, proc_start_time(pid).unwrap_or(0))
}

fn harness_alive(pid: u32, start: u64) -> bool {
    match proc_start_time(pid) {
        Some(s) => start == 0 || s == start,
        None => false,
    }
}

impl Manifest {
    fn write_to(&self, path: &Path) -> Result<(), ClusterError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(PathError::at("creating", dir))?;
        }
        let tmp = path.with_extension("json.tmp");
        let text = serde_json::to_string_pretty(self)
            .map_err(|e| PathError::new("writing", path, std::io::Error::other(e)))?;
        std::fs::write(&tmp, text).map_err(PathError::at("writing", &tmp))?;
        std::fs::rename(&tmp, path).map_err(PathError::at("writing", path))?;
        Ok(())
    }

    /// Writes `run_dir/cleanup.json` and, unless cleaned, the state-directory copy (removes it
    /// once cleaned).
    pub fn save(&self) -> Result<(), ClusterError> {
        self.write_to(&self.run_dir.join("cleanup.json"))?;
        let state = state_dir().join(format!("{}.json", self.prefix));
        if self.cleaned {
            match std::fs::remove_file(&state) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(PathError::new("removing", &state, e).into())
                }
                _ => {}
            }
            Ok(())
        } else {
            self.write_to(&state)
        }
    }
}

/// What a synchronous teardown of a cluster needs (a start that failed half-way).
#[derive(Debug, Clone)]
pub struct LiveRun {
    pub manifest: Manifest,
    pub netns: Option<NetnsNames>,
}

/// Kills the node process groups, deletes the namespaces and links of `run`, marks the
/// manifest cleaned. Synchronous, best effort; returns the first error.
pub fn teardown_sync(run: &LiveRun) -> Result<(), ClusterError> {
    for pid in &run.manifest.pids {
        let _ = killpg(Pid::from_raw(*pid), Signal::SIGKILL);
        let _ = killpg(Pid::from_raw(*pid), Signal::SIGCONT);
    }
    let mut result = Ok(());
    if let Some(names) = &run.netns {
        result = netns::teardown_names(names);
    }
    let mut m = run.manifest.clone();
    m.cleaned = result.is_ok();
    let _ = m.save();
    result
}

/// Splits a resource name `<prefix>-<suffix>` into its run prefix when the suffix is one the
/// harness uses (`sw`, `h`, `n<digits>`) and the prefix is valid.
fn run_prefix_of(name: &str) -> Option<&str> {
    let (p, suffix) = name.rsplit_once('-')?;
    let ours = suffix == "sw"
        || suffix == "h"
        || (suffix.len() > 1
            && suffix.starts_with('n')
            && suffix[1..].bytes().all(|b| b.is_ascii_digit()));
    (ours && valid_prefix(p)).then_some(p)
}

/// Processes whose environment carries `HARNESS_RUN=<p>`: (pid, p, owner pid, cmdline).
fn marked_processes() -> Vec<(i32, String, Option<u32>, String)> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return out;
    };
    let me = std::process::id() as i32;
    for e in rd.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(env) = std::fs::read(format!("/proc/{pid}/environ")) else {
            continue;
        };
        let mut run = None;
        let mut owner = None;
        for var in env.split(|b| *b == 0) {
            let var = String::from_utf8_lossy(var);
            if let Some(v) = var.strip_prefix(&format!("{RUN_ENV}=")) {
                run = Some(v.to_string());
            } else if let Some(v) = var.strip_prefix(&format!("{OWNER_ENV}=")) {
                owner = v.parse().ok();
            }
        }
        if let Some(run) = run {
            let cmd = std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| {
                    String::from_utf8_lossy(&c)
                        .split('\0')
                        .filter(|s| !s.is_empty())
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .unwrap_or_default();
            out.push((pid, run, owner, cmd));
        }
    }
    out
}

/// Removes leftovers of dead runs whose prefix starts with `prefix` (use `"hx"` for every
/// run): node processes (found by `HARNESS_RUN` in their environment), namespaces
/// (`<p>-sw`, `<p>-n<i>`), host links (`<p>-h`), and stale manifests. Runs whose harness is
/// still alive are left alone and listed in `skipped_live`. With `dry_run`, only reports.
pub fn clean_leftovers(prefix: &str, dry_run: bool) -> Result<CleanReport, ClusterError> {
    clean(prefix, dry_run, false)
}

/// Like [`clean_leftovers`], but also removes the resources of runs whose harness is alive
/// (`harness clean --force`; test guards use it on their own prefix).
pub fn clean_forced(prefix: &str, dry_run: bool) -> Result<CleanReport, ClusterError> {
    clean(prefix, dry_run, true)
}

/// The manifests in the state directory whose prefix starts with `prefix`: the prefixes of
/// runs whose harness is alive (unless `force`), and the manifests of the others.
fn scan_manifests(prefix: &str, force: bool) -> (BTreeSet<String>, Vec<(PathBuf, Manifest)>) {
    let mut live_prefixes = BTreeSet::new();
    let mut dead_manifests = Vec::new();
    let Ok(rd) = std::fs::read_dir(state_dir()) else {
        return (live_prefixes, dead_manifests);
    };
    for e in rd.flatten() {
        let path = e.path();
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let Ok(m) = serde_json::from_str::<Manifest>(&text) else {
            continue;
        };
        if !m.prefix.starts_with(prefix) {
            continue;
        }
        if !force && harness_alive(m.harness_pid, m.harness_start) {
            live_prefixes.insert(m.prefix.clone());
        } else {
            dead_manifests.push((path, m));
        }
    }
    (live_prefixes, dead_manifests)
}

/// `ip netns del NS`.
fn delete_namespace(ns: &str) -> Result<(), ClusterError> {
    let o = std::process::Command::new("ip")
        .args(["netns", "del", ns])
        .output()
        .map_err(|e| ClusterError::Net(format!("cannot run `ip netns del {ns}`: {e}")))?;
    if o.status.success() {
        return Ok(());
    }
    Err(ClusterError::Net(format!(
        "ip netns del {ns}: {}",
        String::from_utf8_lossy(&o.stderr).trim()
    )))
}

fn clean(prefix: &str, dry_run: bool, force: bool) -> Result<CleanReport, ClusterError> {
    let mut report = CleanReport::default();
    let (mut live_prefixes, dead_manifests) = scan_manifests(prefix, force);
    let procs = marked_processes();
    for (_, run, owner, _) in &procs {
        if let Some(owner) = owner {
            if !force && proc_start_time(*owner).is_some() {
                live_prefixes.insert(run.clone());
            }
        }
    }
    report.skipped_live = live_prefixes
        .iter()
        .filter(|p| p.starts_with(prefix))
        .cloned()
        .collect();
    let is_target = |p: &str| p.starts_with(prefix) && !live_prefixes.contains(p);

    let mut first_err: Option<ClusterError> = None;
    for (pid, run, _, cmd) in &procs {
        if is_target(run) {
            report.processes.push(format!("{pid} {cmd}"));
            if !dry_run {
                let _ = kill(Pid::from_raw(*pid), Signal::SIGKILL);
                let _ = kill(Pid::from_raw(*pid), Signal::SIGCONT);
            }
        }
    }
    for ns in netns::list_namespaces() {
        if run_prefix_of(&ns).is_some_and(is_target) {
            report.namespaces.push(ns.clone());
            if !dry_run {
                if let Err(e) = delete_namespace(&ns) {
                    first_err.get_or_insert(e);
                }
            }
        }
    }
    for link in netns::list_links() {
        if run_prefix_of(&link).is_some_and(is_target) {
            report.links.push(link.clone());
            if !dry_run {
                let out = std::process::Command::new("ip")
                    .args(["link", "del", &link])
                    .output();
                if let Ok(o) = out {
                    // Deleting the peer (inside a removed namespace) may already have removed it.
                    if !o.status.success() && netns::list_links().contains(&link) {
                        first_err.get_or_insert(ClusterError::Net(format!(
                            "ip link del {link}: {}",
                            String::from_utf8_lossy(&o.stderr).trim()
                        )));
                    }
                }
            }
        }
    }
    for (path, m) in dead_manifests {
        report.manifests.push(path.display().to_string());
        if !dry_run {
            let _ = std::fs::remove_file(&path);
            let mut m = m;
            m.cleaned = true;
            let _ = m.write_to(&m.run_dir.join("cleanup.json"));
        }
    }
    match first_err {
        Some(e) => Err(e),
        None => Ok(report),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_only_harness_resource_names() {
        assert_eq!(run_prefix_of("hxab12cd-sw"), Some("hxab12cd"));
        assert_eq!(run_prefix_of("hxab12cd-n3"), Some("hxab12cd"));
        assert_eq!(run_prefix_of("hxab12cd-h"), Some("hxab12cd"));
        assert_eq!(run_prefix_of("hxab12cd-eth"), None);
        assert_eq!(run_prefix_of("docker0"), None);
        assert_eq!(run_prefix_of("Hx-n1"), None);
        assert_eq!(run_prefix_of("hxab12cd-n"), None);
    }

    #[test]
    fn prefixes_are_short_and_valid() {
        for _ in 0..20 {
            let p = new_run_prefix();
            assert!(valid_prefix(&p), "{p}");
            assert!(p.len() + "-sw".len() <= 15);
        }
        assert!(!valid_prefix("HX"));
        assert!(!valid_prefix("hx-1"));
        assert!(!valid_prefix("hxabcdefgh"));
    }

    #[test]
    fn own_process_start_time_is_readable() {
        let (pid, start) = self_identity();
        assert_eq!(pid, std::process::id());
        assert!(start > 0);
        assert!(harness_alive(pid, start));
        assert!(!harness_alive(pid, start + 1));
    }
}
