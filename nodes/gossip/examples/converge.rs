//! Convergence time of 5 simulated nodes (defaults: gossip 100 ms, anti-entropy 1000 ms,
//! fanout 2, 1–20 ms delays): one post with no faults, and the heal of a {1,2}|{3,4,5}
//! partition under 20% loss with node 5 lying, over many seeds; median and maximum.
//!
//! `cargo run --release -p gossip --example converge -- [SEEDS]` (default 200)

use gossip::core::Byzantine;
use gossip::sim::{Sim, SimConfig};

fn summary(name: &str, mut ms: Vec<u64>) {
    ms.sort_unstable();
    let (med, max) = (ms[ms.len() / 2], ms[ms.len() - 1]);
    println!(
        "{name}: median {med} ms ({:.1} rounds), max {max} ms ({:.1} rounds), {} seeds",
        med as f64 / 100.0,
        max as f64 / 100.0,
        ms.len()
    );
}

fn one_post(seed: u64) -> u64 {
    let mut sim = Sim::new(SimConfig::new(5, seed));
    sim.run_for(seed % 100);
    sim.broadcast(1 + seed % 5, "hello");
    sim.run_until_converged(&[1, 2, 3, 4, 5], 60_000)
        .expect("converges")
}

fn after_heal(seed: u64, liar: Option<Byzantine>) -> u64 {
    let mut cfg = SimConfig::new(5, seed);
    cfg.loss = 0.2;
    let mut sim = Sim::new(cfg);
    sim.set_byzantine(5, liar);
    sim.partition(&[&[1, 2], &[3, 4, 5]]);
    for i in 0..20 {
        sim.broadcast(1 + i % 5, &format!("m{i}"));
        sim.run_for(150);
    }
    sim.heal();
    let honest: &[u64] = if liar.is_some() {
        &[1, 2, 3, 4]
    } else {
        &[1, 2, 3, 4, 5]
    };
    let ms = sim.run_until_converged(honest, 60_000).expect("converges");
    assert!(
        sim.not_genuine(honest).is_empty(),
        "seed {seed}: non-genuine delivered"
    );
    ms
}

fn main() {
    let seeds: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    summary("one post, no faults", (0..seeds).map(one_post).collect());
    summary(
        "heal of {1,2}|{3,4,5}, 20% loss",
        (0..seeds).map(|s| after_heal(s, None)).collect(),
    );
    for (name, mode) in [
        ("forge", Byzantine::Forge),
        ("alter", Byzantine::Alter),
        ("drop", Byzantine::Drop),
    ] {
        let label = format!("heal of {{1,2}}|{{3,4,5}}, 20% loss, node 5 lies ({name})");
        summary(
            &label,
            (0..seeds).map(|s| after_heal(s, Some(mode))).collect(),
        );
    }
}
