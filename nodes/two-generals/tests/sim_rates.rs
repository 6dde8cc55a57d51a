//! The lesson in numbers: with no loss the generals always attack together; when the last
//! messenger of the chain is certainly lost they disagree, whatever K; in simulation the
//! chance of attacking together falls as loss rises, and one general attacking alone never
//! goes away for any finite number of acknowledgements.

use rand::SeedableRng;
use two_generals::core::{Decision, General, Messenger, Round, Send};
use two_generals::sim::{run_round, simulate, table, SimParams};

#[test]
fn with_no_loss_they_always_attack_together() {
    for acks in 0..=5 {
        let p = SimParams {
            acks,
            loss: 0.0,
            ..SimParams::default()
        };
        let t = simulate(200, p, 7);
        assert_eq!(t.together, 200, "acks={acks}: {t:?}");
    }
}

/// Drive both cores by hand, losing every messenger that carries message `lost_seq`.
fn play_losing(acks: u32, lost_seq: u32) -> (Decision, Decision) {
    let deadline = 1_000;
    let (mut a, first) = Round::start(1, "dawn", acks, 0, deadline, 100);
    let mut b: Option<Round> = None;
    let mut queue: Vec<(u64, Send)> = first.into_iter().map(|s| (0, s)).collect();
    let mut now = 0;
    while now < deadline {
        let due: Vec<Messenger> = queue
            .drain(..)
            .filter(|(_, s)| s.messenger.seq != lost_seq)
            .map(|(_, s)| s.messenger)
            .collect();
        now += 10;
        for m in due {
            let replies = match m.from {
                General::A => b
                    .get_or_insert_with(|| Round::join(&m, 100))
                    .receive(now, &m),
                General::B => a.receive(now, &m),
            };
            queue.extend(replies.into_iter().map(|s| (now, s)));
        }
        queue.extend(a.tick(now).into_iter().map(|s| (now, s)));
        if let Some(b) = b.as_mut() {
            queue.extend(b.tick(now).into_iter().map(|s| (now, s)));
        }
    }
    let b = b.map_or(Decision::Hold, |b| b.decision(deadline));
    (a.decision(deadline), b)
}

#[test]
fn when_the_last_messenger_is_always_captured_they_disagree() {
    for acks in 0..=6 {
        let (a, b) = play_losing(acks, acks);
        let sender_of_last = General::sender_of(acks);
        let (attacker, holder) = match sender_of_last {
            General::A => (a, b),
            General::B => (b, a),
        };
        assert_eq!(
            attacker,
            Decision::Attack,
            "acks={acks}: the last sender attacks"
        );
        assert_eq!(holder, Decision::Hold, "acks={acks}: its peer holds");
    }
    // Losing an earlier message instead: both hold (no defeat, no victory).
    assert_eq!(play_losing(3, 1), (Decision::Hold, Decision::Hold));
    // Losing nothing: both attack.
    assert_eq!(play_losing(3, 99), (Decision::Attack, Decision::Attack));
}

#[test]
fn agreement_falls_with_loss_and_one_alone_never_vanishes() {
    let losses = [0.1, 0.3, 0.5, 0.7];
    let acks = [0, 1, 2, 3];
    let rows = table(3_000, &losses, &acks, SimParams::default(), 42);
    for &k in &acks {
        let together: Vec<f64> = rows
            .iter()
            .filter(|r| r.acks == k)
            .map(|r| r.tally.together_rate())
            .collect();
        assert!(
            together.windows(2).all(|w| w[0] > w[1]),
            "acks={k}: both-attack rates {together:?} must fall as loss rises"
        );
        let alone_at_half = rows
            .iter()
            .find(|r| r.acks == k && r.loss == 0.5)
            .map(|r| r.tally.alone)
            .unwrap_or(0);
        assert!(
            alone_at_half > 0,
            "acks={k}: someone attacked alone at 50% loss"
        );
    }
    for r in &rows {
        assert_eq!(r.tally.together + r.tally.alone + r.tally.both_held, 3_000);
    }
}

#[test]
fn the_same_seed_gives_the_same_session() {
    let p = SimParams {
        acks: 2,
        loss: 0.4,
        ..SimParams::default()
    };
    let play = |seed| {
        let mut log = Vec::new();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let r = run_round(p, "dawn", &mut rng, Some(&mut log));
        (r, log)
    };
    assert_eq!(play(3), play(3));
    let (r, log) = play(3);
    assert!(
        log[0].starts_with("General A: \"Attack at dawn!\" → "),
        "{log:?}"
    );
    assert!(
        log.last().is_some_and(|l| l.starts_with("Outcome: ")),
        "{log:?}"
    );
    assert_eq!(r.messengers as usize, log.len() - 3);
}
