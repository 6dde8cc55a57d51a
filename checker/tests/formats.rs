//! The history readers on good and malformed input of every format: our JSONL (with a torn
//! tail), Jepsen EDN (realistic Jepsen-shaped histories written inline), Porcupine's etcd
//! and kv logs; detection and `--format` overrides; the round trip read → write_jsonl →
//! read; and a bounded fuzz showing no input makes a reader panic.

use checker::format::{self, read_str, write_jsonl, Format, FormatErrorKind};
use checker::linear::{self, LinearOptions};
use checker::model::{FailedOps, ModelKind};
use checker::{History, OpType, Process, Validity};
use proptest::prelude::*;
use serde_json::{json, Value};

const JSONL: &str = r#"{"index":0,"time":1043211,"type":"invoke","process":0,"f":"write","key":"k3","value":4,"node":"n2"}
{"index":1,"time":2710050,"type":"ok","process":0,"f":"write","key":"k3","value":4,"node":"n2"}
{"index":2,"time":3001000,"type":"invoke","process":1,"f":"cas","key":"k3","value":[4,1]}
{"index":3,"time":9000001,"type":"info","process":1,"f":"cas","key":"k3","value":[4,1],"error":"timeout"}
{"index":4,"time":9100000,"type":"info","process":"nemesis","f":"start-partition","value":{"n1":["n2","n3"]}}
"#;

/// A Jepsen register test with `independent` keys, as a vector of op maps over several
/// lines, with comments, a nemesis, an unknown key and a timed-out cas.
const EDN_VECTOR: &str = r#"; jepsen history, independent register
[{:type :invoke, :f :write, :value [0 3], :process 0, :time 12000, :index 0}
 {:type :ok, :f :write, :value [0 3], :process 0, :time 15000, :index 1}
 {:type :info, :f :start, :value nil, :process :nemesis, :time 16000, :index 2}
 {:type :info, :f :start, :value [:isolated {"n1" #{"n2" "n3"}}], :process :nemesis, :time 17000, :index 3}
 ;; a read of key 0
 {:type :invoke, :f :read, :value [0 nil], :process 1, :time 18000, :index 4}
 {:type :ok, :f :read, :value [0 3], :process 1, :time 19000, :index 5, :trace-id "abc"}
 {:type :invoke, :f :cas, :value [1 [nil 2]], :process 2, :time 20000, :index 6}
 {:type :info, :f :cas, :value [1 [nil 2]], :process 2, :time 21000, :index 7, :error :timed-out}
 {:type :invoke, :f :read, :value [1 nil], :process 3, :time 22000, :index 8}
 {:type :ok, :f :read, :value [1 2], :process 3, :time 23000, :index 9}]
"#;

/// The same shape, one map per line (Jepsen's `history.edn`), but with a stale read: key 0
/// is written 3 and then read as 1, which no write put there.
const EDN_LINES_BAD: &str = r#"{:index 0 :type :invoke :process 0 :f :write :value [0 3] :time 100}
{:index 1 :type :ok :process 0 :f :write :value [0 3] :time 200}
{:index 2 :type :invoke :process 1 :f :read :value [0 nil] :time 300}
{:index 3 :type :ok :process 1 :f :read :value [0 1] :time 400}
"#;

const ETCD: &str = "INFO  jepsen.util - 2\t:invoke\t:cas\t[3 0]\n\
INFO  jepsen.util - 0\t:invoke\t:read\tnil\n\
INFO  jepsen.util - 0\t:ok\t:read\tnil\n\
INFO  jepsen.util - 4   :invoke :write  3\n\
INFO  jepsen.util - 2\t:fail\t:cas\t[3 0]\n\
INFO  jepsen.util - 4   :info   :write  :timed-out\n\
INFO  jepsen.util - 1\t:invoke\t:read\tnil\n\
INFO  jepsen.util - 1\t:fail\t:read\t:timed-out\n";

const KV: &str = r#"{:process 0, :type :invoke, :f :append, :key "0", :value "x 0 0 y"}
{:process 1, :type :invoke, :f :get, :key "0", :value nil}
{:process 0, :type :ok, :f :append, :key "0", :value "x 0 0 y"}
{:process 1, :type :ok, :f :get, :key "0", :value "x 0 0 y"}
{:process 2, :type :invoke, :f :put, :key "1", :value "a \"quoted\" value"}
{:process 2, :type :ok, :f :put, :key "1", :value "a \"quoted\" value"}
"#;

fn without_lines(h: &History) -> History {
    let mut h = h.clone();
    for op in &mut h.ops {
        op.line = None;
    }
    h
}

#[test]
fn jsonl_reads_the_design_example() {
    let r = read_str(JSONL, None).unwrap();
    assert_eq!(r.format, Format::Jsonl);
    assert!(r.warnings.is_empty());
    let ops = &r.history.ops;
    assert_eq!(ops.len(), 5);
    assert_eq!(
        (ops[3].op_type, ops[3].error.clone()),
        (OpType::Info, Some(json!("timeout")))
    );
    assert_eq!(ops[4].process, Process::Nemesis);
    assert_eq!(ops[0].node.as_deref(), Some("n2"));
    assert_eq!(ops[2].key, Some(json!("k3")));
    assert_eq!(
        ops.iter().map(|o| o.line).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5].map(Some)
    );
}

#[test]
fn jsonl_torn_last_line_is_a_warning_and_skipped() {
    let torn = format!("{JSONL}{{\"index\":5,\"time\":91000");
    let r = read_str(&torn, None).unwrap();
    assert_eq!(r.history.len(), 5);
    assert_eq!(r.warnings.len(), 1);
    assert!(
        r.warnings[0].contains("line 6") && r.warnings[0].contains("torn"),
        "{:?}",
        r.warnings
    );
}

#[test]
fn jsonl_bad_middle_line_is_an_error_naming_the_line() {
    let lines: Vec<&str> = JSONL.lines().collect();
    let text = format!(
        "{}\n{}\n{{\"index\":2,\"time\n{}\n",
        lines[0], lines[1], lines[3]
    );
    let e = read_str(&text, None).unwrap_err();
    assert_eq!(
        (e.kind, e.line, e.format),
        (FormatErrorKind::Syntax, Some(3), Some(Format::Jsonl))
    );
    assert!(e.to_string().starts_with("<input>:3:"), "{e}");
    // Valid JSON, wrong shape: a type that does not exist, on the last line, is an error too.
    let text = format!(
        "{}\n{}",
        lines[0], r#"{"index":1,"time":5,"type":"okk","process":0,"f":"write","value":4}"#
    );
    let e = read_str(&text, None).unwrap_err();
    assert_eq!(e.line, Some(2));
    assert!(
        e.message.contains("okk") && e.message.contains("expected"),
        "{e}"
    );
    let e = read_str("[1,2]\n", Some(Format::Jsonl)).unwrap_err();
    assert!(e.message.contains("expected a JSON object"), "{e}");
}

#[test]
fn edn_vector_history_keeps_everything() {
    let r = read_str(EDN_VECTOR, None).unwrap();
    assert_eq!(r.format, Format::Edn);
    let ops = &r.history.ops;
    assert_eq!(ops.len(), 10);
    assert_eq!(ops[0].f, "write");
    assert_eq!(ops[0].value, json!([0, 3]));
    assert_eq!(ops[0].time, 12000);
    assert_eq!(ops[0].line, Some(2));
    assert_eq!(ops[4].line, Some(7), "the comment line is counted");
    assert_eq!(ops[2].process, Process::Nemesis);
    assert_eq!(ops[3].value, json!(["isolated", {"n1": ["n2", "n3"]}]));
    assert_eq!(ops[5].extra.get("trace-id"), Some(&json!("abc")));
    assert_eq!(ops[7].error, Some(json!("timed-out")));
    assert_eq!(ops[6].value, json!([1, [null, 2]]));
    assert!(ops
        .iter()
        .enumerate()
        .all(|(i, o)| o.index == i as u64 && !o.extra.contains_key("source_index")));
    // The independent tuples are split by the search: both keys linearizable.
    let report = linear::check(
        &r.history,
        ModelKind::CasRegister,
        &LinearOptions::default(),
    )
    .unwrap();
    assert_eq!(report.valid, Validity::Valid);
    assert_eq!(report.keys.len(), 2);
}

#[test]
fn edn_lines_history_with_a_bad_read_is_invalid() {
    let r = read_str(EDN_LINES_BAD, None).unwrap();
    assert_eq!(r.format, Format::Edn);
    assert_eq!(r.history.len(), 4);
    assert_eq!(r.history.ops[3].line, Some(4));
    let report = linear::check(
        &r.history,
        ModelKind::CasRegister,
        &LinearOptions::default(),
    )
    .unwrap();
    assert_eq!(report.valid, Validity::Invalid);
}

#[test]
fn edn_list_and_records_and_reindexing() {
    let text =
        "(#jepsen.history.Op{:index 7, :time 5, :type :invoke, :process 0, :f :add, :value 1}\n\
                {:type :ok, :process 0, :f :add, :value 1, :node \"n1\", :time 6.5})";
    let r = read_str(text, None).unwrap();
    assert_eq!(r.history.len(), 2);
    assert_eq!(r.history.ops[0].extra.get("source_index"), Some(&json!(7)));
    assert_eq!(
        (r.history.ops[1].time, r.history.ops[1].node.as_deref()),
        (6, Some("n1"))
    );
    assert_eq!(r.history.ops[1].line, Some(2));
}

#[test]
fn edn_malformed_inputs_name_the_line() {
    let cases: &[(&str, u64, &str)] = &[
        (
            "[{:type :invoke, :f :read, :process 0}\n {:type :ok, :f :read\n",
            2,
            "expected `}`",
        ),
        (
            "{:type :invoke, :f :read, :process 0}\n{:f :read, :process 0}\n",
            2,
            "missing :type",
        ),
        (
            "{:type :invoke, :f :read, :process 0}\n{:type :bogus, :f :read, :process 0}\n",
            2,
            ":bogus",
        ),
        ("{:type :invoke, :f :read, :process -3}\n", 1, ":process"),
        (
            "{:type :invoke, :f :read, :process 0}\n\n[1 2]\n",
            3,
            "expected an op map",
        ),
        ("{:type :invoke, :process 0}\n", 1, "missing :f"),
        (
            "[{:type :invoke, :f :read, :process 0}] {:a 1}",
            1,
            "end of the file",
        ),
        ("{:type :invoke :f :read :process}\n", 1, "even number"),
        (
            "{:type :invoke, :f :read, :process 0, :value \"abc}\n",
            1,
            "string",
        ),
    ];
    for (text, line, what) in cases {
        let e = read_str(text, Some(Format::Edn)).unwrap_err();
        assert_eq!(e.line, Some(*line), "{text:?}: {e}");
        assert!(
            e.to_string().contains(what),
            "{text:?}: `{e}` should mention `{what}`"
        );
    }
}

#[test]
fn porcupine_etcd_log_reads_tabs_and_spaces_and_timeouts() {
    let r = read_str(ETCD, None).unwrap();
    assert_eq!(r.format, Format::PorcupineEtcd);
    let ops = &r.history.ops;
    assert_eq!(ops.len(), 8);
    assert_eq!((ops[0].f.as_str(), &ops[0].value), ("cas", &json!([3, 0])));
    assert_eq!(ops[2].value, Value::Null);
    assert_eq!(
        (ops[3].process, &ops[3].value),
        (Process::Client(4), &json!(3))
    );
    // `:info :write :timed-out`: outcome unknown, the written value is kept.
    assert_eq!(
        (ops[5].op_type, &ops[5].value, &ops[5].error),
        (OpType::Info, &json!(3), &Some(json!("timed-out")))
    );
    assert_eq!(
        (ops[7].op_type, &ops[7].value),
        (OpType::Fail, &Value::Null)
    );
    assert!(ops
        .iter()
        .enumerate()
        .all(|(i, o)| o.index == i as u64 && o.time == i as i64 && o.line == Some(i as u64 + 1)));
    let report = linear::check(
        &r.history,
        ModelKind::CasRegister,
        &LinearOptions::default(),
    )
    .unwrap();
    assert_eq!(report.valid, Validity::Valid);
}

#[test]
fn porcupine_etcd_malformed_lines_name_line_and_column() {
    let good = "INFO  jepsen.util - 0\t:invoke\t:read\tnil\n";
    for (bad, what) in [
        ("WARN something else happened\n", "jepsen.util"),
        (
            "INFO  jepsen.util - x\t:invoke\t:read\tnil\n",
            "process number",
        ),
        ("INFO  jepsen.util - 0\t:started\t:read\tnil\n", ":started"),
        ("INFO  jepsen.util - 0\t:ok\tread\t1\n", "keyword function"),
        ("INFO  jepsen.util - 0\t:ok\t:read\t[1 2\n", "EDN value"),
        ("INFO  jepsen.util - 0\t:ok\t:read\t1 2\n", "one value"),
        ("INFO  jepsen.util - 0\t:ok\n", "missing fields"),
    ] {
        let e = read_str(&format!("{good}{bad}"), Some(Format::PorcupineEtcd)).unwrap_err();
        assert_eq!(e.line, Some(2), "{bad:?}: {e}");
        assert!(
            e.to_string().contains(what),
            "{bad:?}: `{e}` should mention `{what}`"
        );
    }
    let e = read_str(
        &format!("{good}INFO  jepsen.util - 0\t:bad\t:read\tnil\n"),
        None,
    )
    .unwrap_err();
    assert_eq!(e.column, Some(23), "{e}");
}

#[test]
fn porcupine_kv_log_reads_and_rejects_other_shapes() {
    let r = read_str(KV, None).unwrap();
    assert_eq!(r.format, Format::PorcupineKv);
    let ops = &r.history.ops;
    assert_eq!(ops.len(), 6);
    assert_eq!(
        (ops[1].key.clone(), ops[1].value.clone()),
        (Some(json!("0")), Value::Null)
    );
    assert_eq!(ops[4].value, json!("a \"quoted\" value"));
    assert_eq!(
        linear::check(&r.history, ModelKind::Kv, &LinearOptions::default())
            .unwrap()
            .valid,
        Validity::Valid
    );
    let first = KV.lines().next().unwrap();
    for (bad, what) in [
        (
            r#"{:process 1, :type :invoke, :f :get, :value nil}"#,
            "missing :key",
        ),
        (
            r#"{:process 1, :type :invoke, :f :get, :key "0", :value nil, :extra 1}"#,
            "unexpected key :extra",
        ),
        (
            r#"{:process 1, :type :invoke, :f :delete, :key "0", :value nil}"#,
            ":get, :put or :append",
        ),
        (
            r#"{:process 1, :type :invoke, :f :get, :key 0, :value nil}"#,
            ":key to be a string",
        ),
        (
            r#"{:process 1, :type :info, :f :get, :key "0", :value nil}"#,
            ":invoke or :ok",
        ),
        (
            r#"{:process 1, :type :invoke, :f :get, :key "0", :value nil} {}"#,
            "one map per line",
        ),
        (
            r#"{:process 1, :type :invoke, :f :get, :key "0", :value"#,
            "expected",
        ),
    ] {
        let e = read_str(&format!("{first}\n{bad}\n"), Some(Format::PorcupineKv)).unwrap_err();
        assert_eq!(e.line, Some(2), "{bad}: {e}");
        assert!(
            e.to_string().contains(what),
            "{bad}: `{e}` should mention `{what}`"
        );
    }
}

#[test]
fn forced_formats_override_detection() {
    // A kv log is EDN too: read as plain EDN it gives the same ops.
    let as_kv = read_str(KV, None).unwrap();
    let as_edn = read_str(KV, Some(Format::Edn)).unwrap();
    assert_eq!(
        (as_edn.format, &as_edn.history),
        (Format::Edn, &as_kv.history)
    );
    // Forcing the wrong format is an error on the first line.
    let e = read_str(EDN_VECTOR, Some(Format::Jsonl)).unwrap_err();
    assert_eq!(e.line, Some(1));
    let e = read_str(JSONL, Some(Format::PorcupineEtcd)).unwrap_err();
    assert_eq!(e.line, Some(1));
}

#[test]
fn every_format_round_trips_through_jsonl() {
    for (name, text) in [
        ("jsonl", JSONL),
        ("edn", EDN_VECTOR),
        ("edn-lines", EDN_LINES_BAD),
        ("etcd", ETCD),
        ("kv", KV),
    ] {
        let first = read_str(text, None).unwrap();
        let mut out = Vec::new();
        write_jsonl(&first.history, &mut out).unwrap();
        let jsonl = String::from_utf8(out).unwrap();
        assert_eq!(jsonl.lines().count(), first.history.len(), "{name}");
        let second = read_str(&jsonl, None).unwrap();
        assert_eq!(second.format, Format::Jsonl, "{name}");
        assert_eq!(
            without_lines(&second.history),
            without_lines(&first.history),
            "{name}"
        );
        assert!(second.warnings.is_empty(), "{name}");
    }
}

#[test]
fn read_file_names_the_file() {
    let dir = TempDir::new("read-file");
    let path = dir.0.join("h.edn");
    std::fs::write(&path, "{:type :invoke, :f :read, :process 0}\n{:type :ok\n").unwrap();
    let e = format::read_file(&path, None).unwrap_err();
    assert!(
        e.to_string().starts_with(&format!("{}:2:", path.display())),
        "{e}"
    );
    let e = format::read_file(&dir.0.join("missing.jsonl"), None).unwrap_err();
    assert_eq!(e.kind, FormatErrorKind::Io);
    assert!(e.to_string().contains("missing.jsonl"), "{e}");
    // Invalid UTF-8 in the middle is an error naming its line.
    std::fs::write(&path, b"{\"index\":0}\n\xff\xfe\n{\"index\":1}\n").unwrap();
    let e = format::read_file(&path, None).unwrap_err();
    assert_eq!(e.line, Some(2), "{e}");
}

/// A temporary directory removed on drop, even when the test fails.
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let dir =
            std::env::temp_dir().join(format!("checker-formats-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn samples() -> Vec<&'static str> {
    vec![JSONL, EDN_VECTOR, EDN_LINES_BAD, ETCD, KV]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, .. ProptestConfig::default() })]

    /// Mutated inputs of every format (bytes deleted, inserted, truncated) never panic a
    /// reader, whether the format is detected or forced.
    #[test]
    fn mutated_inputs_never_panic(
        which in 0usize..5,
        cut in proptest::option::of(0usize..1000),
        del in 0usize..2000,
        del_len in 0usize..8,
        insert in proptest::collection::vec(any::<char>(), 0..6),
        forced in proptest::option::of(0usize..4),
    ) {
        let base = samples()[which];
        let mut chars: Vec<char> = base.chars().collect();
        let at = del % (chars.len() + 1);
        let end = (at + del_len).min(chars.len());
        chars.splice(at..end, insert);
        if let Some(cut) = cut {
            chars.truncate(cut);
        }
        let text: String = chars.into_iter().collect();
        let format = forced.map(|i| Format::ALL[i]);
        if let Ok(r) = read_str(&text, format) {
            // Whatever was read writes and reads back.
            let mut out = Vec::new();
            write_jsonl(&r.history, &mut out).unwrap();
            let back = read_str(std::str::from_utf8(&out).unwrap(), Some(Format::Jsonl)).unwrap();
            prop_assert_eq!(back.history.len(), r.history.len());
        }
    }

    /// Arbitrary text never panics any reader.
    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}", forced in proptest::option::of(0usize..4)) {
        let _ = read_str(&text, forced.map(|i| Format::ALL[i]));
    }
}

/// A history whose only defect is a failed cas that was not applied: the register is 1,
/// `cas 1->2` fails (a client that knows it was not applied, e.g. a timeout before
/// sending), and 1 is read afterwards. Jepsen's meaning of `fail` (ignore): valid;
/// Porcupine's (observe: the value differed from 1): invalid.
const JSONL_FAILED_CAS: &str = r#"{"index":0,"time":0,"type":"invoke","process":0,"f":"write","key":"k","value":1}
{"index":1,"time":1,"type":"ok","process":0,"f":"write","key":"k","value":1}
{"index":2,"time":2,"type":"invoke","process":1,"f":"cas","key":"k","value":[1,2]}
{"index":3,"time":3,"type":"fail","process":1,"f":"cas","key":"k","value":[1,2],"error":"timeout"}
{"index":4,"time":4,"type":"invoke","process":0,"f":"read","key":"k","value":null}
{"index":5,"time":5,"type":"ok","process":0,"f":"read","key":"k","value":1}
"#;

const EDN_FAILED_CAS: &str = r#"[{:type :invoke, :f :write, :value [0 1], :process 0, :time 10, :index 0}
 {:type :ok, :f :write, :value [0 1], :process 0, :time 20, :index 1}
 {:type :invoke, :f :cas, :value [0 [1 2]], :process 1, :time 30, :index 2}
 {:type :fail, :f :cas, :value [0 [1 2]], :process 1, :time 40, :index 3}
 {:type :invoke, :f :read, :value [0 nil], :process 0, :time 50, :index 4}
 {:type :ok, :f :read, :value [0 1], :process 0, :time 60, :index 5}]
"#;

fn verdict(text: &str, failed_ops: Option<FailedOps>) -> Validity {
    let r = read_str(text, None).unwrap();
    let opts = LinearOptions {
        failed_ops: failed_ops.unwrap_or(r.default_failed_ops()),
        ..LinearOptions::default()
    };
    linear::check(&r.history, ModelKind::CasRegister, &opts)
        .unwrap()
        .valid
}

#[test]
fn a_failed_cas_that_was_not_applied_is_valid_under_ignore_invalid_under_observe() {
    for text in [JSONL_FAILED_CAS, EDN_FAILED_CAS] {
        assert_eq!(
            read_str(text, None).unwrap().default_failed_ops(),
            FailedOps::Ignore
        );
        assert_eq!(verdict(text, None), Validity::Valid, "{text}");
        assert_eq!(verdict(text, Some(FailedOps::Ignore)), Validity::Valid);
        assert_eq!(verdict(text, Some(FailedOps::Observe)), Validity::Invalid);
        let h = read_str(text, None).unwrap().history;
        assert_eq!(
            checker::model::reading_matters(&h, ModelKind::CasRegister),
            1
        );
    }
}

#[test]
fn an_explicit_cas_mismatch_is_an_observation_under_both_readings() {
    let jsonl = JSONL_FAILED_CAS.replace(r#""error":"timeout""#, r#""error":"cas-mismatch""#);
    let edn_keyword = EDN_FAILED_CAS.replace(":index 3}", ":index 3, :error :cas-mismatch}");
    let edn_vector =
        EDN_FAILED_CAS.replace(":index 3}", ":index 3, :error [:cas-mismatch {:actual 1}]}");
    for text in [&jsonl, &edn_keyword, &edn_vector] {
        assert_eq!(verdict(text, None), Validity::Invalid, "{text}");
        assert_eq!(verdict(text, Some(FailedOps::Observe)), Validity::Invalid);
        let h = read_str(text, None).unwrap().history;
        assert_eq!(
            checker::model::reading_matters(&h, ModelKind::CasRegister),
            0
        );
    }
    // Other error texts are not observations under ignore (no guessing from words).
    let edn_other = EDN_FAILED_CAS.replace(":index 3}", ":index 3, :error :compare-failed}");
    assert_eq!(verdict(&edn_other, None), Validity::Valid);
}

#[test]
fn porcupine_formats_default_to_observe() {
    assert_eq!(
        read_str(ETCD, None).unwrap().default_failed_ops(),
        FailedOps::Observe
    );
    assert_eq!(
        read_str(KV, None).unwrap().default_failed_ops(),
        FailedOps::Observe
    );
}

/// The torn-line rule: only the final line without its newline is torn. A stale read as the
/// last op makes `STALE` invalid; damaging that line must never turn it valid silently.
#[test]
fn only_an_unterminated_last_line_is_torn() {
    const STALE: &str = r#"{"index":0,"time":0,"type":"invoke","process":0,"f":"write","value":1}
{"index":1,"time":1,"type":"ok","process":0,"f":"write","value":1}
{"index":2,"time":2,"type":"invoke","process":1,"f":"read","value":null}
"#;
    let damaged_last = r#"{"index":3,"time":3,"type":"ok","process":1,"f":"read","value":nul"#;
    // Without its newline: torn, skipped with a warning naming line 4.
    let torn = format!("{STALE}{damaged_last}");
    let r = read_str(&torn, None).unwrap();
    assert_eq!(r.history.len(), 3);
    assert!(r
        .warnings
        .iter()
        .any(|w| w.contains("line 4") && w.contains("torn")));
    // With its newline (complete, damaged): an error naming line 4, also with blank lines after.
    for tail in ["\n", "\n\n", "\r\n"] {
        let e = read_str(&format!("{STALE}{damaged_last}{tail}"), None).unwrap_err();
        assert_eq!((e.kind, e.line), (FormatErrorKind::Syntax, Some(4)), "{e}");
    }
    // A last line that is valid JSON but not an op is an error even without a newline.
    let e = read_str(&format!("{STALE}[1,2]"), None).unwrap_err();
    assert_eq!(e.line, Some(4));
}

#[test]
fn invalid_utf8_is_an_error_except_in_a_torn_jsonl_line() {
    let good = "{\"index\":0,\"time\":0,\"type\":\"invoke\",\"process\":0,\"f\":\"read\",\"value\":null}\n";
    let mut torn = good.as_bytes().to_vec();
    torn.extend_from_slice(b"{\"index\":1,\"f\":\"r\xc3");
    let r = format::read_bytes(&torn, None).unwrap();
    assert_eq!(r.history.len(), 1);
    assert!(
        r.warnings
            .iter()
            .any(|w| w.contains("line 2") && w.contains("UTF-8")),
        "{:?}",
        r.warnings
    );
    // A complete line with invalid UTF-8 inside a string is an error: lossy replacement
    // would change the value silently.
    let mut complete = good.as_bytes().to_vec();
    complete.extend_from_slice(
        b"{\"index\":1,\"time\":1,\"type\":\"ok\",\"process\":0,\"f\":\"read\",\"value\":\"\xff\"}\n",
    );
    let e = format::read_bytes(&complete, None).unwrap_err();
    assert_eq!((e.line, e.column), (Some(2), Some(65)), "{e}");
    complete.pop();
    let r = format::read_bytes(&complete, None).unwrap();
    assert_eq!(r.history.len(), 1, "unterminated: torn, skipped");
    // EDN has no torn-line rule: invalid bytes on its last line are an error.
    let e = format::read_bytes(
        b"{:type :invoke, :f :read, :process 0}\n{:type :ok \xff",
        None,
    )
    .unwrap_err();
    assert_eq!(e.line, Some(2), "{e}");
}

/// A Jepsen txn history read from EDN, its model inferred (multi-register) and checked:
/// the ok's read values count, the invoke's nil reads do not; a stale read is invalid.
#[test]
fn edn_txn_history_is_checked_as_a_multi_register() {
    const TXN: &str = r#"[{:type :invoke, :f :txn, :value [[:write :x 1]], :process 0, :time 1}
{:type :ok, :f :txn, :value [[:write :x 1]], :process 0, :time 2}
{:type :invoke, :f :txn, :value [[:read :x nil] [:write :y 2]], :process 1, :time 3}
{:type :ok, :f :txn, :value [[:read :x 1] [:write :y 2]], :process 1, :time 4}
{:type :invoke, :f :txn, :value [[:read :x nil] [:read :y nil]], :process 0, :time 5}
{:type :ok, :f :txn, :value [[:read :x 1] [:read :y 2]], :process 0, :time 6}]"#;
    let verdict = |text: &str| {
        let r = read_str(text, None).unwrap();
        let model = checker::model::infer_model(&r.history, r.format);
        assert_eq!(model, Some(ModelKind::MultiRegister));
        linear::check(
            &r.history,
            ModelKind::MultiRegister,
            &LinearOptions::default(),
        )
        .unwrap()
        .valid
    };
    assert_eq!(verdict(TXN), Validity::Valid);
    assert_eq!(
        verdict(&TXN.replace("[:read :y 2]]", "[:read :y nil]]")),
        Validity::Valid,
        "a nil read is unobserved"
    );
    assert_eq!(
        verdict(&TXN.replace("[:read :y 2]]", "[:read :y 3]]")),
        Validity::Invalid
    );
    // The ok must repeat the invoked writes.
    let e = read_str(
        &TXN.replace("[:read :x 1] [:write :y 2]", "[:read :x 1] [:write :y 5]"),
        None,
    )
    .unwrap_err();
    assert_eq!(
        (e.kind, e.line),
        (FormatErrorKind::Contradiction, Some(4)),
        "{e}"
    );
}

/// Contradictions are refused with their line in every format that can carry them.
#[test]
fn contradicting_histories_are_refused_with_the_line() {
    let jsonl_dup = JSONL.replace(r#""index":3,"#, r#""index":2,"#);
    let e = read_str(&jsonl_dup, None).unwrap_err();
    assert_eq!(
        (e.kind, e.line),
        (FormatErrorKind::Contradiction, Some(4)),
        "{e}"
    );
    let edn_f = EDN_VECTOR.replace(
        "{:type :ok, :f :write, :value [0 3]",
        "{:type :ok, :f :read, :value [0 3]",
    );
    let e = read_str(&edn_f, None).unwrap_err();
    assert_eq!(
        (e.kind, e.line),
        (FormatErrorKind::Contradiction, Some(3)),
        "{e}"
    );
    assert!(e.message.contains("invoked `write`"), "{e}");
    let etcd_arg = ETCD.replace("2\t:fail\t:cas\t[3 0]", "2\t:ok\t:cas\t[3 1]");
    let e = read_str(&etcd_arg, None).unwrap_err();
    assert_eq!(
        (e.kind, e.line),
        (FormatErrorKind::Contradiction, Some(5)),
        "{e}"
    );
    let kv_key = KV.replace(
        r#"{:process 0, :type :ok, :f :append, :key "0""#,
        r#"{:process 0, :type :ok, :f :append, :key "9""#,
    );
    let e = read_str(&kv_key, None).unwrap_err();
    assert_eq!(
        (e.kind, e.line),
        (FormatErrorKind::Contradiction, Some(3)),
        "{e}"
    );
    // Backward times only warn (Jepsen's histories do it).
    let backwards = EDN_VECTOR.replace(":time 19000", ":time 100");
    let r = read_str(&backwards, None).unwrap();
    assert!(
        r.warnings.iter().any(|w| w.contains("backwards")),
        "{:?}",
        r.warnings
    );
}
