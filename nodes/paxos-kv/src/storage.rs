//! Durable storage of one replica in its data dir:
//! - `log`: an append-only file of checksummed records (`len u32 LE | crc32 u32 LE |
//!   payload`, payload = one core `Record` as JSON): promises, accepted values, chosen values;
//!   appended and fsynced once per `Ready` (group commit; a batch of only "chosen" records
//!   is not fsynced), rewritten whole (temp file,
//!   fsync, rename, fsync dir) after a compaction;
//! - `snapshot`: the latest state-machine snapshot as one checksummed record, written the
//!   same atomic way.
//!
//! Recovery: a torn tail (an incomplete record, or a bad one with nothing valid after it)
//! is cut off with a warning; a bad record followed by a valid one is corruption in the
//! middle, and opening fails naming the file and byte offset. A bad snapshot file fails too.

use crate::paxos::{Record, Restored, SnapshotData};
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

/// What went wrong, with the file it concerns.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// An I/O call failed.
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    /// A record is damaged and is not the tail of the log.
    #[error("{file} corrupt at byte offset {offset}: {reason}")]
    Corrupt {
        file: PathBuf,
        offset: u64,
        reason: String,
    },
}

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> StorageError + 'a {
    move |source| StorageError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// Frame `payload` as one record.
fn frame(payload: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    out.extend_from_slice(payload);
}

/// One record parsed at an offset: its payload and where the next one starts, or why not.
enum Parsed<'a> {
    Ok(&'a [u8], usize),
    /// The bytes end inside this record.
    Incomplete,
    /// Complete but bad (checksum); the next record would start at the given offset.
    Bad(String, usize),
}

fn parse_at(buf: &[u8], off: usize) -> Parsed<'_> {
    if buf.len() - off < 8 {
        return Parsed::Incomplete;
    }
    let len = u32::from_le_bytes(buf[off..off + 4].try_into().expect("4 bytes")) as usize;
    let crc = u32::from_le_bytes(buf[off + 4..off + 8].try_into().expect("4 bytes"));
    let end = off + 8 + len;
    if end > buf.len() {
        return Parsed::Incomplete;
    }
    let payload = &buf[off + 8..end];
    if crc32fast::hash(payload) != crc {
        return Parsed::Bad("checksum mismatch".into(), end);
    }
    Parsed::Ok(payload, end)
}

/// Parse every record of a log file; returns the records and the length of the valid prefix.
fn parse_log(path: &Path, buf: &[u8]) -> Result<(Vec<Record>, usize), StorageError> {
    let mut records = Vec::new();
    let mut off = 0;
    while off < buf.len() {
        let problem = match parse_at(buf, off) {
            Parsed::Ok(payload, next) => match serde_json::from_slice::<Record>(payload) {
                Ok(r) => {
                    records.push(r);
                    off = next;
                    continue;
                }
                Err(e) => (format!("undecodable record: {e}"), next),
            },
            Parsed::Incomplete => break,
            Parsed::Bad(reason, next) => (reason, next),
        };
        if matches!(parse_at(buf, problem.1), Parsed::Ok(..)) {
            return Err(StorageError::Corrupt {
                file: path.to_path_buf(),
                offset: off as u64,
                reason: format!("{} (valid records follow: not a torn tail)", problem.0),
            });
        }
        break;
    }
    Ok((records, off))
}

/// The open storage of one replica.
#[derive(Debug)]
pub struct Storage {
    dir: PathBuf,
    log: File,
    fsync: bool,
}

impl Storage {
    /// Open (creating) the data dir and recover what it holds.
    pub fn open(dir: &Path, fsync: bool) -> Result<(Storage, Restored), StorageError> {
        std::fs::create_dir_all(dir).map_err(io_err("create", dir))?;
        let snapshot = read_snapshot(&dir.join("snapshot"))?;
        let log_path = dir.join("log");
        let mut buf = Vec::new();
        if log_path.exists() {
            File::open(&log_path)
                .and_then(|mut f| f.read_to_end(&mut buf))
                .map_err(io_err("read", &log_path))?;
        }
        let (records, valid) = parse_log(&log_path, &buf)?;
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(io_err("open", &log_path))?;
        if valid < buf.len() {
            tracing::warn!(
                "{}: cutting a torn tail of {} bytes at byte offset {valid}",
                log_path.display(),
                buf.len() - valid
            );
            log.set_len(valid as u64)
                .and_then(|_| log.sync_all())
                .map_err(io_err("truncate", &log_path))?;
        }
        let storage = Storage {
            dir: dir.to_path_buf(),
            log,
            fsync,
        };
        Ok((storage, Restored { records, snapshot }))
    }

    /// Append records and make them durable (one fsync for all). Records that only say
    /// a value is chosen are facts, not promises: losing them loses nothing a peer cannot
    /// teach again, so a batch of only those is written without an fsync (the next fsync
    /// covers them).
    pub fn append(&mut self, records: &[Record]) -> Result<(), StorageError> {
        if records.is_empty() {
            return Ok(());
        }
        let mut buf = Vec::new();
        for r in records {
            frame(&serde_json::to_vec(r).expect("records encode"), &mut buf);
        }
        let path = self.dir.join("log");
        self.log.write_all(&buf).map_err(io_err("append", &path))?;
        let binding = records.iter().any(|r| !matches!(r, Record::Chosen { .. }));
        if self.fsync && binding {
            self.log.sync_data().map_err(io_err("fsync", &path))?;
        }
        Ok(())
    }

    /// Replace the whole log with `records` atomically (after a compaction).
    pub fn rewrite(&mut self, records: &[Record]) -> Result<(), StorageError> {
        let mut buf = Vec::new();
        for r in records {
            frame(&serde_json::to_vec(r).expect("records encode"), &mut buf);
        }
        let path = self.dir.join("log");
        self.write_atomically(&path, &buf)?;
        self.log = OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(io_err("open", &path))?;
        Ok(())
    }

    /// Save a snapshot atomically.
    pub fn save_snapshot(&mut self, snap: &SnapshotData) -> Result<(), StorageError> {
        let mut buf = Vec::new();
        frame(
            &serde_json::to_vec(snap).expect("snapshots encode"),
            &mut buf,
        );
        self.write_atomically(&self.dir.join("snapshot"), &buf)
    }

    fn write_atomically(&self, path: &Path, bytes: &[u8]) -> Result<(), StorageError> {
        let tmp = path.with_extension("tmp");
        let mut f = File::create(&tmp).map_err(io_err("create", &tmp))?;
        f.write_all(bytes).map_err(io_err("write", &tmp))?;
        if self.fsync {
            f.sync_all().map_err(io_err("fsync", &tmp))?;
        }
        std::fs::rename(&tmp, path).map_err(io_err("rename", &tmp))?;
        if self.fsync {
            File::open(&self.dir)
                .and_then(|d| d.sync_all())
                .map_err(io_err("fsync", &self.dir))?;
        }
        Ok(())
    }
}

fn read_snapshot(path: &Path) -> Result<Option<SnapshotData>, StorageError> {
    if !path.exists() {
        return Ok(None);
    }
    let buf = std::fs::read(path).map_err(io_err("read", path))?;
    let corrupt = |reason: String| StorageError::Corrupt {
        file: path.to_path_buf(),
        offset: 0,
        reason,
    };
    match parse_at(&buf, 0) {
        Parsed::Ok(payload, end) if end == buf.len() => serde_json::from_slice(payload)
            .map(Some)
            .map_err(|e| corrupt(format!("undecodable snapshot: {e}"))),
        Parsed::Ok(..) => Err(corrupt("trailing bytes after the snapshot".into())),
        Parsed::Incomplete => Err(corrupt("truncated snapshot".into())),
        Parsed::Bad(reason, _) => Err(corrupt(reason)),
    }
}
