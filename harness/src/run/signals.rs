//! Ctrl-C and SIGTERM during a run: the first signal sets a flag every phase watches (the
//! workers stop, the cluster is shut down and cleaned up, the history so far is kept, and
//! the run ends with exit 255 and a message). Signals are received through tokio, so the
//! process is never killed half-way through cleanup.

use crate::exit::HarnessError;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::Arc;
use tokio::sync::Notify;

/// The "a signal arrived" flag.
#[derive(Clone)]
pub struct Interrupt {
    flag: Arc<AtomicBool>,
    /// The exit code the first signal asks for (130 SIGINT, 143 SIGTERM); 0 before one.
    code: Arc<AtomicI32>,
    notify: Arc<Notify>,
}

impl Interrupt {
    /// Start listening for SIGINT and SIGTERM. Call inside the tokio runtime.
    pub fn install() -> Result<Interrupt, HarnessError> {
        use tokio::signal::unix::{signal, SignalKind};
        let mut int = signal(SignalKind::interrupt())
            .map_err(|e| HarnessError::Failed(format!("installing the SIGINT handler: {e}")))?;
        let mut term = signal(SignalKind::terminate())
            .map_err(|e| HarnessError::Failed(format!("installing the SIGTERM handler: {e}")))?;
        let me = Interrupt::new();
        let it = me.clone();
        tokio::spawn(async move {
            loop {
                let (name, code) = tokio::select! {
                    _ = int.recv() => ("SIGINT", 130),
                    _ = term.recv() => ("SIGTERM", 143),
                };
                eprintln!("harness: {name} received: stopping clients, cleaning up the cluster (the history so far is kept)");
                let _ = it
                    .code
                    .compare_exchange(0, code, Ordering::SeqCst, Ordering::SeqCst);
                it.set();
            }
        });
        Ok(me)
    }

    /// A flag with no signal handler (tests, `analyze`).
    pub fn new() -> Interrupt {
        Interrupt {
            flag: Arc::new(AtomicBool::new(false)),
            code: Arc::new(AtomicI32::new(0)),
            notify: Arc::new(Notify::new()),
        }
    }

    pub fn set(&self) {
        self.flag.store(true, Ordering::SeqCst);
        self.notify.notify_waiters();
    }

    pub fn is_set(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }

    /// The conventional exit code of the first signal received (130 for SIGINT, 143 for
    /// SIGTERM), if one was.
    pub fn exit_code(&self) -> Option<i32> {
        match self.code.load(Ordering::SeqCst) {
            0 => None,
            c => Some(c),
        }
    }

    /// Resolves once the flag is set.
    pub async fn wait(&self) {
        loop {
            let notified = self.notify.notified();
            if self.is_set() {
                return;
            }
            notified.await;
        }
    }
}

impl Default for Interrupt {
    fn default() -> Self {
        Interrupt::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn wait_returns_once_set() {
        let i = Interrupt::new();
        let j = i.clone();
        let h = tokio::spawn(async move { j.wait().await });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!h.is_finished());
        i.set();
        tokio::time::timeout(Duration::from_secs(2), h)
            .await
            .unwrap()
            .unwrap();
        assert!(i.is_set());
    }
}
