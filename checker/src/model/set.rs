//! The set model: `add x` inserts x; an ok `read` returns the whole set and needs it to be
//! exactly the current set (order and duplicates ignored). Sets are sorted vectors of value
//! ids, interned as `u32` states.

use super::intern::{Interner, ValueTable};
use super::{OpInput, Spec};
use ahash::AHashMap;
use serde_json::Value;

#[derive(Debug, Clone, Copy)]
enum SetOp {
    Add(u32),
    /// ok read: the set (state id of the sorted contents) must equal this.
    Read(u32),
}

/// A compiled set partition.
#[derive(Debug, Clone)]
pub struct SetSpec {
    values: ValueTable,
    states: Interner<Vec<u32>>,
    trans: AHashMap<(u32, u32), u32>,
    ops: Vec<SetOp>,
}

impl Default for SetSpec {
    fn default() -> Self {
        let mut states = Interner::default();
        states.intern(Vec::new());
        SetSpec {
            values: ValueTable::default(),
            states,
            trans: AHashMap::new(),
            ops: Vec::new(),
        }
    }
}

impl SetSpec {
    pub(crate) fn add(&mut self, op: &OpInput<'_>) -> Result<Option<()>, String> {
        use crate::history::OpType::*;
        let s = match (op.f, op.outcome) {
            ("add", Fail) | ("read", Fail | Info) => return Result::Ok(None),
            ("add", _) => SetOp::Add(self.values.intern(op.input)),
            ("read", _) => {
                let items = match op.output {
                    Value::Array(a) => a,
                    Value::Null => &Vec::new(),
                    other => {
                        return Err(format!(
                            "set read expects a list of elements, found {other}"
                        ))
                    }
                };
                let mut ids: Vec<u32> = items.iter().map(|v| self.values.intern(v)).collect();
                ids.sort_unstable();
                ids.dedup();
                SetOp::Read(self.states.intern(ids))
            }
            (f, _) => {
                return Err(format!(
                    "operation `{f}` is not one of the set model's (add, read)"
                ))
            }
        };
        self.ops.push(s);
        Result::Ok(Some(()))
    }
}

impl Spec for SetSpec {
    fn init(&mut self) -> u32 {
        0
    }

    fn step(&mut self, state: u32, op: u32) -> Option<u32> {
        match self.ops[op as usize] {
            SetOp::Read(s) => (s == state).then_some(state),
            SetOp::Add(v) => {
                if let Some(&s) = self.trans.get(&(state, v)) {
                    return Some(s);
                }
                let mut n = self.states.resolve(state).clone();
                if let Err(pos) = n.binary_search(&v) {
                    n.insert(pos, v);
                }
                let s = self.states.intern(n);
                self.trans.insert((state, v), s);
                Some(s)
            }
        }
    }

    fn read_only(&self, op: u32) -> bool {
        matches!(self.ops[op as usize], SetOp::Read(_))
    }

    fn effect_class(&self, op: u32) -> u64 {
        match self.ops[op as usize] {
            SetOp::Add(v) => v as u64,
            SetOp::Read(s) => (1 << 40) | s as u64,
        }
    }

    fn resets(&self, _op: u32) -> bool {
        false
    }

    /// Sets only grow: a read can still be satisfied only by a superset of the current set.
    fn viable(&mut self, state: u32, op: u32) -> bool {
        match self.ops[op as usize] {
            SetOp::Read(s) => {
                let (cur, want) = (self.states.resolve(state), self.states.resolve(s));
                cur.iter().all(|x| want.binary_search(x).is_ok())
            }
            SetOp::Add(_) => true,
        }
    }

    fn bytes(&self) -> usize {
        self.trans.capacity() * 16 + self.states.bytes()
    }

    fn release_memo(&mut self) {
        self.trans = AHashMap::new();
    }

    fn render_state(&self, state: u32) -> String {
        let mut items: Vec<&str> = self
            .states
            .resolve(state)
            .iter()
            .map(|&v| self.values.text(v))
            .collect();
        items.sort_unstable();
        format!("#{{{}}}", items.join(" "))
    }

    fn explain(&mut self, state: u32, op: u32) -> String {
        let cur = self.render_state(state);
        match self.ops[op as usize] {
            SetOp::Read(s) => format!("read {} but set is {cur}", self.render_state(s)),
            SetOp::Add(_) => format!("allowed now (set is {cur}) but leads nowhere"),
        }
    }
}
