//! `harness test` with link faults, end to end: the correct raft-kv stays linearizable (exit
//! 0) under `--nemesis loss,delay` with whole-run loss and jittered delay in the proxy backend,
//! under `--nemesis loss` with one-way partitions in the netns backend, and under `--nemesis
//! delay,partition` with a whole-run delay in the netns backend (whose delay shows in every
//! commit's latency); the history names
//! each fault's links and amount; nothing is left behind (no namespace, link or node process).

mod e2e_support;

use e2e_support::*;
use serde_json::Value;

fn run(store: &str, net: &str, extra: &[&str]) -> Ran {
    harness_bin();
    let mut args = vec![
        "test",
        "--workload",
        "register",
        "--net",
        net,
        "--nodes",
        "3",
        "--time-limit",
        "12",
        "--nemesis-interval",
        "1.5",
        "--recovery-time",
        "2",
        "--seed",
        "14",
        "--store",
        store,
        "--no-report",
    ];
    args.extend_from_slice(extra);
    harness(&args)
}

fn nemesis_events(dir: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("history.jsonl"))
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| {
            v["f"]
                .as_str()
                .is_some_and(|f| f.starts_with("start-") || f.starts_with("stop-"))
        })
        .collect()
}

fn assert_clean(store: &std::path::Path, r: &Ran) {
    let left = processes_naming(store, |c| c.contains("raft-node"));
    assert!(left.is_empty(), "node processes left: {left:?}");
    let prefix = r.last["prefix"].as_str().unwrap_or("");
    if !prefix.is_empty() {
        let ns = std::process::Command::new("ip")
            .args(["netns", "list"])
            .output()
            .unwrap();
        assert!(!String::from_utf8_lossy(&ns.stdout).contains(prefix));
    }
}

#[test]
fn e2e_raft_kv_is_valid_under_loss_and_delay_in_the_proxy_backend() {
    let _g = serial();
    let store = tempfile::tempdir().unwrap();
    let s = store.path().to_str().unwrap();
    let r = run(
        s,
        "proxy",
        &[
            "--nemesis",
            "loss,delay",
            "--loss",
            "0.1,0.3",
            "--delay",
            "30ms",
            "--jitter",
            "10ms",
            "--link-delay",
            "2,1",
            "--link-loss",
            "0.02",
        ],
    );
    assert_eq!(r.code, 0, "exit {}\n{}\n{}", r.code, r.stdout, r.stderr);
    let dir = run_dir(&r);
    assert_eq!(results_of(&dir)["valid"], Value::Bool(true));
    let ev = nemesis_events(&dir);
    let fs: Vec<&str> = ev.iter().filter_map(|e| e["f"].as_str()).collect();
    assert!(
        fs.contains(&"start-loss") && fs.contains(&"stop-loss"),
        "{fs:?}"
    );
    assert!(fs.contains(&"start-delay"), "{fs:?}");
    let loss = ev.iter().find(|e| e["f"] == "start-loss").unwrap();
    let text = loss["value"]["text"].as_str().unwrap();
    assert!(text.contains('→') && text.contains("% loss"), "{text}");
    let test: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("test.json")).unwrap()).unwrap();
    assert_eq!(test["link_loss"], 0.02);
    assert_eq!(test["link_jitter_ms"], 1);
    assert_clean(store.path(), &r);
}

#[test]
fn e2e_raft_kv_is_valid_under_loss_and_one_way_cuts_in_the_netns_backend() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("not root: the netns backend cannot run here");
        return;
    }
    let _g = serial();
    let store = tempfile::tempdir().unwrap();
    let s = store.path().to_str().unwrap();
    let r = run(
        s,
        "netns",
        &[
            "--nemesis",
            "loss,partition",
            "--partition",
            "one-way-isolated",
            "--loss",
            "0.2",
        ],
    );
    assert_eq!(r.code, 0, "exit {}\n{}\n{}", r.code, r.stdout, r.stderr);
    let dir = run_dir(&r);
    assert_eq!(results_of(&dir)["valid"], Value::Bool(true));
    let ev = nemesis_events(&dir);
    let fs: Vec<&str> = ev.iter().filter_map(|e| e["f"].as_str()).collect();
    assert!(fs.contains(&"start-loss"), "{fs:?}");
    // A one-way cut: a grudge whose cuts are not mirrored.
    let cut = ev
        .iter()
        .find(|e| e["f"] == "start-partition")
        .expect("a partition");
    let g = cut["value"].as_object().unwrap();
    assert!(
        g.len() == 1 || g.len() == 2,
        "deaf (1 entry) or mute (2 entries): {g:?}"
    );
    assert_clean(store.path(), &r);
}

/// Latencies (ms) of the `ok` writes of a history.
fn ok_write_latencies(dir: &std::path::Path) -> Vec<f64> {
    let mut open = std::collections::HashMap::new();
    let mut out = Vec::new();
    for l in std::fs::read_to_string(dir.join("history.jsonl"))
        .unwrap()
        .lines()
    {
        let Ok(v) = serde_json::from_str::<Value>(l) else {
            continue;
        };
        if v["f"] != "write" || !v["process"].is_u64() {
            continue;
        }
        let (p, t) = (
            v["process"].as_u64().unwrap(),
            v["time"].as_i64().unwrap_or(0),
        );
        match v["type"].as_str() {
            Some("invoke") => {
                open.insert(p, t);
            }
            Some("ok") => out.extend(open.remove(&p).map(|t0| (t - t0) as f64 / 1e6)),
            _ => {
                open.remove(&p);
            }
        }
    }
    out.sort_by(f64::total_cmp);
    out
}

/// Delay in the netns backend (node-to-node links through the harness's proxies on the
/// bridge's host address): the run passes, a 25 ms one-way delay shows in every committed
/// write (a commit waits for a follower: at least one round trip, two delayed hops), and
/// nothing is left behind.
#[test]
fn e2e_raft_kv_is_valid_under_delay_in_the_netns_backend() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("not root: the netns backend cannot run here");
        return;
    }
    let _g = serial();
    let store = tempfile::tempdir().unwrap();
    let s = store.path().to_str().unwrap();
    let r = run(
        s,
        "netns",
        &[
            "--nemesis",
            "delay,partition",
            "--delay",
            "30ms",
            "--jitter",
            "10ms",
            "--link-delay",
            "25",
        ],
    );
    assert_eq!(r.code, 0, "exit {}\n{}\n{}", r.code, r.stdout, r.stderr);
    let dir = run_dir(&r);
    assert_eq!(results_of(&dir)["valid"], Value::Bool(true));
    let test: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("test.json")).unwrap()).unwrap();
    assert_eq!(test["net"], "netns", "{test}");
    let fs: Vec<String> = nemesis_events(&dir)
        .iter()
        .filter_map(|e| e["f"].as_str().map(str::to_string))
        .collect();
    assert!(fs.iter().any(|f| f == "start-delay"), "{fs:?}");
    let lat = ok_write_latencies(&dir);
    assert!(lat.len() >= 20, "only {} ok writes", lat.len());
    assert!(
        lat[0] >= 45.0,
        "fastest commit {:.1} ms under a 25 ms one-way delay",
        lat[0]
    );
    let log = std::fs::read_to_string(dir.join("harness.log")).unwrap();
    assert!(
        log.contains("through the harness's proxies"),
        "harness.log says how"
    );
    assert_clean(store.path(), &r);
}
