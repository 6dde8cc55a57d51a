//! A leader kill while locks are held: the holders' sessions survive (the new leader gives
//! every session a fresh TTL, and the clients keep their sessions alive through it), the
//! locks stay with their holders and tokens, and the next acquisition's token is higher.

mod support;

use std::time::Duration;
use support::{token_of, ClientProc, Cluster};

#[test]
fn sessions_and_locks_survive_a_leader_kill_and_tokens_keep_increasing() {
    let mut c = Cluster::start(3, &[]);
    let leader = c.wait_leader(Duration::from_secs(10));
    let names = ["/locks/a", "/locks/b"];
    let holders: Vec<ClientProc> = names
        .iter()
        .map(|n| {
            ClientProc::spawn(c.client(&["--ttl-ms", "1500", "acquire", n, "--hold-ms", "5000"]))
        })
        .collect();
    let tokens: Vec<u64> = holders
        .iter()
        .zip(names)
        .map(|(h, n)| token_of(&h.line(Duration::from_secs(10)).expect("acquired"), n))
        .collect();
    c.kill(leader);
    let new_leader = c.wait_leader(Duration::from_secs(10));
    assert_ne!(new_leader, leader);
    // Two TTLs later the holders still hold, with the same tokens.
    std::thread::sleep(Duration::from_millis(3000));
    for (n, t) in names.iter().zip(&tokens) {
        let (_, token) = c.holder(new_leader, n).expect("still held");
        assert_eq!(token, *t, "{n} keeps its token");
    }
    for (mut h, n) in holders.into_iter().zip(names) {
        assert_eq!(
            h.line(Duration::from_secs(10)),
            Some(format!("released {n}"))
        );
        assert_eq!(
            h.wait(Duration::from_secs(5)),
            Some(0),
            "{n}: holder exits 0"
        );
    }
    for (n, t) in names.iter().zip(&tokens) {
        let next = ClientProc::spawn(c.client(&["acquire", n, "--hold-ms", "10"]));
        let t2 = token_of(&next.line(Duration::from_secs(10)).expect("acquired"), n);
        assert!(t2 > *t, "{n}: token {t} then {t2} across the leader change");
    }
}
