//! `harness check` and issue 12's semantics, through the binary: which reading of failed
//! ops is used (per format, `--failed-ops` overrides, said in the text and in
//! `--json-out`), the note when the other reading would give another verdict, the
//! nothing-ok rule (valid with a warning), multi-register inferred for txn histories, the
//! default time budget, and exit 254 for a damaged complete last line.

use assert_cmd::Command;
use serde_json::Value;
use std::path::PathBuf;
use tempfile::TempDir;

/// A correct register whose failed cas was simply not applied: 1 is written, a cas 1→2
/// fails with no error saying why, 1 is read. Valid when `fail` means "did not happen"
/// (JSONL's reading); invalid under Porcupine's reading, where the failed cas observed a
/// value other than 1, which contradicts the write of 1 and the read of 1 around it.
const FAILED_CAS_JSONL: &str = r#"{"index":0,"time":10,"type":"invoke","process":0,"f":"write","value":1}
{"index":1,"time":20,"type":"ok","process":0,"f":"write","value":1}
{"index":2,"time":30,"type":"invoke","process":1,"f":"cas","value":[1,2]}
{"index":3,"time":40,"type":"fail","process":1,"f":"cas","value":[1,2]}
{"index":4,"time":50,"type":"invoke","process":0,"f":"read","value":null}
{"index":5,"time":60,"type":"ok","process":0,"f":"read","value":1}
"#;

const NOTHING_OK_EDN: &str = r#"[{:index 0 :type :invoke :process 0 :f :write :value 3 :time 100}
 {:index 1 :type :info :process 0 :f :write :value 3 :time 200}
 {:index 2 :type :invoke :process 1 :f :read :value nil :time 300}
 {:index 3 :type :fail :process 1 :f :read :value nil :time 400}]
"#;

const TXN_EDN: &str = r#"[{:index 0 :type :invoke :process 0 :f :txn :value [[:write :x 1] [:write :y 2]]}
 {:index 1 :type :ok :process 0 :f :txn :value [[:write :x 1] [:write :y 2]]}
 {:index 2 :type :invoke :process 1 :f :txn :value [[:read :x nil] [:read :y nil]]}
 {:index 3 :type :ok :process 1 :f :txn :value [[:read :x 1] [:read :y 2]]}]
"#;

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn check(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Run {
    let out = Command::cargo_bin("harness")
        .expect("harness binary")
        .arg("check")
        .args(args)
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .expect("run harness check");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn write(dir: &TempDir, name: &str, text: &str) -> PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, text).expect("write input");
    p
}

fn last_json(r: &Run) -> Value {
    let last = r.stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|e| panic!("{e}: {}\n{}", r.stdout, r.stderr))
}

#[test]
fn failed_cas_not_applied_is_valid_in_jsonl_with_a_note_about_the_other_reading() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(&dir, "h.jsonl", FAILED_CAS_JSONL);
    let out = dir.path().join("full.json");
    let r = check(&[&p, &"--json-out", &out]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("failed ops: ignore"), "{}", r.stdout);
    assert!(
        r.stdout
            .contains("note: under --failed-ops observe the verdict would be INVALID"),
        "{}",
        r.stdout
    );
    let full: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let res = &full["files"][0]["results"];
    assert_eq!(res["failed_ops"], "ignore");
    assert_eq!(res["failed_ops_source"], "format");
    assert_eq!(res["other_reading"]["failed_ops"], "observe");
    assert_eq!(res["other_reading"]["valid"], false);
}

#[test]
fn failed_ops_flag_overrides_and_is_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(&dir, "h.jsonl", FAILED_CAS_JSONL);
    let out = dir.path().join("full.json");
    let r = check(&[&p, &"--failed-ops", &"observe", &"--json-out", &out]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("failed ops: observe"), "{}", r.stdout);
    assert!(
        r.stdout
            .contains("note: under --failed-ops ignore the verdict would be valid"),
        "{}",
        r.stdout
    );
    let full: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(full["files"][0]["results"]["failed_ops_source"], "flag");
    let r = check(&[&p, &"--failed-ops", &"maybe"]);
    assert_eq!(r.code, 254, "{}", r.stderr);
    assert_eq!(r.stderr.matches("error:").count(), 1, "{}", r.stderr);
}

#[test]
fn no_note_when_the_reading_cannot_matter() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(&dir, "h.edn", TXN_EDN);
    let r = check(&[&p]);
    assert!(!r.stdout.contains("note:"), "{}", r.stdout);
}

#[test]
fn nothing_ok_gives_the_verdict_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(&dir, "h.edn", NOTHING_OK_EDN);
    let r = check(&[&p]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(last_json(&r)["valid"], true);
    assert!(
        r.stdout.contains("warning: no operation completed ok"),
        "{}",
        r.stdout
    );
}

#[test]
fn txn_histories_are_checked_as_multi_register() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(&dir, "h.edn", TXN_EDN);
    let r = check(&[&p]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("multi-register"), "{}", r.stdout);
}

#[test]
fn the_default_time_budget_is_documented_and_zero_means_none() {
    let r = Command::cargo_bin("harness")
        .unwrap()
        .args(["check", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&r.stdout);
    assert!(help.contains("default 60"), "{help}");
    assert!(help.contains("unordered-queue"), "{help}");
    let dir = tempfile::tempdir().unwrap();
    let p = write(&dir, "h.jsonl", FAILED_CAS_JSONL);
    assert_eq!(check(&[&p, &"--timeout", &"0"]).code, 0);
    assert_eq!(check(&[&p, &"--timeout", &"-1"]).code, 254);
}

#[test]
fn a_damaged_complete_last_line_is_exit_254_naming_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!("{FAILED_CAS_JSONL}{{\"index\":6,\"ti\n");
    let p = write(&dir, "h.jsonl", &text);
    let r = check(&[&p]);
    assert_eq!(r.code, 254, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains(":7") || r.stderr.contains(":7"),
        "{}\n{}",
        r.stdout,
        r.stderr
    );
    // Without its newline it is a torn line: skipped with a warning.
    let torn = format!("{FAILED_CAS_JSONL}{{\"index\":6,\"ti");
    let p = write(&dir, "t.jsonl", &torn);
    let r = check(&[&p]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("warning"), "{}", r.stderr);
}

#[test]
fn deeply_nested_edn_is_exit_254_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!("[{}1]", "#_ #_1 ".repeat(13_000));
    let p = write(&dir, "deep.edn", &text);
    let r = check(&[&p]);
    assert!(
        r.code == 254 || r.code == 0 || r.code == 2,
        "{}\n{}",
        r.code,
        r.stderr
    );
    assert!(!r.stdout.is_empty(), "{}", r.stderr);
    let nested = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let p = write(&dir, "nest.edn", &nested);
    assert_eq!(check(&[&p]).code, 254);
}
