//! The flags of `harness hunt` ([`HuntArgs`]); a leaf, so the planner can read them
//! without importing the hunt loop.

use std::path::PathBuf;

#[derive(Debug, Clone, clap::Args)]
pub struct HuntArgs {
    /// System under test (a systems registry name; `user` with `--db-config`).
    #[arg(long, default_value = crate::systems::raft_kv::NAME)]
    pub db: String,
    /// Path of the system's server binary (e.g. etcd).
    #[arg(long)]
    pub db_bin: Option<PathBuf>,
    /// Path of the bundled `raft-node` binary.
    #[arg(long)]
    pub node_bin: Option<PathBuf>,
    /// A `key=value` option for the system under test (repeatable).
    #[arg(long = "db-opt", value_name = "K=V")]
    pub db_opt: Vec<String>,
    /// A TOML description of a user system under test.
    #[arg(long)]
    pub db_config: Option<PathBuf>,
    /// A deliberate bug to enable in every node (repeatable).
    #[arg(long = "bug", value_name = "NAME")]
    pub bug: Vec<String>,
    /// Time budget: `90s`, `10m`, `2h` or plain seconds. No run starts after it is spent.
    #[arg(long, default_value = "10m")]
    pub budget: String,
    /// Seed of the rotation; run k uses seed + k (default: random, printed).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Main-phase length of each run, in seconds.
    #[arg(long, default_value_t = 15.0)]
    pub time_limit: f64,
    /// Number of nodes.
    #[arg(long, default_value_t = 5)]
    pub nodes: usize,
    /// Workloads to rotate, a comma list (default: every workload the system speaks).
    #[arg(long)]
    pub workloads: Option<String>,
    /// Schedules to rotate, a comma list of schedule names (default: all the system can run).
    #[arg(long)]
    pub schedules: Option<String>,
    /// Network backend: `auto`, `netns` or `proxy`.
    #[arg(long, default_value = "auto")]
    pub net: String,
    /// Results store root.
    #[arg(long, default_value = "results")]
    pub store: PathBuf,
    /// Also write a JUnit XML report of every run here.
    #[arg(long)]
    pub junit: Option<PathBuf>,
}
