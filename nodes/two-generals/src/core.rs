//! The pure core of one general in one round: messengers in, messengers out, the decision at
//! the deadline. No I/O, clock or randomness: the caller passes `now` (milliseconds on the
//! round's clock; the deadline is on the same clock) and decides which messengers are lost.
//!
//! The chain of a round with `acks = K`: message 0 is A's order "Attack at T!", message 1 is
//! B's acknowledgement, message 2 A's acknowledgement of it, ... up to message K. Even
//! numbers go from A to B, odd ones from B to A. A general owes the message after the last
//! one it received (A owes message 0 from the start) and sends a messenger every `retry_ms`
//! until the next message of the chain arrives or the deadline passes; nobody acknowledges
//! message K, so its sender keeps sending it until the deadline. At the deadline each general
//! attacks if it received the last message of the chain addressed to it (A with K = 0 needs
//! nothing), else holds. Whoever sends message K cannot know whether it arrived: that
//! messenger decides whether the generals agree, for every finite K.

use serde::{Deserialize, Serialize};

/// Which general.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum General {
    /// Proposes the time and starts rounds.
    A,
    /// Receives the order.
    B,
}

impl General {
    /// The other general.
    pub fn other(self) -> General {
        match self {
            General::A => General::B,
            General::B => General::A,
        }
    }

    /// Who sends message `seq` of a chain.
    pub fn sender_of(seq: u32) -> General {
        if seq & 1 == 0 {
            General::A
        } else {
            General::B
        }
    }

    /// The letter.
    pub fn letter(self) -> &'static str {
        match self {
            General::A => "A",
            General::B => "B",
        }
    }
}

/// One messenger's message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Messenger {
    /// Round number.
    pub round: u64,
    /// Position in the chain (0 = the order).
    pub seq: u32,
    /// Sender.
    pub from: General,
    /// The proposed attack time.
    pub time: String,
    /// K: the number of acknowledgement messages after the order.
    pub acks: u32,
    /// The round's deadline (ms on the round's clock: Unix ms over HTTP).
    pub deadline: u64,
}

impl Messenger {
    /// What the messenger says: `Attack at dawn!`, `Ack: dawn`, `Ack of ack: dawn`, `Ack^3: dawn`.
    pub fn text(&self) -> String {
        match self.seq {
            0 => format!("Attack at {}!", self.time),
            1 => format!("Ack: {}", self.time),
            2 => format!("Ack of ack: {}", self.time),
            n => format!("Ack^{n}: {}", self.time),
        }
    }
}

/// A general's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Before the deadline.
    Pending,
    /// Attacks at the agreed time.
    Attack,
    /// Does not attack.
    Hold,
}

/// A messenger sent by this general: `retry` is 0 for the first messenger of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Send {
    /// The messenger.
    pub messenger: Messenger,
    /// How many messengers carried this message before.
    pub retry: u32,
}

/// One general's state in one round.
#[derive(Debug, Clone)]
pub struct Round {
    me: General,
    round: u64,
    time: String,
    acks: u32,
    deadline: u64,
    retry_ms: u64,
    highest_received: Option<u32>,
    owed: Option<(u32, u32)>,
    next_send: u64,
    messages_sent: u64,
    messengers_received: u64,
}

/// The seq of the last message addressed to `me` in a chain of `acks` acknowledgements.
pub fn last_addressed_to(me: General, acks: u32) -> Option<u32> {
    (0..=acks).rev().find(|&s| General::sender_of(s) != me)
}

impl Round {
    /// General A starts round `round` at `now`: it owes the order and sends it at once.
    pub fn start(
        round: u64,
        time: &str,
        acks: u32,
        now: u64,
        deadline: u64,
        retry_ms: u64,
    ) -> (Round, Vec<Send>) {
        let mut r = Round::new(General::A, round, time, acks, deadline, retry_ms);
        r.owed = Some((0, 0));
        r.next_send = now;
        let out = r.tick(now);
        (r, out)
    }

    /// General B learns of a round from its first messenger.
    pub fn join(first: &Messenger, retry_ms: u64) -> Round {
        Round::new(
            General::B,
            first.round,
            &first.time,
            first.acks,
            first.deadline,
            retry_ms,
        )
    }

    fn new(me: General, round: u64, time: &str, acks: u32, deadline: u64, retry_ms: u64) -> Round {
        Round {
            me,
            round,
            time: time.to_string(),
            acks,
            deadline,
            retry_ms: retry_ms.max(1),
            highest_received: None,
            owed: None,
            next_send: 0,
            messages_sent: 0,
            messengers_received: 0,
        }
    }

    /// A messenger arrived at `now`. Returns the reply, if one is due at once. Messengers
    /// after the deadline, of another round or out of the chain are ignored.
    pub fn receive(&mut self, now: u64, m: &Messenger) -> Vec<Send> {
        if now >= self.deadline
            || m.round != self.round
            || m.from == self.me
            || General::sender_of(m.seq) != m.from
            || m.seq > self.acks
        {
            return Vec::new();
        }
        self.messengers_received += 1;
        if self.highest_received.is_some_and(|h| h >= m.seq) {
            return Vec::new();
        }
        self.highest_received = Some(m.seq);
        if m.seq < self.acks {
            self.owed = Some((m.seq + 1, 0));
            self.next_send = now;
            self.tick(now)
        } else {
            self.owed = None;
            Vec::new()
        }
    }

    /// Send the owed message again if its retry time has come (before the deadline).
    pub fn tick(&mut self, now: u64) -> Vec<Send> {
        let Some((seq, retry)) = self.owed else {
            return Vec::new();
        };
        if now >= self.deadline || now < self.next_send {
            return Vec::new();
        }
        self.owed = Some((seq, retry + 1));
        self.next_send = now + self.retry_ms;
        self.messages_sent += 1;
        vec![Send {
            messenger: Messenger {
                round: self.round,
                seq,
                from: self.me,
                time: self.time.clone(),
                acks: self.acks,
                deadline: self.deadline,
            },
            retry,
        }]
    }

    /// When this general next needs a `tick` (None: never again).
    pub fn next_wakeup(&self) -> Option<u64> {
        self.owed
            .filter(|_| self.next_send < self.deadline)
            .map(|_| self.next_send)
    }

    /// The decision at `now`: pending before the deadline, then attack iff the last message
    /// of the chain addressed to this general arrived.
    pub fn decision(&self, now: u64) -> Decision {
        if now < self.deadline {
            return Decision::Pending;
        }
        match last_addressed_to(self.me, self.acks) {
            None => Decision::Attack,
            Some(need) if self.highest_received.is_some_and(|h| h >= need) => Decision::Attack,
            Some(_) => Decision::Hold,
        }
    }

    /// Which general this is.
    pub fn me(&self) -> General {
        self.me
    }
    /// The round number.
    pub fn round(&self) -> u64 {
        self.round
    }
    /// The proposed time.
    pub fn time(&self) -> &str {
        &self.time
    }
    /// K.
    pub fn acks(&self) -> u32 {
        self.acks
    }
    /// The deadline.
    pub fn deadline(&self) -> u64 {
        self.deadline
    }
    /// Messengers sent so far.
    pub fn messages_sent(&self) -> u64 {
        self.messages_sent
    }
    /// Distinct messages of the chain received that acknowledge something (seq >= 1).
    pub fn acks_received(&self) -> u64 {
        let Some(h) = self.highest_received else {
            return 0;
        };
        (1..=h)
            .filter(|&s| General::sender_of(s) != self.me)
            .count() as u64
    }
    /// Messengers received (duplicates included).
    pub fn messengers_received(&self) -> u64 {
        self.messengers_received
    }
    /// The highest message of the chain received.
    pub fn highest_received(&self) -> Option<u32> {
        self.highest_received
    }
    /// Why this general decided as it did, for the log.
    pub fn reason(&self) -> String {
        match (last_addressed_to(self.me, self.acks), self.highest_received) {
            (None, _) => "it needs no confirmation".to_string(),
            (Some(need), Some(h)) if h >= need => format!("it got message {need} of the chain"),
            (Some(need), _) => format!("message {need} of the chain never came"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(seq: u32, acks: u32) -> Messenger {
        Messenger {
            round: 1,
            seq,
            from: General::sender_of(seq),
            time: "dawn".into(),
            acks,
            deadline: 1000,
        }
    }

    #[test]
    fn texts_follow_the_seed() {
        assert_eq!(msg(0, 3).text(), "Attack at dawn!");
        assert_eq!(msg(1, 3).text(), "Ack: dawn");
        assert_eq!(msg(2, 3).text(), "Ack of ack: dawn");
        assert_eq!(msg(3, 3).text(), "Ack^3: dawn");
    }

    #[test]
    fn last_message_addressed_to_each_general() {
        assert_eq!(last_addressed_to(General::A, 0), None);
        assert_eq!(last_addressed_to(General::B, 0), Some(0));
        assert_eq!(last_addressed_to(General::A, 1), Some(1));
        assert_eq!(last_addressed_to(General::B, 1), Some(0));
        assert_eq!(last_addressed_to(General::A, 4), Some(3));
        assert_eq!(last_addressed_to(General::B, 4), Some(4));
    }

    #[test]
    fn retries_every_interval_until_acknowledged_then_stop() {
        let (mut a, first) = Round::start(1, "dawn", 1, 0, 1000, 100);
        assert_eq!(first.len(), 1);
        assert!(a.tick(50).is_empty());
        let again = a.tick(100);
        assert_eq!(again[0].retry, 1);
        assert!(
            a.receive(150, &msg(1, 1)).is_empty(),
            "nothing owed after the last message"
        );
        assert!(a.tick(300).is_empty());
        assert_eq!(a.messages_sent(), 2);
        assert_eq!(a.decision(999), Decision::Pending);
        assert_eq!(a.decision(1000), Decision::Attack);
    }

    #[test]
    fn the_sender_of_the_last_message_keeps_sending_until_the_deadline() {
        let mut b = Round::join(&msg(0, 1), 100);
        let reply = b.receive(10, &msg(0, 1));
        assert_eq!(reply[0].messenger.seq, 1);
        let sends: usize = (11..1000).map(|t| b.tick(t).len()).sum();
        assert_eq!(sends, 9, "retries at 110, 210, ..., 910");
        assert!(b.tick(1010).is_empty());
        assert_eq!(b.decision(1000), Decision::Attack);
    }

    #[test]
    fn messengers_after_the_deadline_or_out_of_chain_are_ignored() {
        let mut b = Round::join(&msg(0, 2), 100);
        assert!(b.receive(1000, &msg(0, 2)).is_empty());
        assert_eq!(b.decision(1000), Decision::Hold);
        let mut forged = msg(1, 2);
        forged.from = General::A;
        assert!(b.receive(5, &forged).is_empty());
        assert!(b.receive(5, &msg(3, 2)).is_empty());
        assert_eq!(b.messengers_received(), 0);
    }
}
