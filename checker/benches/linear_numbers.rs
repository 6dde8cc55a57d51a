//! Prints the checker's benchmark numbers (one core unless stated): all non-empty Porcupine
//! etcd logs, etcd_002 alone, kv c50-ok, kv c50-bad (first bad key, and every key), and a
//! generated valid cas-register history of 1,000,000 ops over 1,000 keys with 20 processes
//! (on all cores). Run: `cargo bench -p checker --bench linear_numbers` (optionally with a
//! filter word as argument: etcd, kv, big).

use checker::format::read_file;
use checker::history::{History, Op, OpType, Process};
use checker::linear::{check, LinearOptions};
use checker::model::ModelKind;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Porcupine's test data: `$PORCUPINE_DATA`, else the vendored copy in `checker/tests/data/porcupine`.
fn corpus() -> PathBuf {
    if let Ok(p) = std::env::var("PORCUPINE_DATA") {
        return PathBuf::from(p);
    }
    let rel = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/porcupine/test_data");
    if rel.is_dir() {
        rel
    } else {
        PathBuf::from("/work/shared/histories/porcupine/test_data")
    }
}

fn one_core() -> LinearOptions {
    LinearOptions {
        threads: 1,
        counterexample: false,
        ..LinearOptions::default()
    }
}

/// Median wall time of `reps` runs of `f`.
fn median<F: FnMut()>(reps: usize, mut f: F) -> Duration {
    let mut times: Vec<Duration> = (0..reps)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    times.sort();
    times[reps / 2]
}

/// A linearizable cas-register history: `procs` processes, ops over `keys` keys, each op's
/// effect applied at a random instant inside its [invoke, complete] window.
pub fn generate(ops: usize, keys: usize, procs: usize, seed: u64) -> History {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut values = vec![Value::Null; keys];
    // Per process: the open op (key, f, value, planned linearization time, complete time).
    struct Open {
        key: usize,
        f: &'static str,
        arg: Value,
        lin_at: u64,
        done_at: u64,
        result: Option<(OpType, Value)>,
    }
    let mut open: Vec<Option<Open>> = (0..procs).map(|_| None).collect();
    let mut hist = Vec::with_capacity(ops * 2);
    let mut issued = 0;
    let mut now: u64 = 0;
    let push =
        |hist: &mut Vec<Op>, t: OpType, p: usize, f: &str, key: usize, v: Value, now: u64| {
            let i = hist.len() as u64;
            hist.push(
                Op::new(i, now as i64, t, Process::Client(p as u64), f, v).with_key(json!(key)),
            );
        };
    while issued < ops || open.iter().any(Option::is_some) {
        now += 1;
        let p = rng.gen_range(0..procs);
        match open[p].take() {
            None if issued < ops => {
                issued += 1;
                let key = rng.gen_range(0..keys);
                let (f, arg) = match rng.gen_range(0..3) {
                    0 => ("read", Value::Null),
                    1 => ("write", json!(rng.gen_range(0..5))),
                    _ => ("cas", json!([rng.gen_range(0..5), rng.gen_range(0..5)])),
                };
                push(&mut hist, OpType::Invoke, p, f, key, arg.clone(), now);
                let lin_at = now + rng.gen_range(1..40);
                let done_at = lin_at + rng.gen_range(0..40);
                open[p] = Some(Open {
                    key,
                    f,
                    arg,
                    lin_at,
                    done_at,
                    result: None,
                });
            }
            None => {}
            Some(mut o) => {
                // Apply every due linearization of every process first, in time order.
                open[p] = None;
                let mut due: Vec<usize> = Vec::new();
                for (q, oq) in open.iter().enumerate() {
                    if let Some(oq) = oq {
                        if oq.result.is_none() && oq.lin_at <= now {
                            due.push(q);
                        }
                    }
                }
                due.sort_by_key(|&q| open[q].as_ref().map(|o| o.lin_at));
                let apply = |o: &mut Open, values: &mut Vec<Value>| {
                    let cur = &mut values[o.key];
                    o.result = Some(match o.f {
                        "read" => (OpType::Ok, cur.clone()),
                        "write" => {
                            *cur = o.arg.clone();
                            (OpType::Ok, o.arg.clone())
                        }
                        _ => {
                            if *cur == o.arg[0] {
                                *cur = o.arg[1].clone();
                                (OpType::Ok, o.arg.clone())
                            } else {
                                (OpType::Fail, o.arg.clone())
                            }
                        }
                    });
                };
                for q in due {
                    if let Some(oq) = open[q].as_mut() {
                        apply(oq, &mut values);
                    }
                }
                if o.result.is_none() {
                    if o.lin_at <= now {
                        apply(&mut o, &mut values);
                    } else {
                        open[p] = Some(o);
                        continue;
                    }
                }
                if o.done_at <= now {
                    let (t, v) = o.result.take().unwrap_or((OpType::Info, Value::Null));
                    push(&mut hist, t, p, o.f, o.key, v, now);
                } else {
                    open[p] = Some(o);
                }
            }
        }
    }
    History::new(hist)
}

fn main() {
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let want = |name: &str| filter.as_deref().is_none_or(|f| name.contains(f));
    let root = corpus();
    if want("etcd") {
        let mut hs = Vec::new();
        for i in 0..=102 {
            let p = root.join(format!("jepsen/etcd_{i:03}.log"));
            let h = read_file(&p, None).expect("corpus file").history;
            if !h.is_empty() {
                hs.push((i, h));
            }
        }
        let opts = one_core();
        let total = median(7, || {
            for (_, h) in &hs {
                check(h, ModelKind::CasRegister, &opts).expect("check");
            }
        });
        println!(
            "etcd: all {} non-empty logs, 1 thread: {:.2} ms (median of 7)",
            hs.len(),
            total.as_secs_f64() * 1e3
        );
        let mut each: Vec<(Duration, usize)> = hs
            .iter()
            .map(|(i, h)| {
                (
                    median(3, || drop(check(h, ModelKind::CasRegister, &opts))),
                    *i,
                )
            })
            .collect();
        each.sort();
        each.reverse();
        let slowest: Vec<String> = each
            .iter()
            .take(5)
            .map(|(t, i)| format!("etcd_{i:03} {:.2} ms", t.as_secs_f64() * 1e3))
            .collect();
        println!("slowest: {}", slowest.join(", "));
        let with_cx = LinearOptions {
            threads: 1,
            ..LinearOptions::default()
        };
        let t = median(3, || {
            for (_, h) in &hs {
                check(h, ModelKind::CasRegister, &with_cx).expect("check");
            }
        });
        println!(
            "etcd: all logs with minimized counterexamples, 1 thread: {:.2} ms (median of 3)",
            t.as_secs_f64() * 1e3
        );
        let h002 = &hs.iter().find(|(i, _)| *i == 2).expect("etcd_002").1;
        let t = median(7, || {
            check(h002, ModelKind::CasRegister, &opts).expect("check");
        });
        let r = check(h002, ModelKind::CasRegister, &opts).expect("check");
        println!(
            "etcd_002, 1 thread: {:.3} ms (median of 7); valid={} steps={} configs={}",
            t.as_secs_f64() * 1e3,
            r.valid,
            r.keys[0].steps,
            r.keys[0].configs
        );
    }
    if want("kv") {
        let opts = one_core();
        let ok = read_file(&root.join("kv/c50-ok.txt"), None)
            .expect("c50-ok")
            .history;
        let t = median(7, || {
            let r = check(&ok, ModelKind::Kv, &opts).expect("check");
            assert_eq!(r.valid, checker::Validity::Valid);
        });
        println!(
            "kv c50-ok, 1 thread: {:.2} ms (median of 7)",
            t.as_secs_f64() * 1e3
        );
        let bad = read_file(&root.join("kv/c50-bad.txt"), None)
            .expect("c50-bad")
            .history;
        let t = median(7, || {
            check(&bad, ModelKind::Kv, &opts).expect("check");
        });
        println!(
            "kv c50-bad first bad key, 1 thread: {:.2} ms (median of 7)",
            t.as_secs_f64() * 1e3
        );
        let all = LinearOptions {
            all_keys: true,
            threads: 1,
            timeout: Some(Duration::from_secs(60)),
            ..LinearOptions::default()
        };
        let t = Instant::now();
        let r = check(&bad, ModelKind::Kv, &all).expect("check");
        let el = t.elapsed();
        let per_key: Vec<String> = r
            .keys
            .iter()
            .map(|k| format!("{}={}", k.key, k.valid))
            .collect();
        println!(
            "kv c50-bad every key, 1 thread: {:.2} ms: {}",
            el.as_secs_f64() * 1e3,
            per_key.join(" ")
        );
    }
    if want("diag") {
        // Per-key work on the kv files (steps, memoized configurations, verdict).
        for name in ["c50-ok", "c50-bad"] {
            let h = read_file(&root.join(format!("kv/{name}.txt")), None)
                .expect("kv file")
                .history;
            let opts = LinearOptions {
                all_keys: true,
                threads: 1,
                counterexample: false,
                timeout: Some(Duration::from_secs(20)),
                ..LinearOptions::default()
            };
            let t = Instant::now();
            let r = check(&h, ModelKind::Kv, &opts).expect("check");
            println!("{name}: {:.2} ms", t.elapsed().as_secs_f64() * 1e3);
            for k in &r.keys {
                println!(
                    "  key {} {} ops={} steps={} configs={}",
                    k.key, k.valid, k.ops, k.steps, k.configs
                );
            }
        }
    }
    if want("cx") {
        // The counterexamples of c50-bad's keys "0" and "9" (the ones Porcupine cannot decide).
        let h = read_file(&root.join("kv/c50-bad.txt"), None)
            .expect("kv file")
            .history;
        let opts = LinearOptions {
            all_keys: true,
            threads: 2,
            minimize_budget: Duration::from_secs(30),
            ..LinearOptions::default()
        };
        let r = check(&h, ModelKind::Kv, &opts).expect("check");
        for k in r
            .keys
            .iter()
            .filter(|k| k.key == json!("0") || k.key == json!("9"))
        {
            println!("key {} {}:", k.key, k.valid);
            if let Some(cx) = &k.counterexample {
                println!("{}", checker::linear::render_counterexample_text(cx));
            }
        }
    }
    if want("big") {
        let t = Instant::now();
        let h = generate(1_000_000, 1000, 20, 7);
        println!(
            "generated {} events in {:.2} s",
            h.len(),
            t.elapsed().as_secs_f64()
        );
        let opts = LinearOptions {
            threads: 2,
            ..LinearOptions::default()
        };
        let t = Instant::now();
        let r = check(&h, ModelKind::CasRegister, &opts).expect("check");
        println!(
            "1M ops / 1000 keys / 20 processes, 2 threads: {:.2} s, valid={} keys={}",
            t.elapsed().as_secs_f64(),
            r.valid,
            r.keys.len()
        );
    }
}
