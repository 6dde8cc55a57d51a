//! `raft-client`: a command-line client for raft-kv.
//!
//! `raft-client put x 1` → `OK leader=1 index=5`; `get x` → `1` (`(nil)` if absent);
//! `cas x 1 2` (or `cas x --absent 2`) → `OK leader=1 index=6` or `FAILED current=3`;
//! `delete x`; `status`. `--target N` talks to 127.0.0.1:8000+N (default 1), `--addr` to
//! any address. Follows 421 redirects to the leader. Exit codes: 0 success, 1 other error
//! (or cas not applied), 2 RPC timeout (or no node can be reached), 3 not leader (prints the JSON error), 4 log
//! inconsistency (leadership lost: the outcome of the write is unknown).

use clap::{Parser, Subcommand};
use serde_json::Value;
use std::time::{Duration, Instant};

#[derive(Debug, Parser)]
#[command(name = "raft-client", about = "Talk to a raft-kv cluster")]
struct Args {
    /// Node id to contact (address 127.0.0.1:8000+N).
    #[arg(long, default_value_t = 1)]
    target: u64,
    /// Explicit node address HOST:PORT (overrides --target).
    #[arg(long)]
    addr: Option<String>,
    /// Overall time budget, ms.
    #[arg(long, default_value_t = 5000)]
    timeout_ms: u64,
    /// Most 421 redirects followed.
    #[arg(long, default_value_t = 5)]
    max_redirects: u32,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Set KEY to VALUE.
    Put { key: String, value: String },
    /// Read KEY (linearizable).
    Get { key: String },
    /// Remove KEY.
    Delete { key: String },
    /// Compare-and-set: `cas KEY FROM TO`, or `cas KEY --absent TO`.
    Cas {
        key: String,
        /// FROM TO (or just TO with --absent).
        #[arg(num_args = 1..=2, required = true)]
        values: Vec<String>,
        /// Expect the key to be absent.
        #[arg(long)]
        absent: bool,
    },
    /// Print the node's status JSON.
    Status,
}

/// How a command ended.
enum Failure {
    Timeout(String),
    NotLeader(String),
    Inconsistent(String),
    Other(String),
}

impl Failure {
    fn exit(self) -> ! {
        let (code, msg) = match self {
            Failure::Timeout(m) => (2, m),
            Failure::NotLeader(m) => (3, m),
            Failure::Inconsistent(m) => (4, m),
            Failure::Other(m) => (1, m),
        };
        println!("{msg}");
        std::process::exit(code);
    }
}

struct Target {
    addr: String,
    id: Option<u64>,
}

async fn request(
    client: &reqwest::Client,
    args: &Args,
    method: reqwest::Method,
    path: &str,
    body: Option<Vec<u8>>,
    req_id: &str,
) -> Result<(Target, u16, Value), Failure> {
    let deadline = Instant::now() + Duration::from_millis(args.timeout_ms);
    let mut target = match &args.addr {
        Some(a) => Target {
            addr: a.clone(),
            id: None,
        },
        None => Target {
            addr: format!("127.0.0.1:{}", 8000 + args.target),
            id: Some(args.target),
        },
    };
    let mut redirects = 0;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Failure::Timeout(r#"{"error":"timeout"}"#.into()));
        }
        let mut rb = client
            .request(method.clone(), format!("http://{}{path}", target.addr))
            .timeout(left)
            .header("x-request-id", req_id)
            // This client follows 421 redirects itself (and reports exit 3 when it runs out).
            .header("x-no-forward", "1");
        if let Some(b) = &body {
            rb = rb.body(b.clone());
        }
        let resp = match rb.send().await {
            Ok(r) => r,
            Err(e) if e.is_timeout() => {
                return Err(Failure::Timeout(format!(
                    r#"{{"error":"timeout","message":"{e}"}}"#
                )))
            }
            // No node reachable is an RPC timeout (exit 2), as the design's table says.
            Err(e) => {
                return Err(Failure::Timeout(format!(
                    r#"{{"error":"unreachable","message":"cannot reach {}: {e}"}}"#,
                    target.addr
                )))
            }
        };
        let code = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::String(text.clone()));
        match code {
            421 => {
                let addr = v.get("leader_addr").and_then(Value::as_str);
                let id = v.get("leader_id").and_then(Value::as_u64);
                match addr {
                    Some(a) if redirects < args.max_redirects => {
                        redirects += 1;
                        target = Target {
                            addr: a.to_string(),
                            id,
                        };
                    }
                    None if redirects < args.max_redirects => {
                        // No leader known yet (election in progress): wait and retry.
                        redirects += 1;
                        tokio::time::sleep(Duration::from_millis(300)).await;
                    }
                    _ => return Err(Failure::NotLeader(text)),
                }
            }
            504 => return Err(Failure::Timeout(text)),
            503 => return Err(Failure::Inconsistent(text)),
            _ => return Ok((target, code, v)),
        }
    }
}

async fn run(args: Args) -> Result<(), Failure> {
    let client = reqwest::Client::builder()
        .connect_timeout(Duration::from_millis(1000))
        .build()
        .map_err(|e| Failure::Other(format!("http client: {e}")))?;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let req_id = format!("rc{}x{nanos}-1", std::process::id());
    use reqwest::Method;
    let (method, path, body) = match &args.cmd {
        Cmd::Put { key, value } => (
            Method::PUT,
            format!("/key/{key}"),
            Some(value.clone().into_bytes()),
        ),
        Cmd::Get { key } => (Method::GET, format!("/key/{key}"), None),
        Cmd::Delete { key } => (Method::DELETE, format!("/key/{key}"), None),
        Cmd::Cas {
            key,
            values,
            absent,
        } => {
            let (from, to) = match (absent, values.as_slice()) {
                (true, [to]) => (Value::Null, to.clone()),
                (false, [from, to]) => (Value::String(from.clone()), to.clone()),
                _ => {
                    return Err(Failure::Other(
                        "usage: cas KEY FROM TO, or cas KEY --absent TO".into(),
                    ))
                }
            };
            let body = serde_json::json!({"from": from, "to": to}).to_string();
            (
                Method::POST,
                format!("/key/{key}/cas"),
                Some(body.into_bytes()),
            )
        }
        Cmd::Status => (Method::GET, "/status".to_string(), None),
    };
    let (target, code, v) = request(&client, &args, method, &path, body, &req_id).await?;
    let leader = |t: &Target| t.id.map_or("?".to_string(), |i| i.to_string());
    let index = v.get("index").and_then(Value::as_u64).unwrap_or(0);
    match (&args.cmd, code) {
        (Cmd::Status, 200) => {
            println!(
                "{}",
                serde_json::to_string_pretty(&v).unwrap_or_else(|_| v.to_string())
            );
        }
        (Cmd::Get { .. }, 200) => match v.get("value") {
            Some(Value::String(s)) => println!("{s}"),
            other => println!("{}", other.cloned().unwrap_or(Value::Null)),
        },
        (Cmd::Get { .. }, 404) => println!("(nil)"),
        (Cmd::Put { .. } | Cmd::Delete { .. }, 200) => {
            println!("OK leader={} index={index}", leader(&target))
        }
        (Cmd::Cas { .. }, 200) => {
            if v.get("applied").and_then(Value::as_bool) == Some(true) {
                println!("OK leader={} index={index}", leader(&target));
            } else {
                let cur = match v.get("value") {
                    Some(Value::String(s)) => s.clone(),
                    _ => "(nil)".to_string(),
                };
                return Err(Failure::Other(format!("FAILED current={cur}")));
            }
        }
        (_, _) => return Err(Failure::Other(format!("HTTP {code}: {v}"))),
    }
    Ok(())
}

fn main() {
    let args = Args::parse();
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => Failure::Other(format!("runtime: {e}")).exit(),
    };
    if let Err(f) = rt.block_on(run(args)) {
        f.exit();
    }
}
