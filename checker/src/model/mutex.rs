//! The mutex (lock) model: `acquire` needs the lock free and takes it, `release` needs it
//! held and frees it. State 0 = free, 1 = held. Failed operations did not happen.

use super::{OpInput, Spec};

#[derive(Debug, Clone, Copy)]
enum MutexOp {
    Acquire,
    Release,
}

/// A compiled mutex partition.
#[derive(Debug, Clone, Default)]
pub struct MutexSpec {
    ops: Vec<MutexOp>,
}

impl MutexSpec {
    pub(crate) fn add(&mut self, op: &OpInput<'_>) -> Result<Option<()>, String> {
        if op.outcome == crate::history::OpType::Fail {
            return Ok(None);
        }
        let m = match op.f {
            "acquire" | "lock" => MutexOp::Acquire,
            "release" | "unlock" => MutexOp::Release,
            f => {
                return Err(format!(
                    "operation `{f}` is not one of the mutex model's (acquire, release)"
                ))
            }
        };
        self.ops.push(m);
        Ok(Some(()))
    }
}

impl Spec for MutexSpec {
    fn init(&mut self) -> u32 {
        0
    }

    #[inline]
    fn step(&mut self, state: u32, op: u32) -> Option<u32> {
        match (self.ops[op as usize], state) {
            (MutexOp::Acquire, 0) => Some(1),
            (MutexOp::Release, 1) => Some(0),
            _ => None,
        }
    }

    fn read_only(&self, _op: u32) -> bool {
        false
    }

    fn effect_class(&self, op: u32) -> u64 {
        match self.ops[op as usize] {
            MutexOp::Acquire => 0,
            MutexOp::Release => 1,
        }
    }

    fn render_state(&self, state: u32) -> String {
        if state == 0 { "free" } else { "held" }.to_string()
    }

    fn explain(&mut self, state: u32, op: u32) -> String {
        match self.ops[op as usize] {
            MutexOp::Acquire if state == 1 => "acquire but the lock is held".to_string(),
            MutexOp::Release if state == 0 => "release but the lock is free".to_string(),
            _ => format!(
                "allowed now (lock is {}) but leads nowhere",
                self.render_state(state)
            ),
        }
    }
}
