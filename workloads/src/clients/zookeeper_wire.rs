//! The subset of ZooKeeper's client wire protocol (jute over TCP) that the harness needs:
//! the session handshake, `create`, `delete`, `getData`, `setData`, `exists`, `getChildren`,
//! `sync`, pings and watch notifications, on one session ([`Session`]) that knows whether
//! each request's bytes reached the socket (the harness must tell "definitely not done" from
//! "maybe done").
//!
//! Written here rather than taken from a crate: the register and lock clients need to know,
//! per request, whether anything was sent before a connection broke (a `setData` whose
//! connection broke after sending is `info`, before sending `fail`), and they need one
//! session per harness client with no hidden reconnects or retries. The crates we looked at
//! (`zookeeper-client`, `zookeeper-async`) reconnect and retry inside the session, which
//! hides exactly that.
//!
//! Frames: every message is a 4-byte big-endian length then the payload. A request payload is
//! `xid:i32 type:i32 body`; a reply is `xid:i32 zxid:i64 err:i32 body` (xid -1: a watch event,
//! xid -2: a ping reply).

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Op codes (ZooDefs.OpCode).
pub mod op {
    pub const CREATE: i32 = 1;
    pub const DELETE: i32 = 2;
    pub const EXISTS: i32 = 3;
    pub const GET_DATA: i32 = 4;
    pub const SET_DATA: i32 = 5;
    pub const GET_CHILDREN: i32 = 8;
    pub const SYNC: i32 = 9;
    pub const PING: i32 = 11;
    pub const CLOSE: i32 = -11;
}

/// Server error codes (KeeperException.Code) the clients look at.
pub mod code {
    pub const OK: i32 = 0;
    pub const NO_NODE: i32 = -101;
    pub const BAD_VERSION: i32 = -103;
    pub const NODE_EXISTS: i32 = -110;
    pub const NOT_EMPTY: i32 = -111;
    pub const SESSION_EXPIRED: i32 = -112;
}

/// Create modes.
pub mod mode {
    pub const PERSISTENT: i32 = 0;
    pub const EPHEMERAL_SEQUENTIAL: i32 = 3;
}

/// Why a request got no server answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// Nothing of the request reached the socket (connect or handshake failed, or the
    /// session was already broken): the request definitely did not happen.
    #[error("not sent: {0}")]
    NotSent(String),
    /// The request was written but no answer came (timeout, reset, EOF): it may have happened.
    #[error("lost: {0}")]
    Lost(String),
}

/// A znode's stat (the fields the clients use).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stat {
    pub czxid: i64,
    pub mzxid: i64,
    pub version: i32,
    pub ephemeral_owner: i64,
}

/// A server reply: its error code and body.
#[derive(Debug, Clone)]
pub struct Reply {
    pub zxid: i64,
    pub err: i32,
    pub body: Vec<u8>,
}

/// A watch notification (xid -1): event type, keeper state, path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchEvent {
    pub kind: i32,
    pub path: String,
}

/// Jute encoder.
#[derive(Debug, Default)]
pub struct Enc(pub Vec<u8>);

impl Enc {
    pub fn int(mut self, v: i32) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    pub fn long(mut self, v: i64) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    pub fn boolean(mut self, v: bool) -> Self {
        self.0.push(u8::from(v));
        self
    }
    pub fn buffer(self, b: &[u8]) -> Self {
        let len = i32::try_from(b.len()).unwrap_or(i32::MAX);
        let mut s = self.int(len);
        s.0.extend_from_slice(b);
        s
    }
    pub fn string(self, s: &str) -> Self {
        self.buffer(s.as_bytes())
    }
    /// The open ACL (`world:anyone`, all permissions) as a one-element vector.
    pub fn open_acl(self) -> Self {
        self.int(1).int(31).string("world").string("anyone")
    }
}

/// Jute decoder over a reply body; every read is bounds-checked.
#[derive(Debug)]
pub struct Dec<'a> {
    buf: &'a [u8],
}

/// A reply body shorter or stranger than its type says.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed ZooKeeper reply: {0}")]
pub struct Malformed(pub String);

impl<'a> Dec<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Dec { buf }
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8], Malformed> {
        if self.buf.len() < n {
            return Err(Malformed(format!(
                "wanted {n} bytes, {} left",
                self.buf.len()
            )));
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }
    pub fn int(&mut self) -> Result<i32, Malformed> {
        let b = self.take(4)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    pub fn long(&mut self) -> Result<i64, Malformed> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(i64::from_be_bytes(a))
    }
    /// A buffer; length -1 (null) reads as empty.
    pub fn buffer(&mut self) -> Result<Vec<u8>, Malformed> {
        let len = self.int()?;
        if len < 0 {
            return Ok(Vec::new());
        }
        Ok(self.take(len as usize)?.to_vec())
    }
    pub fn string(&mut self) -> Result<String, Malformed> {
        String::from_utf8(self.buffer()?).map_err(|e| Malformed(format!("string not utf-8: {e}")))
    }
    pub fn stat(&mut self) -> Result<Stat, Malformed> {
        let czxid = self.long()?;
        let mzxid = self.long()?;
        let _ctime = self.long()?;
        let _mtime = self.long()?;
        let version = self.int()?;
        let _cversion = self.int()?;
        let _aversion = self.int()?;
        let ephemeral_owner = self.long()?;
        let _data_length = self.int()?;
        let _num_children = self.int()?;
        let _pzxid = self.long()?;
        Ok(Stat {
            czxid,
            mzxid,
            version,
            ephemeral_owner,
        })
    }
    pub fn strings(&mut self) -> Result<Vec<String>, Malformed> {
        let n = self.int()?;
        (0..n.max(0)).map(|_| self.string()).collect()
    }
}

/// One ZooKeeper session on one TCP connection. Not shared: callers serialize requests.
#[derive(Debug)]
pub struct Session {
    stream: TcpStream,
    next_xid: i32,
    /// The session timeout the server granted.
    pub timeout: Duration,
    pub session_id: i64,
    last_sent: Instant,
    /// Watch events received while waiting for replies, oldest first.
    pub events: Vec<WatchEvent>,
}

/// Largest frame accepted (ZooKeeper's default jute.maxbuffer is 1 MiB).
const MAX_FRAME: usize = 4 << 20;

impl Session {
    /// Connects to `addr` and opens a new session asking for `timeout`. Any failure is
    /// [`WireError::NotSent`]: no request of the caller's was sent yet. A server that is not
    /// part of a serving quorum closes the connection during the handshake.
    pub async fn connect(
        addr: &str,
        timeout: Duration,
        limit: Duration,
    ) -> Result<Self, WireError> {
        let ns = |e: String| WireError::NotSent(format!("connect {addr}: {e}"));
        let mut stream = tokio::time::timeout(limit, TcpStream::connect(addr))
            .await
            .map_err(|_| ns("timeout".into()))?
            .map_err(|e| ns(e.to_string()))?;
        let _ = stream.set_nodelay(true);
        let ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
        let req = Enc::default()
            .int(0)
            .long(0)
            .int(ms)
            .long(0)
            .buffer(&[0u8; 16])
            .boolean(false);
        let handshake = async {
            write_frame(&mut stream, &req.0).await?;
            read_frame(&mut stream).await
        };
        let body = tokio::time::timeout(limit, handshake)
            .await
            .map_err(|_| ns("handshake timeout".into()))?
            .map_err(ns)?;
        let mut d = Dec::new(&body);
        let parse = |d: &mut Dec| -> Result<(i32, i64), Malformed> {
            let _proto = d.int()?;
            let granted = d.int()?;
            let id = d.long()?;
            Ok((granted, id))
        };
        let (granted, session_id) = parse(&mut d).map_err(|e| ns(e.to_string()))?;
        if granted <= 0 {
            return Err(ns("session refused (expired or invalid)".into()));
        }
        Ok(Session {
            stream,
            next_xid: 1,
            timeout: Duration::from_millis(granted as u64),
            session_id,
            last_sent: Instant::now(),
            events: Vec::new(),
        })
    }

    /// Whether the session has been idle long enough that a ping is due.
    pub fn ping_due(&self) -> bool {
        self.last_sent.elapsed() > self.timeout / 3
    }

    /// Sends one request and waits for its reply (skipping pings, queuing watch events).
    /// A write failure before any byte left is `NotSent`; anything after is `Lost`.
    pub async fn call(
        &mut self,
        opcode: i32,
        body: &[u8],
        limit: Duration,
    ) -> Result<Reply, WireError> {
        let xid = if opcode == op::PING {
            -2
        } else {
            self.next_xid()
        };
        let mut payload = Enc::default().int(xid).int(opcode).0;
        payload.extend_from_slice(body);
        // A frame this small goes out in one write on a healthy socket; a failing write may
        // still have put bytes on the wire, so only a connect-level failure is NotSent.
        write_frame(&mut self.stream, &payload)
            .await
            .map_err(WireError::Lost)?;
        self.last_sent = Instant::now();
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let frame = tokio::time::timeout_at(deadline, read_frame(&mut self.stream))
                .await
                .map_err(|_| WireError::Lost("timeout".into()))?
                .map_err(WireError::Lost)?;
            let mut d = Dec::new(&frame);
            let header = (|| Ok::<_, Malformed>((d.int()?, d.long()?, d.int()?)))();
            let (rxid, zxid, err) = header.map_err(|e| WireError::Lost(e.to_string()))?;
            if rxid == -1 {
                let kind = d.int().unwrap_or(0);
                let _state = d.int().unwrap_or(0);
                let path = d.string().unwrap_or_default();
                self.events.push(WatchEvent { kind, path });
                continue;
            }
            if rxid != xid {
                continue;
            }
            return Ok(Reply {
                zxid,
                err,
                body: d.buf.to_vec(),
            });
        }
    }

    /// Waits up to `limit` for a watch event (returns at once if one is queued).
    pub async fn next_event(&mut self, limit: Duration) -> Result<Option<WatchEvent>, WireError> {
        if !self.events.is_empty() {
            return Ok(Some(self.events.remove(0)));
        }
        let frame = match tokio::time::timeout(limit, read_frame(&mut self.stream)).await {
            Err(_) => return Ok(None),
            Ok(r) => r.map_err(WireError::Lost)?,
        };
        let mut d = Dec::new(&frame);
        let rxid = d.int().map_err(|e| WireError::Lost(e.to_string()))?;
        if rxid != -1 {
            return Ok(None); // a ping reply
        }
        let _ = (d.long(), d.int());
        let kind = d.int().unwrap_or(0);
        let _state = d.int().unwrap_or(0);
        let path = d.string().unwrap_or_default();
        Ok(Some(WatchEvent { kind, path }))
    }

    /// Sends a ping without waiting for its reply (used while blocked on a watch).
    pub async fn send_ping(&mut self) -> Result<(), WireError> {
        let payload = Enc::default().int(-2).int(op::PING).0;
        write_frame(&mut self.stream, &payload)
            .await
            .map_err(WireError::Lost)?;
        self.last_sent = Instant::now();
        Ok(())
    }

    /// Closes the session (its ephemeral nodes go at once); best effort.
    pub async fn close(mut self, limit: Duration) {
        let _ = self.call(op::CLOSE, &[], limit).await;
    }

    fn next_xid(&mut self) -> i32 {
        let x = self.next_xid;
        self.next_xid = if x >= i32::MAX - 1 { 1 } else { x + 1 };
        x
    }
}

async fn write_frame(s: &mut TcpStream, payload: &[u8]) -> Result<(), String> {
    let len = u32::try_from(payload.len()).map_err(|_| "frame too large".to_string())?;
    let mut frame = Vec::with_capacity(4 + payload.len());
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(payload);
    s.write_all(&frame).await.map_err(|e| e.to_string())
}

async fn read_frame(s: &mut TcpStream) -> Result<Vec<u8>, String> {
    let mut len = [0u8; 4];
    s.read_exact(&mut len).await.map_err(|e| match e.kind() {
        std::io::ErrorKind::UnexpectedEof => "connection closed by the server".to_string(),
        _ => e.to_string(),
    })?;
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(format!("frame of {len} bytes exceeds {MAX_FRAME}"));
    }
    let mut buf = vec![0u8; len];
    s.read_exact(&mut buf).await.map_err(|e| e.to_string())?;
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoder_and_decoder_agree_and_short_input_is_malformed() {
        let e = Enc::default()
            .int(-7)
            .long(1 << 40)
            .string("/a")
            .boolean(true);
        let mut d = Dec::new(&e.0);
        assert_eq!(d.int().unwrap(), -7);
        assert_eq!(d.long().unwrap(), 1 << 40);
        assert_eq!(d.string().unwrap(), "/a");
        assert!(d.int().is_err(), "one byte left cannot be an int");
        let mut d = Dec::new(&[0, 0, 0, 9, 1]);
        assert!(d.buffer().is_err());
        let mut d = Dec::new(&[0xff, 0xff, 0xff, 0xff]);
        assert_eq!(d.buffer().unwrap(), Vec::<u8>::new());
    }

    #[test]
    fn stat_reads_its_eleven_fields() {
        let e = Enc::default()
            .long(5)
            .long(9)
            .long(0)
            .long(0)
            .int(3)
            .int(0)
            .int(0)
            .long(77)
            .int(1)
            .int(0)
            .long(9);
        let s = Dec::new(&e.0).stat().unwrap();
        assert_eq!(
            (s.czxid, s.mzxid, s.version, s.ephemeral_owner),
            (5, 9, 3, 77)
        );
    }
}
