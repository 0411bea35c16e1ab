//! Shutdown of a worker: unwinding the goroutines that live on its thread,
//! dropping what is still queued, and (with migration) the barriers that
//! keep every worker's thread alive until all are done.
//!
//! A worker gets here once its runtime is dropped and its loop has stopped
//! starting goroutines (`find_runnable` returns nothing once `shutdown` is
//! set). What may remain: started goroutines, parked or runnable, in the
//! registries; unstarted ones in the queues and the injector; timers.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::Ordering;
use std::time::Duration;

use crossbeam_deque::Steal;

use super::Core;
use super::find;
use crate::runtime::g::{GRef, PARKED, RUNNING};
use crate::stack::overflow;

impl Core {
    /// Shutdown: unwind every started goroutine that lives here, on this
    /// thread (before its thread-locals are destroyed), drop unstarted ones,
    /// and give the stacks back.
    ///
    /// By default the goroutines living here are those in this worker's
    /// registry, and no other thread ever resumes them. With migration a
    /// goroutine registered here may live elsewhere and the other way round,
    /// and a worker still running could resume a goroutine we are about to
    /// unwind. So each worker first waits until every worker has stopped
    /// running goroutines, then takes from every registry the goroutines whose
    /// `home` — the worker that last ran them — is this one. After that
    /// barrier no goroutine runs again and no `home` changes (adoption happens
    /// only before a resume), so each goroutine is unwound exactly once, on
    /// the thread where it last ran; a pinned one (suspended mid-unwind) is
    /// on the thread whose panic count it raised.
    pub(super) fn shutdown(&self) {
        let started = if self.migrate {
            self.shutdown_barrier(1);
            let mut mine = Vec::new();
            for r in self.shared.remotes.iter() {
                mine.extend(
                    r.registry
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .take_where(|g| g.home() == self.index),
                );
            }
            mine
        } else {
            self.remote()
                .registry
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .drain()
        };
        for g in started {
            // A goroutine still parked owns a reference in its PARKED state
            // (park.rs): take it back. After the barrier (or by default, on
            // its only thread) no waker runs any more.
            if g.state.load(Ordering::Acquire) == PARKED {
                g.state.store(RUNNING, Ordering::Relaxed);
                // SAFETY: PARKED owned exactly one forgotten reference, and
                // no waker can adopt it now.
                drop(unsafe { GRef::adopt(GRef::as_raw(&g)) });
            }
            g.unwinding.set(true);
            self.current.set(&g);
            overflow::set_running(GRef::as_ptr(&g));
            // SAFETY: this worker is g's home: by default the only thread
            // that ever resumed it; with migration the last one, and after
            // `shutdown_barrier` no worker resumes goroutines any more. The
            // coroutine is suspended (it switched out at least once, or it
            // would not be registered, and it has not finished, or `finish`
            // would have removed it).
            if let Some(mut coro) = unsafe { g.coro() }.take() {
                coro.force_unwind();
                let stack = coro.into_stack();
                self.shared.stacks.put(&mut self.stacks.borrow_mut(), stack);
            }
            overflow::set_running(std::ptr::null());
            self.current.set(std::ptr::null());
        }
        // Dropping what is left can run user code: the last reference to a
        // goroutine that never started drops its closure and what it
        // captured. A panic there is the user's, reported like an unjoined
        // goroutine's panic; the rest is still dropped.
        while let Err(payload) = catch_unwind(AssertUnwindSafe(|| self.drop_queued())) {
            crate::debug::report::shutdown_drop_panic(&*payload);
        }
        self.shared.stacks.flush(&mut self.stacks.borrow_mut());
        if self.migrate {
            // A goroutine another worker is unwinding may read this thread's
            // `CORE` through an address cached before it migrated (module
            // comment): keep this thread, and so its thread-locals, alive
            // until every worker is done.
            self.shutdown_barrier(2);
        }
    }

    /// Shutdown: drops every goroutine reference and timer still queued
    /// here, one at a time (so a panicking drop leaves the queues
    /// consistent and `shutdown` can call this again for the rest).
    fn drop_queued(&self) {
        drop(self.runnext.take());
        drop(self.fresh_peek.take());
        for q in [&self.ready, &self.starved] {
            loop {
                let g = q.borrow_mut().pop_front();
                let Some(g) = g else { break };
                drop(g);
            }
        }
        while let Some(g) = self.deque.pop() {
            drop(g);
        }
        let actions = self.timers.borrow_mut().take_all();
        for a in actions {
            drop(a);
        }
        let r = self.remote();
        for g in find::take_all(&r.inbox, &r.inbox_len) {
            drop(g);
        }
        // Nothing in the injector runs any more: goroutines spawned from
        // outside the runtime that never started (their closures are dropped
        // here, not leaked) and, with migration, yielded, preempted and
        // remotely woken ones (their stacks were taken above, by their
        // homes). Drop the references.
        loop {
            match self.shared.injector.steal() {
                Steal::Success(g) => drop(g),
                Steal::Empty => break,
                Steal::Retry => {}
            }
        }
    }

    /// With migration, at shutdown: counts this worker as having reached
    /// `phase` (1: stopped running goroutines, 2: done unwinding them) and
    /// waits until every worker has (see `shutdown`). The last to arrive
    /// wakes the others. A worker that never started was counted by `build`.
    fn shutdown_barrier(&self, phase: usize) {
        let workers = self.shared.nworkers();
        let target = phase * workers;
        // SeqCst RMW: releases this worker's last writes to the goroutines it
        // ran (their coroutines, `home`); the waiters' loads below acquire them.
        if self.shared.stopped.fetch_add(1, Ordering::SeqCst) + 1 >= target {
            for i in (0..workers).filter(|&i| i != self.index) {
                self.shared.unpark(i);
            }
            return;
        }
        while self.shared.stopped.load(Ordering::SeqCst) < target {
            std::thread::park_timeout(Duration::from_millis(1));
        }
    }
}
