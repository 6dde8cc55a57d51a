//! Fuzzing of everything that meets a user's file: random bytes and mutations of valid
//! histories of every format (JSONL, Jepsen EDN as a vector and one map per line, a txn and
//! a queue history, Porcupine's etcd and kv logs, the first lines of real corpus files) go
//! through detection, reading (detected and each forced format), the JSONL round trip,
//! every cheap checker and the linearizability check with small budgets. Asserted: nothing
//! panics; every read error and check error names a line; every op read has its line; what
//! a reader accepts survives the JSONL round trip unchanged.
//!
//! A seeded loop (ChaCha8), so a failure names its seed and case and reproduces. The CI
//! variant runs `FUZZ_CASES` inputs (default 30,000 in release, about 5 s; 3,000 in a debug
//! build); the longer one (200,000 by default) is ignored:
//!
//!     cargo test --release -p checker --test fuzz_inputs -- --ignored --nocapture
//!     FUZZ_CASES=1000000 FUZZ_SEED=7 cargo test --release -p checker --test fuzz_inputs -- --ignored

use checker::checkers::{self, BankOptions, CounterOptions, SetFullOptions};
use checker::format::{self, Format, FormatErrorKind};
use checker::linear::{self, LinearOptions};
use checker::model::{self, FailedOps, ModelKind};
use checker::History;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::time::{Duration, Instant};

const JSONL: &str = r#"{"index":0,"time":1043211,"type":"invoke","process":0,"f":"write","key":"k3","value":4,"node":"n2"}
{"index":1,"time":2710050,"type":"ok","process":0,"f":"write","key":"k3","value":4,"node":"n2"}
{"index":2,"time":3001000,"type":"invoke","process":1,"f":"cas","key":"k3","value":[4,1]}
{"index":3,"time":3001500,"type":"invoke","process":2,"f":"read","key":"k3","value":null}
{"index":4,"time":9000001,"type":"fail","process":1,"f":"cas","key":"k3","value":[4,1],"error":"cas-mismatch"}
{"index":5,"time":9100000,"type":"info","process":"nemesis","f":"start-partition","value":{"n1":["n2","n3"]}}
{"index":6,"time":9200000,"type":"ok","process":2,"f":"read","key":"k3","value":4}
{"index":7,"time":9300000,"type":"invoke","process":0,"f":"cas","key":"k3","value":[4,2]}
{"index":8,"time":9400000,"type":"info","process":0,"f":"cas","key":"k3","value":[4,2],"error":"timeout"}
"#;

const EDN_VECTOR: &str = r#"; jepsen history, independent register
[{:type :invoke, :f :write, :value [0 3], :process 0, :time 12000, :index 0}
 {:type :ok, :f :write, :value [0 3], :process 0, :time 15000, :index 1}
 {:type :info, :f :start, :value nil, :process :nemesis, :time 16000, :index 2}
 {:type :info, :f :start, :value [:isolated {"n1" #{"n2" "n3"}}], :process :nemesis, :time 17000, :index 3}
 {:type :invoke, :f :read, :value [0 nil], :process 1, :time 18000, :index 4}
 {:type :ok, :f :read, :value [0 3], :process 1, :time 19000, :index 5, :trace-id "abc"}
 {:type :invoke, :f :cas, :value [1 [nil 2]], :process 2, :time 20000, :index 6}
 {:type :fail, :f :cas, :value [1 [nil 2]], :process 2, :time 21000, :index 7, :error [:cas-mismatch 7]}
 #_{:type :ok :f :read}
 {:type :invoke, :f :read, :value [1 nil], :process 3, :time 22000, :index 8}
 {:type :ok, :f :read, :value [1 2], :process 3, :time 23000, :index 9}]
"#;

const EDN_TXN: &str = r#"{:type :invoke, :f :txn, :value [[:read :x nil] [:write :y 2]], :process 0, :time 1}
{:type :invoke, :f :txn, :value [[:write :x 1]], :process 1, :time 2}
{:type :ok, :f :txn, :value [[:write :x 1]], :process 1, :time 3}
{:type :ok, :f :txn, :value [[:read :x 1] [:write :y 2]], :process 0, :time 4}
{:type :invoke, :f :txn, :value [[:read :y nil]], :process 1, :time 5}
{:type :info, :f :txn, :value [[:read :y nil]], :process 1, :time 6, :error :timeout}
"#;

const EDN_QUEUE: &str = r#"{:type :invoke, :f :enqueue, :value 1, :process 0, :index 0}
{:type :ok, :f :enqueue, :value 1, :process 0, :index 1}
{:type :invoke, :f :enqueue, :value 2, :process 1, :index 2}
{:type :invoke, :f :dequeue, :value nil, :process 0, :index 3}
{:type :ok, :f :dequeue, :value 2, :process 0, :index 4}
{:type :info, :f :enqueue, :value 2, :process 1, :index 5}
{:type :invoke, :f :dequeue, :value nil, :process 0, :index 6}
{:type :fail, :f :dequeue, :value nil, :process 0, :index 7, :error :exhausted}
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

/// Pieces that readers find hard, spliced into inputs.
const TOKENS: [&str; 30] = [
    "#_",
    "#_ #_1 #_1 ",
    "[",
    "]",
    "{",
    "}",
    "(",
    ")",
    "\"",
    "\\",
    "\n",
    "\r\n",
    ";",
    ",",
    ":ok",
    ":fail",
    ":info",
    ":invoke",
    "nil",
    "#inst ",
    "#{",
    "-1",
    "99999999999999999999999",
    "1.5e308",
    "\"index\":",
    "\"time\":-",
    "null",
    ":cas-mismatch",
    "\u{feff}",
    "\u{1F600}",
];

/// The valid histories mutations start from: the samples above and the first lines of a
/// few real corpus files.
fn seeds() -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = [JSONL, EDN_VECTOR, EDN_TXN, EDN_QUEUE, ETCD, KV]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect();
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/porcupine/test_data");
    for file in [
        "jepsen/etcd_000.log",
        "jepsen/etcd_013.log",
        "kv/c01-bad.txt",
    ] {
        let text =
            std::fs::read_to_string(data.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        let head: String = text.lines().take(60).map(|l| format!("{l}\n")).collect();
        out.push(head.into_bytes());
    }
    out
}

/// One random mutation of `input` (several may be stacked).
fn mutate(input: &mut Vec<u8>, seeds: &[Vec<u8>], rng: &mut ChaCha8Rng) {
    let at = |rng: &mut ChaCha8Rng, len: usize| rng.gen_range(0..=len);
    match rng.gen_range(0..9) {
        0 if !input.is_empty() => {
            let i = rng.gen_range(0..input.len());
            input[i] = rng.gen();
        }
        1 => {
            let i = at(rng, input.len());
            input.insert(i, rng.gen());
        }
        2 if !input.is_empty() => {
            let i = rng.gen_range(0..input.len());
            let j = (i + rng.gen_range(1..40)).min(input.len());
            input.drain(i..j);
        }
        3 => {
            let i = at(rng, input.len());
            let t = TOKENS[rng.gen_range(0..TOKENS.len())].as_bytes();
            input.splice(i..i, t.iter().copied());
        }
        4 if !input.is_empty() => {
            let i = rng.gen_range(0..input.len());
            let j = (i + rng.gen_range(1..80)).min(input.len());
            let piece = input[i..j].to_vec();
            let k = at(rng, input.len());
            input.splice(k..k, piece);
        }
        5 => input.truncate(at(rng, input.len())),
        6 => {
            // swap two lines
            let text = String::from_utf8_lossy(input).into_owned();
            let mut lines: Vec<&str> = text.split('\n').collect();
            if lines.len() > 1 {
                let (a, b) = (rng.gen_range(0..lines.len()), rng.gen_range(0..lines.len()));
                lines.swap(a, b);
            }
            *input = lines.join("\n").into_bytes();
        }
        7 => {
            // splice a piece of another seed
            let other = &seeds[rng.gen_range(0..seeds.len())];
            let i = rng.gen_range(0..other.len());
            let j = (i + rng.gen_range(1..120)).min(other.len());
            let k = at(rng, input.len());
            input.splice(k..k, other[i..j].iter().copied());
        }
        _ => {
            // a digit changed: process ids, indices, values
            if let Some(i) = (0..8)
                .map(|_| rng.gen_range(0..input.len().max(1)))
                .find(|&i| input.get(i).is_some_and(u8::is_ascii_digit))
            {
                input[i] = b'0' + rng.gen_range(0..10);
            }
        }
    }
}

/// A random input: pure random bytes, random text from the formats' alphabet, or a
/// mutated seed.
fn random_input(seeds: &[Vec<u8>], rng: &mut ChaCha8Rng) -> Vec<u8> {
    match rng.gen_range(0..10) {
        0 => (0..rng.gen_range(0..200)).map(|_| rng.gen()).collect(),
        1 => {
            let alphabet = b"{}[]():#_\" \n,;\\-0123456789.abcdefnilu:okfailinvoke";
            (0..rng.gen_range(0..300))
                .map(|_| alphabet[rng.gen_range(0..alphabet.len())])
                .collect()
        }
        _ => {
            let mut input = seeds[rng.gen_range(0..seeds.len())].clone();
            for _ in 0..rng.gen_range(1..=4) {
                mutate(&mut input, seeds, rng);
            }
            input
        }
    }
}

/// A failure of one input: what went wrong and the input, escaped.
fn failure(case: usize, input: &[u8], what: String) -> String {
    format!(
        "case {case}: {what}\ninput ({} bytes): {:?}",
        input.len(),
        String::from_utf8_lossy(input)
    )
}

/// Every stage for one input; `Err` describes a broken property.
fn run_one(input: &[u8], model_pick: usize) -> Result<(), String> {
    if let Ok(text) = std::str::from_utf8(input) {
        let _ = format::detect(text);
    }
    let mut histories = Vec::new();
    for forced in [
        None,
        Some(Format::Jsonl),
        Some(Format::Edn),
        Some(Format::PorcupineEtcd),
        Some(Format::PorcupineKv),
    ] {
        match format::read_bytes(input, forced) {
            Ok(r) => {
                if let Some(op) = r.history.ops.iter().find(|o| o.line.is_none()) {
                    return Err(format!("{forced:?}: op without a line: {op:?}"));
                }
                round_trip(&r.history)?;
                histories.push((r.history, r.format));
            }
            Err(e) if e.kind == FormatErrorKind::Io => return Err(format!("io error {e}")),
            Err(e) if e.line.is_none() => {
                return Err(format!("{forced:?}: error without a line: {e}"))
            }
            Err(_) => {}
        }
    }
    for (h, fmt) in &histories {
        check_all(h, *fmt, model_pick)?;
    }
    Ok(())
}

/// Write as JSONL, read back: the same ops (lines aside).
fn round_trip(h: &History) -> Result<(), String> {
    let mut text = Vec::new();
    format::write_jsonl(h, &mut text).map_err(|e| format!("write_jsonl: {e}"))?;
    let back = format::read_bytes(&text, Some(Format::Jsonl))
        .map_err(|e| format!("round trip does not read back: {e}"))?;
    let strip = |h: &History| {
        let mut h = h.clone();
        h.ops.iter_mut().for_each(|o| o.line = None);
        h
    };
    let (a, b) = (strip(h), strip(&back.history));
    if a != b {
        let diff = a.ops.iter().zip(&b.ops).find(|(x, y)| x != y);
        return Err(format!(
            "round trip changed the history ({} ops, {} back); first difference: {diff:?}",
            a.len(),
            b.len()
        ));
    }
    Ok(())
}

/// The cheap checkers and the linearizability check with small budgets, under the
/// inferred model (or one picked by the fuzzer) and both readings of failed ops.
fn check_all(h: &History, fmt: Format, model_pick: usize) -> Result<(), String> {
    let _ = checkers::stats(h);
    let _ = checkers::exceptions(h);
    let _ = checkers::set_full(h, &SetFullOptions::default());
    let _ = checkers::counter(h, &CounterOptions::default());
    let _ = checkers::unique_ids(h);
    let _ = checkers::bank(h, &BankOptions::default());
    let model =
        model::infer_model(h, fmt).unwrap_or(ModelKind::ALL[model_pick % ModelKind::ALL.len()]);
    let _ = model::reading_matters(h, model);
    for failed_ops in FailedOps::ALL {
        let opts = LinearOptions {
            timeout: Some(Duration::from_millis(20)),
            memory_limit_bytes: 16 << 20,
            threads: 1,
            minimize_budget: Duration::from_millis(20),
            failed_ops,
            ..LinearOptions::default()
        };
        match linear::check(h, model, &opts) {
            Ok(_) => {}
            Err(e) if e.line.is_none() => return Err(format!("check error without a line: {e}")),
            Err(_) => {}
        }
    }
    Ok(())
}

fn fuzz(seed: u64, cases: usize) {
    let seeds = seeds();
    for s in &seeds {
        run_one(s, 0).unwrap_or_else(|e| panic!("a seed itself fails: {e}"));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let start = Instant::now();
    for case in 0..cases {
        let input = random_input(&seeds, &mut rng);
        let pick = rng.gen_range(0..ModelKind::ALL.len());
        match catch_unwind(AssertUnwindSafe(|| run_one(&input, pick))) {
            Ok(Ok(())) => {}
            Ok(Err(what)) => panic!("seed {seed}, {}", failure(case, &input, what)),
            Err(_) => panic!("seed {seed}, {}", failure(case, &input, "panicked".into())),
        }
    }
    println!(
        "{cases} inputs (seed {seed}) in {:.1} s",
        start.elapsed().as_secs_f64()
    );
}

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn fuzz_readers_and_checks_bounded() {
    // 30,000 inputs take about 5 s in release (CI); a debug build runs a tenth of them.
    let default = if cfg!(debug_assertions) {
        3_000
    } else {
        30_000
    };
    fuzz(
        env_or("FUZZ_SEED", 12),
        env_or("FUZZ_CASES", default) as usize,
    );
}

#[test]
#[ignore = "long fuzz run: see the module doc"]
fn fuzz_readers_and_checks_long() {
    fuzz(
        env_or("FUZZ_SEED", 7),
        env_or("FUZZ_CASES", 200_000) as usize,
    );
}

/// The inputs that crashed the EDN reader (12,700 chained `#_`, also after a tag and inside
/// a Porcupine log's value) read cleanly or fail with a line, on a 1 MiB stack.
#[test]
fn chained_discards_never_overflow_the_stack() {
    let chain = "#_1 ".repeat(12_700);
    let inputs = [
        format!("[#_ {chain}1]"),
        format!("[{{:type :invoke, :f :read, :process 0, :value #inst {chain}\"x\"}}]"),
        format!("INFO  jepsen.util - 0 :invoke :write [#_ {chain}1]\n"),
        format!("{{:process 0, :type :invoke, :f :get, :key \"0\", :value {chain}nil}}\n"),
        format!("[{}1]", "#_ ".repeat(12_700)),
    ];
    let outcomes = std::thread::Builder::new()
        .stack_size(1 << 20)
        .spawn(move || {
            inputs
                .iter()
                .map(|i| {
                    format::read_str(i, None)
                        .map(|r| (r.format, r.history.len()))
                        .map_err(|e| (e.line, e.message))
                })
                .collect::<Vec<_>>()
        })
        .unwrap()
        .join()
        .expect("no stack overflow, no panic");
    assert_eq!(outcomes[0], Ok((Format::Edn, 0)), "{:?}", outcomes[0]);
    assert_eq!(outcomes[1], Ok((Format::Edn, 1)));
    assert_eq!(outcomes[2], Ok((Format::PorcupineEtcd, 1)));
    assert_eq!(outcomes[3], Ok((Format::PorcupineKv, 1)));
    let Err((line, message)) = &outcomes[4] else {
        panic!("{:?}", outcomes[4])
    };
    assert!(line.is_some() && message.contains("nesting"), "{message}");
}

/// Deep JSON in a JSONL line is serde_json's recursion limit: an error naming the line.
#[test]
fn deep_json_is_an_error_naming_the_line() {
    let good = r#"{"index":0,"time":0,"type":"invoke","process":0,"f":"read","value":null}"#;
    let deep = format!(
        "{good}\n{{\"index\":1,\"time\":1,\"type\":\"ok\",\"process\":0,\"f\":\"read\",\"value\":{}1{}}}\n",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let e = format::read_str(&deep, None).unwrap_err();
    assert_eq!((e.kind, e.line), (FormatErrorKind::Syntax, Some(2)), "{e}");
}
