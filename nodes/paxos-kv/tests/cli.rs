//! `paxos-node` refuses bad flags (exit 2, naming the problem; an unknown bug lists the
//! bugs), a busy port and a corrupt data dir (exit 1, naming what and where).

mod common;

use common::{free_port, BIN};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn run(args: &[&str]) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("paxos-node {args:?} did not exit");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn an_unknown_bug_exits_2_listing_the_bugs() {
    let o = run(&["--id", "1", "--bug", "nope"]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains("no-adopt") && e.contains("forget-promise") && e.contains("stale-read"),
        "{e}"
    );
}

#[test]
fn bad_peers_and_timing_exit_2_naming_the_flag() {
    let o = run(&["--id", "1", "--peer", "2=nowhere"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--peer 2=nowhere"), "{}", stderr(&o));
    let o = run(&["--id", "1", "--election-timeout-min-ms", "10"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("timing"), "{}", stderr(&o));
    let o = run(&["--peers", "2"]);
    assert_eq!(o.status.code(), Some(2), "missing --id");
}

#[test]
fn a_busy_port_exits_1_naming_the_address() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().to_str().unwrap();
    let o = run(&["--id", "1", "--listen", &addr, "--data-dir", dir]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains(&format!("cannot listen on {addr}")),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_corrupt_data_dir_exits_1_naming_file_and_offset() {
    let d = tempfile::tempdir().unwrap();
    // two records, the first with a wrong checksum: corruption in the middle
    let mut bytes = Vec::new();
    for payload in [
        br#"{"Promise":{"round":1,"node":1}}"#,
        br#"{"Promise":{"round":2,"node":1}}"#,
    ] {
        bytes.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&crc32fast_hash(payload).to_le_bytes());
        bytes.extend_from_slice(payload);
    }
    bytes[4] ^= 0xff;
    std::fs::write(d.path().join("log"), &bytes).unwrap();
    let listen = format!("127.0.0.1:{}", free_port());
    let o = run(&[
        "--id",
        "1",
        "--listen",
        &listen,
        "--data-dir",
        d.path().to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(
        e.contains("/log corrupt at byte offset 0") && e.contains("checksum"),
        "{e}"
    );
}

/// CRC-32 (IEEE), bitwise: the same checksum the storage uses, computed independently.
fn crc32fast_hash(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}
