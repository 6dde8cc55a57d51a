//! `chat`: the PBFT chat room's client. `chat post alice hello` sends the message to every
//! replica and waits for f+1 matching signed replies; `chat read` prints a replica's
//! delivered log; `chat status` every replica's status; `chat bench` measures messages
//! ordered per second. Exit codes: 0 ok, 1 not accepted / unreachable, 2 bad flags.

use clap::{Parser, Subcommand};
use pbft_chat::client::ChatClient;
use pbft_chat::crypto::Ed25519Verifier;
use pbft_chat::types::Request;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[derive(Parser)]
#[command(name = "chat", about = "Client of the PBFT chat room")]
struct Cli {
    /// Replica addresses, replica i at position i (default 127.0.0.1:9201..9204).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "127.0.0.1:9201,127.0.0.1:9202,127.0.0.1:9203,127.0.0.1:9204"
    )]
    nodes: Vec<String>,
    /// Public keys to verify replies with (default data/pbft-keys/public.json when present).
    #[arg(long)]
    public: Option<PathBuf>,
    /// Time to wait for replies, ms.
    #[arg(long, default_value_t = 10000)]
    timeout_ms: u64,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Post a message as NAME.
    Post {
        /// Client name.
        name: String,
        /// The message (words are joined with spaces).
        #[arg(required = true)]
        message: Vec<String>,
    },
    /// Print a replica's delivered messages in order.
    Read {
        /// Replica number (1-based position in --nodes).
        #[arg(long, default_value_t = 1)]
        node: usize,
    },
    /// Print every replica's status.
    Status,
    /// Messages ordered per second with N concurrent clients.
    Bench {
        /// Concurrent clients.
        #[arg(long, default_value_t = 1)]
        clients: usize,
        /// Length, seconds.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
}

fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

fn verifier(cli: &Cli) -> Result<Option<Ed25519Verifier>, String> {
    let path = match &cli.public {
        Some(p) => p.clone(),
        None => {
            let p = PathBuf::from("data/pbft-keys/public.json");
            if !p.exists() {
                eprintln!("chat: no public key file: replies are not signature-checked");
                return Ok(None);
            }
            p
        }
    };
    let keys = pbft_chat::keys::load_public(&path).map_err(|e| e.to_string())?;
    Ok(Some(Ed25519Verifier(keys)))
}

async fn run(cli: Cli) -> Result<(), String> {
    let client = ChatClient::new(
        cli.nodes.clone(),
        verifier(&cli)?,
        Duration::from_millis(cli.timeout_ms),
    );
    match cli.command {
        Command::Post { name, message } => {
            let req = Request {
                client: name,
                timestamp: now_micros(),
                message: message.join(" "),
            };
            let ok = client.post(&req).await.map_err(|e| e.to_string())?;
            println!(
                "delivered as #{} (matching signed replies from nodes {:?})",
                ok.seq, ok.replicas
            );
        }
        Command::Read { node } => {
            let addr = cli
                .nodes
                .get(node.wrapping_sub(1))
                .ok_or(format!("no node {node} in --nodes"))?;
            for e in client.read(addr).await.map_err(|e| e.to_string())? {
                println!("#{} {}: {}", e.seq, e.client, e.message);
            }
        }
        Command::Status => {
            for addr in client.nodes() {
                match client.status(addr).await {
                    Ok(s) => println!("{addr} {s}"),
                    Err(e) => println!("{addr} unreachable: {e}"),
                }
            }
        }
        Command::Bench { clients, seconds } => bench(client, clients, seconds).await?,
    }
    Ok(())
}

async fn bench(client: ChatClient, clients: usize, seconds: u64) -> Result<(), String> {
    let done = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + Duration::from_secs(seconds);
    let base = now_micros();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (client, done, failed) = (client.clone(), done.clone(), failed.clone());
        tasks.push(tokio::spawn(async move {
            let name = format!("bench-{}-{c}", std::process::id());
            let mut ts = base;
            while Instant::now() < deadline {
                ts += 1;
                let req = Request {
                    client: name.clone(),
                    timestamp: ts,
                    message: format!("m{ts}"),
                };
                match client.post(&req).await {
                    Ok(_) => done.fetch_add(1, Ordering::Relaxed),
                    Err(_) => failed.fetch_add(1, Ordering::Relaxed),
                };
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let secs = start.elapsed().as_secs_f64();
    let n = done.load(Ordering::Relaxed);
    println!(
        "{clients} clients: {n} messages ordered in {secs:.1} s = {:.0} msgs/s ({} not accepted)",
        n as f64 / secs,
        failed.load(Ordering::Relaxed)
    );
    Ok(())
}

fn main() {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("chat: cannot start the runtime: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = rt.block_on(run(cli)) {
        eprintln!("chat: {e}");
        std::process::exit(1);
    }
}
