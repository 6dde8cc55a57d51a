//! Seeded simulations of four PBFT cores (see `pbft_chat::sim`): the total-order properties
//! hold with every fault schedule and one Byzantine node of any mode, and break where the
//! 3f+1 bound or a planted bug says they must. `PBFT_SIM_SEEDS=N` runs more seeds; the
//! ignored `measure_violation_rates` prints the rates written in the README:
//!
//!     cargo test --release -p pbft-chat --test sim_props -- --ignored --nocapture

use pbft_chat::core::DetectionKind;
use pbft_chat::faults::{Bug, Bugs, Mode};
use pbft_chat::sim::{run, LinkCut, SimConfig, SimReport};

fn seeds(default: u64) -> u64 {
    std::env::var("PBFT_SIM_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn assert_holds(label: &str, cfg: &SimConfig) -> SimReport {
    let r = run(cfg);
    assert!(
        r.violations.is_empty(),
        "{label}, seed {}: {:#?}\nstates {:?}",
        cfg.seed,
        &r.violations[..r.violations.len().min(5)],
        r.states
    );
    let total = cfg.clients * cfg.requests_per_client;
    assert_eq!(
        r.accepted.len(),
        total,
        "{label}, seed {}: only {} of {total} requests accepted (states {:?})",
        cfg.seed,
        r.accepted.len(),
        r.states
    );
    r
}

/// Schedule A: one Byzantine primary that equivocates, and the link between honest nodes
/// 2 and 3 cut during the fault phase (so they cannot compare notes directly).
fn equivocating_primary(seed: u64) -> SimConfig {
    let mut c = SimConfig::new(seed);
    c.byzantine.insert(1, Mode::Equivocate);
    c.partitions = false;
    c.link_cuts.push(LinkCut {
        a: 2,
        b: Some(3),
        from: 0,
        until: u64::MAX,
    });
    c
}

/// Schedule B: backup 4 cut off from everyone for the first 300 ticks while the others
/// order requests, then the primary crashes as 4 comes back: the view change must carry
/// what 1, 2 and 3 prepared.
fn lagging_backup_then_primary_crash(seed: u64) -> SimConfig {
    let mut c = SimConfig::new(seed);
    c.partitions = false;
    c.crash_primary_at = Some(300);
    c.link_cuts.push(LinkCut {
        a: 4,
        b: None,
        from: 0,
        until: 300,
    });
    c
}

/// Builds a schedule from a seed.
type MakeConfig = dyn Fn(u64) -> SimConfig;

/// How many of `n` seeds break a property.
fn violation_rate(n: u64, make: impl Fn(u64) -> SimConfig) -> (u64, Vec<String>) {
    let mut found = 0;
    let mut example = Vec::new();
    for seed in 0..n {
        let r = run(&make(seed));
        if !r.violations.is_empty() {
            found += 1;
            if example.is_empty() {
                example = r.violations;
            }
        }
    }
    (found, example)
}

/// The first seed below `max` that breaks agreement, if any.
fn first_agreement_break(max: u64, make: impl Fn(u64) -> SimConfig) -> Option<(u64, String)> {
    (0..max).find_map(|seed| {
        let r = run(&make(seed));
        r.violations
            .iter()
            .find(|v| v.starts_with("agreement"))
            .map(|v| (seed, v.clone()))
    })
}

#[test]
fn honest_replicas_keep_total_order_under_loss_reordering_and_partitions() {
    for seed in 0..seeds(12) {
        let r = assert_holds("honest", &SimConfig::new(seed));
        assert!(r.detections.is_empty(), "seed {seed}: {:?}", r.detections);
    }
}

#[test]
fn a_crashed_primary_is_replaced_and_every_request_still_delivered() {
    for seed in 0..seeds(8) {
        let mut c = SimConfig::new(seed);
        c.crash_primary_at = Some(200);
        let r = assert_holds("crashed primary", &c);
        assert!(r.max_view >= 1, "seed {seed}: no view change");
    }
    for seed in 0..seeds(8) {
        assert_holds(
            "lagging backup + crash",
            &lagging_backup_then_primary_crash(seed),
        );
    }
}

#[test]
fn one_byzantine_node_of_four_in_any_mode_never_breaks_the_order() {
    for mode in Mode::ALL {
        for seed in 0..seeds(6) {
            let mut c = SimConfig::new(seed);
            // The view-0 primary on even seeds, another node on odd ones.
            let node = if seed % 2 == 0 { 1 } else { seed % 4 + 1 };
            c.byzantine.insert(node, mode);
            assert_holds(&format!("byzantine {mode} on node {node}"), &c);
        }
    }
}

#[test]
fn honest_replicas_detect_a_lying_primary_and_replace_it() {
    for (mode, kind) in [
        (Mode::Equivocate, DetectionKind::Equivocation),
        (Mode::BadSignature, DetectionKind::BadSignature),
        (Mode::Replay, DetectionKind::Replay),
    ] {
        let mut c = SimConfig::new(3);
        c.byzantine.insert(1, mode);
        let r = assert_holds(&format!("{mode} primary"), &c);
        for honest in 2..=4 {
            assert!(
                r.detections
                    .iter()
                    .any(|(by, d)| *by == honest && d.node == 1 && d.kind == kind),
                "{mode}: node {honest} did not detect node 1 ({:?})",
                r.detections
            );
        }
        if mode != Mode::Replay {
            assert!(r.max_view >= 1, "{mode}: the primary was never replaced");
        }
    }
}

#[test]
fn an_equivocating_primary_cannot_split_honest_nodes_that_cannot_talk() {
    for seed in 0..seeds(6) {
        let r = assert_holds("equivocating primary, 2-3 cut", &equivocating_primary(seed));
        assert!(r.max_view >= 1, "seed {seed}: equivocator never replaced");
    }
}

#[test]
fn two_colluding_byzantine_nodes_of_four_break_agreement() {
    let found = first_agreement_break(40, |seed| {
        let mut c = equivocating_primary(seed);
        c.byzantine.insert(4, Mode::ForgeVotes);
        c
    });
    assert!(
        found.is_some(),
        "2 Byzantine of 4 (equivocate + forge-votes) never broke agreement in 40 seeds"
    );
}

#[test]
fn an_equivocating_primary_and_a_colluding_backup_break_agreement() {
    let found = first_agreement_break(20, |seed| {
        let mut c = equivocating_primary(seed);
        c.byzantine.insert(4, Mode::Collude);
        c
    });
    assert!(
        found.is_some(),
        "2 Byzantine of 4 (equivocate + collude) never broke agreement in 20 seeds"
    );
}

#[test]
fn small_quorum_bug_lets_one_equivocating_primary_break_agreement() {
    let found = first_agreement_break(20, |seed| {
        let mut c = equivocating_primary(seed);
        c.bugs = Bugs::from_list(&[Bug::SmallQuorum]);
        c
    });
    assert!(found.is_some(), "small-quorum never broke agreement");
}

#[test]
fn no_view_change_check_bug_loses_prepared_requests_across_a_view_change() {
    let found = first_agreement_break(20, |seed| {
        let mut c = lagging_backup_then_primary_crash(seed);
        c.bugs = Bugs::from_list(&[Bug::NoViewChangeCheck]);
        c
    });
    assert!(
        found.is_some(),
        "no-view-change-check never broke agreement"
    );
}

#[test]
#[ignore = "measurement: prints the violation rates written in the README"]
fn measure_violation_rates() {
    let n = seeds(100);
    let rows: Vec<(&str, Box<MakeConfig>)> = vec![
        (
            "correct, schedule A (1 equivocating primary, 2-3 cut)",
            Box::new(equivocating_primary),
        ),
        (
            "correct, schedule A + node 4 forge-votes (2 Byzantine of 4)",
            Box::new(|s| {
                let mut c = equivocating_primary(s);
                c.byzantine.insert(4, Mode::ForgeVotes);
                c
            }),
        ),
        (
            "correct, schedule A + node 4 collude (2 Byzantine of 4)",
            Box::new(|s| {
                let mut c = equivocating_primary(s);
                c.byzantine.insert(4, Mode::Collude);
                c
            }),
        ),
        (
            "small-quorum, schedule A",
            Box::new(|s| {
                let mut c = equivocating_primary(s);
                c.bugs = Bugs::from_list(&[Bug::SmallQuorum]);
                c
            }),
        ),
        (
            "correct, schedule B (lagging backup, primary crash)",
            Box::new(lagging_backup_then_primary_crash),
        ),
        (
            "no-view-change-check, schedule B",
            Box::new(|s| {
                let mut c = lagging_backup_then_primary_crash(s);
                c.bugs = Bugs::from_list(&[Bug::NoViewChangeCheck]);
                c
            }),
        ),
    ];
    for (label, make) in rows {
        let t = std::time::Instant::now();
        let (found, example) = violation_rate(n, make);
        println!(
            "{label}: violations in {found} of {n} seeds ({:.1?}); e.g. {:?}",
            t.elapsed(),
            example.first()
        );
    }
}
