//! Test support for real bully clusters on loopback: free ports per test, every child
//! SIGKILLed and reaped on drop (and on the test's death, by PR_SET_PDEATHSIG), a tiny
//! blocking HTTP/1.1 client, and waiting for one leader that everyone follows.
#![allow(dead_code)]

use serde_json::Value;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const NODE_BIN: &str = env!("CARGO_BIN_EXE_bully-node");

/// Short timeouts so that elections take well under a second.
pub const FAST: &[&str] = &[
    "--heartbeat-ms",
    "20",
    "--leader-timeout-ms",
    "200",
    "--answer-timeout-ms",
    "80",
    "--coordinator-timeout-ms",
    "200",
];

/// Ask the kernel to SIGKILL the child if the test process dies first.
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

/// One HTTP/1.1 request with `Connection: close`.
pub fn http(port: u16, method: &str, path: &str, body: &str) -> std::io::Result<Resp> {
    let addr = format!("127.0.0.1:{port}").parse().expect("addr");
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
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
    /// Directed links (from, to) that lead to a port nobody listens on: a static partition.
    pub cut: Vec<(u64, u64)>,
    pub dead_port: u16,
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
    /// Start `n` nodes (ids 1..=n) with extra bully-node flags.
    pub fn start(n: usize, extra: &[&str]) -> Cluster {
        Cluster::start_cut(n, extra, &[])
    }

    /// Start `n` nodes whose links between different `groups` lead nowhere.
    pub fn start_partitioned(n: usize, extra: &[&str], groups: &[&[u64]]) -> Cluster {
        let mut cut = Vec::new();
        for (i, a) in groups.iter().enumerate() {
            for (j, b) in groups.iter().enumerate() {
                if i != j {
                    cut.extend(a.iter().flat_map(|&x| b.iter().map(move |&y| (x, y))));
                }
            }
        }
        Cluster::start_cut(n, extra, &cut)
    }

    fn start_cut(n: usize, extra: &[&str], cut: &[(u64, u64)]) -> Cluster {
        let ports = free_ports(n + 1);
        let mut c = Cluster {
            dir: tempfile::tempdir().expect("tmp"),
            dead_port: ports[n],
            ports: ports[..n].to_vec(),
            children: (0..n).map(|_| None).collect(),
            extra: extra.iter().map(|s| s.to_string()).collect(),
            cut: cut.to_vec(),
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

    pub fn start_node(&mut self, id: u64) {
        let log = std::fs::File::create(self.log_path(id)).expect("log file");
        let log2 = log.try_clone().expect("clone");
        let mut cmd = Command::new(NODE_BIN);
        cmd.arg("--id")
            .arg(id.to_string())
            .arg("--listen")
            .arg(format!("127.0.0.1:{}", self.port(id)));
        for (j, p) in self.ports.iter().enumerate() {
            let j = j as u64 + 1;
            if j != id {
                let p = if self.cut.contains(&(id, j)) {
                    self.dead_port
                } else {
                    *p
                };
                cmd.arg("--peer").arg(format!("{j}=127.0.0.1:{p}"));
            }
        }
        cmd.args(&self.extra);
        die_with_parent(&mut cmd);
        let child = cmd
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log2))
            .spawn()
            .expect("spawn bully-node");
        self.children[(id - 1) as usize] = Some(child);
    }

    fn log_path(&self, id: u64) -> std::path::PathBuf {
        self.dir.path().join(format!("node{id}.log"))
    }

    pub fn log(&self, id: u64) -> String {
        std::fs::read_to_string(self.log_path(id)).unwrap_or_default()
    }

    pub fn wait_serving(&self, id: u64) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if http(self.port(id), "GET", "/status", "").is_ok_and(|r| r.status == 200) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("node {id} did not serve within 10s\n{}", self.log(id));
    }

    /// SIGKILL a node and reap it.
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

    pub fn status(&self, id: u64) -> Option<Value> {
        http(self.port(id), "GET", "/status", "")
            .ok()
            .filter(|r| r.status == 200)
            .map(|r| r.json())
    }

    /// Wait until one live node says it leads and every live node follows it.
    pub fn wait_leader(&self, within: Duration) -> u64 {
        let deadline = Instant::now() + within;
        let mut last = Vec::new();
        while Instant::now() < deadline {
            let alive = self.alive();
            last = alive.iter().filter_map(|&id| self.status(id)).collect();
            if last.len() == alive.len() {
                let leaders: Vec<u64> = last
                    .iter()
                    .filter(|s| s["role"] == "leader")
                    .filter_map(|s| s["id"].as_u64())
                    .collect();
                if let [l] = leaders[..] {
                    if last.iter().all(|s| s["leader_id"].as_u64() == Some(l)) {
                        return l;
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let logs: Vec<String> = self.alive().iter().map(|&i| self.log(i)).collect();
        panic!(
            "no single leader within {within:?}: {last:?}\n{}",
            logs.join("\n")
        );
    }
}
