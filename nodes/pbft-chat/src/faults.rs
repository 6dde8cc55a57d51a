//! The deliberate bugs (`--bug NAME`) and the Byzantine behaviours (`--byzantine MODE`,
//! `POST /admin/byzantine`) a replica can be told to play. Parsing gives the list of known
//! names on a typo.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// One deliberate bug.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Bug {
    /// Prepared and committed certificates from f+1 replicas instead of 2f+1.
    SmallQuorum,
    /// A new primary does not carry prepared requests into the new view, and replicas do not
    /// check the new-view message.
    NoViewChangeCheck,
}

impl Bug {
    /// Every bug.
    pub const ALL: [Bug; 2] = [Bug::SmallQuorum, Bug::NoViewChangeCheck];

    /// The flag name.
    pub fn name(self) -> &'static str {
        match self {
            Bug::SmallQuorum => "small-quorum",
            Bug::NoViewChangeCheck => "no-view-change-check",
        }
    }
}

impl fmt::Display for Bug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Bug {
    type Err = String;
    fn from_str(s: &str) -> Result<Bug, String> {
        Bug::ALL.into_iter().find(|b| b.name() == s).ok_or_else(|| {
            let names: Vec<_> = Bug::ALL.iter().map(|b| b.name()).collect();
            format!("unknown bug {s:?}; known bugs: {}", names.join(", "))
        })
    }
}

/// The enabled bugs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Bugs {
    /// `small-quorum`.
    pub small_quorum: bool,
    /// `no-view-change-check`.
    pub no_view_change_check: bool,
}

impl Bugs {
    /// From a list of bugs.
    pub fn from_list(list: &[Bug]) -> Bugs {
        Bugs {
            small_quorum: list.contains(&Bug::SmallQuorum),
            no_view_change_check: list.contains(&Bug::NoViewChangeCheck),
        }
    }

    /// Names of the enabled bugs.
    pub fn names(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        if self.small_quorum {
            v.push(Bug::SmallQuorum.name());
        }
        if self.no_view_change_check {
            v.push(Bug::NoViewChangeCheck.name());
        }
        v
    }
}

/// A Byzantine behaviour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// As primary, sends different pre-prepares for the same sequence numbers to different
    /// replicas (two requests in swapped order), with commits to match each side.
    Equivocate,
    /// Instead of its own votes, echoes to each replica a prepare and a commit for whatever
    /// that replica voted for (contradictory votes), and commits for digests it never saw.
    ForgeVotes,
    /// Corrupts the signature of everything it sends.
    BadSignature,
    /// Sends nothing.
    Silent,
    /// Behaves, and also re-sends old messages (its own and others') every tick.
    Replay,
    /// A colluding backup: like `forge-votes` echoes to each replica a prepare and a commit
    /// for whatever that replica voted for, but forges nothing that would give it away
    /// and relays no one else's message (so no proof of a lying primary).
    Collude,
}

impl Mode {
    /// Every mode.
    pub const ALL: [Mode; 6] = [
        Mode::Equivocate,
        Mode::ForgeVotes,
        Mode::BadSignature,
        Mode::Silent,
        Mode::Replay,
        Mode::Collude,
    ];

    /// The flag name.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Equivocate => "equivocate",
            Mode::ForgeVotes => "forge-votes",
            Mode::BadSignature => "bad-signature",
            Mode::Silent => "silent",
            Mode::Replay => "replay",
            Mode::Collude => "collude",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Mode, String> {
        Mode::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| {
                let names: Vec<_> = Mode::ALL.iter().map(|m| m.name()).collect();
                format!(
                    "unknown Byzantine mode {s:?}; known modes: {}",
                    names.join(", ")
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_roundtrip_and_typos_list_the_known_names() {
        for b in Bug::ALL {
            assert_eq!(b.name().parse::<Bug>(), Ok(b));
        }
        for m in Mode::ALL {
            assert_eq!(m.name().parse::<Mode>(), Ok(m));
            let json = serde_json::to_string(&m).expect("ser");
            assert_eq!(json, format!("\"{}\"", m.name()));
        }
        assert!("quorum"
            .parse::<Bug>()
            .expect_err("x")
            .contains("small-quorum"));
        assert!("lie".parse::<Mode>().expect_err("x").contains("equivocate"));
        let b = Bugs::from_list(&[Bug::NoViewChangeCheck]);
        assert_eq!(b.names(), vec!["no-view-change-check"]);
    }
}
