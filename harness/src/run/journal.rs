//! The history journal: every client and nemesis event of a run goes through one
//! [`Journal`], which stamps it with its `index` (write order) and `time` (ns since the
//! test started, one monotonic clock) under one lock and hands it to a single writer
//! thread that appends it to `history.jsonl`, flushing whenever its queue is empty, then
//! letting events gather for [`GROUP_COMMIT`] before the next batch (a group commit: at
//! tens of thousands of events per second, waking the writer for every event cost more than
//! writing them). A harness that is SIGKILLed loses the events not yet written: those of
//! the last millisecond or so (plus whatever a slow disk held back); one that panics or is
//! interrupted loses nothing (closing drains the queue); a slow disk never blocks clients.
//! Stamping and enqueueing happen together, so index order is a real-time order: an event
//! recorded after another one finished has a higher index and a later time.
//!
//! The journal also keeps the live counters the progress line shows and the set of keys
//! the history touched (for final reads), and returns the whole history when closed.

use checker::history::Op;
use checker::{History, OpType, Process};
use serde_json::{Map, Value};
use std::collections::BTreeSet;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long the writer lets events gather after writing a batch (only while events come:
/// an idle writer sleeps until the next one).
pub const GROUP_COMMIT: Duration = Duration::from_millis(1);

/// Live counters of completed client operations.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub invoked: u64,
    pub ok: u64,
    pub fail: u64,
    pub info: u64,
}

struct Inner {
    next_index: u64,
    tx: Option<mpsc::Sender<Op>>,
    counts: Counts,
    keys: BTreeSet<String>,
}

/// A cloneable handle that records events.
#[derive(Clone)]
pub struct Journal {
    inner: Arc<Mutex<Inner>>,
    start: Instant,
}

/// The writer thread; [`JournalWriter::close`] waits for it and returns the history.
pub struct JournalWriter {
    handle: Option<JoinHandle<(Vec<Op>, Option<std::io::Error>)>>,
    journal: Journal,
}

/// One event to record (the journal fills in `index` and `time`).
#[derive(Debug, Clone)]
pub struct Event {
    pub op_type: OpType,
    pub process: Process,
    pub f: String,
    pub key: Option<Value>,
    pub value: Value,
    pub error: Option<String>,
    pub node: Option<String>,
}

impl Journal {
    /// Open `path` (created, truncated) and start the writer thread. `start` is time zero.
    pub fn create(path: &Path, start: Instant) -> std::io::Result<(Journal, JournalWriter)> {
        let file = File::create(path)?;
        let (tx, rx) = mpsc::channel::<Op>();
        let handle = std::thread::Builder::new()
            .name("journal".into())
            .spawn(move || write_loop(file, rx))?;
        let journal = Journal {
            inner: Arc::new(Mutex::new(Inner {
                next_index: 0,
                tx: Some(tx),
                counts: Counts::default(),
                keys: BTreeSet::new(),
            })),
            start,
        };
        Ok((
            journal.clone(),
            JournalWriter {
                handle: Some(handle),
                journal,
            },
        ))
    }

    /// Record one event now; returns its index, or `None` once the journal is closed.
    pub fn record(&self, ev: Event) -> Option<u64> {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let tx = inner.tx.clone()?;
        let index = inner.next_index;
        inner.next_index += 1;
        let time = i64::try_from(self.start.elapsed().as_nanos()).unwrap_or(i64::MAX);
        if let Process::Client(_) = ev.process {
            match ev.op_type {
                OpType::Invoke => {
                    inner.counts.invoked += 1;
                    if let Some(Value::String(k)) = &ev.key {
                        if !inner.keys.contains(k) {
                            inner.keys.insert(k.clone());
                        }
                    }
                }
                OpType::Ok => inner.counts.ok += 1,
                OpType::Fail => inner.counts.fail += 1,
                OpType::Info => inner.counts.info += 1,
            }
        }
        let op = Op {
            index,
            time,
            op_type: ev.op_type,
            process: ev.process,
            f: ev.f,
            key: ev.key,
            value: ev.value,
            error: ev.error.map(Value::String),
            node: ev.node,
            extra: Map::new(),
            line: None,
        };
        // A send error means the writer died (I/O error): the close reports it.
        let _ = tx.send(op);
        Some(index)
    }

    /// Counters of client events recorded so far.
    pub fn counts(&self) -> Counts {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).counts
    }

    /// The string keys client invocations used so far.
    pub fn keys(&self) -> BTreeSet<String> {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .keys
            .clone()
    }
}

impl JournalWriter {
    /// Stop accepting events, wait until every recorded event is on disk, and return the
    /// history (in index order). An I/O error of the writer is returned with what was kept.
    pub fn close(mut self) -> (History, Option<std::io::Error>) {
        self.journal
            .inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .tx = None;
        match self.handle.take().map(JoinHandle::join) {
            Some(Ok((ops, err))) => (History::new(ops), err),
            _ => (
                History::default(),
                Some(std::io::Error::other("the journal writer thread panicked")),
            ),
        }
    }
}

impl Drop for JournalWriter {
    fn drop(&mut self) {
        self.journal
            .inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .tx = None;
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn write_loop(file: File, rx: mpsc::Receiver<Op>) -> (Vec<Op>, Option<std::io::Error>) {
    let mut out = BufWriter::with_capacity(1 << 16, file);
    let mut ops = Vec::new();
    let mut err: Option<std::io::Error> = None;
    let write = |op: &Op, out: &mut BufWriter<File>, err: &mut Option<std::io::Error>| {
        if err.is_none() {
            if let Err(e) = checker::format::write_op(op, out) {
                *err = Some(e);
            }
        }
    };
    while let Ok(op) = rx.recv() {
        write(&op, &mut out, &mut err);
        ops.push(op);
        while let Ok(op) = rx.try_recv() {
            write(&op, &mut out, &mut err);
            ops.push(op);
        }
        if err.is_none() {
            if let Err(e) = out.flush() {
                err = Some(e);
            }
        }
        std::thread::sleep(GROUP_COMMIT);
    }
    if err.is_none() {
        if let Err(e) = out.flush() {
            err = Some(e);
        }
    }
    (ops, err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ev(t: OpType, p: u64, f: &str, key: &str) -> Event {
        Event {
            op_type: t,
            process: Process::Client(p),
            f: f.into(),
            key: Some(json!(key)),
            value: Value::Null,
            error: None,
            node: Some("n1".into()),
        }
    }

    #[test]
    fn concurrent_events_get_dense_indices_monotonic_times_and_reach_disk() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.jsonl");
        let (j, w) = Journal::create(&path, Instant::now()).unwrap();
        let threads: Vec<_> = (0..4)
            .map(|p| {
                let j = j.clone();
                std::thread::spawn(move || {
                    for i in 0..250 {
                        let key = format!("k{}", i % 3);
                        j.record(ev(OpType::Invoke, p, "read", &key));
                        j.record(ev(
                            if i % 2 == 0 { OpType::Ok } else { OpType::Info },
                            p,
                            "read",
                            &key,
                        ));
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(
            j.counts(),
            Counts {
                invoked: 1000,
                ok: 500,
                fail: 0,
                info: 500
            }
        );
        assert_eq!(j.keys().len(), 3);
        let (h, err) = w.close();
        assert!(err.is_none());
        assert_eq!(h.len(), 2000);
        for (i, op) in h.ops.iter().enumerate() {
            assert_eq!(op.index, i as u64);
            if i > 0 {
                assert!(op.time >= h.ops[i - 1].time);
            }
        }
        assert!(
            j.record(ev(OpType::Invoke, 9, "read", "k0")).is_none(),
            "closed journal refuses events"
        );
        let read = checker::format::read_file(&path, None).unwrap();
        assert_eq!(read.history.ops.len(), 2000);
        assert_eq!(read.history.ops[1999].index, 1999);
        assert!(h.pair().is_ok());
    }
}
