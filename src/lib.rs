//! # ferrogo — Go's concurrency model for Rust
//!
//! Goroutines are real stackful green threads: write plain blocking code, and
//! a goroutine that blocks parks itself, never its OS thread. They run on an
//! M:N work-stealing scheduler of `N` worker threads (`FERROGO_MAXPROCS`,
//! like `GOMAXPROCS`).
//!
//! ```
//! use std::sync::atomic::{AtomicU64, Ordering};
//! use std::sync::Arc;
//!
//! // `run` makes the closure the main goroutine (and arms Go's deadlock detector).
//! let total = ferrogo::run(|| {
//!     let sum = Arc::new(AtomicU64::new(0));
//!     let handles: Vec<_> = (1..=1000u64)
//!         .map(|i| {
//!             let sum = sum.clone();
//!             ferrogo::go!{ sum.fetch_add(i, Ordering::Relaxed); }
//!         })
//!         .collect();
//!     for h in handles {
//!         h.join().unwrap();
//!     }
//!     sum.load(Ordering::Relaxed)
//! });
//! assert_eq!(total, 500_500);
//! ```
//!
//! `go` also works straight from `fn main` or any plain thread (a global
//! runtime starts at first use), and `JoinHandle::join` works from goroutines
//! and threads alike.
//!
//! ## Goroutines
//!
//! * [`go`] / [`go!`] spawn; [`Builder`] names a goroutine or sizes its stack.
//! * [`JoinHandle::join`] returns the value or the panic payload: a panic never
//!   takes a worker down. A panic in a goroutine whose handle was dropped is
//!   reported on stderr with the goroutine's id and name.
//! * [`yield_now`], [`checkpoint`], [`current`], [`num_goroutine`],
//!   [`blocking`] (for calls that block the OS thread: file I/O, DNS, C).
//! * [`Runtime`] for a runtime of your own: `Runtime::builder().max_procs(4)`.
//!
//! ## Stacks
//!
//! Each goroutine gets a fixed-size stack (256 KiB by default, configurable)
//! when it first runs, from a pool. Stacks are `mmap`'d and committed page by
//! page as touched, so a parked goroutine costs a page or two of memory. A
//! guard page below each stack catches overflow: the process aborts with a
//! line naming the goroutine, never silently corrupting memory. Linux allows a
//! process about 65,530 memory mappings by default and a guarded stack costs
//! two, so at most ~30,000 goroutines can *hold a stack* at once by default;
//! the scheduler runs goroutines depth-first and prefers ones that already
//! have a stack, so a million goroutines that finish quickly are fine. Raise
//! the limit with `sysctl -w vm.max_map_count=1048576` for more goroutines
//! blocked at once.
//!
//! ## Soundness
//!
//! `go` is safe, and the crate keeps it sound:
//!
//! * **A started goroutine never changes OS thread.** Moving a running
//!   coroutine to another thread is unsound in Rust in general: thread-locals
//!   (`rand::thread_rng()` holds an `Rc`), thread-local addresses cached by
//!   the compiler across calls, and thread-keyed locks would all be wrong.
//!   Work stealing therefore moves only goroutines that have not started.
//!   (So two goroutines that talk a lot should be spawned from the same
//!   goroutine, one after the other: they then start on the same worker.)
//!   A runtime may opt out with the `unsafe`
//!   [`RuntimeBuilder::allow_migration`]: its goroutines then move between
//!   workers as Go's do, and its `# Safety` section lists what your
//!   goroutines must then avoid across every blocking call — in short, no
//!   `!Send` value alive, no thread-local state relied upon, no thread-local
//!   touched both before and after the call in one function, nothing keyed by
//!   the OS thread.
//! * **Thread-local destructors**: when a `Runtime` is dropped, each worker
//!   unwinds the goroutines parked on it, on its own thread, before that
//!   thread exits and destroys its thread-locals.
//!
//! One hazard comes with stackful coroutines themselves and is yours to
//! avoid (the Rust project tracks it as unsafe-code-guidelines#602): code
//! that assumes thread-local state is set and restored in strictly nested
//! order across a call that may block. Two goroutines on one worker
//! interleave at every blocking call, so a "scoped thread-local" such as
//! `scoped_tls::ScopedKey::set` that is held across a channel operation,
//! lock, sleep or join can be observed — and restored out of order — by the
//! other goroutine. Do not hold such a scope across a blocking ferrogo call;
//! set it and leave it within non-blocking code.
//!
//! Holding a `std::sync::Mutex` guard across a blocking ferrogo call is
//! allowed but can deadlock the worker (another goroutine on the same worker
//! may block on the same lock, and the OS thread then sleeps): use
//! `ferrogo::sync::Mutex`, which parks the goroutine instead.

#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]
#![warn(missing_docs)]

pub mod chan;
pub mod context;
pub mod debug;
pub(crate) mod loom;
pub(crate) mod runtime;
pub(crate) mod stack;
pub mod sync;
pub mod time;

pub use chan::{
    IntoIter, Iter, Receiver, RecvTimeoutError, Select, SelectTimeoutError, SelectedOperation,
    SendError, SendTimeoutError, Sender, TryIter, TryRecvError, TrySelectError, TrySendError, chan,
    never,
};
pub use runtime::WaitReason;
pub use runtime::blocking::blocking;
pub use runtime::builder::{Builder, MAXPROCS_ENV, Runtime, RuntimeBuilder, go, run};
pub use runtime::g::Goroutine;
pub use runtime::join::JoinHandle;
pub use runtime::{checkpoint, current, num_goroutine, yield_now};
pub use stack::{DEFAULT_STACK_SIZE, MAX_STACK_SIZE, MIN_STACK_SIZE};

/// Spawns a goroutine running the block: `go! { .. }` is `go(move || { .. })`.
///
/// ```
/// let x = 20;
/// let h = ferrogo::go! { x + 22 };
/// assert_eq!(h.join().unwrap(), 42);
/// ```
#[macro_export]
macro_rules! go {
    ($($body:tt)*) => {
        $crate::go(move || { $($body)* })
    };
}
