//! The write-ahead log: append-only segment files of checksummed records.
//!
//! Owns the on-disk log format, group commit (one write + one fsync per `append` call, however
//! many records it carries), segment rotation, deletion of segments wholly covered by a
//! snapshot, and recovery. Record framing: `len: u32 LE | crc32(payload): u32 LE | payload`,
//! where the payload is a tag byte followed by either an entry (`term u64, index u64, data`)
//! or a truncation marker (`from u64`: every entry with index >= `from` is discarded).
//!
//! Recovery rules: a torn or corrupt *tail* (an incomplete or bad record that no valid record
//! follows, in the last segment) is cut off with a warning; a bad record *followed by valid
//! ones*, or a bad record in a segment that is not the last, is corruption in the middle and
//! `Wal::open` refuses with [`WalError::Corrupt`] naming the file and the byte offset.
//! The WAL knows nothing about Raft beyond (term, index, bytes); `storage` maps it to the core.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// Bytes of framing before each payload (length + crc).
const HEADER: usize = 8;
/// The largest payload accepted on reading (larger lengths are treated as corruption).
const MAX_RECORD: usize = 256 << 20;
const TAG_ENTRY: u8 = 1;
const TAG_TRUNCATE: u8 = 2;

/// One logical record of the WAL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WalRecord {
    /// A log entry (empty data = a no-op entry of the Raft core).
    Entry {
        /// Term of the entry.
        term: u64,
        /// Log index of the entry.
        index: u64,
        /// Opaque command bytes.
        data: Vec<u8>,
    },
    /// Discard every entry with index >= `from` written before this record.
    Truncate {
        /// First index discarded.
        from: u64,
    },
}

/// Errors of the WAL; every variant names the file involved.
#[derive(Debug, thiserror::Error)]
pub enum WalError {
    /// An I/O call failed.
    #[error("WAL I/O error on {path}: {source}")]
    Io {
        /// File or directory involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A bad record followed by valid data: the log cannot be trusted, refuse to start.
    #[error(
        "WAL corrupt in the middle: {path} at byte offset {offset}: {reason} \
         (valid records follow it, so this is not a torn tail; refusing to start)"
    )]
    Corrupt {
        /// The segment file.
        path: PathBuf,
        /// Byte offset of the bad record inside the file.
        offset: u64,
        /// What was wrong with it.
        reason: String,
    },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> WalError + '_ {
    move |source| WalError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Options of a WAL.
#[derive(Debug, Clone)]
pub struct WalOptions {
    /// fsync after each append (false = `--no-fsync`).
    pub fsync: bool,
    /// Rotate to a new segment once the current one exceeds this many bytes.
    pub segment_bytes: u64,
}

impl Default for WalOptions {
    fn default() -> Self {
        WalOptions {
            fsync: true,
            segment_bytes: 64 << 20,
        }
    }
}

/// What recovery found, besides the records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecoveryInfo {
    /// Number of segments read.
    pub segments: usize,
    /// `Some((file, offset, reason))` if a torn tail was cut off.
    pub truncated_tail: Option<(PathBuf, u64, String)>,
}

#[derive(Debug)]
struct Segment {
    seq: u64,
    path: PathBuf,
    /// Largest entry index written in this segment (None: no entry).
    max_index: Option<u64>,
    bytes: u64,
}

/// An open WAL, positioned for appending at the end of its last segment.
#[derive(Debug)]
pub struct Wal {
    dir: PathBuf,
    opts: WalOptions,
    segments: Vec<Segment>,
    file: File,
}

fn segment_name(seq: u64) -> String {
    format!("wal-{seq:016}.log")
}

fn parse_segment_name(name: &str) -> Option<u64> {
    name.strip_prefix("wal-")?
        .strip_suffix(".log")?
        .parse::<u64>()
        .ok()
}

/// Encode one record with its framing, appending to `out`.
pub fn encode_record(rec: &WalRecord, out: &mut Vec<u8>) {
    let mut payload = Vec::with_capacity(32);
    match rec {
        WalRecord::Entry { term, index, data } => {
            payload.push(TAG_ENTRY);
            payload.extend_from_slice(&term.to_le_bytes());
            payload.extend_from_slice(&index.to_le_bytes());
            payload.extend_from_slice(data);
        }
        WalRecord::Truncate { from } => {
            payload.push(TAG_TRUNCATE);
            payload.extend_from_slice(&from.to_le_bytes());
        }
    }
    let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
    out.extend_from_slice(&payload);
}

fn decode_payload(p: &[u8]) -> Result<WalRecord, String> {
    let (&tag, rest) = p.split_first().ok_or("empty payload")?;
    let u64_at = |b: &[u8], at: usize| -> Option<u64> {
        b.get(at..at + 8)
            .map(|s| u64::from_le_bytes(s.try_into().unwrap_or([0; 8])))
    };
    match tag {
        TAG_ENTRY => {
            let term = u64_at(rest, 0).ok_or("short entry record")?;
            let index = u64_at(rest, 8).ok_or("short entry record")?;
            Ok(WalRecord::Entry {
                term,
                index,
                data: rest[16..].to_vec(),
            })
        }
        TAG_TRUNCATE => {
            if rest.len() != 8 {
                return Err("bad truncate record length".into());
            }
            Ok(WalRecord::Truncate {
                from: u64_at(rest, 0).ok_or("short truncate record")?,
            })
        }
        t => Err(format!("unknown record tag {t}")),
    }
}

/// Try to parse one record at `off`: Ok((record, next offset)) or Err(reason).
fn parse_at(buf: &[u8], off: usize) -> Result<(WalRecord, usize), String> {
    let rest = &buf[off..];
    if rest.len() < HEADER {
        return Err(format!("incomplete record header ({} bytes)", rest.len()));
    }
    let len = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
    let crc = u32::from_le_bytes([rest[4], rest[5], rest[6], rest[7]]);
    if len == 0 || len > MAX_RECORD {
        return Err(format!("bad record length {len}"));
    }
    if rest.len() < HEADER + len {
        return Err(format!(
            "incomplete record: needs {} bytes, {} present",
            HEADER + len,
            rest.len()
        ));
    }
    let payload = &rest[HEADER..HEADER + len];
    if crc32fast::hash(payload) != crc {
        return Err("checksum mismatch".into());
    }
    let rec = decode_payload(payload)?;
    Ok((rec, off + HEADER + len))
}

/// Is there any valid record starting somewhere in `buf[from..]`?
fn valid_record_after(buf: &[u8], from: usize) -> bool {
    (from..buf.len().saturating_sub(HEADER - 1)).any(|p| parse_at(buf, p).is_ok())
}

fn fsync_dir(dir: &Path) -> Result<(), WalError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir))
}

impl Wal {
    /// Open (or create) the WAL in `dir`, recover it and return every record in write order.
    pub fn open(
        dir: &Path,
        opts: WalOptions,
    ) -> Result<(Wal, Vec<WalRecord>, RecoveryInfo), WalError> {
        fs::create_dir_all(dir).map_err(io_err(dir))?;
        let mut seqs = Vec::new();
        for ent in fs::read_dir(dir).map_err(io_err(dir))? {
            let ent = ent.map_err(io_err(dir))?;
            if let Some(seq) = ent.file_name().to_str().and_then(parse_segment_name) {
                seqs.push(seq);
            }
        }
        seqs.sort_unstable();
        let mut info = RecoveryInfo {
            segments: seqs.len(),
            ..Default::default()
        };
        let mut records = Vec::new();
        let mut segments = Vec::new();
        let nsegs = seqs.len();
        for (i, seq) in seqs.iter().copied().enumerate() {
            let path = dir.join(segment_name(seq));
            let mut buf = Vec::new();
            File::open(&path)
                .and_then(|mut f| f.read_to_end(&mut buf))
                .map_err(io_err(&path))?;
            let mut off = 0usize;
            let mut max_index = None;
            while off < buf.len() {
                match parse_at(&buf, off) {
                    Ok((rec, next)) => {
                        if let WalRecord::Entry { index, .. } = rec {
                            max_index = Some(max_index.map_or(index, |m: u64| m.max(index)));
                        }
                        records.push(rec);
                        off = next;
                    }
                    Err(reason) => {
                        let last = i + 1 == nsegs;
                        if !last || valid_record_after(&buf, off + 1) {
                            return Err(WalError::Corrupt {
                                path,
                                offset: off as u64,
                                reason,
                            });
                        }
                        tracing::warn!(
                            file = %path.display(),
                            offset = off,
                            %reason,
                            "WAL: cutting off a torn/corrupt tail"
                        );
                        let f = OpenOptions::new()
                            .write(true)
                            .open(&path)
                            .map_err(io_err(&path))?;
                        f.set_len(off as u64).map_err(io_err(&path))?;
                        f.sync_all().map_err(io_err(&path))?;
                        info.truncated_tail = Some((path.clone(), off as u64, reason));
                        break;
                    }
                }
            }
            segments.push(Segment {
                seq,
                path,
                max_index,
                bytes: off as u64,
            });
        }
        if segments.is_empty() {
            let path = dir.join(segment_name(1));
            File::create(&path).map_err(io_err(&path))?;
            fsync_dir(dir)?;
            segments.push(Segment {
                seq: 1,
                path,
                max_index: None,
                bytes: 0,
            });
        }
        let active = &segments[segments.len() - 1].path;
        let file = OpenOptions::new()
            .append(true)
            .open(active)
            .map_err(io_err(active))?;
        Ok((
            Wal {
                dir: dir.to_path_buf(),
                opts,
                segments,
                file,
            },
            records,
            info,
        ))
    }

    /// Append records with one write and (unless `--no-fsync`) one fsync: group commit.
    pub fn append(&mut self, records: &[WalRecord]) -> Result<(), WalError> {
        if records.is_empty() {
            return Ok(());
        }
        let mut buf = Vec::with_capacity(records.len() * 64);
        for r in records {
            encode_record(r, &mut buf);
        }
        let cur_bytes = self.segments.last().map_or(0, |s| s.bytes);
        if cur_bytes > 0 && cur_bytes + buf.len() as u64 > self.opts.segment_bytes {
            self.rotate()?;
        }
        let seg = self
            .segments
            .last_mut()
            .expect("the WAL always has an active segment");
        self.file.write_all(&buf).map_err(io_err(&seg.path))?;
        if self.opts.fsync {
            self.file.sync_data().map_err(io_err(&seg.path))?;
        }
        seg.bytes += buf.len() as u64;
        for r in records {
            if let WalRecord::Entry { index, .. } = r {
                seg.max_index = Some(seg.max_index.map_or(*index, |m| m.max(*index)));
            }
        }
        Ok(())
    }

    fn rotate(&mut self) -> Result<(), WalError> {
        let seq = self.segments.last().map_or(0, |s| s.seq) + 1;
        let path = self.dir.join(segment_name(seq));
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io_err(&path))?;
        if self.opts.fsync {
            fsync_dir(&self.dir)?;
        }
        self.file = file;
        self.segments.push(Segment {
            seq,
            path,
            max_index: None,
            bytes: 0,
        });
        Ok(())
    }

    /// Delete every non-active segment whose entries all have index <= `snapshot_index`
    /// (a snapshot covers them). Returns how many segments were deleted. Call only after the
    /// snapshot is durable. Rotates first if the active segment is itself wholly covered, so
    /// that its space is reclaimed at the next compaction.
    pub fn compact(&mut self, snapshot_index: u64) -> Result<usize, WalError> {
        let active_covered = self
            .segments
            .last()
            .is_some_and(|s| s.bytes > 0 && s.max_index.is_some_and(|m| m <= snapshot_index));
        if active_covered {
            self.rotate()?;
        }
        let n = self.segments.len();
        let mut removed = 0;
        let mut keep = Vec::with_capacity(n);
        for (i, seg) in std::mem::take(&mut self.segments).into_iter().enumerate() {
            let covered = seg.max_index.is_none_or(|m| m <= snapshot_index);
            // Only delete a prefix of segments, never the active one.
            if i + 1 < n && covered && removed == i {
                fs::remove_file(&seg.path).map_err(io_err(&seg.path))?;
                removed += 1;
            } else {
                keep.push(seg);
            }
        }
        self.segments = keep;
        if removed > 0 && self.opts.fsync {
            fsync_dir(&self.dir)?;
        }
        Ok(removed)
    }

    /// Number of segment files.
    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }

    /// Paths of the segment files, oldest first.
    pub fn segment_paths(&self) -> Vec<PathBuf> {
        self.segments.iter().map(|s| s.path.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(term: u64, index: u64, data: &[u8]) -> WalRecord {
        WalRecord::Entry {
            term,
            index,
            data: data.to_vec(),
        }
    }

    #[test]
    fn encode_decode_roundtrip() {
        let recs = [
            entry(3, 7, b"hello"),
            WalRecord::Truncate { from: 5 },
            entry(1, 1, b""),
        ];
        let mut buf = Vec::new();
        for r in &recs {
            encode_record(r, &mut buf);
        }
        let mut off = 0;
        let mut out = Vec::new();
        while off < buf.len() {
            let (r, n) = parse_at(&buf, off).expect("valid");
            out.push(r);
            off = n;
        }
        assert_eq!(out, recs);
    }

    #[test]
    fn zero_length_is_invalid() {
        assert!(parse_at(&[0u8; 16], 0).is_err());
    }
}
