//! `harness serve`: a server on 127.0.0.1 (port 0) over a temporary store answers with
//! the index, run directory listings and files with their content types, and refuses
//! `..` (plain and percent-encoded), symlinks leading out of the store and writes.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// The server runs on its own runtime thread; dropping the guard shuts the runtime down.
struct Server {
    addr: SocketAddr,
    rt: Option<tokio::runtime::Runtime>,
    _store: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_timeout(Duration::from_secs(2));
        }
    }
}

fn start() -> Server {
    let store = tempfile::tempdir().unwrap();
    let run = store.path().join("reg/20261123T110000.000Z");
    std::fs::create_dir_all(run.join("nodes/n1")).unwrap();
    std::fs::write(
        run.join("report.html"),
        "<!DOCTYPE html><html><body>report</body></html>",
    )
    .unwrap();
    std::fs::write(run.join("history.jsonl"), "{\"index\":0}\n").unwrap();
    std::fs::write(run.join("latency-raw.png"), b"\x89PNG\r\n\x1a\n").unwrap();
    std::fs::write(run.join("nodes/n1/stderr"), "listening on 127.0.0.1:8001\n").unwrap();
    std::fs::write(run.join("nodes/n1/a b<i>.log"), "x").unwrap();
    std::fs::write(run.join("results.json"), "{\"valid\":true,\"ops\":1}").unwrap();
    std::os::unix::fs::symlink("/etc", store.path().join("escape")).unwrap();
    std::os::unix::fs::symlink("20261123T110000.000Z", store.path().join("reg/latest")).unwrap();
    harness::report::render_index(store.path()).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let root = store.path().to_path_buf();
    rt.spawn(async move {
        let _ = harness::cmd::serve::serve(listener, &root).await;
    });
    Server {
        addr,
        rt: Some(rt),
        _store: store,
    }
}

/// A raw HTTP/1.1 request (so that `..` reaches the server unnormalized): (status, head, body).
fn request(addr: SocketAddr, method: &str, path: &str) -> (u16, String, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).unwrap();
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, head.to_ascii_lowercase(), body.to_string())
}

#[test]
fn serves_index_listings_and_files_with_types() {
    let srv = start();
    let (st, head, body) = request(srv.addr, "GET", "/");
    assert_eq!(st, 200);
    assert!(head.contains("content-type: text/html"));
    assert!(
        body.contains("reg/20261123T110000.000Z/report.html"),
        "index lists the run"
    );
    let (st, head, body) = request(srv.addr, "GET", "/reg/20261123T110000.000Z/report.html");
    assert_eq!((st, body.contains("report")), (200, true));
    assert!(head.contains("text/html"));
    let (st, head, _) = request(srv.addr, "GET", "/reg/20261123T110000.000Z/latency-raw.png");
    assert_eq!(st, 200);
    assert!(head.contains("content-type: image/png"));
    let (st, head, _) = request(srv.addr, "GET", "/reg/20261123T110000.000Z/results.json");
    assert_eq!(st, 200);
    assert!(head.contains("application/json"));
    let (st, head, body) = request(srv.addr, "GET", "/reg/latest/nodes/n1/stderr");
    assert_eq!(st, 200, "a symlink inside the store is followed");
    assert!(head.contains("text/plain") && body.contains("listening on"));
    // A run folder gets a listing; names are escaped and links encoded.
    let (st, _, body) = request(srv.addr, "GET", "/reg/20261123T110000.000Z/nodes/n1/");
    assert_eq!(st, 200);
    assert!(body.contains("href=\"stderr\""));
    assert!(body.contains("a b&lt;i&gt;.log") && body.contains("href=\"a%20b%3Ci%3E.log\""));
    assert!(!body.contains("<i>"));
    let (st, _, _) = request(
        srv.addr,
        "GET",
        "/reg/20261123T110000.000Z/nodes/n1/a%20b%3Ci%3E.log",
    );
    assert_eq!(st, 200);
    // Directory without a trailing slash redirects.
    let (st, head, _) = request(srv.addr, "GET", "/reg");
    assert_eq!(st, 301);
    assert!(head.contains("location: /reg/"));
    assert_eq!(request(srv.addr, "GET", "/nope.txt").0, 404);
}

#[test]
fn refuses_traversal_symlink_escapes_and_writes() {
    let srv = start();
    for path in [
        "/../../../../etc/passwd",
        "/reg/../../etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/reg/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "/reg/..%5c..%5cetc%5cpasswd",
        "/escape/passwd",
    ] {
        let (st, _, body) = request(srv.addr, "GET", path);
        assert_eq!(st, 403, "{path} must be refused");
        assert!(!body.contains("root:"), "{path} leaked a file");
    }
    assert_eq!(request(srv.addr, "GET", "/%zz").0, 400);
    assert_eq!(request(srv.addr, "PUT", "/reg/x").0, 405);
    assert_eq!(
        request(srv.addr, "DELETE", "/reg/20261123T110000.000Z/report.html").0,
        405
    );
}

/// Kills the spawned `harness serve` when the test ends, even on failure.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_command_serves_on_loopback_and_rejects_a_missing_store() {
    let out = assert_cmd::Command::cargo_bin("harness")
        .unwrap()
        .args(["serve", "--port", "0", "--store", "/nonexistent/store/dir"])
        .timeout(Duration::from_secs(20))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(254));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a directory"));

    let store = tempfile::tempdir().unwrap();
    let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("harness"))
        .args(["serve", "--port", "0", "--store"])
        .arg(store.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut child = Child(child);
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.0.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .expect("prints its URL");
    assert!(url.starts_with("http://127.0.0.1:"), "{line}");
    let addr: SocketAddr = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .unwrap();
    let (st, _, body) = request(addr, "GET", "/");
    assert_eq!(st, 200);
    assert!(body.contains("0 runs"), "the index was generated at start");
}
