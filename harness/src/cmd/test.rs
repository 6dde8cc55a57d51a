//! `harness test`: the command line of a test run (flags of DESIGN.md section 6 and issue 4),
//! resolved into a [`TestConfig`](crate::run::config::TestConfig) and handed to the runner
//! ([`crate::run::run_tests`]), which runs one or `--test-count` tests in a row.

use crate::exit::{HarnessError, Outcome};
use std::path::PathBuf;

#[derive(Debug, Clone, clap::Args)]
pub struct TestArgs {
    /// Workload: `register` (independent cas-registers, linearizability per key) or `set`
    /// (unique adds, set-full).
    #[arg(long, default_value = "register")]
    pub workload: String,
    /// Faults, a comma list of `partition`, `pause`, `kill`, or `none`.
    #[arg(long, default_value = "none")]
    pub nemesis: String,
    /// Partition shape: `isolated`, `halves`, `majorities-ring`, `bridge`, `random`, or a JSON
    /// grudge like `{"n1":["n2","n3"]}`.
    #[arg(long, default_value = "random")]
    pub partition: String,
    /// Who a pause or kill hits, a comma list drawn from each time: `one`, `minority`,
    /// `majority`, `all`, `leader` (Jepsen's targets; `primaries` = `leader`).
    #[arg(long, default_value = "one,minority")]
    pub targets: String,
    /// Targets of pauses only (same choices; default: `--targets`).
    #[arg(long)]
    pub pause_targets: Option<String>,
    /// Targets of kills only (same choices; default: `--targets`).
    #[arg(long)]
    pub kill_targets: Option<String>,
    /// What starts each fault: `timer` (a staggered wait) or `leader-change` (as soon as a
    /// new leader is seen in the nodes' status, so the fault hits the first milliseconds of a
    /// leadership; raft-kv and systems whose probe reports a leader).
    #[arg(long, default_value = "timer")]
    pub nemesis_trigger: String,
    /// Run each `--nemesis` kind on its own schedule, so faults overlap (a kill during a
    /// partition), as Jepsen's combined nemesis does; default: one fault at a time, in turn.
    #[arg(long)]
    pub nemesis_overlap: bool,
    /// Apply every `--nemesis` kind at once as one compound fault (in the listed order), and
    /// undo them in reverse order, each after its own staggered wait: e.g. `pause,kill` with
    /// `--pause-targets leader --kill-targets followers` freezes a leader while the others
    /// restart, elect, and serve, then wakes it.
    #[arg(long, conflicts_with = "nemesis_overlap")]
    pub nemesis_together: bool,
    /// Mean seconds between fault changes: a fault is off, then on, for a wait drawn each time
    /// uniformly from 0 to twice this (Jepsen's stagger, seeded).
    #[arg(long, default_value_t = 5.0)]
    pub nemesis_interval: f64,
    /// Length of the main phase, in seconds.
    #[arg(long, default_value_t = 60.0)]
    pub time_limit: f64,
    /// Number of nodes.
    #[arg(long, default_value_t = 5)]
    pub nodes: usize,
    /// Number of client workers: a number, or `Kn` for K per node. Default `2n`.
    #[arg(long, default_value = "2n")]
    pub concurrency: String,
    /// Overall operation rate limit, ops per second (default: as fast as the system answers).
    #[arg(long)]
    pub rate: Option<f64>,
    /// Timeout of one client operation (redirects included), in milliseconds.
    #[arg(long, default_value_t = 1000)]
    pub op_timeout: u64,
    /// Register: concurrently active keys (default: concurrency / nodes). Set: buckets the
    /// set is stored in (default: concurrency).
    #[arg(long)]
    pub keys: Option<usize>,
    /// Register: operations per key before the workers move to a fresh key.
    #[arg(long, default_value_t = 100)]
    pub ops_per_key: usize,
    /// Seed of the op generator and the nemesis (default: random, logged and stored).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Network backend: `auto`, `netns` (needs CAP_NET_ADMIN) or `proxy`.
    #[arg(long, default_value = "auto")]
    pub net: String,
    /// One-way delay, in milliseconds, that every node-to-node link adds for the whole run
    /// (a slow network, as Maelstrom's latency). Needs `--net proxy`: this kernel has no netem.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pub link_delay: u64,
    /// Path of the bundled `raft-node` binary (default: next to the harness binary).
    #[arg(long)]
    pub node_bin: Option<PathBuf>,
    /// System under test: `raft-kv` or `etcd`.
    #[arg(long, default_value = "raft-kv")]
    pub db: String,
    /// Path of the system's server binary (e.g. etcd).
    #[arg(long)]
    pub db_bin: Option<PathBuf>,
    /// A `key=value` option for the system under test (repeatable).
    #[arg(long = "db-opt", value_name = "K=V")]
    pub db_opt: Vec<String>,
    /// A TOML description of a user system under test.
    #[arg(long)]
    pub db_config: Option<PathBuf>,
    /// A deliberate bug to enable in every node (repeatable), e.g. `stale-read`.
    #[arg(long = "bug", value_name = "NAME")]
    pub bug: Vec<String>,
    /// Results store root.
    #[arg(long, default_value = "results")]
    pub store: PathBuf,
    /// Test name (the folder under the store). Default `<workload>-<nemesis>`.
    #[arg(long)]
    pub name: Option<String>,
    /// Run K tests in a row (seeds seed, seed+1, ...), print a summary, exit with the worst.
    #[arg(long, default_value_t = 1)]
    pub test_count: u32,
    /// Also write a JUnit XML report here.
    #[arg(long)]
    pub junit: Option<PathBuf>,
    /// Seconds the healed cluster gets before the final reads.
    #[arg(long, default_value_t = 5.0)]
    pub recovery_time: f64,
    /// Time budget of the linearizability check, in seconds (then the verdict is unknown).
    #[arg(long, default_value_t = 120.0)]
    pub check_timeout: f64,
    /// Do not write report.html and plots.
    #[arg(long)]
    pub no_report: bool,
}

pub fn run(args: TestArgs) -> Result<Outcome, HarnessError> {
    let argv: Vec<String> = std::env::args().collect();
    let cfg = crate::run::config::TestConfig::from_args(&args, argv)?;
    crate::run::run_tests(cfg).map(Outcome::Verdict)
}
