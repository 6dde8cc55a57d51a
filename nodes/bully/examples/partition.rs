//! The lesson, deterministic: five simulated nodes, node 5 leads, then a partition into
//! {1,2,3} and {4,5} for 3 s, then the heal. Prints every node's log line and every change of
//! the set of nodes acting as leader. Classic bully ends the partition with two leaders;
//! `--quorum` never has two.
//!
//!     cargo run -p bully --example partition -- [--quorum] [--seed N]

use bully::sim::{Sim, SimConfig};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quorum = args.iter().any(|a| a == "--quorum");
    let seed = args
        .iter()
        .position(|a| a == "--seed")
        .and_then(|i| args.get(i + 1))
        .map(|s| s.parse::<u64>())
        .transpose();
    let seed = match seed {
        Ok(s) => s.unwrap_or(1),
        Err(e) => {
            eprintln!("partition: --seed: {e}");
            std::process::exit(2);
        }
    };
    let mut sim = Sim::new(SimConfig::five(quorum, seed));
    let mut printed = 0;
    let mut acting = Vec::new();
    let mut most_at_once = 0;
    let mut phase = |sim: &mut Sim, ms: u64| {
        for _ in 0..ms {
            sim.step();
            for line in &sim.log()[printed..] {
                println!("{line}");
            }
            printed = sim.log().len();
            let now = sim.acting();
            if now != acting {
                println!("[{} ms] acting as leader: {now:?}", sim.now());
                most_at_once = most_at_once.max(now.len());
                acting = now;
            }
        }
    };
    phase(&mut sim, 2_000);
    sim.partition(&[&[1, 2, 3], &[4, 5]]);
    phase(&mut sim, 3_000);
    sim.heal();
    phase(&mut sim, 3_000);
    let mode = if quorum { "quorum" } else { "classic" };
    println!("{mode} bully, seed {seed}: at most {most_at_once} node(s) acting as leader at once");
}
