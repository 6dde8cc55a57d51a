//! The seed's session with real processes: three `lock-node`s, two `lock-client acquire`
//! on the same name. The second waits while the first holds; after a release it gets the
//! lock, and after the first is SIGKILLed it gets the lock once the first's session
//! expires (a TTL later, not before), always with a higher fencing token.

mod support;

use std::time::{Duration, Instant};
use support::{token_of, ClientProc, Cluster};

const NAME: &str = "/locks/resource-1";

#[test]
fn a_waiting_client_gets_the_lock_after_a_release_with_a_higher_token() {
    let c = Cluster::start(3, &[]);
    c.wait_leader(Duration::from_secs(10));
    let a = ClientProc::spawn(c.client(&["acquire", NAME, "--hold-ms", "800"]));
    let first = a.line(Duration::from_secs(10)).expect("first acquires");
    let t1 = token_of(&first, NAME);
    let started = Instant::now();
    let b = ClientProc::spawn(c.client(&["acquire", NAME, "--hold-ms", "50"]));
    let second = b.line(Duration::from_secs(10)).expect("second acquires");
    // The first printed its release before the second could acquire.
    assert_eq!(
        a.line(Duration::from_secs(5)).as_deref(),
        Some("released /locks/resource-1")
    );
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "the second waited"
    );
    let t2 = token_of(&second, NAME);
    assert!(t2 > t1, "tokens {t1} then {t2}");
    assert_eq!(
        b.line(Duration::from_secs(5)).as_deref(),
        Some("released /locks/resource-1")
    );
}

#[test]
fn after_the_holder_is_killed_the_lock_is_released_when_its_session_expires() {
    let c = Cluster::start(3, &[]);
    c.wait_leader(Duration::from_secs(10));
    let ttl = 1500u64;
    let ttl_flag = ttl.to_string();
    let mut a = ClientProc::spawn(c.client(&["--ttl-ms", &ttl_flag, "acquire", NAME]));
    let t1 = token_of(
        &a.line(Duration::from_secs(10)).expect("first acquires"),
        NAME,
    );
    let mut b = ClientProc::spawn(c.client(&["acquire", NAME, "--hold-ms", "50"]));
    assert_eq!(
        b.line(Duration::from_millis(700)),
        None,
        "second waits while held"
    );
    let killed = Instant::now();
    a.kill();
    let second = b
        .line(Duration::from_secs(15))
        .expect("second acquires after expiry");
    let waited = killed.elapsed();
    let t2 = token_of(&second, NAME);
    assert!(t2 > t1, "tokens {t1} then {t2}");
    // The killed holder's last keep-alive was at most TTL/3 before the kill: the service
    // must not free the lock before ~2/3 of the TTL after the kill.
    assert!(
        waited >= Duration::from_millis(ttl * 2 / 3 - 100),
        "freed too early: {waited:?}"
    );
    assert_eq!(b.wait(Duration::from_secs(10)), Some(0));
}
