//! How many operations per second the harness drives and records, and how long the phases
//! around the main phase take (README, "Performance"). A table-printing benchmark
//! (`harness = false`), run with one command:
//!
//! ```text
//! cargo bench -p harness --bench harness_throughput            # ops/s at 8, 32, 64 workers
//! cargo bench -p harness --bench harness_throughput -- phases  # phase times, 5 raft-kv nodes, 30 s
//! ```
//!
//! Throughput: `harness test` (the real binary) against the stand-in node
//! (`harness/examples/stand_in_node.rs`, a trivial in-memory node, built by this bench), one
//! node, `--net proxy`, register workload, no faults, 10 s per
//! concurrency, no report. It prints the completed operations per second of the main phase
//! (each with its invocation and completion in `history.jsonl`), the history events per
//! second, the CPU time per operation of the harness process and of the node (each sampled
//! from `/proc` over the main phase), the verdict and the load average before each run (the
//! machine may be shared). Knobs:
//! `HARNESS_BENCH_WORKERS=8,32,64`, `HARNESS_BENCH_SECONDS=10`, `HARNESS_BENCH_REPEAT=1`, and
//! for A/B comparisons `HARNESS_BENCH_BIN` (another harness binary) and `HARNESS_BENCH_NODE`
//! (another node binary taking raft-node's flags).
//!
//! Phases: `harness test --workload register --nemesis partition --time-limit 30` (5 raft-kv
//! nodes, netns when root, else proxy), `HARNESS_BENCH_REPEAT` times, printing each run's
//! `phases` from `results.json`. It needs `raft-node` next to the harness binary
//! (`cargo build --release --bins`) or in `$HARNESS_BIN_DIR`.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const HARNESS: &str = env!("CARGO_BIN_EXE_harness");

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let store = tempfile::tempdir().expect("temporary store");
    if args.iter().skip(1).any(|a| a == "phases") {
        phases(store.path());
    } else {
        throughput(store.path());
    }
}

/// `target/<profile>/examples/stand_in_node` (the harness's stand-in node), built first.
fn stand_in_node() -> String {
    let exe = std::env::current_exe().expect("own path");
    // target/<profile>/deps/<bench> → target/<profile>
    let profile_dir = exe.parent().and_then(Path::parent).expect("profile dir");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = Command::new(cargo);
    build.args(["build", "-p", "harness", "--example", "stand_in_node"]);
    if profile_dir.ends_with("release") {
        build.arg("--release");
    }
    let st = build
        .status()
        .expect("run cargo build --example stand_in_node");
    assert!(st.success(), "building the stand-in node failed");
    let bin = profile_dir.join("examples").join("stand_in_node");
    assert!(bin.is_file(), "{} missing", bin.display());
    bin.to_str().expect("utf-8 path").to_string()
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
    /// Client completions and all events in `history.jsonl` up to the end of the main phase.
    main_ops: u64,
    main_events: u64,
    /// Wall time of the main phase.
    main_s: f64,
    /// CPU seconds (user + system) of the harness process and of its nodes during the
    /// main phase (sampled from `/proc` every 20 ms).
    harness_cpu_s: f64,
    node_cpu_s: f64,
    output: String,
}

/// CPU time so far (user + system, in clock ticks) of process `pid`, and its parent.
fn proc_times(pid: u32) -> Option<(u64, u32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // After the `(comm)` field: state ppid ... utime (14th field) stime (15th).
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ppid = f.get(1)?.parse().ok()?;
    let ticks = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some((ticks, ppid))
}

/// CPU ticks of `pid` itself and of its live children.
fn tree_ticks(pid: u32) -> (u64, u64) {
    let own = proc_times(pid).map_or(0, |t| t.0);
    let mut children = 0;
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(p) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        if let Some((t, ppid)) = proc_times(p) {
            if ppid == pid {
                children += t;
            }
        }
    }
    (own, children)
}

/// Run `harness test ARGS` (its results go under `store`), sample its CPU time and its
/// nodes' while it runs, and read back its run folder.
fn harness_test(store: &Path, args: &[&str]) -> Run {
    let out_path = store.join("bench-output.txt");
    let out_file = std::fs::File::create(&out_path).expect("output file");
    let started = Instant::now();
    let harness = std::env::var("HARNESS_BENCH_BIN").unwrap_or_else(|_| HARNESS.into());
    let mut child = Command::new(harness)
        .arg("test")
        .args(args)
        .arg("--store")
        .arg(store)
        .stdout(out_file.try_clone().expect("output file"))
        .stderr(out_file)
        .spawn()
        .expect("start harness");
    // (seconds since the start, harness ticks, node ticks)
    let mut samples: Vec<(f64, u64, u64)> = Vec::new();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for harness") {
            break status;
        }
        let (own, nodes) = tree_ticks(child.id());
        samples.push((started.elapsed().as_secs_f64(), own, nodes));
        std::thread::sleep(Duration::from_millis(20));
    };
    let output = std::fs::read_to_string(&out_path).unwrap_or_default();
    let dir = output
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str::<Value>(l).ok())
        .and_then(|v| v["results"].as_str().map(PathBuf::from));
    let results: Value = dir
        .as_ref()
        .and_then(|d| std::fs::read_to_string(d.join("results.json")).ok())
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null);
    // The main phase, on this clock: after setup and start, for main_ms. History times
    // count from the end of setup.
    // (A harness from before `phases` has `phases_ms`, where `setup` was the cluster start.)
    let ms = |k: &str| {
        let legacy = match k {
            "start_ms" => Some("setup"),
            "main_ms" => Some("main"),
            _ => None,
        };
        results["phases"][k]
            .as_f64()
            .or_else(|| legacy.and_then(|l| results["phases_ms"][l].as_f64()))
            .unwrap_or(0.0)
            / 1000.0
    };
    let from = ms("setup_ms") + ms("start_ms");
    let to = from + ms("main_ms");
    let main_end_ns = ((ms("start_ms") + ms("main_ms")) * 1e9) as i64;
    let (mut main_ops, mut main_events) = (0, 0);
    let history = dir
        .as_ref()
        .and_then(|d| std::fs::read_to_string(d.join("history.jsonl")).ok())
        .unwrap_or_default();
    for line in history.lines() {
        let Ok(ev) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        if ev["time"].as_i64().is_some_and(|t| t <= main_end_ns) {
            main_events += 1;
            if ev["type"] != "invoke" && ev["process"] != "nemesis" {
                main_ops += 1;
            }
        }
    }
    drop(history);
    if let Some(d) = &dir {
        // Histories of half a million ops take 100+ MB: keep only what was read.
        let _ = std::fs::remove_dir_all(d);
    }
    let at = |t: f64| {
        samples
            .iter()
            .min_by(|a, b| (a.0 - t).abs().total_cmp(&(b.0 - t).abs()))
            .copied()
            .unwrap_or_default()
    };
    let (a, b) = (at(from), at(to));
    let main_s = ms("main_ms");
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    Run {
        code: status.code().unwrap_or(-1),
        results,
        main_ops,
        main_events,
        main_s,
        harness_cpu_s: b.1.saturating_sub(a.1) as f64 / hz,
        node_cpu_s: b.2.saturating_sub(a.2) as f64 / hz,
        output,
    }
}

fn throughput(store: &Path) {
    let workers: Vec<usize> = std::env::var("HARNESS_BENCH_WORKERS")
        .unwrap_or_else(|_| "8,32,64".into())
        .split(',')
        .filter_map(|w| w.trim().parse().ok())
        .collect();
    let seconds: u64 = env_or("HARNESS_BENCH_SECONDS", 10);
    let repeat: usize = env_or("HARNESS_BENCH_REPEAT", 1);
    let node = std::env::var("HARNESS_BENCH_NODE").unwrap_or_else(|_| stand_in_node());
    println!(
        "harness throughput: 1 stand_in_node, --net proxy, register workload, {seconds} s per run, {} cores",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "{:>7} {:>8} {:>9} {:>13} {:>13} {:>8} {:>6}  load average before (1 5 15 min)",
        "workers", "ops/s", "events/s", "harness µs/op", "node µs/op", "ops", "valid"
    );
    for &w in &workers {
        for _ in 0..repeat {
            let load = load_average();
            let (w_s, t_s) = (w.to_string(), seconds.to_string());
            let run = harness_test(
                store,
                &[
                    "--nodes",
                    "1",
                    "--net",
                    "proxy",
                    "--node-bin",
                    &node,
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
            let ops = run.main_ops as f64;
            let main_s = run.main_s;
            if run.code != 0 || ops == 0.0 || main_s == 0.0 {
                println!("{w:>7} run failed (exit {}):\n{}", run.code, run.output);
                continue;
            }
            println!(
                "{w:>7} {:>8.0} {:>9.0} {:>13.1} {:>13.1} {:>8} {:>6}  {load}",
                ops / main_s,
                run.main_events as f64 / main_s,
                run.harness_cpu_s * 1e6 / ops,
                run.node_cpu_s * 1e6 / ops,
                run.main_ops,
                run.results["valid"].to_string(),
            );
        }
    }
    println!(
        "(ops/s and events/s: operations completed and history events recorded in the main phase, \
         per second of it; µs/op: CPU time, user + system, of the harness process and of the \
         node during the main phase, per operation)"
    );
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
            .map(|n| format!("{n:>12}"))
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
                "run failed (exit {}); is raft-node built (cargo build --release --bins)?\n{}",
                run.code, run.output
            );
            continue;
        }
        let cells: String = names
            .iter()
            .map(|n| match p[format!("{n}_ms")].as_f64() {
                Some(v) => format!("{v:>12.0}"),
                None => format!("{:>12}", "-"),
            })
            .collect();
        println!("{cells}  {:>7}  {load}", run.results["ops"]);
        std::thread::sleep(Duration::from_secs(1));
    }
}
