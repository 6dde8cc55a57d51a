//! Real `gossip-node` processes on 127.0.0.1: five nodes converge on messages posted at
//! different nodes; a static partition (links pointed at a dead port) keeps the sides
//! apart until a restart with healed links, after which they converge; a lying node is
//! rejected in every mode while honest nodes converge on exactly the genuine messages;
//! bad input gives clear errors. `measure_convergence` (ignored) prints timings.

mod support;

use std::process::Command;
use std::time::Duration;
use support::{cut_between, http, Cluster, FAST, NODE_BIN};

const ALL: [u64; 5] = [1, 2, 3, 4, 5];

#[test]
fn five_nodes_converge_on_posts_at_different_nodes() {
    let mut c = Cluster::start(5, FAST, &[]);
    for i in 0..10u64 {
        let id = 1 + i % 5;
        let (origin, seq) = c.post(id, &format!("message {i} at node {id}"));
        assert_eq!((origin, seq), (id, 1 + i / 5));
    }
    c.wait_converged(&ALL, Duration::from_secs(20));
    c.assert_only_genuine(&ALL);
    let s = http(c.port(3), "GET", "/status", "")
        .expect("status")
        .json();
    assert_eq!(
        (s["id"].as_u64(), s["name"].as_str(), s["messages"].as_u64()),
        (Some(3), Some("node3"), Some(10))
    );
    assert_eq!(s["peers"], serde_json::json!([1, 2, 4, 5]));
    assert!(s["byzantine"].is_null());
}

#[test]
fn partition_keeps_sides_apart_and_they_converge_after_the_heal() {
    let mut c = Cluster::start(5, FAST, &cut_between(&[&[1, 2], &[3, 4, 5]]));
    c.post(1, "left before");
    c.post(4, "right before");
    c.post(2, "left again");
    std::thread::sleep(Duration::from_millis(1500));
    let left = c.delivered(1).expect("node 1");
    assert!(
        !left.iter().any(|m| m.0 == 4),
        "node 1 got a message across the partition: {left:?}"
    );
    let right = c.delivered(5).expect("node 5");
    assert!(
        !right.iter().any(|m| m.0 <= 2),
        "node 5 got a message across the partition: {right:?}"
    );
    c.cut.clear();
    c.restart_all(); // healed links; the data dirs keep what each side had
    let took = c.wait_converged(&ALL, Duration::from_secs(20));
    eprintln!("converged {took:?} after the heal");
    c.assert_only_genuine(&ALL);
    let (origin, seq) = c.post(1, "after the heal");
    assert_eq!(
        (origin, seq),
        (1, 2),
        "a restarted node continues its own sequence"
    );
    c.wait_converged(&ALL, Duration::from_secs(20));
}

#[test]
fn a_lying_node_is_rejected_in_every_mode() {
    let mut c = Cluster::start(5, FAST, &[]);
    let honest = [1, 3, 4, 5];
    let rejected = |c: &Cluster| -> u64 {
        honest
            .iter()
            .map(|&i| {
                let s = http(c.port(i), "GET", "/status", "")
                    .expect("status")
                    .json();
                s["rejected"].as_u64().unwrap_or(0)
            })
            .sum()
    };
    for (round, mode) in ["\"forge\"", "\"alter\"", "\"drop\""].iter().enumerate() {
        let before = rejected(&c);
        c.set_byzantine(2, mode);
        for &id in &ALL {
            c.post(id, &format!("round {round} at node {id}"));
        }
        c.wait_converged(&honest, Duration::from_secs(20));
        std::thread::sleep(Duration::from_millis(300)); // let the liar's copies arrive too
        c.assert_only_genuine(&honest);
        if round < 2 {
            assert!(
                rejected(&c) > before,
                "mode {mode}: no copy from the liar was rejected"
            );
        }
    }
    let logs: String = honest.iter().map(|&i| c.log(i)).collect();
    assert!(
        logs.contains("rejected forged message from 2 claiming origin"),
        "{logs}"
    );
    assert!(
        logs.contains("rejected altered message from 2")
            || logs.lines().filter(|l| l.contains("from 2")).count() > 1,
        "{logs}"
    );
    let s = http(c.port(2), "GET", "/status", "")
        .expect("status")
        .json();
    assert_eq!(s["byzantine"], "drop");
    c.set_byzantine(2, "null");
    let s = http(c.port(2), "GET", "/status", "")
        .expect("status")
        .json();
    assert!(s["byzantine"].is_null());
    c.wait_converged(&ALL, Duration::from_secs(20));
}

#[test]
fn bad_requests_get_clear_errors() {
    let c = Cluster::start(2, FAST, &[]);
    let p = c.port(1);
    let r = http(p, "POST", "/broadcast", "{\"text\":1}").expect("req");
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"], "bad_request");
    let big = format!("{{\"body\":\"{}\"}}", "x".repeat(5000));
    let r = http(p, "POST", "/broadcast", &big).expect("req");
    assert_eq!(
        (r.status, r.json()["error"].as_str()),
        (413, Some("body_too_large"))
    );
    let r = http(
        p,
        "POST",
        "/gossip",
        "[{\"from\":2,\"to\":3,\"kind\":\"fill\"}]",
    )
    .expect("req");
    assert_eq!(r.status, 400);
    assert!(r.json()["message"]
        .as_str()
        .unwrap_or("")
        .contains("delivered to node 1"));
    let r = http(
        p,
        "POST",
        "/gossip",
        "[{\"from\":7,\"to\":1,\"kind\":\"fill\"}]",
    )
    .expect("req");
    assert_eq!(r.status, 400);
    let r = http(
        p,
        "POST",
        "/gossip",
        "[{\"from\":2,\"to\":1,\"kind\":\"fill\"}]",
    )
    .expect("req");
    assert_eq!(r.status, 204);
    let r = http(p, "POST", "/admin/byzantine", "{\"mode\":\"lie\"}").expect("req");
    assert_eq!(r.status, 400);
    let r = http(p, "GET", "/nowhere", "").expect("req");
    assert_eq!(
        (r.status, r.json()["error"].as_str()),
        (404, Some("not_found"))
    );
}

#[test]
fn bad_flags_and_keys_exit_with_a_message() {
    let run = |args: &[&str]| Command::new(NODE_BIN).args(args).output().expect("run");
    let out = run(&["--id", "1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no peers"));
    let dir = tempfile::tempdir().expect("tmp");
    let missing = dir.path().join("none.key");
    let out = run(&[
        "--id",
        "1",
        "--peers",
        "2",
        "--key",
        missing.to_str().expect("utf8"),
        "--listen",
        "127.0.0.1:0",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("none.key"));
    // Node 2's secret key presented as node 1's.
    let c = Cluster::start(2, FAST, &[]);
    let keys = c.dir.path().join("keys");
    let out = Command::new(NODE_BIN)
        .args(["--id", "1", "--peers", "2", "--listen", "127.0.0.1:0"])
        .arg("--key")
        .arg(keys.join("node2.key"))
        .arg("--public")
        .arg(keys.join("public.txt"))
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not the secret key of node 1"));
    // A busy port.
    let mut cmd = c.node_command(1);
    let out = cmd.output().expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot listen on"));
}

#[test]
fn the_client_subcommands_post_and_read() {
    let c = Cluster::start(2, FAST, &[]);
    let addr = format!("127.0.0.1:{}", c.port(1));
    let out = Command::new(NODE_BIN)
        .args(["post", "--node", &addr, "hi there"])
        .output()
        .expect("post");
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "{\"origin\":1,\"seq\":1}"
    );
    let out = Command::new(NODE_BIN)
        .args(["read", "--node", &addr])
        .output()
        .expect("read");
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"body\":\"hi there\""));
    let out = Command::new(NODE_BIN)
        .args(["read", "--node", &format!("127.0.0.1:{}", c.dead_port)])
        .output()
        .expect("read");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot reach node"));
}

fn median_max(mut v: Vec<Duration>) -> (Duration, Duration) {
    v.sort();
    (v[v.len() / 2], v[v.len() - 1])
}

/// `cargo test --release -p gossip --test cluster -- --ignored --nocapture measure_convergence`
#[test]
#[ignore]
fn measure_convergence() {
    let mut c = Cluster::start(5, &[], &[]);
    let mut single = Vec::new();
    for i in 0..30u64 {
        c.post(1 + i % 5, &format!("m{i}"));
        single.push(c.wait_converged(&ALL, Duration::from_secs(30)));
    }
    let (med, max) = median_max(single);
    println!("one post, defaults (gossip 100 ms, anti-entropy 1000 ms, fanout 2): median {med:?}, max {max:?} (30 posts)");
    drop(c);
    let mut healed = Vec::new();
    for trial in 0..10 {
        let mut c = Cluster::start(5, &[], &cut_between(&[&[1, 2], &[3, 4, 5]]));
        for i in 0..10u64 {
            c.post(1 + i % 5, &format!("t{trial} m{i}"));
        }
        std::thread::sleep(Duration::from_millis(500));
        c.cut.clear();
        let heal = std::time::Instant::now(); // kill, restart with healed links, converge
        c.restart_all();
        c.wait_converged(&ALL, Duration::from_secs(30));
        healed.push(heal.elapsed());
    }
    let (med, max) = median_max(healed);
    println!("after healing {{1,2}}|{{3,4,5}} (10 posts; from the kill of all nodes, through their restart with healed links and\n  the same data dirs, to every node holding every post): median {med:?}, max {max:?} (10 trials)");
}
