//! Stack pools: a small per-worker cache in front of a per-runtime pool.
//!
//! Mapping a fresh stack costs microseconds (mmap + guard, then page faults
//! as it is touched); taking a pooled one costs a `Vec::pop`. When both pools
//! are empty, default-size stacks are mapped [`SLAB`] at a time. Each worker keeps
//! up to [`LOCAL_CAP`] default-size stacks of its own (touched only by that
//! worker, no lock); beyond that, and for other sizes, stacks go to the
//! runtime's shared pool behind a mutex.
//!
//! A runtime also caps how many stacks it maps (`limit`: the process budget,
//! or less when the builder asked for it). `owned` counts what it mapped; a
//! stack is either in a pool or inside a started goroutine.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::GStack;

/// Default-size stacks a worker caches privately.
pub(crate) const LOCAL_CAP: usize = 64;

/// Default-size stacks mapped per `mmap` call when the pools are empty
/// (see `GStack::map_slab`).
const SLAB: usize = 16;

/// A runtime's shared stack pool and its mapping cap.
pub(crate) struct StackPool {
    /// The usable size of stacks that goroutines get unless they ask otherwise.
    pub(crate) default_size: usize,
    /// The runtime's own cap (`RuntimeBuilder::max_stacks`, else unlimited);
    /// the process budget applies on top (see [`StackPool::limit`]).
    max: usize,
    /// Stacks mapped by this runtime (pooled or in use). Updated with the
    /// `spare` lock not held; read racily for the pressure heuristic only.
    owned: AtomicUsize,
    /// Spare stacks of any size, shared by all workers.
    spare: Mutex<Vec<GStack>>,
    /// `spare.len()`, readable without the lock (a hint).
    spare_len: AtomicUsize,
}

/// A worker's private cache of default-size stacks. Owned by the worker's core.
#[derive(Default)]
pub(crate) struct LocalPool {
    /// Hot stacks, most recently freed last.
    stacks: Vec<GStack>,
}

impl StackPool {
    /// A pool for stacks of `default_size` bytes, capped at `limit` stacks.
    pub(crate) fn new(default_size: usize, limit: usize) -> StackPool {
        StackPool {
            default_size,
            max: limit,
            owned: AtomicUsize::new(0),
            spare: Mutex::new(Vec::new()),
            spare_len: AtomicUsize::new(0),
        }
    }

    /// A stack of `size` usable bytes: from `local`, the shared pool, or a new
    /// mapping. `None` when the runtime's cap or the process budget is spent.
    ///
    /// `*published` is set when a new slab put spare stacks in the shared
    /// pool: a worker that found the pool empty a moment earlier (while this
    /// slab was being mapped) may be waiting for a stack, and the caller must
    /// wake it (`Core::start`).
    pub(crate) fn get(
        &self,
        local: &mut LocalPool,
        size: usize,
        published: &mut bool,
    ) -> Option<GStack> {
        if size == self.default_size {
            if let Some(s) = local.stacks.pop() {
                return Some(s);
            }
        }
        if self.spare_len.load(Ordering::Relaxed) > 0 {
            let mut spare = self.spare.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(i) = spare.iter().rposition(|s| s.size() == size) {
                let s = spare.swap_remove(i);
                self.spare_len.store(spare.len(), Ordering::Relaxed);
                return Some(s);
            }
        }
        // Default-size stacks are mapped a slab at a time, the spares going
        // to the shared pool (they cost no memory until touched; in this
        // worker's cache they would be out of reach of a starving worker).
        // Near the cap, one at a time: while a slab is being mapped its
        // stacks count as owned but are not yet in any pool, and a worker
        // that then finds the cap reached and the pools empty starves (a
        // race seen as fresh goroutines never starting under `max_stacks(64)`
        // at 2 workers).
        let room = self.limit().saturating_sub(self.owned());
        let want = if size == self.default_size && room >= 4 * SLAB {
            SLAB
        } else {
            1
        };
        let count = want.min(room);
        if count == 0 {
            return self.evict_and_map(size);
        }
        self.owned.fetch_add(count, Ordering::Relaxed);
        match GStack::map_slab(size, count) {
            Ok(mut stacks) => {
                self.owned
                    .fetch_sub(count - stacks.len(), Ordering::Relaxed);
                let first = stacks.pop();
                if !stacks.is_empty() {
                    let mut spare = self.spare.lock().unwrap_or_else(|e| e.into_inner());
                    spare.append(&mut stacks);
                    self.spare_len.store(spare.len(), Ordering::Relaxed);
                    *published = true;
                }
                first
            }
            Err(_) => {
                self.owned.fetch_sub(count, Ordering::Relaxed);
                self.evict_and_map(size)
            }
        }
    }

    /// At the cap, a spare stack of another size may be unmapped to make room.
    fn evict_and_map(&self, size: usize) -> Option<GStack> {
        let victim = {
            let mut spare = self.spare.lock().unwrap_or_else(|e| e.into_inner());
            let v = spare.pop();
            self.spare_len.store(spare.len(), Ordering::Relaxed);
            v
        }?;
        drop(victim);
        match GStack::map_slab(size, 1) {
            Ok(mut s) => s.pop(),
            Err(_) => {
                self.owned.fetch_sub(1, Ordering::Relaxed);
                None
            }
        }
    }

    /// Returns a stack whose goroutine finished.
    pub(crate) fn put(&self, local: &mut LocalPool, stack: GStack) {
        stack.release_deep_pages();
        if stack.size() == self.default_size && local.stacks.len() < LOCAL_CAP {
            local.stacks.push(stack);
            return;
        }
        let mut spare = self.spare.lock().unwrap_or_else(|e| e.into_inner());
        spare.push(stack);
        self.spare_len.store(spare.len(), Ordering::Relaxed);
    }

    /// Moves a worker's cached stacks to the shared pool (a worker exiting, or
    /// other workers starving for stacks).
    pub(crate) fn flush(&self, local: &mut LocalPool) {
        if local.stacks.is_empty() {
            return;
        }
        let mut spare = self.spare.lock().unwrap_or_else(|e| e.into_inner());
        spare.append(&mut local.stacks);
        self.spare_len.store(spare.len(), Ordering::Relaxed);
    }

    /// At most this many stacks may be mapped by this runtime at once: its
    /// own cap, or what the process budget allows besides the stacks it
    /// already has.
    pub(crate) fn limit(&self) -> usize {
        self.max.min(self.owned() + super::budget::room())
    }

    /// The runtime's own cap, if `max_stacks` set one.
    pub(crate) fn own_cap(&self) -> Option<usize> {
        (self.max != usize::MAX).then_some(self.max)
    }

    /// Stacks mapped by this runtime.
    pub(crate) fn owned(&self) -> usize {
        self.owned.load(Ordering::Relaxed)
    }

    /// Spare stacks in the shared pool (a hint).
    pub(crate) fn spare(&self) -> usize {
        self.spare_len.load(Ordering::Relaxed)
    }

    /// True when new goroutines should wait for started ones: most of the cap
    /// is mapped and nothing is spare.
    pub(crate) fn under_pressure(&self, local: &LocalPool) -> bool {
        local.stacks.is_empty() && self.spare() == 0 && {
            let limit = self.limit();
            self.owned() >= limit - limit / 8
        }
    }

    /// Whether a stack could be had right now without waiting for one to be freed.
    pub(crate) fn available(&self, local: &LocalPool) -> bool {
        !local.stacks.is_empty() || self.spare() > 0 || self.owned() < self.limit()
    }

    /// Drops every spare stack (runtime shutdown).
    pub(crate) fn clear(&self) {
        let mut spare = self.spare.lock().unwrap_or_else(|e| e.into_inner());
        let n = spare.len();
        spare.clear();
        self.spare_len.store(0, Ordering::Relaxed);
        self.owned.fetch_sub(n, Ordering::Relaxed);
    }
}
