//! The seeded simulator over hundreds of seeds: the correct core never violates safety
//! (and makes progress through crashes, partitions and snapshot installs); the
//! `no-adopt` and `forget-promise` bugs are found, and the rate is printed.

use paxos_kv::paxos::CoreBugs;
use paxos_kv::sim::{run, sweep, SimConfig};

fn cfg(bugs: CoreBugs) -> SimConfig {
    SimConfig {
        bugs,
        ..SimConfig::default()
    }
}

#[test]
fn the_correct_core_never_violates_safety_and_makes_progress() {
    let c = cfg(CoreBugs::default());
    let (mut applied, mut crashes, mut installs, mut reads) = (0, 0, 0, 0);
    for seed in 1..=300 {
        let out = run(&c, seed);
        assert!(
            out.violation.is_none(),
            "seed {seed}: {}",
            out.violation.unwrap()
        );
        applied += out.applied;
        crashes += out.crashes;
        installs += out.snapshot_installs;
        reads += out.reads;
    }
    println!("correct core: 0 of 300 seeds violated; {applied} slots applied, {crashes} crashes, {installs} snapshot installs, {reads} reads checked");
    assert!(
        applied > 300 * 30,
        "too little progress: {applied} slots in 300 seeds"
    );
    assert!(crashes > 300, "the schedule crashed too rarely: {crashes}");
    assert!(
        installs > 10,
        "snapshot transfer was not exercised: {installs}"
    );
}

#[test]
fn five_replicas_with_heavy_loss_stay_safe() {
    let c = SimConfig {
        nodes: 5,
        loss_pct: 30,
        dup_pct: 20,
        ..SimConfig::default()
    };
    assert_eq!(sweep(&c, 1000, 100), vec![]);
}

#[test]
fn the_simulator_finds_no_adopt() {
    let found = sweep(
        &cfg(CoreBugs {
            no_adopt: true,
            forget_promise: false,
        }),
        1,
        200,
    );
    println!(
        "no-adopt: {} of 200 seeds violated safety; first: {:?}",
        found.len(),
        found.first()
    );
    assert!(
        found.len() >= 100,
        "no-adopt found in only {} of 200 seeds",
        found.len()
    );
}

#[test]
fn the_simulator_finds_forget_promise() {
    let found = sweep(
        &cfg(CoreBugs {
            no_adopt: false,
            forget_promise: true,
        }),
        1,
        300,
    );
    println!(
        "forget-promise: {} of 300 seeds violated safety; first: {:?}",
        found.len(),
        found.first()
    );
    assert!(!found.is_empty(), "forget-promise not found in 300 seeds");
}

#[test]
fn a_seed_replays_exactly() {
    let c = cfg(CoreBugs {
        no_adopt: false,
        forget_promise: true,
    });
    for seed in [3, 77, 1234] {
        let (a, b) = (run(&c, seed), run(&c, seed));
        assert_eq!(
            (a.violation, a.applied, a.crashes, a.steps),
            (b.violation, b.applied, b.crashes, b.steps)
        );
    }
}
