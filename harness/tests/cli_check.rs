//! `harness check` end to end through the binary: exit codes 0/1/2/254, the JSON verdict as
//! the last stdout line, several files in one call, `--to jsonl`, `--json-out` and
//! `--report`. Inputs are written inline into a temporary directory removed on drop.

use assert_cmd::Command;
use serde_json::Value;
use std::path::{Path, PathBuf};
use tempfile::TempDir;

const VALID_JSONL: &str = r#"{"index":0,"time":10,"type":"invoke","process":0,"f":"write","value":1}
{"index":1,"time":20,"type":"ok","process":0,"f":"write","value":1}
{"index":2,"time":30,"type":"invoke","process":1,"f":"read","value":null}
{"index":3,"time":40,"type":"ok","process":1,"f":"read","value":1}
{"index":4,"time":50,"type":"invoke","process":0,"f":"cas","value":[1,2]}
{"index":5,"time":60,"type":"info","process":0,"f":"cas","value":[1,2],"error":"timeout"}
"#;

/// A stale read in Jepsen EDN: 3 was written and acknowledged, then 1 is read.
const INVALID_EDN: &str = r#"[{:index 0 :type :invoke :process 0 :f :write :value 3 :time 100}
 {:index 1 :type :ok :process 0 :f :write :value 3 :time 200}
 {:index 2 :type :invoke :process 1 :f :read :value nil :time 300}
 {:index 3 :type :ok :process 1 :f :read :value 1 :time 400}]
"#;

const ETCD_LOG: &str = "INFO  jepsen.util - 0\t:invoke\t:write\t2\n\
INFO  jepsen.util - 0\t:ok\t:write\t2\n\
INFO  jepsen.util - 1\t:invoke\t:cas\t[2 4]\n\
INFO  jepsen.util - 1\t:ok\t:cas\t[2 4]\n\
INFO  jepsen.util - 2\t:invoke\t:read\tnil\n\
INFO  jepsen.util - 2\t:ok\t:read\t4\n";

const KV_LOG: &str = r#"{:process 0, :type :invoke, :f :append, :key "0", :value "x 0 0 y"}
{:process 0, :type :ok, :f :append, :key "0", :value "x 0 0 y"}
{:process 1, :type :invoke, :f :get, :key "0", :value nil}
{:process 1, :type :ok, :f :get, :key "0", :value "x 0 0 y"}
"#;

struct Files {
    dir: TempDir,
}

impl Files {
    fn new() -> Files {
        Files {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).expect("write input");
        p
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    /// The last stdout line, parsed as the JSON verdict object.
    fn verdict(&self) -> Value {
        let last = self
            .stdout
            .lines()
            .last()
            .unwrap_or_else(|| panic!("no stdout; stderr: {}", self.stderr));
        serde_json::from_str(last)
            .unwrap_or_else(|e| panic!("last stdout line is not JSON ({e}): {last}"))
    }
}

fn check(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Run {
    check_stdin(args, "")
}

fn check_stdin(args: &[&dyn AsRef<std::ffi::OsStr>], stdin: &str) -> Run {
    let mut cmd = Command::cargo_bin("harness").expect("harness binary");
    cmd.arg("check");
    for a in args {
        cmd.arg(a);
    }
    cmd.timeout(std::time::Duration::from_secs(60));
    cmd.write_stdin(stdin.to_string());
    let out = cmd.output().expect("run harness");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn valid_history_exits_0_with_json_last_line() {
    let f = Files::new();
    let p = f.write("ok.jsonl", VALID_JSONL);
    let r = check(&[&p]);
    assert_eq!(r.code, 0, "stdout: {}\nstderr: {}", r.stdout, r.stderr);
    let v = r.verdict();
    assert_eq!(v["valid"], Value::Bool(true));
    assert_eq!(v["results"], Value::Null);
    assert_eq!(v["files"][0]["ops"], 3);
    assert_eq!(v["files"][0]["keys"], 1);
    assert!(
        r.stdout
            .lines()
            .next()
            .unwrap()
            .contains("valid (jsonl, cas-register, failed ops: ignore, 3 ops"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .lines()
            .last()
            .unwrap()
            .starts_with("{\"valid\":true,"),
        "{}",
        r.stdout
    );
}

#[test]
fn invalid_history_exits_1_and_prints_the_counterexample() {
    let f = Files::new();
    let p = f.write("bad.edn", INVALID_EDN);
    let r = check(&[&p]);
    assert_eq!(r.code, 1, "stdout: {}\nstderr: {}", r.stdout, r.stderr);
    assert_eq!(r.verdict()["valid"], Value::Bool(false));
    assert!(
        r.stdout.contains("INVALID (edn, cas-register"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("not linearizable"), "{}", r.stdout);
    // The counterexample names input lines.
    assert!(r.stdout.contains("line"), "{}", r.stdout);
}

#[test]
fn empty_history_is_valid_with_a_warning() {
    // The nothing-ok rule of `check`: the linearizability verdict (valid, as Knossos and
    // Porcupine give), with a warning that such a history shows little.
    let f = Files::new();
    let p = f.write("empty.log", "");
    let r = check(&[&p]);
    assert_eq!(r.code, 0, "stdout: {}\nstderr: {}", r.stdout, r.stderr);
    assert_eq!(r.verdict()["valid"], Value::Bool(true));
    assert!(r.stderr.contains("no operations"), "{}", r.stderr);
    assert!(
        r.stdout.contains("warning: no operation completed ok"),
        "{}",
        r.stdout
    );
}

#[test]
fn several_files_in_one_call_worst_verdict_wins() {
    let f = Files::new();
    let a = f.write("a.jsonl", VALID_JSONL);
    let b = f.write("b.log", ETCD_LOG);
    let c = f.write("c.txt", KV_LOG);
    let r = check(&[&a, &b, &c]);
    assert_eq!(r.code, 0, "stdout: {}\nstderr: {}", r.stdout, r.stderr);
    let v = r.verdict();
    assert_eq!(v["files"].as_array().unwrap().len(), 3);
    assert!(
        r.stdout.contains("porcupine-etcd, cas-register"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("porcupine-kv, kv"), "{}", r.stdout);
    let bad = f.write("d.edn", INVALID_EDN);
    let r = check(&[&a, &bad, &b]);
    assert_eq!(r.code, 1, "stdout: {}\nstderr: {}", r.stdout, r.stderr);
    let files = r.verdict()["files"].clone();
    let verdicts: Vec<&Value> = files
        .as_array()
        .unwrap()
        .iter()
        .map(|f| &f["valid"])
        .collect();
    assert_eq!(
        verdicts,
        [&Value::Bool(true), &Value::Bool(false), &Value::Bool(true)]
    );
}

#[test]
fn bad_input_exits_254_naming_file_and_line() {
    let f = Files::new();
    let good = f.write("good.jsonl", VALID_JSONL);
    let broken = f.write(
        "broken.edn",
        "{:type :invoke, :f :read, :process 0}\n{:type :ok, :f :read, :process}\n",
    );
    let r = check(&[&good, &broken]);
    assert_eq!(r.code, 254, "stdout: {}\nstderr: {}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains(&format!("{}:2:", broken.display())),
        "{}",
        r.stderr
    );
    // The good file is still checked and the JSON line still printed.
    let v = r.verdict();
    assert_eq!(v["files"].as_array().unwrap().len(), 1);
    assert_eq!(v["errors"], 1);
    assert_eq!(
        v["valid"],
        Value::String("unknown".into()),
        "a file not checked is not valid"
    );

    let r = check(&[&f.path("missing.jsonl")]);
    assert_eq!(r.code, 254, "{}", r.stderr);
    assert!(r.stderr.contains("missing.jsonl"), "{}", r.stderr);

    let r = check(&[&good, &"--model", &"bogus"]);
    assert_eq!(r.code, 254, "{}", r.stderr);

    let set = f.write(
        "set.jsonl",
        "{\"index\":0,\"time\":0,\"type\":\"invoke\",\"process\":0,\"f\":\"add\",\"value\":1}\n",
    );
    let r = check(&[&set]);
    assert_eq!(r.code, 254, "{}", r.stderr);
    assert!(r.stderr.contains("--model"), "{}", r.stderr);

    // A cas whose value is not a pair does not fit the model: bad input, with its line.
    let cas = f.write(
        "cas.jsonl",
        "{\"index\":0,\"time\":0,\"type\":\"invoke\",\"process\":0,\"f\":\"cas\",\"value\":5}\n\
         {\"index\":1,\"time\":1,\"type\":\"ok\",\"process\":0,\"f\":\"cas\",\"value\":5}\n",
    );
    let r = check(&[&cas]);
    assert_eq!(r.code, 254, "stdout: {}\nstderr: {}", r.stdout, r.stderr);
    assert!(r.stderr.contains("cas.jsonl"), "{}", r.stderr);
}

#[test]
fn to_jsonl_converts_instead_of_checking() {
    let f = Files::new();
    let etcd = f.write("e.log", ETCD_LOG);
    let r = check(&[&etcd, &"--to", &"jsonl"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let lines: Vec<Value> = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 6);
    assert_eq!(lines[2]["f"], "cas");
    assert_eq!(lines[2]["value"], serde_json::json!([2, 4]));
    // The converted file checks the same.
    let out = f.path("e.jsonl");
    let r = check(&[&etcd, &"--to", &"jsonl", &"--out", &out]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.verdict()["converted"][0]["ops"], 6);
    let r = check(&[&out]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert!(
        r.stdout
            .contains("(jsonl, cas-register, failed ops: ignore, 3 ops"),
        "{}",
        r.stdout
    );

    // Several files go to a directory.
    let kv = f.write("k.txt", KV_LOG);
    let r = check(&[&etcd, &kv, &"--to", &"jsonl"]);
    assert_eq!(r.code, 254, "{}", r.stderr);
    let dir = f.path("converted");
    let r = check(&[&etcd, &kv, &"--to", &"jsonl", &"--out", &dir]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(dir.join("e.jsonl").is_file() && dir.join("k.jsonl").is_file());
}

fn read_json(p: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

#[test]
fn json_out_and_report_write_results() {
    let f = Files::new();
    let bad = f.write("bad.edn", INVALID_EDN);
    let json_out = f.path("out.json");
    let report = f.path("report");
    let r = check(&[&bad, &"--json-out", &json_out, &"--report", &report]);
    assert_eq!(r.code, 1, "stdout: {}\nstderr: {}", r.stdout, r.stderr);
    assert_eq!(
        r.verdict()["results"],
        Value::String(report.display().to_string())
    );
    let full = read_json(&json_out);
    assert_eq!(full["valid"], Value::Bool(false));
    let lin = &full["files"][0]["results"]["checkers"]["linearizable"];
    assert_eq!(lin["keys"][0]["valid"], Value::Bool(false));
    assert!(lin["keys"][0]["counterexample"]["ops"].is_array(), "{lin}");
    let results = read_json(&report.join("results.json"));
    assert_eq!(results["valid"], Value::Bool(false));
    assert_eq!(results["checkers"]["stats"]["by_f"]["read"]["ok"], 1);
    assert_eq!(results["checkers"]["exceptions"]["count"], 0);
    assert_eq!(results["ops"], 2);
    assert_eq!(
        std::fs::read_to_string(report.join("history.jsonl"))
            .unwrap()
            .lines()
            .count(),
        4
    );
    assert!(report.join("report.html").is_file());
    // --report takes one file only.
    let r = check(&[&bad, &bad, &"--report", &report]);
    assert_eq!(r.code, 254, "{}", r.stderr);
}

#[test]
fn budgets_are_parsed_and_bad_ones_rejected() {
    let f = Files::new();
    let p = f.write("ok.jsonl", VALID_JSONL);
    let r = check(&[
        &p,
        &"--timeout",
        &"30",
        &"--memory-limit",
        &"256M",
        &"--threads",
        &"1",
        &"--all-keys",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = check(&[&p, &"--memory-limit", &"lots"]);
    assert_eq!(r.code, 254, "{}", r.stderr);
    let r = check(&[&p, &"--timeout", &"-1"]);
    assert_eq!(r.code, 254, "{}", r.stderr);
}

#[test]
fn dash_reads_standard_input() {
    let r = check_stdin(&[&"-"], ETCD_LOG);
    assert_eq!(r.code, 0, "stdout: {}\nstderr: {}", r.stdout, r.stderr);
    assert_eq!(r.verdict()["files"][0]["ops"], 3);
    let r = check_stdin(&[&"-"], INVALID_EDN);
    assert_eq!(r.code, 1, "stdout: {}\nstderr: {}", r.stdout, r.stderr);
    let r = check_stdin(&[&"-"], "{:type :ok");
    assert_eq!(r.code, 254, "{}", r.stderr);
    assert!(r.stderr.contains("<stdin>:1:"), "{}", r.stderr);
}
