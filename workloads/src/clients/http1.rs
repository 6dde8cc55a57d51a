//! A small HTTP/1.1 client for the node protocol's hot path: one request at a time per
//! connection, keep-alive connections kept per node, the request written and the reply read
//! by the calling task itself (no connection task, no pool lock held across I/O, no URL
//! parsing), which makes an operation a `write` and a `read` on a socket.
//!
//! What a caller can rely on (the classification the raft-kv client builds on):
//! - [`HttpError::NotSent`]: the connection could not be made or the request not written at
//!   all, so the server cannot have seen it;
//! - [`HttpError::Lost`]: the request may have reached the server, but no complete reply
//!   came (reset, closed, malformed);
//! - a connection goes back to the idle list only after a complete, length-delimited reply;
//!   one abandoned mid-exchange (an error, or the caller's timeout dropping the future) is
//!   closed, so a late reply can never be read as the answer to a later request;
//! - an idle connection the server has closed is noticed before it is used (its socket is
//!   readable: EOF or unexpected bytes) and replaced by a fresh one.
//!
//! Replies may be `Content-Length`-delimited, chunked, or delimited by the server closing.

use std::sync::Mutex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Idle connections kept per node.
const MAX_IDLE_PER_NODE: usize = 4;
/// Largest reply head (status line and headers) accepted.
const MAX_HEAD: usize = 64 * 1024;
/// Headers parsed per reply.
const MAX_HEADERS: usize = 32;

/// Why an exchange produced no reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpError {
    /// Nothing reached the server (connect failed, nothing written).
    NotSent(String),
    /// The request may have reached the server; no complete reply.
    Lost(String),
}

/// A complete reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
}

/// One request.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub method: &'a str,
    /// Origin-form target, e.g. `/key/k1` (already percent-encoded).
    pub path: &'a str,
    /// Extra headers (`Host`, `Content-Length` are added).
    pub headers: &'a [(&'a str, &'a str)],
    pub body: &'a [u8],
}

/// Keep-alive connections to a fixed list of `host:port` addresses.
#[derive(Debug)]
pub struct Http1 {
    addrs: Vec<String>,
    idle: Mutex<Vec<Vec<TcpStream>>>,
}

impl Http1 {
    pub fn new(addrs: Vec<String>) -> Http1 {
        let idle = Mutex::new(addrs.iter().map(|_| Vec::new()).collect());
        Http1 { addrs, idle }
    }

    /// Send `req` to node `node` (an index into the addresses) and read its reply. Not
    /// bounded in time: callers wrap it in their operation timeout.
    pub async fn send(&self, node: usize, req: Request<'_>) -> Result<Reply, HttpError> {
        let addr = &self.addrs[node];
        let (mut stream, mut reused) = match self.take_idle(node) {
            Some(s) => (s, true),
            None => (self.connect(node).await?, false),
        };
        let mut buf = Vec::with_capacity(256 + req.body.len());
        write_head(&mut buf, addr, &req);
        buf.extend_from_slice(req.body);
        loop {
            match write_request(&mut stream, &buf).await {
                Ok(()) => break,
                // Nothing of it was written to a kept-alive connection that has just gone:
                // send it once more on a fresh one.
                Err(HttpError::NotSent(_)) if reused => {
                    stream = self.connect(node).await?;
                    reused = false;
                }
                Err(e) => return Err(e),
            }
        }
        buf.clear();
        let (reply, reusable) = read_reply(&mut stream, &mut buf, req.method == "HEAD").await?;
        if reusable {
            self.put_idle(node, stream);
        }
        Ok(reply)
    }

    async fn connect(&self, node: usize) -> Result<TcpStream, HttpError> {
        let addr = &self.addrs[node];
        let s = TcpStream::connect(addr.as_str())
            .await
            .map_err(|e| HttpError::NotSent(format!("connect {addr}: {e}")))?;
        let _ = s.set_nodelay(true);
        Ok(s)
    }

    /// An idle connection to `node` that the server has not closed.
    fn take_idle(&self, node: usize) -> Option<TcpStream> {
        loop {
            let s = self.idle.lock().unwrap_or_else(|p| p.into_inner())[node].pop()?;
            let mut probe = [0u8; 1];
            // Readiness is cached by the runtime: an idle socket nobody wrote to answers
            // WouldBlock without a system call. EOF or stray bytes: the server is done with it.
            match s.try_read(&mut probe) {
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Some(s),
                _ => continue,
            }
        }
    }

    fn put_idle(&self, node: usize, s: TcpStream) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle[node].len() < MAX_IDLE_PER_NODE {
            idle[node].push(s);
        }
    }
}

fn write_head(buf: &mut Vec<u8>, host: &str, req: &Request<'_>) {
    use std::io::Write;
    let _ = write!(
        buf,
        "{} {} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {}\r\n",
        req.method,
        req.path,
        req.body.len()
    );
    for (k, v) in req.headers {
        let _ = write!(buf, "{k}: {v}\r\n");
    }
    buf.extend_from_slice(b"\r\n");
}

async fn write_request(stream: &mut TcpStream, mut data: &[u8]) -> Result<(), HttpError> {
    let total = data.len();
    while !data.is_empty() {
        match stream.write(data).await {
            Ok(0) => return Err(cut_off(total, data.len(), "connection closed")),
            Ok(n) => data = &data[n..],
            Err(e) => return Err(cut_off(total, data.len(), &e.to_string())),
        }
    }
    Ok(())
}

/// A write that stopped with `left` of `total` bytes unwritten.
fn cut_off(total: usize, left: usize, why: &str) -> HttpError {
    if left == total {
        HttpError::NotSent(format!("sending: {why}"))
    } else {
        HttpError::Lost(format!("sending: {why}"))
    }
}

/// Read more bytes into `buf`; `Ok(false)` at EOF.
async fn fill(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Result<bool, HttpError> {
    if buf.capacity() - buf.len() < 1024 {
        buf.reserve(4096);
    }
    match stream.read_buf(buf).await {
        Ok(0) => Ok(false),
        Ok(_) => Ok(true),
        Err(e) => Err(HttpError::Lost(format!("reading reply: {e}"))),
    }
}

fn closed_early() -> HttpError {
    HttpError::Lost("reading reply: connection closed before the reply was complete".into())
}

/// How a reply's body ends.
enum Framing {
    Length(usize),
    Chunked,
    Close,
}

/// Read one reply; also says whether the connection may carry another request.
async fn read_reply(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    head_request: bool,
) -> Result<(Reply, bool), HttpError> {
    loop {
        // Parse the head; 1xx replies are skipped.
        let (status, head_len, framing, mut keep_alive) = loop {
            let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
            let mut resp = httparse::Response::new(&mut headers);
            match resp.parse(buf) {
                Ok(httparse::Status::Complete(n)) => {
                    let status = resp.code.unwrap_or(0);
                    let mut framing = Framing::Close;
                    let mut keep_alive = resp.version == Some(1);
                    for h in resp.headers.iter() {
                        if h.name.eq_ignore_ascii_case("content-length") {
                            let len = std::str::from_utf8(h.value)
                                .ok()
                                .and_then(|v| v.trim().parse().ok())
                                .ok_or_else(|| {
                                    HttpError::Lost("reply with a bad Content-Length".into())
                                })?;
                            if !matches!(framing, Framing::Chunked) {
                                framing = Framing::Length(len);
                            }
                        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
                            if contains_token(h.value, b"chunked") {
                                framing = Framing::Chunked;
                            }
                        } else if h.name.eq_ignore_ascii_case("connection") {
                            if contains_token(h.value, b"close") {
                                keep_alive = false;
                            } else if contains_token(h.value, b"keep-alive") {
                                keep_alive = true;
                            }
                        }
                    }
                    if head_request || status == 204 || status == 304 || status < 200 {
                        framing = Framing::Length(0);
                    }
                    break (status, n, framing, keep_alive);
                }
                Ok(httparse::Status::Partial) => {
                    if buf.len() > MAX_HEAD {
                        return Err(HttpError::Lost("reply head too large".into()));
                    }
                    if !fill(stream, buf).await? {
                        return Err(closed_early());
                    }
                }
                Err(e) => return Err(HttpError::Lost(format!("malformed reply: {e}"))),
            }
        };
        if (100..200).contains(&status) {
            buf.drain(..head_len);
            continue;
        }
        let body = match framing {
            Framing::Length(len) => {
                while buf.len() < head_len + len {
                    if !fill(stream, buf).await? {
                        return Err(closed_early());
                    }
                }
                let body = buf[head_len..head_len + len].to_vec();
                keep_alive &= buf.len() == head_len + len;
                body
            }
            Framing::Chunked => {
                let mut body = Vec::new();
                let mut at = head_len;
                loop {
                    match decode_chunked(&buf[at..], &mut body) {
                        Chunked::Done(used) => {
                            keep_alive &= at + used == buf.len();
                            break;
                        }
                        Chunked::More(used) => {
                            at += used;
                            if !fill(stream, buf).await? {
                                return Err(closed_early());
                            }
                        }
                        Chunked::Bad => {
                            return Err(HttpError::Lost("malformed chunked reply".into()))
                        }
                    }
                }
                body
            }
            Framing::Close => {
                while fill(stream, buf).await? {}
                keep_alive = false;
                buf[head_len..].to_vec()
            }
        };
        return Ok((Reply { status, body }, keep_alive));
    }
}

fn contains_token(value: &[u8], token: &[u8]) -> bool {
    value
        .split(|b| *b == b',')
        .any(|t| t.trim_ascii().eq_ignore_ascii_case(token))
}

enum Chunked {
    /// The body is complete; this many bytes (trailers included) were used.
    Done(usize),
    /// Need more input; this many bytes were consumed into the body so far.
    More(usize),
    Bad,
}

/// Decode as many whole chunks of `data` as are there into `body`.
fn decode_chunked(data: &[u8], body: &mut Vec<u8>) -> Chunked {
    let mut at = 0;
    loop {
        let Some(eol) = find_crlf(&data[at..]) else {
            return Chunked::More(at);
        };
        let line = &data[at..at + eol];
        let size_text = line.split(|b| *b == b';').next().unwrap_or(line);
        let Some(size) = std::str::from_utf8(size_text)
            .ok()
            .and_then(|s| usize::from_str_radix(s.trim(), 16).ok())
        else {
            return Chunked::Bad;
        };
        let start = at + eol + 2;
        if size == 0 {
            // Trailers (usually none), each ending in CRLF, then an empty line.
            let mut t = start;
            loop {
                match find_crlf(&data[t..]) {
                    None => return Chunked::More(at),
                    Some(0) => return Chunked::Done(t + 2),
                    Some(n) => t += n + 2,
                }
            }
        }
        if data.len() < start + size + 2 {
            return Chunked::More(at);
        }
        if &data[start + size..start + size + 2] != b"\r\n" {
            return Chunked::Bad;
        }
        body.extend_from_slice(&data[start..start + size]);
        at = start + size + 2;
    }
}

fn find_crlf(data: &[u8]) -> Option<usize> {
    data.windows(2).position(|w| w == b"\r\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;
    use tokio::net::TcpListener;

    /// A server that answers each request (read up to the blank line, then Content-Length
    /// bytes) with the next canned reply; `None` closes the connection instead.
    async fn canned(replies: Vec<Option<&'static str>>) -> String {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            let mut replies = replies.into_iter();
            'conns: loop {
                let (mut s, _) = l.accept().await.unwrap();
                let mut buf = Vec::new();
                loop {
                    // One request: head, then the body.
                    let head_end = loop {
                        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            break p + 4;
                        }
                        let mut chunk = [0u8; 1024];
                        let n = s.read(&mut chunk).await.unwrap_or(0);
                        if n == 0 {
                            continue 'conns;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                    };
                    let head = String::from_utf8_lossy(&buf[..head_end]).to_lowercase();
                    let len: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length: "))
                        .map(|v| v.trim().parse().unwrap())
                        .unwrap_or(0);
                    while buf.len() < head_end + len {
                        let mut chunk = [0u8; 1024];
                        let n = s.read(&mut chunk).await.unwrap();
                        buf.extend_from_slice(&chunk[..n]);
                    }
                    buf.drain(..head_end + len);
                    match replies.next() {
                        Some(Some(r)) => {
                            s.write_all(r.as_bytes()).await.unwrap();
                            if r.contains("Connection: close") {
                                continue 'conns;
                            }
                        }
                        Some(None) => continue 'conns,
                        None => return,
                    }
                }
            }
        });
        addr
    }

    fn get(path: &str) -> Request<'_> {
        Request {
            method: "GET",
            path,
            headers: &[],
            body: b"",
        }
    }

    #[tokio::test]
    async fn length_chunked_and_close_delimited_replies() {
        let addr = canned(vec![
            Some("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"),
            Some("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n3;x=1\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"),
            Some("HTTP/1.1 503 Busy\r\nConnection: close\r\n\r\nbye"),
        ])
        .await;
        let c = Http1::new(vec![addr]);
        let r = c.send(0, get("/a")).await.unwrap();
        assert_eq!((r.status, r.body.as_slice()), (200, &b"hello"[..]));
        let r = c.send(0, get("/b")).await.unwrap();
        assert_eq!((r.status, r.body.as_slice()), (404, &b"abcde"[..]));
        // Still one connection so far (kept alive); the third reply closes it.
        let r = c.send(0, get("/c")).await;
        // The server closes after writing: the body runs to EOF.
        assert_eq!(
            r.map(|r| (r.status, r.body)),
            Ok((503, b"bye".to_vec())),
            "close-delimited body"
        );
        assert!(
            c.idle.lock().unwrap()[0].is_empty(),
            "a closed connection is not kept"
        );
    }

    #[tokio::test]
    async fn a_server_that_closes_mid_exchange_is_lost_and_a_refused_one_not_sent() {
        let addr = canned(vec![
            Some("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
            None,
        ])
        .await;
        let c = Http1::new(vec![addr]);
        assert_eq!(c.send(0, get("/a")).await.unwrap().body, b"ok");
        assert!(matches!(
            c.send(0, get("/b")).await,
            Err(HttpError::Lost(_))
        ));
        let dead = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().to_string()
        };
        let c2 = Http1::new(vec![dead]);
        assert!(matches!(
            c2.send(0, get("/a")).await,
            Err(HttpError::NotSent(_))
        ));
    }

    #[tokio::test]
    async fn an_idle_connection_the_server_closed_is_replaced() {
        // First connection: one reply, then the server closes it while it is idle.
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            for _ in 0..2 {
                let (mut s, _) = l.accept().await.unwrap();
                let mut b = [0u8; 1024];
                let _ = s.read(&mut b).await.unwrap();
                s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx")
                    .await
                    .unwrap();
                drop(s);
            }
        });
        let c = Http1::new(vec![addr]);
        assert_eq!(c.send(0, get("/1")).await.unwrap().body, b"x");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert_eq!(
            c.send(0, get("/2")).await.unwrap().body,
            b"x",
            "the closed idle connection was noticed and a new one made"
        );
    }

    #[test]
    fn chunk_decoding_needs_whole_chunks() {
        let mut body = Vec::new();
        assert!(matches!(
            decode_chunked(b"3\r\nab", &mut body),
            Chunked::More(0)
        ));
        assert!(matches!(
            decode_chunked(b"3\r\nabc\r\n0\r\nX: y\r\n\r\n", &mut body),
            Chunked::Done(19)
        ));
        assert_eq!(body, b"abc");
        assert!(matches!(
            decode_chunked(b"zz\r\n", &mut Vec::new()),
            Chunked::Bad
        ));
    }
}
