//! The results store is not trusted (issue 12 item 7): `analyze` rebuilding the store
//! index next to siblings whose files are a FIFO or `/dev/zero` finishes promptly, and
//! `serve` refuses a FIFO instead of blocking on it and closes idle connections (a
//! slowloris client with 1,100 connections holds none of them for long).

use assert_cmd::Command;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const HISTORY: &str = r#"{"index":0,"time":10,"type":"invoke","process":0,"f":"write","value":1}
{"index":1,"time":20,"type":"ok","process":0,"f":"write","value":1}
{"index":2,"time":30,"type":"invoke","process":1,"f":"read","value":null}
{"index":3,"time":40,"type":"ok","process":1,"f":"read","value":1}
"#;

fn mkfifo(p: &Path) {
    nix::unistd::mkfifo(p, nix::sys::stat::Mode::S_IRWXU).expect("mkfifo");
}

/// A store with one good run (made by `check --report`) and hostile siblings: a run whose
/// history and results are FIFOs, and one whose files are symlinks to `/dev/zero`.
fn hostile_store() -> (tempfile::TempDir, PathBuf) {
    let store = tempfile::tempdir().unwrap();
    let input = store.path().join("input.jsonl");
    std::fs::write(&input, HISTORY).unwrap();
    let good = store.path().join("good").join("20260101T000000.000Z");
    let out = Command::cargo_bin("harness")
        .unwrap()
        .arg("check")
        .arg(&input)
        .arg("--report")
        .arg(&good)
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let fifo_run = store.path().join("fifo").join("20260101T000001.000Z");
    std::fs::create_dir_all(&fifo_run).unwrap();
    for f in ["history.jsonl", "results.json", "test.json"] {
        mkfifo(&fifo_run.join(f));
    }
    let zero_run = store.path().join("zero").join("20260101T000002.000Z");
    std::fs::create_dir_all(&zero_run).unwrap();
    for f in ["history.jsonl", "results.json", "test.json"] {
        std::os::unix::fs::symlink("/dev/zero", zero_run.join(f)).unwrap();
    }
    (store, good)
}

#[test]
fn analyze_rebuilds_the_index_past_fifo_and_dev_zero_siblings() {
    let (store, good) = hostile_store();
    let started = Instant::now();
    let out = Command::cargo_bin("harness")
        .unwrap()
        .arg("analyze")
        .arg(&good)
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    let took = started.elapsed();
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout {}\nstderr {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(took < Duration::from_secs(30), "analyze took {took:?}");
    let index = std::fs::read_to_string(store.path().join("index.html")).unwrap();
    assert!(index.contains("good"), "index lists the good run");
    // A sibling's unreadable files show as a problem on its row, not as a hang.
    assert!(index.contains("fifo") && index.contains("zero"), "{index}");
}

struct Server {
    addr: SocketAddr,
    _rt: tokio::runtime::Runtime,
    _store: tempfile::TempDir,
}

fn start(store: tempfile::TempDir, idle: Duration, max: usize) -> Server {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let root = store.path().to_path_buf();
    rt.spawn(async move {
        let _ = harness::cmd::serve::serve_with_limits(listener, &root, idle, max).await;
    });
    Server {
        addr,
        _rt: rt,
        _store: store,
    }
}

/// One GET with a deadline: the status code, or `None` when no answer came in time.
fn get(addr: SocketAddr, path: &str, within: Duration) -> Option<u16> {
    let mut s = TcpStream::connect_timeout(&addr, within).ok()?;
    s.set_read_timeout(Some(within)).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf);
    text.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn serve_refuses_a_fifo_and_dev_zero_without_blocking() {
    let (store, _good) = hostile_store();
    let server = start(store, Duration::from_secs(5), 64);
    let limit = Duration::from_secs(10);
    for _ in 0..4 {
        // More requests than the runtime has threads: none may be stuck.
        let code = get(
            server.addr,
            "/fifo/20260101T000001.000Z/history.jsonl",
            limit,
        );
        assert_eq!(code, Some(403));
    }
    let code = get(
        server.addr,
        "/zero/20260101T000002.000Z/results.json",
        limit,
    );
    assert_eq!(code, Some(403));
    let code = get(
        server.addr,
        "/good/20260101T000000.000Z/history.jsonl",
        limit,
    );
    assert_eq!(code, Some(200));
}

/// Raise this process's soft limit of open files to its hard limit (1,100 client sockets
/// plus the server's).
fn raise_fd_limit() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain libc calls on a local struct.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        lim.rlim_cur = lim.rlim_max.min(65_536);
        libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
    }
    lim.rlim_cur
}

/// Whether the server closed `s`: a read gives end of file or a reset within `within`.
fn closed_by_server(s: &mut TcpStream, within: Duration) -> bool {
    s.set_read_timeout(Some(within)).unwrap();
    let mut b = [0u8; 16];
    match s.read(&mut b) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => !matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
    }
}

#[test]
fn serve_closes_1100_idle_connections_and_keeps_serving() {
    if raise_fd_limit() < 2_000 {
        eprintln!("skipped: fewer than 2,000 file descriptors allowed");
        return;
    }
    let store = tempfile::tempdir().unwrap();
    std::fs::write(store.path().join("a.txt"), "hello").unwrap();
    let server = start(store, Duration::from_secs(1), 256);
    let mut idle = Vec::new();
    for _ in 0..1_100 {
        if let Ok(s) = TcpStream::connect_timeout(&server.addr, Duration::from_millis(500)) {
            idle.push(s);
        }
    }
    assert!(
        idle.len() >= 1_000,
        "only {} connections opened",
        idle.len()
    );
    // Every idle connection is closed by the server: those accepted at once after 1 s,
    // those waiting in the backlog after their turn (1,100 / 256 rounds of 1 s).
    let deadline = Instant::now() + Duration::from_secs(40);
    let mut open = 0;
    for s in &mut idle {
        let left = deadline.saturating_duration_since(Instant::now());
        if !closed_by_server(s, left.max(Duration::from_millis(10))) {
            open += 1;
        }
    }
    assert_eq!(open, 0, "{open} idle connections still held after 40 s");
    drop(idle);
    assert_eq!(
        get(server.addr, "/a.txt", Duration::from_secs(10)),
        Some(200)
    );
}
