//! `general`: the Two Generals. `serve` runs one general over HTTP, `simulate` prints the
//! table of agreement rates, `demo` plays one round in-process. Bad flags exit 2, a general
//! that cannot start or stops exits 1.

use clap::Parser;
use rand::SeedableRng;
use two_generals::config::{Cli, Command, DemoArgs, SimulateArgs};
use two_generals::sim::{format_table, run_round, table};

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => match args.into_config() {
            Ok(cfg) => serve(cfg),
            Err(e) => Err((2, e)),
        },
        Command::Simulate(args) => simulate(&args).map_err(|e| (2, e)),
        Command::Demo(args) => demo(&args).map_err(|e| (2, e)),
    };
    if let Err((code, e)) = result {
        eprintln!("general: {e}");
        std::process::exit(code);
    }
}

fn serve(cfg: two_generals::config::ServeConfig) -> Result<(), (i32, String)> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| (1, format!("cannot start the runtime: {e}")))?;
    rt.block_on(two_generals::server::serve(cfg))
        .map_err(|e| (1, e.to_string()))
}

fn simulate(args: &SimulateArgs) -> Result<(), String> {
    if args.rounds == 0 || args.loss.is_empty() || args.acks.is_empty() {
        return Err("--rounds, --loss and --acks must not be empty or zero".into());
    }
    for &l in &args.loss {
        args.timing.params(0, l)?;
    }
    for &k in &args.acks {
        args.timing.params(k, 0.0)?;
    }
    let base = args.timing.params(0, 0.0)?;
    println!(
        "{} rounds per row, seed {}; a messenger takes {} ms, retries every {} ms, deadline {} ms",
        args.rounds, args.seed, base.latency_ms, base.retry_ms, base.deadline_ms
    );
    let rows = table(args.rounds, &args.loss, &args.acks, base, args.seed);
    print!("{}", format_table(&rows));
    Ok(())
}

fn demo(args: &DemoArgs) -> Result<(), String> {
    let p = args.timing.params(args.acks, args.loss)?;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(args.seed);
    let mut log = Vec::new();
    run_round(p, &args.time, &mut rng, Some(&mut log));
    for line in log {
        println!("{line}");
    }
    Ok(())
}
