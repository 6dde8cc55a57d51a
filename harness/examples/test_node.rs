//! A tiny stand-in node for the cluster runtime's tests: it takes raft-node's command line
//! (`--id N --listen ADDR --peer J=ADDR ... --data-dir DIR`, other flags ignored), serves
//! plain HTTP/1.1 with std only, and lets a test observe what the harness did to it:
//!
//! - `GET /status` → `{"id","name","role","leader","boots"}`: node 1 says it is the leader;
//!   `boots` counts starts recorded in the data dir (a restart on the same data dir gives 2).
//! - `GET /peers` → `{"n2":true,"n3":false}`: whether each peer answered `GET /ping` through
//!   the address this node was given for it (what a partition must cut).
//! - `GET /ping` → `pong`; `GET|PUT /key/{k}`: an in-memory register, for smoke tests.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

struct Node {
    id: u64,
    peers: Vec<(u64, SocketAddr)>,
    boots: u64,
    kv: Mutex<BTreeMap<String, String>>,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut id = 0u64;
    let mut listen: Option<SocketAddr> = None;
    let mut peers = Vec::new();
    let mut data_dir = PathBuf::from("data");
    let mut i = 0;
    while i < args.len() {
        let val = args.get(i + 1).cloned().unwrap_or_default();
        match args[i].as_str() {
            "--id" => id = val.parse().unwrap_or(0),
            "--listen" => listen = val.parse().ok(),
            "--data-dir" => data_dir = PathBuf::from(val),
            "--peer" => {
                if let Some((j, a)) = val.split_once('=') {
                    if let (Ok(j), Ok(a)) = (j.parse(), a.parse()) {
                        peers.push((j, a));
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
    let Some(listen) = listen else {
        eprintln!("test_node: --listen ADDR is required");
        std::process::exit(2);
    };
    if std::fs::create_dir_all(&data_dir).is_err() {
        eprintln!("test_node: cannot create {}", data_dir.display());
        std::process::exit(2);
    }
    let boots_file = data_dir.join("boots");
    let boots = std::fs::read_to_string(&boots_file)
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or(0)
        + 1;
    let _ = std::fs::write(&boots_file, boots.to_string());
    let listener = match TcpListener::bind(listen) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("test_node: cannot listen on {listen}: {e}");
            std::process::exit(1);
        }
    };
    eprintln!("listening on {listen}");
    let node = Arc::new(Node {
        id,
        peers,
        boots,
        kv: Mutex::new(BTreeMap::new()),
    });
    for stream in listener.incoming().flatten() {
        let node = Arc::clone(&node);
        std::thread::spawn(move || {
            let _ = serve(&node, stream);
        });
    }
}

fn serve(node: &Node, stream: TcpStream) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let path = parts.next().unwrap_or("").to_string();
    let mut len = 0usize;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h == "\r\n" || h == "\n" {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                len = v.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0u8; len.min(1 << 20)];
    reader.read_exact(&mut body)?;
    let (code, text) = handle(node, &method, &path, &String::from_utf8_lossy(&body));
    let mut out = stream;
    write!(
        out,
        "HTTP/1.1 {code} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
        text.len()
    )?;
    out.flush()
}

fn handle(node: &Node, method: &str, path: &str, body: &str) -> (u16, String) {
    match (method, path) {
        ("GET", "/ping") => (200, "\"pong\"".into()),
        ("GET", "/status") => {
            let role = if node.id == 1 { "leader" } else { "follower" };
            (
                200,
                format!(
                    "{{\"id\":{},\"name\":\"node{}\",\"role\":\"{role}\",\"leader\":\"node1\",\"boots\":{}}}",
                    node.id, node.id, node.boots
                ),
            )
        }
        ("GET", "/peers") => {
            let mut parts = Vec::new();
            for (j, addr) in &node.peers {
                parts.push(format!("\"n{j}\":{}", ping(*addr)));
            }
            (200, format!("{{{}}}", parts.join(",")))
        }
        (m, p) if p.starts_with("/key/") => {
            let key = p["/key/".len()..].to_string();
            let mut kv = node.kv.lock().unwrap_or_else(|e| e.into_inner());
            match m {
                "PUT" => {
                    kv.insert(key, body.to_string());
                    (
                        200,
                        "{\"status\":\"committed\",\"term\":1,\"index\":1}".into(),
                    )
                }
                "GET" => match kv.get(&key) {
                    Some(v) => (200, format!("{{\"value\":{v:?}}}")),
                    None => (404, "{\"error\":\"not_found\"}".into()),
                },
                _ => (400, "{\"error\":\"bad_request\"}".into()),
            }
        }
        _ => (404, "{\"error\":\"not_found\"}".into()),
    }
}

/// Whether `GET /ping` at `addr` answers within a second.
fn ping(addr: SocketAddr) -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_millis(700)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(700)));
    let _ = s.set_write_timeout(Some(Duration::from_millis(700)));
    if s.write_all(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    String::from_utf8_lossy(&buf).contains("pong")
}
