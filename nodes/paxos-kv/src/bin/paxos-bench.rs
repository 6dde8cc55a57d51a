//! `paxos-bench`: committed writes per second and p50/p99 latency of 3-node clusters on
//! loopback (fsync on unless `--no-fsync`), for each number of concurrent clients. It
//! speaks raft-kv's node protocol, so it can drive `paxos-node` and `raft-node` alike:
//! `--bin` is repeatable and levels alternate between binaries so both see the same load.
//! Each (binary, level) gets a fresh cluster in a fresh temp dir; every node is killed at
//! the end, also on error. Each client PUTs 16-byte values to the leader over a keep-alive
//! connection; only acknowledged (committed and applied) writes after a 1 s warm-up count.
//!
//! `cargo build --release -p paxos-kv -p raft-kv && ./target/release/paxos-bench \
//!   --bin target/release/paxos-node --bin target/release/raft-node --clients 1,16,64`

use clap::Parser;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, Parser)]
#[command(
    name = "paxos-bench",
    about = "Write throughput/latency of paxos-node (or raft-node) clusters"
)]
struct Args {
    /// Node binary to measure (repeatable; default: paxos-node next to this binary).
    #[arg(long = "bin")]
    bins: Vec<PathBuf>,
    /// Concurrent client counts, comma separated.
    #[arg(long, value_delimiter = ',', default_value = "1,16,64")]
    clients: Vec<usize>,
    /// Measured seconds per level (after a 1 s warm-up).
    #[arg(long, default_value_t = 5)]
    duration_s: u64,
    /// Cluster size.
    #[arg(long, default_value_t = 3)]
    nodes: u64,
    /// Pass --no-fsync to the nodes.
    #[arg(long)]
    no_fsync: bool,
}

/// Why a measurement could not be made.
#[derive(Debug, thiserror::Error)]
enum BenchError {
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
    #[error("{0}")]
    Cluster(String),
}

struct Nodes {
    children: Vec<Child>,
    addrs: Vec<String>,
    _dir: tempfile::TempDir,
}

impl Drop for Nodes {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn start_cluster(bin: &Path, n: u64, no_fsync: bool) -> Result<Nodes, BenchError> {
    let dir = tempfile::tempdir().map_err(|e| BenchError::Io("temp dir".into(), e))?;
    let listeners: Vec<std::net::TcpListener> = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0"))
        .collect::<Result<_, _>>()
        .map_err(|e| BenchError::Io("free port".into(), e))?;
    let addrs: Vec<String> = listeners
        .iter()
        .map(|l| l.local_addr().map(|a| a.to_string()))
        .collect::<Result<_, _>>()
        .map_err(|e| BenchError::Io("free port".into(), e))?;
    drop(listeners);
    let mut nodes = Nodes {
        children: Vec::new(),
        addrs: addrs.clone(),
        _dir: dir,
    };
    for id in 1..=n {
        let mut cmd = Command::new(bin);
        cmd.arg("--id").arg(id.to_string());
        cmd.arg("--listen").arg(&addrs[id as usize - 1]);
        for p in (1..=n).filter(|&p| p != id) {
            cmd.arg("--peer")
                .arg(format!("{p}={}", addrs[p as usize - 1]));
        }
        cmd.arg("--data-dir")
            .arg(nodes._dir.path().join(format!("n{id}")));
        if no_fsync {
            cmd.arg("--no-fsync");
        }
        cmd.stdout(Stdio::null()).stderr(Stdio::null());
        let child = cmd
            .spawn()
            .map_err(|e| BenchError::Io(format!("start {}", bin.display()), e))?;
        nodes.children.push(child);
    }
    Ok(nodes)
}

async fn find_leader(http: &reqwest::Client, addrs: &[String]) -> Result<String, BenchError> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        for a in addrs {
            let url = format!("http://{a}/status");
            if let Ok(r) = http.get(&url).send().await {
                if let Ok(v) = r.json::<serde_json::Value>().await {
                    if v["role"] == "leader" {
                        return Ok(a.clone());
                    }
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(BenchError::Cluster("no leader within 30 s".into()))
}

/// One client: PUT in a loop until `end`, returning the latencies (µs) of acknowledged
/// writes that started after `measure_from`.
async fn client(leader: Arc<String>, c: usize, measure_from: Instant, end: Instant) -> Vec<u64> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .pool_max_idle_per_host(1)
        .build()
        .expect("client builds");
    let mut lat = Vec::new();
    let mut i = 0u64;
    while Instant::now() < end {
        i += 1;
        let url = format!("http://{leader}/key/c{c}-{}", i % 100);
        let start = Instant::now();
        let ok = http
            .put(&url)
            .header("X-Request-Id", format!("bench{c}-{i}"))
            .body(format!("{:016}", i))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        if ok && start >= measure_from {
            lat.push(start.elapsed().as_micros() as u64);
        }
    }
    lat
}

struct LevelResult {
    writes_per_s: f64,
    p50_ms: f64,
    p99_ms: f64,
    leader_unchanged: bool,
}

async fn measure(bin: &Path, clients: usize, args: &Args) -> Result<LevelResult, BenchError> {
    let nodes = start_cluster(bin, args.nodes, args.no_fsync)?;
    let http = reqwest::Client::new();
    let leader = Arc::new(find_leader(&http, &nodes.addrs).await?);
    let measure_from = Instant::now() + Duration::from_secs(1);
    let end = measure_from + Duration::from_secs(args.duration_s);
    let tasks: Vec<_> = (0..clients)
        .map(|c| tokio::spawn(client(leader.clone(), c, measure_from, end)))
        .collect();
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await.map_err(|e| BenchError::Cluster(e.to_string()))?);
    }
    let still_leader = find_leader(&http, &nodes.addrs).await? == *leader;
    drop(nodes);
    lat.sort_unstable();
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
            .map_or(0.0, |&us| us as f64 / 1000.0)
    };
    Ok(LevelResult {
        writes_per_s: lat.len() as f64 / args.duration_s as f64,
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
        leader_unchanged: still_leader,
    })
}

fn default_bin() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.join("paxos-node")))
        .unwrap_or_else(|| PathBuf::from("paxos-node"))
}

fn main() {
    let mut args = Args::parse();
    if args.bins.is_empty() {
        args.bins.push(default_bin());
    }
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    println!("| binary | clients | committed writes/s | p50 ms | p99 ms |");
    println!("|---|---:|---:|---:|---:|");
    let mut failed = false;
    for &clients in &args.clients {
        for bin in &args.bins {
            let name = bin.file_name().map_or("?".into(), |n| n.to_string_lossy());
            match rt.block_on(measure(bin, clients, &args)) {
                Ok(r) => println!(
                    "| {name} | {clients} | {:.0} | {:.2} | {:.2} |{}",
                    r.writes_per_s,
                    r.p50_ms,
                    r.p99_ms,
                    if r.leader_unchanged {
                        ""
                    } else {
                        " (leader changed during the run)"
                    }
                ),
                Err(e) => {
                    eprintln!("paxos-bench: {name} with {clients} clients: {e}");
                    failed = true;
                }
            }
        }
    }
    if failed {
        std::process::exit(1);
    }
}
