//! How many events per second the history journal can stamp, write and flush: 4 threads
//! recording 100 000 invoke/ok pairs each into a real `history.jsonl`. The assertion is a
//! floor far below the measured rate (so a loaded CI machine passes) that still catches a
//! journal that syncs per line or serializes writers badly; `--nocapture` prints the rate.

use checker::{OpType, Process};
use harness::run::journal::{Event, Journal};
use serde_json::json;
use std::time::Instant;

#[test]
fn run_journal_records_tens_of_thousands_of_events_per_second() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.jsonl");
    let (journal, writer) = Journal::create(&path, Instant::now()).unwrap();
    let per_thread = 100_000u64;
    let t = Instant::now();
    let threads: Vec<_> = (0..4u64)
        .map(|p| {
            let j = journal.clone();
            std::thread::spawn(move || {
                for i in 0..per_thread / 2 {
                    for ty in [OpType::Invoke, OpType::Ok] {
                        j.record(Event {
                            op_type: ty,
                            process: Process::Client(p),
                            f: "write".into(),
                            key: Some(json!(format!("k{}", i % 50))),
                            value: json!(i % 5),
                            error: None,
                            node: Some("n1".into()),
                        });
                    }
                }
            })
        })
        .collect();
    for th in threads {
        th.join().unwrap();
    }
    let (history, err) = writer.close();
    let secs = t.elapsed().as_secs_f64();
    assert!(err.is_none());
    assert_eq!(history.len() as u64, 4 * per_thread);
    let lines = std::fs::read_to_string(&path).unwrap().lines().count() as u64;
    assert_eq!(lines, 4 * per_thread);
    let rate = (4 * per_thread) as f64 / secs;
    println!(
        "journal: {} events in {secs:.2} s = {rate:.0} events/s",
        4 * per_thread
    );
    assert!(rate > 20_000.0, "journal too slow: {rate:.0} events/s");
}
