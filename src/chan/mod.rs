//! Typed channels: Go's `chan T`, `close`, the nil channel and `select`.
//!
//! # Design
//!
//! ```text
//!   Sender<T> ──┐                ┌── Receiver<T>  (Flavor::Chan)
//!   Sender<T> ──┼── Arc<Chan<T>> ┤
//!               │  handle counts + Array (buffered: lock-free ring)
//!               │                | Locked (rendezvous, ZST, huge: Go's hchan)
//!                                └── Receiver<T>  (Flavor::Never: no channel)
//! ```
//!
//! * `channel` — `Chan<T>`: handle counts and the choice of flavor.
//! * `array` over `ring` — buffered channels: values through a lock-free
//!   ring, locked wait lists only for blocked operations (woken ones retry).
//! * `locked` — Go's `hchan`: one lock, buffer, wait queues, direct hand-off.
//! * `context` — the per-operation context (`sudog` + select slot claimed by CAS).
//! * [`select`](mod@select) — `Select` and the `select!` macro over `Case`s.
//! * `lock` — the spin lock; `error` — error values that hand values back.
//!
//! Handles count themselves: when the last `Sender` drops the channel closes
//! (receivers drain, then see `None`); when the last `Receiver` drops, sends
//! fail and hand their value back. Buffered values are dropped exactly once,
//! with the `Chan`, when the last handle of either kind goes.
//!
//! Happens-before (Go's memory model): a send happens before the matching
//! receive completes, the `k`-th receive happens before the `k+cap`-th send
//! completes, and `close` happens before a receive that observes it — through
//! the channel lock in the locked flavor, through the slot stamps and the
//! mark bit in the array flavor (Release/Acquire pairs, see `ring.rs`).
//!
//! Blocking calls park through `runtime::park` with a wait reason
//! (`ChanSend`, `ChanRecv`, `Select`, `SelectNoCases`, `ChanNil`), so they park
//! only the calling goroutine, or the thread outside goroutines.
mod array;
mod channel;
mod context;
mod error;
mod lock;
mod locked;
#[cfg(all(test, loom))]
mod loom_tests;
mod macros;
mod ring;
#[doc(hidden)]
pub mod select;

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use channel::{Chan, TryRecv, TrySend};

pub use error::{RecvTimeoutError, SendError, SendTimeoutError, TryRecvError, TrySendError};
pub use select::{Select, SelectTimeoutError, SelectedOperation, TrySelectError};

use crate::runtime::park::{self, WaitReason};

/// Creates a channel with a buffer of `cap` values; `cap == 0` makes an
/// unbuffered (rendezvous) channel, where a send waits for a receiver.
///
/// ```
/// let (tx, rx) = ferrogo::chan::<String>(1);
/// tx.send("hello".to_string()).unwrap();
/// assert_eq!(rx.recv().as_deref(), Some("hello"));
///
/// let (tx, rx) = ferrogo::chan::<u32>(0);
/// let h = ferrogo::go(move || tx.send(42).unwrap());
/// assert_eq!(rx.recv(), Some(42));
/// h.join().unwrap();
/// ```
pub fn chan<T>(cap: usize) -> (Sender<T>, Receiver<T>) {
    let chan = Arc::new(Chan::new(cap));
    (
        Sender { chan: chan.clone() },
        Receiver {
            flavor: Flavor::Chan(chan),
        },
    )
}

/// A channel that is never closed by its senders going away (timer channels:
/// Go's `t.C` never closes, so a fired timer's channel must not become
/// "closed and drained", which `select!` would see as always ready). A
/// phantom sender is counted that never drops; the channel is freed when the
/// last handle goes as usual.
pub(crate) fn chan_unclosed<T>(cap: usize) -> (Sender<T>, Receiver<T>) {
    let (tx, rx) = chan(cap);
    tx.chan.senders.fetch_add(1, Ordering::Relaxed);
    (tx, rx)
}

/// A receiver that is never ready: Go's nil channel. Receiving blocks forever
/// (or until the timeout); in a `select!` its case is never chosen.
///
/// ```
/// use std::time::Duration;
/// let rx = ferrogo::never::<i32>();
/// assert!(rx.recv_timeout(Duration::from_millis(1)).is_err());
/// let v = ferrogo::select! {
///     recv(rx) -> _ => 1,
///     default => 2,
/// };
/// assert_eq!(v, 2);
/// ```
pub fn never<T>() -> Receiver<T> {
    Receiver {
        flavor: Flavor::Never,
    }
}

/// Converts a relative timeout to a deadline; `None` if it overflows `Instant`
/// (e.g. `Duration::MAX`), which means "no deadline".
fn deadline_after(d: Duration) -> Option<Instant> {
    Instant::now().checked_add(d)
}

/// The sending half of a channel. Clone it for more senders; the channel
/// closes when the last clone drops (or on [`close`](Sender::close)).
///
/// ```
/// let (tx, rx) = ferrogo::chan(2);
/// let tx2 = tx.clone();
/// tx.send(1).unwrap();
/// tx2.send(2).unwrap();
/// drop((tx, tx2));
/// assert_eq!(rx.iter().collect::<Vec<_>>(), [1, 2]);
/// ```
///
/// Handles are `Send` only when `T` is: an `Rc` cannot cross to a goroutine.
///
/// ```compile_fail
/// let (tx, _rx) = ferrogo::chan::<std::rc::Rc<u8>>(1);
/// ferrogo::go(move || drop(tx));
/// ```
pub struct Sender<T> {
    /// The shared channel.
    chan: Arc<Chan<T>>,
}

/// The receiving half of a channel (or the nil channel, see [`never`]).
///
/// ```
/// let (tx, rx) = ferrogo::chan(3);
/// for i in 0..3 { tx.send(i).unwrap(); }
/// tx.close();
/// let mut got = vec![];
/// for v in &rx { got.push(v); }
/// assert_eq!(got, [0, 1, 2]);
/// ```
pub struct Receiver<T> {
    /// A real channel, or Go's nil channel.
    flavor: Flavor<T>,
}

/// What a `Receiver` reads from.
enum Flavor<T> {
    /// A channel made by [`chan`].
    Chan(Arc<Chan<T>>),
    /// The nil channel made by [`never`]: never ready.
    Never,
}

impl<T> Sender<T> {
    /// Sends `value`, waiting for buffer room or (unbuffered) for a receiver.
    /// Fails, handing the value back, if the channel is closed or every
    /// receiver is gone (Go would panic on a closed channel).
    ///
    /// ```
    /// let (tx, rx) = ferrogo::chan(1);
    /// tx.send(1).unwrap();
    /// drop(rx);
    /// assert_eq!(tx.send(2).unwrap_err().into_inner(), 2);
    /// ```
    #[inline]
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        self.chan.send(value, None).map_err(|(v, _)| SendError(v))
    }

    /// Sends without waiting.
    ///
    /// ```
    /// let (tx, _rx) = ferrogo::chan(0);
    /// assert!(tx.try_send(1).unwrap_err().is_full()); // no receiver waiting
    /// ```
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        match self.chan.try_send(value) {
            TrySend::Sent(_) => Ok(()),
            TrySend::Full(v) => Err(TrySendError::Full(v)),
            TrySend::Closed(v) => Err(TrySendError::Closed(v)),
        }
    }

    /// Sends, waiting at most `timeout`. `Duration::MAX` waits forever.
    ///
    /// ```
    /// use std::time::Duration;
    /// let (tx, rx) = ferrogo::chan(1);
    /// tx.send_timeout(1, Duration::from_millis(10)).unwrap();
    /// assert!(tx.send_timeout(2, Duration::from_millis(1)).unwrap_err().is_timeout());
    /// # drop(rx);
    /// ```
    pub fn send_timeout(&self, value: T, timeout: Duration) -> Result<(), SendTimeoutError<T>> {
        self.send_deadline(value, deadline_after(timeout))
    }

    /// Sends, waiting until `deadline` at most (`None`: no deadline).
    ///
    /// ```
    /// let (tx, _rx) = ferrogo::chan(0);
    /// let d = std::time::Instant::now();
    /// assert!(tx.send_deadline(1, Some(d)).is_err());
    /// ```
    pub fn send_deadline(
        &self,
        value: T,
        deadline: Option<Instant>,
    ) -> Result<(), SendTimeoutError<T>> {
        self.chan.send(value, deadline).map_err(|(v, timed_out)| {
            if timed_out {
                SendTimeoutError::Timeout(v)
            } else {
                SendTimeoutError::Closed(v)
            }
        })
    }

    /// Closes the channel: receivers drain the buffer, then get `None`; blocked
    /// and later sends fail. Idempotent.
    ///
    /// ```
    /// let (tx, rx) = ferrogo::chan(1);
    /// tx.send(1).unwrap();
    /// tx.close();
    /// tx.close(); // no-op
    /// assert!(rx.is_closed());
    /// assert_eq!(rx.recv(), Some(1));
    /// assert_eq!(rx.recv(), None);
    /// ```
    pub fn close(&self) {
        self.chan.close();
    }

    /// True if a send would fail now: closed, or every receiver is gone.
    ///
    /// ```
    /// let (tx, rx) = ferrogo::chan::<()>(0);
    /// assert!(!tx.is_closed());
    /// drop(rx);
    /// assert!(tx.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.chan.is_send_closed()
    }

    /// Number of values in the buffer.
    ///
    /// ```
    /// let (tx, _rx) = ferrogo::chan(2);
    /// tx.send(()).unwrap();
    /// assert_eq!(tx.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.chan.len()
    }

    /// True if the buffer holds nothing.
    ///
    /// ```
    /// let (tx, _rx) = ferrogo::chan::<u8>(2);
    /// assert!(tx.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Buffer capacity (0 for unbuffered).
    ///
    /// ```
    /// let (tx, _rx) = ferrogo::chan::<u8>(5);
    /// assert_eq!(tx.cap(), 5);
    /// ```
    pub fn cap(&self) -> usize {
        self.chan.cap()
    }

    /// Select support: the shared channel.
    pub(crate) fn chan(&self) -> &Arc<Chan<T>> {
        &self.chan
    }

    #[doc(hidden)]
    /// Used by `select!` to build a send case (autoref accepts `tx` or `&tx`).
    pub fn __select_send(&self, value: T) -> select::SendCase<'_, T> {
        select::SendCase::new(self, value)
    }
}

impl<T> Receiver<T> {
    /// Receives a value, waiting for one. `None` once the channel is closed
    /// and drained. On [`never`] it blocks forever.
    ///
    /// ```
    /// let (tx, rx) = ferrogo::chan(1);
    /// tx.send(3).unwrap();
    /// drop(tx);
    /// assert_eq!(rx.recv(), Some(3));
    /// assert_eq!(rx.recv(), None);
    /// ```
    #[inline]
    pub fn recv(&self) -> Option<T> {
        match &self.flavor {
            Flavor::Chan(c) => c.recv(None).ok(),
            Flavor::Never => loop {
                park::park(WaitReason::ChanNil);
            },
        }
    }

    /// Receives without waiting.
    ///
    /// ```
    /// let (tx, rx) = ferrogo::chan(1);
    /// assert!(rx.try_recv().is_err());
    /// tx.send(1).unwrap();
    /// assert_eq!(rx.try_recv(), Ok(1));
    /// ```
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        match &self.flavor {
            Flavor::Chan(c) => match c.try_recv() {
                TryRecv::Got(v, _) => Ok(v),
                TryRecv::Empty => Err(TryRecvError::Empty),
                TryRecv::Closed => Err(TryRecvError::Closed),
            },
            Flavor::Never => Err(TryRecvError::Empty),
        }
    }

    /// [`try_recv`](Receiver::try_recv) without the preemption point, for
    /// runtime code that holds a lock its worker may need: the timer drains
    /// its channel under its state lock, which the worker takes to fire the
    /// timer, so switching out there would deadlock the worker.
    pub(crate) fn try_recv_no_preempt(&self) -> Result<T, TryRecvError> {
        match &self.flavor {
            Flavor::Chan(c) => match c.poll_recv() {
                TryRecv::Got(v, _) => Ok(v),
                TryRecv::Empty => Err(TryRecvError::Empty),
                TryRecv::Closed => Err(TryRecvError::Closed),
            },
            Flavor::Never => Err(TryRecvError::Empty),
        }
    }

    /// Receives, waiting at most `timeout`. `Duration::MAX` waits forever.
    ///
    /// ```
    /// use std::time::Duration;
    /// use ferrogo::RecvTimeoutError;
    /// let (tx, rx) = ferrogo::chan::<i32>(1);
    /// assert_eq!(rx.recv_timeout(Duration::from_millis(1)), Err(RecvTimeoutError::Timeout));
    /// drop(tx);
    /// assert_eq!(rx.recv_timeout(Duration::MAX), Err(RecvTimeoutError::Closed));
    /// ```
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        self.recv_deadline(deadline_after(timeout))
    }

    /// Receives, waiting until `deadline` at most (`None`: no deadline).
    ///
    /// ```
    /// let (_tx, rx) = ferrogo::chan::<i32>(1);
    /// assert!(rx.recv_deadline(Some(std::time::Instant::now())).is_err());
    /// ```
    pub fn recv_deadline(&self, deadline: Option<Instant>) -> Result<T, RecvTimeoutError> {
        match &self.flavor {
            Flavor::Chan(c) => c.recv(deadline).map_err(|timed_out| {
                if timed_out {
                    RecvTimeoutError::Timeout
                } else {
                    RecvTimeoutError::Closed
                }
            }),
            Flavor::Never => {
                let Some(deadline) = deadline else {
                    loop {
                        park::park(WaitReason::ChanNil);
                    }
                };
                while Instant::now() < deadline {
                    park::park_until(WaitReason::ChanNil, deadline);
                }
                Err(RecvTimeoutError::Timeout)
            }
        }
    }

    /// A blocking iterator: yields values until the channel is closed and drained.
    ///
    /// ```
    /// let (tx, rx) = ferrogo::chan(4);
    /// ferrogo::go(move || for i in 0..4 { tx.send(i).unwrap() });
    /// assert_eq!(rx.iter().sum::<i32>(), 6);
    /// ```
    pub fn iter(&self) -> Iter<'_, T> {
        Iter { rx: self }
    }

    /// A non-blocking iterator over the values available now.
    ///
    /// ```
    /// let (tx, rx) = ferrogo::chan(4);
    /// tx.send(1).unwrap();
    /// tx.send(2).unwrap();
    /// assert_eq!(rx.try_iter().count(), 2);
    /// ```
    pub fn try_iter(&self) -> TryIter<'_, T> {
        TryIter { rx: self }
    }

    /// Closes the channel (Go's `close`, from the receiving side). Idempotent;
    /// no-op on [`never`].
    ///
    /// ```
    /// let (tx, rx) = ferrogo::chan(1);
    /// rx.close();
    /// assert!(tx.send(1).is_err());
    /// ```
    pub fn close(&self) {
        if let Flavor::Chan(c) = &self.flavor {
            c.close();
        }
    }

    /// True once the channel is closed, even while buffered values remain.
    ///
    /// ```
    /// let (tx, rx) = ferrogo::chan(1);
    /// tx.send(1).unwrap();
    /// drop(tx);
    /// assert!(rx.is_closed());
    /// assert_eq!(rx.len(), 1);
    /// ```
    pub fn is_closed(&self) -> bool {
        match &self.flavor {
            Flavor::Chan(c) => c.is_closed(),
            Flavor::Never => false,
        }
    }

    /// Number of buffered values.
    ///
    /// ```
    /// let (tx, rx) = ferrogo::chan(2);
    /// tx.send(()).unwrap();
    /// assert_eq!(rx.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        match &self.flavor {
            Flavor::Chan(c) => c.len(),
            Flavor::Never => 0,
        }
    }

    /// True if the buffer holds nothing.
    ///
    /// ```
    /// let (_tx, rx) = ferrogo::chan::<u8>(2);
    /// assert!(rx.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Buffer capacity (0 for unbuffered and for [`never`]).
    ///
    /// ```
    /// let (_tx, rx) = ferrogo::chan::<u8>(3);
    /// assert_eq!(rx.cap(), 3);
    /// ```
    pub fn cap(&self) -> usize {
        match &self.flavor {
            Flavor::Chan(c) => c.cap(),
            Flavor::Never => 0,
        }
    }

    /// Select support: the shared channel, `None` for the nil channel.
    pub(crate) fn chan(&self) -> Option<&Arc<Chan<T>>> {
        match &self.flavor {
            Flavor::Chan(c) => Some(c),
            Flavor::Never => None,
        }
    }

    #[doc(hidden)]
    /// Used by `select!` to build a receive case (autoref accepts `rx` or `&rx`).
    pub fn __select_recv(&self) -> select::RecvCase<'_, T> {
        select::RecvCase::new(self)
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        // Relaxed: the new handle is derived from a live one, so the count
        // cannot be observed at zero concurrently (same argument as `Arc`).
        self.chan.senders.fetch_add(1, Ordering::Relaxed);
        Sender {
            chan: self.chan.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        // AcqRel: the last dropper sees every other sender's prior sends.
        if self.chan.senders.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.chan.close();
        }
    }
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Self {
        match &self.flavor {
            Flavor::Chan(c) => {
                // Relaxed: derived from a live handle, as in `Sender::clone`.
                c.receivers.fetch_add(1, Ordering::Relaxed);
                Receiver {
                    flavor: Flavor::Chan(c.clone()),
                }
            }
            Flavor::Never => Receiver {
                flavor: Flavor::Never,
            },
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        if let Flavor::Chan(c) = &self.flavor {
            if c.receivers.fetch_sub(1, Ordering::AcqRel) == 1 {
                c.disconnect_receivers();
            }
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("cap", &self.cap())
            .finish_non_exhaustive()
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.flavor {
            Flavor::Chan(c) => f
                .debug_struct("Receiver")
                .field("cap", &c.cap())
                .finish_non_exhaustive(),
            Flavor::Never => f.write_str("Receiver(never)"),
        }
    }
}

/// Blocking iterator returned by [`Receiver::iter`] and `for v in &rx`.
///
/// ```
/// let (tx, rx) = ferrogo::chan(1);
/// tx.send(5).unwrap();
/// drop(tx);
/// let mut it = rx.iter();
/// assert_eq!(it.next(), Some(5));
/// assert_eq!(it.next(), None);
/// ```
pub struct Iter<'a, T> {
    /// The receiver iterated over.
    rx: &'a Receiver<T>,
}

impl<T> Iterator for Iter<'_, T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.rx.recv()
    }
}

/// Non-blocking iterator returned by [`Receiver::try_iter`].
///
/// ```
/// let (_tx, rx) = ferrogo::chan::<i32>(1);
/// assert_eq!(rx.try_iter().next(), None);
/// ```
pub struct TryIter<'a, T> {
    /// The receiver iterated over.
    rx: &'a Receiver<T>,
}

impl<T> Iterator for TryIter<'_, T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.rx.try_recv().ok()
    }
}

/// Owning blocking iterator: `for v in rx`.
///
/// ```
/// let (tx, rx) = ferrogo::chan(2);
/// tx.send(1).unwrap();
/// drop(tx);
/// let v: Vec<i32> = rx.into_iter().collect();
/// assert_eq!(v, [1]);
/// ```
pub struct IntoIter<T> {
    /// The receiver iterated over.
    rx: Receiver<T>,
}

impl<T> Iterator for IntoIter<T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.rx.recv()
    }
}

impl<'a, T> IntoIterator for &'a Receiver<T> {
    type Item = T;
    type IntoIter = Iter<'a, T>;
    fn into_iter(self) -> Iter<'a, T> {
        self.iter()
    }
}

impl<T> IntoIterator for Receiver<T> {
    type Item = T;
    type IntoIter = IntoIter<T>;
    fn into_iter(self) -> IntoIter<T> {
        IntoIter { rx: self }
    }
}
