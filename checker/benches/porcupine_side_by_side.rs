//! This checker against Porcupine on Porcupine's own etcd corpus (the 102 non-empty
//! `jepsen/etcd_*.log` files), side by side in the same run, both on one core.
//!
//! Ours goes through the library path `harness check` uses for each file: read and detect
//! the format, check linearizability with counterexamples on (the default options but one
//! thread), run the `stats` and `exceptions` checkers, render the counterexample text and
//! serialize the report. Porcupine runs as `porc-run etcd FILES...` (its `CheckEvents` over
//! every file in one process; a Go test runner over Porcupine's own `CheckEvents`, built outside this repo from Porcupine's source),
//! whose path comes from `$PORC_RUN`; without it the Porcupine column is skipped with a
//! message. Pin the whole run to one core for the one-core figure:
//!
//!     PORC_RUN=/tmp/porc/porc-run taskset -c 0 cargo bench -p checker --bench porcupine_side_by_side
//!
//! Each side is timed `$REPS` times (default 7), interleaved, and the medians are compared.
//! `-- once` checks the corpus once and prints the totals (for `valgrind --tool=callgrind`).

use checker::checkers;
use checker::format::read_file;
use checker::linear::{check, render_counterexample_text, LinearOptions};
use checker::model::ModelKind;
use checker::Validity;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn corpus_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/porcupine/test_data/jepsen");
    let mut files: Vec<PathBuf> = (0..=102)
        .map(|i| dir.join(format!("etcd_{i:03}.log")))
        .filter(|p| std::fs::metadata(p).is_ok_and(|m| m.len() > 0))
        .collect();
    files.sort();
    files
}

/// What one pass over the corpus found.
#[derive(Debug, Default, PartialEq)]
struct Totals {
    invalid: usize,
    minimal: usize,
    cx_ops: usize,
    text_bytes: usize,
}

/// Check every file as `harness check` does, on one thread, counterexamples on.
fn ours(files: &[PathBuf]) -> Totals {
    let opts = LinearOptions {
        threads: 1,
        ..LinearOptions::default()
    };
    let mut t = Totals::default();
    for f in files {
        let read = read_file(f, None).expect("corpus file reads");
        let report = check(&read.history, ModelKind::CasRegister, &opts).expect("check");
        let stats = checkers::stats(&read.history).to_value();
        let exc = checkers::exceptions(&read.history).to_value();
        if report.valid == Validity::Invalid {
            t.invalid += 1;
        }
        for k in &report.keys {
            if let Some(cx) = &k.counterexample {
                t.text_bytes += render_counterexample_text(cx).len();
                t.cx_ops += cx["ops"].as_array().map_or(0, Vec::len);
                if cx["minimal"] == serde_json::json!(true) {
                    t.minimal += 1;
                }
            }
        }
        let json = serde_json::json!({"linearizable": report, "stats": stats, "exceptions": exc});
        t.text_bytes += json.to_string().len();
    }
    t
}

/// Run Porcupine's corpus runner once; its wall time and its summary line.
fn porcupine(bin: &Path, files: &[PathBuf]) -> (Duration, String) {
    let start = Instant::now();
    let out = Command::new(bin)
        .arg("etcd")
        .args(files)
        .output()
        .expect("porc-run starts");
    let took = start.elapsed();
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.starts_with("files "))
        .unwrap_or("no summary line")
        .to_string();
    (took, line)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    let files = corpus_files();
    assert_eq!(files.len(), 102, "expected the 102 non-empty etcd logs");
    if let Some(name) = std::env::args().skip_while(|a| a != "show").nth(1) {
        // `-- show etcd_000`: print one file's counterexample text.
        let f = files.iter().find(|f| f.to_string_lossy().contains(&name));
        let read = read_file(f.expect("a corpus file of that name"), None).expect("reads");
        let opts = LinearOptions {
            threads: 1,
            ..LinearOptions::default()
        };
        let report = check(&read.history, ModelKind::CasRegister, &opts).expect("check");
        for k in &report.keys {
            if let Some(cx) = &k.counterexample {
                println!("{}\n{}", render_counterexample_text(cx), cx["shrink"]);
            }
        }
        return;
    }
    if std::env::args().any(|a| a == "once") {
        let t = Instant::now();
        let totals = ours(&files);
        println!("once: {:.2} ms {totals:?}", ms(t.elapsed()));
        return;
    }
    let reps: usize = std::env::var("REPS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(7);
    let porc = std::env::var_os("PORC_RUN").map(PathBuf::from);
    if porc.is_none() {
        println!("PORC_RUN is not set: timing this checker only (build Porcupine's checker as a one-process corpus runner, then PORC_RUN=PATH/porc-run)");
    }
    let first = ours(&files);
    let (mut mine, mut theirs) = (Vec::new(), Vec::new());
    let mut summary = String::new();
    for _ in 0..reps {
        let t = Instant::now();
        let totals = ours(&files);
        mine.push(t.elapsed());
        assert_eq!(
            (totals.invalid, totals.minimal, totals.cx_ops),
            (first.invalid, first.minimal, first.cx_ops),
            "every pass finds the same"
        );
        if let Some(bin) = &porc {
            let (d, line) = porcupine(bin, &files);
            theirs.push(d);
            summary = line;
        }
    }
    let m = median(mine);
    println!(
        "this checker: {} files, {} invalid, counterexamples: {} ops in all, {} minimal; median of {reps}: {:.2} ms",
        files.len(),
        first.invalid,
        first.cx_ops,
        first.minimal,
        ms(m)
    );
    if !theirs.is_empty() {
        let p = median(theirs);
        println!(
            "porcupine: {summary}; median of {reps}: {:.2} ms (process start and parsing included)",
            ms(p)
        );
        println!(
            "ratio: porcupine / this checker = {:.1}x",
            p.as_secs_f64() / m.as_secs_f64()
        );
    }
}
