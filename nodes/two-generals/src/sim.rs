//! In-process, seeded simulation of rounds: both generals' cores, messengers that take
//! `latency_ms` and are captured with probability `loss`, event-driven up to the deadline.
//! `run_round` plays one round (optionally writing the seed-style session); `simulate` counts
//! outcomes over many rounds; `table` and `format_table` give the lesson's table of agreement
//! by loss rate and number of acknowledgements.

use crate::core::{Decision, General, Messenger, Round, Send};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// How a simulated round runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SimParams {
    /// K, acknowledgements after the order.
    pub acks: u32,
    /// Probability that a messenger is captured.
    pub loss: f64,
    /// A general sends another messenger this often while its message is unanswered, ms.
    pub retry_ms: u64,
    /// A messenger's travel time, ms.
    pub latency_ms: u64,
    /// Both generals decide at this time, ms after the start.
    pub deadline_ms: u64,
}

impl Default for SimParams {
    fn default() -> Self {
        SimParams {
            acks: 1,
            loss: 0.3,
            retry_ms: 100,
            latency_ms: 10,
            deadline_ms: 300,
        }
    }
}

/// How a round ended for the two armies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Both attacked: victory.
    Together,
    /// Only A attacked: defeat.
    AloneA,
    /// Only B attacked: defeat.
    AloneB,
    /// Neither attacked: no victory, no defeat.
    BothHeld,
}

impl Outcome {
    /// From the two decisions (taken at the deadline, so never pending).
    pub fn of(a: Decision, b: Decision) -> Outcome {
        match (a == Decision::Attack, b == Decision::Attack) {
            (true, true) => Outcome::Together,
            (true, false) => Outcome::AloneA,
            (false, true) => Outcome::AloneB,
            (false, false) => Outcome::BothHeld,
        }
    }
}

/// One simulated round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoundResult {
    /// A's decision.
    pub a: Decision,
    /// B's decision.
    pub b: Decision,
    /// Messengers sent by both.
    pub messengers: u64,
    /// Messengers captured.
    pub captured: u64,
}

impl RoundResult {
    /// The outcome.
    pub fn outcome(&self) -> Outcome {
        Outcome::of(self.a, self.b)
    }
}

struct Field<'a> {
    p: SimParams,
    rng: &'a mut ChaCha8Rng,
    log: Option<&'a mut Vec<String>>,
    in_flight: Vec<(u64, Messenger)>,
    messengers: u64,
    captured: u64,
}

impl Field<'_> {
    fn dispatch(&mut self, now: u64, sends: Vec<Send>) {
        for s in sends {
            self.messengers += 1;
            let lost = self.p.loss > 0.0 && self.rng.gen_bool(self.p.loss.clamp(0.0, 1.0));
            if let Some(log) = self.log.as_deref_mut() {
                log.push(send_line(&s, !lost));
            }
            if lost {
                self.captured += 1;
            } else {
                self.in_flight.push((now + self.p.latency_ms, s.messenger));
            }
        }
    }

    fn next_arrival(&self) -> Option<u64> {
        self.in_flight.iter().map(|(t, _)| *t).min()
    }

    fn take_arrivals(&mut self, now: u64) -> Vec<Messenger> {
        let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.in_flight)
            .into_iter()
            .partition(|(t, _)| *t <= now);
        self.in_flight = later;
        due.into_iter().map(|(_, m)| m).collect()
    }
}

/// The seed-style line of one messenger.
pub fn send_line(s: &Send, delivered: bool) -> String {
    let fate = if delivered {
        "delivered"
    } else {
        "[MESSENGER CAPTURED]"
    };
    let who = s.messenger.from.letter();
    let text = s.messenger.text();
    if s.retry == 0 {
        format!("General {who}: \"{text}\" → {fate}")
    } else {
        format!("General {who}: (retry {}) \"{text}\" → {fate}", s.retry)
    }
}

/// The seed-style line of a decision.
pub fn decision_line(r: &Round) -> String {
    let who = r.me().letter();
    match r.decision(r.deadline()) {
        Decision::Attack => format!("General {who}: ATTACKS at {} ({})", r.time(), r.reason()),
        _ => format!("General {who}: HOLDS ({})", r.reason()),
    }
}

/// The seed-style summary line of an outcome.
pub fn outcome_line(o: Outcome, time: &str) -> String {
    match o {
        Outcome::Together => format!("Outcome: both armies attack at {time}: victory"),
        Outcome::AloneA => "Outcome: A attacked alone: defeat".to_string(),
        Outcome::AloneB => "Outcome: B attacked alone: defeat".to_string(),
        Outcome::BothHeld => "Outcome: both held: no attack".to_string(),
    }
}

/// Play one round (A proposes `time` at 0); with `log`, write the session into it.
pub fn run_round(
    p: SimParams,
    time: &str,
    rng: &mut ChaCha8Rng,
    log: Option<&mut Vec<String>>,
) -> RoundResult {
    let (mut a, first) = Round::start(1, time, p.acks, 0, p.deadline_ms, p.retry_ms);
    let mut b: Option<Round> = None;
    let mut field = Field {
        p,
        rng,
        log,
        in_flight: Vec::new(),
        messengers: 0,
        captured: 0,
    };
    field.dispatch(0, first);
    loop {
        let wake = [
            field.next_arrival(),
            a.next_wakeup(),
            b.as_ref().and_then(Round::next_wakeup),
        ];
        let Some(now) = wake.into_iter().flatten().min() else {
            break;
        };
        if now >= p.deadline_ms {
            break;
        }
        for m in field.take_arrivals(now) {
            let general = match m.from.other() {
                General::A => &mut a,
                General::B => b.get_or_insert_with(|| Round::join(&m, p.retry_ms)),
            };
            let reply = general.receive(now, &m);
            field.dispatch(now, reply);
        }
        let sends = a.tick(now);
        field.dispatch(now, sends);
        if let Some(b) = b.as_mut() {
            let sends = b.tick(now);
            field.dispatch(now, sends);
        }
    }
    let (messengers, captured) = (field.messengers, field.captured);
    let b_decision = b
        .as_ref()
        .map_or(Decision::Hold, |b| b.decision(p.deadline_ms));
    if let Some(log) = field.log {
        log.push(decision_line(&a));
        match &b {
            Some(b) => log.push(decision_line(b)),
            None => log.push("General B: HOLDS (no messenger ever came)".to_string()),
        }
        log.push(outcome_line(
            Outcome::of(a.decision(p.deadline_ms), b_decision),
            time,
        ));
    }
    RoundResult {
        a: a.decision(p.deadline_ms),
        b: b_decision,
        messengers,
        captured,
    }
}

/// Outcome counts over many rounds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Rounds played.
    pub rounds: u64,
    /// Both attacked.
    pub together: u64,
    /// One attacked alone.
    pub alone: u64,
    /// Neither attacked.
    pub both_held: u64,
}

impl Tally {
    fn add(&mut self, o: Outcome) {
        self.rounds += 1;
        match o {
            Outcome::Together => self.together += 1,
            Outcome::AloneA | Outcome::AloneB => self.alone += 1,
            Outcome::BothHeld => self.both_held += 1,
        }
    }

    /// Share of rounds where both attacked.
    pub fn together_rate(&self) -> f64 {
        ratio(self.together, self.rounds)
    }
    /// Share of rounds where one attacked alone.
    pub fn alone_rate(&self) -> f64 {
        ratio(self.alone, self.rounds)
    }
    /// Share of rounds where both held.
    pub fn held_rate(&self) -> f64 {
        ratio(self.both_held, self.rounds)
    }
}

fn ratio(n: u64, d: u64) -> f64 {
    if d == 0 {
        0.0
    } else {
        n as f64 / d as f64
    }
}

/// Play `rounds` rounds with one seed.
pub fn simulate(rounds: u64, p: SimParams, seed: u64) -> Tally {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut t = Tally::default();
    for _ in 0..rounds {
        t.add(run_round(p, "dawn", &mut rng, None).outcome());
    }
    t
}

/// One row of the lesson's table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Row {
    /// Loss rate.
    pub loss: f64,
    /// K.
    pub acks: u32,
    /// Counts.
    pub tally: Tally,
}

/// Every combination of loss and acks, each with its own seed derived from `seed`.
pub fn table(rounds: u64, losses: &[f64], acks: &[u32], base: SimParams, seed: u64) -> Vec<Row> {
    let mut rows = Vec::new();
    for (i, &loss) in losses.iter().enumerate() {
        for (j, &k) in acks.iter().enumerate() {
            let p = SimParams {
                loss,
                acks: k,
                ..base
            };
            let s = seed ^ ((i as u64) << 32) ^ (j as u64);
            rows.push(Row {
                loss,
                acks: k,
                tally: simulate(rounds, p, s),
            });
        }
    }
    rows
}

/// The table as text, one line per row.
pub fn format_table(rows: &[Row]) -> String {
    let mut s = String::from(
        "loss  acks  both attack  one alone  both held  alone/rounds\n----  ----  -----------  ---------  ---------  ------------\n",
    );
    for r in rows {
        s.push_str(&format!(
            "{:>4.2}  {:>4}  {:>10.1}%  {:>8.1}%  {:>8.1}%  {:>12}\n",
            r.loss,
            r.acks,
            100.0 * r.tally.together_rate(),
            100.0 * r.tally.alone_rate(),
            100.0 * r.tally.held_rate(),
            format!("{}/{}", r.tally.alone, r.tally.rounds)
        ));
    }
    s
}
