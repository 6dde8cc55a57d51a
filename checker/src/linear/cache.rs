//! The memo cache of Lowe's optimisation: the set of visited (linearized-ops set, model
//! state) pairs. An open-addressing table keyed by a 64-bit hash (maintained incrementally by
//! the search), with every set stored once, in its compact encoding (see
//! `search::Search::encode`: a window of words plus a list of exceptions, so its size follows
//! the concurrency of the history, not its length), in a shared word arena for exact
//! comparison: a lookup allocates nothing, an insert appends the encoding to the arena.

#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    hash: u64,
    /// 1 + start of the encoding in the arena; 0 = empty slot.
    start: u32,
    /// Length of the encoding in words.
    len: u32,
    state: u32,
}

/// Visited (encoded set, state) pairs.
#[derive(Debug)]
pub struct Cache {
    table: Vec<Slot>,
    mask: usize,
    arena: Vec<u64>,
    len: usize,
}

impl Cache {
    /// A cache sized for about `expected` entries (it grows as needed).
    pub fn new(expected: usize) -> Cache {
        let cap = (expected * 2).next_power_of_two().clamp(16, 1024);
        Cache {
            table: vec![Slot::default(); cap],
            mask: cap - 1,
            arena: Vec::new(),
            len: 0,
        }
    }

    /// Number of stored pairs.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes held now.
    pub fn bytes(&self) -> usize {
        self.table.capacity() * std::mem::size_of::<Slot>() + self.arena.capacity() * 8
    }

    /// Bytes that one more insert of `words` words could need at most (a table doubling plus
    /// an arena growth).
    pub fn next_growth_bytes(&self, words: usize) -> usize {
        let table = if (self.len + 1) * 2 > self.table.len() {
            self.table.len() * 2 * std::mem::size_of::<Slot>()
        } else {
            0
        };
        let arena = if self.arena.len() + words > self.arena.capacity() {
            self.arena.capacity().max(words) * 8
        } else {
            0
        };
        table + arena
    }

    #[inline]
    fn mix(hash: u64, state: u32) -> u64 {
        let mut z = hash ^ (state as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        z ^= z >> 29;
        z = z.wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z ^ (z >> 32)
    }

    /// Insert (key, state); true if it was not there. `key_hash` is the caller's hash of the
    /// set that `key` encodes (equal sets must give equal hashes and equal encodings).
    #[inline]
    pub fn insert(&mut self, key: &[u64], key_hash: u64, state: u32) -> bool {
        let h = Self::mix(key_hash, state);
        let mut i = (h as usize) & self.mask;
        loop {
            let slot = self.table[i];
            if slot.start == 0 {
                break;
            }
            if slot.hash == h && slot.state == state && slot.len as usize == key.len() {
                let start = slot.start as usize - 1;
                if &self.arena[start..start + key.len()] == key {
                    return false;
                }
            }
            i = (i + 1) & self.mask;
        }
        let start = self.arena.len() as u32 + 1;
        self.arena.extend_from_slice(key);
        self.table[i] = Slot {
            hash: h,
            start,
            len: key.len() as u32,
            state,
        };
        self.len += 1;
        if self.len * 2 > self.table.len() {
            self.grow();
        }
        true
    }

    fn grow(&mut self) {
        let cap = self.table.len() * 2;
        let old = std::mem::replace(&mut self.table, vec![Slot::default(); cap]);
        self.mask = cap - 1;
        for s in old.into_iter().filter(|s| s.start != 0) {
            let mut i = (s.hash as usize) & self.mask;
            while self.table[i].start != 0 {
                i = (i + 1) & self.mask;
            }
            self.table[i] = s;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinguishes_keys_with_equal_hash_and_states() {
        let mut c = Cache::new(4);
        assert!(c.insert(&[1, 0], 7, 3));
        assert!(!c.insert(&[1, 0], 7, 3));
        // Same hash, different keys or lengths: stored separately (exact comparison).
        assert!(c.insert(&[2, 0], 7, 3));
        assert!(c.insert(&[1], 7, 3));
        assert!(c.insert(&[1, 0], 7, 4));
        assert_eq!(c.len(), 4);
    }

    #[test]
    fn survives_growth() {
        let mut c = Cache::new(1);
        for i in 0..5000u64 {
            let key: Vec<u64> = (0..(i % 3) + 1).map(|j| i + j).collect();
            assert!(c.insert(&key, i.wrapping_mul(0x1234_5678_9abc_def1), (i % 7) as u32));
        }
        for i in 0..5000u64 {
            let key: Vec<u64> = (0..(i % 3) + 1).map(|j| i + j).collect();
            assert!(!c.insert(&key, i.wrapping_mul(0x1234_5678_9abc_def1), (i % 7) as u32));
        }
        assert_eq!(c.len(), 5000);
        assert!(c.bytes() >= 5000 * 8);
    }
}
