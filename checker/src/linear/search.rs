//! The resumable Wing & Gong search with Lowe's memoization, for one partition.
//!
//! Call and return entries of the operations live in an arena as a doubly linked list
//! ordered by time (info ops return at +infinity); linearizing an op lifts its two entries
//! out in O(1) and backtracking puts them back in O(1). The linearized set is a bitset whose
//! hash is kept incrementally (xor of per-op random keys). The stack is explicit, so a
//! search runs for a bounded number of steps and resumes later ([`Search::run`]).
//!
//! Pruning beyond the plain algorithm, each provably complete (and each checked against a
//! brute-force oracle in `tests/linear_oracle.rs`):
//! - success as soon as every *required* op (ok, or failed cas) is linearized: the open
//!   info ops then simply did not take effect;
//! - the greedy read rule: if a candidate op is read-only (leaves every state it is allowed
//!   in unchanged) and is allowed in the current state, it is linearized first and its
//!   alternatives are not explored. Sound because any linearization σ from this node gives
//!   one that starts with it: the op is minimal (no pending op returned before it was
//!   invoked), so moving it to the front keeps real-time order, and removing a no-op from σ
//!   changes no state along σ;
//! - interchangeable info ops: of two open info ops with the same effect, the later-invoked
//!   one is only linearized after the earlier one (swapping them in any linearization gives
//!   one that respects this, since both return at +infinity);
//! - unreachable reads: a pending ok read (or one invoked a little later) whose value can
//!   no longer be produced, neither from the current state by non-reset ops
//!   ([`Spec::viable`]: kv appends only extend a string, sets only grow, a register keeps its
//!   value) nor by a reset op still unlinearized and invoked before the read returns
//!   ([`Spec::reset_viable`]: a put whose value prefixes it, a write/cas setting it), kills
//!   the node: every completion must linearize that read before it returns.

use super::cache::Cache;
use crate::model::{PartOp, Spec};

const NIL: u32 = u32::MAX;
const HEAD: u32 = 0;
/// Head of the list of open info ops' call entries (tried after the required ops).
const INFO_HEAD: u32 = 1;

#[derive(Debug, Clone, Copy)]
struct Entry {
    /// Local op number.
    op: u32,
    ret: bool,
    prev: u32,
    next: u32,
    /// For a call entry, its return entry.
    mate: u32,
}

#[derive(Debug, Clone, Copy)]
struct Frame {
    entry: u32,
    state: u32,
    /// `lo` and `hi` before this op was linearized.
    lo: u32,
    hi: u32,
    forced: bool,
}

/// How a slice of search ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Linearizable,
    NotLinearizable,
    /// The step budget of this slice ran out; call `run` again.
    Paused,
    /// The memory allowance would be exceeded.
    OutOfMemory,
}

/// One partition's search, resumable.
pub struct Search {
    /// Local op number → spec op number.
    ids: Vec<u32>,
    required: Vec<bool>,
    read_only: Vec<bool>,
    resets: Vec<bool>,
    /// Unlinearized ops that may reset a monotone model's state: count, and bitset by
    /// local op (local ops are in invoke order, so the first set bit is the earliest).
    resets_left: usize,
    reset_bits: Vec<u64>,
    /// Invoke and return positions per local op (return = u64::MAX for info ops).
    inv_time: Vec<u64>,
    ret_time: Vec<u64>,
    /// No word of `reset_bits` below this one has a bit set.
    reset_hint: usize,
    /// Previous interchangeable open info op (local), or NIL.
    twin: Vec<u32>,
    /// Next interchangeable open info op (local), or NIL: it joins the info list when this
    /// one is linearized, so the list holds one op per effect class at most.
    next_twin: Vec<u32>,
    /// Call entry of each local op.
    call_of: Vec<u32>,
    total_required: usize,
    lin_required: usize,
    entries: Vec<Entry>,
    stack: Vec<Frame>,
    bits: Vec<u64>,
    hash: u64,
    /// First unlinearized required op (local; `len()` when none): every required op below
    /// it is linearized, which is what keeps memo keys small.
    lo: u32,
    /// One past the highest linearized op.
    hi: u32,
    /// Scratch buffer for the encoded memo key.
    key: Vec<u64>,
    /// Latest return position reached: the largest, over configurations visited, of the
    /// earliest return among unlinearized required ops (see [`Search::horizon`]).
    horizon: u64,
    keys: Vec<u64>,
    state: u32,
    cursor: u32,
    /// The cursor walks the open info ops' list (after the required candidates).
    info_phase: bool,
    /// In the info phase: the first pending return's time (later-invoked ops must wait).
    info_bound: u64,
    need_prescan: bool,
    started: bool,
    done: Option<Status>,
    cache: Cache,
    /// Total model steps taken.
    pub steps: u64,
    /// Configurations inserted in the memo cache.
    pub configs: u64,
    best: Vec<u32>,
    /// Length of the common prefix of `best` and the stack's ops.
    agree: usize,
    best_states: Vec<u32>,
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Reads past the candidate window whose reachability is checked (monotone models).
const LOOKAHEAD_READS: usize = 8;

/// Partitions of up to this many bitset words use the whole bitset as memo key.
const FULL_KEY_WORDS: usize = 16;

/// Max states remembered at the longest prefix.
const MAX_BEST_STATES: usize = 8;

impl Search {
    /// A search over the ops `subset` (spec op numbers, i.e. indexes into `ops`) of a
    /// partition; `None` = all of them.
    pub fn new<S: Spec>(ops: &[PartOp], subset: Option<&[u32]>, spec: &S) -> Search {
        let ids: Vec<u32> = match subset {
            Some(s) => s.to_vec(),
            None => (0..ops.len() as u32).collect(),
        };
        let n = ids.len();
        let required: Vec<bool> = ids.iter().map(|&i| ops[i as usize].required).collect();
        let read_only: Vec<bool> = ids.iter().map(|&i| spec.read_only(i)).collect();
        let resets: Vec<bool> = ids.iter().map(|&i| spec.resets(i)).collect();
        // Open info ops of one effect class are interchangeable: an info op may only be
        // linearized after its previous (earlier-invoked) twin. Ops are in invoke order.
        let mut twin = vec![NIL; n];
        let mut last: ahash::AHashMap<u64, u32> = ahash::AHashMap::new();
        for (l, &i) in ids.iter().enumerate() {
            if !required[l] {
                if let Some(prev) = last.insert(spec.effect_class(i), l as u32) {
                    twin[l] = prev;
                }
            }
        }
        let mut next_twin = vec![NIL; n];
        for (l, &t) in twin.iter().enumerate() {
            if t != NIL {
                next_twin[t as usize] = l as u32;
            }
        }
        let resets_left = resets.iter().filter(|&&r| r).count();
        let mut reset_bits = vec![0u64; n.div_ceil(64).max(1)];
        for (l, _) in resets.iter().enumerate().filter(|(_, &r)| r) {
            reset_bits[l / 64] |= 1 << (l % 64);
        }
        let inv_time: Vec<u64> = ids.iter().map(|&i| ops[i as usize].invoke as u64).collect();
        let ret_time: Vec<u64> = ids
            .iter()
            .map(
                |&i| match (ops[i as usize].required, ops[i as usize].complete) {
                    (true, Some(c)) => c as u64,
                    _ => u64::MAX,
                },
            )
            .collect();
        // Events of required ops: (time, is_return, local op). Open ops (info, or running
        // at a cut) never return: they live in their own list, in invoke order.
        let mut events: Vec<(u64, bool, u32)> = Vec::with_capacity(2 * n);
        for (l, &t) in inv_time.iter().enumerate() {
            events.push((t, false, l as u32));
            if required[l] {
                events.push((ret_time[l], true, l as u32));
            }
        }
        events.sort_unstable_by_key(|&(t, r, l)| (t, r, l));
        let head = Entry {
            op: NIL,
            ret: false,
            prev: NIL,
            next: NIL,
            mate: NIL,
        };
        let mut entries = Vec::with_capacity(2 * n + 2);
        entries.push(head);
        entries.push(head);
        let mut call_at = vec![NIL; n];
        let (mut main_tail, mut info_tail) = (HEAD, INFO_HEAD);
        for &(_, ret, l) in &events {
            let idx = entries.len() as u32;
            let tail = if ret || required[l as usize] {
                &mut main_tail
            } else if twin[l as usize] == NIL {
                &mut info_tail
            } else {
                // Not in a list until its previous twin is linearized.
                entries.push(Entry {
                    op: l,
                    ret,
                    prev: NIL,
                    next: NIL,
                    mate: NIL,
                });
                call_at[l as usize] = idx;
                continue;
            };
            let prev = *tail;
            *tail = idx;
            entries[prev as usize].next = idx;
            entries.push(Entry {
                op: l,
                ret,
                prev,
                next: NIL,
                mate: NIL,
            });
            if ret {
                let c = call_at[l as usize];
                entries[c as usize].mate = idx;
            } else {
                call_at[l as usize] = idx;
            }
        }
        let call_of = call_at;
        let words = n.div_ceil(64).max(1);
        let lo = required.iter().position(|&r| r).unwrap_or(n) as u32;
        let keys = (0..n as u64).map(|i| splitmix(i ^ 0x5151_7e57)).collect();
        let total_required = required.iter().filter(|&&r| r).count();
        Search {
            ids,
            required,
            read_only,
            resets,
            resets_left,
            reset_bits,
            reset_hint: 0,
            info_phase: false,
            info_bound: u64::MAX,
            inv_time,
            ret_time,
            next_twin,
            call_of,
            twin,
            total_required,
            lin_required: 0,
            entries,
            stack: Vec::new(),
            bits: vec![0; words],
            hash: 0,
            lo,
            hi: 0,
            key: Vec::new(),
            horizon: 0,
            keys,
            state: 0,
            cursor: NIL,
            need_prescan: true,
            started: false,
            done: None,
            cache: Cache::new(n),
            steps: 0,
            configs: 0,
            best: Vec::new(),
            agree: 0,
            best_states: Vec::new(),
        }
    }

    /// Bytes held by this search (cache, stack, lists).
    pub fn bytes(&self) -> usize {
        self.cache.bytes()
            + self.stack.capacity() * std::mem::size_of::<Frame>()
            + self.entries.capacity() * std::mem::size_of::<Entry>()
            + (self.best.capacity() + self.ids.capacity()) * 4
            + self.bits.capacity() * 8
            + self.keys.capacity() * 8
            + (self.inv_time.capacity() + self.ret_time.capacity()) * 8
            + self.twin.capacity() * 4
    }

    /// Number of ops (local).
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The longest linearizable prefix found, as spec op numbers in order.
    pub fn longest_prefix(&self) -> Vec<u32> {
        self.best.iter().map(|&l| self.ids[l as usize]).collect()
    }

    /// Distinct model states seen after the longest prefix (bounded).
    pub fn best_states(&self) -> &[u32] {
        &self.best_states
    }

    #[inline]
    fn lift(&mut self, e: u32) {
        let en = self.entries[e as usize];
        self.entries[en.prev as usize].next = en.next;
        if en.next != NIL {
            self.entries[en.next as usize].prev = en.prev;
        }
        if en.mate == NIL {
            return;
        }
        let m = self.entries[en.mate as usize];
        self.entries[m.prev as usize].next = m.next;
        if m.next != NIL {
            self.entries[m.next as usize].prev = m.prev;
        }
    }

    /// Put the call entry `e` of an open info op into the info list, in invoke order.
    fn insert_info(&mut self, e: u32) {
        let op = self.entries[e as usize].op;
        let mut prev = INFO_HEAD;
        loop {
            let next = self.entries[prev as usize].next;
            if next == NIL || self.entries[next as usize].op > op {
                break;
            }
            prev = next;
        }
        let next = self.entries[prev as usize].next;
        self.entries[e as usize].prev = prev;
        self.entries[e as usize].next = next;
        self.entries[prev as usize].next = e;
        if next != NIL {
            self.entries[next as usize].prev = e;
        }
    }

    /// Undo [`Search::insert_info`] (LIFO with the lifts in between).
    fn remove_info(&mut self, e: u32) {
        let en = self.entries[e as usize];
        self.entries[en.prev as usize].next = en.next;
        if en.next != NIL {
            self.entries[en.next as usize].prev = en.prev;
        }
    }

    #[inline]
    fn unlift(&mut self, e: u32) {
        let mate = self.entries[e as usize].mate;
        if mate != NIL {
            let m = self.entries[mate as usize];
            self.entries[m.prev as usize].next = mate;
            if m.next != NIL {
                self.entries[m.next as usize].prev = mate;
            }
        }
        let en = self.entries[e as usize];
        self.entries[en.prev as usize].next = e;
        if en.next != NIL {
            self.entries[en.next as usize].prev = e;
        }
    }

    #[inline]
    fn toggle(&mut self, l: u32) {
        self.bits[(l / 64) as usize] ^= 1u64 << (l % 64);
        self.hash ^= self.keys[l as usize];
    }

    #[inline]
    fn linearized(&self, l: u32) -> bool {
        self.bits[(l / 64) as usize] & (1u64 << (l % 64)) != 0
    }

    /// The memo key of the current linearized set, into `self.key`: `[lo_w, |X|, X..,
    /// window]` where `lo_w` is the word of the first unlinearized required op, `X` the
    /// unlinearized ops below word `lo_w` (all info ops: they may stay open forever) and
    /// `window` the bit words from `lo_w` up to the highest linearized op. Everything below
    /// `lo_w` but `X` is linearized, so this is a function of the set alone, and its size
    /// follows the concurrency of the history, not its length.
    /// (Partitions of at most [`FULL_KEY_WORDS`] words use the whole bitset instead: as
    /// short, and cheaper to build.)
    fn encode(&mut self) {
        let lo_w = self.lo / 64;
        let floor = lo_w * 64;
        self.key.clear();
        self.key.push(lo_w as u64);
        self.key.push(0);
        let mut e = self.entries[INFO_HEAD as usize].next;
        let mut count = 0u64;
        while e != NIL {
            let en = self.entries[e as usize];
            if en.op >= floor {
                break;
            }
            if !self.linearized(en.op) {
                self.key.push(en.op as u64);
                count += 1;
            }
            e = en.next;
        }
        self.key[1] = count;
        let hi_w = self.hi.div_ceil(64);
        if hi_w > lo_w {
            self.key
                .extend_from_slice(&self.bits[lo_w as usize..hi_w as usize]);
        }
    }

    /// Try to linearize call entry `e` into state `ns`; false if (set, ns) was visited.
    #[inline]
    fn push(&mut self, e: u32, ns: u32, forced: bool) -> bool {
        let l = self.entries[e as usize].op;
        let (old_lo, old_hi) = (self.lo, self.hi);
        self.toggle(l);
        self.hi = self.hi.max(l + 1);
        if l == self.lo {
            let n = self.ids.len() as u32;
            let mut lo = l + 1;
            while lo < n && (!self.required[lo as usize] || self.linearized(lo)) {
                lo += 1;
            }
            self.lo = lo;
        }
        let fresh = if self.bits.len() <= FULL_KEY_WORDS {
            self.cache.insert(&self.bits, self.hash, ns)
        } else {
            self.encode();
            self.cache.insert(&self.key, self.hash, ns)
        };
        if !fresh {
            self.toggle(l);
            self.lo = old_lo;
            self.hi = old_hi;
            return false;
        }
        self.configs += 1;
        self.stack.push(Frame {
            entry: e,
            state: self.state,
            lo: old_lo,
            hi: old_hi,
            forced,
        });
        self.state = ns;
        self.lift(e);
        let succ = self.next_twin[l as usize];
        if succ != NIL {
            self.insert_info(self.call_of[succ as usize]);
        }
        if self.required[l as usize] {
            self.lin_required += 1;
        }
        if self.resets[l as usize] {
            self.resets_left -= 1;
            self.reset_bits[(l / 64) as usize] ^= 1u64 << (l % 64);
        }
        self.need_prescan = true;
        self.note_best(ns);
        true
    }

    /// Keep the longest linearized sequence seen (amortized: only the part of the stack
    /// that differs from it is copied) and the states after sequences of that length.
    #[inline]
    fn note_best(&mut self, ns: u32) {
        let depth = self.stack.len();
        if depth > self.best.len() {
            self.best.truncate(self.agree);
            for f in &self.stack[self.agree..] {
                self.best.push(self.entries[f.entry as usize].op);
            }
            self.agree = depth;
            self.best_states.clear();
            self.best_states.push(ns);
        } else if depth == self.best.len()
            && self.best_states.len() < MAX_BEST_STATES
            && !self.best_states.contains(&ns)
        {
            self.best_states.push(ns);
        }
    }

    /// The latest history position up to which the search showed a linearization: every
    /// prefix of the history that ends before this position (ops still running at its end
    /// left open) is linearizable, since some visited configuration linearizes all of its
    /// required ops. `u64::MAX` once every required op is linearized.
    pub fn horizon(&self) -> u64 {
        self.horizon
    }

    /// Invoke position of the earliest unlinearized reset op (u64::MAX if none).
    #[inline]
    fn first_reset_invoke(&mut self) -> u64 {
        if self.resets_left == 0 {
            return u64::MAX;
        }
        // Every word below the hint is zero (backtracking lowers it again).
        while self.reset_hint < self.reset_bits.len() {
            let bits = self.reset_bits[self.reset_hint];
            if bits != 0 {
                return self.inv_time[self.reset_hint * 64 + bits.trailing_zeros() as usize];
            }
            self.reset_hint += 1;
        }
        u64::MAX
    }

    /// Whether some unlinearized reset op invoked before read `l` returns could make `l`
    /// viable again. Unlinearized ops below `lo` are open info ops (in their list); from
    /// `lo` on, the ops invoked before `l` returns are scanned latest first. So the cost
    /// follows the concurrency, not the position in the history.
    fn reset_can_reach<S: Spec>(&mut self, spec: &mut S, l: u32) -> bool {
        let li = l as usize;
        let ret = self.ret_time[li];
        let read = self.ids[li];
        let end = self.inv_time.partition_point(|&t| t < ret);
        let lo = self.lo as usize;
        for r in (lo..end).rev() {
            if self.resets[r] && !self.linearized(r as u32) && spec.reset_viable(self.ids[r], read)
            {
                return true;
            }
        }
        let mut e = self.entries[INFO_HEAD as usize].next;
        while e != NIL {
            let r = self.entries[e as usize].op;
            if r as usize >= lo.min(end) {
                break;
            }
            if self.resets[r as usize] && spec.reset_viable(self.ids[r as usize], read) {
                return true;
            }
            e = self.entries[e as usize].next;
        }
        false
    }

    /// Time of the first return entry at or after `e` in the main list (u64::MAX if none):
    /// no op invoked at or after it can be linearized next.
    fn first_return(&self, mut e: u32) -> u64 {
        while e != NIL && !self.entries[e as usize].ret {
            e = self.entries[e as usize].next;
        }
        if e == NIL {
            u64::MAX
        } else {
            self.ret_time[self.entries[e as usize].op as usize]
        }
    }

    /// Pop frames until one leaves alternatives to explore; false if the stack emptied.
    fn backtrack(&mut self) -> bool {
        while let Some(f) = self.stack.pop() {
            let l = self.entries[f.entry as usize].op;
            let succ = self.next_twin[l as usize];
            if succ != NIL {
                self.remove_info(self.call_of[succ as usize]);
            }
            self.unlift(f.entry);
            self.toggle(l);
            if self.required[l as usize] {
                self.lin_required -= 1;
            }
            if self.resets[l as usize] {
                self.resets_left += 1;
                self.reset_bits[(l / 64) as usize] ^= 1u64 << (l % 64);
                self.reset_hint = self.reset_hint.min((l / 64) as usize);
            }
            self.state = f.state;
            self.lo = f.lo;
            self.hi = f.hi;
            self.agree = self.agree.min(self.stack.len());
            if !f.forced {
                self.cursor = self.entries[f.entry as usize].next;
                self.info_phase = !self.required[l as usize];
                if self.info_phase {
                    let e = self.entries[HEAD as usize].next;
                    self.info_bound = self.first_return(e);
                }
                self.need_prescan = false;
                return true;
            }
        }
        false
    }

    /// Run up to `max_steps` model steps, never letting the cache exceed `mem_allow` bytes.
    pub fn run<S: Spec>(&mut self, spec: &mut S, max_steps: u64, mem_allow: usize) -> Status {
        if let Some(d) = self.done {
            return d;
        }
        if !self.started {
            self.started = true;
            self.state = spec.init();
            if self.best_states.is_empty() {
                self.best_states.push(self.state);
            }
        }
        let limit = self.steps + max_steps;
        let status = loop {
            if self.lin_required == self.total_required {
                self.horizon = u64::MAX;
                break Status::Linearizable;
            }
            if self.steps >= limit {
                return Status::Paused;
            }
            if self.steps & 255 == 0
                && self.bytes()
                    + spec.bytes()
                    + self
                        .cache
                        .next_growth_bytes(self.key.len().max(self.bits.len().min(FULL_KEY_WORDS)))
                    > mem_allow
            {
                return Status::OutOfMemory;
            }
            if self.need_prescan {
                self.need_prescan = false;
                let mut e = self.entries[HEAD as usize].next;
                let mut dead = false;
                let mut forced = false;
                let reset_limit = self.first_reset_invoke();
                while e != NIL && !self.entries[e as usize].ret {
                    let l = self.entries[e as usize].op;
                    let id = self.ids[l as usize];
                    if self.read_only[l as usize] {
                        self.steps += 1;
                        if let Some(ns) = spec.step(self.state, id) {
                            if self.push(e, ns, true) {
                                forced = true;
                            } else {
                                dead = true;
                            }
                            break;
                        }
                        // A read that cannot be reached from this state by non-reset ops,
                        // nor after any remaining reset that can still come before it
                        // returns, kills the node.
                        if self.required[l as usize]
                            && !spec.viable(self.state, id)
                            && (self.ret_time[l as usize] < reset_limit
                                || !self.reset_can_reach(spec, l))
                        {
                            dead = true;
                            break;
                        }
                    }
                    e = self.entries[e as usize].next;
                }
                if forced {
                    continue;
                }
                // (A dead configuration was reached all the same: walk on to its first
                // return for the horizon.)
                while dead && e != NIL && !self.entries[e as usize].ret {
                    e = self.entries[e as usize].next;
                }
                {
                    let h = if e == NIL {
                        u64::MAX
                    } else {
                        self.ret_time[self.entries[e as usize].op as usize]
                    };
                    self.horizon = self.horizon.max(h);
                }
                // Reads invoked later must also stay reachable (from this state, or
                // after a reset that can still come before they return).
                if !dead {
                    let mut checked = 0;
                    while e != NIL && checked < LOOKAHEAD_READS {
                        let en = self.entries[e as usize];
                        let l = en.op as usize;
                        if self.inv_time[l] >= reset_limit {
                            break;
                        }
                        // (Only reads no remaining reset can precede: checking the others
                        // here costs more than it prunes on the kv corpus.)
                        if !en.ret
                            && self.read_only[l]
                            && self.required[l]
                            && self.ret_time[l] < reset_limit
                        {
                            checked += 1;
                            if !spec.viable(self.state, self.ids[l]) {
                                dead = true;
                                break;
                            }
                        }
                        e = en.next;
                    }
                }
                if dead {
                    if !self.backtrack() {
                        break Status::NotLinearizable;
                    }
                    continue;
                }
                self.cursor = self.entries[HEAD as usize].next;
                self.info_phase = false;
            }
            let e = self.cursor;
            if !self.info_phase && (e == NIL || self.entries[e as usize].ret) {
                // The required candidates are done: the open info ops invoked before the
                // first pending return come next.
                self.info_phase = true;
                self.info_bound = self.first_return(e);
                self.cursor = self.entries[INFO_HEAD as usize].next;
                continue;
            }
            if e == NIL
                || (self.info_phase
                    && self.inv_time[self.entries[e as usize].op as usize] >= self.info_bound)
            {
                if !self.backtrack() {
                    break Status::NotLinearizable;
                }
                continue;
            }
            self.steps += 1;
            let l = self.entries[e as usize].op;
            let t = self.twin[l as usize];
            if t != NIL && self.bits[(t / 64) as usize] & (1u64 << (t % 64)) == 0 {
                self.cursor = self.entries[e as usize].next;
                continue;
            }
            if let Some(ns) = spec.step(self.state, self.ids[l as usize]) {
                if self.push(e, ns, false) {
                    continue;
                }
            }
            self.cursor = self.entries[e as usize].next;
        };
        self.done = Some(status);
        status
    }

    /// Release the memo cache (after a verdict).
    pub fn free_cache(&mut self) {
        self.cache = Cache::new(1);
        self.stack = Vec::new();
        self.key = Vec::new();
    }
}
