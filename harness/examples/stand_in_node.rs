//! The one stand-in node of the harness's tests and benchmarks: a trivial in-memory store
//! that takes raft-node's command line (`--id N --listen ADDR --peer J=ADDR ... --data-dir
//! DIR`, other flags ignored) and speaks the node HTTP protocol (docs/design.md), cheaply
//! enough that a benchmark measures the harness, not the node. Not a replicated system: each
//! node has its own state, and node 1 says it leads.
//!
//! What a test can observe through it:
//! - `GET /status` → `{"id","name","role","term","leader","leader_id","boots"}`; `boots` counts
//!   starts recorded in the data dir (a restart on the same data dir gives 2).
//! - `GET /peers` → `{"n2":true,"n3":false}`: whether each peer answered `GET /ping` through
//!   the address this node was given for it (what a partition must cut).
//! - `GET /ping` → `"pong"`.
//! - `GET|PUT|DELETE /key/{k}`, `POST /key/{k}/cas`: an in-memory register per key.
//!
//! One thread, a hand-rolled keep-alive HTTP/1.1 loop per connection (requests parsed with
//! `httparse`, each answer written at once), no router. Run it as a one-node cluster:
//! `harness test --nodes 1 --net proxy --node-bin target/release/examples/stand_in_node`
//! (what `cargo bench -p harness --bench harness_throughput` does).

use serde_json::{json, Value};
use std::cell::RefCell;
use std::collections::HashMap;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One node's state and what it was told on its command line.
struct Node {
    id: u64,
    peers: Vec<(u64, SocketAddr)>,
    boots: u64,
    kv: RefCell<HashMap<String, String>>,
}

/// One reply: status, JSON body.
struct Reply(u16, String);

const COMMITTED: &str = r#"{"status":"committed","term":1,"index":1}"#;

fn status(node: &Node) -> Reply {
    let role = if node.id == 1 { "leader" } else { "follower" };
    let s = json!({"id": node.id, "name": format!("node{}", node.id), "role": role, "term": 1,
        "leader": "node1", "leader_id": 1, "boots": node.boots});
    Reply(200, s.to_string())
}

fn handle(node: &Node, method: &str, path: &str, body: &[u8]) -> Reply {
    match (method, path) {
        ("GET", "/status") => return status(node),
        ("GET", "/ping") => return Reply(200, "\"pong\"".into()),
        _ => {}
    }
    let Some(rest) = path.strip_prefix("/key/") else {
        return Reply(404, r#"{"error":"not_found"}"#.into());
    };
    let (key, cas) = match rest.strip_suffix("/cas") {
        Some(k) => (k, true),
        None => (rest, false),
    };
    let key = percent_decode(key);
    let mut kv = node.kv.borrow_mut();
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
        ("POST", true) => cas_reply(&mut kv, key, body),
        _ => Reply(
            400,
            r#"{"error":"bad_request","message":"no such route"}"#.into(),
        ),
    }
}

fn cas_reply(kv: &mut HashMap<String, String>, key: String, body: &[u8]) -> Reply {
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

/// `GET /peers`: which peers answer `GET /ping` through the address this node was given.
async fn peers(node: &Node) -> Reply {
    let mut parts = Vec::new();
    for (j, addr) in &node.peers {
        parts.push(format!("\"n{j}\":{}", ping(*addr).await));
    }
    Reply(200, format!("{{{}}}", parts.join(",")))
}

/// Whether `GET /ping` at `addr` answers within 700 ms.
async fn ping(addr: SocketAddr) -> bool {
    let attempt = async {
        let mut s = TcpStream::connect(addr).await.ok()?;
        s.write_all(b"GET /ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .ok()?;
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf).await;
        Some(String::from_utf8_lossy(&buf).contains("pong"))
    };
    matches!(
        tokio::time::timeout(Duration::from_millis(700), attempt).await,
        Ok(Some(true))
    )
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

/// One complete request at the head of a buffer.
struct Request {
    method: String,
    path: String,
    /// Length of the request line and headers.
    head: usize,
    /// `content-length`.
    body: usize,
    /// Close the connection after answering.
    close: bool,
}

/// The complete request at the head of `buf`, `Ok(None)` while it is partial, `Err` when it
/// is not HTTP.
fn parse_request(buf: &[u8]) -> Result<Option<Request>, ()> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut req = httparse::Request::new(&mut headers);
    let head = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err(()),
    };
    let body = req
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("content-length"))
        .and_then(|h| std::str::from_utf8(h.value).ok()?.trim().parse().ok())
        .unwrap_or(0usize);
    let close = req.version == Some(0)
        || req.headers.iter().any(|h| {
            h.name.eq_ignore_ascii_case("connection") && h.value.eq_ignore_ascii_case(b"close")
        });
    if buf.len() < head + body {
        return Ok(None);
    }
    Ok(Some(Request {
        method: req.method.unwrap_or("").to_string(),
        path: req.path.unwrap_or("").to_string(),
        head,
        body,
        close,
    }))
}

/// Serve one connection: answer every complete request as it comes, each in one write.
async fn serve(mut s: TcpStream, node: Rc<Node>) {
    let _ = s.set_nodelay(true);
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    let mut out: Vec<u8> = Vec::with_capacity(512);
    loop {
        loop {
            let r = match parse_request(&buf) {
                Ok(Some(r)) => r,
                Ok(None) => break,
                Err(()) => return,
            };
            let (head, len, close) = (r.head, r.body, r.close);
            let Reply(status, body) = if r.method == "GET" && r.path == "/peers" {
                peers(&node).await
            } else {
                handle(&node, &r.method, &r.path, &buf[head..head + len])
            };
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

/// raft-node's flags: `--id`, `--listen`, `--peer J=ADDR` (repeated), `--data-dir`.
struct Args {
    id: u64,
    listen: String,
    peers: Vec<(u64, SocketAddr)>,
    data_dir: PathBuf,
}

fn parse_args() -> Args {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut a = Args {
        id: 1,
        listen: String::new(),
        peers: Vec::new(),
        data_dir: PathBuf::from("data"),
    };
    let mut i = 0;
    while i < args.len() {
        let val = args.get(i + 1).cloned().unwrap_or_default();
        match args[i].as_str() {
            "--id" => a.id = val.parse().unwrap_or(1),
            "--listen" => a.listen = val,
            "--data-dir" => a.data_dir = PathBuf::from(val),
            "--peer" => {
                if let Some((j, addr)) = val.split_once('=') {
                    if let (Ok(j), Ok(addr)) = (j.parse(), addr.parse()) {
                        a.peers.push((j, addr));
                    }
                }
            }
            _ => {
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    if a.listen.is_empty() {
        a.listen = format!("127.0.0.1:{}", 8000 + a.id);
    }
    a
}

/// Counts this start in `data_dir/boots` and returns the count.
fn record_boot(data_dir: &std::path::Path) -> u64 {
    if let Err(e) = std::fs::create_dir_all(data_dir) {
        eprintln!("stand_in_node: cannot create {}: {e}", data_dir.display());
        std::process::exit(2);
    }
    let file = data_dir.join("boots");
    let boots = std::fs::read_to_string(&file)
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or(0)
        + 1;
    let _ = std::fs::write(&file, boots.to_string());
    boots
}

fn main() {
    let a = parse_args();
    let node = Rc::new(Node {
        id: a.id,
        boots: record_boot(&a.data_dir),
        peers: a.peers,
        kv: RefCell::new(HashMap::new()),
    });
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("stand_in_node: runtime: {e}");
            std::process::exit(1);
        }
    };
    let local = tokio::task::LocalSet::new();
    let listen = a.listen;
    local.block_on(&rt, async move {
        let l = match TcpListener::bind(&listen).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("stand_in_node: cannot listen on {listen}: {e}");
                std::process::exit(1);
            }
        };
        eprintln!("listening on {listen}");
        loop {
            match l.accept().await {
                Ok((s, _)) => {
                    tokio::task::spawn_local(serve(s, node.clone()));
                }
                Err(e) => eprintln!("stand_in_node: accept: {e}"),
            }
        }
    });
}
