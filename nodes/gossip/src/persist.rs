//! The optional data directory: every delivered message appended to `messages.jsonl`
//! (one `{origin, seq, body, sig, received_at_unix_ms}` a line) and read back on start, so
//! that a restarted node keeps its messages and never reuses one of its own sequence
//! numbers. A torn last line (a crash mid-write) is ignored; any other bad line is an error
//! naming the file and line.

use crate::message::ChatMessage;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

/// A stored line.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    /// The message.
    #[serde(flatten)]
    pub message: ChatMessage,
    /// When this node stored it.
    pub received_at_unix_ms: u64,
}

/// Why the data directory could not be used.
#[derive(Debug, thiserror::Error)]
pub enum PersistError {
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
    /// A line is not a record.
    #[error("{path}:{line}: corrupt record: {message}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
}

/// The open message log.
#[derive(Debug)]
pub struct MessageLog {
    path: PathBuf,
    file: std::fs::File,
}

impl MessageLog {
    /// Open (creating the directory and file) and read back every record.
    pub fn open(dir: &Path) -> Result<(MessageLog, Vec<Record>), PersistError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| PersistError::Io { path, source }
        };
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let path = dir.join("messages.jsonl");
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(io(&path)(e)),
        };
        let (records, torn) = parse(&path, &text)?;
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io(&path))?;
        let mut log = MessageLog { path, file };
        if torn {
            let keep = text.rfind('\n').map_or(0, |i| i + 1);
            log.file.set_len(keep as u64).map_err(io(&log.path))?; // cut the torn line
        } else if !text.is_empty() && !text.ends_with('\n') {
            log.file.write_all(b"\n").map_err(io(&log.path))?;
        }
        Ok((log, records))
    }

    /// Append records; with `sync`, fsync before returning.
    pub fn append(&mut self, records: &[Record], sync: bool) -> Result<(), PersistError> {
        let mut buf = Vec::new();
        for r in records {
            serde_json::to_writer(&mut buf, r).map_err(|e| PersistError::Corrupt {
                path: self.path.clone(),
                line: 0,
                message: e.to_string(),
            })?;
            buf.push(b'\n');
        }
        let io = |source| PersistError::Io {
            path: self.path.clone(),
            source,
        };
        self.file.write_all(&buf).map_err(io)?;
        if sync {
            self.file.sync_data().map_err(io)?;
        }
        Ok(())
    }
}

/// The records, and whether the last line was torn.
fn parse(path: &Path, text: &str) -> Result<(Vec<Record>, bool), PersistError> {
    let lines: Vec<&str> = text.split('\n').collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Record>(line) {
            Ok(r) => out.push(r),
            Err(_) if i + 1 == lines.len() => return Ok((out, true)), // no newline after it
            Err(e) => {
                return Err(PersistError::Corrupt {
                    path: path.to_path_buf(),
                    line: i + 1,
                    message: e.to_string(),
                })
            }
        }
    }
    Ok((out, false))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(seq: u64) -> Record {
        Record {
            message: ChatMessage {
                origin: 1,
                seq,
                body: format!("m{seq}"),
                sig: "00".into(),
            },
            received_at_unix_ms: seq * 10,
        }
    }

    #[test]
    fn records_round_trip_and_a_torn_tail_is_ignored() {
        let dir = tempfile::tempdir().expect("tmp");
        let (mut log, got) = MessageLog::open(dir.path()).expect("open");
        assert!(got.is_empty());
        log.append(&[rec(1), rec(2)], true).expect("append");
        drop(log);
        let path = dir.path().join("messages.jsonl");
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .expect("open");
        f.write_all(b"{\"origin\":1,\"se").expect("torn");
        let (mut log, got) = MessageLog::open(dir.path()).expect("reopen");
        assert_eq!(
            got.iter().map(|r| r.message.seq).collect::<Vec<_>>(),
            vec![1, 2]
        );
        log.append(&[rec(3)], false).expect("append");
        let (_, got) = MessageLog::open(dir.path()).expect("reopen");
        assert_eq!(got.len(), 3);
    }

    #[test]
    fn a_corrupt_middle_line_names_file_and_line() {
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::write(dir.path().join("messages.jsonl"), "garbage\n{}\n").expect("write");
        let e = MessageLog::open(dir.path())
            .expect_err("corrupt")
            .to_string();
        assert!(e.contains("messages.jsonl:1"), "{e}");
    }
}
