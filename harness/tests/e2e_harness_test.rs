//! End-to-end tests of `harness test` and `harness analyze`: the real `harness` binary,
//! real `raft-node` processes, real faults (netns + iptables, the user-space proxy, SIGSTOP,
//! SIGKILL), short time limits. Cases run one at a time (a global lock): they share the
//! machine's two cores and would starve each other's nodes. After each case the test
//! asserts that nothing of the run is left: no process whose command line names the run's
//! store, no namespace or link carrying the run's prefix (read from its `cleanup.json`).

mod e2e_support;

use e2e_support::{harness_bin, require_raft_node, results_of, run_dir, serial, Ran};
use serde_json::Value;
use std::path::Path;

fn harness(args: &[&str]) -> Ran {
    require_raft_node();
    e2e_support::harness(args)
}

/// Assert nothing of the run in `dir` (and of any run under `store`) is left running.
fn assert_no_leftovers(store: &Path, dir: &Path) {
    let procs = e2e_support::processes_naming(store, |cmd| cmd.contains("raft-node"));
    assert!(procs.is_empty(), "leftover node processes: {procs:?}");
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("cleanup.json")).unwrap()).unwrap();
    let prefix = manifest["prefix"].as_str().unwrap().to_string();
    assert!(prefix.len() >= 4);
    let ns = std::process::Command::new("ip")
        .args(["netns", "list"])
        .output()
        .unwrap();
    let ns = String::from_utf8_lossy(&ns.stdout);
    assert!(
        !ns.contains(&prefix),
        "leftover namespaces of {prefix}: {ns}"
    );
    let links = std::process::Command::new("ip")
        .args(["-o", "link", "show"])
        .output()
        .unwrap();
    let links = String::from_utf8_lossy(&links.stdout);
    assert!(!links.contains(&prefix), "leftover links of {prefix}");
}

fn test_args<'a>(store: &'a str, net: &'a str, nemesis: &'a str, seed: &'a str) -> Vec<&'a str> {
    // The combined nemesis leaves the fewest healthy seconds: give it a longer main phase so
    // that even a debug build on a loaded 2-core machine checks over 1000 operations.
    let limit = if nemesis.contains(',') { "20" } else { "12" };
    vec![
        "test",
        "--workload",
        "register",
        "--nemesis",
        nemesis,
        "--net",
        net,
        "--nodes",
        "3",
        "--time-limit",
        limit,
        "--nemesis-interval",
        "2",
        "--recovery-time",
        "2",
        "--seed",
        seed,
        "--store",
        store,
        "--no-report",
    ]
}

#[test]
fn e2e_correct_raft_kv_is_valid_under_every_fault_in_both_backends() {
    let _g = serial();
    let store = tempfile::tempdir().unwrap();
    let s = store.path().to_str().unwrap();
    for net in ["netns", "proxy"] {
        for nemesis in ["partition", "pause", "kill", "partition,pause,kill"] {
            let r = harness(&test_args(s, net, nemesis, "11"));
            let dir = run_dir(&r);
            assert_eq!(
                r.code, 0,
                "{net} {nemesis}: exit {}\n{}\n{}",
                r.code, r.stdout, r.stderr
            );
            let res = results_of(&dir);
            assert_eq!(res["valid"], Value::Bool(true));
            let ops = res["ops"].as_u64().unwrap();
            assert!(ops >= 1000, "{net} {nemesis}: only {ops} ops checked");
            assert!(
                res["checkers"]["linearizable"]["keys"]
                    .as_array()
                    .unwrap()
                    .len()
                    > 1
            );
            let test: Value =
                serde_json::from_str(&std::fs::read_to_string(dir.join("test.json")).unwrap())
                    .unwrap();
            assert_eq!(test["net"], net);
            assert_eq!(test["seed"], 11);
            let hist = std::fs::read_to_string(dir.join("history.jsonl")).unwrap();
            let first_fault = nemesis.split(',').next().unwrap();
            let start_f = if first_fault == "partition" {
                "start-partition"
            } else {
                first_fault
            };
            assert!(
                hist.contains(&format!("\"f\":\"{start_f}\"")),
                "{net} {nemesis}: no {start_f} event in the history"
            );
            assert!(dir.join("nodes/n1/stderr.log").is_file());
            // The tracing events of the cluster and the nemesis reach the run's log.
            let log = std::fs::read_to_string(dir.join("harness.log")).unwrap();
            assert!(
                log.contains(&format!("INFO harness::cluster: net backend: {net}")),
                "{net} {nemesis}: no net backend line in harness.log:\n{log}"
            );
            assert!(
                log.contains("INFO harness::cluster::nemesis::executor: nemesis: applying"),
                "{net} {nemesis}: no nemesis executor line in harness.log:\n{log}"
            );
            assert!(!r.stderr.contains("nemesis: applying"), "{}", r.stderr);
            assert_no_leftovers(store.path(), &dir);
        }
    }
}

#[test]
fn e2e_stale_read_bug_is_found_under_partitions() {
    let _g = serial();
    let store = tempfile::tempdir().unwrap();
    let s = store.path().to_str().unwrap();
    // The isolated-node shape cuts the leader off often; a stale leader keeps serving reads.
    // Up to 3 seeds: a run whose partitions never isolate the leader can be valid.
    let mut codes = Vec::new();
    for seed in ["1", "2", "3"] {
        let mut args = test_args(s, "netns", "partition", seed);
        args.extend(["--partition", "isolated", "--bug", "stale-read"]);
        let r = harness(&args);
        let dir = run_dir(&r);
        assert_no_leftovers(store.path(), &dir);
        let test: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("test.json")).unwrap()).unwrap();
        assert_eq!(test["bugs"], serde_json::json!(["stale-read"]));
        codes.push(r.code);
        if r.code == 1 {
            let res = results_of(&dir);
            assert_eq!(res["valid"], Value::Bool(false));
            let keys = res["checkers"]["linearizable"]["keys"].as_array().unwrap();
            assert!(keys
                .iter()
                .any(|k| k["valid"] == Value::Bool(false) && k["counterexample"].is_object()));
            return;
        }
        assert!(
            r.code == 0 || r.code == 2,
            "unexpected exit {}: {}",
            r.code,
            r.stderr
        );
    }
    panic!("stale-read not found in 3 seeds: exit codes {codes:?}");
}

#[test]
fn e2e_analyze_rechecks_a_stored_run_and_test_count_junit_work() {
    let _g = serial();
    let store = tempfile::tempdir().unwrap();
    let s = store.path().to_str().unwrap();
    let junit = store.path().join("junit.xml");
    let r = harness(&[
        "test",
        "--nodes",
        "3",
        "--net",
        "proxy",
        "--time-limit",
        "3",
        "--recovery-time",
        "0.5",
        "--seed",
        "5",
        "--store",
        s,
        "--test-count",
        "2",
        "--junit",
        junit.to_str().unwrap(),
        "--name",
        "twice",
    ]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let runs = r.last["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0]["seed"], 5);
    assert_eq!(runs[1]["seed"], 6);
    assert!(
        r.stdout.lines().filter(|l| l.contains("twice")).count() >= 2,
        "summary table: {}",
        r.stdout
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert_eq!(xml.matches("<testsuite ").count(), 2);
    assert!(
        xml.contains("name=\"linearizable\"")
            && xml.contains("name=\"stats\"")
            && xml.contains("linearizable key k0")
    );
    assert!(!xml.contains("<failure"));
    // latest links point at the second run; report and index exist.
    let latest = std::fs::canonicalize(store.path().join("twice/latest")).unwrap();
    assert_eq!(
        latest,
        std::fs::canonicalize(runs[1]["results"].as_str().unwrap()).unwrap()
    );
    assert!(latest.join("report.html").is_file());
    assert!(store.path().join("index.html").is_file());
    assert_no_leftovers(store.path(), &latest);

    // analyze re-checks: valid as stored ...
    let a = harness(&["analyze", latest.to_str().unwrap(), "--no-report"]);
    assert_eq!(a.code, 0, "{}", a.stderr);
    assert_eq!(a.last["valid"], Value::Bool(true));
    // ... and invalid once a read of a value nobody wrote is appended to the history.
    let hist_path = latest.join("history.jsonl");
    let mut hist = std::fs::read_to_string(&hist_path).unwrap();
    let n = hist.lines().count();
    hist.push_str(&format!(
        "{{\"index\":{n},\"time\":999999999999,\"type\":\"invoke\",\"process\":99999,\"f\":\"read\",\"key\":\"k0\",\"value\":null}}\n{{\"index\":{},\"time\":999999999999,\"type\":\"ok\",\"process\":99999,\"f\":\"read\",\"key\":\"k0\",\"value\":77}}\n",
        n + 1
    ));
    std::fs::write(&hist_path, hist).unwrap();
    let a = harness(&["analyze", latest.to_str().unwrap(), "--no-report"]);
    assert_eq!(a.code, 1, "{}", a.stderr);
    // The folder is renamed for its new verdict, and the latest link follows it.
    let moved = std::path::PathBuf::from(a.last["results"].as_str().unwrap());
    assert!(
        moved.to_string_lossy().ends_with("-INVALID"),
        "{}",
        moved.display()
    );
    assert!(!latest.exists());
    assert_eq!(results_of(&moved)["valid"], Value::Bool(false));
    assert_eq!(
        std::fs::canonicalize(store.path().join("twice/latest")).unwrap(),
        std::fs::canonicalize(&moved).unwrap()
    );
    // A folder without a history is bad input.
    let a = harness(&["analyze", store.path().to_str().unwrap()]);
    assert_eq!(a.code, 254, "{}", a.stderr);
}

#[test]
fn e2e_set_workload_is_valid_with_kills() {
    let _g = serial();
    let store = tempfile::tempdir().unwrap();
    let s = store.path().to_str().unwrap();
    let r = harness(&[
        "test",
        "--workload",
        "set",
        "--nemesis",
        "kill",
        "--nemesis-interval",
        "2",
        "--nodes",
        "3",
        "--net",
        "proxy",
        "--time-limit",
        "8",
        "--recovery-time",
        "2",
        "--seed",
        "3",
        "--store",
        s,
        "--no-report",
    ]);
    let dir = run_dir(&r);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let res = results_of(&dir);
    let sf = &res["checkers"]["set-full"];
    assert_eq!(sf["valid"], Value::Bool(true), "{sf}");
    assert!(sf["acknowledged_count"].as_u64().unwrap() > 100, "{sf}");
    assert_eq!(sf["lost_count"], 0);
    assert!(sf["stable_count"].as_u64().unwrap() > 100, "{sf}");
    assert_no_leftovers(store.path(), &dir);
}

#[test]
fn e2e_bad_flags_exit_254_and_missing_node_binary_exits_255() {
    let _g = serial();
    let store = tempfile::tempdir().unwrap();
    let s = store.path().to_str().unwrap();
    for bad in [
        &["test", "--nemesis", "flood", "--store", s][..],
        &["test", "--concurrency", "0", "--store", s],
        &["test", "--workload", "bank", "--store", s],
        &["test", "--no-such-flag"],
        &["test", "--db", "mongo", "--store", s],
        &["test", "--bug", "lossy", "--store", s],
    ] {
        let r = harness(bad);
        assert_eq!(r.code, 254, "{bad:?}: {}", r.stderr);
    }
    // An unknown bug is refused before anything starts, with the system's list.
    let r = harness(&["test", "--bug", "lossy", "--store", s]);
    for bug in ["stale-read", "early-ack", "no-truncate", "no-persist-vote"] {
        assert!(r.stderr.contains(bug), "{}", r.stderr);
    }
    let r = harness(&[
        "test",
        "--node-bin",
        "/nonexistent/raft-node",
        "--time-limit",
        "1",
        "--store",
        s,
    ]);
    assert_eq!(r.code, 255, "{}", r.stderr);
    assert!(r.stderr.contains("/nonexistent/raft-node"), "{}", r.stderr);
    assert_eq!(r.last["valid"], Value::Null);
    assert_eq!(
        std::fs::read_dir(store.path()).unwrap().count(),
        0,
        "a failed setup leaves no run folder"
    );
}

#[test]
fn e2e_sigint_stops_the_run_cleans_up_and_keeps_the_history() {
    let _g = serial();
    let store = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(harness_bin())
        .args([
            "test",
            "--nodes",
            "3",
            "--net",
            "netns",
            "--nemesis",
            "pause",
            "--nemesis-interval",
            "1",
            "--time-limit",
            "60",
        ])
        .args([
            "--no-report",
            "--name",
            "interrupted",
            "--store",
            store.path().to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    struct Reap(std::process::Child);
    impl Drop for Reap {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    // Wait until the run has recorded some operations, then interrupt it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let dir = loop {
        assert!(
            std::time::Instant::now() < deadline,
            "the run never started recording"
        );
        let latest = std::fs::read_dir(store.path().join("interrupted"))
            .ok()
            .and_then(|d| d.flatten().map(|e| e.path()).find(|p| p.is_dir()));
        if let Some(d) = latest {
            if std::fs::read_to_string(d.join("history.jsonl"))
                .map(|h| h.lines().count() > 50)
                .unwrap_or(false)
            {
                break d;
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    nix_kill(child.id(), libc::SIGINT);
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "harness did not stop after SIGINT"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let mut out = String::new();
    std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut out).unwrap();
    let _reap = Reap(child);
    assert_eq!(status.code(), Some(255), "{out}");
    assert!(
        out.lines().last().unwrap_or("").contains("interrupted"),
        "{out}"
    );
    let hist = std::fs::read_to_string(dir.join("history.jsonl")).unwrap();
    assert!(hist.lines().count() > 50);
    assert!(
        hist.lines()
            .all(|l| serde_json::from_str::<Value>(l).is_ok()),
        "every history line is whole"
    );
    assert_no_leftovers(store.path(), &dir);
}

fn nix_kill(pid: u32, sig: i32) {
    // SAFETY: kill(2) with a pid we spawned and a valid signal number has no memory effects.
    let rc = unsafe { libc::kill(pid as i32, sig) };
    assert_eq!(rc, 0, "kill({pid}, {sig})");
}
