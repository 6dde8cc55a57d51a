//! Real `paxos-node` processes on free loopback ports in temp dirs, for the cluster tests:
//! start, kill (SIGKILL + reap), restart with the same data; every child is killed on drop.
//! A minimal HTTP/1.1 client (one connection per request) that can follow 421 redirects.

#![allow(dead_code)]

use serde_json::Value;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_paxos-node");

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub struct Cluster {
    pub ports: Vec<u16>,
    pub dirs: Vec<PathBuf>,
    pub extra: Vec<String>,
    children: Vec<Option<Child>>,
    _tmp: tempfile::TempDir,
}

impl Cluster {
    /// Start `n` nodes (ids 1..=n) with extra flags for every node.
    pub fn start(n: usize, extra: &[&str]) -> Cluster {
        let tmp = tempfile::tempdir().unwrap();
        let ports: Vec<u16> = (0..n).map(|_| free_port()).collect();
        let dirs = (1..=n).map(|i| tmp.path().join(format!("n{i}"))).collect();
        let mut c = Cluster {
            ports,
            dirs,
            extra: extra.iter().map(|s| s.to_string()).collect(),
            children: (0..n).map(|_| None).collect(),
            _tmp: tmp,
        };
        for id in 1..=n as u64 {
            c.spawn(id);
        }
        for id in 1..=n as u64 {
            c.wait_serving(id);
        }
        c
    }

    pub fn addr(&self, id: u64) -> String {
        format!("127.0.0.1:{}", self.ports[id as usize - 1])
    }

    pub fn spawn(&mut self, id: u64) {
        let mut cmd = Command::new(BIN);
        cmd.arg("--id")
            .arg(id.to_string())
            .arg("--listen")
            .arg(self.addr(id));
        for p in 1..=self.ports.len() as u64 {
            if p != id {
                cmd.arg("--peer").arg(format!("{p}={}", self.addr(p)));
            }
        }
        cmd.arg("--data-dir").arg(&self.dirs[id as usize - 1]);
        cmd.args(&self.extra);
        cmd.stdout(Stdio::null()).stderr(Stdio::null());
        self.children[id as usize - 1] = Some(cmd.spawn().expect("start paxos-node"));
    }

    pub fn wait_serving(&self, id: u64) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if http(&self.addr(id), "GET", "/status", &[], "").is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("node {id} did not serve within 20 s");
    }

    pub fn kill(&mut self, id: u64) {
        if let Some(mut c) = self.children[id as usize - 1].take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn status(&self, id: u64) -> Option<Value> {
        http(&self.addr(id), "GET", "/status", &[], "").map(|(_, v)| v)
    }

    /// The id of the node that says it leads (waits up to 20 s).
    pub fn leader(&self) -> u64 {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            for id in 1..=self.ports.len() as u64 {
                if self.children[id as usize - 1].is_some() {
                    if let Some(s) = self.status(id) {
                        if s["role"] == "leader" {
                            return id;
                        }
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("no leader within 20 s");
    }

    /// Send to `id`, follow redirects, retry unknown outcomes and refusals until 20 s pass;
    /// returns the final status and body.
    pub fn request(&self, id: u64, method: &str, path: &str, body: &str) -> (u16, Value) {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut addr = self.addr(id);
        let mut last = None;
        while Instant::now() < deadline {
            match http(&addr, method, path, &[], body) {
                Some((421, v)) => {
                    if let Some(a) = v["leader_addr"].as_str() {
                        addr = a.to_string();
                    } else {
                        std::thread::sleep(Duration::from_millis(50));
                    }
                    last = Some((421, v));
                }
                Some((s, v)) if s < 500 => return (s, v),
                other => {
                    last = other;
                    addr = self.addr(id);
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        }
        panic!("{method} {path} via node {id}: no answer in 20 s; last {last:?}");
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for id in 1..=self.ports.len() as u64 {
            self.kill(id);
        }
    }
}

/// One HTTP/1.1 exchange; `None` if the connection failed or the answer did not parse.
pub fn http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Option<(u16, Value)> {
    let mut s = TcpStream::connect_timeout(&addr.parse().ok()?, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).ok()?;
    let mut out = Vec::new();
    s.read_to_end(&mut out).ok()?;
    let text = String::from_utf8_lossy(&out);
    let status: u16 = text.split(' ').nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n")?.1;
    let value = serde_json::from_str(body).unwrap_or(Value::String(body.to_string()));
    Some((status, value))
}
