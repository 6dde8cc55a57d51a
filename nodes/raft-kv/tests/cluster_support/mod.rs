//! Test support for real raft-kv clusters on loopback: free ports per test, one temp dir per
//! cluster, every child killed (SIGKILL) and reaped on drop, a tiny blocking HTTP/1.1 client,
//! and helpers to wait for a leader and to follow redirects.
#![allow(dead_code)]

use serde_json::Value;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const NODE_BIN: &str = env!("CARGO_BIN_EXE_raft-node");

/// Ask the kernel to SIGKILL the child if the spawning thread dies (e.g. the test binary is
/// killed before `Drop` runs), so no node outlives its test.
pub fn die_with_parent(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure only calls prctl, which is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Ports that were free a moment ago.
pub fn free_ports(n: usize) -> Vec<u16> {
    let ls: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind :0"))
        .collect();
    ls.iter()
        .map(|l| l.local_addr().expect("addr").port())
        .collect()
}

/// A blocking HTTP response.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub body: String,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

/// One HTTP/1.1 request with `Connection: close`. Err on connection problems.
pub fn http(
    port: u16,
    method: &str,
    path: &str,
    body: &str,
    headers: &[(&str, &str)],
) -> std::io::Result<Resp> {
    let mut s = TcpStream::connect_timeout(
        &format!("127.0.0.1:{port}").parse().expect("addr"),
        Duration::from_secs(2),
    )?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes())?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf)?;
    let text = String::from_utf8_lossy(&buf).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok(Resp { status, body })
}

pub struct Cluster {
    pub dir: tempfile::TempDir,
    pub ports: Vec<u16>,
    pub children: Vec<Option<Child>>,
    pub extra: Vec<String>,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for c in self.children.iter_mut().flatten() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Cluster {
    /// Start `n` nodes (ids 1..=n) with extra raft-node flags. Free ports are picked before
    /// the nodes bind them, so a test running beside this one can take one first: a cluster
    /// whose node could not listen ("Address already in use") is dropped and started again
    /// on new ports, at most five times.
    pub fn start(n: usize, extra: &[&str]) -> Cluster {
        for _ in 0..5 {
            let mut c = Cluster {
                dir: tempfile::tempdir().expect("tmp"),
                ports: free_ports(n),
                children: (0..n).map(|_| None).collect(),
                extra: extra.iter().map(|s| s.to_string()).collect(),
            };
            for id in 1..=n as u64 {
                c.start_node(id);
            }
            match (1..=n as u64).try_for_each(|id| c.serving_within(id, Duration::from_secs(10))) {
                Ok(()) => return c,
                Err(log) if log.contains("Address already in use") => continue,
                Err(log) => panic!("{log}"),
            }
        }
        panic!("five clusters of {n} nodes in a row found a port taken");
    }

    pub fn port(&self, id: u64) -> u16 {
        self.ports[(id - 1) as usize]
    }

    pub fn data_dir(&self, id: u64) -> PathBuf {
        self.dir.path().join(format!("node{id}"))
    }

    pub fn node_command(&self, id: u64) -> Command {
        let mut cmd = Command::new(NODE_BIN);
        cmd.arg("--id")
            .arg(id.to_string())
            .arg("--listen")
            .arg(format!("127.0.0.1:{}", self.port(id)))
            .arg("--data-dir")
            .arg(self.data_dir(id));
        for (j, p) in self.ports.iter().enumerate() {
            let j = j as u64 + 1;
            if j != id {
                cmd.arg("--peer").arg(format!("{j}=127.0.0.1:{p}"));
            }
        }
        cmd.args(&self.extra);
        die_with_parent(&mut cmd);
        cmd
    }

    pub fn start_node(&mut self, id: u64) {
        let log =
            std::fs::File::create(self.dir.path().join(format!("node{id}.log"))).expect("log file");
        let log2 = log.try_clone().expect("clone");
        let child = self
            .node_command(id)
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log2))
            .spawn()
            .expect("spawn raft-node");
        self.children[(id - 1) as usize] = Some(child);
    }

    pub fn wait_serving(&self, id: u64) {
        if let Err(log) = self.serving_within(id, Duration::from_secs(10)) {
            panic!("{log}");
        }
    }

    /// `Ok` once node `id` answers `/status`; else the failure with the node's log.
    fn serving_within(&self, id: u64, limit: Duration) -> Result<(), String> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if http(self.port(id), "GET", "/status", "", &[]).is_ok_and(|r| r.status == 200) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(format!(
            "node {id} did not serve within {limit:?}\n{}",
            self.log(id)
        ))
    }

    /// kill -9 a node and reap it.
    pub fn kill(&mut self, id: u64) {
        if let Some(mut c) = self.children[(id - 1) as usize].take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn restart(&mut self, id: u64) {
        self.kill(id);
        self.start_node(id);
        self.wait_serving(id);
    }

    pub fn alive(&self) -> Vec<u64> {
        (1..=self.ports.len() as u64)
            .filter(|id| self.children[(*id - 1) as usize].is_some())
            .collect()
    }

    pub fn log(&self, id: u64) -> String {
        std::fs::read_to_string(self.dir.path().join(format!("node{id}.log"))).unwrap_or_default()
    }

    pub fn status(&self, id: u64) -> Option<Value> {
        http(self.port(id), "GET", "/status", "", &[])
            .ok()
            .filter(|r| r.status == 200)
            .map(|r| r.json())
    }

    /// Wait until a live node says it leads and every other live node follows it.
    pub fn wait_leader(&self, within: Duration) -> u64 {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            let alive = self.alive();
            let sts: Vec<Value> = alive.iter().filter_map(|&id| self.status(id)).collect();
            if sts.len() == alive.len() {
                let leaders: Vec<u64> = sts
                    .iter()
                    .filter(|s| s["role"] == "leader")
                    .filter_map(|s| s["id"].as_u64())
                    .collect();
                if let [l] = leaders[..] {
                    if sts.iter().all(|s| s["leader_id"].as_u64() == Some(l)) {
                        return l;
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("no stable leader within {within:?}");
    }

    /// A request to node `id` that follows 421 redirects (and retries while no leader is
    /// known), up to `tries` times.
    pub fn call(&self, id: u64, method: &str, path: &str, body: &str) -> Resp {
        self.call_h(id, method, path, body, &[])
    }

    pub fn call_h(
        &self,
        id: u64,
        method: &str,
        path: &str,
        body: &str,
        headers: &[(&str, &str)],
    ) -> Resp {
        let mut port = self.port(id);
        for _ in 0..40 {
            match http(port, method, path, body, headers) {
                Ok(r) if r.status == 421 => {
                    let v = r.json();
                    match v["leader_addr"].as_str() {
                        Some(a) => {
                            port = a
                                .rsplit(':')
                                .next()
                                .and_then(|p| p.parse().ok())
                                .expect("leader_addr port");
                        }
                        None => std::thread::sleep(Duration::from_millis(100)),
                    }
                }
                Ok(r) if r.status == 503 || r.status == 504 => {
                    std::thread::sleep(Duration::from_millis(100))
                }
                Ok(r) => return r,
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
        panic!("{method} {path} via node {id}: no answer after 40 tries");
    }

    pub fn put(&self, via: u64, key: &str, value: &str) -> Value {
        let r = self.call(via, "PUT", &format!("/key/{key}"), value);
        assert_eq!(r.status, 200, "put {key}: {}", r.body);
        r.json()
    }

    pub fn get(&self, via: u64, key: &str) -> Option<String> {
        let r = self.call(via, "GET", &format!("/key/{key}"), "");
        match r.status {
            200 => r.json()["value"].as_str().map(str::to_string),
            404 => None,
            s => panic!("get {key}: HTTP {s} {}", r.body),
        }
    }
}
