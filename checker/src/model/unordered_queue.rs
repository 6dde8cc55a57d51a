//! Knossos's `unordered-queue` model: a multiset of pending elements. `enqueue x` adds x;
//! an ok `dequeue` returning v needs v pending and removes one of it, in any order.
//!
//! As in Knossos, a dequeue from an empty queue is not an ok operation: Jepsen's clients
//! record it as `fail` (e.g. `:fail ... :exhausted`), which did not happen; an ok dequeue
//! whose value is nil is therefore never linearizable (Knossos: "can't dequeue nil"). A
//! dequeue of unknown outcome (`info`) is dropped: leaving an element pending allows every
//! later dequeue that removing it would, so "not taken effect" is always a possible
//! linearization. A failed enqueue did not happen; an unknown one may or may not have.

use super::intern::{Interner, ValueTable};
use super::{OpInput, Spec};
use ahash::AHashMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum UqOp {
    Enqueue(u32),
    /// ok dequeue of a value id (never NIL: see `DequeueNil`).
    Dequeue(u32),
    /// ok dequeue that returned nil: never allowed.
    DequeueNil,
}

/// A compiled unordered-queue partition.
#[derive(Debug, Clone)]
pub struct UnorderedQueueSpec {
    values: ValueTable,
    /// A state: the pending value ids, sorted (a multiset).
    states: Interner<Vec<u32>>,
    state_bytes: usize,
    trans: AHashMap<(u32, u32), Option<u32>>,
    ops: Vec<UqOp>,
}

impl Default for UnorderedQueueSpec {
    fn default() -> Self {
        let mut states = Interner::default();
        states.intern(Vec::new());
        UnorderedQueueSpec {
            values: ValueTable::default(),
            states,
            state_bytes: 0,
            trans: AHashMap::new(),
            ops: Vec::new(),
        }
    }
}

impl UnorderedQueueSpec {
    /// Compile one op; `None` if it constrains nothing and is dropped.
    pub(crate) fn add(&mut self, op: &OpInput<'_>) -> Result<Option<()>, String> {
        use crate::history::OpType::*;
        let q = match (op.f, op.outcome) {
            ("enqueue" | "dequeue", Fail) => return Result::Ok(None),
            ("enqueue", _) if op.input.is_null() => {
                return Err("enqueue of nil: nil is what an empty dequeue returns".to_string())
            }
            ("enqueue", _) => UqOp::Enqueue(self.values.intern(op.input)),
            ("dequeue", Ok) if op.output.is_null() => UqOp::DequeueNil,
            ("dequeue", Ok) => UqOp::Dequeue(self.values.intern(op.output)),
            ("dequeue", _) => return Result::Ok(None),
            (f, _) => {
                return Err(format!(
                    "operation `{f}` is not one of the unordered-queue model's (enqueue, dequeue)"
                ))
            }
        };
        self.ops.push(q);
        Result::Ok(Some(()))
    }

    fn intern_state(&mut self, pending: Vec<u32>) -> u32 {
        let before = self.states.len();
        let bytes = pending.len() * 4 + 48;
        let id = self.states.intern(pending);
        if self.states.len() > before {
            self.state_bytes += bytes;
        }
        id
    }

    fn compute(&mut self, state: u32, op: UqOp) -> Option<u32> {
        let pending = self.states.resolve(state);
        match op {
            UqOp::Enqueue(v) => {
                let mut next = pending.clone();
                let at = next.partition_point(|&x| x < v);
                next.insert(at, v);
                Some(self.intern_state(next))
            }
            UqOp::Dequeue(v) => {
                let at = pending.binary_search(&v).ok()?;
                let mut next = pending.clone();
                next.remove(at);
                Some(self.intern_state(next))
            }
            UqOp::DequeueNil => None,
        }
    }
}

impl Spec for UnorderedQueueSpec {
    fn init(&mut self) -> u32 {
        0
    }

    fn step(&mut self, state: u32, op: u32) -> Option<u32> {
        if let Some(&r) = self.trans.get(&(state, op)) {
            return r;
        }
        let r = self.compute(state, self.ops[op as usize]);
        self.trans.insert((state, op), r);
        r
    }

    fn read_only(&self, op: u32) -> bool {
        matches!(self.ops[op as usize], UqOp::DequeueNil)
    }

    fn effect_class(&self, op: u32) -> u64 {
        match self.ops[op as usize] {
            UqOp::Enqueue(v) => u64::from(v),
            UqOp::Dequeue(v) => (1 << 40) | u64::from(v),
            UqOp::DequeueNil => 2 << 40,
        }
    }

    fn viable(&mut self, _state: u32, op: u32) -> bool {
        !matches!(self.ops[op as usize], UqOp::DequeueNil)
    }

    fn reset_viable(&mut self, _reset: u32, read: u32) -> bool {
        !matches!(self.ops[read as usize], UqOp::DequeueNil)
    }

    fn bytes(&self) -> usize {
        self.trans.capacity() * 20 + self.state_bytes
    }

    fn release_memo(&mut self) {
        self.trans = AHashMap::new();
    }

    fn render_state(&self, state: u32) -> String {
        let items: Vec<&str> = self
            .states
            .resolve(state)
            .iter()
            .map(|&v| self.values.text(v))
            .collect();
        format!("#{{{}}}", items.join(" "))
    }

    fn explain(&mut self, state: u32, op: u32) -> String {
        let cur = self.render_state(state);
        match self.ops[op as usize] {
            UqOp::DequeueNil => "dequeue returned nil: an ok dequeue must return a pending element (as in Knossos; record a dequeue of an empty queue as fail)".to_string(),
            UqOp::Dequeue(v) => format!(
                "dequeue returned {} but it is not pending (pending: {cur})",
                self.values.text(v)
            ),
            UqOp::Enqueue(_) => format!("allowed now (pending: {cur}) but leads nowhere"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::OpType;
    use serde_json::{json, Value};

    fn add(s: &mut UnorderedQueueSpec, f: &str, outcome: OpType, v: Value) -> Option<()> {
        let (input, output) = if f == "enqueue" {
            (v, Value::Null)
        } else {
            (Value::Null, v)
        };
        s.add(&OpInput {
            f,
            input: &input,
            output: &output,
            outcome,
            error: None,
        })
        .unwrap()
    }

    #[test]
    fn dequeues_in_any_order_and_never_nil() {
        let mut s = UnorderedQueueSpec::default();
        for (f, t, v) in [
            ("enqueue", OpType::Ok, json!(1)),
            ("enqueue", OpType::Ok, json!(2)),
            ("enqueue", OpType::Info, json!(1)),
            ("dequeue", OpType::Ok, json!(2)),
            ("dequeue", OpType::Ok, json!(1)),
            ("dequeue", OpType::Ok, Value::Null),
        ] {
            assert!(add(&mut s, f, t, v).is_some());
        }
        assert!(add(&mut s, "dequeue", OpType::Info, Value::Null).is_none());
        assert!(add(&mut s, "dequeue", OpType::Fail, json!("exhausted")).is_none());
        assert!(add(&mut s, "enqueue", OpType::Fail, json!(3)).is_none());
        let s1 = s.step(0, 0).unwrap();
        let s12 = s.step(s1, 1).unwrap();
        let s112 = s.step(s12, 2).unwrap();
        assert_eq!(s.render_state(s112), "#{1 1 2}");
        assert_eq!(s.step(s1, 3), None, "2 is not pending");
        let after2 = s.step(s12, 3).unwrap();
        assert_eq!(after2, s1, "2 dequeued before 1: any order");
        let one_left = s.step(s112, 4).unwrap();
        assert_eq!(
            s.render_state(one_left),
            "#{1 2}",
            "removes one of the two 1s"
        );
        for st in [0, s1, s112] {
            assert_eq!(s.step(st, 5), None, "an ok dequeue of nil is never allowed");
        }
        assert!(s.explain(0, 5).contains("fail"));
        assert!(s.explain(0, 3).contains("not pending"));
        let e = s
            .add(&OpInput {
                f: "enqueue",
                input: &Value::Null,
                output: &Value::Null,
                outcome: OpType::Ok,
                error: None,
            })
            .unwrap_err();
        assert!(e.contains("nil"), "{e}");
    }
}
