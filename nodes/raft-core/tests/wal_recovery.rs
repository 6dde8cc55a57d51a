//! WAL recovery tests with real files: torn tails are cut off, corruption in the middle
//! refuses to start naming the file and offset, segments rotate and compact.

use raft_core::wal::{Wal, WalError, WalOptions, WalRecord};
use std::fs::{self, OpenOptions};
use std::io::{Seek, SeekFrom, Write};

fn entry(term: u64, index: u64, data: &str) -> WalRecord {
    WalRecord::Entry {
        term,
        index,
        data: data.as_bytes().to_vec(),
    }
}

fn opts() -> WalOptions {
    WalOptions {
        fsync: true,
        segment_bytes: 64 << 20,
    }
}

fn write_entries(dir: &std::path::Path, n: u64) -> Vec<WalRecord> {
    let (mut wal, recs, _) = Wal::open(dir, opts()).expect("open");
    assert!(recs.is_empty());
    let all: Vec<_> = (1..=n)
        .map(|i| entry(1, i, &format!("value-{i}")))
        .collect();
    for chunk in all.chunks(3) {
        wal.append(chunk).expect("append");
    }
    all
}

fn only_segment(dir: &std::path::Path) -> std::path::PathBuf {
    let (wal, _, _) = Wal::open(dir, opts()).expect("open");
    let paths = wal.segment_paths();
    assert_eq!(paths.len(), 1);
    paths[0].clone()
}

#[test]
fn wal_reopen_returns_all_records_in_order() {
    let tmp = tempfile::tempdir().expect("tmp");
    let mut all = write_entries(tmp.path(), 10);
    {
        let (mut wal, _, _) = Wal::open(tmp.path(), opts()).expect("open");
        wal.append(&[WalRecord::Truncate { from: 8 }, entry(2, 8, "x")])
            .expect("append");
    }
    all.push(WalRecord::Truncate { from: 8 });
    all.push(entry(2, 8, "x"));
    let (_, recs, info) = Wal::open(tmp.path(), opts()).expect("reopen");
    assert_eq!(recs, all);
    assert_eq!(info.truncated_tail, None);
}

#[test]
fn wal_torn_tail_is_truncated_with_warning() {
    let tmp = tempfile::tempdir().expect("tmp");
    let all = write_entries(tmp.path(), 6);
    let seg = only_segment(tmp.path());
    let full = fs::metadata(&seg).expect("meta").len();
    // Cut the last record in half.
    OpenOptions::new()
        .write(true)
        .open(&seg)
        .expect("open seg")
        .set_len(full - 5)
        .expect("truncate");
    let (mut wal, recs, info) = Wal::open(tmp.path(), opts()).expect("torn tail must recover");
    assert_eq!(recs, all[..5].to_vec());
    let (path, offset, _) = info.truncated_tail.expect("reports the cut");
    assert_eq!(path, seg);
    assert!(offset < full - 5);
    assert_eq!(fs::metadata(&seg).expect("meta").len(), offset);
    // Appending after recovery works and survives another reopen.
    wal.append(&[entry(1, 6, "again")]).expect("append");
    drop(wal);
    let (_, recs, info) = Wal::open(tmp.path(), opts()).expect("reopen");
    assert_eq!(recs.len(), 6);
    assert_eq!(recs[5], entry(1, 6, "again"));
    assert_eq!(info.truncated_tail, None);
}

#[test]
fn wal_garbage_tail_is_truncated() {
    let tmp = tempfile::tempdir().expect("tmp");
    let all = write_entries(tmp.path(), 4);
    let seg = only_segment(tmp.path());
    let mut f = OpenOptions::new().append(true).open(&seg).expect("open");
    f.write_all(&[0u8; 100]).expect("zeros"); // e.g. a preallocated, never-written tail
    drop(f);
    let (_, recs, info) = Wal::open(tmp.path(), opts()).expect("recover");
    assert_eq!(recs, all);
    assert!(info.truncated_tail.is_some());
}

#[test]
fn wal_bad_crc_on_last_record_is_a_torn_tail() {
    let tmp = tempfile::tempdir().expect("tmp");
    let all = write_entries(tmp.path(), 3);
    let seg = only_segment(tmp.path());
    let len = fs::metadata(&seg).expect("meta").len();
    let mut f = OpenOptions::new().write(true).open(&seg).expect("open");
    f.seek(SeekFrom::Start(len - 1)).expect("seek");
    f.write_all(b"#").expect("flip");
    drop(f);
    let (_, recs, info) = Wal::open(tmp.path(), opts()).expect("recover");
    assert_eq!(recs, all[..2].to_vec());
    assert!(info.truncated_tail.expect("cut").2.contains("checksum"));
}

#[test]
fn wal_corruption_in_the_middle_refuses_to_start() {
    let tmp = tempfile::tempdir().expect("tmp");
    write_entries(tmp.path(), 8);
    let seg = only_segment(tmp.path());
    // Flip one byte inside the payload of the second record (first record is 8 + 1 + 16 +
    // len("value-1") bytes long).
    let first_len = 8 + 1 + 16 + "value-1".len() as u64;
    let mut f = OpenOptions::new().write(true).open(&seg).expect("open");
    f.seek(SeekFrom::Start(first_len + 8 + 20)).expect("seek");
    f.write_all(b"Z").expect("corrupt");
    drop(f);
    let before = fs::read(&seg).expect("read");
    match Wal::open(tmp.path(), opts()) {
        Err(WalError::Corrupt {
            path,
            offset,
            reason,
        }) => {
            assert_eq!(path, seg);
            assert_eq!(offset, first_len);
            assert!(reason.contains("checksum"), "{reason}");
            let msg = WalError::Corrupt {
                path,
                offset,
                reason,
            }
            .to_string();
            assert!(msg.contains("wal-") && msg.contains(&format!("offset {first_len}")));
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
    // Refusing must not modify the file.
    assert_eq!(fs::read(&seg).expect("read"), before);
}

#[test]
fn wal_bad_record_in_an_older_segment_is_middle_corruption() {
    let tmp = tempfile::tempdir().expect("tmp");
    let small = WalOptions {
        fsync: false,
        segment_bytes: 100,
    };
    {
        let (mut wal, _, _) = Wal::open(tmp.path(), small.clone()).expect("open");
        for i in 1..=10 {
            wal.append(&[entry(1, i, "0123456789012345678901234567890123456789")])
                .expect("append");
        }
        assert!(wal.segment_count() >= 3);
    }
    let (wal, recs, _) = Wal::open(tmp.path(), small.clone()).expect("reopen");
    assert_eq!(recs.len(), 10);
    let first = wal.segment_paths()[0].clone();
    drop(wal);
    // Tear the end of the FIRST segment: later segments hold valid data, so this is not a tail.
    let len = fs::metadata(&first).expect("meta").len();
    OpenOptions::new()
        .write(true)
        .open(&first)
        .expect("open")
        .set_len(len - 3)
        .expect("truncate");
    match Wal::open(tmp.path(), small) {
        Err(WalError::Corrupt { path, .. }) => assert_eq!(path, first),
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

#[test]
fn wal_compact_deletes_only_segments_below_snapshot() {
    let tmp = tempfile::tempdir().expect("tmp");
    let small = WalOptions {
        fsync: true,
        segment_bytes: 120,
    };
    let (mut wal, _, _) = Wal::open(tmp.path(), small.clone()).expect("open");
    for i in 1..=20 {
        wal.append(&[entry(1, i, "0123456789012345678901234567890123456789")])
            .expect("append");
    }
    let before = wal.segment_count();
    assert!(before >= 5, "{before}");
    let removed = wal.compact(10).expect("compact");
    assert!(removed > 0);
    drop(wal);
    let (_, recs, _) = Wal::open(tmp.path(), small).expect("reopen");
    let idx: Vec<u64> = recs
        .iter()
        .filter_map(|r| match r {
            WalRecord::Entry { index, .. } => Some(*index),
            WalRecord::Truncate { .. } => None,
        })
        .collect();
    // Every entry above the snapshot is still there, in order, and some below are gone.
    assert_eq!(idx.last(), Some(&20));
    let first = idx[0];
    assert!(first > 1 && first <= 11, "first kept index {first}");
    assert_eq!(idx, (first..=20).collect::<Vec<_>>());
}
