//! The command lines: a bad flag or an unknown bug exits 2 with a message (listing the
//! bugs), a taken port exits 1 naming it, `lock-client` exits 3 when no node answers, 1 on
//! `--try` of a held lock, 1 when interrupted while waiting, 0 after releasing on SIGTERM,
//! and get/set/cas/watch print and exit as documented.

mod support;

use std::process::Command;
use std::time::Duration;
use support::{die_with_parent, free_ports, token_of, ClientProc, Cluster, CLIENT_BIN, NODE_BIN};

fn run(mut cmd: Command) -> (i32, String, String) {
    die_with_parent(&mut cmd);
    let out = cmd.output().expect("run");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[test]
fn bad_flags_exit_2_and_a_taken_port_exits_1() {
    let mut cmd = Command::new(NODE_BIN);
    cmd.args(["--id", "1", "--bug", "nope"]);
    let (code, _, err) = run(cmd);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("unknown bug") && err.contains("no-grace") && err.contains("reuse-token"),
        "{err}"
    );
    let mut cmd = Command::new(NODE_BIN);
    cmd.args(["--id", "1", "--peer", "2"]);
    let (code, _, err) = run(cmd);
    assert_eq!(code, 2);
    assert!(err.contains("ID=HOST:PORT"), "{err}");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr");
    let dir = tempfile::tempdir().expect("tmp");
    let mut cmd = Command::new(NODE_BIN);
    cmd.args(["--id", "1", "--listen", &addr.to_string()])
        .arg("--data-dir")
        .arg(dir.path());
    let (code, _, err) = run(cmd);
    assert_eq!(code, 1);
    assert!(err.contains(&format!("cannot listen on {addr}")), "{err}");
    let mut cmd = Command::new(CLIENT_BIN);
    cmd.args(["acquire"]);
    assert_eq!(run(cmd).0, 2, "missing NAME");
}

#[test]
fn client_exit_codes() {
    let ports = free_ports(1);
    let mut cmd = Command::new(CLIENT_BIN);
    cmd.args([
        "--nodes",
        &format!("127.0.0.1:{}", ports[0]),
        "--timeout-ms",
        "500",
        "get",
        "/x",
    ]);
    let (code, _, err) = run(cmd);
    assert_eq!(code, 3, "nobody answers: {err}");
    let c = Cluster::start(3, &[]);
    c.wait_leader(Duration::from_secs(10));
    let mut holder = ClientProc::spawn(c.client(&["acquire", "/locks/x", "--hold-ms", "20000"]));
    let t = token_of(
        &holder.line(Duration::from_secs(10)).expect("acquired"),
        "/locks/x",
    );
    let (code, _, err) = run(c.client(&["acquire", "/locks/x", "--try"]));
    assert_eq!(code, 1, "{err}");
    assert!(err.contains(&format!("token={t}")), "{err}");
    let (code, _, _) = run(c.client(&["acquire", "/locks/x", "--wait-ms", "300"]));
    assert_eq!(code, 1, "wait ran out");
    // SIGINT while waiting: the waiter closes its session and exits 1.
    let mut waiter = ClientProc::spawn(c.client(&["acquire", "/locks/x"]));
    std::thread::sleep(Duration::from_millis(500));
    waiter.signal(libc::SIGINT);
    assert_eq!(
        waiter.wait(Duration::from_secs(10)),
        Some(1),
        "interrupted waiter"
    );
    // SIGTERM: the holder releases, closes its session and exits 0.
    holder.signal(libc::SIGTERM);
    assert_eq!(
        holder.line(Duration::from_secs(10)).as_deref(),
        Some("released /locks/x")
    );
    assert_eq!(holder.wait(Duration::from_secs(5)), Some(0));
    let l = c.wait_leader(Duration::from_secs(10));
    assert_eq!(c.holder(l, "/locks/x"), None);
    let (code, out, _) = run(c.client(&["set", "/cfg", "v1"]));
    assert_eq!(code, 0);
    let version: u64 = out
        .trim()
        .strip_prefix("OK version=")
        .and_then(|v| v.parse().ok())
        .expect("version");
    let (code, out, _) = run(c.client(&["get", "/cfg"]));
    assert_eq!(
        (code, out.trim()),
        (0, format!("v1 version={version}").as_str())
    );
    let (code, _, err) = run(c.client(&["cas", "/cfg", "0", "v2"]));
    assert_eq!(code, 1, "{err}");
    let (code, _, _) = run(c.client(&["cas", "/cfg", &version.to_string(), "v2"]));
    assert_eq!(code, 0);
    let (code, _, _) = run(c.client(&["get", "/nothing"]));
    assert_eq!(code, 1);
    let (code, _, _) = run(c.client(&["watch", "/cfg", "--after", "999999", "--wait-ms", "200"]));
    assert_eq!(code, 1, "no change");
    let (code, out, _) = run(c.client(&["watch", "/cfg", "--after", "0", "--wait-ms", "200"]));
    assert_eq!(code, 0, "{out}");
    let (code, out, _) = run(c.client(&["status"]));
    assert!(code == 0 && out.contains("\"commit_index\""), "{out}");
}
