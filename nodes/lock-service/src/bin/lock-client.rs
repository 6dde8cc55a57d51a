//! `lock-client`: a command-line client of the lock service.
//!
//! `lock-client acquire /locks/resource-1` opens a session, waits until the lock is free,
//! prints `acquired /locks/resource-1 token=N` and holds it (keeping the session alive)
//! until SIGINT/SIGTERM or `--hold-ms`, then releases it, closes the session and prints
//! `released /locks/resource-1`. Also `--try`, `release`, `get`, `set` (`--ephemeral`
//! holds the session like `acquire`), `cas`, `delete`, `watch`, `status`.
//!
//! Exit codes: 0 success; 1 refused (lock held with `--try` or when `--wait-ms` ran out,
//! not the holder, cas version mismatch, node not found, watch ended without a change);
//! 2 bad usage; 3 service unavailable (no leader reachable in time); 4 session lost while
//! holding (the service expired it, or the client's own lease ran out).

use clap::{Parser, Subcommand};
use lock_service::client::{Acquire, ClientError, LockClient};
use lock_service::session::{KeptSession, Lost};
use std::time::Duration;
use tokio::signal::unix::{signal, SignalKind};

#[derive(Debug, Parser)]
#[command(name = "lock-client", about = "Talk to a lock-service cluster")]
struct Args {
    /// Node addresses HOST:PORT, comma separated (default: the seed cluster 127.0.0.1:9001-9003).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "127.0.0.1:9001,127.0.0.1:9002,127.0.0.1:9003"
    )]
    nodes: Vec<String>,
    /// Time budget of one request (redirects and retries included), ms.
    #[arg(long, default_value_t = 5000)]
    timeout_ms: u64,
    /// Session TTL for commands that open a session, ms.
    #[arg(long, default_value_t = 5000)]
    ttl_ms: u64,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Acquire a lock and hold it until interrupted or --hold-ms passes.
    Acquire {
        /// Lock name, e.g. /locks/resource-1.
        name: String,
        /// Do not wait: exit 1 if the lock is held.
        #[arg(long)]
        r#try: bool,
        /// Give up waiting after this long, ms (default: wait forever).
        #[arg(long)]
        wait_ms: Option<u64>,
        /// Release after holding this long, ms (default: until SIGINT/SIGTERM).
        #[arg(long)]
        hold_ms: Option<u64>,
    },
    /// Release a lock held by a session (e.g. one printed by another lock-client).
    Release {
        /// Lock name.
        name: String,
        /// The holding session.
        #[arg(long)]
        session: u64,
    },
    /// Print a node's value and version.
    Get { path: String },
    /// Set a node's value (--ephemeral: owned by a session held until interrupted).
    Set {
        path: String,
        value: String,
        /// Create the node ephemeral and hold the session like `acquire` does.
        #[arg(long)]
        ephemeral: bool,
        /// With --ephemeral: hold this long, ms.
        #[arg(long)]
        hold_ms: Option<u64>,
    },
    /// Set a node's value if its version is VERSION (0 = the node must be absent).
    Cas {
        path: String,
        version: u64,
        value: String,
    },
    /// Delete a node (if its version is --version).
    Delete {
        path: String,
        #[arg(long)]
        version: Option<u64>,
    },
    /// Wait until the lock or node at PATH changes after index --after.
    Watch {
        path: String,
        #[arg(long, default_value_t = 0)]
        after: u64,
        #[arg(long, default_value_t = 30000)]
        wait_ms: u64,
    },
    /// Print the first node's /status JSON.
    Status,
}

/// How the command ended: exit code and message.
struct Exit(i32, String);

impl From<ClientError> for Exit {
    fn from(e: ClientError) -> Exit {
        match e {
            ClientError::Unavailable(_) | ClientError::Build(_) => Exit(3, e.to_string()),
            ClientError::SessionExpired(_) => Exit(4, e.to_string()),
            ClientError::Refused { .. } => Exit(1, e.to_string()),
        }
    }
}

/// SIGINT and SIGTERM, installed once so that neither kills the client mid-way.
struct Interrupts {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
}

impl Interrupts {
    fn install() -> Result<Interrupts, Exit> {
        let int = signal(SignalKind::interrupt()).map_err(|e| Exit(1, e.to_string()))?;
        let term = signal(SignalKind::terminate()).map_err(|e| Exit(1, e.to_string()))?;
        Ok(Interrupts { int, term })
    }

    async fn recv(&mut self) {
        tokio::select! {
            _ = self.int.recv() => {},
            _ = self.term.recv() => {},
        }
    }
}

/// Wait for SIGINT/SIGTERM, `hold` to pass, or the session to be lost.
async fn hold(
    session: &KeptSession,
    hold_ms: Option<u64>,
    signals: &mut Interrupts,
) -> Result<(), Exit> {
    let timer = async {
        match hold_ms {
            Some(ms) => tokio::time::sleep(Duration::from_millis(ms)).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = signals.recv() => Ok(()),
        _ = timer => Ok(()),
        lost = session.lost() => Err(Exit(4, match lost {
            Lost::Expired => format!("lost: session {} expired", session.id),
            Lost::LeaseRanOut => format!("lost: the lease of session {} ran out", session.id),
        })),
    }
}

/// Long-poll until `name` is acquired (`Ok(Some(token))`), or refused (`Ok(None)` after
/// `--try` or when `wait_ms` ran out).
async fn wait_for_lock(
    c: &LockClient,
    session: &KeptSession,
    name: &str,
    try_only: bool,
    wait_ms: Option<u64>,
) -> Result<Result<u64, String>, Exit> {
    let deadline = wait_ms.map(|w| tokio::time::Instant::now() + Duration::from_millis(w));
    loop {
        let left = deadline.map(|d| d.saturating_duration_since(tokio::time::Instant::now()));
        let wait = match (try_only, left) {
            (true, _) => 0,
            (false, Some(l)) => l.as_millis() as u64,
            (false, None) => 20_000,
        };
        match c.acquire(session.id, name, wait.min(20_000)).await? {
            Acquire::Acquired { token } => return Ok(Ok(token)),
            Acquire::Held { holder, token } => {
                if try_only || left.is_some_and(|l| l.is_zero()) {
                    return Ok(Err(format!(
                        "held {name} by session {holder} token={token}"
                    )));
                }
            }
        }
    }
}

async fn acquire(
    c: &LockClient,
    ttl_ms: u64,
    name: &str,
    try_only: bool,
    wait_ms: Option<u64>,
    hold_ms: Option<u64>,
) -> Result<(), Exit> {
    let mut signals = Interrupts::install()?;
    let session = KeptSession::open(c, ttl_ms).await?;
    let outcome = tokio::select! {
        r = wait_for_lock(c, &session, name, try_only, wait_ms) => r?,
        _ = signals.recv() => Err("interrupted while waiting".to_string()),
    };
    let token = match outcome {
        Ok(token) => token,
        Err(msg) => {
            // Closing the session also releases the lock if a long-poll got it meanwhile.
            session.stop();
            let _ = c.close_session(session.id).await;
            return Err(Exit(1, msg));
        }
    };
    println!("acquired {name} token={token}");
    eprintln!("lock-client: holding {name} with session {}", session.id);
    let held = hold(&session, hold_ms, &mut signals).await;
    session.stop();
    if held.is_ok() {
        c.release(session.id, name).await?;
        c.close_session(session.id).await?;
        println!("released {name}");
    }
    held
}

async fn set_ephemeral(
    c: &LockClient,
    ttl_ms: u64,
    path: &str,
    value: &str,
    hold_ms: Option<u64>,
) -> Result<(), Exit> {
    let mut signals = Interrupts::install()?;
    let session = KeptSession::open(c, ttl_ms).await?;
    let version = c
        .write(path, value, None, Some(session.id))
        .await?
        .map_err(|v| Exit(1, format!("not written: version {v}")))?;
    println!(
        "set {path} version={version} ephemeral session={}",
        session.id
    );
    let held = hold(&session, hold_ms, &mut signals).await;
    session.stop();
    if held.is_ok() {
        c.close_session(session.id).await?;
        println!("closed session {}", session.id);
    }
    held
}

async fn delete(c: &LockClient, path: &str, version: Option<u64>) -> Result<(), Exit> {
    let mut q = format!("/node?path={}", lock_service::client::encode(path));
    if let Some(v) = version {
        q.push_str(&format!("&version={v}"));
    }
    let (status, v) = c
        .call(reqwest::Method::DELETE, &q, None, Duration::ZERO)
        .await?;
    match (status, v["deleted"].as_bool()) {
        (200, Some(true)) => {
            println!("deleted {path}");
            Ok(())
        }
        _ => Err(Exit(1, format!("not deleted ({status}): {v}"))),
    }
}

async fn watch(c: &LockClient, path: &str, after: u64, wait_ms: u64) -> Result<(), Exit> {
    let v = c.watch(path, after, wait_ms).await?;
    println!("{v}");
    if v["changed"].as_bool() == Some(true) {
        Ok(())
    } else {
        Err(Exit(1, format!("no change to {path} after {after}")))
    }
}

async fn run(args: Args) -> Result<(), Exit> {
    let c = LockClient::new(args.nodes.clone(), Duration::from_millis(args.timeout_ms))?;
    match args.cmd {
        Cmd::Acquire {
            name,
            r#try,
            wait_ms,
            hold_ms,
        } => acquire(&c, args.ttl_ms, &name, r#try, wait_ms, hold_ms).await,
        Cmd::Release { name, session } => {
            c.release(session, &name).await?;
            println!("released {name}");
            Ok(())
        }
        Cmd::Get { path } => match c.get(&path).await? {
            Some(v) => {
                println!("{} version={}", v.value, v.version);
                Ok(())
            }
            None => Err(Exit(1, format!("not found: {path}"))),
        },
        Cmd::Set {
            path,
            value,
            ephemeral: true,
            hold_ms,
        } => set_ephemeral(&c, args.ttl_ms, &path, &value, hold_ms).await,
        Cmd::Set { path, value, .. } => match c.write(&path, &value, None, None).await? {
            Ok(v) => {
                println!("OK version={v}");
                Ok(())
            }
            Err(v) => Err(Exit(1, format!("FAILED version={v}"))),
        },
        Cmd::Cas {
            path,
            version,
            value,
        } => match c.write(&path, &value, Some(version), None).await? {
            Ok(v) => {
                println!("OK version={v}");
                Ok(())
            }
            Err(v) => Err(Exit(1, format!("FAILED version={v}"))),
        },
        Cmd::Delete { path, version } => delete(&c, &path, version).await,
        Cmd::Watch {
            path,
            after,
            wait_ms,
        } => watch(&c, &path, after, wait_ms).await,
        Cmd::Status => {
            let v = c.status().await?;
            println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
            Ok(())
        }
    }
}

fn main() {
    let args = Args::parse();
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("lock-client: cannot start the runtime: {e}");
            std::process::exit(1);
        }
    };
    if let Err(Exit(code, msg)) = rt.block_on(run(args)) {
        eprintln!("lock-client: {msg}");
        std::process::exit(code);
    }
}
