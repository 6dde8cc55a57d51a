//! Test support for real gossip clusters on loopback: keys from `gossip-node keygen`, free
//! ports, every child SIGKILLed and reaped on drop (and on the test's death, by
//! PR_SET_PDEATHSIG), a tiny blocking HTTP/1.1 client, static partitions by pointing links
//! at a port nobody listens on, and waiting for convergence with deadlines.
#![allow(dead_code)]

use serde_json::Value;
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const NODE_BIN: &str = env!("CARGO_BIN_EXE_gossip-node");

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

/// (origin, seq, body) of a message.
pub type Key = (u64, u64, String);

pub struct Cluster {
    pub dir: tempfile::TempDir,
    pub ports: Vec<u16>,
    pub children: Vec<Option<Child>>,
    pub extra: Vec<String>,
    /// Directed links (from, to) that lead to a port nobody listens on.
    pub cut: Vec<(u64, u64)>,
    pub dead_port: u16,
    /// Every acknowledged post: (origin, seq, body).
    pub acked: BTreeSet<Key>,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for c in self.children.iter_mut().flatten() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Fast rounds so that tests take seconds.
pub const FAST: &[&str] = &["--gossip-ms", "50", "--anti-entropy-ms", "300"];

/// Cut every link between different groups.
pub fn cut_between(groups: &[&[u64]]) -> Vec<(u64, u64)> {
    let mut cut = Vec::new();
    for (i, a) in groups.iter().enumerate() {
        for (j, b) in groups.iter().enumerate() {
            if i != j {
                cut.extend(a.iter().flat_map(|&x| b.iter().map(move |&y| (x, y))));
            }
        }
    }
    cut
}

impl Cluster {
    /// Keys for n nodes (via `gossip-node keygen`), then `n` nodes with extra flags.
    pub fn start(n: usize, extra: &[&str], cut: &[(u64, u64)]) -> Cluster {
        let ports = free_ports(n + 1);
        let c = Cluster {
            dir: tempfile::tempdir().expect("tmp"),
            dead_port: ports[n],
            ports: ports[..n].to_vec(),
            children: (0..n).map(|_| None).collect(),
            extra: extra.iter().map(|s| s.to_string()).collect(),
            cut: cut.to_vec(),
            acked: BTreeSet::new(),
        };
        let out = Command::new(NODE_BIN)
            .args(["keygen", "--n", &n.to_string(), "--out"])
            .arg(c.dir.path().join("keys"))
            .output()
            .expect("keygen");
        assert!(
            out.status.success(),
            "keygen: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut c = c;
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

    pub fn n(&self) -> u64 {
        self.ports.len() as u64
    }

    /// The command that starts node `id` with the cluster's keys, data dir and links.
    pub fn node_command(&self, id: u64) -> Command {
        let keys = self.dir.path().join("keys");
        let mut cmd = Command::new(NODE_BIN);
        cmd.arg("--id").arg(id.to_string());
        cmd.arg("--listen")
            .arg(format!("127.0.0.1:{}", self.port(id)));
        cmd.arg("--key").arg(keys.join(format!("node{id}.key")));
        cmd.arg("--public").arg(keys.join("public.txt"));
        cmd.arg("--data-dir")
            .arg(self.dir.path().join(format!("data{id}")));
        for j in 1..=self.n() {
            if j != id {
                let p = if self.cut.contains(&(id, j)) {
                    self.dead_port
                } else {
                    self.port(j)
                };
                cmd.arg("--peer").arg(format!("{j}=127.0.0.1:{p}"));
            }
        }
        cmd.args(&self.extra);
        cmd
    }

    pub fn start_node(&mut self, id: u64) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path(id))
            .expect("log file");
        let log2 = log.try_clone().expect("clone");
        let mut cmd = self.node_command(id);
        die_with_parent(&mut cmd);
        let child = cmd
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log2))
            .spawn()
            .expect("spawn gossip-node");
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

    pub fn kill(&mut self, id: u64) {
        if let Some(mut c) = self.children[(id - 1) as usize].take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Restart every node with the current `cut` (data dirs are kept).
    pub fn restart_all(&mut self) {
        for id in 1..=self.n() {
            self.kill(id);
        }
        for id in 1..=self.n() {
            self.start_node(id);
        }
        for id in 1..=self.n() {
            self.wait_serving(id);
        }
    }

    /// Post at node `id`; the acknowledged (origin, seq) is remembered.
    pub fn post(&mut self, id: u64, body: &str) -> (u64, u64) {
        let req = serde_json::json!({ "body": body }).to_string();
        let r = http(self.port(id), "POST", "/broadcast", &req).expect("post");
        assert_eq!(r.status, 200, "post at {id}: {}", r.body);
        let v = r.json();
        let key = (
            v["origin"].as_u64().expect("origin"),
            v["seq"].as_u64().expect("seq"),
        );
        self.acked.insert((key.0, key.1, body.to_string()));
        key
    }

    pub fn set_byzantine(&self, id: u64, mode: &str) {
        let r = http(
            self.port(id),
            "POST",
            "/admin/byzantine",
            &format!("{{\"mode\":{mode}}}"),
        )
        .expect("admin");
        assert_eq!(r.status, 200, "{}", r.body);
    }

    /// What node `id` delivered.
    pub fn delivered(&self, id: u64) -> Option<BTreeSet<Key>> {
        let r = http(self.port(id), "GET", "/messages", "").ok()?;
        let v = r.json();
        let list = v["messages"].as_array()?;
        Some(
            list.iter()
                .map(|m| {
                    (
                        m["origin"].as_u64().unwrap_or(0),
                        m["seq"].as_u64().unwrap_or(0),
                        m["body"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect(),
        )
    }

    /// Wait until every node in `nodes` delivered every acknowledged message; the time
    /// it took. Panics (with the logs) past `within`.
    pub fn wait_converged(&self, nodes: &[u64], within: Duration) -> Duration {
        let start = Instant::now();
        loop {
            let views: Vec<_> = nodes.iter().map(|&id| self.delivered(id)).collect();
            if views
                .iter()
                .all(|v| v.as_ref().is_some_and(|v| self.acked.is_subset(v)))
            {
                return start.elapsed();
            }
            if start.elapsed() > within {
                let logs: Vec<String> = nodes
                    .iter()
                    .map(|&i| format!("== node {i}\n{}", self.log(i)))
                    .collect();
                panic!(
                    "not converged within {within:?}: acked {:?}\nviews {views:?}\n{}",
                    self.acked,
                    logs.join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Assert that nodes deliver nothing but acknowledged messages.
    pub fn assert_only_genuine(&self, nodes: &[u64]) {
        for &id in nodes {
            let got = self.delivered(id).expect("messages");
            let bad: Vec<_> = got.difference(&self.acked).collect();
            assert!(
                bad.is_empty(),
                "node {id} delivered non-genuine messages {bad:?}"
            );
        }
    }
}
