//! The main job as a user without root (`setpriv --reuid 65534 --regid 65534
//! --clear-groups`, HOME, TMPDIR, XDG_RUNTIME_DIR and the results store in a temp folder
//! the test creates and gives to that user): it falls back to `--net proxy` and passes;
//! a root-owned `<tmp>/harness-runs` left by someone else is no obstacle (run manifests are
//! per user); and an unwritable `--store` or state folder is an error naming its path.
//! Needs root to switch users: without it every case prints why and skips. Cases run one at
//! a time (the e2e lock); after each, no node process naming the temp folder is left.

mod e2e_support;

use e2e_support::{harness_bin, processes_naming, serial, Ran};
use serde_json::Value;
use std::os::unix::fs::{chown, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The unprivileged user and group the cases run as (`nobody`/`nogroup`).
const NOBODY: u32 = 65534;

/// Whether this test runs as root; prints why a case is skipped when not.
fn root_or_skip(case: &str) -> bool {
    let root = is_root();
    if !root {
        eprintln!("skipping {case}: switching to a non-root user needs root");
    }
    root
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// A temp folder (readable by everyone, as `/tmp` is) with `home`, `tmp`, `run` (the
/// user's XDG_RUNTIME_DIR) and `results` owned by the unprivileged user.
struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    fn new() -> Sandbox {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
            .expect("chmod");
        for sub in ["home", "tmp", "run", "results"] {
            let p = dir.path().join(sub);
            std::fs::create_dir(&p).expect("mkdir");
            chown(&p, Some(NOBODY), Some(NOBODY)).expect("chown");
        }
        Sandbox { dir }
    }

    fn path(&self, sub: &str) -> PathBuf {
        self.dir.path().join(sub)
    }

    /// Runs `harness ARGS` as the unprivileged user with a clean environment: HOME, TMPDIR,
    /// PATH, HARNESS_BIN_DIR (the node binaries beside the harness), and XDG_RUNTIME_DIR
    /// only when `xdg` (at most 120 s).
    fn harness(&self, args: &[&str], xdg: bool, extra_env: &[(&str, &Path)]) -> Ran {
        let bin = harness_bin();
        let bin_dir = bin.parent().expect("bin dir").to_path_buf();
        let mut cmd = Command::new("setpriv");
        cmd.args([
            "--reuid",
            "65534",
            "--regid",
            "65534",
            "--clear-groups",
            "--",
        ])
        .arg(&bin)
        .args(args)
        .env_clear()
        .env("HOME", self.path("home"))
        .env("TMPDIR", self.path("tmp"))
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("HARNESS_BIN_DIR", &bin_dir)
        .current_dir(self.path("home"));
        if xdg {
            cmd.env("XDG_RUNTIME_DIR", self.path("run"));
        }
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        let out = assert_cmd::Command::from_std(cmd)
            .timeout(Duration::from_secs(120))
            .output()
            .expect("run harness as nobody");
        e2e_support::ran(&out)
    }

    /// No node process naming this sandbox is left.
    fn assert_no_leftovers(&self) {
        let left = processes_naming(self.dir.path(), |cmd| cmd.contains("raft-node"));
        assert!(left.is_empty(), "leftover node processes: {left:?}");
    }
}

/// The main job's flags, short: 3 nodes, partitions, 4 s main phase.
fn main_job(store: &Path, nemesis: &str) -> Vec<String> {
    [
        "test",
        "--workload",
        "register",
        "--nemesis",
        nemesis,
        "--nodes",
        "3",
        "--time-limit",
        "4",
        "--nemesis-interval",
        "1",
        "--recovery-time",
        "1",
        "--seed",
        "3",
        "--store",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([store.display().to_string()])
    .collect()
}

fn args_of(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// A passing run whose run folder belongs to the unprivileged user and ran on the proxy.
fn assert_passed_on_proxy(r: &Ran) {
    assert_eq!(r.code, 0, "exit {}\n{}\n{}", r.code, r.stdout, r.stderr);
    assert!(!r.stderr.contains("Permission denied"), "{}", r.stderr);
    let dir = PathBuf::from(r.last["results"].as_str().expect("results dir"));
    let test: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("test.json")).expect("test.json"))
            .expect("test.json is JSON");
    assert_eq!(test["net"], "proxy", "no root: the proxy backend");
    let owner = std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(&dir).expect("stat"));
    assert_eq!(
        owner, NOBODY,
        "the run folder belongs to the user who ran it"
    );
}

#[test]
fn the_main_job_runs_without_root_on_the_proxy_backend() {
    if !root_or_skip("the_main_job_runs_without_root_on_the_proxy_backend") {
        return;
    }
    let _g = serial();
    let sb = Sandbox::new();
    let r = sb.harness(
        &args_of(&main_job(&sb.path("results"), "partition")),
        true,
        &[],
    );
    sb.assert_no_leftovers();
    assert_passed_on_proxy(&r);
    assert!(
        sb.path("run/harness-runs").is_dir(),
        "run manifests go to $XDG_RUNTIME_DIR/harness-runs"
    );
}

#[test]
fn a_root_owned_shared_state_folder_does_not_stop_another_user() {
    if !root_or_skip("a_root_owned_shared_state_folder_does_not_stop_another_user") {
        return;
    }
    let _g = serial();
    let sb = Sandbox::new();
    // What an older harness run by root left: a shared `<tmp>/harness-runs` only root may
    // write.
    let shared = sb.path("tmp/harness-runs");
    std::fs::create_dir(&shared).expect("mkdir");
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let r = sb.harness(&args_of(&main_job(&sb.path("results"), "none")), false, &[]);
    sb.assert_no_leftovers();
    assert_passed_on_proxy(&r);
    assert!(
        sb.path(&format!("tmp/harness-runs-{NOBODY}")).is_dir(),
        "without XDG_RUNTIME_DIR: <tmp>/harness-runs-<uid>"
    );
}

#[test]
fn unwritable_folders_are_errors_naming_their_path() {
    if !root_or_skip("unwritable_folders_are_errors_naming_their_path") {
        return;
    }
    let _g = serial();
    let sb = Sandbox::new();
    // A store inside a folder only root may write.
    let locked = sb.path("locked");
    std::fs::create_dir(&locked).expect("mkdir");
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let store = locked.join("results");
    let r = sb.harness(&args_of(&main_job(&store, "none")), true, &[]);
    assert_eq!(r.code, 255, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains(&*store.to_string_lossy()) && r.stderr.contains("Permission denied"),
        "the message names the store: {}",
        r.stderr
    );
    // A state folder (HARNESS_STATE_DIR) only root may write: the run stops, and says where.
    let state = locked.join("state");
    std::fs::create_dir(&state).expect("mkdir");
    let r = sb.harness(
        &args_of(&main_job(&sb.path("results"), "none")),
        true,
        &[("HARNESS_STATE_DIR", &state)],
    );
    sb.assert_no_leftovers();
    assert_eq!(r.code, 255, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains(&*state.to_string_lossy()) && r.stderr.contains("Permission denied"),
        "the message names the state folder: {}",
        r.stderr
    );
    assert!(
        !r.stderr.contains("io error:"),
        "no bare io error: {}",
        r.stderr
    );
}
