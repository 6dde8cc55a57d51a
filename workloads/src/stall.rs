//! Stalled lock holders: the freeze gate of each lock client and the board the nemesis
//! uses to freeze one of them (`--nemesis stall`), as a GC pause or a frozen VM would.
//!
//! A [`FreezeGate`] belongs to one lock client. The client passes through
//! [`FreezeGate::stall_point`] while it holds a lock, after it has checked its lease and
//! just before it writes to the protected resource; its keep-alive task waits on
//! [`FreezeGate::wait_thawed`] before every keep-alive. When the nemesis has armed the gate,
//! the client stops at its next stall point (still believing it holds the lock) and its
//! keep-alives stop too, until the nemesis thaws it; then it writes without looking at its
//! lease again, exactly as a paused process would.
//!
//! [`Stalls`] is the board: every worker's gate, registered by the runner. The nemesis
//! arms one gate ([`Stalls::freeze_one`]), waits until that client is frozen holding a
//! lock, holds it frozen, and thaws it ([`Stalls::thaw_all`]). The runner thaws every gate
//! when the main phase ends, so no worker stays frozen past the run.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::Notify;

/// What a frozen client was holding when it froze.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frozen {
    /// The worker (index of its gate on the board).
    pub worker: usize,
    /// The lock it holds, and the token it holds it with.
    pub lock: String,
    pub token: u64,
}

#[derive(Debug, Default)]
struct GateState {
    armed: bool,
    /// `Some` while frozen: what it holds.
    frozen: Option<(String, u64)>,
}

/// One lock client's freeze gate.
#[derive(Debug, Default)]
pub struct FreezeGate {
    state: Mutex<GateState>,
    /// Wakes the frozen client and its keep-alive task.
    thawed: Notify,
    /// Tells the board that the client froze.
    froze: Notify,
}

impl FreezeGate {
    fn state(&self) -> MutexGuard<'_, GateState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Called by the client holding `lock` with `token`, just before it acts on the lock:
    /// if armed, freezes here until thawed.
    pub async fn stall_point(&self, lock: &str, token: u64) {
        {
            let mut s = self.state();
            if !s.armed {
                return;
            }
            s.armed = false;
            s.frozen = Some((lock.to_string(), token));
        }
        self.froze.notify_waiters();
        self.wait_thawed().await;
    }

    /// Waits while the client is frozen (its keep-alives stop).
    pub async fn wait_thawed(&self) {
        loop {
            let thawed = self.thawed.notified();
            tokio::pin!(thawed);
            thawed.as_mut().enable();
            if self.state().frozen.is_none() {
                return;
            }
            thawed.await;
        }
    }

    /// Whether the client is frozen now.
    pub fn is_frozen(&self) -> bool {
        self.state().frozen.is_some()
    }

    fn arm(&self) {
        self.state().armed = true;
    }

    fn disarm(&self) -> Option<(String, u64)> {
        let mut s = self.state();
        s.armed = false;
        s.frozen.take()
    }

    fn frozen_on(&self) -> Option<(String, u64)> {
        self.state().frozen.clone()
    }
}

/// Every worker's freeze gate (index = worker id).
#[derive(Debug, Default)]
pub struct Stalls {
    gates: Mutex<Vec<Arc<FreezeGate>>>,
}

impl Stalls {
    pub fn new() -> Stalls {
        Stalls::default()
    }

    fn gates(&self) -> Vec<Arc<FreezeGate>> {
        self.gates.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Registers worker `worker`'s gate.
    pub fn register(&self, worker: usize, gate: Arc<FreezeGate>) {
        let mut g = self.gates.lock().unwrap_or_else(|p| p.into_inner());
        if g.len() <= worker {
            g.resize_with(worker + 1, Default::default);
        }
        g[worker] = gate;
    }

    /// How many workers can be frozen.
    pub fn len(&self) -> usize {
        self.gates().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Arms worker `pick % len`'s gate and waits at most `within` for it to freeze while
    /// holding a lock. `None` (and disarmed) when it did not reach a stall point in time.
    pub async fn freeze_one(&self, pick: u64, within: Duration) -> Option<Frozen> {
        let gates = self.gates();
        if gates.is_empty() {
            return None;
        }
        let worker = (pick % gates.len() as u64) as usize;
        let gate = &gates[worker];
        let wait = async {
            loop {
                let froze = gate.froze.notified();
                tokio::pin!(froze);
                froze.as_mut().enable();
                if let Some((lock, token)) = gate.frozen_on() {
                    return Frozen {
                        worker,
                        lock,
                        token,
                    };
                }
                gate.arm();
                froze.await;
            }
        };
        match tokio::time::timeout(within, wait).await {
            Ok(f) => Some(f),
            Err(_) => {
                // Not frozen in time: disarm; if it froze in the meantime, thaw it.
                if gate.disarm().is_some() {
                    gate.thawed.notify_waiters();
                }
                None
            }
        }
    }

    /// Keeps worker `worker` frozen for `length`, or until it is thawed by someone else
    /// ([`Stalls::thaw_all`] at the end of the run); then thaws it. Returns how long it
    /// stayed frozen.
    pub async fn hold(&self, worker: usize, length: Duration) -> Duration {
        let started = std::time::Instant::now();
        let Some(gate) = self.gates().get(worker).cloned() else {
            return Duration::ZERO;
        };
        let _ = tokio::time::timeout(length, gate.wait_thawed()).await;
        if gate.disarm().is_some() {
            gate.thawed.notify_waiters();
        }
        started.elapsed()
    }

    /// Thaws every frozen client (and disarms every gate); returns how many were frozen.
    pub fn thaw_all(&self) -> usize {
        let mut n = 0;
        for gate in self.gates() {
            if gate.disarm().is_some() {
                n += 1;
            }
            gate.thawed.notify_waiters();
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_armed_client_freezes_at_its_stall_point_until_thawed() {
        let board = Arc::new(Stalls::new());
        let gate = Arc::new(FreezeGate::default());
        board.register(0, gate.clone());
        // Not armed: passes at once.
        gate.stall_point("/locks/l0", 3).await;
        let client = {
            let gate = gate.clone();
            tokio::spawn(async move {
                loop {
                    gate.stall_point("/locks/l1", 7).await;
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    if !gate.is_frozen() {
                        return;
                    }
                }
            })
        };
        let frozen = board
            .freeze_one(0, Duration::from_secs(2))
            .await
            .expect("froze");
        assert_eq!(
            frozen,
            Frozen {
                worker: 0,
                lock: "/locks/l1".into(),
                token: 7
            }
        );
        assert!(gate.is_frozen());
        let keepalive = tokio::spawn({
            let gate = gate.clone();
            async move { gate.wait_thawed().await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!keepalive.is_finished(), "keep-alives wait while frozen");
        assert_eq!(board.thaw_all(), 1);
        tokio::time::timeout(Duration::from_secs(2), keepalive)
            .await
            .expect("keep-alive thawed")
            .unwrap();
        tokio::time::timeout(Duration::from_secs(2), client)
            .await
            .expect("client thawed")
            .unwrap();
    }

    #[tokio::test]
    async fn a_client_that_never_reaches_a_stall_point_is_not_frozen() {
        let board = Stalls::new();
        assert!(board
            .freeze_one(3, Duration::from_millis(10))
            .await
            .is_none());
        let gate = Arc::new(FreezeGate::default());
        board.register(1, gate.clone());
        assert_eq!(board.len(), 2);
        assert!(board
            .freeze_one(1, Duration::from_millis(20))
            .await
            .is_none());
        // Disarmed again: the next stall point passes.
        tokio::time::timeout(Duration::from_millis(100), gate.stall_point("/l", 1))
            .await
            .expect("not armed");
    }
}
