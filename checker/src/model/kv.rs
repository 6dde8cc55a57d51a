//! The kv model (Porcupine's and the 6.824 kvraft lab's): per key a string value, initially
//! `""`; `get` (ok v: the value must equal v, a nil result reads as `""`), `put v` (set),
//! `append v` (concatenate).
//!
//! States are nodes of a trie of appended segments (node = parent + segment, with its
//! length), so an append step is one hash lookup and never copies or hashes a long string.
//! A get compares a node with its read value through a memoized exact prefix test (each
//! node checks only its own segment against the read value, given its parent's answer).
//! Two nodes may spell the same string (different segment boundaries); that only weakens
//! memoization, never the verdict, since gets compare contents.

use super::intern::Interner;
use super::{OpInput, Spec};
use ahash::AHashMap;
use serde_json::Value;

#[derive(Debug, Clone, Copy)]
enum KvOp {
    /// ok get of the string id.
    Get(u32),
    Put(u32),
    Append(u32),
}

#[derive(Debug, Clone, Copy)]
struct Node {
    parent: u32,
    /// String id of the last segment (unused for the root).
    seg: u32,
    len: u32,
}

/// A compiled kv partition (one key).
#[derive(Debug, Clone)]
pub struct KvSpec {
    /// Segments (put/append arguments) and read values.
    strings: Interner<String>,
    nodes: Vec<Node>,
    /// (node, segment) → child node.
    children: AHashMap<(u32, u32), u32>,
    /// (node, read string id) → is the node's string a prefix of the read string.
    prefix_of: AHashMap<(u32, u32), bool>,
    ops: Vec<KvOp>,
}

impl Default for KvSpec {
    fn default() -> Self {
        let mut strings = Interner::default();
        strings.intern(String::new());
        KvSpec {
            strings,
            nodes: vec![Node {
                parent: 0,
                seg: 0,
                len: 0,
            }],
            children: AHashMap::new(),
            prefix_of: AHashMap::new(),
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

    fn child(&mut self, node: u32, seg: u32) -> u32 {
        let seg_len = self.strings.resolve(seg).len() as u32;
        if seg_len == 0 {
            return node;
        }
        if let Some(&c) = self.children.get(&(node, seg)) {
            return c;
        }
        let c = self.nodes.len() as u32;
        let len = self.nodes[node as usize].len + seg_len;
        self.nodes.push(Node {
            parent: node,
            seg,
            len,
        });
        self.children.insert((node, seg), c);
        c
    }

    /// Is the node's string a prefix of string `s`? Memoized; iterative over the
    /// uncached ancestors.
    fn is_prefix(&mut self, node: u32, s: u32) -> bool {
        let mut path = Vec::new();
        let mut n = node;
        let mut known = true;
        while n != 0 {
            if let Some(&b) = self.prefix_of.get(&(n, s)) {
                known = b;
                break;
            }
            path.push(n);
            n = self.nodes[n as usize].parent;
        }
        let target = self.strings.resolve(s).as_bytes();
        for &m in path.iter().rev() {
            if known {
                let nd = self.nodes[m as usize];
                let seg = self.strings.resolve(nd.seg).as_bytes();
                let start = (nd.len as usize) - seg.len();
                known = target.len() >= nd.len as usize && &target[start..nd.len as usize] == seg;
            }
            self.prefix_of.insert((m, s), known);
        }
        known
    }

    fn text(&self, node: u32) -> String {
        let mut segs = Vec::new();
        let mut n = node;
        while n != 0 {
            let nd = self.nodes[n as usize];
            segs.push(self.strings.resolve(nd.seg).as_str());
            n = nd.parent;
        }
        segs.reverse();
        segs.concat()
    }
}

impl Spec for KvSpec {
    fn init(&mut self) -> u32 {
        0
    }

    #[inline]
    fn step(&mut self, state: u32, op: u32) -> Option<u32> {
        match self.ops[op as usize] {
            KvOp::Get(v) => {
                let equal = self.nodes[state as usize].len as usize
                    == self.strings.resolve(v).len()
                    && self.is_prefix(state, v);
                equal.then_some(state)
            }
            KvOp::Put(v) => Some(self.child(0, v)),
            KvOp::Append(v) => Some(self.child(state, v)),
        }
    }

    #[inline]
    fn read_only(&self, op: u32) -> bool {
        matches!(self.ops[op as usize], KvOp::Get(_))
    }

    fn effect_class(&self, op: u32) -> u64 {
        match self.ops[op as usize] {
            KvOp::Get(v) => v as u64,
            KvOp::Put(v) => (1 << 40) | v as u64,
            KvOp::Append(v) => (2 << 40) | v as u64,
        }
    }

    fn resets(&self, op: u32) -> bool {
        matches!(self.ops[op as usize], KvOp::Put(_))
    }

    /// With no put left, the value only grows by appends: a get can still be satisfied only
    /// if the current value is a prefix of what it read.
    fn viable(&mut self, state: u32, op: u32) -> bool {
        match self.ops[op as usize] {
            KvOp::Get(v) => self.is_prefix(state, v),
            _ => true,
        }
    }

    fn bytes(&self) -> usize {
        // Hash map entries: key + value + control byte, rounded up.
        self.nodes.capacity() * std::mem::size_of::<Node>()
            + self.children.capacity() * 16
            + self.prefix_of.capacity() * 16
            + self.strings.len() * 48
    }

    fn release_memo(&mut self) {
        self.nodes.truncate(1);
        self.nodes.shrink_to_fit();
        self.children = AHashMap::new();
        self.prefix_of = AHashMap::new();
    }

    /// A put can restart the value: the read is reachable again if the put's value is a
    /// prefix of what it read.
    fn reset_viable(&mut self, reset: u32, read: u32) -> bool {
        match (self.ops[reset as usize], self.ops[read as usize]) {
            (KvOp::Put(p), KvOp::Get(v)) => self
                .strings
                .resolve(v)
                .starts_with(self.strings.resolve(p).as_str()),
            _ => true,
        }
    }

    fn render_state(&self, state: u32) -> String {
        format!("{:?}", self.text(state))
    }

    fn explain(&mut self, state: u32, op: u32) -> String {
        let cur = self.render_state(state);
        match self.ops[op as usize] {
            KvOp::Get(v) => format!("get {:?} but value is {cur}", self.strings.resolve(v)),
            _ => format!("allowed now (value is {cur}) but leads nowhere"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::OpType;
    use serde_json::json;

    fn spec(ops: &[(&str, Value, Value)]) -> KvSpec {
        let mut s = KvSpec::default();
        for (f, input, output) in ops {
            let op = OpInput {
                f,
                input,
                output,
                outcome: OpType::Ok,
                error: None,
            };
            s.add(&op).unwrap();
        }
        s
    }

    #[test]
    fn append_put_get_compare_contents() {
        // 0: append "ab", 1: append "c", 2: get "abc", 3: get "ab", 4: put "abc", 5: get "", 6: append "bc"
        let mut s = spec(&[
            ("append", json!("ab"), json!("ab")),
            ("append", json!("c"), json!("c")),
            ("get", Value::Null, json!("abc")),
            ("get", Value::Null, json!("ab")),
            ("put", json!("abc"), json!("abc")),
            ("get", Value::Null, Value::Null),
            ("append", json!("bc"), json!("bc")),
        ]);
        let s0 = s.init();
        assert_eq!(
            s.step(s0, 5),
            Some(s0),
            "nil get reads the initial empty string"
        );
        let ab = s.step(s0, 0).unwrap();
        assert_eq!(s.step(ab, 3), Some(ab));
        assert_eq!(s.step(ab, 2), None);
        assert!(s.viable(ab, 2), "ab is a prefix of abc");
        let abc = s.step(ab, 1).unwrap();
        assert_eq!(s.step(abc, 2), Some(abc));
        assert!(!s.viable(abc, 3), "abc is not a prefix of ab");
        // A different segmentation of the same string still reads equal.
        let a_bc = {
            let mut t = spec(&[
                ("put", json!("a"), json!("a")),
                ("append", json!("bc"), json!("bc")),
                ("get", Value::Null, json!("abc")),
            ]);
            let a = t.step(0, 0).unwrap();
            let abc2 = t.step(a, 1).unwrap();
            t.step(abc2, 2).is_some()
        };
        assert!(a_bc);
        let put = s.step(abc, 4).unwrap();
        assert_eq!(s.step(put, 2), Some(put));
        assert_eq!(s.render_state(put), "\"abc\"");
        let abcbc = s.step(put, 6).unwrap();
        assert_eq!(s.step(abcbc, 2), None);
    }
}
