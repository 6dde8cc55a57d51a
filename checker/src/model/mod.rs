//! Sequential specifications that the linearizability search checks against.
//! (Skeleton: the models are filled in by the checker work, issue 2.)

use std::fmt;
use std::str::FromStr;

/// Which model a history is checked against (`--model`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModelKind {
    /// read / write of one value per key.
    Register,
    /// read / write / cas; a failed cas means the value differed.
    CasRegister,
    /// get / put / append over string values, every key initially "".
    Kv,
    /// acquire / release.
    Mutex,
    /// enqueue / dequeue.
    FifoQueue,
    /// add + read of the whole set.
    Set,
}

impl ModelKind {
    pub const ALL: [ModelKind; 6] = [
        ModelKind::Register,
        ModelKind::CasRegister,
        ModelKind::Kv,
        ModelKind::Mutex,
        ModelKind::FifoQueue,
        ModelKind::Set,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Register => "register",
            ModelKind::CasRegister => "cas-register",
            ModelKind::Kv => "kv",
            ModelKind::Mutex => "mutex",
            ModelKind::FifoQueue => "fifo-queue",
            ModelKind::Set => "set",
        }
    }
}

impl fmt::Display for ModelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ModelKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ModelKind::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = ModelKind::ALL.iter().map(|m| m.name()).collect();
                format!("unknown model `{s}` (expected one of: {})", names.join(", "))
            })
    }
}
