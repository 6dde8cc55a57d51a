//! `paxos-sim`: run the deterministic simulator of the Paxos core over many seeds and
//! print how many violated safety (per bug setting), e.g. `paxos-sim --seeds 500 --bug no-adopt`.

use clap::Parser;
use paxos_kv::paxos::CoreBugs;
use paxos_kv::sim::{run, SimConfig};
use std::time::Instant;

/// Command line.
#[derive(Debug, Parser)]
#[command(name = "paxos-sim", about = "Seeded simulation of the Paxos core")]
struct Args {
    /// Number of seeds to run.
    #[arg(long, default_value_t = 300)]
    seeds: u64,
    /// First seed.
    #[arg(long, default_value_t = 1)]
    first_seed: u64,
    /// Replicas.
    #[arg(long, default_value_t = 3)]
    nodes: usize,
    /// Steps per seed.
    #[arg(long, default_value_t = 4000)]
    steps: usize,
    /// Percent of messages lost.
    #[arg(long, default_value_t = 10)]
    loss: u64,
    /// Percent of fault steps that crash the picked replica.
    #[arg(long, default_value_t = 8)]
    crash: u64,
    /// Percent of fault steps that start or heal a partition.
    #[arg(long, default_value_t = 40)]
    partition: u64,
    /// Percent of promises after which the promising replica crashes.
    #[arg(long, default_value_t = 50)]
    crash_after_promise: u64,
    /// Percent of messages duplicated.
    #[arg(long, default_value_t = 5)]
    dup: u64,
    /// Core bug to enable: no-adopt or forget-promise (repeatable).
    #[arg(long = "bug", value_name = "NAME")]
    bug: Vec<String>,
    /// Print every violating seed.
    #[arg(long)]
    verbose: bool,
}

fn main() {
    let args = Args::parse();
    let mut bugs = CoreBugs::default();
    for b in &args.bug {
        match b.as_str() {
            "no-adopt" => bugs.no_adopt = true,
            "forget-promise" => bugs.forget_promise = true,
            other => {
                eprintln!("paxos-sim: unknown bug `{other}` (core bugs: no-adopt, forget-promise)");
                std::process::exit(2);
            }
        }
    }
    let cfg = SimConfig {
        nodes: args.nodes,
        steps: args.steps,
        loss_pct: args.loss,
        dup_pct: args.dup,
        crash_after_promise_pct: args.crash_after_promise,
        crash_pct: args.crash,
        partition_pct: args.partition,
        bugs,
        ..SimConfig::default()
    };
    let start = Instant::now();
    let (mut bad, mut applied) = (0u64, 0u64);
    for seed in args.first_seed..args.first_seed + args.seeds {
        let out = run(&cfg, seed);
        applied += out.applied;
        if let Some(v) = out.violation {
            bad += 1;
            if args.verbose {
                println!("seed {seed}: {v}");
            }
        }
    }
    println!(
        "bugs {:?}: {bad} of {} seeds violated safety; {:.1} slots applied per seed; {:.2}s",
        args.bug,
        args.seeds,
        applied as f64 / args.seeds.max(1) as f64,
        start.elapsed().as_secs_f64()
    );
    if bad > 0 {
        std::process::exit(1);
    }
}
