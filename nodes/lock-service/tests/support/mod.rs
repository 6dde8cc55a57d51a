//! Test support for real lock-service clusters on loopback (modelled on raft-kv's): free ports per test, one temp dir per
//! cluster, every child killed (SIGKILL) and reaped on drop, a tiny blocking HTTP/1.1 client,
//! and helpers to wait for a leader and to follow redirects.
#![allow(dead_code)]

use serde_json::Value;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const NODE_BIN: &str = env!("CARGO_BIN_EXE_lock-node");
pub const CLIENT_BIN: &str = env!("CARGO_BIN_EXE_lock-client");

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
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
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
    /// Start `n` nodes (ids 1..=n) with extra lock-node flags.
    pub fn start(n: usize, extra: &[&str]) -> Cluster {
        let mut c = Cluster {
            dir: tempfile::tempdir().expect("tmp"),
            ports: free_ports(n),
            children: (0..n).map(|_| None).collect(),
            extra: extra.iter().map(|s| s.to_string()).collect(),
        };
        for id in 1..=n as u64 {
            c.start_node(id);
        }
        for id in 1..=n as u64 {
            c.wait_serving(id);
        }
        c
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
            .expect("spawn lock-node");
        self.children[(id - 1) as usize] = Some(child);
    }

    pub fn wait_serving(&self, id: u64) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if http(self.port(id), "GET", "/status", "", &[]).is_ok_and(|r| r.status == 200) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("node {id} did not serve within 10s\n{}", self.log(id));
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

    /// `--nodes` for lock-client: every node's address.
    pub fn nodes_flag(&self) -> String {
        self.ports
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// A lock-client command against this cluster.
    pub fn client(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(CLIENT_BIN);
        cmd.arg("--nodes").arg(self.nodes_flag()).args(args);
        die_with_parent(&mut cmd);
        cmd
    }

    /// Open a session with `ttl_ms` through `via` (following redirects); its id.
    pub fn open_session(&self, via: u64, ttl_ms: u64) -> u64 {
        let r = self.call(via, "POST", "/session", &format!("{{\"ttl_ms\":{ttl_ms}}}"));
        assert_eq!(r.status, 200, "open session: {}", r.body);
        r.json()["session"].as_u64().expect("session id")
    }

    /// The lock's holder session and token, by a linearizable read.
    pub fn holder(&self, via: u64, name: &str) -> Option<(u64, u64)> {
        let r = self.call(via, "GET", &format!("/lock?name={name}"), "");
        assert_eq!(r.status, 200, "GET /lock: {}", r.body);
        let v = r.json();
        Some((v["holder"].as_u64()?, v["token"].as_u64()?))
    }
}

/// A lock-client process whose stdout is read line by line on a thread; killed on drop.
pub struct ClientProc {
    pub child: Option<Child>,
    lines: std::sync::mpsc::Receiver<String>,
}

impl ClientProc {
    pub fn spawn(mut cmd: Command) -> ClientProc {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn lock-client");
        let out = child.stdout.take().expect("stdout");
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        ClientProc {
            child: Some(child),
            lines,
        }
    }

    /// The next stdout line within `within`, if any.
    pub fn line(&self, within: Duration) -> Option<String> {
        self.lines.recv_timeout(within).ok()
    }

    /// SIGKILL and reap.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Send a signal.
    pub fn signal(&self, sig: i32) {
        if let Some(c) = &self.child {
            // SAFETY: kill(2) on our own child's pid.
            unsafe {
                libc::kill(c.id() as i32, sig);
            }
        }
    }

    /// Wait for the exit code within `within` (None if it did not exit).
    pub fn wait(&mut self, within: Duration) -> Option<i32> {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Some(c) = &mut self.child {
                if let Ok(Some(st)) = c.try_wait() {
                    self.child = None;
                    return Some(st.code().unwrap_or(-1));
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for ClientProc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Parse `acquired NAME token=N`.
pub fn token_of(line: &str, name: &str) -> u64 {
    let prefix = format!("acquired {name} token=");
    line.strip_prefix(&prefix)
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or_else(|| panic!("expected `{prefix}N`, got {line:?}"))
}
