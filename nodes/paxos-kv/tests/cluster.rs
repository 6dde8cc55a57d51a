//! Three real `paxos-node` processes on loopback: the raft-kv protocol through any node
//! (421 redirects), losing the leader, a restarted node catching up (by chosen values and
//! from a snapshot), a full restart from disk, and the `stale-read` bug visible.

mod common;

use common::{http, Cluster};
use serde_json::json;
use std::time::{Duration, Instant};

fn wait_for(what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out waiting for {what}");
}

#[test]
fn writes_reads_and_cas_work_through_any_node() {
    let c = Cluster::start(3, &[]);
    let leader = c.leader();
    let follower = if leader == 1 { 2 } else { 1 };
    let (s, v) = http(&c.addr(follower), "PUT", "/key/a", &[], "1").unwrap();
    assert_eq!(s, 421, "{v}");
    assert_eq!(v["error"], "not_leader");
    assert_eq!(v["leader_id"], leader);
    assert_eq!(v["leader"], format!("node{leader}"));
    assert_eq!(v["leader_addr"], c.addr(leader));
    for id in 1..=3 {
        let (s, v) = c.request(id, "PUT", &format!("/key/k{id}"), &format!("v{id}"));
        assert_eq!((s, &v["status"]), (200, &json!("committed")), "{v}");
    }
    for id in 1..=3 {
        let (s, v) = c.request(4 - id, "GET", &format!("/key/k{id}"), "");
        assert_eq!((s, v), (200, json!({"value": format!("v{id}")})));
    }
    assert_eq!(c.request(2, "GET", "/key/none", "").0, 404);
    let (s, v) = c.request(3, "POST", "/key/k1/cas", r#"{"from":"nope","to":"x"}"#);
    assert_eq!((s, v), (200, json!({"applied": false, "value": "v1"})));
    let (s, v) = c.request(3, "POST", "/key/k1/cas", r#"{"from":"v1","to":"x"}"#);
    assert_eq!((s, &v["applied"]), (200, &json!(true)), "{v}");
    let (s, v) = c.request(1, "POST", "/key/fresh/cas", r#"{"from":null,"to":5}"#);
    assert_eq!((s, &v["applied"]), (200, &json!(true)), "{v}");
    assert_eq!(
        c.request(1, "GET", "/key/fresh", "").1,
        json!({"value": "5"})
    );
    assert_eq!(c.request(2, "DELETE", "/key/fresh", "").0, 200);
    assert_eq!(c.request(2, "GET", "/key/fresh", "").0, 404);
    assert_eq!(c.request(2, "POST", "/key/x/cas", "{bad").0, 400);
    let st = c.status(leader).unwrap();
    for field in [
        "id",
        "name",
        "term",
        "leader",
        "leader_id",
        "commit_index",
        "applied_index",
    ] {
        assert!(st.get(field).is_some(), "status lacks {field}: {st}");
    }
}

#[test]
fn a_retried_request_id_applies_once() {
    let c = Cluster::start(3, &[]);
    let l = c.addr(c.leader());
    let h = [("X-Request-Id", "client7-1")];
    assert_eq!(http(&l, "PUT", "/key/r", &h, "first").unwrap().0, 200);
    assert_eq!(http(&l, "PUT", "/key/r", &[], "second").unwrap().0, 200);
    assert_eq!(http(&l, "PUT", "/key/r", &h, "first").unwrap().0, 200);
    assert_eq!(
        http(&l, "GET", "/key/r", &[], "").unwrap().1,
        json!({"value": "second"})
    );
    let old = [("X-Request-Id", "client7-0")];
    assert_eq!(http(&l, "PUT", "/key/r", &old, "x").unwrap().0, 400);
}

#[test]
fn the_cluster_keeps_going_when_the_leader_is_killed() {
    let mut c = Cluster::start(3, &[]);
    let old = c.leader();
    assert_eq!(c.request(old, "PUT", "/key/x", "1").0, 200);
    c.kill(old);
    let survivor = if old == 1 { 2 } else { 1 };
    assert_eq!(
        c.request(survivor, "GET", "/key/x", "").1,
        json!({"value": "1"})
    );
    assert_eq!(c.request(survivor, "PUT", "/key/x", "2").0, 200);
    let new = c.leader();
    assert_ne!(new, old);
    assert!(c.status(new).unwrap()["term"].as_u64().unwrap() >= 2);
    c.spawn(old);
    c.wait_serving(old);
    wait_for("the old leader to learn x=2", || {
        c.status(old)
            .is_some_and(|s| s["applied_index"] == c.status(new).unwrap()["commit_index"])
    });
}

#[test]
fn a_restarted_node_catches_up_from_a_snapshot_and_everything_survives_a_full_restart() {
    let mut c = Cluster::start(3, &["--snapshot-threshold", "20"]);
    let leader = c.leader();
    let lagging = if leader == 3 { 2 } else { 3 };
    c.kill(lagging);
    for i in 0..60 {
        assert_eq!(
            c.request(leader, "PUT", &format!("/key/k{i}"), &i.to_string())
                .0,
            200
        );
    }
    let target = c.status(leader).unwrap()["commit_index"].as_u64().unwrap();
    assert!(
        c.status(leader).unwrap()["snapshot_index"]
            .as_u64()
            .unwrap()
            >= 20
    );
    c.spawn(lagging);
    c.wait_serving(lagging);
    wait_for("the restarted node to catch up", || {
        c.status(lagging)
            .is_some_and(|s| s["applied_index"].as_u64() >= Some(target) && s["keys"] == 60)
    });
    let st = c.status(lagging).unwrap();
    assert!(
        st["snapshot_index"].as_u64().unwrap() >= 20,
        "installed a snapshot: {st}"
    );
    for id in 1..=3 {
        c.kill(id);
    }
    for id in 1..=3 {
        c.spawn(id);
    }
    let again = c.leader();
    assert_eq!(
        c.request(again, "GET", "/key/k59", "").1,
        json!({"value": "59"})
    );
    assert_eq!(
        c.request(lagging, "GET", "/key/k0", "").1,
        json!({"value": "0"})
    );
}

/// Node 3 misses x=2, then comes back alone (the majority is gone): with `stale-read` it
/// answers its old x=1 as if current; the correct node never does.
fn isolated_read(bugs: &[&str]) -> (u16, serde_json::Value) {
    let mut c = Cluster::start(3, bugs);
    let leader = c.leader();
    assert_eq!(c.request(leader, "PUT", "/key/x", "1").0, 200);
    wait_for("x=1 everywhere", || {
        (1..=3).all(|id| c.status(id).is_some_and(|s| s["keys"] == 1))
    });
    let (other, lonely) = match leader {
        3 => (1, 2),
        l => (l, 3),
    };
    c.kill(lonely);
    assert_eq!(c.request(other, "PUT", "/key/x", "2").0, 200);
    for id in 1..=3 {
        c.kill(id);
    }
    c.spawn(lonely);
    c.wait_serving(lonely);
    let addr = c.addr(lonely);
    http(&addr, "GET", "/key/x", &[], "").expect("an answer")
}

#[test]
fn stale_read_answers_old_data_from_an_isolated_node() {
    let (s, v) = isolated_read(&["--bug", "stale-read", "--request-timeout-ms", "500"]);
    assert_eq!(
        (s, v),
        (200, json!({"value": "1"})),
        "the bug serves the stale value"
    );
    let (s, v) = isolated_read(&["--request-timeout-ms", "500"]);
    assert_ne!(
        s, 200,
        "the correct node never answers without a majority: {v}"
    );
}

#[test]
fn stale_read_answers_on_a_follower_without_redirecting() {
    let c = Cluster::start(3, &["--bug", "stale-read"]);
    let leader = c.leader();
    let follower = if leader == 1 { 2 } else { 1 };
    assert_eq!(c.request(leader, "PUT", "/key/s", "v").0, 200);
    wait_for("the follower to apply", || {
        c.status(follower).is_some_and(|s| s["keys"] == 1)
    });
    let (s, v) = http(&c.addr(follower), "GET", "/key/s", &[], "").unwrap();
    assert_eq!((s, v), (200, json!({"value": "v"})));
    assert_eq!(c.status(follower).unwrap()["bugs"], json!(["stale-read"]));
}

#[test]
fn a_write_without_a_majority_is_never_acknowledged() {
    let mut c = Cluster::start(3, &["--request-timeout-ms", "800"]);
    let leader = c.leader();
    assert_eq!(c.request(leader, "PUT", "/key/q", "1").0, 200);
    for id in (1..=3).filter(|&id| id != leader) {
        c.kill(id);
    }
    let (s, v) = http(&c.addr(leader), "PUT", "/key/q", &[], "2").expect("an answer");
    assert!(
        [421, 503, 504].contains(&s),
        "a lone node acknowledged a write: {s} {v}"
    );
    wait_for("the lone leader to step down", || {
        c.status(leader).is_some_and(|s| s["role"] != "leader")
    });
    let (s, _) = http(&c.addr(leader), "GET", "/key/q", &[], "").expect("an answer");
    assert_eq!(s, 421, "no linearizable read without a majority");
}
