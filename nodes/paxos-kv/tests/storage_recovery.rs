//! Storage recovery: records survive a reopen, a torn tail is cut off (and appending
//! continues after it), corruption followed by valid records is refused naming the file
//! and byte offset, a damaged snapshot is refused, a rewrite replaces the log atomically.

use paxos_kv::paxos::{Ballot, Record, SnapshotData, Value};
use paxos_kv::storage::{Storage, StorageError};
use std::fs::OpenOptions;
use std::io::Write;

fn accept(slot: u64) -> Record {
    Record::Accept {
        slot,
        ballot: Ballot { round: 2, node: 1 },
        value: Value::Cmd(format!("cmd{slot}")),
    }
}

fn write_three(dir: &std::path::Path) -> u64 {
    let (mut s, restored) = Storage::open(dir, true).unwrap();
    assert!(restored.records.is_empty() && restored.snapshot.is_none());
    s.append(&[Record::Promise(Ballot { round: 2, node: 1 })])
        .unwrap();
    s.append(&[accept(1), accept(2)]).unwrap();
    std::fs::metadata(dir.join("log")).unwrap().len()
}

#[test]
fn records_survive_a_reopen() {
    let d = tempfile::tempdir().unwrap();
    write_three(d.path());
    let (_, r) = Storage::open(d.path(), true).unwrap();
    assert_eq!(r.records.len(), 3);
    assert_eq!(r.records[2], accept(2));
}

#[test]
fn a_torn_tail_is_cut_and_appending_continues() {
    let d = tempfile::tempdir().unwrap();
    let len = write_three(d.path());
    let log = d.path().join("log");
    OpenOptions::new()
        .append(true)
        .open(&log)
        .unwrap()
        .write_all(&[40, 0, 0, 0, 1, 2])
        .unwrap();
    let (mut s, r) = Storage::open(d.path(), true).unwrap();
    assert_eq!(r.records.len(), 3);
    assert_eq!(std::fs::metadata(&log).unwrap().len(), len, "tail cut");
    s.append(&[accept(3)]).unwrap();
    let (_, r) = Storage::open(d.path(), true).unwrap();
    assert_eq!(r.records.last(), Some(&accept(3)));
}

#[test]
fn a_bad_checksum_in_the_last_record_is_a_torn_tail() {
    let d = tempfile::tempdir().unwrap();
    let len = write_three(d.path());
    let log = d.path().join("log");
    let mut bytes = std::fs::read(&log).unwrap();
    let last = bytes.len() - 3;
    bytes[last] ^= 0xff;
    std::fs::write(&log, &bytes).unwrap();
    let (_, r) = Storage::open(d.path(), true).unwrap();
    assert_eq!(r.records.len(), 2);
    assert!(std::fs::metadata(&log).unwrap().len() < len);
}

#[test]
fn corruption_in_the_middle_is_refused_with_file_and_offset() {
    let d = tempfile::tempdir().unwrap();
    write_three(d.path());
    let log = d.path().join("log");
    let mut bytes = std::fs::read(&log).unwrap();
    let first_len = u32::from_le_bytes(bytes[0..4].try_into().unwrap()) as usize;
    let second = 8 + first_len; // the second record starts here
    bytes[second + 10] ^= 0xff;
    std::fs::write(&log, &bytes).unwrap();
    let err = Storage::open(d.path(), true).unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err, StorageError::Corrupt { offset, .. } if offset == second as u64),
        "{text}"
    );
    assert!(
        text.contains("log") && text.contains(&format!("byte offset {second}")),
        "{text}"
    );
}

#[test]
fn snapshots_are_saved_atomically_and_damage_is_named() {
    let d = tempfile::tempdir().unwrap();
    let (mut s, _) = Storage::open(d.path(), true).unwrap();
    let snap = SnapshotData {
        slot: 9,
        data: "{\"data\":{}}".into(),
    };
    s.save_snapshot(&snap).unwrap();
    s.rewrite(&[accept(10)]).unwrap();
    s.append(&[accept(11)]).unwrap();
    let (_, r) = Storage::open(d.path(), true).unwrap();
    assert_eq!(r.snapshot, Some(snap));
    assert_eq!(r.records, vec![accept(10), accept(11)]);
    assert!(!d.path().join("snapshot.tmp").exists() && !d.path().join("log.tmp").exists());
    let path = d.path().join("snapshot");
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.truncate(bytes.len() - 2);
    std::fs::write(&path, &bytes).unwrap();
    let text = Storage::open(d.path(), true).unwrap_err().to_string();
    assert!(
        text.contains("snapshot") && text.contains("truncated"),
        "{text}"
    );
}
