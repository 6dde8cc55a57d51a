//! The memo cache of Lowe's optimisation: the set of visited (linearized-ops bitset, model
//! state) pairs. An open-addressing table keyed by a 64-bit hash (maintained incrementally by
//! the search), with every bitset stored once in a shared word arena for exact comparison:
//! a lookup allocates nothing, an insert appends `words` u64s to the arena (amortized).

#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    hash: u64,
    /// 1 + entry number in the arena; 0 = empty slot.
    entry: u32,
    state: u32,
}

/// Visited (bitset, state) pairs.
#[derive(Debug)]
pub struct Cache {
    words: usize,
    table: Vec<Slot>,
    mask: usize,
    arena: Vec<u64>,
    len: usize,
}

impl Cache {
    /// A cache for bitsets of `words` 64-bit words.
    pub fn new(words: usize) -> Cache {
        let cap = 1024;
        Cache {
            words,
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

    /// Bytes that one more insert could need at most (a table doubling plus an arena growth).
    pub fn next_growth_bytes(&self) -> usize {
        let table = if (self.len + 1) * 2 > self.table.len() {
            self.table.len() * 2 * std::mem::size_of::<Slot>()
        } else {
            0
        };
        let arena = if self.arena.len() + self.words > self.arena.capacity() {
            self.arena.capacity().max(self.words) * 8
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

    /// Insert (bits, state); true if it was not there. `bits_hash` is the caller's hash of
    /// `bits` (xor of per-op keys).
    #[inline]
    pub fn insert(&mut self, bits: &[u64], bits_hash: u64, state: u32) -> bool {
        debug_assert_eq!(bits.len(), self.words);
        let h = Self::mix(bits_hash, state);
        let mut i = (h as usize) & self.mask;
        loop {
            let slot = self.table[i];
            if slot.entry == 0 {
                break;
            }
            if slot.hash == h && slot.state == state {
                let start = (slot.entry as usize - 1) * self.words;
                if &self.arena[start..start + self.words] == bits {
                    return false;
                }
            }
            i = (i + 1) & self.mask;
        }
        let entry = (self.arena.len() / self.words.max(1)) as u32 + 1;
        self.arena.extend_from_slice(bits);
        self.table[i] = Slot {
            hash: h,
            entry,
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
        for s in old.into_iter().filter(|s| s.entry != 0) {
            let mut i = (s.hash as usize) & self.mask;
            while self.table[i].entry != 0 {
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
    fn distinguishes_bitsets_with_equal_hash_and_states() {
        let mut c = Cache::new(2);
        assert!(c.insert(&[1, 0], 7, 3));
        assert!(!c.insert(&[1, 0], 7, 3));
        // Same hash, different bits: must be stored separately (exact comparison).
        assert!(c.insert(&[2, 0], 7, 3));
        assert!(c.insert(&[1, 0], 7, 4));
        assert_eq!(c.len(), 3);
    }

    #[test]
    fn survives_growth() {
        let mut c = Cache::new(1);
        for i in 0..5000u64 {
            assert!(c.insert(&[i], i.wrapping_mul(0x1234_5678_9abc_def1), (i % 7) as u32));
        }
        for i in 0..5000u64 {
            assert!(!c.insert(&[i], i.wrapping_mul(0x1234_5678_9abc_def1), (i % 7) as u32));
        }
        assert_eq!(c.len(), 5000);
        assert!(c.bytes() >= 5000 * 8);
    }
}
