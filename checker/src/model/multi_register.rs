//! Knossos's `multi-register` model: registers named by keys, every one initially nil, and
//! one function, `txn`, whose value is a transaction: micro-ops `[f k v]` with `f` `read`
//! or `write` (`r` / `w` accepted too), applied in order and atomically, e.g.
//! `{:type :ok, :f :txn, :value [[:read :x 1] [:write :y 2]]}`.
//!
//! As in Knossos: an `ok` txn is checked with the completion's micro-ops (the invocation
//! may carry `nil` reads, the completion the values read); a read of nil is always legal
//! (the value was not observed); a failed txn did not happen; a txn of unknown outcome
//! (`info`, or never completed) may or may not take effect, with its writes (its reads are
//! unknown). Registers, values and whole states are interned, transitions memoized.

use super::intern::{Interner, ValueTable};
use super::{OpInput, Spec};
use ahash::AHashMap;
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Micro {
    /// The register (id) must hold the value (id).
    Read(u32, u32),
    /// The register (id) becomes the value (id).
    Write(u32, u32),
}

/// A compiled multi-register partition.
#[derive(Debug, Clone)]
pub struct MultiRegisterSpec {
    values: ValueTable,
    registers: Interner<String>,
    /// Distinct transactions; an op's class is its transaction's id.
    txns: Interner<Vec<Micro>>,
    ops: Vec<u32>,
    /// A state: the value id of each register by register id, trailing nils trimmed.
    states: Interner<Vec<u32>>,
    state_bytes: usize,
    trans: AHashMap<(u32, u32), Option<u32>>,
}

impl Default for MultiRegisterSpec {
    fn default() -> Self {
        let mut states = Interner::default();
        states.intern(Vec::new());
        MultiRegisterSpec {
            values: ValueTable::default(),
            registers: Interner::default(),
            txns: Interner::default(),
            ops: Vec::new(),
            states,
            state_bytes: 0,
            trans: AHashMap::new(),
        }
    }
}

const SHAPE: &str = "a txn value is a vector of micro-ops [f k v] with f read or write, e.g. [[:read :x 1] [:write :y 2]]";

impl MultiRegisterSpec {
    /// Compile one op; `None` if it constrains nothing and is dropped.
    pub(crate) fn add(&mut self, op: &OpInput<'_>) -> Result<Option<()>, String> {
        use crate::history::OpType;
        if op.f != "txn" {
            return Err(format!(
                "operation `{}` is not one of the multi-register model's (txn)",
                op.f
            ));
        }
        let (value, reads_known) = match op.outcome {
            OpType::Fail => return Ok(None),
            OpType::Ok if !op.output.is_null() => (op.output, true),
            OpType::Ok => (op.input, true),
            _ => (op.input, false),
        };
        let Value::Array(items) = value else {
            return Err(format!("{SHAPE}; found {value}"));
        };
        let mut txn = Vec::with_capacity(items.len());
        for item in items {
            let (f, k, v) = match item {
                Value::Array(m) if m.len() == 3 => (m[0].as_str(), &m[1], &m[2]),
                other => return Err(format!("{SHAPE}; found the micro-op {other}")),
            };
            let reg = self.registers.intern(super::intern::canonical(k));
            match f {
                Some("read" | "r") if v.is_null() || !reads_known => {}
                Some("read" | "r") => txn.push(Micro::Read(reg, self.values.intern(v))),
                Some("write" | "w") => txn.push(Micro::Write(reg, self.values.intern(v))),
                _ => return Err(format!("{SHAPE}; found the micro-op {item}")),
            }
        }
        if txn.iter().all(|m| matches!(m, Micro::Read(..))) && op.outcome != OpType::Ok {
            return Ok(None); // an unknown txn that only reads changes nothing
        }
        let id = self.txns.intern(txn);
        self.ops.push(id);
        Ok(Some(()))
    }

    fn intern_state(&mut self, mut regs: Vec<u32>) -> u32 {
        while regs.last() == Some(&ValueTable::NIL) {
            regs.pop();
        }
        let before = self.states.len();
        let bytes = regs.len() * 4 + 48;
        let id = self.states.intern(regs);
        if self.states.len() > before {
            self.state_bytes += bytes;
        }
        id
    }

    fn compute(&mut self, state: u32, op: u32) -> Option<u32> {
        let mut regs = self.states.resolve(state).clone();
        apply(&mut regs, self.txns.resolve(self.ops[op as usize])).ok()?;
        Some(self.intern_state(regs))
    }
}

/// Apply a transaction's micro-ops in order to register values; `Err((register, value))`
/// for the first read that sees another value.
fn apply(regs: &mut Vec<u32>, txn: &[Micro]) -> Result<(), (u32, u32)> {
    for m in txn {
        match *m {
            Micro::Read(r, v) => {
                if regs.get(r as usize).copied().unwrap_or(ValueTable::NIL) != v {
                    return Err((r, v));
                }
            }
            Micro::Write(r, v) => {
                if regs.len() <= r as usize {
                    regs.resize(r as usize + 1, ValueTable::NIL);
                }
                regs[r as usize] = v;
            }
        }
    }
    Ok(())
}

impl Spec for MultiRegisterSpec {
    fn init(&mut self) -> u32 {
        0
    }

    fn step(&mut self, state: u32, op: u32) -> Option<u32> {
        if let Some(&r) = self.trans.get(&(state, op)) {
            return r;
        }
        let r = self.compute(state, op);
        self.trans.insert((state, op), r);
        r
    }

    fn read_only(&self, op: u32) -> bool {
        self.txns
            .resolve(self.ops[op as usize])
            .iter()
            .all(|m| matches!(m, Micro::Read(..)))
    }

    fn effect_class(&self, op: u32) -> u64 {
        u64::from(self.ops[op as usize])
    }

    fn bytes(&self) -> usize {
        self.trans.capacity() * 20 + self.state_bytes
    }

    fn release_memo(&mut self) {
        self.trans = AHashMap::new();
    }

    fn render_state(&self, state: u32) -> String {
        let regs = self.states.resolve(state);
        let items: Vec<String> = regs
            .iter()
            .enumerate()
            .filter(|(_, &v)| v != ValueTable::NIL)
            .map(|(r, &v)| {
                format!(
                    "{} {}",
                    self.registers.resolve(r as u32),
                    self.values.text(v)
                )
            })
            .collect();
        format!("{{{}}}", items.join(", "))
    }

    fn explain(&mut self, state: u32, op: u32) -> String {
        let mut regs = self.states.resolve(state).clone();
        match apply(&mut regs, self.txns.resolve(self.ops[op as usize])) {
            Err((r, v)) => {
                let have = regs.get(r as usize).copied().unwrap_or(ValueTable::NIL);
                let name = self.registers.resolve(r);
                format!(
                    "read {name} = {} but {name} is {}",
                    self.values.text(v),
                    self.values.text(have)
                )
            }
            Ok(()) => format!(
                "allowed now (registers are {}) but leads nowhere",
                self.render_state(state)
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::OpType;
    use serde_json::json;

    fn add(s: &mut MultiRegisterSpec, outcome: OpType, input: Value, output: Value) -> bool {
        let op = OpInput {
            f: "txn",
            input: &input,
            output: &output,
            outcome,
            error: None,
        };
        s.add(&op).unwrap().is_some()
    }

    #[test]
    fn reads_see_earlier_writes_and_nil_reads_are_free() {
        let mut s = MultiRegisterSpec::default();
        let inv = json!([["read", "x", null], ["write", "y", 2]]);
        assert!(add(
            &mut s,
            OpType::Ok,
            json!([["write", "x", 1]]),
            Value::Null
        ));
        assert!(add(
            &mut s,
            OpType::Ok,
            inv.clone(),
            json!([["read", "x", 1], ["write", "y", 2]])
        ));
        assert!(add(
            &mut s,
            OpType::Ok,
            inv.clone(),
            json!([["read", "x", null], ["read", "y", 2]])
        ));
        assert!(add(
            &mut s,
            OpType::Ok,
            json!([["w", "y", 3], ["r", "y", 3]]),
            Value::Null
        ));
        let s0 = s.init();
        assert_eq!(s.step(s0, 1), None, "x is nil, not 1");
        let s1 = s.step(s0, 0).unwrap();
        assert_eq!(s.render_state(s1), "{\"x\" 1}");
        let s2 = s.step(s1, 1).unwrap();
        assert_eq!(s.step(s1, 2), None, "y is nil");
        assert_eq!(
            s.step(s2, 2),
            Some(s2),
            "the nil read of x constrains nothing"
        );
        assert!(s.read_only(2) && !s.read_only(1));
        let s3 = s.step(s2, 3).unwrap();
        assert_eq!(
            s.render_state(s3),
            "{\"x\" 1, \"y\" 3}",
            "a read sees its txn's write"
        );
        assert_eq!(s.explain(s1, 2), "read \"y\" = 2 but \"y\" is null");
    }

    #[test]
    fn failed_and_unknown_read_only_txns_are_dropped_and_bad_shapes_refused() {
        let mut s = MultiRegisterSpec::default();
        assert!(!add(
            &mut s,
            OpType::Fail,
            json!([["write", "x", 1]]),
            Value::Null
        ));
        assert!(!add(
            &mut s,
            OpType::Info,
            json!([["read", "x", 1]]),
            Value::Null
        ));
        assert!(add(
            &mut s,
            OpType::Info,
            json!([["read", "x", 1], ["write", "x", 2]]),
            Value::Null
        ));
        let s1 = s.step(0, 0).unwrap();
        assert_eq!(
            s.render_state(s1),
            "{\"x\" 2}",
            "the unknown txn's read is unknown"
        );
        for bad in [json!(5), json!([["cas", "x", 1]]), json!([["read", "x"]])] {
            let op = OpInput {
                f: "txn",
                input: &bad,
                output: &Value::Null,
                outcome: OpType::Ok,
                error: None,
            };
            assert!(s.add(&op).unwrap_err().contains("micro-ops"), "{bad}");
        }
        let op = OpInput {
            f: "read",
            input: &Value::Null,
            output: &Value::Null,
            outcome: OpType::Ok,
            error: None,
        };
        assert!(s.add(&op).unwrap_err().contains("(txn)"));
    }
}
