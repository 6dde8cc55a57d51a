//! Each deliberate bug's effect on a real 3-node cluster, next to the correct node's
//! behaviour in the same situation: `no-grace` (a session whose client still holds a valid
//! lease is expired), `reuse-token` (a token goes down across a leader change), and
//! `stale-read` (a follower answers a read instead of redirecting).

mod support;

use std::time::Duration;
use support::{http, Cluster};

/// One keep-alive, then silence for 2/3 of the TTL: the client (lease from the send time)
/// still holds a valid lease. Is the session still alive on the service?
fn alive_after_two_thirds_of_the_ttl(extra: &[&str]) -> bool {
    let c = Cluster::start(3, extra);
    let l = c.wait_leader(Duration::from_secs(10));
    let s = c.open_session(l, 1500);
    let r = c.call(l, "POST", &format!("/session/{s}/keepalive"), "");
    assert_eq!(r.status, 200);
    std::thread::sleep(Duration::from_millis(1000));
    let r = c.call(l, "POST", &format!("/session/{s}/keepalive"), "");
    r.status == 200
}

#[test]
fn no_grace_expires_a_session_whose_client_lease_is_still_valid() {
    assert!(
        alive_after_two_thirds_of_the_ttl(&[]),
        "correct node keeps it"
    );
    assert!(
        !alive_after_two_thirds_of_the_ttl(&["--bug", "no-grace"]),
        "no-grace expires it"
    );
}

/// The token of an acquisition after a leader change, compared with the one before.
fn tokens_across_a_leader_kill(extra: &[&str]) -> (u64, u64) {
    let mut c = Cluster::start(3, extra);
    let l = c.wait_leader(Duration::from_secs(10));
    let acquire_release = |c: &Cluster, via: u64| {
        let s = c.open_session(via, 5000);
        let body = format!(r#"{{"session":{s},"name":"/locks/t"}}"#);
        let r = c.call(via, "POST", "/lock/acquire", &body);
        let token = r.json()["token"].as_u64().expect("token");
        c.call(via, "DELETE", &format!("/session/{s}"), "");
        token
    };
    acquire_release(&c, l);
    let before = acquire_release(&c, l);
    c.kill(l);
    let l2 = c.wait_leader(Duration::from_secs(10));
    (before, acquire_release(&c, l2))
}

#[test]
fn reuse_token_hands_out_a_lower_token_after_a_leader_change() {
    let (before, after) = tokens_across_a_leader_kill(&[]);
    assert!(after > before, "correct: {before} then {after}");
    let (before, after) = tokens_across_a_leader_kill(&["--bug", "reuse-token"]);
    assert!(after <= before, "reuse-token: {before} then {after}");
}

#[test]
fn stale_read_answers_on_a_follower() {
    let c = Cluster::start(3, &["--bug", "stale-read"]);
    let l = c.wait_leader(Duration::from_secs(10));
    c.call(l, "PUT", "/node", r#"{"path":"/s","value":"v"}"#);
    let f = (1..=3).find(|&i| i != l).expect("follower");
    let r = http(c.port(f), "GET", "/node?path=/s", "", &[]).expect("http");
    assert_ne!(r.status, 421, "a follower answers itself: {}", r.body);
    assert!(r.status == 200 || r.status == 404, "{}", r.body);
    assert_eq!(c.status(f).expect("status")["bugs"][0], "stale-read");
}
