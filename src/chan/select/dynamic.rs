//! The dynamic select: [`Select`], a builder of cases known only at run time
//! (crossbeam-channel's `Select`), the handle of the case it committed
//! ([`SelectedOperation`]) and its two errors. It boxes its cases and drives
//! them with the same engine as `select!` ([`run`](super::run), `mod.rs`).

use std::fmt;
use std::ptr;
use std::time::{Duration, Instant};

use super::{Case, RecvCase, SendCase, Timeout, run};
use crate::chan::{Receiver, SendError, Sender};

/// [`Select::try_select`] found no ready case.
///
/// ```
/// let (_tx, rx) = ferrogo::chan::<i32>(0);
/// let mut sel = ferrogo::Select::new();
/// sel.recv(&rx);
/// assert!(sel.try_select().is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrySelectError;

/// [`Select::select_timeout`] timed out.
///
/// ```
/// use std::time::Duration;
/// let (_tx, rx) = ferrogo::chan::<i32>(0);
/// let mut sel = ferrogo::Select::new();
/// sel.recv(&rx);
/// assert!(sel.select_timeout(Duration::from_millis(1)).is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SelectTimeoutError;

impl fmt::Display for TrySelectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("no select case was ready")
    }
}

impl fmt::Display for SelectTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("timed out waiting on select")
    }
}

impl std::error::Error for TrySelectError {}
impl std::error::Error for SelectTimeoutError {}

/// A dynamic N-way select (like `crossbeam_channel::Select`), for when the
/// set of channels is only known at run time. Add cases, wait for one, then
/// finish it through the returned [`SelectedOperation`].
///
/// A send case carries its value from the start; the select moves it only if
/// that case commits. A committed send case is spent (never ready again); an
/// unselected one keeps its value for the next round, and drops it with the
/// `Select`. Reusing a `Select` in a loop costs no allocation per round.
///
/// ```
/// use ferrogo::Select;
/// let (tx1, rx1) = ferrogo::chan::<i32>(1);
/// let (_tx2, rx2) = ferrogo::chan::<&str>(1);
/// tx1.send(10).unwrap();
///
/// let mut sel = Select::new();
/// let a = sel.recv(&rx1);
/// let b = sel.recv(&rx2);
/// let op = sel.select();
/// match op.index() {
///     i if i == a => assert_eq!(op.recv(&rx1), Some(10)),
///     i if i == b => unreachable!(),
///     _ => unreachable!(),
/// }
/// ```
pub struct Select<'a> {
    /// The cases, in declaration order (index = position).
    cases: Vec<Box<dyn Case + 'a>>,
    /// Poll in declaration order instead of a random order.
    biased: bool,
}

impl<'a> Default for Select<'a> {
    fn default() -> Self {
        Select::new()
    }
}

impl fmt::Debug for Select<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Select")
            .field("cases", &self.cases.len())
            .field("biased", &self.biased)
            .finish()
    }
}

impl<'a> Select<'a> {
    /// An empty select that picks uniformly among ready cases.
    ///
    /// ```
    /// let sel = ferrogo::Select::new();
    /// # drop(sel);
    /// ```
    pub fn new() -> Self {
        Select {
            cases: Vec::new(),
            biased: false,
        }
    }

    /// An empty select that prefers earlier cases when several are ready
    /// (opt-in; can starve later cases).
    ///
    /// ```
    /// let (tx1, rx1) = ferrogo::chan(1);
    /// let (tx2, rx2) = ferrogo::chan(1);
    /// tx1.send(1).unwrap();
    /// tx2.send(2).unwrap();
    /// let mut sel = ferrogo::Select::new_biased();
    /// let first = sel.recv(&rx1);
    /// sel.recv(&rx2);
    /// let op = sel.select();
    /// assert_eq!(op.index(), first);
    /// assert_eq!(op.recv(&rx1), Some(1));
    /// ```
    pub fn new_biased() -> Self {
        Select {
            cases: Vec::new(),
            biased: true,
        }
    }

    /// Switches biased mode on or off.
    ///
    /// ```
    /// let mut sel = ferrogo::Select::new();
    /// sel.biased(true);
    /// ```
    pub fn biased(&mut self, biased: bool) -> &mut Self {
        self.biased = biased;
        self
    }

    /// Adds a receive case; returns its index.
    ///
    /// ```
    /// let (_tx, rx) = ferrogo::chan::<u8>(1);
    /// let mut sel = ferrogo::Select::new();
    /// assert_eq!(sel.recv(&rx), 0);
    /// ```
    pub fn recv<T>(&mut self, rx: &'a Receiver<T>) -> usize {
        self.cases.push(Box::new(RecvCase::new(rx)));
        self.cases.len() - 1
    }

    /// Adds a send case offering `value`; returns its index.
    ///
    /// ```
    /// let (tx, rx) = ferrogo::chan(1);
    /// let mut sel = ferrogo::Select::new();
    /// let i = sel.send(&tx, 5);
    /// let op = sel.select();
    /// assert_eq!(op.index(), i);
    /// op.send(&tx).unwrap();
    /// assert_eq!(rx.recv(), Some(5));
    /// ```
    pub fn send<T: 'a>(&mut self, tx: &'a Sender<T>, value: T) -> usize {
        self.cases.push(Box::new(SendCase::new(tx, value)));
        self.cases.len() - 1
    }

    /// Blocks until one case commits. With no cases it blocks forever.
    ///
    /// ```
    /// let (tx, rx) = ferrogo::chan(0);
    /// ferrogo::go(move || tx.send(1).unwrap());
    /// let mut sel = ferrogo::Select::new();
    /// sel.recv(&rx);
    /// assert_eq!(sel.select().recv(&rx), Some(1));
    /// ```
    pub fn select(&mut self) -> SelectedOperation<'_, 'a> {
        self.run_until(Timeout::Never)
            .expect("ferrogo: blocking select returned without a case")
    }

    /// Commits a case that is ready now, or fails.
    ///
    /// ```
    /// let (tx, rx) = ferrogo::chan(1);
    /// tx.send(1).unwrap();
    /// let mut sel = ferrogo::Select::new();
    /// sel.recv(&rx);
    /// assert_eq!(sel.try_select().unwrap().recv(&rx), Some(1));
    /// ```
    pub fn try_select(&mut self) -> Result<SelectedOperation<'_, 'a>, TrySelectError> {
        self.run_until(Timeout::Now).ok_or(TrySelectError)
    }

    /// Blocks until one case commits or `timeout` passes (`Duration::MAX`: forever).
    ///
    /// ```
    /// use std::time::Duration;
    /// let (tx, rx) = ferrogo::chan(1);
    /// let mut sel = ferrogo::Select::new();
    /// sel.send(&tx, 1);
    /// assert!(sel.select_timeout(Duration::from_secs(1)).is_ok());
    /// # drop(rx);
    /// ```
    pub fn select_timeout(
        &mut self,
        timeout: Duration,
    ) -> Result<SelectedOperation<'_, 'a>, SelectTimeoutError> {
        self.run_until(Timeout::after(timeout))
            .ok_or(SelectTimeoutError)
    }

    /// Blocks until one case commits or `deadline` passes.
    ///
    /// ```
    /// let (_tx, rx) = ferrogo::chan::<()>(0);
    /// let mut sel = ferrogo::Select::new();
    /// sel.recv(&rx);
    /// assert!(sel.select_deadline(std::time::Instant::now()).is_err());
    /// ```
    pub fn select_deadline(
        &mut self,
        deadline: Instant,
    ) -> Result<SelectedOperation<'_, 'a>, SelectTimeoutError> {
        self.run_until(Timeout::At(deadline))
            .ok_or(SelectTimeoutError)
    }

    /// Runs the engine over the cases until one commits (`Some`) or
    /// `timeout` says to stop (`None`).
    fn run_until(&mut self, timeout: Timeout) -> Option<SelectedOperation<'_, 'a>> {
        let index = run(&mut self.cases, timeout, self.biased)?;
        Some(SelectedOperation { sel: self, index })
    }
}

/// The case a [`Select`] committed. Its operation already happened; collect
/// the outcome with [`recv`](SelectedOperation::recv) or
/// [`send`](SelectedOperation::send), passing the same handle used to add the
/// case. Dropping it without collecting drops a received value.
///
/// ```
/// let (tx, rx) = ferrogo::chan::<u8>(1);
/// drop(tx);
/// let mut sel = ferrogo::Select::new();
/// sel.recv(&rx);
/// assert_eq!(sel.select().recv(&rx), None); // closed
/// ```
pub struct SelectedOperation<'s, 'a> {
    /// The select that ran.
    sel: &'s mut Select<'a>,
    /// The committed case.
    index: usize,
}

impl fmt::Debug for SelectedOperation<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SelectedOperation")
            .field("index", &self.index)
            .finish()
    }
}

impl SelectedOperation<'_, '_> {
    /// Index of the committed case (as returned when it was added).
    ///
    /// ```
    /// let (tx, rx) = ferrogo::chan(1);
    /// tx.send(()).unwrap();
    /// let mut sel = ferrogo::Select::new();
    /// let i = sel.recv(&rx);
    /// assert_eq!(sel.select().index(), i);
    /// ```
    pub fn index(&self) -> usize {
        self.index
    }

    /// The outcome of the committed receive case: `Some(v)`, or `None` if the
    /// channel was closed.
    ///
    /// # Panics
    ///
    /// If the committed case is not a receive on `rx`'s channel.
    ///
    /// ```
    /// let (tx, rx) = ferrogo::chan(1);
    /// tx.send('x').unwrap();
    /// let mut sel = ferrogo::Select::new();
    /// sel.recv(&rx);
    /// assert_eq!(sel.select().recv(&rx), Some('x'));
    /// ```
    pub fn recv<T>(self, rx: &Receiver<T>) -> Option<T> {
        let case = &mut self.sel.cases[self.index];
        let id = rx
            .chan()
            .map_or(ptr::null(), |c| std::sync::Arc::as_ptr(c).cast::<()>());
        assert!(
            case.is_recv() && !id.is_null() && ptr::eq(case.chan_id(), id),
            "ferrogo: SelectedOperation::recv called with a receiver that was not selected"
        );
        let raw: *mut (dyn Case + '_) = &mut **case;
        // SAFETY: the case is a `RecvCase<'_, U>` (`is_recv`) on the channel
        // allocation at `id`. `rx` borrows a live `Arc<Chan<T>>` at the same
        // address while the case's receiver keeps its `Arc<Chan<U>>` alive, so
        // both name one allocation and `U == T`. The lifetime parameter is
        // irrelevant to the layout and only shortened.
        let case = unsafe { &mut *raw.cast::<RecvCase<'_, T>>() };
        case.slot.take()
    }

    /// The outcome of the committed send case: `Ok(())`, or the value back
    /// if the channel was closed (or every receiver gone).
    ///
    /// # Panics
    ///
    /// If the committed case is not a send on `tx`'s channel.
    ///
    /// ```
    /// let (tx, rx) = ferrogo::chan(1);
    /// rx.close();
    /// let mut sel = ferrogo::Select::new();
    /// sel.send(&tx, 9);
    /// assert_eq!(sel.select().send(&tx).unwrap_err().into_inner(), 9);
    /// ```
    pub fn send<T>(self, tx: &Sender<T>) -> Result<(), SendError<T>> {
        let case = &mut self.sel.cases[self.index];
        let id = std::sync::Arc::as_ptr(tx.chan()).cast::<()>();
        assert!(
            !case.is_recv() && ptr::eq(case.chan_id(), id),
            "ferrogo: SelectedOperation::send called with a sender that was not selected"
        );
        let raw: *mut (dyn Case + '_) = &mut **case;
        // SAFETY: as in `recv`: a `SendCase<'_, U>` on the same live channel
        // allocation as `tx`, hence `U == T`.
        let case = unsafe { &mut *raw.cast::<SendCase<'_, T>>() };
        match case.slot.take() {
            None => Ok(()),
            Some(v) => Err(SendError(v)),
        }
    }
}
