//! Porcupine's corpus with its known verdicts: every file listed in `expected.tsv` is read
//! (format detected by content), its invocation count compared with the TSV's `ops`
//! column, and checked; the verdict must be the expected one. Nothing is hard-coded: the
//! list and the verdicts come from the TSV at run time. The folder is
//! `checker/tests/data/porcupine` (a verbatim copy of Porcupine's test data), or `$PORCUPINE_DATA`; a missing
//! folder fails the test.

use checker::format::{self, Format};
use checker::linear::{self, LinearOptions};
use checker::model::{FailedOps, ModelKind};
use checker::{OpType, Validity};
use std::path::PathBuf;
use std::time::Duration;

fn corpus_dir() -> PathBuf {
    let default = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/porcupine");
    if default.join("expected.tsv").is_file() {
        return default;
    }
    if let Some(dir) = std::env::var_os("PORCUPINE_DATA").map(PathBuf::from) {
        if dir.join("expected.tsv").is_file() {
            return dir;
        }
    }
    panic!(
        "Porcupine's corpus is missing: no expected.tsv in {} nor in $PORCUPINE_DATA; \
         restore checker/tests/data/porcupine or point PORCUPINE_DATA at it",
        default.display()
    );
}

struct Row {
    path: String,
    family: String,
    ops: usize,
    expected: String,
}

fn rows() -> (PathBuf, Vec<Row>) {
    let dir = corpus_dir();
    let text = std::fs::read_to_string(dir.join("expected.tsv")).expect("read expected.tsv");
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("path\tfamily\tops\texpected"),
        "expected.tsv header changed"
    );
    let rows: Vec<Row> = lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            assert_eq!(cols.len(), 4, "bad expected.tsv row: {l}");
            Row {
                path: cols[0].to_string(),
                family: cols[1].to_string(),
                ops: cols[2]
                    .parse()
                    .unwrap_or_else(|_| panic!("bad ops column in: {l}")),
                expected: cols[3].to_string(),
            }
        })
        .collect();
    assert!(
        rows.len() >= 100,
        "expected.tsv lists only {} files",
        rows.len()
    );
    (dir, rows)
}

#[test]
fn every_corpus_file_gets_its_expected_verdict() {
    let (dir, rows) = rows();
    let opts = LinearOptions {
        timeout: Some(Duration::from_secs(60)),
        ..LinearOptions::default()
    };
    let mut failures = Vec::new();
    for row in &rows {
        let path = dir.join(&row.path);
        let read = match format::read_file(&path, None) {
            Ok(r) => r,
            Err(e) => {
                failures.push(format!("{}: read error: {e}", row.path));
                continue;
            }
        };
        let invocations = read
            .history
            .ops
            .iter()
            .filter(|o| o.op_type == OpType::Invoke)
            .count();
        if invocations != row.ops {
            failures.push(format!(
                "{}: {} invocations read, expected.tsv says {}",
                row.path, invocations, row.ops
            ));
        }
        let (want_format, model) = match row.family.as_str() {
            "etcd" => (Format::PorcupineEtcd, ModelKind::CasRegister),
            "kv" => (Format::PorcupineKv, ModelKind::Kv),
            other => panic!("unknown family {other} in expected.tsv"),
        };
        let expected = match row.expected.as_str() {
            "linearizable" => Validity::Valid,
            "not-linearizable" => Validity::Invalid,
            "none-empty" => {
                if !read.history.is_empty() {
                    failures.push(format!(
                        "{}: expected an empty history, read {} ops",
                        row.path,
                        read.history.len()
                    ));
                }
                continue;
            }
            other => panic!("unknown expected verdict {other} in expected.tsv"),
        };
        if read.format != want_format {
            failures.push(format!(
                "{}: detected as {}, expected {}",
                row.path, read.format, want_format
            ));
        }
        // The format's own reading of failed ops (Porcupine's logs: observe).
        let opts = LinearOptions {
            failed_ops: read.default_failed_ops(),
            ..opts.clone()
        };
        if opts.failed_ops != FailedOps::Observe {
            failures.push(format!(
                "{}: default reading {}, expected observe for Porcupine's logs",
                row.path, opts.failed_ops
            ));
        }
        match linear::check(&read.history, model, &opts) {
            Ok(report) if report.valid == expected => {}
            Ok(report) => failures.push(format!(
                "{}: verdict {}, expected {} (unknown reasons: {:?})",
                row.path,
                report.valid,
                expected,
                report
                    .keys
                    .iter()
                    .filter_map(|k| k.unknown_reason.clone())
                    .collect::<Vec<_>>()
            )),
            Err(e) => failures.push(format!("{}: check error: {e}", row.path)),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} corpus files wrong:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
}

/// The README's per-key verdicts of the small bad kv files, checked with --all-keys.
#[test]
fn bad_kv_files_have_the_documented_bad_keys() {
    let (dir, _) = rows();
    let opts = LinearOptions {
        all_keys: true,
        timeout: Some(Duration::from_secs(60)),
        ..LinearOptions::default()
    };
    for (file, bad_keys) in [
        ("test_data/kv/c01-bad.txt", vec!["7"]),
        (
            "test_data/kv/c10-bad.txt",
            vec!["0", "1", "2", "3", "5", "6", "7", "9"],
        ),
    ] {
        let read = format::read_file(&dir.join(file), None).unwrap();
        let report = linear::check(&read.history, ModelKind::Kv, &opts).unwrap();
        let mut invalid: Vec<String> = report
            .keys
            .iter()
            .filter(|k| k.valid == Validity::Invalid)
            .map(|k| k.key.as_str().unwrap_or("?").to_string())
            .collect();
        invalid.sort();
        assert_eq!(invalid, bad_keys, "{file}");
        assert!(
            report.keys.iter().all(|k| k.valid != Validity::Unknown),
            "{file}: undecided keys"
        );
        let bad = report
            .keys
            .iter()
            .find(|k| k.valid == Validity::Invalid)
            .unwrap();
        let cx = bad
            .counterexample
            .as_ref()
            .expect("an invalid key has a counterexample");
        let first_line = cx["ops"][0]["invoke_line"].as_u64();
        assert!(
            first_line.is_some_and(|l| l >= 1),
            "{file}: counterexample without input lines: {cx}"
        );
    }
}

/// Each corpus file checked under the other reading of failed ops too: the verdict may
/// change only where `reading_matters` says some failed op is read differently (so the CLI
/// may skip the second check when it says 0), and the files whose verdict changes are
/// listed (Porcupine's expected verdicts hold under `observe`, its own reading).
#[test]
fn the_other_reading_changes_a_verdict_only_where_reading_matters_says_so() {
    let (dir, rows) = rows();
    let mut changed = Vec::new();
    let mut with_failed_cas = 0;
    for row in rows.iter().filter(|r| r.expected != "none-empty") {
        let read = format::read_file(&dir.join(&row.path), None).unwrap();
        let model = if row.family == "etcd" {
            ModelKind::CasRegister
        } else {
            ModelKind::Kv
        };
        let differing = checker::model::reading_matters(&read.history, model);
        with_failed_cas += usize::from(differing > 0);
        let verdict = |failed_ops| {
            let opts = LinearOptions {
                failed_ops,
                timeout: Some(Duration::from_secs(60)),
                counterexample: false,
                ..LinearOptions::default()
            };
            linear::check(&read.history, model, &opts).unwrap().valid
        };
        let (own, other) = (verdict(FailedOps::Observe), verdict(FailedOps::Ignore));
        if own != other {
            assert!(
                differing > 0,
                "{}: verdict changed with no failed op read differently",
                row.path
            );
            changed.push(format!("{} ({own} -> {other})", row.path));
        }
    }
    assert!(with_failed_cas > 50, "the etcd logs have failed cas ops");
    // Measured: no file of the corpus changes its verdict, so the corpus passes under both.
    assert!(
        changed.is_empty(),
        "{} of {} files change verdict under ignore: {}",
        changed.len(),
        rows.len(),
        changed.join(", ")
    );
}
