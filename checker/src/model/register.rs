//! The register and cas-register models (Jepsen's and etcd's semantics): one value per key,
//! initially nil. `read` (ok v: value must equal v, nil allowed), `write v`, and for
//! cas-register `cas [a b]` (ok: value must equal a, becomes b; info: becomes b only if the
//! value equals a; fail: did not happen, or, when the [`FailedOps`] reading says the failure
//! observed a mismatch, the value differs from a, no effect). Values are interned to `u32`.

use super::intern::ValueTable;
use super::{FailedOps, OpInput, Spec};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RegOp {
    /// ok read: the value must equal this id.
    Read(u32),
    /// write (ok or info).
    Write(u32),
    /// ok cas: value must equal .0, becomes .1.
    CasOk(u32, u32),
    /// info cas: becomes .1 if the value equals .0, else unchanged; always allowed.
    CasMaybe(u32, u32),
    /// fail cas: the value must differ from .0; unchanged.
    CasFail(u32),
}

/// A compiled register partition.
#[derive(Debug, Clone, Default)]
pub struct RegisterSpec {
    values: ValueTable,
    ops: Vec<RegOp>,
}

impl RegisterSpec {
    /// Compile one op; `None` if it constrains nothing and is dropped.
    pub(crate) fn add(
        &mut self,
        op: &OpInput<'_>,
        allow_cas: bool,
        failed_ops: FailedOps,
    ) -> Result<Option<()>, String> {
        use crate::history::OpType::*;
        let reg = match (op.f, op.outcome) {
            ("read", Ok) => RegOp::Read(self.values.intern(op.output)),
            ("read", _) => return Result::Ok(None),
            ("write", Fail) => return Result::Ok(None),
            ("write", _) => RegOp::Write(self.values.intern(op.input)),
            ("cas", outcome) if allow_cas => {
                let pair = match op.input {
                    Value::Array(a) if a.len() == 2 => a,
                    other => return Err(format!("cas expects a value [from to], found {other}")),
                };
                let from = self.values.intern(&pair[0]);
                let to = self.values.intern(&pair[1]);
                match outcome {
                    Ok => RegOp::CasOk(from, to),
                    Fail if !failed_ops.cas_fail_observes_mismatch(op.error) => {
                        return Result::Ok(None)
                    }
                    Fail => RegOp::CasFail(from),
                    _ => RegOp::CasMaybe(from, to),
                }
            }
            (f, _) => {
                let allowed = if allow_cas {
                    "read, write or cas"
                } else {
                    "read or write"
                };
                return Err(format!(
                    "operation `{f}` is not one of the model's ({allowed})"
                ));
            }
        };
        self.ops.push(reg);
        Result::Ok(Some(()))
    }
}

impl Spec for RegisterSpec {
    fn init(&mut self) -> u32 {
        ValueTable::NIL
    }

    #[inline]
    fn step(&mut self, state: u32, op: u32) -> Option<u32> {
        match self.ops[op as usize] {
            RegOp::Read(v) => (state == v).then_some(state),
            RegOp::Write(v) => Some(v),
            RegOp::CasOk(a, b) => (state == a).then_some(b),
            RegOp::CasMaybe(a, b) => Some(if state == a { b } else { state }),
            RegOp::CasFail(a) => (state != a).then_some(state),
        }
    }

    #[inline]
    fn read_only(&self, op: u32) -> bool {
        match self.ops[op as usize] {
            RegOp::Read(_) | RegOp::CasFail(_) => true,
            RegOp::CasOk(a, b) => a == b,
            _ => false,
        }
    }

    fn effect_class(&self, op: u32) -> u64 {
        let (tag, a, b) = match self.ops[op as usize] {
            RegOp::Read(v) => (0, v, 0),
            RegOp::Write(v) => (1, v, 0),
            RegOp::CasOk(a, b) => (2, a, b),
            RegOp::CasMaybe(a, b) => (3, a, b),
            RegOp::CasFail(a) => (4, a, 0),
        };
        (tag << 60) | ((a as u64) << 30) | b as u64
    }

    /// An ok read of v is reachable only if the register is v already ...
    fn viable(&mut self, state: u32, op: u32) -> bool {
        match self.ops[op as usize] {
            RegOp::Read(v) => state == v,
            _ => true,
        }
    }

    /// ... or some write or cas still to come can set it to v.
    fn reset_viable(&mut self, reset: u32, read: u32) -> bool {
        match (self.ops[reset as usize], self.ops[read as usize]) {
            (RegOp::Write(w), RegOp::Read(v)) => w == v,
            (RegOp::CasOk(_, b) | RegOp::CasMaybe(_, b), RegOp::Read(v)) => b == v,
            _ => true,
        }
    }

    fn render_state(&self, state: u32) -> String {
        self.values.text(state).to_string()
    }

    fn explain(&mut self, state: u32, op: u32) -> String {
        let cur = self.values.text(state).to_string();
        match self.ops[op as usize] {
            RegOp::Read(v) => format!("read {} but register is {cur}", self.values.text(v)),
            RegOp::CasOk(a, b) => {
                format!(
                    "cas {}->{} succeeded but register is {cur}",
                    self.values.text(a),
                    self.values.text(b)
                )
            }
            RegOp::CasFail(a) => format!(
                "cas from {} failed but register is {cur}",
                self.values.text(a)
            ),
            RegOp::Write(_) | RegOp::CasMaybe(..) => {
                format!("allowed now (register is {cur}) but leads nowhere")
            }
        }
    }
}
