//! The HTTP protocol against a real 3-node cluster: `/status`, 421 redirects naming the
//! leader, sessions (open, keep-alive, close, 410 once gone), lock release by a non-holder
//! (409), values with versions (set, cas, delete, 404), ephemeral nodes vanishing with their
//! session, watches (a long-poll woken by a change, and one that times out), and bad input
//! (400, 404 for an unknown route).

mod support;

use std::time::{Duration, Instant};
use support::{http, Cluster};

#[test]
fn status_and_redirects_name_the_leader() {
    let c = Cluster::start(3, &[]);
    let leader = c.wait_leader(Duration::from_secs(10));
    let st = c.status(leader).expect("status");
    for field in [
        "id",
        "name",
        "role",
        "term",
        "leader",
        "leader_id",
        "commit_index",
    ] {
        assert!(!st[field].is_null(), "/status has {field}: {st}");
    }
    assert_eq!(st["role"], "leader");
    let follower = (1..=3).find(|&i| i != leader).expect("follower");
    let r = http(
        c.port(follower),
        "POST",
        "/session",
        r#"{"ttl_ms":1000}"#,
        &[],
    )
    .expect("http");
    assert_eq!(r.status, 421, "{}", r.body);
    let v = r.json();
    assert_eq!(v["error"], "not_leader");
    assert_eq!(v["leader_id"].as_u64(), Some(leader));
    assert_eq!(v["leader"], format!("node{leader}"));
    assert_eq!(v["leader_addr"], format!("127.0.0.1:{}", c.port(leader)));
    for path in ["/lock?name=/locks/x", "/node?path=/x", "/watch?path=/x"] {
        let r = http(c.port(follower), "GET", path, "", &[]).expect("http");
        assert_eq!(r.status, 421, "{path} is linearizable: {}", r.body);
    }
}

#[test]
fn sessions_locks_and_bad_input() {
    let c = Cluster::start(3, &[]);
    let l = c.wait_leader(Duration::from_secs(10));
    let s = c.open_session(l, 5000);
    let ka = c.call(l, "POST", &format!("/session/{s}/keepalive"), "");
    assert_eq!((ka.status, ka.json()["ttl_ms"].as_u64()), (200, Some(5000)));
    let acq = format!(r#"{{"session":{s},"name":"/locks/r"}}"#);
    let r = c.call(l, "POST", "/lock/acquire", &acq);
    assert_eq!(r.json()["acquired"], true, "{}", r.body);
    let other = c.open_session(l, 5000);
    let r = c.call(
        l,
        "POST",
        "/lock/acquire",
        &format!(r#"{{"session":{other},"name":"/locks/r"}}"#),
    );
    assert_eq!(
        (r.json()["acquired"].as_bool(), r.json()["holder"].as_u64()),
        (Some(false), Some(s))
    );
    let r = c.call(
        l,
        "POST",
        "/lock/release",
        &format!(r#"{{"session":{other},"name":"/locks/r"}}"#),
    );
    assert_eq!(
        (r.status, r.json()["error"].as_str()),
        (409, Some("not_holder"))
    );
    let r = c.call(l, "DELETE", &format!("/session/{s}"), "");
    assert_eq!(r.json()["released"][0], "/locks/r", "{}", r.body);
    assert_eq!(c.holder(l, "/locks/r"), None);
    let r = c.call(l, "POST", &format!("/session/{s}/keepalive"), "");
    assert_eq!(
        (r.status, r.json()["error"].as_str()),
        (410, Some("session_expired"))
    );
    let r = c.call(l, "POST", "/lock/acquire", &acq);
    assert_eq!(r.status, 410, "{}", r.body);
    for (method, path, body) in [
        ("POST", "/session", "{not json"),
        ("POST", "/session", r#"{"ttl_ms":5}"#),
        (
            "POST",
            "/lock/acquire",
            r#"{"session":1,"name":"no-slash"}"#,
        ),
        (
            "POST",
            "/lock/acquire",
            r#"{"session":1,"name":"/l","wait_ms":999999}"#,
        ),
        ("POST", "/node/cas", r#"{"path":"/x","value":"v"}"#),
        ("PUT", "/node", r#"{"path":"/x","value":"v","bogus":1}"#),
        ("POST", "/session/abc/keepalive", ""),
        ("DELETE", "/session/-1", ""),
        ("GET", "/node", ""),
        ("GET", "/watch?path=/x&after=z", ""),
        ("GET", "/lock?name=relative", ""),
    ] {
        let r = c.call(l, method, path, body);
        assert_eq!(
            (r.status, r.json()["error"].as_str()),
            (400, Some("bad_request")),
            "{method} {path} {body}: {}",
            r.body
        );
    }
    let r = c.call_h(
        l,
        "PUT",
        "/node",
        r#"{"path":"/x","value":"v"}"#,
        &[("X-Request-Id", "nodash")],
    );
    assert_eq!(r.status, 400);
    let r = c.call(l, "GET", "/nope", "");
    assert_eq!(
        (r.status, r.json()["error"].as_str()),
        (404, Some("no_route"))
    );
}

#[test]
fn values_versions_and_ephemeral_nodes() {
    let c = Cluster::start(3, &[]);
    let l = c.wait_leader(Duration::from_secs(10));
    let r = c.call(l, "GET", "/node?path=/cfg/a", "");
    assert_eq!(
        (r.status, r.json()["error"].as_str()),
        (404, Some("not_found"))
    );
    let r = c.call(
        l,
        "POST",
        "/node/cas",
        r#"{"path":"/cfg/a","value":"1","version":0}"#,
    );
    let v1 = r.json()["version"].as_u64().expect("version");
    let r = c.call(
        l,
        "POST",
        "/node/cas",
        r#"{"path":"/cfg/a","value":"2","version":0}"#,
    );
    assert_eq!(
        (r.json()["written"].as_bool(), r.json()["version"].as_u64()),
        (Some(false), Some(v1))
    );
    let r = c.call(
        l,
        "POST",
        "/node/cas",
        &format!(r#"{{"path":"/cfg/a","value":"2","version":{v1}}}"#),
    );
    let v2 = r.json()["version"].as_u64().expect("version");
    assert!(v2 > v1);
    let r = c.call(l, "GET", "/node?path=/cfg/a", "");
    assert_eq!(
        (r.json()["value"].as_str(), r.json()["version"].as_u64()),
        (Some("2"), Some(v2))
    );
    let s = c.open_session(l, 5000);
    let r = c.call(
        l,
        "PUT",
        "/node",
        &format!(r#"{{"path":"/eph","value":"x","session":{s}}}"#),
    );
    assert_eq!(r.json()["written"], true, "{}", r.body);
    assert_eq!(
        c.call(l, "GET", "/node?path=/eph", "").json()["ephemeral_owner"].as_u64(),
        Some(s)
    );
    c.call(l, "DELETE", &format!("/session/{s}"), "");
    assert_eq!(
        c.call(l, "GET", "/node?path=/eph", "").status,
        404,
        "vanished with its session"
    );
    let r = c.call(l, "DELETE", &format!("/node?path=/cfg/a&version={v1}"), "");
    assert_eq!(r.json()["deleted"], false);
    let r = c.call(l, "DELETE", &format!("/node?path=/cfg/a&version={v2}"), "");
    assert_eq!(r.json()["deleted"], true);
    assert_eq!(c.call(l, "DELETE", "/node?path=/cfg/a", "").status, 404);
}

#[test]
fn a_watch_returns_when_the_path_changes_or_its_wait_ends() {
    let c = Cluster::start(3, &[]);
    let l = c.wait_leader(Duration::from_secs(10));
    let r = c.call(l, "PUT", "/node", r#"{"path":"/w","value":"0"}"#);
    let after = r.json()["index"].as_u64().expect("index");
    let port = c.port(l);
    let started = Instant::now();
    let watcher = std::thread::spawn(move || {
        http(
            port,
            "GET",
            &format!("/watch?path=/w&after={after}&wait_ms=8000"),
            "",
            &[],
        )
        .expect("watch")
    });
    std::thread::sleep(Duration::from_millis(300));
    c.call(l, "PUT", "/node", r#"{"path":"/other","value":"x"}"#);
    let w = c.call(l, "PUT", "/node", r#"{"path":"/w","value":"1"}"#);
    let written = w.json()["index"].as_u64().expect("index");
    let r = watcher.join().expect("watcher");
    let v = r.json();
    assert_eq!(v["changed"], true, "{}", r.body);
    assert_eq!(
        v["modified_index"].as_u64(),
        Some(written),
        "woken by /w, not /other"
    );
    assert!(
        started.elapsed() < Duration::from_secs(7),
        "woken, not timed out"
    );
    let r = c.call(
        l,
        "GET",
        &format!("/watch?path=/w&after={written}&wait_ms=300"),
        "",
    );
    assert_eq!(r.json()["changed"], false, "{}", r.body);
    // A lock change wakes a watch on the lock's name.
    let s = c.open_session(l, 5000);
    let r = c.call(
        l,
        "POST",
        "/lock/acquire",
        &format!(r#"{{"session":{s},"name":"/locks/w"}}"#),
    );
    let idx = r.json()["index"].as_u64().expect("index");
    let r = c.call(l, "GET", "/watch?path=/locks/w&after=0&wait_ms=100", "");
    assert_eq!(r.json()["modified_index"].as_u64(), Some(idx));
}
