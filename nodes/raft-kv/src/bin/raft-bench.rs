//! `raft-bench`: committed writes per second and latency percentiles of a real raft-kv
//! cluster (N `raft-node` processes on loopback, fsync on unless `--no-fsync`), for each
//! requested number of concurrent clients. Every client sends `PUT /key/..` to the leader
//! over a keep-alive connection and times each acknowledged (committed) write. A fresh
//! cluster in a fresh temp dir is started per concurrency level; all nodes are killed at
//! the end (also on error). Prints one line per level and a JSON summary.

use clap::Parser;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, Parser)]
#[command(
    name = "raft-bench",
    about = "Throughput/latency benchmark of a raft-kv cluster"
)]
struct Args {
    /// Concurrent client counts to measure, comma separated.
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
    /// The raft-node binary (default: next to this binary).
    #[arg(long)]
    node_bin: Option<PathBuf>,
    /// Value size in bytes.
    #[arg(long, default_value_t = 16)]
    value_bytes: usize,
}

struct Nodes {
    children: Vec<Child>,
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

fn free_ports(n: usize) -> anyhow::Result<Vec<u16>> {
    let ls = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0"))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ls
        .iter()
        .filter_map(|l| l.local_addr().ok())
        .map(|a| a.port())
        .collect())
}

fn start_cluster(args: &Args, bin: &PathBuf) -> anyhow::Result<(Nodes, Vec<u16>)> {
    let dir = tempfile::tempdir()?;
    let ports = free_ports(args.nodes as usize)?;
    let mut nodes = Nodes {
        children: Vec::new(),
        _dir: dir,
    };
    for id in 1..=args.nodes {
        let mut cmd = Command::new(bin);
        cmd.arg("--id")
            .arg(id.to_string())
            .arg("--listen")
            .arg(format!("127.0.0.1:{}", ports[(id - 1) as usize]))
            .arg("--data-dir")
            .arg(nodes._dir.path().join(format!("node{id}")));
        for (j, p) in ports.iter().enumerate() {
            if j as u64 + 1 != id {
                cmd.arg("--peer").arg(format!("{}=127.0.0.1:{p}", j + 1));
            }
        }
        if args.no_fsync {
            cmd.arg("--no-fsync");
        }
        {
            use std::os::unix::process::CommandExt;
            // SAFETY: the closure only calls prctl, which is async-signal-safe. The nodes die
            // with the spawning thread even if this process is killed before Drop runs.
            unsafe {
                cmd.pre_exec(|| {
                    if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        let log = std::fs::File::create(nodes._dir.path().join(format!("node{id}.log")))?;
        cmd.stdout(Stdio::null()).stderr(Stdio::from(log));
        nodes.children.push(cmd.spawn()?);
    }
    Ok((nodes, ports))
}

async fn find_leader(client: &reqwest::Client, ports: &[u16]) -> anyhow::Result<u16> {
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        for p in ports {
            let url = format!("http://127.0.0.1:{p}/status");
            if let Ok(r) = client.get(&url).send().await {
                if let Ok(v) = r.json::<serde_json::Value>().await {
                    if v["role"] == "leader" && v["commit_index"].as_u64() >= Some(1) {
                        return Ok(*p);
                    }
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("no leader elected within 15 s")
}

struct Level {
    clients: usize,
    ops: u64,
    errors: u64,
    secs: f64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
}

async fn run_level(args: &Args, bin: &PathBuf, clients: usize) -> anyhow::Result<Level> {
    let (_nodes, ports) = start_cluster(args, bin)?;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .pool_max_idle_per_host(clients + 4)
        .tcp_nodelay(true)
        .build()?;
    let leader = find_leader(&http, &ports).await?;
    let value = "x".repeat(args.value_bytes);
    let warm = Instant::now() + Duration::from_secs(1);
    let end = warm + Duration::from_secs(args.duration_s);
    let mut tasks = Vec::new();
    for c in 0..clients {
        let http = http.clone();
        let value = value.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0u64;
            let mut n = 0u64;
            loop {
                let t0 = Instant::now();
                if t0 >= end {
                    break;
                }
                n += 1;
                let url = format!("http://127.0.0.1:{leader}/key/c{c}-{}", n % 100);
                let ok = match http.put(&url).body(value.clone()).send().await {
                    Ok(r) => r.status().is_success(),
                    Err(_) => false,
                };
                let t1 = Instant::now();
                if t0 >= warm && t1 <= end {
                    if ok {
                        lat.push(t1 - t0);
                    } else {
                        errors += 1;
                    }
                }
            }
            (lat, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await?;
        all.extend(l);
        errors += e;
    }
    all.sort_unstable();
    let q = |p: f64| -> f64 {
        if all.is_empty() {
            return 0.0;
        }
        let i = ((all.len() as f64 - 1.0) * p).round() as usize;
        all[i].as_secs_f64() * 1e3
    };
    Ok(Level {
        clients,
        ops: all.len() as u64,
        errors,
        secs: args.duration_s as f64,
        p50_ms: q(0.50),
        p99_ms: q(0.99),
        max_ms: q(1.0),
    })
}

async fn run(args: Args) -> anyhow::Result<()> {
    let bin = match &args.node_bin {
        Some(b) => b.clone(),
        None => std::env::current_exe()?
            .parent()
            .map(|d| d.join("raft-node"))
            .ok_or_else(|| anyhow::anyhow!("cannot locate raft-node next to raft-bench"))?,
    };
    anyhow::ensure!(
        bin.exists(),
        "raft-node binary not found at {}",
        bin.display()
    );
    println!(
        "raft-bench: {} nodes, fsync {}, {} s per level, {}-byte values",
        args.nodes,
        if args.no_fsync { "OFF" } else { "ON" },
        args.duration_s,
        args.value_bytes
    );
    println!("clients  writes/s  p50_ms  p99_ms  max_ms  errors");
    let mut rows = Vec::new();
    for &c in &args.clients {
        let l = run_level(&args, &bin, c.max(1)).await?;
        println!(
            "{:>7}  {:>8.0}  {:>6.2}  {:>6.2}  {:>6.2}  {:>6}",
            l.clients,
            l.ops as f64 / l.secs,
            l.p50_ms,
            l.p99_ms,
            l.max_ms,
            l.errors
        );
        rows.push(serde_json::json!({
            "clients": l.clients, "writes_per_s": (l.ops as f64 / l.secs).round(),
            "p50_ms": l.p50_ms, "p99_ms": l.p99_ms, "max_ms": l.max_ms, "errors": l.errors,
        }));
    }
    println!(
        "{}",
        serde_json::json!({"nodes": args.nodes, "fsync": !args.no_fsync, "levels": rows})
    );
    Ok(())
}

fn main() {
    let args = Args::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build();
    let res = match rt {
        Ok(rt) => rt.block_on(run(args)),
        Err(e) => Err(e.into()),
    };
    if let Err(e) = res {
        eprintln!("raft-bench: {e:#}");
        std::process::exit(1);
    }
}
