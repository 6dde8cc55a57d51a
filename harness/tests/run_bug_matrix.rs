//! The bug matrix (every deliberate bug gets a nemesis and a workload that find it, and we
//! record how often each is found in a 30 s test): for each deliberate raft-kv bug, run
//! `harness test` with the nemesis that exposes it over several seeds and print a table of
//! how often the run was invalid. Slow (minutes) and machine-heavy, so it is `#[ignore]`d:
//!
//! ```text
//! cargo test --release -p harness --test run_bug_matrix -- --ignored --nocapture
//! ```
//!
//! `BUG_MATRIX_SEEDS` (default 3) and `BUG_MATRIX_SECS` (default 30) change the size;
//! `BUG_MATRIX_ONLY=no-truncate` (a bug name, or `none`) runs only that bug's rows. The
//! test fails if a bug is never found, or if a correct cluster under the same nemeses is
//! ever invalid (a false positive).

use assert_cmd::Command;
use serde_json::Value;

/// Partitions cutting one random node off: a minority node or a deposed leader keeps going.
const ISOLATE_ONE: &[&str] = &[
    "--workload",
    "register",
    "--nemesis",
    "partition",
    "--partition",
    "isolated",
    "--nemesis-interval",
    "3",
];

/// Partitions cutting off whoever leads, every second or so, with the set workload (a lost
/// element stays lost, so a divergent state machine is seen by every later read).
const ISOLATE_LEADER_SET: &[&str] = &[
    "--workload",
    "set",
    "--nemesis",
    "partition",
    "--partition",
    "leader",
    "--nemesis-interval",
    "1",
];

/// At a new leader (before its first entries reach the others: 20 ms links), freeze it and
/// kill every other node as one compound fault; the others restart, elect and serve, and
/// only then the frozen leader wakes. Nodes that forgot their vote elect a second leader in
/// the same term, and the woken one still leads: two leaders serving at once.
const FROZEN_LEADER: &[&str] = &[
    "--workload",
    "register",
    "--nemesis",
    "pause,kill",
    "--nemesis-together",
    "--pause-targets",
    "leader",
    "--kill-targets",
    "followers",
    "--nemesis-trigger",
    "leader-change",
    "--nemesis-interval",
    "1",
    "--net",
    "proxy",
    "--link-delay",
    "20",
];

/// The bundled nemesis script `raft-forget-vote`: freeze the leader, kill the node that voted
/// for the next leader before that leader's first append reaches it (100 ms links between
/// the two), restart it and wake the old leader, which it then follows at the old term.
const FORGOTTEN_VOTE_SCRIPT: &[&str] = &[
    "--workload",
    "register",
    "--net",
    "proxy",
    "--nemesis-script",
    "raft-forget-vote",
    "--db-opt",
    "election-timeout-min-ms=1000",
    "--db-opt",
    "election-timeout-max-ms=3000",
];

/// (bug, the `harness test` flags that look for it). `None` = the correct node under the
/// same schedules: it must never be found invalid (no false positives).
const MATRIX: &[(Option<&str>, &[&str])] = &[
    (Some("stale-read"), ISOLATE_ONE),
    (Some("early-ack"), ISOLATE_ONE),
    (Some("no-truncate"), ISOLATE_LEADER_SET),
    (Some("no-persist-vote"), FROZEN_LEADER),
    (Some("no-persist-vote"), FORGOTTEN_VOTE_SCRIPT),
    (None, ISOLATE_ONE),
    (None, ISOLATE_LEADER_SET),
    (None, FROZEN_LEADER),
    (None, FORGOTTEN_VOTE_SCRIPT),
];

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

#[test]
#[ignore = "minutes long: run explicitly to measure the bug matrix"]
fn run_bug_matrix() {
    let seeds = env_num("BUG_MATRIX_SEEDS", 3);
    let secs = env_num("BUG_MATRIX_SECS", 30).to_string();
    let store = tempfile::tempdir().unwrap();
    let mut rows = Vec::new();
    let only = std::env::var("BUG_MATRIX_ONLY").ok();
    for (bug, flags) in MATRIX {
        if only.as_deref().is_some_and(|o| o != bug.unwrap_or("none")) {
            continue;
        }
        let mut found = 0;
        let mut codes = Vec::new();
        for seed in 1..=seeds {
            let seed = seed.to_string();
            let mut args = vec![
                "test",
                "--time-limit",
                &secs,
                "--nodes",
                "3",
                "--recovery-time",
                "3",
                "--seed",
                &seed,
                "--no-report",
                "--store",
                store.path().to_str().unwrap(),
            ];
            args.extend_from_slice(flags);
            if let Some(b) = bug {
                args.extend(["--bug", b]);
            }
            let out = Command::cargo_bin("harness")
                .unwrap()
                .args(&args)
                .timeout(std::time::Duration::from_secs(600))
                .output()
                .unwrap();
            let code = out.status.code().unwrap_or(-1);
            let last: Value = String::from_utf8_lossy(&out.stdout)
                .lines()
                .last()
                .and_then(|l| serde_json::from_str(l).ok())
                .unwrap_or(Value::Null);
            assert!(
                matches!(code, 0..=2),
                "{bug:?} seed {seed}: exit {code}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            if code == 1 {
                found += 1;
            }
            codes.push(format!("{code}({} ops)", last["ops"]));
        }
        rows.push((
            bug.unwrap_or("none (correct)"),
            flags.join(" "),
            found,
            codes,
        ));
    }
    println!("\n| bug | flags | found / runs | exit codes |\n|---|---|---|---|");
    for (bug, flags, found, codes) in &rows {
        println!(
            "| {bug} | `{flags}` | {found} / {seeds} | {} |",
            codes.join(" ")
        );
    }
    for (bug, _, found, _) in &rows {
        if bug.starts_with("none") {
            assert_eq!(*found, 0, "the correct node was found invalid");
        } else {
            assert!(*found > 0, "{bug} was never found");
        }
    }
}
