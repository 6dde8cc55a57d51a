//! Long histories: memory and time of the linearizability search follow the concurrency of a
//! history, not its length (compact memo keys: see `linear::search`).
//!
//! The small tests run in CI: correctness on histories with quiet points and info ops whose
//! effect lands long after they were invoked (against a brute-force check of the generated
//! truth), and modest lengths. The big bars are `#[ignore]`d, with their numbers printed:
//!
//!     cargo test --release -p checker --test linear_long -- --ignored --nocapture --test-threads 1

use checker::history::{History, Op, OpType, Process};
use checker::linear::{check, LinearOptions};
use checker::model::ModelKind;
use checker::Validity;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Peak resident memory of this process so far, in bytes (Linux).
fn peak_rss() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<usize>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// A purely sequential history of `n` writes (and every tenth op a read) on one key.
fn sequential(n: usize) -> History {
    let mut ops = Vec::with_capacity(2 * n);
    for i in 0..n {
        let (f, v) = if i % 10 == 9 {
            ("read", json!((i - 1) % 7))
        } else {
            ("write", json!(i % 7))
        };
        let inv = if f == "read" { Value::Null } else { v.clone() };
        let t = ops.len() as u64;
        ops.push(Op::new(
            t,
            t as i64,
            OpType::Invoke,
            Process::Client(0),
            f,
            inv,
        ));
        ops.push(Op::new(
            t + 1,
            t as i64 + 1,
            OpType::Ok,
            Process::Client(0),
            f,
            v,
        ));
    }
    History::new(ops)
}

/// How the generator ends an op.
struct Planned {
    process: u64,
    f: &'static str,
    arg: Value,
    info: bool,
    key: u64,
}

/// A linearizable cas-register history over `keys` keys: `procs` workers issue ops back to
/// back (so the history is rarely quiet), each op's effect applied at a random instant inside
/// its window; with probability `info_p` an op ends as `info` and takes effect either never,
/// or inside its window, or much later (up to `late` ticks after it is abandoned). After an
/// info op the worker goes on as a new process, as in Jepsen. With `gaps`, every worker
/// pauses now and then, leaving quiet points.
fn concurrent(
    n: usize,
    keys: u64,
    procs: usize,
    info_p: f64,
    late: u64,
    gaps: bool,
    seed: u64,
) -> History {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut values: Vec<i64> = vec![-1; keys as usize];
    let mut pid: Vec<u64> = (0..procs as u64).collect();
    let mut next_pid = procs as u64;
    let mut free_at: Vec<u64> = vec![0; procs];
    let mut planned: Vec<Planned> = Vec::new();
    let mut events: Vec<(u64, u8, usize)> = Vec::new(); // (time, kind 0=invoke 1=effect 2=complete, planned idx)
    let mut t = 0u64;
    let mut issued = 0;
    while issued < n {
        t += 1;
        for w in 0..procs {
            if free_at[w] > t || issued >= n {
                continue;
            }
            issued += 1;
            let key = rng.gen_range(0..keys);
            let (f, arg) = match rng.gen_range(0..3) {
                0 => ("read", Value::Null),
                1 => ("write", json!(rng.gen_range(0..5))),
                _ => ("cas", json!([rng.gen_range(0..5), rng.gen_range(0..5)])),
            };
            let start = t;
            let dur = rng.gen_range(1..30u64);
            let info = rng.gen_bool(info_p);
            let lin_at = if !info || rng.gen_bool(0.4) {
                Some(start + rng.gen_range(0..=dur))
            } else if rng.gen_bool(0.5) && f != "read" {
                Some(start + dur + rng.gen_range(1..=late.max(1)))
            } else {
                None
            };
            let idx = planned.len();
            planned.push(Planned {
                process: pid[w],
                f,
                arg,
                info,
                key,
            });
            events.push((start, 0, idx));
            if let Some(l) = lin_at {
                events.push((l, 1, idx));
            }
            events.push((start + dur, 2, idx));
            free_at[w] = start + dur + 1 + if gaps && rng.gen_bool(0.05) { 40 } else { 0 };
            if info {
                pid[w] = next_pid;
                next_pid += 1;
            }
        }
    }
    // Effects at equal times go before completions and after invocations.
    events.sort_by_key(|&(time, kind, idx)| (time, kind, idx));
    let mut result: Vec<Option<(OpType, Value)>> = vec![None; planned.len()];
    let mut ops = Vec::with_capacity(2 * n);
    for (time, kind, idx) in events {
        let p = &planned[idx];
        let cur = &mut values[p.key as usize];
        let shown = |v: i64| if v < 0 { Value::Null } else { json!(v) };
        match kind {
            0 => {
                let i = ops.len() as u64;
                let op = Op::new(
                    i,
                    time as i64,
                    OpType::Invoke,
                    Process::Client(p.process),
                    p.f,
                    p.arg.clone(),
                );
                ops.push(op.with_key(json!(p.key)));
            }
            1 => {
                result[idx] = Some(match p.f {
                    "read" => (OpType::Ok, shown(*cur)),
                    "write" => {
                        *cur = p.arg.as_i64().unwrap_or(0);
                        (OpType::Ok, p.arg.clone())
                    }
                    _ => {
                        if shown(*cur) == p.arg[0] {
                            *cur = p.arg[1].as_i64().unwrap_or(0);
                            (OpType::Ok, p.arg.clone())
                        } else {
                            (OpType::Fail, p.arg.clone())
                        }
                    }
                });
            }
            _ => {
                let (ty, v) = if p.info {
                    (OpType::Info, Value::Null)
                } else {
                    result[idx].clone().unwrap_or((OpType::Info, Value::Null))
                };
                let i = ops.len() as u64;
                let op = Op::new(i, time as i64, ty, Process::Client(p.process), p.f, v);
                ops.push(op.with_key(json!(p.key)));
            }
        }
    }
    History::new(ops)
}

fn opts(threads: usize) -> LinearOptions {
    LinearOptions {
        threads,
        timeout: Some(Duration::from_secs(120)),
        ..LinearOptions::default()
    }
}

/// Turn the `k`-th ok read with a value into a read of a value never written there.
fn corrupt_a_read(h: &mut History, k: usize) {
    let mut seen = 0;
    for op in h.ops.iter_mut() {
        if op.f == "read" && op.op_type == OpType::Ok && !op.value.is_null() {
            if seen == k {
                op.value = json!(99);
                return;
            }
            seen += 1;
        }
    }
}

#[test]
fn generated_histories_with_late_info_effects_are_valid_and_a_bad_read_is_caught() {
    for seed in 0..40 {
        let gaps = seed % 2 == 0;
        let h = concurrent(300, 1, 4, 0.1, 200, gaps, seed);
        let r = check(&h, ModelKind::CasRegister, &opts(1)).expect("check");
        assert_eq!(
            r.valid,
            Validity::Valid,
            "seed {seed}: generated histories are linearizable"
        );
        let mut bad = h.clone();
        corrupt_a_read(&mut bad, 10);
        let r = check(&bad, ModelKind::CasRegister, &opts(1)).expect("check");
        assert_eq!(
            r.valid,
            Validity::Invalid,
            "seed {seed}: a read of 99 is impossible"
        );
    }
}

#[test]
fn a_sequential_history_of_20000_ops_is_quick_and_small() {
    let h = sequential(20_000);
    let t = Instant::now();
    let r = check(&h, ModelKind::CasRegister, &opts(1)).expect("check");
    assert_eq!(r.valid, Validity::Valid);
    assert!(t.elapsed() < Duration::from_secs(20), "{:?}", t.elapsed());
}

#[test]
#[ignore = "a measurement: run with --ignored --nocapture"]
fn bar_sequential_250k_writes_on_one_key() {
    let h = sequential(250_000);
    let t = Instant::now();
    let r = check(&h, ModelKind::CasRegister, &opts(1)).expect("check");
    println!(
        "sequential 250,000 ops, one key: {:?} in {:.2} s, peak RSS {} MB (history included)",
        r.valid,
        t.elapsed().as_secs_f64(),
        peak_rss() >> 20
    );
    assert_eq!(r.valid, Validity::Valid);
    assert!(t.elapsed() < Duration::from_secs(10));
}

#[test]
#[ignore = "a measurement: run with --ignored --nocapture"]
fn bar_1m_ops_one_key_10_processes_with_info_ops() {
    let t = Instant::now();
    let h = concurrent(1_000_000, 1, 10, 0.01, 200, true, 7);
    let made = t.elapsed();
    let base = peak_rss();
    let t = Instant::now();
    let r = check(&h, ModelKind::CasRegister, &opts(1)).expect("check");
    let took = t.elapsed();
    println!(
        "1,000,000 ops, one key, 10 processes, 1% info: {:?} in {:.2} s (generated in {:.1} s), peak RSS {} MB of which the history {} MB; steps {} configs {}",
        r.valid,
        took.as_secs_f64(),
        made.as_secs_f64(),
        peak_rss() >> 20,
        base >> 20,
        r.keys[0].steps,
        r.keys[0].configs
    );
    println!("  unknown reason: {:?}", r.keys[0].unknown_reason);
    assert_eq!(r.valid, Validity::Valid);
    assert!(took < Duration::from_secs(10));
    // The check's own memory (the history as `Op`s is the caller's and is counted apart).
    assert!(peak_rss() - base < 1 << 30);
}

#[test]
#[ignore = "a measurement: run with --ignored --nocapture"]
fn bar_1m_ops_1000_keys_10_processes_with_info_ops() {
    let h = concurrent(1_000_000, 1000, 10, 0.01, 200, true, 8);
    let base = peak_rss();
    let t = Instant::now();
    let r = check(&h, ModelKind::CasRegister, &opts(2)).expect("check");
    let took = t.elapsed();
    println!(
        "1,000,000 ops, 1,000 keys, 10 processes, 1% info, 2 threads: {:?} in {:.2} s, peak RSS {} MB of which the history {} MB",
        r.valid,
        took.as_secs_f64(),
        peak_rss() >> 20,
        base >> 20
    );
    assert_eq!(r.valid, Validity::Valid);
}

#[test]
#[ignore = "a measurement: run with --ignored --nocapture"]
fn bar_1m_one_op_keys() {
    let keys: u64 = std::env::var("ONE_OP_KEYS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let mut ops = Vec::with_capacity(2 * keys as usize);
    for k in 0..keys {
        let i = ops.len() as u64;
        let inv = Op::new(
            i,
            i as i64,
            OpType::Invoke,
            Process::Client(k % 10),
            "write",
            json!(1),
        );
        ops.push(inv.with_key(json!(k)));
        let ok = Op::new(
            i + 1,
            i as i64 + 1,
            OpType::Ok,
            Process::Client(k % 10),
            "write",
            json!(1),
        );
        ops.push(ok.with_key(json!(k)));
    }
    let h = History::new(ops);
    let base = peak_rss();
    let t = Instant::now();
    let r = check(&h, ModelKind::CasRegister, &opts(2)).expect("check");
    println!(
        "{keys} one-op keys, 2 threads: {:?} in {:.2} s, peak RSS {} MB of which the history {} MB",
        r.valid,
        t.elapsed().as_secs_f64(),
        peak_rss() >> 20,
        base >> 20
    );
    assert_eq!(r.valid, Validity::Valid);
}
