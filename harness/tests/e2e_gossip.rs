//! End-to-end tests of the gossip chat (`--db gossip`, `--workload broadcast`): the real
//! `harness` binary, real `gossip-node` processes (keys generated per run), real partitions
//! and liars made at run time through `POST /admin/byzantine`, short limits. After the final
//! heal anti-entropy must bring every acknowledged message to every honest node (exit 0,
//! convergence times reported and plotted); a lying node cannot inject or alter a message.
//! Cases run one at a time (a global lock).

mod e2e_support;

use e2e_support::{processes_naming, results_of, run_dir, serial};
use std::path::PathBuf;

/// Fails (never skips) when `gossip-node` is not next to the harness or in `$HARNESS_BIN_DIR`.
fn require_gossip_node() {
    let bin = assert_cmd::cargo::cargo_bin("harness");
    let here = bin.with_file_name("gossip-node");
    let env = std::env::var_os("HARNESS_BIN_DIR").map(|d| PathBuf::from(d).join("gossip-node"));
    assert!(
        here.is_file() || env.is_some_and(|p| p.is_file()),
        "gossip-node not found next to {}: cargo build --release -p gossip",
        bin.display()
    );
}

fn gossip_args<'a>(store: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "test",
        "--db",
        "gossip",
        "--workload",
        "broadcast",
        "--nodes",
        "5",
        "--concurrency",
        "5",
        "--time-limit",
        "10",
        "--recovery-time",
        "4",
        "--nemesis-interval",
        "2",
        "--store",
        store,
    ];
    args.extend_from_slice(extra);
    args
}

fn node_stdout(dir: &std::path::Path, node: &str) -> String {
    std::fs::read_to_string(dir.join("nodes").join(node).join("stdout.log")).unwrap_or_default()
}

#[test]
fn e2e_gossip_converges_after_partitions_heal_and_reports_the_time() {
    require_gossip_node();
    let _g = serial();
    let store = tempfile::tempdir().unwrap();
    let s = store.path().to_str().unwrap();
    let r = e2e_support::harness(&gossip_args(
        s,
        &[
            "--nemesis",
            "partition",
            "--partition",
            "halves",
            "--seed",
            "3",
        ],
    ));
    let dir = run_dir(&r);
    assert_eq!(r.code, 0, "stderr: {}", r.stderr);
    let res = results_of(&dir);
    let b = &res["checkers"]["broadcast"];
    assert_eq!(b["valid"], true, "{b}");
    assert!(b["acknowledged_count"].as_u64().unwrap() > 50, "{b}");
    assert_eq!(b["honest_reads"].as_object().unwrap().len(), 5, "{b}");
    let c = &b["convergence"];
    assert_eq!(c["count"], b["acknowledged_count"], "{c}");
    assert!(
        c["median_ms"].as_u64().unwrap() <= c["max_ms"].as_u64().unwrap(),
        "{c}"
    );
    let history = std::fs::read_to_string(dir.join("history.jsonl")).unwrap();
    assert!(history.contains("\"f\":\"start-partition\""));
    assert!(dir.join("convergence.png").is_file(), "no convergence plot");
    let page = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(
        page.contains("Broadcast convergence"),
        "no plot in the report"
    );
    assert!(dir.join("gossip-keys").join("public.txt").is_file());
    let procs = processes_naming(store.path(), |c| c.contains("gossip-node"));
    assert!(procs.is_empty(), "leftover nodes: {procs:?}");
}

#[test]
fn e2e_a_lying_gossip_node_cannot_inject_or_alter_messages() {
    require_gossip_node();
    let _g = serial();
    let store = tempfile::tempdir().unwrap();
    let s = store.path().to_str().unwrap();
    let r = e2e_support::harness(&gossip_args(
        s,
        &[
            "--nemesis",
            "byzantine",
            "--byzantine-modes",
            "n2=forge",
            "--no-report",
            "--seed",
            "5",
        ],
    ));
    let dir = run_dir(&r);
    assert_eq!(r.code, 0, "stderr: {}", r.stderr);
    let b = &results_of(&dir)["checkers"]["broadcast"];
    assert_eq!(b["valid"], true, "{b}");
    assert_eq!(b["byzantine_nodes"], serde_json::json!(["n2"]), "{b}");
    assert_eq!(b["integrity_count"], 0, "{b}");
    let rejected: Vec<String> = ["n1", "n3", "n4", "n5"]
        .iter()
        .filter(|n| node_stdout(&dir, n).contains("rejected forged message from 2"))
        .map(|n| n.to_string())
        .collect();
    assert!(!rejected.is_empty(), "no honest node rejected a forgery");
    let history = std::fs::read_to_string(dir.join("history.jsonl")).unwrap();
    assert!(history.contains("\"f\":\"start-byzantine\""));
}
