//! How many operations per second the harness drives and records, and how long the phases
//! around the main phase take (issue 4, performance). A table-printing benchmark
//! (`harness = false`), run with one command:
//!
//! ```text
//! cargo bench -p harness --bench harness_throughput            # ops/s at 8, 32, 64 workers
//! cargo bench -p harness --bench harness_throughput -- phases  # phase times, 5 raft-kv nodes, 30 s
//! ```
//!
//! Throughput: `harness test` (the real binary) against a trivial in-memory node
//! (`workloads/examples/mem_node.rs`, compiled into this bench: the harness starts this very
//! executable as its node), one node, `--net proxy`, register workload, no faults, 10 s per
//! concurrency, no report. It prints the completed operations per second of the main phase
//! (each with its invocation and completion in `history.jsonl`), the history events per
//! second, the CPU time per operation of the harness and the node together, the verdict and
//! the load average before each run (the machine may be shared). Knobs:
//! `HARNESS_BENCH_WORKERS=8,32,64`, `HARNESS_BENCH_SECONDS=10`, `HARNESS_BENCH_REPEAT=1`.
//!
//! Phases: `harness test --workload register --nemesis partition --time-limit 30` (5 raft-kv
//! nodes, netns when root, else proxy), `HARNESS_BENCH_REPEAT` times, printing each run's
//! `phases` from `results.json`. It needs `raft-node` next to the harness binary
//! (`cargo build --release --bins`) or in `$HARNESS_BIN_DIR`.

#[allow(dead_code)]
#[path = "../../workloads/examples/mem_node.rs"]
mod mem_node;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const HARNESS: &str = env!("CARGO_BIN_EXE_harness");

fn main() {
    let args: Vec<String> = std::env::args().collect();
    // Started by the harness as a node (`--id N --listen ADDR ...`): be the mem node.
    if args.iter().any(|a| a == "--listen") {
        mem_node::main();
        return;
    }
    let store = tempfile::tempdir().expect("temporary store");
    if args.iter().skip(1).any(|a| a == "phases") {
        phases(store.path());
    } else {
        throughput(store.path());
    }
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The 1, 5 and 15 minute load averages.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// What one `harness test` did.
struct Run {
    code: i32,
    results: Value,
    history_lines: usize,
    /// User + system CPU seconds of the harness and the children it reaped (its nodes).
    cpu_s: f64,
    stdout: String,
    stderr: String,
}

/// Run `harness ARGS` (its results go under `store`) and read back its run folder.
fn harness_test(store: &Path, args: &[&str]) -> Run {
    let child = Command::new(HARNESS)
        .arg("test")
        .args(args)
        .arg("--store")
        .arg(store)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start harness");
    let out = child.wait_with_output().expect("harness output");
    // wait_with_output reaped the harness: its CPU time and that of the children it reaped
    // (its nodes) are now in RUSAGE_CHILDREN of this process.
    let cpu_s = children_cpu_s();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let dir = stdout
        .lines()
        .last()
        .and_then(|l| serde_json::from_str::<Value>(l).ok())
        .and_then(|v| v["results"].as_str().map(PathBuf::from));
    let (results, history_lines) = match &dir {
        Some(d) => (
            std::fs::read_to_string(d.join("results.json"))
                .ok()
                .and_then(|t| serde_json::from_str(&t).ok())
                .unwrap_or(Value::Null),
            std::fs::read(d.join("history.jsonl"))
                .map(|b| b.iter().filter(|c| **c == b'\n').count())
                .unwrap_or(0),
        ),
        None => (Value::Null, 0),
    };
    Run {
        code: out.status.code().unwrap_or(-1),
        results,
        history_lines,
        cpu_s,
        stdout,
        stderr,
    }
}

/// CPU seconds (user + system) of all reaped children so far; callers take differences.
fn children_cpu_s() -> f64 {
    // SAFETY: getrusage only writes the struct we pass.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: a valid pointer to a rusage.
    if unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut u) } != 0 {
        return 0.0;
    }
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(u.ru_utime) + tv(u.ru_stime)
}

fn throughput(store: &Path) {
    let workers: Vec<usize> = std::env::var("HARNESS_BENCH_WORKERS")
        .unwrap_or_else(|_| "8,32,64".into())
        .split(',')
        .filter_map(|w| w.trim().parse().ok())
        .collect();
    let seconds: u64 = env_or("HARNESS_BENCH_SECONDS", 10);
    let repeat: usize = env_or("HARNESS_BENCH_REPEAT", 1);
    let me = std::env::current_exe().expect("own path");
    let me = me.to_str().expect("utf-8 path");
    println!(
        "harness throughput: 1 mem_node, --net proxy, register workload, {seconds} s per run, {} cores",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "{:>7} {:>10} {:>11} {:>12} {:>9} {:>8}  load average (1 5 15 min) before",
        "workers", "ops/s", "events/s", "cpu µs/op", "ops", "valid"
    );
    for &w in &workers {
        for _ in 0..repeat {
            let load = load_average();
            let cpu_before = children_cpu_s();
            let (w_s, t_s) = (w.to_string(), seconds.to_string());
            let mut run = harness_test(
                store,
                &[
                    "--nodes",
                    "1",
                    "--net",
                    "proxy",
                    "--node-bin",
                    me,
                    "--concurrency",
                    &w_s,
                    "--time-limit",
                    &t_s,
                    "--recovery-time",
                    "0",
                    "--no-report",
                    "--seed",
                    "1",
                ],
            );
            run.cpu_s -= cpu_before;
            let ops = run.results["ops"].as_f64().unwrap_or(0.0);
            let main_s = run.results["phases"]["main_ms"].as_f64().unwrap_or(0.0) / 1000.0;
            if run.code != 0 || ops == 0.0 || main_s == 0.0 {
                println!(
                    "{w:>7} run failed (exit {}):\n{}\n{}",
                    run.code, run.stdout, run.stderr
                );
                continue;
            }
            println!(
                "{w:>7} {:>10.0} {:>11.0} {:>12.1} {:>9} {:>8}  {load}",
                ops / main_s,
                run.history_lines as f64 / main_s,
                run.cpu_s * 1e6 / ops,
                ops,
                run.results["valid"].to_string(),
            );
        }
    }
    println!("(ops/s: completed operations of the main phase / its wall time; events/s: history lines / the same time; cpu: harness + node, whole run including start and check)");
}

fn phases(store: &Path) {
    let repeat: usize = env_or("HARNESS_BENCH_REPEAT", 1);
    let names: Vec<&str> = harness::run::phases::PHASES
        .iter()
        .copied()
        .chain(["total"])
        .collect();
    println!("phase wall times (ms): harness test --workload register --nemesis partition --time-limit 30 (5 raft-kv nodes)");
    println!(
        "{}  {:>7}  load average before",
        names
            .iter()
            .map(|n| format!("{n:>11}"))
            .collect::<Vec<_>>()
            .join(""),
        "ops"
    );
    for _ in 0..repeat {
        let load = load_average();
        let run = harness_test(
            store,
            &[
                "--workload",
                "register",
                "--nemesis",
                "partition",
                "--time-limit",
                "30",
            ],
        );
        let p = &run.results["phases"];
        if !p.is_object() {
            println!(
                "run failed (exit {}); is raft-node built (cargo build --release --bins)?\n{}\n{}",
                run.code, run.stdout, run.stderr
            );
            continue;
        }
        let cells: String = names
            .iter()
            .map(|n| match p[format!("{n}_ms")].as_f64() {
                Some(v) => format!("{v:>11.0}"),
                None => format!("{:>11}", "-"),
            })
            .collect();
        println!("{cells}  {:>7}  {load}", run.results["ops"]);
        std::thread::sleep(Duration::from_secs(1));
    }
}
