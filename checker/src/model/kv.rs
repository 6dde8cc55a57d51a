//! The kv model (Porcupine's and the 6.824 kvraft lab's): per key a string value, initially
//! `""`; `get` (ok v: the value must equal v, a nil result reads as `""`), `put v` (set),
//! `append v` (concatenate). Strings are interned; append transitions are memoized so a
//! step is one hash lookup, and a get compares two ids.

use super::intern::Interner;
use super::{Compiled, OpInput, Spec};
use ahash::AHashMap;
use serde_json::Value;

#[derive(Debug, Clone, Copy)]
enum KvOp {
    Get(u32),
    Put(u32),
    Append(u32),
}

/// A compiled kv partition (one key).
#[derive(Debug, Clone)]
pub struct KvSpec {
    strings: Interner<String>,
    appended: AHashMap<(u32, u32), u32>,
    ops: Vec<KvOp>,
}

impl Default for KvSpec {
    fn default() -> Self {
        let mut strings = Interner::default();
        strings.intern(String::new());
        KvSpec {
            strings,
            appended: AHashMap::new(),
            ops: Vec::new(),
        }
    }
}

fn as_text(v: &Value, what: &str) -> Result<String, String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Null => Ok(String::new()),
        Value::Number(n) => Ok(n.to_string()),
        other => Err(format!("{what} expects a string value, found {other}")),
    }
}

impl KvSpec {
    pub(crate) fn add(&mut self, op: &OpInput<'_>) -> Result<Option<()>, String> {
        use crate::history::OpType::*;
        let kv = match (op.f, op.outcome) {
            ("get" | "read", Ok) => KvOp::Get(self.strings.intern(as_text(op.output, "get")?)),
            ("get" | "read", _) => return Result::Ok(None),
            ("put" | "write" | "append", Fail) => return Result::Ok(None),
            ("put" | "write", _) => KvOp::Put(self.strings.intern(as_text(op.input, "put")?)),
            ("append", _) => KvOp::Append(self.strings.intern(as_text(op.input, "append")?)),
            (f, _) => {
                return Err(format!(
                    "operation `{f}` is not one of the kv model's (get, put, append)"
                ))
            }
        };
        self.ops.push(kv);
        Result::Ok(Some(()))
    }
}

impl Compiled for KvSpec {
    fn len(&self) -> usize {
        self.ops.len()
    }
}

impl Spec for KvSpec {
    fn init(&mut self) -> u32 {
        0
    }

    #[inline]
    fn step(&mut self, state: u32, op: u32) -> Option<u32> {
        match self.ops[op as usize] {
            KvOp::Get(v) => (state == v).then_some(state),
            KvOp::Put(v) => Some(v),
            KvOp::Append(v) => {
                if let Some(&s) = self.appended.get(&(state, v)) {
                    return Some(s);
                }
                let mut text = self.strings.resolve(state).clone();
                text.push_str(self.strings.resolve(v));
                let s = self.strings.intern(text);
                self.appended.insert((state, v), s);
                Some(s)
            }
        }
    }

    #[inline]
    fn read_only(&self, op: u32) -> bool {
        matches!(self.ops[op as usize], KvOp::Get(_))
    }

    fn render_state(&self, state: u32) -> String {
        format!("{:?}", self.strings.resolve(state))
    }

    fn explain(&mut self, state: u32, op: u32) -> String {
        let cur = self.render_state(state);
        match self.ops[op as usize] {
            KvOp::Get(v) => format!("get {:?} but value is {cur}", self.strings.resolve(v)),
            _ => format!("allowed now (value is {cur}) but leads nowhere"),
        }
    }
}
