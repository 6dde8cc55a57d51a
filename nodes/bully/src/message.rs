//! The messages bully nodes exchange, as they travel on the wire (JSON on
//! `POST /bully/messages`). The sender is always in the message (`from`), never taken from the
//! TCP source, so a harness may route every directed link through its own proxy.

use serde::{Deserialize, Serialize};

/// One message from one node to another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Sender id.
    pub from: u64,
    /// Receiver id.
    pub to: u64,
    /// The highest epoch the sender has seen (a leader's is its own leadership epoch).
    pub epoch: u64,
    /// What the message says.
    #[serde(flatten)]
    pub body: Body,
}

/// The kinds of message of the bully algorithm, plus the acknowledgement of quorum mode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Body {
    /// ELECTION: sent to every higher id by a node that starts an election.
    Election,
    /// ANSWER (OK): a higher node tells a lower one that it takes over the election.
    Answer,
    /// COORDINATOR: the winner announces itself (epoch = its new leadership epoch).
    /// `sent_at` is the leader's own clock, echoed in the acknowledgement.
    Coordinator {
        /// Leader clock (ms) when sent.
        sent_at: u64,
    },
    /// Periodic heartbeat of a leader.
    Heartbeat {
        /// Leader clock (ms) when sent.
        sent_at: u64,
    },
    /// Quorum mode only: a follower acknowledges a coordinator message or heartbeat and
    /// promises not to acknowledge any other leader for the promise period.
    Ack {
        /// The `sent_at` of the acknowledged message.
        sent_at: u64,
    },
}

impl Body {
    /// The name used in logs.
    pub fn name(&self) -> &'static str {
        match self {
            Body::Election => "ELECTION",
            Body::Answer => "ANSWER",
            Body::Coordinator { .. } => "COORDINATOR",
            Body::Heartbeat { .. } => "HEARTBEAT",
            Body::Ack { .. } => "ACK",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_format_is_flat_json_with_a_type_tag() {
        let m = Message {
            from: 3,
            to: 5,
            epoch: 7,
            body: Body::Heartbeat { sent_at: 1200 },
        };
        let s = serde_json::to_string(&m).expect("encode");
        assert_eq!(
            s,
            r#"{"from":3,"to":5,"epoch":7,"type":"heartbeat","sent_at":1200}"#
        );
        let back: Message = serde_json::from_str(&s).expect("decode");
        assert_eq!(back, m);
        let e: Message =
            serde_json::from_str(r#"{"from":1,"to":2,"epoch":0,"type":"election"}"#).expect("ok");
        assert_eq!(e.body, Body::Election);
    }
}
