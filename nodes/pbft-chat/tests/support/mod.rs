//! Test support for real pbft-node clusters on 127.0.0.1: free ports, keys from `pbft-node
//! keygen` in a temp dir, every child SIGKILLed and reaped on drop (and on the test
//! process's death, through PR_SET_PDEATHSIG), stdout captured to files, a client.
#![allow(dead_code)]

use pbft_chat::client::ChatClient;
use pbft_chat::crypto::Ed25519Verifier;
use pbft_chat::types::Entry;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const NODE_BIN: &str = env!("CARGO_BIN_EXE_pbft-node");
pub const CHAT_BIN: &str = env!("CARGO_BIN_EXE_chat");

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

pub fn free_ports(n: usize) -> Vec<u16> {
    let ls: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind :0"))
        .collect();
    ls.iter()
        .map(|l| l.local_addr().expect("addr").port())
        .collect()
}

/// Four nodes on loopback.
pub struct Cluster {
    pub dir: tempfile::TempDir,
    pub ports: Vec<u16>,
    pub children: Vec<Option<Child>>,
}

impl Cluster {
    /// Start 4 nodes; `extra(i)` gives node i's extra flags.
    pub fn start(extra: impl Fn(u64) -> Vec<String>) -> Cluster {
        let dir = tempfile::tempdir().expect("tmp");
        let keys = dir.path().join("keys");
        let st = Command::new(NODE_BIN)
            .args(["keygen", "--n", "4", "--out"])
            .arg(&keys)
            .stdout(Stdio::null())
            .status()
            .expect("keygen");
        assert!(st.success(), "keygen failed");
        let ports = free_ports(4);
        let mut c = Cluster {
            dir,
            ports,
            children: Vec::new(),
        };
        for id in 1..=4u64 {
            let child = c.spawn(id, &extra(id));
            c.children.push(Some(child));
        }
        for id in 1..=4u64 {
            c.wait_listening(id);
        }
        c
    }

    pub fn addr(&self, id: u64) -> String {
        format!("127.0.0.1:{}", self.ports[(id - 1) as usize])
    }

    pub fn keys(&self) -> PathBuf {
        self.dir.path().join("keys")
    }

    pub fn out_path(&self, id: u64) -> PathBuf {
        self.dir.path().join(format!("node{id}.out"))
    }

    fn spawn(&self, id: u64, extra: &[String]) -> Child {
        let keys = self.keys();
        let mut cmd = Command::new(NODE_BIN);
        cmd.arg("--id")
            .arg(id.to_string())
            .arg("--listen")
            .arg(self.addr(id))
            .arg("--key")
            .arg(keys.join(format!("node{id}.key")))
            .arg("--public")
            .arg(keys.join("public.json"))
            .arg("--data-dir")
            .arg(self.dir.path().join(format!("data{id}")))
            .args(["--view-change-timeout-ms", "600"]);
        for peer in (1..=4u64).filter(|p| *p != id) {
            cmd.arg("--peer").arg(format!("{peer}={}", self.addr(peer)));
        }
        cmd.args(extra);
        let out = std::fs::File::create(self.out_path(id)).expect("out file");
        let err =
            std::fs::File::create(self.dir.path().join(format!("node{id}.err"))).expect("err");
        cmd.stdout(out).stderr(err).stdin(Stdio::null());
        die_with_parent(&mut cmd);
        cmd.spawn().expect("spawn pbft-node")
    }

    fn wait_listening(&self, id: u64) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if self.stdout(id).contains("listening on") {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("node {id} did not start: {}", self.stderr(id));
    }

    pub fn stdout(&self, id: u64) -> String {
        std::fs::read_to_string(self.out_path(id)).unwrap_or_default()
    }

    pub fn stderr(&self, id: u64) -> String {
        std::fs::read_to_string(self.dir.path().join(format!("node{id}.err"))).unwrap_or_default()
    }

    /// SIGKILL a node.
    pub fn kill(&mut self, id: u64) {
        if let Some(mut c) = self.children[(id - 1) as usize].take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn client(&self, timeout: Duration) -> ChatClient {
        let public =
            pbft_chat::keys::load_public(&self.keys().join("public.json")).expect("public");
        ChatClient::new(
            (1..=4).map(|i| self.addr(i)).collect(),
            Some(Ed25519Verifier(public)),
            timeout,
        )
    }

    /// `chat` with --nodes and --public of this cluster.
    pub fn chat(&self, args: &[&str]) -> std::process::Output {
        let nodes: Vec<String> = (1..=4).map(|i| self.addr(i)).collect();
        let mut cmd = Command::new(CHAT_BIN);
        cmd.arg("--nodes")
            .arg(nodes.join(","))
            .arg("--public")
            .arg(self.keys().join("public.json"))
            .args(args);
        die_with_parent(&mut cmd);
        cmd.output().expect("run chat")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for c in self.children.iter_mut().flatten() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Poll `f` until it returns Some or the deadline passes.
pub fn eventually<T>(secs: u64, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// Each listed node's delivered log.
pub fn logs(
    rt: &tokio::runtime::Runtime,
    client: &ChatClient,
    c: &Cluster,
    ids: &[u64],
) -> Vec<Vec<Entry>> {
    ids.iter()
        .map(|id| rt.block_on(client.read(&c.addr(*id))).unwrap_or_default())
        .collect()
}

pub fn dir_exists(p: &Path) -> bool {
    p.is_dir()
}
