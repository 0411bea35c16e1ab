//! Go's `sync` package for goroutines: locks and coordination that park the
//! goroutine (or, on a plain OS thread, the thread), never the worker.
//!
//! | type | Go | notes |
//! |---|---|---|
//! | [`Mutex`] | `sync.Mutex` | guard-based, no poisoning, starvation mode |
//! | [`RwMutex`] | `sync.RWMutex` | writer preference |
//! | [`WaitGroup`] | `sync.WaitGroup` | share via `Arc`; reusable |
//! | [`Once`] | `sync.Once` | a panicking initialiser is *not* marked done |
//! | [`Cond`] | `sync.Cond` | `wait(guard) -> guard` |
//! | [`Pool`] | `sync.Pool` | sharded per thread, bounded |
//! | [`Semaphore`] | `x/sync/semaphore.Weighted` | FIFO |
//! | [`Group`] | `x/sync/errgroup.Group` | first error, limit, `cancelled()` |
//!
//! # Design
//!
//! Every blocking type parks through one building block, `sema.rs` (Go's
//! `runtime/sema.go`): a FIFO queue of parked waiters, each an `Arc` node
//! holding its wake handle and a `WAITING → WOKEN | GRANTED` state, with a
//! hand-off option ("granted" means the releaser passed the permit or lock
//! straight to the waiter). `Mutex`, `RwMutex` and `WaitGroup` keep their
//! real state in their own atomic word (Go's layouts) and use a `Sema` only
//! to sleep; `Cond` and `Semaphore` keep a node queue beside their own
//! state under a short lock. `sema.rs` states the invariants and the
//! no-lost-wake-up argument; its queue logic is generic over a parker and
//! model-checked with loom (`RUSTFLAGS="--cfg loom" cargo test --release
//! --lib loom_sema`). Under `--cfg loom` only `sema` is built.
//!
//! All lock acquisitions are preemption points (`checkpoint()`), and every
//! park records its Go wait reason (`sync.Mutex.Lock`, `sync.WaitGroup.Wait`,
//! ...) for deadlock reports and dumps.
//!
//! The short internal locks (queue locks, `Pool` shards) are `std` mutexes
//! held for a few loads and stores, never across a park or user code.

// Under loom only the queue core (and its model) is built: the public
// types need `const fn` constructors, which loom's atomics do not have.
#[cfg_attr(loom, allow(dead_code))]
pub(crate) mod sema;

#[cfg(not(loom))]
mod cond;
#[cfg(not(loom))]
mod group;
#[cfg(not(loom))]
mod mutex;
#[cfg(not(loom))]
mod once;
#[cfg(not(loom))]
mod pool;
#[cfg(not(loom))]
mod rwmutex;
#[cfg(not(loom))]
mod semaphore;
#[cfg(not(loom))]
mod waitgroup;

#[cfg(not(loom))]
pub use cond::Cond;
#[cfg(not(loom))]
pub use group::Group;
#[cfg(not(loom))]
pub use mutex::{Mutex, MutexGuard};
#[cfg(not(loom))]
pub use once::Once;
#[cfg(not(loom))]
pub use pool::{Pool, PoolGuard, SHARD_CAP};
#[cfg(not(loom))]
pub use rwmutex::{RwMutex, RwMutexReadGuard, RwMutexWriteGuard};
#[cfg(not(loom))]
pub use semaphore::Semaphore;
#[cfg(not(loom))]
pub use waitgroup::WaitGroup;
