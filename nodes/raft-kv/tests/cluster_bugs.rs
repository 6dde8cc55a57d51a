//! The deliberate bugs change observable behaviour of real nodes (and are off by default):
//! stale-read answers reads on followers, early-ack acknowledges writes without a quorum,
//! no-persist-vote never writes the hard state file.

mod cluster_support;

use cluster_support::{http, Cluster};
use std::time::{Duration, Instant};

#[test]
fn bug_stale_read_lets_followers_answer_reads() {
    let c = Cluster::start(3, &["--bug", "stale-read"]);
    let leader = c.wait_leader(Duration::from_secs(10));
    let follower = (1..=3).find(|&i| i != leader).expect("follower");
    assert_eq!(c.status(follower).expect("status")["bugs"][0], "stale-read");
    c.put(leader, "a", "1");
    // The follower answers from its own state: 200 (eventually with the value), never 421.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let r = http(c.port(follower), "GET", "/key/a", "", &[]).expect("get");
        assert_ne!(r.status, 421, "stale-read must not redirect");
        if r.status == 200 && r.json()["value"] == "1" {
            break;
        }
        assert!(Instant::now() < deadline, "follower never served the value");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn bug_early_ack_acknowledges_without_a_quorum() {
    let mut c = Cluster::start(3, &["--bug", "early-ack"]);
    let leader = c.wait_leader(Duration::from_secs(10));
    c.put(leader, "warm", "1");
    for id in (1..=3).filter(|&i| i != leader) {
        c.kill(id);
    }
    // No follower is alive, so nothing can commit; the buggy leader still says "committed".
    let r = http(c.port(leader), "PUT", "/key/lost", "1", &[]).expect("put");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["status"], "committed");
    let s = c.status(leader).expect("status");
    let index = r.json()["index"].as_u64().expect("index");
    assert!(
        s["commit_index"].as_u64().expect("commit") < index,
        "acked index {index} is not committed: {s}"
    );
}

#[test]
fn bug_early_ack_is_off_by_default() {
    let mut c = Cluster::start(3, &["--request-timeout-ms", "500"]);
    let leader = c.wait_leader(Duration::from_secs(10));
    for id in (1..=3).filter(|&i| i != leader) {
        c.kill(id);
    }
    let r = http(c.port(leader), "PUT", "/key/lost", "1", &[]).expect("put");
    assert!(
        r.status == 504 || r.status == 503 || r.status == 421,
        "a write without quorum must not be acknowledged: {} {}",
        r.status,
        r.body
    );
}

#[test]
fn bug_no_persist_vote_never_writes_the_hard_state() {
    let c = Cluster::start(3, &["--bug", "no-persist-vote"]);
    let leader = c.wait_leader(Duration::from_secs(10));
    c.put(leader, "a", "1");
    for id in 1..=3 {
        assert!(!c.data_dir(id).join("hardstate").exists());
        assert!(c.data_dir(id).join("wal").exists());
    }
    let ok = Cluster::start(3, &[]);
    let l = ok.wait_leader(Duration::from_secs(10));
    ok.put(l, "a", "1");
    assert!(ok.data_dir(l).join("hardstate").exists());
}
