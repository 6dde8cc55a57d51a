//! End-to-end tests of the PBFT chat room under the Byzantine nemesis: the real `harness`
//! binary, real `pbft-node` processes (keys generated per run), nodes made to lie at run
//! time through `POST /admin/byzantine`, real partitions and kills, short limits. The lesson
//! of 3f+1: with n = 4 and one Byzantine node the total order holds (exit 0); flags the
//! system cannot honour are refused (exit 254). Cases run one at a time (a global lock).

mod e2e_support;

use e2e_support::{processes_naming, results_of, run_dir, serial};
use std::path::PathBuf;

/// Fails (never skips) when `pbft-node` is not next to the harness or in `$HARNESS_BIN_DIR`.
fn require_pbft_node() {
    let bin = assert_cmd::cargo::cargo_bin("harness");
    let here = bin.with_file_name("pbft-node");
    let env = std::env::var_os("HARNESS_BIN_DIR").map(|d| PathBuf::from(d).join("pbft-node"));
    assert!(
        here.is_file() || env.is_some_and(|p| p.is_file()),
        "pbft-node not found next to {}: cargo build --release --workspace --bins",
        bin.display()
    );
}

fn pbft_args<'a>(store: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "test",
        "--db",
        "pbft-chat",
        "--workload",
        "total-order",
        "--nodes",
        "4",
        "--concurrency",
        "4",
        "--time-limit",
        "10",
        "--recovery-time",
        "3",
        "--nemesis-interval",
        "1",
        "--store",
        store,
        "--no-report",
    ];
    args.extend_from_slice(extra);
    args
}

#[test]
fn e2e_one_byzantine_node_of_four_keeps_the_total_order() {
    require_pbft_node();
    let _g = serial();
    let store = tempfile::tempdir().unwrap();
    let s = store.path().to_str().unwrap();
    let r = e2e_support::harness(&pbft_args(
        s,
        &[
            "--nemesis",
            "byzantine,partition,kill",
            "--byzantine-nodes",
            "1",
            "--seed",
            "7",
        ],
    ));
    let dir = run_dir(&r);
    assert_eq!(r.code, 0, "stderr: {}", r.stderr);
    let res = results_of(&dir);
    let to = &res["checkers"]["total-order"];
    assert_eq!(to["valid"], true, "{to}");
    assert_eq!(to["byzantine_nodes"].as_array().unwrap().len(), 1, "{to}");
    assert!(to["acknowledged_count"].as_u64().unwrap() > 50, "{to}");
    assert_eq!(to["honest_reads"].as_object().unwrap().len(), 3, "{to}");
    let history = std::fs::read_to_string(dir.join("history.jsonl")).unwrap();
    for f in [
        "start-byzantine",
        "stop-byzantine",
        "start-partition",
        "kill",
    ] {
        assert!(
            history.contains(&format!("\"f\":\"{f}\"")),
            "no {f} in the history"
        );
    }
    assert!(dir.join("pbft-keys").join("public.json").is_file());
    let procs = processes_naming(store.path(), |c| c.contains("pbft-node"));
    assert!(procs.is_empty(), "leftover nodes: {procs:?}");
}

#[test]
fn e2e_byzantine_flags_a_system_cannot_honour_are_refused() {
    require_pbft_node();
    let _g = serial();
    let store = tempfile::tempdir().unwrap();
    let s = store.path().to_str().unwrap();
    let r = e2e_support::harness(&pbft_args(
        s,
        &["--nemesis", "byzantine", "--byzantine-modes", "lie"],
    ));
    assert_eq!(r.code, 254, "{}", r.stderr);
    assert!(
        r.stderr.contains("--byzantine-modes lie") && r.stderr.contains("equivocate"),
        "{}",
        r.stderr
    );
    let r = e2e_support::harness(&[
        "test",
        "--db",
        "raft-kv",
        "--nemesis",
        "byzantine",
        "--time-limit",
        "1",
        "--store",
        s,
    ]);
    assert_eq!(r.code, 254, "{}", r.stderr);
    assert!(
        r.stderr.contains("cannot be made Byzantine"),
        "{}",
        r.stderr
    );
    let r = e2e_support::harness(&[
        "test",
        "--db",
        "pbft-chat",
        "--workload",
        "register",
        "--time-limit",
        "1",
        "--store",
        s,
    ]);
    assert_eq!(r.code, 254, "{}", r.stderr);
    assert!(r.stderr.contains("total-order"), "{}", r.stderr);
}

/// The grudge of the colluding schedule: the honest n2 and n3 cannot hear each other, and
/// the lying primary n1 cannot hear them (so it never holds both of its own contradicting
/// pre-prepares, whose proof it would relay).
const SPLIT_HONEST: &str = r#"{"n2":["n3"],"n3":["n2"],"n1":["n2","n3"]}"#;

/// The simulator's colluding schedule with real processes: the first primary n1
/// equivocates, n4 colludes (echoes each honest node's vote back to it, relays nothing;
/// each always in its mode: `--byzantine-modes n=mode`), while [`SPLIT_HONEST`] holds. With
/// two liars of four (more than f = 1) the honest nodes commit different orders: exit 1, and
/// the report's why-section names the two honest nodes and the position where they disagree.
const TWO_LIARS: &[&str] = &[
    "--nemesis",
    "partition,byzantine",
    "--nemesis-together",
    "--partition",
    SPLIT_HONEST,
    "--byzantine-modes",
    "n1=equivocate,n4=collude",
    "--net",
    "proxy",
];

#[test]
fn e2e_two_colluding_liars_of_four_break_the_order() {
    require_pbft_node();
    let _g = serial();
    let store = tempfile::tempdir().unwrap();
    let s = store.path().to_str().unwrap();
    // Timing decides each run (README: 10 of 16 runs found it, fewer on an idle machine),
    // so up to six seeds.
    let mut found = None;
    for seed in TWO_LIARS_SEEDS {
        let mut args = pbft_args(s, TWO_LIARS);
        args.retain(|a| *a != "--no-report");
        args.extend_from_slice(&["--seed", seed]);
        let r = e2e_support::harness(&args);
        assert!(r.code == 0 || r.code == 1, "seed {seed}: {}", r.stderr);
        if r.code == 1 {
            found = Some(run_dir(&r));
            break;
        }
    }
    let dir = found.expect("two colluding liars never broke the order in six runs");
    let to = &results_of(&dir)["checkers"]["total-order"];
    assert_eq!(to["valid"], false, "{to}");
    assert_eq!(
        to["byzantine_nodes"],
        serde_json::json!(["n1", "n4"]),
        "{to}"
    );
    assert!(to["disagreement_count"].as_u64().unwrap() > 0, "{to}");
    let d = &to["disagreements"][0];
    let pair = [d["node_a"].as_str().unwrap(), d["node_b"].as_str().unwrap()];
    assert!(pair.contains(&"n2") && pair.contains(&"n3"), "{d}");
    let page = std::fs::read_to_string(dir.join("report.html")).unwrap();
    let why = &page[page.find("id=\"why\"").expect("why section")..];
    let why = &why[..why.find("</section>").unwrap_or(why.len())];
    assert!(why.contains("agreement: honest"), "{why}");
    assert!(page.contains("n1 lies (equivocate), n4 lies (collude)"));
    let procs = processes_naming(store.path(), |c| c.contains("pbft-node"));
    assert!(procs.is_empty(), "leftover nodes: {procs:?}");
}

/// The seeds [`e2e_two_colluding_liars_of_four_break_the_order`] tries, in order.
const TWO_LIARS_SEEDS: [&str; 6] = ["2", "4", "1", "3", "5", "6"];

/// `small-quorum` (commit after f+1): one equivocating primary is enough to split the
/// honest nodes under the same cut (the correct node holds: README, 0 of 3).
#[test]
fn e2e_small_quorum_bug_lets_one_liar_break_the_order() {
    require_pbft_node();
    let _g = serial();
    let store = tempfile::tempdir().unwrap();
    let s = store.path().to_str().unwrap();
    let r = e2e_support::harness(&pbft_args(
        s,
        &[
            "--bug",
            "small-quorum",
            "--nemesis",
            "partition,byzantine",
            "--nemesis-together",
            "--partition",
            SPLIT_HONEST,
            "--byzantine-modes",
            "n1=equivocate",
            "--net",
            "proxy",
            "--seed",
            "1",
        ],
    ));
    let dir = run_dir(&r);
    assert_eq!(r.code, 1, "stderr: {}", r.stderr);
    let to = &results_of(&dir)["checkers"]["total-order"];
    assert!(to["disagreement_count"].as_u64().unwrap() > 0, "{to}");
    assert_eq!(to["byzantine_nodes"], serde_json::json!(["n1"]), "{to}");
}

#[test]
fn e2e_wire_corruption_is_rejected_by_signatures_and_the_order_holds() {
    require_pbft_node();
    let _g = serial();
    let store = tempfile::tempdir().unwrap();
    let s = store.path().to_str().unwrap();
    let r = e2e_support::harness(&pbft_args(
        s,
        &[
            "--nemesis",
            "wire",
            "--net",
            "proxy",
            "--corrupt",
            "0.3",
            "--duplicate",
            "0.2",
            "--seed",
            "4",
        ],
    ));
    let dir = run_dir(&r);
    assert_eq!(r.code, 0, "stderr: {}", r.stderr);
    let to = &results_of(&dir)["checkers"]["total-order"];
    assert_eq!(to["valid"], true, "{to}");
    let history = std::fs::read_to_string(dir.join("history.jsonl")).unwrap();
    assert!(history.contains("\"f\":\"start-wire\"") && history.contains("corrupted"));
    let detected = (1..=4).any(|i| {
        let out = dir.join("nodes").join(format!("n{i}")).join("stdout.log");
        std::fs::read_to_string(out)
            .unwrap_or_default()
            .contains("Invalid signature")
    });
    assert!(detected, "no node rejected a corrupted signature");
}
