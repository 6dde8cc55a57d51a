//! Interning of model values and states into dense `u32` ids, so that model states are
//! small integers that hash and compare in O(1) in the search's memo cache.

use ahash::AHashMap;
use serde_json::Value;
use std::hash::Hash;

/// Heap bytes an interned item holds beyond its inline size (for memory budgets).
pub trait HeapSize {
    fn heap_bytes(&self) -> usize;
}

impl HeapSize for String {
    fn heap_bytes(&self) -> usize {
        self.capacity()
    }
}

impl<T> HeapSize for Vec<T> {
    fn heap_bytes(&self) -> usize {
        self.capacity() * std::mem::size_of::<T>()
    }
}

/// Interns arbitrary hashable things into dense ids `0..len`.
#[derive(Debug, Clone)]
pub struct Interner<T: Eq + Hash + Clone + HeapSize> {
    ids: AHashMap<T, u32>,
    items: Vec<T>,
    /// Bytes held by the items (both copies, inline and heap) and the map's entries.
    bytes: usize,
}

impl<T: Eq + Hash + Clone + HeapSize> Default for Interner<T> {
    fn default() -> Self {
        Interner {
            ids: AHashMap::new(),
            items: Vec::new(),
            bytes: 0,
        }
    }
}

impl<T: Eq + Hash + Clone + HeapSize> Interner<T> {
    /// Bytes held, counted as items are added (what memory budgets charge for).
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The id of `item`, adding it if new.
    pub fn intern(&mut self, item: T) -> u32 {
        if let Some(&id) = self.ids.get(&item) {
            return id;
        }
        self.bytes += 2 * (std::mem::size_of::<T>() + item.heap_bytes()) + 8;
        let id = self.items.len() as u32;
        self.items.push(item.clone());
        self.ids.insert(item, id);
        id
    }

    /// The id of `item` if it was interned.
    pub fn get(&self, item: &T) -> Option<u32> {
        self.ids.get(item).copied()
    }

    pub fn resolve(&self, id: u32) -> &T {
        &self.items[id as usize]
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

/// Interns JSON values by their canonical text; id 0 is always `null` (nil / absent).
#[derive(Debug, Clone)]
pub struct ValueTable {
    inner: Interner<String>,
}

impl Default for ValueTable {
    fn default() -> Self {
        let mut inner = Interner::default();
        inner.intern("null".to_string());
        ValueTable { inner }
    }
}

impl ValueTable {
    pub const NIL: u32 = 0;

    pub fn intern(&mut self, v: &Value) -> u32 {
        self.inner.intern(canonical(v))
    }

    /// The text of a value id (JSON).
    pub fn text(&self, id: u32) -> &str {
        self.inner.resolve(id)
    }
}

/// Canonical text of a JSON value: integers written as integers even when they came as
/// floats with no fraction, so `1` and `1.0` are the same value.
pub fn canonical(v: &Value) -> String {
    if let Value::Number(n) = v {
        if let Some(f) = n.as_f64() {
            if n.is_f64() && f.fract() == 0.0 && f.abs() < 9.0e15 {
                return format!("{}", f as i64);
            }
        }
    }
    v.to_string()
}
