//! The binaries' edges: bad flags, port in use, corrupt and torn data dirs for `raft-node`;
//! output and exit codes of `raft-client`.

mod cluster_support;

use cluster_support::{die_with_parent, free_ports, http, Cluster, NODE_BIN};
use raft_core::raft::Entry;
use raft_core::storage::{Storage, StorageOptions};
use std::io::{Seek, SeekFrom, Write};
use std::process::{Command, Output};
use std::time::Duration;

const CLIENT_BIN: &str = env!("CARGO_BIN_EXE_raft-client");

/// Run raft-node expecting it to exit by itself within 10 s.
fn run_node(args: &[&str]) -> Output {
    let mut cmd = Command::new(NODE_BIN);
    die_with_parent(&mut cmd);
    let mut child = cmd
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        if child.try_wait().expect("wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!(
                "raft-node {args:?} did not exit: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn node_rejects_bad_flags() {
    let out = run_node(&["--id", "1", "--bug", "lossy-net"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unknown bug") && err.contains("stale-read"),
        "{err}"
    );
    let out = run_node(&["--id", "1", "--peer", "2"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("ID=HOST:PORT"));
    let out = run_node(&["--peers", "2,3"]);
    assert!(!out.status.success(), "--id is required");
}

#[test]
fn node_refuses_a_port_in_use() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = busy.local_addr().expect("addr").to_string();
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("d");
    let out = run_node(&[
        "--id",
        "1",
        "--listen",
        &addr,
        "--data-dir",
        dir.to_str().expect("utf8"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("cannot listen on {addr}")), "{err}");
}

fn write_log(dir: &std::path::Path, n: u64) -> std::path::PathBuf {
    let (mut st, _, _) = Storage::open(dir, StorageOptions::default()).expect("open");
    let entries: Vec<Entry> = (1..=n)
        .map(|i| Entry {
            term: 1,
            index: i,
            data: Vec::new(),
        })
        .collect();
    st.persist(
        None,
        None,
        &entries,
        Some(&raft_core::raft::HardState {
            term: 1,
            vote: Some(1),
            commit: 0,
        }),
    )
    .expect("persist");
    st.wal().segment_paths()[0].clone()
}

#[test]
fn node_refuses_a_corrupt_wal_and_recovers_a_torn_one() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("n1");
    let seg = write_log(&dir, 5);
    // Each no-op entry record is 8 + 17 bytes; corrupt the 2nd record's payload.
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(&seg)
        .expect("open");
    f.seek(SeekFrom::Start(25 + 10)).expect("seek");
    f.write_all(&[0xff]).expect("write");
    drop(f);
    let port = free_ports(1)[0].to_string();
    let listen = format!("127.0.0.1:{port}");
    let args = [
        "--id",
        "1",
        "--listen",
        &listen,
        "--data-dir",
        dir.to_str().expect("utf8"),
    ];
    let out = run_node(&args);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("corrupt in the middle"), "{err}");
    assert!(
        err.contains(seg.to_str().expect("utf8")),
        "names the file: {err}"
    );
    assert!(err.contains("offset 25"), "names the offset: {err}");

    // A torn tail instead: the node starts, serves, and keeps the intact prefix.
    let dir2 = tmp.path().join("n2");
    let seg2 = write_log(&dir2, 5);
    let len = std::fs::metadata(&seg2).expect("meta").len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&seg2)
        .expect("open")
        .set_len(len - 4)
        .expect("truncate");
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut cmd = Command::new(NODE_BIN);
    die_with_parent(&mut cmd);
    let _guard = Kill(
        cmd.args([
            "--id",
            "1",
            "--listen",
            &listen,
            "--data-dir",
            dir2.to_str().expect("utf8"),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn"),
    );
    let p: u16 = port.parse().expect("port");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Ok(r) = http(p, "GET", "/status", "", &[]) {
            let v = r.json();
            // Single node: it elects itself, appends a no-op and commits the recovered log.
            if v["role"] == "leader" && v["commit_index"].as_u64() >= Some(5) {
                break v;
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "torn-tail node did not lead"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    // 4 intact entries + the new leader's no-op at index 5.
    assert_eq!(status["log_last_index"].as_u64(), Some(5), "{status}");
}

fn client(c: &Cluster, via: u64, args: &[&str]) -> (i32, String) {
    let out = Command::new(CLIENT_BIN)
        .arg("--addr")
        .arg(format!("127.0.0.1:{}", c.port(via)))
        .args(args)
        .output()
        .expect("raft-client");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
    )
}

#[test]
fn client_commands_and_exit_codes() {
    let mut c = Cluster::start(3, &[]);
    let leader = c.wait_leader(Duration::from_secs(10));
    let follower = (1..=3).find(|&i| i != leader).expect("follower");
    let (code, out) = client(&c, follower, &["put", "x", "1"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.starts_with(&format!("OK leader={leader} index=")),
        "{out}"
    );
    assert_eq!(client(&c, follower, &["get", "x"]), (0, "1".to_string()));
    assert_eq!(client(&c, leader, &["cas", "x", "1", "2"]).0, 0);
    assert_eq!(
        client(&c, leader, &["cas", "x", "1", "3"]),
        (1, "FAILED current=2".to_string())
    );
    assert_eq!(client(&c, leader, &["cas", "y", "--absent", "5"]).0, 0);
    assert_eq!(client(&c, leader, &["get", "y"]), (0, "5".to_string()));
    assert_eq!(client(&c, leader, &["delete", "x"]).0, 0);
    assert_eq!(client(&c, leader, &["get", "x"]), (0, "(nil)".to_string()));
    let (code, out) = client(&c, leader, &["status"]);
    assert_eq!(code, 0);
    assert!(out.contains("\"role\": \"leader\""), "{out}");

    // Only one node left: no leader can be elected → exit 3 with the JSON error.
    c.kill(leader);
    c.kill(follower);
    let last = (1..=3)
        .find(|&i| i != leader && i != follower)
        .expect("last");
    std::thread::sleep(Duration::from_millis(800));
    let (code, out) = client(&c, last, &["--max-redirects", "2", "put", "x", "9"]);
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("\"error\":\"not_leader\""), "{out}");

    // No node reachable (a port nobody listens on): exit 2, the RPC timeout of the design.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = dead.local_addr().unwrap();
    drop(dead);
    let out = Command::new(CLIENT_BIN)
        .arg("--addr")
        .arg(addr.to_string())
        .args(["--timeout-ms", "2000", "get", "x"])
        .output()
        .expect("raft-client");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}

/// A one-shot HTTP server on 127.0.0.1 that answers its first request with `status` and
/// `body` (a stand-in node, for answers a real cluster gives only by chance); the thread
/// ends after one answer or 10 s.
fn answer_once(status: &str, body: &'static str) -> std::net::SocketAddr {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let addr = listener.local_addr().expect("addr");
    let status = status.to_string();
    std::thread::spawn(move || {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::time::Instant::now() < deadline {
            let Ok((mut conn, _)) = listener.accept() else {
                std::thread::sleep(Duration::from_millis(10));
                continue;
            };
            let _ = conn.set_nonblocking(false);
            let _ = conn.set_read_timeout(Some(Duration::from_secs(2)));
            let mut buf = [0u8; 4096];
            let _ = conn.read(&mut buf);
            let reply = format!(
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = conn.write_all(reply.as_bytes());
            return;
        }
    });
    addr
}

/// Exit 4 of the README's table: the node lost its leadership before the write committed
/// (503 `leadership_lost`), so the write's outcome is unknown; the JSON error is printed.
/// A real cluster answers this only in a narrow race, so a stand-in node answers it here.
#[test]
fn client_exits_4_when_leadership_is_lost() {
    let addr = answer_once("503 Service Unavailable", r#"{"error":"leadership_lost"}"#);
    let out = Command::new(CLIENT_BIN)
        .arg("--addr")
        .arg(addr.to_string())
        .args(["--timeout-ms", "3000", "put", "x", "1"])
        .output()
        .expect("raft-client");
    assert_eq!(out.status.code(), Some(4), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("leadership_lost"), "{stdout}");
}
