//! The deterministic simulation of 5 gossip nodes: genuine messages reach every honest node
//! within a bound of rounds after partitions heal, under loss and with a lying node, and no
//! forged or altered message is ever delivered; many seeds each.

use gossip::core::Byzantine;
use gossip::sim::{Sim, SimConfig};

const HONEST_ALL: [u64; 5] = [1, 2, 3, 4, 5];

/// Rounds (of 100 ms) allowed for convergence after the last fault ends (the example
/// `converge` measures a maximum of 3.4 over 200 seeds).
const BOUND_ROUNDS: u64 = 10;

#[test]
fn no_faults_every_message_reaches_every_node_fast() {
    for seed in 0..30 {
        let mut sim = Sim::new(SimConfig::new(5, seed));
        for id in 1..=5 {
            sim.broadcast(id, &format!("hello from {id}"));
        }
        let took = sim.run_until_converged(&HONEST_ALL, 10 * 100);
        assert!(took.is_some(), "seed {seed}: not converged in 10 rounds");
        assert_eq!(sim.delivered(3).len(), 5);
        assert!(sim.log.is_empty(), "seed {seed}: {:?}", sim.log);
    }
}

/// Partition {1,2} | {3,4,5} with messages posted on both sides, 20% loss throughout,
/// optionally one node lying; returns the ms to converge after the heal.
fn partition_run(seed: u64, liar: Option<(u64, Byzantine)>) -> u64 {
    let mut cfg = SimConfig::new(5, seed);
    cfg.loss = 0.2;
    let mut sim = Sim::new(cfg);
    if let Some((id, mode)) = liar {
        sim.set_byzantine(id, Some(mode));
    }
    sim.broadcast(1, "before the partition");
    sim.run_for(500);
    sim.partition(&[&[1, 2], &[3, 4, 5]]);
    for i in 0..20 {
        sim.broadcast(1 + i % 5, &format!("during the partition #{i}"));
        sim.run_for(150);
    }
    sim.heal();
    let honest: Vec<u64> = HONEST_ALL
        .iter()
        .copied()
        .filter(|&id| liar.is_none_or(|(l, _)| l != id))
        .collect();
    let took = sim.run_until_converged(&honest, BOUND_ROUNDS * 100);
    let bad = sim.not_genuine(&honest);
    assert!(
        bad.is_empty(),
        "seed {seed} {liar:?}: delivered non-genuine {bad:?}"
    );
    match took {
        Some(ms) => ms,
        None => panic!(
            "seed {seed} {liar:?}: not converged within {BOUND_ROUNDS} rounds after the heal; missing {:?}",
            honest
                .iter()
                .map(|&id| sim.genuine().difference(&sim.delivered(id)).count())
                .collect::<Vec<_>>()
        ),
    }
}

#[test]
fn partition_and_loss_converge_after_the_heal() {
    for seed in 0..40 {
        partition_run(seed, None);
    }
}

#[test]
fn a_forging_node_is_rejected_and_honest_nodes_converge() {
    for seed in 0..40 {
        partition_run(seed, Some((1 + seed % 5, Byzantine::Forge)));
    }
}

#[test]
fn an_altering_node_is_rejected_and_honest_nodes_converge() {
    for seed in 0..40 {
        partition_run(seed, Some((1 + seed % 5, Byzantine::Alter)));
    }
}

#[test]
fn a_dropping_node_cannot_stop_delivery() {
    for seed in 0..40 {
        partition_run(seed, Some((1 + seed % 5, Byzantine::Drop)));
    }
}

#[test]
fn anti_entropy_alone_converges_after_the_heal() {
    for seed in 0..20 {
        let mut cfg = SimConfig::new(5, seed);
        cfg.gossip_ms = 1_000_000_000; // no push rounds at all: only the 1 s digest exchanges
        cfg.loss = 0.2;
        let mut sim = Sim::new(cfg);
        sim.partition(&[&[1, 2, 3], &[4, 5]]);
        for id in 1..=5 {
            sim.broadcast(id, &format!("from {id}"));
        }
        sim.run_for(3000);
        assert!(
            !sim.converged(&HONEST_ALL),
            "seed {seed}: converged across a partition"
        );
        sim.heal();
        let took = sim.run_until_converged(&HONEST_ALL, 15_000);
        assert!(
            took.is_some(),
            "seed {seed}: anti-entropy did not converge in 15 exchanges"
        );
    }
}

#[test]
fn bounded_batches_still_carry_a_large_backlog_after_the_heal() {
    for seed in 0..5 {
        let mut cfg = SimConfig::new(5, seed);
        cfg.max_batch = 16;
        let mut sim = Sim::new(cfg);
        sim.partition(&[&[1, 2, 3, 4], &[5]]);
        for i in 0..300u64 {
            sim.broadcast(1 + i % 4, &format!("backlog {i}"));
        }
        sim.run_for(2000);
        assert!(
            sim.converged(&[1, 2, 3, 4]),
            "seed {seed}: majority side did not converge"
        );
        assert!(sim.delivered(5).is_empty());
        sim.heal();
        // 300 messages in batches of at most 16: many exchanges, each bounded.
        let took = sim.run_until_converged(&HONEST_ALL, 10_000);
        assert!(
            took.is_some(),
            "seed {seed}: backlog not delivered within 10 s"
        );
    }
}

#[test]
fn lies_are_logged_seed_style() {
    let mut sim = Sim::new(SimConfig::new(5, 7));
    sim.set_byzantine(2, Some(Byzantine::Forge));
    sim.broadcast(1, "hi");
    sim.run_for(1000);
    assert!(
        sim.log
            .iter()
            .any(|l| l.contains("rejected forged message from 2 claiming origin")),
        "{:?}",
        sim.log
    );
    assert!(sim.core(3).rejected() > 0);
    assert!(sim.not_genuine(&[1, 3, 4, 5]).is_empty());
}

#[test]
fn the_checks_can_fail_a_cut_node_never_converges() {
    let mut sim = Sim::new(SimConfig::new(5, 3));
    sim.partition(&[&[1, 2, 3, 4], &[5]]);
    sim.broadcast(1, "you will not see this");
    assert_eq!(sim.run_until_converged(&HONEST_ALL, 3000), None);
    assert!(sim.converged(&[1, 2, 3, 4]));
}

#[test]
fn same_seed_same_run() {
    let run = |seed| {
        let mut sim = Sim::new(SimConfig::new(5, seed));
        sim.set_byzantine(4, Some(Byzantine::Alter));
        sim.broadcast(1, "a");
        sim.run_for(2000);
        sim.log.clone()
    };
    assert_eq!(run(11), run(11));
}
