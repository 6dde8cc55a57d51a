//! The FIFO queue model: `enqueue x` appends x; an ok `dequeue` returning v needs v at the
//! head (and removes it), returning nil needs the queue empty; a dequeue of unknown
//! outcome removes the head if any. Queue contents are interned as `u32` states.

use super::intern::{Interner, ValueTable};
use super::{OpInput, Spec};
use ahash::AHashMap;

#[derive(Debug, Clone, Copy)]
enum QueueOp {
    Enqueue(u32),
    /// ok dequeue of a value id (NIL = the queue was empty).
    Dequeue(u32),
    /// dequeue with unknown result: pops the head if there is one.
    DequeueAny,
}

/// A compiled queue partition.
#[derive(Debug, Clone)]
pub struct QueueSpec {
    values: ValueTable,
    states: Interner<Vec<u32>>,
    trans: AHashMap<(u32, u32), Option<u32>>,
    ops: Vec<QueueOp>,
}

impl Default for QueueSpec {
    fn default() -> Self {
        let mut states = Interner::default();
        states.intern(Vec::new());
        QueueSpec {
            values: ValueTable::default(),
            states,
            trans: AHashMap::new(),
            ops: Vec::new(),
        }
    }
}

impl QueueSpec {
    pub(crate) fn add(&mut self, op: &OpInput<'_>) -> Result<Option<()>, String> {
        use crate::history::OpType::*;
        let q = match (op.f, op.outcome) {
            (_, Fail) if matches!(op.f, "enqueue" | "dequeue") => return Result::Ok(None),
            ("enqueue", _) => {
                if op.input.is_null() {
                    return Err(
                        "enqueue of nil: nil is reserved for the empty-queue dequeue".to_string(),
                    );
                }
                QueueOp::Enqueue(self.values.intern(op.input))
            }
            ("dequeue", Ok) => QueueOp::Dequeue(self.values.intern(op.output)),
            ("dequeue", _) => QueueOp::DequeueAny,
            (f, _) => {
                return Err(format!(
                    "operation `{f}` is not one of the fifo-queue model's (enqueue, dequeue)"
                ))
            }
        };
        self.ops.push(q);
        Result::Ok(Some(()))
    }

    fn compute(&mut self, state: u32, op: QueueOp) -> Option<u32> {
        let q = self.states.resolve(state);
        match op {
            QueueOp::Enqueue(v) => {
                let mut n = q.clone();
                n.push(v);
                Some(self.states.intern(n))
            }
            QueueOp::Dequeue(ValueTable::NIL) => q.is_empty().then_some(state),
            QueueOp::Dequeue(v) => {
                if q.first() == Some(&v) {
                    let n = q[1..].to_vec();
                    Some(self.states.intern(n))
                } else {
                    None
                }
            }
            QueueOp::DequeueAny => {
                if q.is_empty() {
                    Some(state)
                } else {
                    let n = q[1..].to_vec();
                    Some(self.states.intern(n))
                }
            }
        }
    }
}

impl Spec for QueueSpec {
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
        // A nil dequeue observes emptiness and changes nothing.
        matches!(self.ops[op as usize], QueueOp::Dequeue(ValueTable::NIL))
    }

    fn effect_class(&self, op: u32) -> u64 {
        match self.ops[op as usize] {
            QueueOp::Enqueue(v) => v as u64,
            QueueOp::Dequeue(v) => (1 << 40) | v as u64,
            QueueOp::DequeueAny => 2 << 40,
        }
    }

    fn bytes(&self) -> usize {
        self.trans.capacity() * 20 + self.states.bytes()
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
        format!("[{}]", items.join(" "))
    }

    fn explain(&mut self, state: u32, op: u32) -> String {
        let cur = self.render_state(state);
        match self.ops[op as usize] {
            QueueOp::Dequeue(ValueTable::NIL) => {
                format!("dequeue found the queue empty but queue is {cur}")
            }
            QueueOp::Dequeue(v) => format!(
                "dequeue returned {} but queue is {cur}",
                self.values.text(v)
            ),
            _ => format!("allowed now (queue is {cur}) but leads nowhere"),
        }
    }
}
