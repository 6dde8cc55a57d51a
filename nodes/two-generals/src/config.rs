//! The `general` command line: `serve` (one general over HTTP: its name, listen and peer
//! addresses, acknowledgements, retry interval, deadline, built-in seeded loss), `simulate`
//! (the table of agreement rates) and `demo` (one seeded round in-process), and their
//! validation into configurations.

use crate::core::General;
use crate::sim::SimParams;
use std::net::SocketAddr;

/// `general` arguments.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "general",
    about = "The Two Generals: agree on an attack time by messengers over a lossy link"
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// Run one general over HTTP (rounds started on A by `POST /rounds/{r}/start`).
    Serve(ServeArgs),
    /// Print the table of agreement rates by loss and acknowledgements (in-process, seeded).
    Simulate(SimulateArgs),
    /// Play one round in-process and print the session.
    Demo(DemoArgs),
}

/// Which general, from `--name A|B`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Name {
    /// General A (proposes, starts rounds).
    A,
    /// General B.
    B,
}

/// `general serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// A or B.
    #[arg(long, value_enum, ignore_case = true)]
    pub name: Name,
    /// Address to serve on (default 127.0.0.1:9201 for A, 9202 for B).
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// The other general's address, HOST:PORT (default 127.0.0.1:9202 for A, 9201 for B).
    #[arg(long)]
    pub peer: Option<String>,
    /// Acknowledgements after the order in rounds this general starts (A only; B follows
    /// what the messengers say).
    #[arg(long, default_value_t = 1)]
    pub acks: u32,
    /// Send another messenger this often while a message is unanswered, ms.
    #[arg(long, default_value_t = 100)]
    pub retry_ms: u64,
    /// Rounds started here end this long after their start, ms (A only).
    #[arg(long, default_value_t = 1000)]
    pub deadline_ms: u64,
    /// Built-in loss: each messenger is captured with this probability (seeded).
    #[arg(long, default_value_t = 0.0)]
    pub loss: f64,
    /// Seed of the built-in loss.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Time allowed for one messenger's HTTP request (a lost one shows as a timeout), ms.
    #[arg(long)]
    pub send_timeout_ms: Option<u64>,
    /// A only: start round 1 with this attack time as soon as serving (the standalone demo).
    #[arg(long, value_name = "TIME")]
    pub start: Option<String>,
}

/// `general simulate`.
#[derive(Debug, Clone, clap::Args)]
pub struct SimulateArgs {
    /// Rounds per cell of the table.
    #[arg(long, default_value_t = 1000)]
    pub rounds: u64,
    /// Loss rates, comma separated.
    #[arg(long, value_delimiter = ',', default_value = "0.1,0.3,0.5")]
    pub loss: Vec<f64>,
    /// Numbers of acknowledgements, comma separated.
    #[arg(long, value_delimiter = ',', default_value = "0,1,2,3")]
    pub acks: Vec<u32>,
    /// Seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[command(flatten)]
    pub timing: TimingArgs,
}

/// `general demo`.
#[derive(Debug, Clone, clap::Args)]
pub struct DemoArgs {
    /// Probability that a messenger is captured.
    #[arg(long, default_value_t = 0.3)]
    pub loss: f64,
    /// Acknowledgements after the order.
    #[arg(long, default_value_t = 1)]
    pub acks: u32,
    /// Seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// The proposed attack time.
    #[arg(long, default_value = "dawn")]
    pub time: String,
    #[command(flatten)]
    pub timing: TimingArgs,
}

/// Timing of simulated rounds.
#[derive(Debug, Clone, clap::Args)]
pub struct TimingArgs {
    /// Retry interval, ms.
    #[arg(long, default_value_t = 100)]
    pub retry_ms: u64,
    /// A messenger's travel time, ms.
    #[arg(long, default_value_t = 10)]
    pub latency_ms: u64,
    /// Deadline after the start, ms.
    #[arg(long, default_value_t = 300)]
    pub deadline_ms: u64,
}

/// A validated `serve` configuration.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Which general.
    pub me: General,
    /// Listen address.
    pub listen: SocketAddr,
    /// Peer address.
    pub peer: String,
    /// Default K of rounds started here.
    pub acks: u32,
    /// Retry interval, ms.
    pub retry_ms: u64,
    /// Default round length, ms.
    pub deadline_ms: u64,
    /// Built-in loss probability.
    pub loss: f64,
    /// Seed of the built-in loss.
    pub seed: u64,
    /// Messenger request timeout, ms.
    pub send_timeout_ms: u64,
    /// Start round 1 with this time at once.
    pub start: Option<String>,
}

/// The most acknowledgements a round may ask for.
pub const MAX_ACKS: u32 = 64;

/// Check a loss probability.
pub fn check_loss(flag: &str, loss: f64) -> Result<f64, String> {
    if (0.0..=1.0).contains(&loss) {
        Ok(loss)
    } else {
        Err(format!("{flag} {loss}: a probability between 0 and 1"))
    }
}

fn check_addr(flag: &str, addr: &str) -> Result<String, String> {
    match addr.rsplit_once(':') {
        Some((h, p)) if !h.is_empty() && p.parse::<u16>().is_ok() => Ok(addr.to_string()),
        _ => Err(format!("{flag} {addr:?}: expected HOST:PORT")),
    }
}

impl ServeArgs {
    /// Validate and resolve defaults.
    pub fn into_config(self) -> Result<ServeConfig, String> {
        let (me, own, other) = match self.name {
            Name::A => (General::A, 9201, 9202),
            Name::B => (General::B, 9202, 9201),
        };
        if self.acks > MAX_ACKS {
            return Err(format!("--acks {}: at most {MAX_ACKS}", self.acks));
        }
        if self.retry_ms == 0 || self.deadline_ms == 0 {
            return Err("--retry-ms and --deadline-ms must be >= 1".into());
        }
        if self.start.is_some() && me == General::B {
            return Err("--start: only general A starts rounds".into());
        }
        let peer = match self.peer {
            Some(p) => check_addr("--peer", &p)?,
            None => format!("127.0.0.1:{other}"),
        };
        Ok(ServeConfig {
            me,
            listen: self
                .listen
                .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], own))),
            peer,
            acks: self.acks,
            retry_ms: self.retry_ms,
            deadline_ms: self.deadline_ms,
            loss: check_loss("--loss", self.loss)?,
            seed: self.seed,
            send_timeout_ms: self.send_timeout_ms.unwrap_or(self.retry_ms).max(1),
            start: self.start,
        })
    }
}

impl TimingArgs {
    /// Simulation parameters with this timing.
    pub fn params(&self, acks: u32, loss: f64) -> Result<SimParams, String> {
        if self.retry_ms == 0 || self.deadline_ms == 0 {
            return Err("--retry-ms and --deadline-ms must be >= 1".into());
        }
        if acks > MAX_ACKS {
            return Err(format!("--acks {acks}: at most {MAX_ACKS}"));
        }
        Ok(SimParams {
            acks,
            loss: check_loss("--loss", loss)?,
            retry_ms: self.retry_ms,
            latency_ms: self.latency_ms,
            deadline_ms: self.deadline_ms,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn serve(args: &[&str]) -> Result<ServeConfig, String> {
        let mut v = vec!["general", "serve"];
        v.extend_from_slice(args);
        match Cli::try_parse_from(v).map_err(|e| e.to_string())?.command {
            Command::Serve(s) => s.into_config(),
            _ => Err("not serve".into()),
        }
    }

    #[test]
    fn defaults_pair_a_and_b() {
        let a = serve(&["--name", "A"]).expect("ok");
        assert_eq!(a.listen.to_string(), "127.0.0.1:9201");
        assert_eq!(a.peer, "127.0.0.1:9202");
        let b = serve(&["--name", "b"]).expect("ok");
        assert_eq!(b.me, General::B);
        assert_eq!(b.listen.to_string(), "127.0.0.1:9202");
        assert_eq!(b.send_timeout_ms, 100);
    }

    #[test]
    fn bad_values_are_named() {
        assert!(serve(&["--name", "A", "--loss", "1.5"])
            .unwrap_err()
            .contains("--loss"));
        assert!(serve(&["--name", "A", "--peer", "nowhere"])
            .unwrap_err()
            .contains("--peer"));
        assert!(serve(&["--name", "B", "--start", "dawn"])
            .unwrap_err()
            .contains("--start"));
        assert!(serve(&["--name", "A", "--acks", "65"])
            .unwrap_err()
            .contains("--acks"));
        assert!(serve(&["--name", "C"]).is_err());
    }
}
