//! ZooKeeper's lock recipe, on one session of the client's own: a waiter creates an
//! ephemeral sequential znode `/locks/<name>/lock-NNNNNNNNNN`, holds the lock when its znode
//! has the lowest sequence number among the children, and otherwise watches only its
//! predecessor (no herd effect) and looks again when that one goes. Release deletes the znode;
//! a holder whose session expires loses it (the ephemeral znode goes with the session).
//!
//! The fencing token is the holder znode's `czxid` (the zxid of the transaction that created
//! it), not its sequence number: holders are served in sequence order, which is creation
//! order, which is zxid order, so tokens strictly increase per lock; zxids also increase
//! across leader changes (the epoch is the high 32 bits) and, unlike the sequence counter,
//! do not restart if `/locks/<name>` is ever deleted and created again.

use std::time::{Duration, Instant};

use super::zookeeper::code_name;
use super::zookeeper_wire::{code, mode, op, Dec, Enc, Reply, Session, WireError};

/// Why a lock operation did not complete.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LockError {
    #[error("zookeeper: {0}")]
    Wire(#[from] WireError),
    #[error("zookeeper error {0} ({name}) on {1}", name = code_name(*.0))]
    Code(i32, String),
    #[error("not acquired within {0:?} (still queued as {1})")]
    TimedOut(Duration, String),
    #[error("bad reply: {0}")]
    Malformed(String),
    #[error("bad lock name `{0}`: one path segment of letters, digits, '-', '_' or '.'")]
    BadName(String),
}

/// A held lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    /// The holder's znode.
    pub path: String,
    /// The fencing token: the znode's czxid.
    pub token: i64,
}

/// A lock client: one ZooKeeper session.
#[derive(Debug)]
pub struct ZkLockClient {
    session: Session,
    op_timeout: Duration,
}

impl ZkLockClient {
    /// Opens a session on the server at `addr` asking for `session_timeout`.
    pub async fn connect(
        addr: &str,
        session_timeout: Duration,
        op_timeout: Duration,
    ) -> Result<Self, LockError> {
        let session = Session::connect(addr, session_timeout, op_timeout).await?;
        Ok(ZkLockClient {
            session,
            op_timeout,
        })
    }

    /// The session timeout the server granted.
    pub fn session_timeout(&self) -> Duration {
        self.session.timeout
    }

    /// Blocks until `name` is held by this session (or `wait` passes: the queued znode is
    /// deleted then, best effort).
    pub async fn acquire(&mut self, name: &str, wait: Duration) -> Result<Held, LockError> {
        check_name(name)?;
        let dir = format!("/locks/{name}");
        self.ensure("/locks").await?;
        self.ensure(&dir).await?;
        let body = Enc::default()
            .string(&format!("{dir}/lock-"))
            .buffer(&[])
            .open_acl()
            .int(mode::EPHEMERAL_SEQUENTIAL);
        let reply = self.ok(op::CREATE, body.0, &dir).await?;
        let path = Dec::new(&reply.body)
            .string()
            .map_err(|e| LockError::Malformed(e.to_string()))?;
        let deadline = Instant::now() + wait;
        match self.wait_turn(&dir, &path, deadline, wait).await {
            Ok(()) => {}
            Err(e) => {
                let _ = self.delete(&path).await;
                return Err(e);
            }
        }
        let stat = self.ok(
            op::EXISTS,
            Enc::default().string(&path).boolean(false).0,
            &path,
        );
        let reply = stat.await?;
        let stat = Dec::new(&reply.body)
            .stat()
            .map_err(|e| LockError::Malformed(e.to_string()))?;
        Ok(Held {
            path,
            token: stat.czxid,
        })
    }

    /// Releases a held lock (deletes its znode; already gone is fine).
    pub async fn release(&mut self, held: &Held) -> Result<(), LockError> {
        self.delete(&held.path).await
    }

    /// Who holds `name` as this session's server sees it: the lowest child's czxid, or
    /// `None` when nobody queues. (A session always sees its own writes, so a holder finds
    /// its own znode first unless its session has ended.)
    pub async fn holder(&mut self, name: &str) -> Result<Option<i64>, LockError> {
        check_name(name)?;
        let dir = format!("/locks/{name}");
        let body = Enc::default().string(&dir).boolean(false).0;
        let r = self
            .session
            .call(op::GET_CHILDREN, &body, self.op_timeout)
            .await?;
        if r.err == code::NO_NODE {
            return Ok(None);
        }
        if r.err != code::OK {
            return Err(LockError::Code(r.err, dir));
        }
        let mut children = Dec::new(&r.body)
            .strings()
            .map_err(|e| LockError::Malformed(e.to_string()))?;
        children.sort_by_key(|c| sequence(c));
        let Some(first) = children.first() else {
            return Ok(None);
        };
        let path = format!("{dir}/{first}");
        let body = Enc::default().string(&path).boolean(false).0;
        let r = self
            .session
            .call(op::EXISTS, &body, self.op_timeout)
            .await?;
        if r.err == code::NO_NODE {
            // Gone between the two reads: released; look again next time.
            return Ok(None);
        }
        if r.err != code::OK {
            return Err(LockError::Code(r.err, path));
        }
        let stat = Dec::new(&r.body)
            .stat()
            .map_err(|e| LockError::Malformed(e.to_string()))?;
        Ok(Some(stat.czxid))
    }

    /// Closes the session: every lock it holds or waits for is released at once.
    pub async fn close(self) {
        self.session.close(self.op_timeout).await;
    }

    /// Loops until `own` is the lowest child of `dir`, watching its predecessor.
    async fn wait_turn(
        &mut self,
        dir: &str,
        own: &str,
        deadline: Instant,
        wait: Duration,
    ) -> Result<(), LockError> {
        let own_name = own.rsplit('/').next().unwrap_or(own).to_string();
        loop {
            let reply = self
                .ok(
                    op::GET_CHILDREN,
                    Enc::default().string(dir).boolean(false).0,
                    dir,
                )
                .await?;
            let mut children = Dec::new(&reply.body)
                .strings()
                .map_err(|e| LockError::Malformed(e.to_string()))?;
            children.sort_by_key(|c| sequence(c));
            let Some(pos) = children.iter().position(|c| *c == own_name) else {
                return Err(LockError::Code(code::NO_NODE, own.to_string()));
            };
            if pos == 0 {
                return Ok(());
            }
            let predecessor = format!("{dir}/{}", children[pos - 1]);
            let body = Enc::default().string(&predecessor).boolean(true).0;
            let r = self
                .session
                .call(op::EXISTS, &body, self.op_timeout)
                .await?;
            if r.err == code::NO_NODE {
                continue;
            }
            if r.err != code::OK {
                return Err(LockError::Code(r.err, predecessor));
            }
            self.wait_event(&predecessor, deadline, wait, own).await?;
        }
    }

    /// Waits for a watch event on `path`, pinging to keep the session alive.
    async fn wait_event(
        &mut self,
        path: &str,
        deadline: Instant,
        wait: Duration,
        own: &str,
    ) -> Result<(), LockError> {
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Err(LockError::TimedOut(wait, own.to_string()));
            }
            let slice = (deadline - now).min(self.session.timeout / 3);
            match self.session.next_event(slice).await? {
                Some(ev) if ev.path == path => return Ok(()),
                Some(_) => {}
                None => {
                    if self.session.ping_due() {
                        self.session.send_ping().await?;
                    }
                }
            }
        }
    }

    async fn ensure(&mut self, path: &str) -> Result<(), LockError> {
        let body = Enc::default()
            .string(path)
            .buffer(&[])
            .open_acl()
            .int(mode::PERSISTENT);
        let r = self
            .session
            .call(op::CREATE, &body.0, self.op_timeout)
            .await?;
        match r.err {
            code::OK | code::NODE_EXISTS => Ok(()),
            e => Err(LockError::Code(e, path.to_string())),
        }
    }

    async fn delete(&mut self, path: &str) -> Result<(), LockError> {
        let body = Enc::default().string(path).int(-1);
        let r = self
            .session
            .call(op::DELETE, &body.0, self.op_timeout)
            .await?;
        match r.err {
            code::OK | code::NO_NODE => Ok(()),
            e => Err(LockError::Code(e, path.to_string())),
        }
    }

    async fn ok(&mut self, opcode: i32, body: Vec<u8>, what: &str) -> Result<Reply, LockError> {
        let r = self.session.call(opcode, &body, self.op_timeout).await?;
        if r.err == code::OK {
            Ok(r)
        } else {
            Err(LockError::Code(r.err, what.to_string()))
        }
    }
}

/// The sequence number of a `lock-NNNNNNNNNN` child (unparsable names sort last).
fn sequence(child: &str) -> i64 {
    child
        .rsplit('-')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(i64::MAX)
}

fn check_name(name: &str) -> Result<(), LockError> {
    let ok = !name.is_empty()
        && name != "."
        && name != ".."
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(LockError::BadName(name.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn children_sort_by_sequence_and_names_are_checked() {
        let mut c = ["lock-0000000010".to_string(), "lock-0000000009".into()];
        c.sort_by_key(|c| sequence(c));
        assert_eq!(c[0], "lock-0000000009");
        assert_eq!(sequence("junk"), i64::MAX);
        assert!(check_name("resource-1").is_ok());
        for bad in ["", "a/b", "..", "x y"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }
}
