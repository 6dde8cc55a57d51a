//! A trivial in-memory node speaking the raft-kv client protocol (`GET/PUT/DELETE /key/{k}`,
//! `POST /key/{k}/cas`, `GET /status`), with keep-alive HTTP/1.1: the benchmark target for
//! "how many operations per second can the harness drive and record" (run it as a
//! one-node cluster: `harness test --nodes 1 --net proxy --node-bin
//! target/release/examples/mem_node`, or `cargo bench -p harness --bench harness_throughput`).
//! It takes raft-node's command line (`--id N --listen ADDR`, other flags ignored) and
//! always says it is the leader. Not a replicated system: with more than one node each node
//! has its own state.
//!
//! It is meant to cost as little as possible per request, so that a benchmark measures the
//! harness: one thread, a hand-rolled HTTP/1.1 loop per connection (requests parsed with
//! `httparse`, replies written with one `write`), no router or middleware.

use serde_json::{json, Value};
use std::cell::RefCell;
use std::collections::HashMap;
use std::io::Write;
use std::rc::Rc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

type Kv = Rc<RefCell<HashMap<String, String>>>;

/// One reply: status, JSON body.
struct Reply(u16, String);

const COMMITTED: &str = r#"{"status":"committed","term":1,"index":1}"#;

fn handle(id: u64, kv: &Kv, method: &str, path: &str, body: &[u8]) -> Reply {
    if path == "/status" && method == "GET" {
        let s = json!({"id": id, "name": format!("node{id}"), "role": "leader", "term": 1,
            "leader": format!("node{id}"), "leader_id": id});
        return Reply(200, s.to_string());
    }
    let Some(rest) = path.strip_prefix("/key/") else {
        return Reply(404, r#"{"error":"not_found"}"#.into());
    };
    let (key, cas) = match rest.strip_suffix("/cas") {
        Some(k) => (k, true),
        None => (rest, false),
    };
    let key = percent_decode(key);
    let mut kv = kv.borrow_mut();
    match (method, cas) {
        ("GET", false) => match kv.get(&key) {
            Some(v) => Reply(200, json!({ "value": v }).to_string()),
            None => Reply(404, r#"{"error":"not_found"}"#.into()),
        },
        ("PUT", false) => {
            kv.insert(key, String::from_utf8_lossy(body).into_owned());
            Reply(200, COMMITTED.into())
        }
        ("DELETE", false) => {
            kv.remove(&key);
            Reply(200, COMMITTED.into())
        }
        ("POST", true) => {
            let b: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
            let (Some(to), from) = (
                b.get("to").and_then(Value::as_str),
                b.get("from").and_then(Value::as_str),
            ) else {
                return Reply(400, r#"{"error":"bad_request","message":"need to"}"#.into());
            };
            let cur = kv.get(&key);
            if cur.map(String::as_str) == from {
                kv.insert(key, to.to_string());
                Reply(200, r#"{"applied":true,"term":1,"index":1}"#.into())
            } else {
                Reply(200, json!({"applied": false, "value": cur}).to_string())
            }
        }
        _ => Reply(
            400,
            r#"{"error":"bad_request","message":"no such route"}"#.into(),
        ),
    }
}

fn percent_decode(s: &str) -> String {
    if !s.contains('%') {
        return s.to_string();
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Serve one connection: parse requests as they come, answer each in one write.
async fn serve(mut s: TcpStream, id: u64, kv: Kv) {
    let _ = s.set_nodelay(true);
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    let mut out: Vec<u8> = Vec::with_capacity(512);
    loop {
        // Answer every complete request in the buffer.
        loop {
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut req = httparse::Request::new(&mut headers);
            let head = match req.parse(&buf) {
                Ok(httparse::Status::Complete(n)) => n,
                Ok(httparse::Status::Partial) => break,
                Err(_) => return,
            };
            let len = req
                .headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                .and_then(|h| std::str::from_utf8(h.value).ok()?.trim().parse().ok())
                .unwrap_or(0usize);
            if buf.len() < head + len {
                break;
            }
            let close = req.version == Some(0)
                || req.headers.iter().any(|h| {
                    h.name.eq_ignore_ascii_case("connection")
                        && h.value.eq_ignore_ascii_case(b"close")
                });
            let Reply(status, body) = handle(
                id,
                &kv,
                req.method.unwrap_or(""),
                req.path.unwrap_or(""),
                &buf[head..head + len],
            );
            let reason = match status {
                200 => "OK",
                400 => "Bad Request",
                _ => "Not Found",
            };
            out.clear();
            let _ = write!(
                out,
                "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                body.len()
            );
            if s.write_all(&out).await.is_err() || close {
                return;
            }
            buf.drain(..head + len);
        }
        if buf.capacity() - buf.len() < 1024 {
            buf.reserve(4096);
        }
        match s.read_buf(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

pub fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let id = arg("--id").and_then(|s| s.parse().ok()).unwrap_or(1);
    let listen = arg("--listen").unwrap_or_else(|| format!("127.0.0.1:{}", 8000 + id));
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("mem_node: runtime: {e}");
            std::process::exit(1);
        }
    };
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async move {
        let kv: Kv = Rc::new(RefCell::new(HashMap::new()));
        let l = match TcpListener::bind(&listen).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("mem_node: bind {listen}: {e}");
                std::process::exit(1);
            }
        };
        eprintln!("listening on {listen}");
        loop {
            match l.accept().await {
                Ok((s, _)) => {
                    tokio::task::spawn_local(serve(s, id, kv.clone()));
                }
                Err(e) => eprintln!("mem_node: accept: {e}"),
            }
        }
    });
}
