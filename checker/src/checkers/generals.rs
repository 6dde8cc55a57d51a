//! The `generals` checker: agreement in the Two Generals problem. The `generals` workload
//! plays rounds (`f: "round"`); an acknowledged round's completion value says what each
//! general decided after the round's deadline:
//! `{"round": R, "acks": K, "a": "attack"|"hold", "b": "attack"|"hold", "a_sent": N,
//! "b_sent": N, "a_received": N, "b_received": N, "a_acks": N, "b_acks": N}` (messengers
//! sent, messengers received and acknowledgements received by each), with `a_node` and
//! `b_node` naming the generals' nodes (default `n1`, `n2`).
//!
//! The generals agree when **both attack**. A round in which one general attacked alone
//! (defeat) or both held (no attack) is a disagreement, and one is enough to make the
//! history invalid: no finite protocol guarantees agreement over a lossy link, so a run
//! with loss is *expected* to be invalid, and a valid verdict says only that every round of
//! this run happened to end in a joint attack. A round whose outcome is unknown (`info`) is
//! counted, not judged; a history without an acknowledged round is `unknown`.
//!
//! Each round is also put in a cell (loss rate, K): the loss is the link loss between the
//! two generals in force when the round started: the whole run's loss
//! ([`GeneralsOptions::link_loss`]) combined with the `start-loss`/`stop-loss` nemesis
//! events of the history whose `links` include `a→b` or `b→a` (losses independent, the
//! larger direction taken). Rounds during which the loss changed are left out of the cells.
//! The cells (chance of a joint attack, of one general alone, of both holding, and the
//! messengers' delivery ratio) are what the report plots against K and the loss.

use super::common::{bad_op, push_capped, verdict};
use super::CheckerError;
use crate::history::{History, Op, OpType};
use crate::verdict::Validity;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// What the history alone does not say.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct GeneralsOptions {
    /// Loss probability of every node-to-node link for the whole run (`--link-loss`).
    pub link_loss: f64,
}

/// How a round ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Both attacked: victory, the only agreement that counts.
    BothAttack,
    /// A attacked, B held: defeat.
    AAlone,
    /// B attacked, A held: defeat.
    BAlone,
    /// Both held: no attack.
    BothHold,
}

impl Outcome {
    fn of(a_attacks: bool, b_attacks: bool) -> Outcome {
        match (a_attacks, b_attacks) {
            (true, true) => Outcome::BothAttack,
            (true, false) => Outcome::AAlone,
            (false, true) => Outcome::BAlone,
            (false, false) => Outcome::BothHold,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Outcome::BothAttack => "both attacked",
            Outcome::AAlone => "A attacked alone",
            Outcome::BAlone => "B attacked alone",
            Outcome::BothHold => "both held",
        }
    }
}

/// One acknowledged round, as the checker read it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Round {
    pub round: u64,
    pub acks: u64,
    pub outcome: Outcome,
    /// The link loss when it started; `None` when the loss changed during the round.
    pub loss: Option<f64>,
    pub a_sent: u64,
    pub b_sent: u64,
    pub a_received: u64,
    pub b_received: u64,
    pub a_acks: u64,
    pub b_acks: u64,
    /// Invoke and completion times, ns since the test started.
    pub start_ns: i64,
    pub end_ns: i64,
    pub invoke_index: u64,
}

/// The rounds played at one loss rate with one K.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cell {
    pub loss: f64,
    pub acks: u64,
    pub rounds: u64,
    pub both_attack: u64,
    pub one_alone: u64,
    pub both_hold: u64,
    /// `both_attack / rounds`.
    pub agreement: f64,
    /// Messengers sent by both generals, and how many arrived.
    pub messengers_sent: u64,
    pub messengers_received: u64,
}

/// The result of [`generals`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GeneralsReport {
    pub valid: Validity,
    /// Acknowledged rounds, and how they ended.
    pub rounds: u64,
    pub both_attack: u64,
    pub a_alone: u64,
    pub b_alone: u64,
    pub both_hold: u64,
    /// Rounds whose outcome is unknown (the client lost track: `info` or never completed).
    pub unknown_rounds: u64,
    /// Acknowledged rounds during which the link loss changed (in no cell).
    pub loss_changed_rounds: u64,
    /// By loss rate, then K.
    pub cells: Vec<Cell>,
    /// The first rounds without a joint attack (capped), earliest first.
    pub disagreements: Vec<Round>,
    /// One line: how many rounds disagreed and the first of them; absent if none did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
}

impl GeneralsReport {
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    fn disagreeing(&self) -> u64 {
        self.a_alone + self.b_alone + self.both_hold
    }
}

/// Checks the rounds of `history` (see the module doc).
pub fn generals(history: &History, opts: &GeneralsOptions) -> Result<GeneralsReport, CheckerError> {
    let mut rounds = Vec::new();
    let mut unknown_rounds = 0u64;
    let mut links = ("n1".to_string(), "n2".to_string());
    for call in history.pair()? {
        if call.f != "round" {
            continue;
        }
        match (call.outcome, call.complete) {
            (OpType::Ok, Some(done)) => {
                let (inv, comp) = (&history.ops[call.invoke], &history.ops[done]);
                links = generals_nodes(comp).unwrap_or(links);
                rounds.push(read_round(inv, comp)?);
            }
            (OpType::Fail, _) => {}
            _ => unknown_rounds += 1,
        }
    }
    let timeline = LossTimeline::new(history, &links, opts.link_loss);
    for r in &mut rounds {
        r.loss = timeline.steady(r.start_ns, r.end_ns);
    }
    rounds.sort_by_key(|r| (r.start_ns, r.invoke_index));
    Ok(report(rounds, unknown_rounds))
}

fn report(rounds: Vec<Round>, unknown_rounds: u64) -> GeneralsReport {
    let count = |o: Outcome| rounds.iter().filter(|r| r.outcome == o).count() as u64;
    let mut disagreements = Vec::new();
    for r in rounds.iter().filter(|r| r.outcome != Outcome::BothAttack) {
        push_capped(&mut disagreements, r.clone());
    }
    let mut out = GeneralsReport {
        valid: Validity::Unknown,
        rounds: rounds.len() as u64,
        both_attack: count(Outcome::BothAttack),
        a_alone: count(Outcome::AAlone),
        b_alone: count(Outcome::BAlone),
        both_hold: count(Outcome::BothHold),
        unknown_rounds,
        loss_changed_rounds: rounds.iter().filter(|r| r.loss.is_none()).count() as u64,
        cells: cells(&rounds),
        disagreements,
        summary: None,
    };
    out.valid = verdict(out.disagreeing() > 0, out.rounds > 0);
    out.summary = out
        .disagreements
        .first()
        .map(|first| summary_of(&out, first));
    out
}

/// `7 of 300 rounds without a joint attack (4 alone, 3 both held); first: round 17 (K=2,
/// 30% loss) at 3.201 s: A attacked alone`.
fn summary_of(r: &GeneralsReport, first: &Round) -> String {
    let loss = first.loss.map_or_else(
        || "loss changing".to_string(),
        |l| format!("{}% loss", pct(l)),
    );
    format!(
        "{} of {} rounds without a joint attack ({} with one general alone, {} both held); \
         first: round {} (K={}, {loss}) at {:.3} s: {}",
        r.disagreeing(),
        r.rounds,
        r.a_alone + r.b_alone,
        r.both_hold,
        first.round,
        first.acks,
        first.start_ns as f64 / 1e9,
        first.outcome.name()
    )
}

fn pct(p: f64) -> f64 {
    (p * 1000.0).round() / 10.0
}

/// The rounds with a steady loss, grouped by (loss, K), sorted.
fn cells(rounds: &[Round]) -> Vec<Cell> {
    let mut by: BTreeMap<(u64, u64), Cell> = BTreeMap::new();
    for r in rounds {
        let Some(loss) = r.loss else { continue };
        let key = ((loss * 1000.0).round() as u64, r.acks);
        let c = by.entry(key).or_insert(Cell {
            loss: key.0 as f64 / 1000.0,
            acks: r.acks,
            rounds: 0,
            both_attack: 0,
            one_alone: 0,
            both_hold: 0,
            agreement: 0.0,
            messengers_sent: 0,
            messengers_received: 0,
        });
        c.rounds += 1;
        match r.outcome {
            Outcome::BothAttack => c.both_attack += 1,
            Outcome::AAlone | Outcome::BAlone => c.one_alone += 1,
            Outcome::BothHold => c.both_hold += 1,
        }
        c.messengers_sent += r.a_sent + r.b_sent;
        c.messengers_received += r.a_received + r.b_received;
    }
    by.into_values()
        .map(|mut c| {
            c.agreement = c.both_attack as f64 / c.rounds as f64;
            c
        })
        .collect()
}

/// The generals' node names of a round's answer (`a_node`, `b_node`), if recorded.
fn generals_nodes(comp: &Op) -> Option<(String, String)> {
    let name = |k: &str| {
        comp.value
            .get(k)
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    Some((name("a_node")?, name("b_node")?))
}

fn read_round(inv: &Op, comp: &Op) -> Result<Round, CheckerError> {
    let v = &comp.value;
    let num = |name: &str| {
        v.get(name).and_then(Value::as_u64).ok_or_else(|| {
            bad_op(
                comp,
                format!("an ok round needs an integer `{name}`, found {v}"),
            )
        })
    };
    let attacks = |name: &str| match v.get(name).and_then(Value::as_str) {
        Some("attack") => Ok(true),
        Some("hold") => Ok(false),
        _ => Err(bad_op(
            comp,
            format!("an ok round needs `{name}`: \"attack\" or \"hold\", found {v}"),
        )),
    };
    Ok(Round {
        round: num("round")?,
        acks: num("acks")?,
        outcome: Outcome::of(attacks("a")?, attacks("b")?),
        loss: None,
        a_sent: num("a_sent")?,
        b_sent: num("b_sent")?,
        a_received: num("a_received")?,
        b_received: num("b_received")?,
        a_acks: num("a_acks")?,
        b_acks: num("b_acks")?,
        start_ns: inv.time,
        end_ns: comp.time,
        invoke_index: inv.index,
    })
}

/// The link loss between the two generals over time: the whole-run loss combined with the
/// loss faults of the nemesis on either direction of their link.
struct LossTimeline {
    base: f64,
    /// (time, nemesis loss on the generals' link from then on), in history order.
    changes: Vec<(i64, f64)>,
}

impl LossTimeline {
    fn new(history: &History, (a, b): &(String, String), base: f64) -> LossTimeline {
        let names = [format!("{a}→{b}"), format!("{b}→{a}")];
        let mut changes = Vec::new();
        for op in history.ops.iter().filter(|o| o.process.is_nemesis()) {
            let loss = match op.f.as_str() {
                "start-loss" => on_link(&op.value, &names),
                "stop-loss" => 0.0,
                _ => continue,
            };
            changes.push((op.time, loss));
        }
        LossTimeline { base, changes }
    }

    fn at(&self, t: i64) -> f64 {
        let nemesis = self
            .changes
            .iter()
            .take_while(|(when, _)| *when <= t)
            .last()
            .map_or(0.0, |(_, l)| *l);
        1.0 - (1.0 - self.base) * (1.0 - nemesis)
    }

    /// The loss over `[start, end]`, or `None` if it changed in between.
    fn steady(&self, start: i64, end: i64) -> Option<f64> {
        let changed = self
            .changes
            .iter()
            .any(|(when, _)| *when > start && *when <= end);
        (!changed).then(|| self.at(start))
    }
}

/// The loss a `start-loss` value puts on one of `names` (0 if it names neither).
fn on_link(value: &Value, names: &[String]) -> f64 {
    let hits = value
        .get("links")
        .and_then(Value::as_array)
        .is_some_and(|l| {
            l.iter()
                .any(|x| names.iter().any(|n| x.as_str() == Some(n)))
        });
    if hits {
        value.get("loss").and_then(Value::as_f64).unwrap_or(0.0)
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Process;
    use serde_json::json;

    fn round(r: u64, acks: u64, a: &str, b: &str) -> Value {
        json!({"round": r, "acks": acks, "a": a, "b": b, "a_sent": 3, "b_sent": 2,
               "a_received": 1, "b_received": 2, "a_acks": 1, "b_acks": 0})
    }

    /// Events: (process or None for the nemesis, type, f, value, time).
    fn hist(events: &[(Option<u64>, OpType, &str, Value, i64)]) -> History {
        History::new(
            events
                .iter()
                .enumerate()
                .map(|(i, (p, t, f, v, time))| {
                    let process = p.map_or(Process::Nemesis, Process::Client);
                    Op::new(i as u64, *time, *t, process, f, v.clone())
                })
                .collect(),
        )
    }

    fn loss_event(loss: f64) -> Value {
        json!({"links": ["n1→n2", "n2→n1"], "loss": loss, "text": "n1→n2, n2→n1"})
    }

    #[test]
    fn one_general_alone_or_both_holding_makes_the_history_invalid() {
        use OpType::*;
        let h = hist(&[
            (Some(0), Invoke, "round", json!({"round": 0}), 10),
            (Some(0), Ok, "round", round(0, 1, "attack", "attack"), 20),
            (Some(0), Invoke, "round", json!({"round": 1}), 30),
            (Some(0), Ok, "round", round(1, 1, "attack", "hold"), 40),
            (Some(1), Invoke, "round", json!({"round": 2}), 31),
            (Some(1), Ok, "round", round(2, 2, "hold", "hold"), 41),
            (Some(2), Invoke, "round", json!({"round": 3}), 50),
            (Some(2), Info, "round", Value::Null, 60),
            (Some(3), Invoke, "round", json!({"round": 4}), 50),
            (Some(3), Fail, "round", Value::Null, 60),
        ]);
        let r = generals(&h, &GeneralsOptions::default()).unwrap();
        assert_eq!(r.valid, Validity::Invalid);
        assert_eq!(
            (r.rounds, r.both_attack, r.a_alone, r.b_alone, r.both_hold),
            (3, 1, 1, 0, 1)
        );
        assert_eq!(r.unknown_rounds, 1);
        assert_eq!(r.disagreements.len(), 2);
        assert_eq!(r.disagreements[0].outcome, Outcome::AAlone);
        let s = r.summary.expect("summary");
        assert!(
            s.starts_with("2 of 3 rounds without a joint attack (1 with one general alone, 1 both held); first: round 1 (K=1, 0% loss)"),
            "{s}"
        );
        assert!(s.ends_with("A attacked alone"), "{s}");
    }

    #[test]
    fn only_joint_attacks_is_valid_and_no_round_is_unknown() {
        use OpType::*;
        let h = hist(&[
            (Some(0), Invoke, "round", json!({"round": 0}), 10),
            (Some(0), Ok, "round", round(0, 0, "attack", "attack"), 20),
        ]);
        let r = generals(&h, &GeneralsOptions::default()).unwrap();
        assert_eq!(r.valid, Validity::Valid);
        assert!(r.summary.is_none());
        let h = hist(&[
            (Some(0), Invoke, "round", json!({"round": 0}), 10),
            (Some(0), Info, "round", Value::Null, 20),
        ]);
        assert_eq!(
            generals(&h, &GeneralsOptions::default()).unwrap().valid,
            Validity::Unknown
        );
    }

    #[test]
    fn rounds_fall_in_cells_by_the_loss_in_force_and_changing_loss_is_left_out() {
        use OpType::*;
        let h = hist(&[
            (Some(0), Invoke, "round", json!({"round": 0}), 10),
            (Some(0), Ok, "round", round(0, 1, "attack", "attack"), 20),
            (None, Info, "start-loss", loss_event(0.5), 25),
            (Some(0), Invoke, "round", json!({"round": 1}), 30),
            (Some(0), Ok, "round", round(1, 1, "attack", "hold"), 40),
            (Some(1), Invoke, "round", json!({"round": 2}), 35),
            (None, Info, "stop-loss", loss_event(0.0), 45),
            (Some(1), Ok, "round", round(2, 1, "attack", "attack"), 50),
            (Some(0), Invoke, "round", json!({"round": 3}), 60),
            (Some(0), Ok, "round", round(3, 2, "attack", "attack"), 70),
        ]);
        let r = generals(&h, &GeneralsOptions { link_loss: 0.2 }).unwrap();
        assert_eq!(r.loss_changed_rounds, 1);
        let got: Vec<(f64, u64, u64, u64)> = r
            .cells
            .iter()
            .map(|c| (c.loss, c.acks, c.rounds, c.both_attack))
            .collect();
        // 0.2 whole-run; 0.2 and 0.5 together lose 1 - 0.8 * 0.5 = 0.6.
        assert_eq!(got, vec![(0.2, 1, 1, 1), (0.2, 2, 1, 1), (0.6, 1, 1, 0)]);
        assert_eq!(r.cells[2].one_alone, 1);
        assert_eq!(r.cells[0].agreement, 1.0);
        assert_eq!(
            (r.cells[0].messengers_sent, r.cells[0].messengers_received),
            (5, 3)
        );
        assert!(r.summary.unwrap().contains("(K=1, 60% loss)"));
    }

    #[test]
    fn a_loss_fault_on_other_links_does_not_count_and_a_bad_answer_is_an_error() {
        use OpType::*;
        let other = json!({"links": ["n3→n1"], "loss": 0.5});
        let h = hist(&[
            (None, Info, "start-loss", other, 5),
            (Some(0), Invoke, "round", json!({"round": 0}), 10),
            (Some(0), Ok, "round", round(0, 1, "attack", "attack"), 20),
        ]);
        let r = generals(&h, &GeneralsOptions::default()).unwrap();
        assert_eq!(r.cells[0].loss, 0.0);
        let h = hist(&[
            (Some(0), Invoke, "round", json!({"round": 0}), 10),
            (
                Some(0),
                Ok,
                "round",
                json!({"round": 0, "acks": 1, "a": "charge"}),
                20,
            ),
        ]);
        let err = generals(&h, &GeneralsOptions::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("`a`") && err.contains("attack"), "{err}");
    }
}
