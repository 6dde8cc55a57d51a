//! The running replica around the pure core: the core behind a mutex, the clients waiting
//! for their requests to execute, and `drain`, which takes everything the core produced and
//! acts on it (messages to the transport, signed replies to waiting clients, detection
//! lines on stdout, events to the log).

use crate::core::{Core, Output, RequestOutcome};
use crate::crypto::Signer;
use crate::faults::Mode;
use crate::message::{Signed, SignedReply};
use crate::transport::Transport;
use crate::types::{Reply, Request};
use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::oneshot;

/// Clients waiting for a request, keyed by (client, timestamp).
type Waiters = HashMap<(String, u64), Vec<oneshot::Sender<SignedReply>>>;

/// What a client request turned into.
pub enum Submitted {
    /// Wait on this for the reply.
    Wait(oneshot::Receiver<SignedReply>),
    /// Already executed.
    Done(SignedReply),
    /// Older than the client's last executed timestamp.
    Stale(u64),
}

/// The replica's shared state.
pub struct Node {
    inner: Mutex<Inner>,
    signer: Box<dyn Signer + Send + Sync>,
    transport: Transport,
}

struct Inner {
    core: Core,
    waiters: Waiters,
}

impl Node {
    /// Wrap a core.
    pub fn new(
        core: Core,
        signer: Box<dyn Signer + Send + Sync>,
        transport: Transport,
    ) -> Arc<Node> {
        Arc::new(Node {
            inner: Mutex::new(Inner {
                core,
                waiters: HashMap::new(),
            }),
            signer,
            transport,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Read the core.
    pub fn with_core<T>(&self, f: impl FnOnce(&Core) -> T) -> T {
        f(&self.lock().core)
    }

    /// Messages from a peer.
    pub fn on_messages(&self, msgs: Vec<Signed>) {
        let mut g = self.lock();
        for m in msgs {
            g.core.on_message(m);
        }
        self.drain(&mut g);
    }

    /// One tick.
    pub fn on_tick(&self) {
        let mut g = self.lock();
        g.core.on_tick();
        self.drain(&mut g);
    }

    /// Switch the Byzantine mode.
    pub fn set_byzantine(&self, mode: Option<Mode>) {
        let mut g = self.lock();
        g.core.set_byzantine(mode);
        let line = match mode {
            Some(m) => format!("node {} now plays Byzantine mode {m}", g.core.id()),
            None => format!("node {} is honest again", g.core.id()),
        };
        drop(g);
        tracing::warn!("{line}");
    }

    /// A client request.
    pub fn submit(&self, request: Request) -> Submitted {
        let mut g = self.lock();
        let key = (request.client.clone(), request.timestamp);
        let outcome = g.core.on_request(request);
        let result = match outcome {
            RequestOutcome::Accepted => {
                let (tx, rx) = oneshot::channel();
                g.waiters.entry(key).or_default().push(tx);
                Submitted::Wait(rx)
            }
            RequestOutcome::Done(reply) => Submitted::Done(self.sign_reply(&g, reply)),
            RequestOutcome::Stale { last } => Submitted::Stale(last),
        };
        self.drain(&mut g);
        result
    }

    /// Forget a waiter that gave up.
    pub fn forget(&self, client: &str, timestamp: u64) {
        let mut g = self.lock();
        if let Some(list) = g.waiters.get_mut(&(client.to_string(), timestamp)) {
            list.retain(|tx| !tx.is_closed());
            if list.is_empty() {
                g.waiters.remove(&(client.to_string(), timestamp));
            }
        }
    }

    fn sign_reply(&self, g: &Inner, reply: Reply) -> SignedReply {
        let mut signed = SignedReply::new(reply, self.signer.as_ref());
        if g.core.byzantine() == Some(Mode::BadSignature) {
            if let Some(b) = signed.signature.first_mut() {
                *b ^= 0x5a;
            }
        }
        signed
    }

    fn drain(&self, g: &mut Inner) {
        let out: Output = g.core.take_output();
        for m in out.messages {
            self.transport.send(m);
        }
        let silent = g.core.byzantine() == Some(Mode::Silent);
        for reply in out.replies {
            let key = (reply.client.clone(), reply.timestamp);
            let waiting = g.waiters.remove(&key).unwrap_or_default();
            if silent {
                continue;
            }
            let signed = self.sign_reply(g, reply);
            for tx in waiting {
                let _ = tx.send(signed.clone());
            }
        }
        let mut stdout = std::io::stdout().lock();
        for e in &out.executed {
            let _ = writeln!(stdout, "delivered #{} {}: {}", e.seq, e.client, e.message);
        }
        for d in &out.detections {
            let _ = writeln!(stdout, "{}", d.line());
            tracing::warn!("{}", d.line());
        }
        let _ = stdout.flush();
        for e in out.events {
            tracing::info!("{e}");
        }
    }
}
