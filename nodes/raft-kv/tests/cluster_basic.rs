//! Real 3- and 5-node raft-kv clusters on loopback: election, the client API through any
//! node (redirects), the follower redirect JSON, cas semantics, request-id dedup.

mod cluster_support;

use cluster_support::{http, Cluster};
use std::time::Duration;

#[test]
fn cluster_three_nodes_serve_the_api_from_any_node() {
    let c = Cluster::start(3, &[]);
    let leader = c.wait_leader(Duration::from_secs(10));
    // Writes and reads through every node (followers redirect).
    for via in 1..=3u64 {
        let r = c.put(via, &format!("k{via}"), &format!("v{via}"));
        assert_eq!(r["status"], "committed");
        assert!(r["term"].as_u64().unwrap_or(0) >= 1);
        assert!(r["index"].as_u64().unwrap_or(0) >= 2, "{r}");
    }
    for via in 1..=3u64 {
        for k in 1..=3u64 {
            assert_eq!(c.get(via, &format!("k{k}")), Some(format!("v{k}")));
        }
    }
    assert_eq!(c.get(1, "missing"), None);
    let r = http(c.port(leader), "GET", "/key/missing", "", &[]).expect("get");
    assert_eq!(
        (r.status, r.json()["error"].as_str()),
        (404, Some("not_found"))
    );

    // Follower redirect JSON names the leader, its id and its address.
    let follower = (1..=3).find(|&i| i != leader).expect("a follower");
    let r = http(
        c.port(follower),
        "PUT",
        "/key/z",
        "1",
        &[("X-No-Forward", "1")],
    )
    .expect("put");
    assert_eq!(r.status, 421, "{}", r.body);
    let v = r.json();
    assert_eq!(v["error"], "not_leader");
    assert_eq!(v["leader"], format!("node{leader}"));
    assert_eq!(v["leader_id"].as_u64(), Some(leader));
    assert_eq!(v["leader_addr"], format!("127.0.0.1:{}", c.port(leader)));
    // Without X-No-Forward a follower forwards the write to the leader (the seed's session:
    // `curl -X PUT localhost:8001/key/name -d Alice` works whichever node leads).
    let r = http(c.port(follower), "PUT", "/key/name", "Alice", &[]).expect("put");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["status"], "committed", "{}", r.body);
    assert_eq!(c.get(leader, "name"), Some("Alice".to_string()));
    let r = http(c.port(follower), "GET", "/key/k1", "", &[]).expect("get");
    assert_eq!(
        r.status, 421,
        "a follower must not answer reads: {}",
        r.body
    );

    // cas: absent → 1 applies; wrong expectation fails with the current value.
    let cas = |from: &str, to: &str| {
        c.call(
            follower,
            "POST",
            "/key/c/cas",
            &format!(r#"{{"from":{from},"to":{to}}}"#),
        )
        .json()
    };
    let a = cas("null", "\"1\"");
    assert_eq!(a["applied"], true, "{a}");
    let b = cas("\"7\"", "\"2\"");
    assert_eq!(b["applied"], false);
    assert_eq!(b["value"], "1");
    let d = cas("null", "\"2\"");
    assert_eq!(
        (d["applied"].as_bool(), d["value"].as_str()),
        (Some(false), Some("1"))
    );
    assert_eq!(cas("\"1\"", "\"2\"")["applied"], true);
    assert_eq!(c.get(3, "c"), Some("2".into()));

    // delete
    let r = c.call(2, "DELETE", "/key/c", "");
    assert_eq!(r.json()["status"], "committed");
    assert_eq!(c.get(1, "c"), None);

    // bad requests
    let r = http(c.port(leader), "POST", "/key/c/cas", "not json", &[]).expect("bad");
    assert_eq!(
        (r.status, r.json()["error"].as_str()),
        (400, Some("bad_request"))
    );
    let r = http(
        c.port(leader),
        "PUT",
        "/key/c",
        "1",
        &[("X-Request-Id", "noseq")],
    )
    .expect("bad");
    assert_eq!(r.status, 400);

    // status fields of the contract
    let s = c.status(leader).expect("status");
    for f in [
        "id",
        "name",
        "role",
        "term",
        "leader",
        "leader_id",
        "commit_index",
        "applied_index",
        "log_first_index",
        "log_last_index",
        "snapshot_index",
        "snapshot_bytes",
    ] {
        assert!(s.get(f).is_some(), "status lacks {f}: {s}");
    }
    assert_eq!(s["role"], "leader");
    assert_eq!(s["name"], format!("node{leader}"));
}

#[test]
fn cluster_request_id_retry_is_applied_once() {
    let c = Cluster::start(3, &[]);
    let leader = c.wait_leader(Duration::from_secs(10));
    let port = c.port(leader);
    let h = [("X-Request-Id", "w7-1")];
    let r1 = http(port, "PUT", "/key/d", "1", &h).expect("put");
    assert_eq!(r1.status, 200, "{}", r1.body);
    let r = http(port, "PUT", "/key/d", "2", &[("X-Request-Id", "w8-1")]).expect("put");
    assert_eq!(r.status, 200);
    // A retry of w7-1 must not overwrite the later write.
    let r2 = http(port, "PUT", "/key/d", "1", &h).expect("retry");
    assert_eq!(r2.status, 200, "{}", r2.body);
    assert_eq!(c.get(leader, "d"), Some("2".into()));
    // A cas retried reports its first outcome and is not applied again.
    let cas = r#"{"from":"2","to":"3"}"#;
    let h = [("X-Request-Id", "w9-4")];
    assert_eq!(
        http(port, "POST", "/key/d/cas", cas, &h)
            .expect("cas")
            .json()["applied"],
        true
    );
    c.put(leader, "d", "2");
    assert_eq!(
        http(port, "POST", "/key/d/cas", cas, &h)
            .expect("cas")
            .json()["applied"],
        true
    );
    assert_eq!(c.get(leader, "d"), Some("2".into()));
    // An older sequence number of the same client is refused, never applied.
    let r = http(port, "PUT", "/key/d", "old", &[("X-Request-Id", "w9-3")]).expect("old");
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(c.get(leader, "d"), Some("2".into()));
}

#[test]
fn cluster_five_nodes_elect_and_replicate() {
    let c = Cluster::start(5, &[]);
    let leader = c.wait_leader(Duration::from_secs(10));
    for i in 0..10 {
        c.put((i % 5) + 1, &format!("k{i}"), &i.to_string());
    }
    let commit = c.status(leader).expect("status")["commit_index"]
        .as_u64()
        .expect("commit");
    assert!(commit >= 11, "{commit}");
    // Every node applies everything.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    for id in 1..=5 {
        loop {
            let applied = c.status(id).expect("status")["applied_index"]
                .as_u64()
                .unwrap_or(0);
            if applied >= commit {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "node {id} stuck at {applied}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    for i in 0..10u64 {
        assert_eq!(c.get(5, &format!("k{i}")), Some(i.to_string()));
    }
}
