//! The sync facade: the runtime's lock-free protocols import their atomics
//! and locks from here, so the same code runs under [loom] model checking
//! (`RUSTFLAGS="--cfg loom" cargo test --release --lib loom`) and natively.
//!
//! [loom]: https://docs.rs/loom

#[cfg(loom)]
pub(crate) use loom::sync::{Mutex, atomic};

#[cfg(not(loom))]
pub(crate) use std::sync::{Mutex, atomic};

/// Locks a facade mutex, ignoring poisoning (the runtime never panics while
/// holding one of its own locks; a poisoned lock would only repeat a panic
/// already reported).
#[cfg(not(loom))]
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Locks a facade mutex (loom flavour).
#[cfg(loom)]
pub(crate) fn lock<T>(m: &Mutex<T>) -> loom::sync::MutexGuard<'_, T> {
    m.lock().unwrap()
}

/// Thread handles and parking for plain-thread waiters (`runtime::park`,
/// `runtime::threads`): std's, or loom's mock threads under `--cfg loom`
/// (loom threads are coroutines on one OS thread, so they must park through
/// loom for the model to see the wait).
#[cfg(not(loom))]
pub(crate) mod thread {
    pub(crate) use std::thread::{Thread, current, park};
}

/// Thread handles and parking (loom flavour).
#[cfg(loom)]
pub(crate) mod thread {
    pub(crate) use loom::thread::{Thread, current, park};
}
