//! Smoke test of the linearizability checker on a few of Porcupine's histories, with the
//! verdicts listed in `expected.tsv` (and the per-key verdicts its README gives), plus the
//! budgets (timeout, memory), cancellation and the counterexample's shape.
//! (The full corpus test over every file of expected.tsv belongs to the format/CLI work.)

use checker::format::read_file;
use checker::history::History;
use checker::linear::{check, render_counterexample_text, LinearOptions};
use checker::model::ModelKind;
use checker::Validity;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn data_dir() -> PathBuf {
    if let Ok(p) = std::env::var("PORCUPINE_DATA") {
        return PathBuf::from(p);
    }
    let rel = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/porcupine");
    if rel.is_dir() {
        rel
    } else {
        PathBuf::from("/work/shared/histories/porcupine")
    }
}

fn load(rel: &str) -> History {
    read_file(&data_dir().join(rel), None)
        .unwrap_or_else(|e| panic!("{rel}: {e}"))
        .history
}

/// Expected verdict of a file from expected.tsv.
fn expected(rel: &str) -> Validity {
    let tsv = std::fs::read_to_string(data_dir().join("expected.tsv")).expect("expected.tsv");
    let line = tsv
        .lines()
        .find(|l| l.split('\t').next() == Some(rel))
        .unwrap_or_else(|| panic!("{rel} not in expected.tsv"));
    match line.split('\t').nth(3) {
        Some("linearizable") => Validity::Valid,
        Some("not-linearizable") => Validity::Invalid,
        other => panic!("{rel}: no verdict ({other:?})"),
    }
}

fn opts() -> LinearOptions {
    LinearOptions {
        threads: 2,
        minimize_budget: Duration::from_secs(2),
        ..LinearOptions::default()
    }
}

#[test]
fn etcd_logs_get_their_expected_verdicts() {
    for n in [
        "000", "002", "005", "007", "038", "057", "099", "100", "101", "102",
    ] {
        let rel = format!("test_data/jepsen/etcd_{n}.log");
        let r = check(&load(&rel), ModelKind::CasRegister, &opts()).expect("check");
        assert_eq!(r.valid, expected(&rel), "{rel}");
        assert_eq!(r.keys.len(), 1, "an etcd log is one register");
    }
}

#[test]
fn kv_files_get_their_expected_verdicts() {
    for name in [
        "c01-ok", "c01-bad", "c10-ok", "c10-bad", "c50-ok", "c50-bad",
    ] {
        let rel = format!("test_data/kv/{name}.txt");
        let r = check(&load(&rel), ModelKind::Kv, &opts()).expect("check");
        assert_eq!(r.valid, expected(&rel), "{rel}");
    }
}

#[test]
fn kv_c10_bad_per_key_verdicts_match_the_readme() {
    let o = LinearOptions {
        all_keys: true,
        ..opts()
    };
    let r = check(&load("test_data/kv/c10-bad.txt"), ModelKind::Kv, &o).expect("check");
    assert_eq!(r.keys.len(), 10);
    for k in &r.keys {
        let want = if k.key == json!("4") || k.key == json!("8") {
            Validity::Valid
        } else {
            Validity::Invalid
        };
        assert_eq!(k.valid, want, "key {}", k.key);
    }
    // Invalid keys are reported first.
    assert!(r.keys[..8].iter().all(|k| k.valid == Validity::Invalid));
}

#[test]
fn c01_bad_only_key_7_is_invalid() {
    let o = LinearOptions {
        all_keys: true,
        ..opts()
    };
    let r = check(&load("test_data/kv/c01-bad.txt"), ModelKind::Kv, &o).expect("check");
    let bad: Vec<_> = r
        .keys
        .iter()
        .filter(|k| k.valid == Validity::Invalid)
        .map(|k| k.key.clone())
        .collect();
    assert_eq!(bad, vec![json!("7")]);
}

#[test]
fn counterexample_has_the_contract_shape() {
    let rel = "test_data/jepsen/etcd_000.log";
    let r = check(&load(rel), ModelKind::CasRegister, &opts()).expect("check");
    assert_eq!(r.valid, Validity::Invalid);
    let cx = r.keys[0].counterexample.as_ref().expect("counterexample");
    for field in [
        "ops",
        "minimal",
        "longest_prefix",
        "states",
        "stuck",
        "original_ops",
    ] {
        assert!(cx.get(field).is_some(), "missing {field}");
    }
    let ops = cx["ops"].as_array().expect("ops");
    assert!(!ops.is_empty() && ops.len() as u64 <= cx["original_ops"].as_u64().expect("n"));
    for op in ops {
        for field in [
            "id",
            "process",
            "f",
            "input",
            "output",
            "outcome",
            "invoke_index",
            "complete_index",
            "invoke_time",
            "complete_time",
            "invoke_line",
            "complete_line",
        ] {
            assert!(op.get(field).is_some(), "op missing {field}: {op}");
        }
        assert!(
            op["invoke_line"].as_u64().is_some(),
            "line numbers from the file: {op}"
        );
    }
    assert!(!cx["states"].as_array().expect("states").is_empty());
    assert!(!cx["stuck"].as_array().expect("stuck").is_empty(), "{cx}");
    let text = render_counterexample_text(cx);
    assert!(text.contains("cannot linearize op"), "{text}");
    assert!(text.contains("longest linearizable prefix"), "{text}");
    // The serialized report carries it as the contract says.
    let v = serde_json::to_value(&r).expect("json");
    assert_eq!(v["valid"], json!(false));
    assert_eq!(v["model"], json!("cas-register"));
    assert!(v["keys"][0]["counterexample"]["ops"].is_array());
}

#[test]
fn budgets_give_unknown_with_a_reason() {
    let h = load("test_data/kv/c50-ok.txt");
    let tiny = LinearOptions {
        memory_limit_bytes: 1,
        ..opts()
    };
    let r = check(&h, ModelKind::Kv, &tiny).expect("check");
    assert_eq!(r.valid, Validity::Unknown);
    assert!(
        r.keys.iter().all(|k| k
            .unknown_reason
            .as_deref()
            .is_some_and(|m| m.contains("memory"))),
        "{:?}",
        r.keys
    );
    let now = LinearOptions {
        timeout: Some(Duration::ZERO),
        ..opts()
    };
    let r = check(
        &load("test_data/jepsen/etcd_002.log"),
        ModelKind::CasRegister,
        &now,
    )
    .expect("check");
    assert_eq!(r.valid, Validity::Unknown);
    assert!(r.keys[0]
        .unknown_reason
        .as_deref()
        .is_some_and(|m| m.contains("timeout")));
}

#[test]
fn first_invalid_key_decides_without_all_keys() {
    let o = LinearOptions {
        threads: 1,
        counterexample: false,
        ..opts()
    };
    let r = check(&load("test_data/kv/c50-bad.txt"), ModelKind::Kv, &o).expect("check");
    assert_eq!(r.valid, Validity::Invalid);
    assert_eq!(r.keys[0].valid, Validity::Invalid);
    assert_eq!(r.keys.len(), 10);
}

/// Slow in a debug build: run with `cargo test --release -p checker --test
/// linear_corpus_smoke -- --ignored`. Every key of c50-bad gets a definite verdict (keys
/// "0" and "9" are the ones Porcupine cannot decide).
#[test]
#[ignore]
fn c50_bad_every_key_is_decided() {
    let o = LinearOptions {
        all_keys: true,
        counterexample: false,
        timeout: Some(Duration::from_secs(120)),
        ..opts()
    };
    let r = check(&load("test_data/kv/c50-bad.txt"), ModelKind::Kv, &o).expect("check");
    assert!(
        r.keys.iter().all(|k| k.valid == Validity::Invalid),
        "{:?}",
        r.keys.iter().map(|k| (&k.key, k.valid)).collect::<Vec<_>>()
    );
}

/// One intractable key must not starve the others: with one worker and a short timeout,
/// the small keys of c50-bad still get their verdicts while the hard key "0" runs out of
/// time, and the overall verdict is false (false beats unknown).
#[test]
fn a_hard_key_does_not_starve_the_others() {
    let o = LinearOptions {
        all_keys: true,
        threads: 1,
        counterexample: false,
        timeout: Some(Duration::from_secs(4)),
        ..opts()
    };
    let r = check(&load("test_data/kv/c50-bad.txt"), ModelKind::Kv, &o).expect("check");
    assert_eq!(r.valid, Validity::Invalid);
    let decided = r
        .keys
        .iter()
        .filter(|k| k.valid == Validity::Invalid)
        .count();
    assert!(
        decided >= 5,
        "{:?}",
        r.keys.iter().map(|k| (&k.key, k.valid)).collect::<Vec<_>>()
    );
    let k0 = r.keys.iter().find(|k| k.key == json!("0")).expect("key 0");
    if k0.valid == Validity::Unknown {
        assert!(
            k0.unknown_reason
                .as_deref()
                .is_some_and(|m| m.contains("timeout")),
            "{k0:?}"
        );
    }
}
