//! `lock-bench`: acquire/release pairs per second and pair latency of a real lock-service
//! cluster (N `lock-node` processes on loopback, fsync on unless `--no-fsync`), for each
//! requested number of concurrent clients. Each client opens its own session (kept alive
//! in the background, as `lock-client` does) and loops `acquire` + `release` on its own
//! lock name (or on one of `--locks K` shared names: then clients contend and wait). A
//! fresh cluster in a fresh temp dir is started per level; every node is killed at the end
//! (also on error). Prints one line per level and a JSON summary.

use clap::Parser;
use lock_service::client::{Acquire, LockClient};
use lock_service::session::KeptSession;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, Parser)]
#[command(
    name = "lock-bench",
    about = "Acquire/release throughput of a lock-service cluster"
)]
struct Args {
    /// Concurrent client counts to measure, comma separated.
    #[arg(long, value_delimiter = ',', default_value = "1,8,32")]
    clients: Vec<usize>,
    /// Measured seconds per level (after a 1 s warm-up).
    #[arg(long, default_value_t = 5)]
    duration_s: u64,
    /// Cluster size.
    #[arg(long, default_value_t = 3)]
    nodes: u64,
    /// Number of lock names shared by the clients (0 = one per client, uncontended).
    #[arg(long, default_value_t = 0)]
    locks: usize,
    /// Pass --no-fsync to the nodes.
    #[arg(long)]
    no_fsync: bool,
    /// The lock-node binary (default: next to this binary).
    #[arg(long)]
    node_bin: Option<PathBuf>,
}

type BenchResult<T> = Result<T, String>;

struct Nodes {
    children: Vec<Child>,
    dir: tempfile::TempDir,
}

impl Drop for Nodes {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn free_ports(n: usize) -> BenchResult<Vec<u16>> {
    let ls = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0"))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("cannot find free ports: {e}"))?;
    Ok(ls
        .iter()
        .filter_map(|l| l.local_addr().ok())
        .map(|a| a.port())
        .collect())
}

fn die_with_parent(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure only calls prctl, which is async-signal-safe. The nodes die with
    // the spawning thread even if this process is killed before Drop runs.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

fn start_cluster(args: &Args, bin: &PathBuf) -> BenchResult<(Nodes, Vec<String>)> {
    let dir = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
    let ports = free_ports(args.nodes as usize)?;
    let mut nodes = Nodes {
        children: Vec::new(),
        dir,
    };
    for id in 1..=args.nodes {
        let mut cmd = Command::new(bin);
        cmd.arg("--id")
            .arg(id.to_string())
            .arg("--listen")
            .arg(format!("127.0.0.1:{}", ports[(id - 1) as usize]))
            .arg("--data-dir")
            .arg(nodes.dir.path().join(format!("node{id}")));
        for (j, p) in ports.iter().enumerate() {
            if j as u64 + 1 != id {
                cmd.arg("--peer").arg(format!("{}=127.0.0.1:{p}", j + 1));
            }
        }
        if args.no_fsync {
            cmd.arg("--no-fsync");
        }
        die_with_parent(&mut cmd);
        let log_path = nodes.dir.path().join(format!("node{id}.log"));
        let log =
            std::fs::File::create(&log_path).map_err(|e| format!("{}: {e}", log_path.display()))?;
        cmd.stdout(Stdio::null()).stderr(Stdio::from(log));
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
        nodes.children.push(child);
    }
    let addrs = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    Ok((nodes, addrs))
}

struct Level {
    clients: usize,
    pairs: u64,
    errors: u64,
    secs: f64,
    p50_ms: f64,
    p99_ms: f64,
}

/// One client: open a session, then acquire + release until `end`; latencies of pairs
/// completed after `measure_from`.
async fn client_loop(
    c: LockClient,
    name: String,
    measure_from: Instant,
    end: Instant,
) -> (Vec<f64>, u64) {
    let session = match KeptSession::open(&c, 10_000).await {
        Ok(s) => s,
        Err(_) => return (Vec::new(), 1),
    };
    let (mut lat, mut errors) = (Vec::new(), 0);
    while Instant::now() < end {
        let t = Instant::now();
        let ok = match c.acquire(session.id, &name, 2000).await {
            Ok(Acquire::Acquired { .. }) => c.release(session.id, &name).await.is_ok(),
            _ => false,
        };
        if !ok {
            errors += 1;
        } else if t >= measure_from {
            lat.push(t.elapsed().as_secs_f64() * 1000.0);
        }
    }
    session.stop();
    let _ = c.close_session(session.id).await;
    (lat, errors)
}

async fn run_level(args: &Args, bin: &PathBuf, clients: usize) -> BenchResult<Level> {
    let (_nodes, addrs) = start_cluster(args, bin)?;
    let probe =
        LockClient::new(addrs.clone(), Duration::from_secs(15)).map_err(|e| e.to_string())?;
    probe
        .open_session(1000)
        .await
        .map_err(|e| format!("cluster not ready: {e}"))?;
    let start = Instant::now();
    let measure_from = start + Duration::from_secs(1);
    let end = measure_from + Duration::from_secs(args.duration_s);
    let mut tasks = Vec::new();
    for i in 0..clients {
        let c =
            LockClient::new(addrs.clone(), Duration::from_secs(5)).map_err(|e| e.to_string())?;
        let name = match args.locks {
            0 => format!("/locks/bench-{i}"),
            k => format!("/locks/bench-{}", i % k),
        };
        tasks.push(tokio::spawn(client_loop(c, name, measure_from, end)));
    }
    let (mut lat, mut errors) = (Vec::new(), 0);
    for t in tasks {
        let (l, e) = t.await.map_err(|e| format!("client task: {e}"))?;
        lat.extend(l);
        errors += e;
    }
    lat.sort_by(|a, b| a.total_cmp(b));
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0.0)
    };
    Ok(Level {
        clients,
        pairs: lat.len() as u64,
        errors,
        secs: args.duration_s as f64,
        p50_ms: pct(0.5),
        p99_ms: pct(0.99),
    })
}

fn node_bin(args: &Args) -> BenchResult<PathBuf> {
    if let Some(b) = &args.node_bin {
        return Ok(b.clone());
    }
    let me = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    Ok(me.with_file_name("lock-node"))
}

async fn run(args: Args) -> BenchResult<()> {
    let bin = node_bin(&args)?;
    let mut summary = Vec::new();
    for &clients in &args.clients {
        let l = run_level(&args, &bin, clients).await?;
        let rate = l.pairs as f64 / l.secs;
        println!(
            "clients={:<3} pairs/s={:>8.1} p50={:.2}ms p99={:.2}ms errors={}",
            l.clients, rate, l.p50_ms, l.p99_ms, l.errors
        );
        summary.push(serde_json::json!({
            "clients": l.clients, "pairs_per_s": rate, "p50_ms": l.p50_ms,
            "p99_ms": l.p99_ms, "errors": l.errors,
        }));
    }
    let s = serde_json::json!({"nodes": args.nodes, "fsync": !args.no_fsync,
                              "locks": args.locks, "levels": summary});
    println!("{s}");
    Ok(())
}

fn main() {
    let args = Args::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("lock-bench: cannot start the runtime: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = rt.block_on(run(args)) {
        eprintln!("lock-bench: {e}");
        std::process::exit(1);
    }
}
