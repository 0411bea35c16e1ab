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
