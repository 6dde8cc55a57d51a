//! The bully core in the deterministic simulation: the highest live id wins, a crashed
//! coordinator is replaced, a returning higher id takes over; under a partition into {1,2,3}
//! and {4,5} classic bully ends with two leaders acting, quorum mode never has two leaders
//! acting at once (checked after every simulated millisecond, over many seeds).

use bully::core::RoleName;
use bully::sim::{Sim, SimConfig};

/// Run until every live node follows one acting leader; that leader, or a panic with the log.
fn settle(sim: &mut Sim, within_ms: u64) -> u64 {
    for _ in 0..within_ms {
        sim.step();
        let views = sim.views();
        let acting = sim.acting();
        if let [l] = acting[..] {
            if views.values().all(|v| v.leader == Some(l)) {
                return l;
            }
        }
    }
    panic!(
        "no single leader followed by all within {within_ms} ms: views {:?}\n{}",
        sim.views(),
        tail(sim)
    );
}

fn tail(sim: &Sim) -> String {
    let log = sim.log();
    log[log.len().saturating_sub(60)..].join("\n")
}

fn at_most_one_acting(sim: &Sim) {
    let acting = sim.acting();
    assert!(
        acting.len() <= 1,
        "two leaders acting at {} ms: {acting:?}\n{}",
        sim.now(),
        tail(sim)
    );
}

#[test]
fn the_highest_id_wins_in_both_modes() {
    for quorum in [false, true] {
        for seed in 0..5 {
            let mut sim = Sim::new(SimConfig::five(quorum, seed));
            assert_eq!(settle(&mut sim, 3_000), 5, "quorum={quorum} seed={seed}");
            let v = sim.views();
            assert_eq!(v[&5].role, RoleName::Leader);
            for id in 1..=4 {
                assert_eq!(v[&id].role, RoleName::Follower, "node {id}");
            }
        }
    }
}

#[test]
fn a_crashed_coordinator_is_replaced_by_the_next_highest() {
    for quorum in [false, true] {
        for seed in 0..5 {
            let mut sim = Sim::new(SimConfig::five(quorum, seed));
            settle(&mut sim, 3_000);
            sim.crash(5);
            assert_eq!(settle(&mut sim, 3_000), 4, "quorum={quorum} seed={seed}");
            sim.crash(4);
            assert_eq!(settle(&mut sim, 3_000), 3, "quorum={quorum} seed={seed}");
        }
    }
}

#[test]
fn a_returning_higher_id_bullies_its_way_back_with_a_higher_epoch() {
    for quorum in [false, true] {
        for seed in 0..5 {
            let mut sim = Sim::new(SimConfig::five(quorum, seed));
            settle(&mut sim, 3_000);
            sim.crash(5);
            settle(&mut sim, 3_000);
            let epoch4 = sim
                .node(4)
                .and_then(|n| n.leadership_epoch())
                .expect("4 leads");
            sim.restart(5);
            assert_eq!(settle(&mut sim, 3_000), 5, "quorum={quorum} seed={seed}");
            let epoch5 = sim
                .node(5)
                .and_then(|n| n.leadership_epoch())
                .expect("5 leads");
            assert!(epoch5 > epoch4, "epoch {epoch5} after {epoch4}");
        }
    }
}

#[test]
fn classic_bully_splits_into_two_leaders_under_a_partition() {
    for seed in 0..10 {
        let mut sim = Sim::new(SimConfig::five(false, seed));
        settle(&mut sim, 3_000);
        sim.partition(&[&[1, 2, 3], &[4, 5]]);
        sim.run_for(3_000, |_| {});
        assert_eq!(sim.acting(), vec![3, 5], "seed {seed}\n{}", tail(&sim));
        sim.heal();
        assert_eq!(
            settle(&mut sim, 3_000),
            5,
            "seed {seed}: 5 leads again after heal"
        );
    }
}

#[test]
fn quorum_mode_never_has_two_leaders_acting_under_that_partition() {
    for seed in 0..40 {
        let mut sim = Sim::new(SimConfig::five(true, seed));
        sim.run_for(2_000, at_most_one_acting);
        sim.partition(&[&[1, 2, 3], &[4, 5]]);
        sim.run_for(3_000, at_most_one_acting);
        assert_eq!(
            sim.acting(),
            vec![3],
            "seed {seed}: the majority side leads"
        );
        sim.heal();
        sim.run_for(3_000, at_most_one_acting);
        assert_eq!(
            sim.acting(),
            vec![5],
            "seed {seed}: 5 leads again after heal"
        );
    }
}

/// Random partitions, crashes, restarts and 5% message loss, every 300–1500 ms: quorum mode
/// keeps at most one leader acting after every millisecond; classic mode, run on the same
/// schedules, shows two at some point (the check can fail).
#[test]
fn quorum_mode_is_safe_under_random_faults_where_classic_is_not() {
    use rand::{Rng, SeedableRng};
    let mut classic_split = 0;
    for seed in 0..30 {
        for quorum in [true, false] {
            let mut cfg = SimConfig::five(quorum, seed);
            cfg.loss = 0.05;
            let mut sim = Sim::new(cfg);
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            let mut split = false;
            for _ in 0..12 {
                random_fault(&mut sim, &mut rng);
                let ms = rng.gen_range(300..1500);
                sim.run_for(ms, |s| {
                    if quorum {
                        at_most_one_acting(s)
                    } else {
                        split |= s.acting().len() > 1;
                    }
                });
            }
            classic_split += usize::from(split);
        }
    }
    assert!(
        classic_split > 0,
        "classic bully never split: the schedules are too mild"
    );
}

fn random_fault(sim: &mut Sim, rng: &mut impl rand::Rng) {
    match rng.gen_range(0..4) {
        0 => {
            let mut ids: Vec<u64> = (1..=5).collect();
            let k = rng.gen_range(1..5);
            for i in 0..5 {
                ids.swap(i, rng.gen_range(i..5));
            }
            let (a, b) = ids.split_at(k);
            sim.partition(&[a, b]);
        }
        1 => sim.heal(),
        2 => sim.crash(rng.gen_range(1..=5)),
        _ => sim.restart(rng.gen_range(1..=5)),
    }
}

/// Quorum mode, random faults: each (leader, epoch) acts over one unbroken span of time and
/// the spans of different leaderships never overlap, so a checker may compare spans built
/// from sampled acts.
#[test]
fn quorum_leaderships_are_unbroken_and_disjoint_spans() {
    use rand::{Rng, SeedableRng};
    use std::collections::BTreeMap;
    for seed in 0..30 {
        let mut cfg = SimConfig::five(true, seed);
        cfg.loss = 0.05;
        let mut sim = Sim::new(cfg);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed + 1000);
        // (leader, epoch) -> (first ms, last ms, ms acting)
        let mut spans: BTreeMap<(u64, u64), (u64, u64, u64)> = BTreeMap::new();
        for _ in 0..12 {
            random_fault(&mut sim, &mut rng);
            let ms = rng.gen_range(300..1500);
            sim.run_for(ms, |s| {
                for id in s.acting() {
                    let epoch = s
                        .node(id)
                        .and_then(|n| n.leadership_epoch())
                        .expect("epoch");
                    let e = spans.entry((id, epoch)).or_insert((s.now(), s.now(), 0));
                    e.1 = s.now();
                    e.2 += 1;
                }
            });
        }
        for (&(id, epoch), &(first, last, count)) in &spans {
            assert_eq!(
                last - first + 1,
                count,
                "seed {seed}: node {id} epoch {epoch} acted with a gap in [{first}, {last}]"
            );
        }
        let list: Vec<_> = spans.iter().collect();
        for (i, (ka, a)) in list.iter().enumerate() {
            for (kb, b) in &list[i + 1..] {
                if ka.0 != kb.0 {
                    assert!(
                        a.1 < b.0 || b.1 < a.0,
                        "seed {seed}: leaderships {ka:?} {a:?} and {kb:?} {b:?} overlap"
                    );
                }
            }
        }
    }
}

/// One-way cuts: node 3 cannot hear 4 and 5 (their OKs and heartbeats are lost) but they
/// hear it. Classic bully: 3 declares itself coordinator while 5 still leads (two acting).
/// Quorum mode: leadership may move back and forth, but never two act at once.
#[test]
fn one_way_cuts_split_classic_but_not_quorum() {
    for seed in 0..10 {
        let mut classic = Sim::new(SimConfig::five(false, seed));
        settle(&mut classic, 3_000);
        classic.cut_one_way(4, 3);
        classic.cut_one_way(5, 3);
        let mut most = 0;
        classic.run_for(3_000, |s| most = most.max(s.acting().len()));
        assert_eq!(most, 2, "seed {seed}: classic splits\n{}", tail(&classic));

        let mut quorum = Sim::new(SimConfig::five(true, seed));
        settle(&mut quorum, 3_000);
        quorum.cut_one_way(4, 3);
        quorum.cut_one_way(5, 3);
        quorum.run_for(5_000, at_most_one_acting);
        quorum.heal();
        assert_eq!(
            settle(&mut quorum, 3_000),
            5,
            "seed {seed}: 5 leads after the heal"
        );
    }
}
