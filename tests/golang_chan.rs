//! Go's channel behaviour as the spec: the programs of Go's `test/chan/` and
//! behaviours of `src/runtime/chan_test.go`, re-implemented in Rust (own code;
//! each module names its source). Sizes are scaled down so the whole file runs
//! in a few seconds on 2 cores; every test runs at 1 and 2 workers.
mod support;

use std::time::{Duration, Instant};

use ferrogo::{Receiver, Sender, chan, go, never, select};

/// Parks the calling goroutine for `d` (a nil-channel receive with a timeout).
fn sleep(d: Duration) {
    let _ = never::<()>().recv_timeout(d);
}

/// Waits (parked, up to 10 s) until the caller is the only goroutine left in
/// its runtime: every goroutine a test started, detached ones included, has
/// returned. False if some never did.
fn only_caller_left() -> bool {
    let start = Instant::now();
    while ferrogo::num_goroutine() > 1 {
        if start.elapsed() > Duration::from_secs(10) {
            return false;
        }
        sleep(Duration::from_millis(1));
    }
    true
}

/// Per-thread allocation counters (select2 measures what one goroutine's
/// thread allocates; a started goroutine never changes thread).
mod alloc_count {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;

    /// The system allocator, counting on the calling thread.
    pub struct Counting;

    thread_local! {
        /// Allocations (and reallocations) made by this thread.
        static ALLOCS: Cell<u64> = const { Cell::new(0) };
        /// Bytes allocated minus bytes freed by this thread.
        static NET_BYTES: Cell<i64> = const { Cell::new(0) };
    }

    fn note(allocs: u64, bytes: i64) {
        // `try_with`: no panic if a thread's locals are already gone (these
        // have no destructor, so they never are, but the allocator must not
        // panic regardless).
        let _ = ALLOCS.try_with(|a| a.set(a.get() + allocs));
        let _ = NET_BYTES.try_with(|b| b.set(b.get() + bytes));
    }

    /// `(allocations, net bytes)` of the calling thread so far.
    pub fn snapshot() -> (u64, i64) {
        (ALLOCS.with(Cell::get), NET_BYTES.with(Cell::get))
    }

    // SAFETY: every method forwards to `System` with the caller's arguments
    // unchanged, so `System`'s guarantees hold; the counting touches only
    // const-initialised thread-locals and never allocates.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            note(1, layout.size() as i64);
            // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract.
            unsafe { System.alloc(layout) }
        }

        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            note(1, layout.size() as i64);
            // SAFETY: the caller upholds `GlobalAlloc::alloc_zeroed`'s contract.
            unsafe { System.alloc_zeroed(layout) }
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            note(0, -(layout.size() as i64));
            // SAFETY: the caller upholds `GlobalAlloc::dealloc`'s contract.
            unsafe { System.dealloc(ptr, layout) }
        }

        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            note(1, new_size as i64 - layout.size() as i64);
            // SAFETY: the caller upholds `GlobalAlloc::realloc`'s contract.
            unsafe { System.realloc(ptr, layout, new_size) }
        }
    }

    #[global_allocator]
    static COUNTING: Counting = Counting;
}

// Behaviour from Go's test/chan/fifo.go
mod fifo {
    use super::*;

    const N: i32 = 10;

    #[test]
    fn asynch_fifo() {
        support::for_procs(|| {
            let (tx, rx) = chan(N as usize);
            for i in 0..N {
                tx.send(i).unwrap();
            }
            for i in 0..N {
                assert_eq!(rx.recv(), Some(i));
            }
        });
    }

    fn chain(ch: Receiver<i32>, val: i32, input: Receiver<i32>, out: Sender<i32>) {
        input.recv().unwrap();
        assert_eq!(ch.recv(), Some(val), "synch fifo out of order");
        out.send(1).unwrap();
    }

    #[test]
    fn synch_fifo() {
        support::for_procs(|| {
            let (tx, rx) = chan(0);
            let (start_tx, mut input) = chan::<i32>(0);
            let mut hs = vec![];
            for i in 0..N {
                let (out_tx, out_rx) = chan(0);
                let (rx, inp) = (rx.clone(), input);
                hs.push(go(move || chain(rx, i, inp, out_tx)));
                input = out_rx;
            }
            start_tx.send(0).unwrap();
            for i in 0..N {
                tx.send(i).unwrap();
            }
            input.recv().unwrap();
            for h in hs {
                h.join().unwrap();
            }
        });
    }
}

// Behaviour from Go's test/chan/nonblock.go
mod nonblock {
    use super::*;

    const MAX_TRIES: usize = 10_000;

    #[test]
    fn nonblocking_ops_every_buffer() {
        support::for_procs(|| {
            for buffer in 0..2 {
                let (tx, rx) = chan::<i32>(buffer);
                let (sync_tx, sync_rx) = chan::<bool>(0);
                // A receive with nothing sent never blocks and never succeeds.
                select! { recv(rx) -> _ => panic!("blocked sender"), default => {} }

                let (rx2, s2) = (rx.clone(), sync_tx.clone());
                go(move || {
                    assert_eq!(rx2.recv(), Some(123));
                    s2.send(true).unwrap();
                });
                let mut tries = 0;
                loop {
                    let sent = select! {
                        send(tx, 123) -> r => { r.unwrap(); true }
                        default => false,
                    };
                    if sent {
                        break;
                    }
                    tries += 1;
                    assert!(tries <= MAX_TRIES, "receiver never ready, buffer={buffer}");
                    sleep(Duration::from_micros(20));
                }
                sync_rx.recv().unwrap();

                let (tx2, s2) = (tx.clone(), sync_tx.clone());
                go(move || {
                    tx2.send(234).unwrap();
                    s2.send(true).unwrap();
                });
                if buffer > 0 {
                    sync_rx.recv().unwrap();
                }
                let mut tries = 0;
                let v = loop {
                    let got = select! {
                        recv(rx) -> v => v,
                        default => None,
                    };
                    if let Some(v) = got {
                        break v;
                    }
                    tries += 1;
                    assert!(tries <= MAX_TRIES, "sender never ready, buffer={buffer}");
                    sleep(Duration::from_micros(20));
                };
                assert_eq!(v, 234);
                if buffer == 0 {
                    sync_rx.recv().unwrap();
                }
            }
        });
    }
}

// Behaviour from Go's test/chan/select.go
mod select_eval {
    use super::*;
    use std::cell::Cell;

    /// Every send value is evaluated once per select, even for cases not chosen
    /// and for nil channels (Go's `GetValue` counter).
    #[test]
    fn send_values_evaluated_each_round() {
        let counter = Cell::new(0u32);
        let shift = Cell::new(0u32);
        let get_value = || {
            counter.set(counter.get() + 1);
            1u32 << shift.get()
        };
        let send = |a: Option<&Sender<u32>>, b: Option<&Sender<u32>>| {
            // A sender whose receiver lives but never receives: never ready (Go's nil
            // channel for sends; `never()` only covers receives).
            let (nil, _nil_rx) = chan::<u32>(0);
            let (mut a_live, mut b_live) = (a.is_some(), b.is_some());
            let mut i = 0;
            loop {
                let (ta, tb) = (
                    if a_live { a.unwrap() } else { &nil },
                    if b_live { b.unwrap() } else { &nil },
                );
                let done = select! {
                    send(ta, get_value()) -> r => { r.unwrap(); i += 1; a_live = false; false }
                    send(tb, get_value()) -> r => { r.unwrap(); i += 1; b_live = false; false }
                    default => true,
                };
                if done {
                    break;
                }
                shift.set(shift.get() + 1);
            }
            i
        };
        let (a, ar) = chan(1);
        let (b, br) = chan(1);
        assert_eq!(send(Some(&a), Some(&b)), 2);
        assert_eq!(ar.recv().unwrap() | br.recv().unwrap(), 3);
        assert_eq!(send(Some(&a), None), 1);
        assert_eq!(counter.get(), 10);
    }
}

// Behaviour from Go's test/chan/select2.go: selects do not consume memory.
// Go measures the heap after 100,000 selects that each wait on a value
// channel and a dummy channel. What could grow here is a select's entries:
// every blocked select queues one on each channel, and a losing case's entry
// must leave the dummy channel's queue when the select returns (or the queue
// grows by one entry per select, forever). `select!` promises no allocation
// at all, so the second round must allocate next to nothing and keep no
// memory, all values must arrive, and nothing may be left behind.
mod select2 {
    use super::*;

    const N: u64 = 50_000;

    /// `N` selects receiving `0..N` from a fresh sender goroutine, each also
    /// waiting on `dummy`; returns the sum received.
    fn round(tx: &Sender<u64>, c: &Receiver<u64>, dummy: &Receiver<u64>) -> u64 {
        let tx = tx.clone();
        let sender = go(move || {
            for i in 0..N {
                tx.send(i).unwrap();
            }
        });
        let mut sum = 0;
        for _ in 0..N {
            select! {
                recv(c) -> v => sum += v.unwrap(),
                recv(dummy) -> _ => panic!("dummy"),
            }
        }
        sender.join().unwrap();
        sum
    }

    #[test]
    fn selects_keep_no_memory() {
        if support::migrating() {
            // It counts allocations in a thread-local and relies on the
            // goroutine never changing thread, which migration gives up.
            return;
        }
        support::for_procs(|| {
            let (tx, c) = chan::<u64>(0);
            let (dummy_tx, dummy) = chan::<u64>(0);
            let goroutines = ferrogo::num_goroutine();
            // Warm up: pools, queues and buffers reach their working size.
            assert_eq!(round(&tx, &c, &dummy), N * (N - 1) / 2);

            let thread = std::thread::current().id();
            let (allocs, bytes) = alloc_count::snapshot();
            assert_eq!(round(&tx, &c, &dummy), N * (N - 1) / 2);
            let (allocs2, bytes2) = alloc_count::snapshot();
            // This goroutine ran every select on one thread, so the counters
            // saw whatever the selects allocated (the soundness rule: a
            // started goroutine never changes thread).
            assert_eq!(std::thread::current().id(), thread);
            // Spawning and joining the sender costs a few allocations; one
            // per 100 selects would already be a per-select cost.
            assert!(
                allocs2 - allocs < N / 100,
                "{} allocations for {N} selects",
                allocs2 - allocs
            );
            // Go allows 110,000 bytes per 100,000 selects; a queue entry left
            // behind per select would keep 24 bytes or more each.
            assert!(
                bytes2 - bytes < 16 << 10,
                "{} bytes kept after {N} selects",
                bytes2 - bytes
            );
            // No receiver entry stayed on the dummy channel: nobody takes a send.
            assert!(matches!(
                dummy_tx.try_send(1),
                Err(ferrogo::TrySendError::Full(1))
            ));
            assert!(only_caller_left() && ferrogo::num_goroutine() == goroutines);
        });
    }
}

// Behaviour from Go's test/chan/select3.go
mod select3 {
    use super::*;

    /// Runs `f` in a goroutine; reports whether it was still blocked after
    /// `wait` (true) or finished (false).
    fn blocks(wait: Duration, f: impl FnOnce() + Send + 'static) -> bool {
        let (tx, rx) = chan::<bool>(2);
        let tx2 = tx.clone();
        go(move || {
            f();
            let _ = tx2.send(false);
        });
        go(move || {
            sleep(wait);
            let _ = tx.send(true);
        });
        rx.recv().unwrap()
    }

    const SHORT: Duration = Duration::from_millis(10);
    const LONG: Duration = Duration::from_secs(10);

    #[test]
    fn blocking_rules() {
        support::for_procs(|| {
            // nil channel receive blocks; in a select it is never chosen.
            assert!(blocks(SHORT, || {
                never::<i32>().recv();
            }));
            let v = select! { recv(never::<i32>()) -> _ => 1, default => 2 };
            assert_eq!(v, 2);
            // send with free buffer space never blocks.
            assert!(!blocks(LONG, || {
                let (tx, _rx) = chan(1);
                tx.send(7).unwrap();
            }));
            // receiving from a closed channel never blocks.
            let (ctx, closed) = chan::<i32>(0);
            ctx.close();
            assert!(!blocks(LONG, move || {
                for _ in 0..10 {
                    assert_eq!(closed.recv(), None);
                    assert_eq!(closed.try_recv(), Err(ferrogo::TryRecvError::Closed));
                }
            }));
            // sending to a closed channel fails (Go panics).
            let (tx, _rx) = chan::<i32>(0);
            tx.close();
            assert!(tx.send(7).is_err());
            // receiving from a non-ready channel blocks.
            assert!(blocks(SHORT, || {
                let (_tx, rx) = chan::<i32>(0);
                rx.recv();
            }));
            // empty selects block; selects with only nil channels block.
            assert!(blocks(SHORT, || select! {}));
            assert!(blocks(
                SHORT,
                || select! { recv(never::<i32>()) -> _ => unreachable!() }
            ));
            // selects with non-ready non-nil channels block.
            assert!(blocks(SHORT, || {
                let (_tx, rx) = chan::<i32>(0);
                select! { recv(rx) -> _ => unreachable!() }
            }));
            // selects with a ready channel or default never block.
            assert!(!blocks(LONG, || select! { default => {} }));
            assert!(!blocks(LONG, || {
                let (tx, rx) = chan::<i32>(1);
                tx.send(7).unwrap();
                select! { recv(rx) -> v => assert_eq!(v, Some(7)), recv(never::<i32>()) -> _ => unreachable!() }
            }));
            assert!(!blocks(LONG, || {
                let (tx, _rx) = chan::<i32>(1);
                select! { send(tx, 7) -> r => r.unwrap(), recv(never::<i32>()) -> _ => unreachable!() }
            }));
            // a closed channel's receive case is always ready.
            assert!(!blocks(LONG, || {
                let (tx, rx) = chan::<i32>(0);
                drop(tx);
                select! { recv(rx) -> v => assert_eq!(v, None) }
            }));
        });
    }
}

// Behaviour from Go's test/chan/select4.go: a receive case on a ready channel
// is chosen over one that is not, and its value lands in the arm.
mod select4 {
    use super::*;

    #[test]
    fn ready_case_chosen() {
        let (tx, c) = chan(1);
        let (_tx1, c1) = chan::<i32>(0);
        tx.send(42).unwrap();
        let x;
        select! {
            recv(c1) -> _ => panic!("BUG: chose the empty channel"),
            recv(c) -> v => x = v.unwrap(),
        }
        assert_eq!(x, 42);
    }
}

// Behaviour from Go's test/chan/select5.go. Go generates a program of many
// single-goroutine selects from templates, choosing for every optional piece
// whether it is there: a `default` arm (absent, before or after the real
// case), and cases that are never ready — a send and a receive on an
// unbuffered channel nobody serves, and on Go's nil channel. It checks that
// exactly the one real operation happens, that a ready case always wins over
// `default`, that channel and value expressions are evaluated once each, in
// source order, before the chosen arm runs, and that a select with nothing
// ready takes its `default`. Here a macro writes out every combination of
// arms as its own `select!`, and a path enumerator (Go's choose/maybe/next)
// walks all of them at run time; the same paths also go through the dynamic
// `Select`. ferrogo has no nil `Sender`: a send on a full buffered channel
// nobody drains stands in for Go's send on a nil channel.
mod select5 {
    use super::*;
    use ferrogo::Select;
    use std::cell::Cell;

    /// Walks every path through code that asks `choose(n)` / `maybe()`: call
    /// [`next`](Paths::next) before each run; the run's answers differ from
    /// every earlier run's, until all combinations are done.
    struct Paths {
        /// The answers of the current path so far: (answer, out of n).
        choices: Vec<(usize, usize)>,
        /// Index of the next choice the current run will ask for.
        pos: usize,
        /// Paths started.
        count: usize,
    }

    impl Paths {
        fn new() -> Self {
            Paths {
                choices: Vec::new(),
                pos: 0,
                count: 0,
            }
        }

        /// Starts the next path; false once every path was walked.
        fn next(&mut self) -> bool {
            if self.count > 0 {
                assert_eq!(self.pos, self.choices.len(), "a run skipped a choice");
                // Advance the last choice that has answers left, like an odometer.
                loop {
                    match self.choices.last_mut() {
                        None => return false,
                        Some((i, n)) if *i + 1 < *n => {
                            *i += 1;
                            break;
                        }
                        Some(_) => {
                            self.choices.pop();
                        }
                    }
                }
            }
            self.pos = 0;
            self.count += 1;
            true
        }

        /// One of `0..n`: the recorded answer, or 0 for a new question.
        fn choose(&mut self, n: usize) -> usize {
            if self.pos == self.choices.len() {
                self.choices.push((0, n));
            }
            let (i, m) = self.choices[self.pos];
            assert_eq!(m, n, "the same run asked a different question");
            self.pos += 1;
            i
        }

        fn maybe(&mut self) -> bool {
            self.choose(2) == 0
        }
    }

    /// Writes out one `select!` per combination of arms and picks the one
    /// for the current path of `$p`. After `[arms] [last];` come the items:
    /// `always { arm, }`; `maybe { arm, }` (there or not); `default_any { arm, }`
    /// (absent, here, or after every other arm); `default_must { arm, }`
    /// (here or after every other arm).
    macro_rules! select_paths {
        ($p:ident; [$($arms:tt)*] [$($last:tt)*];) => {
            select! { $($arms)* $($last)* }
        };
        ($p:ident; [$($arms:tt)*] $last:tt; always { $($arm:tt)* } $($rest:tt)*) => {
            select_paths!($p; [$($arms)* $($arm)*] $last; $($rest)*)
        };
        ($p:ident; [$($arms:tt)*] $last:tt; maybe { $($arm:tt)* } $($rest:tt)*) => {
            if $p.maybe() {
                select_paths!($p; [$($arms)* $($arm)*] $last; $($rest)*)
            } else {
                select_paths!($p; [$($arms)*] $last; $($rest)*)
            }
        };
        ($p:ident; [$($arms:tt)*] [$($last:tt)*]; default_any { $($arm:tt)* } $($rest:tt)*) => {
            match $p.choose(3) {
                0 => select_paths!($p; [$($arms)*] [$($last)*]; $($rest)*),
                1 => select_paths!($p; [$($arms)* $($arm)*] [$($last)*]; $($rest)*),
                _ => select_paths!($p; [$($arms)*] [$($last)* $($arm)*]; $($rest)*),
            }
        };
        ($p:ident; [$($arms:tt)*] [$($last:tt)*]; default_must { $($arm:tt)* } $($rest:tt)*) => {
            if $p.maybe() {
                select_paths!($p; [$($arms)* $($arm)*] [$($last)*]; $($rest)*)
            } else {
                select_paths!($p; [$($arms)*] [$($last)* $($arm)*]; $($rest)*)
            }
        };
    }

    /// The channels every generated select uses.
    struct Chans {
        /// Buffered (1), so one goroutine can send and then receive.
        c_tx: Sender<i32>,
        c: Receiver<i32>,
        /// Unbuffered and nobody serves it: neither side is ever ready.
        dummy_tx: Sender<i32>,
        dummy: Receiver<i32>,
        /// A full buffer nobody drains: a send that is never ready.
        full_tx: Sender<i32>,
        _full_rx: Receiver<i32>,
        /// Go's nil channel: a receive that is never ready.
        nil: Receiver<i32>,
    }

    impl Chans {
        fn new() -> Self {
            let (c_tx, c) = chan(1);
            let (dummy_tx, dummy) = chan(0);
            let (full_tx, _full_rx) = chan(1);
            full_tx.send(0).unwrap();
            Chans {
                c_tx,
                c,
                dummy_tx,
                dummy,
                full_tx,
                _full_rx,
                nil: never(),
            }
        }
    }

    /// Steps of one select, which must happen in increasing order (Go's
    /// `checkorder`).
    struct Order(Cell<u32>);

    impl Order {
        /// Records step `o` and passes `v` through.
        fn at<T>(&self, o: u32, v: T) -> T {
            assert!(o > self.0.get(), "step {o} after step {}", self.0.get());
            self.0.set(o);
            v
        }
    }

    /// Adds the never-ready cases a path asks for to a dynamic select.
    fn idle_cases<'a>(p: &mut Paths, sel: &mut Select<'a>, k: &'a Chans) {
        if p.maybe() {
            sel.send(&k.dummy_tx, 1);
        }
        if p.maybe() {
            sel.recv(&k.dummy);
        }
        if p.maybe() {
            sel.send(&k.full_tx, 1);
        }
        if p.maybe() {
            sel.recv(&k.nil);
        }
    }

    /// Sends `n`, receives it one way or another; the select must take the
    /// receive, `default` or not. 1 + 2·16 + 3·16 = 81 paths.
    fn recv(p: &mut Paths, k: &Chans, n: i32) {
        k.c_tx.send(n).unwrap();
        let x;
        match p.choose(3) {
            0 => x = k.c.recv().unwrap(),
            1 => {
                let nonblock = p.maybe();
                let mut sel = Select::new();
                idle_cases(p, &mut sel, k);
                let real = sel.recv(&k.c);
                let op = if nonblock {
                    sel.try_select().expect("nonblock")
                } else {
                    sel.select()
                };
                assert_eq!(op.index(), real);
                x = op.recv(&k.c).unwrap();
            }
            _ => select_paths!(p; [] [];
                default_any { default => panic!("nonblock"), }
                always { recv(k.c) -> v => x = v.unwrap(), }
                maybe { send(k.dummy_tx, 1) -> _ => panic!("dummy send"), }
                maybe { recv(k.dummy) -> _ => panic!("dummy receive"), }
                maybe { send(k.full_tx, 1) -> _ => panic!("full send"), }
                maybe { recv(k.nil) -> _ => panic!("nil receive"), }
            ),
        }
        assert_eq!(x, n);
    }

    /// Sends `n` one way or another, then receives it. 81 paths.
    fn send(p: &mut Paths, k: &Chans, n: i32) {
        match p.choose(3) {
            0 => k.c_tx.send(n).unwrap(),
            1 => {
                let nonblock = p.maybe();
                let mut sel = Select::new();
                idle_cases(p, &mut sel, k);
                let real = sel.send(&k.c_tx, n);
                let op = if nonblock {
                    sel.try_select().expect("nonblock")
                } else {
                    sel.select()
                };
                assert_eq!(op.index(), real);
                op.send(&k.c_tx).unwrap();
            }
            _ => select_paths!(p; [] [];
                default_any { default => panic!("nonblock"), }
                always { send(k.c_tx, n) -> r => r.unwrap(), }
                maybe { send(k.dummy_tx, 1) -> _ => panic!("dummy send"), }
                maybe { recv(k.dummy) -> _ => panic!("dummy receive"), }
                maybe { send(k.full_tx, 1) -> _ => panic!("full send"), }
                maybe { recv(k.nil) -> _ => panic!("nil receive"), }
            ),
        }
        assert_eq!(k.c.try_recv(), Ok(n));
    }

    /// The receive again, checking that every channel and value expression
    /// is evaluated in source order and the arm runs after all of them.
    /// 3·16 = 48 paths.
    fn recv_order(p: &mut Paths, k: &Chans, n: i32) {
        k.c_tx.send(n).unwrap();
        let order = Order(Cell::new(0));
        let x;
        select_paths!(p; [] [];
            default_any { default => panic!("nonblock"), }
            always { recv(order.at(1, &k.c)) -> v => x = order.at(100, v.unwrap()), }
            maybe { send(order.at(2, &k.dummy_tx), order.at(3, 1)) -> _ => panic!("dummy send"), }
            maybe { recv(order.at(4, &k.dummy)) -> _ => panic!("dummy receive"), }
            maybe { send(order.at(5, &k.full_tx), order.at(6, 1)) -> _ => panic!("full send"), }
            maybe { recv(order.at(7, &k.nil)) -> _ => panic!("nil receive"), }
        );
        assert_eq!((x, order.0.get()), (n, 100));
    }

    /// The send with its evaluation order checked. 48 paths.
    fn send_order(p: &mut Paths, k: &Chans, n: i32) {
        let order = Order(Cell::new(0));
        select_paths!(p; [] [];
            default_any { default => panic!("nonblock"), }
            always { send(order.at(1, &k.c_tx), order.at(2, n)) -> r => order.at(100, r).unwrap(), }
            maybe { send(order.at(3, &k.dummy_tx), order.at(4, 1)) -> _ => panic!("dummy send"), }
            maybe { recv(order.at(5, &k.dummy)) -> _ => panic!("dummy receive"), }
            maybe { send(order.at(6, &k.full_tx), order.at(7, 1)) -> _ => panic!("full send"), }
            maybe { recv(order.at(8, &k.nil)) -> _ => panic!("nil receive"), }
        );
        assert_eq!(order.0.get(), 100);
        assert_eq!(k.c.try_recv(), Ok(n));
    }

    /// Nothing is ready: `default` runs and no case does. 2·16 + 16 = 48 paths.
    fn nonblock(p: &mut Paths, k: &Chans, _: i32) {
        if p.maybe() {
            let took_default;
            select_paths!(p; [] [];
                default_must { default => took_default = true, }
                maybe { send(k.dummy_tx, 1) -> _ => panic!("dummy send"), }
                maybe { send(k.full_tx, 1) -> _ => panic!("full send"), }
                maybe { recv(k.dummy) -> v => panic!("dummy receive: {v:?}"), }
                maybe { recv(k.nil) -> v => panic!("nil receive: {v:?}"), }
            );
            assert!(took_default);
        } else {
            let mut sel = Select::new();
            idle_cases(p, &mut sel, k);
            assert!(sel.try_select().is_err());
        }
    }

    type Template = fn(&mut Paths, &Chans, i32);

    #[test]
    fn every_generated_select() {
        support::for_procs(|| {
            let k = Chans::new();
            let mut n = 1;
            let templates: [(&str, Template, usize); 5] = [
                ("recv", recv, 81),
                ("send", send, 81),
                ("recv_order", recv_order, 48),
                ("send_order", send_order, 48),
                ("nonblock", nonblock, 48),
            ];
            for (name, template, paths) in templates {
                let mut p = Paths::new();
                while p.next() {
                    template(&mut p, &k, n);
                    n += 1;
                }
                assert_eq!(p.count, paths, "{name}: paths walked");
            }
            // Every path moved exactly its one value; the idle channels are untouched.
            assert!(k.c.is_empty());
            assert_eq!((k.dummy.len(), k.full_tx.len()), (0, 1));
        });
    }
}

// Behaviour from Go's test/chan/select6.go (issue 2075: a select that loses on
// one channel must not leave a stale entry that steals a later value).
mod select6 {
    use super::*;

    #[test]
    fn losing_case_leaves_no_stale_waiter() {
        support::for_procs(|| {
            for _ in 0..20 {
                let (c1_tx, c1) = chan::<bool>(0);
                let (c2_tx, c2) = chan::<bool>(0);
                let (c3_tx, c3) = chan::<bool>(0);
                let r1 = c1.clone();
                let a = go(move || r1.recv());
                let r1 = c1.clone();
                let b = go(move || {
                    select! {
                        recv(r1) -> _ => panic!("dummy"),
                        recv(c2) -> _ => c3_tx.send(true).unwrap(),
                    }
                    r1.recv()
                });
                go(move || c2_tx.send(true).unwrap());
                c3.recv().unwrap();
                c1_tx.send(true).unwrap();
                c1_tx.send(true).unwrap();
                assert_eq!(a.join().unwrap(), Some(true));
                assert_eq!(b.join().unwrap(), Some(true));
            }
        });
    }
}

// Behaviour from Go's test/chan/select7.go: plain, one-case and two-case
// selects on both sides of an unbuffered channel pair up.
mod select7 {
    use super::*;

    fn recv(kind: u8, c: Receiver<i32>) {
        match kind {
            1 => assert_eq!(c.recv(), Some(1)),
            2 => select! { recv(c) -> v => assert_eq!(v, Some(1)) },
            _ => {
                let (_t2, c2) = chan::<i32>(0);
                select! { recv(c) -> v => assert_eq!(v, Some(1)), recv(c2) -> _ => unreachable!() }
            }
        }
    }

    fn send(kind: u8, recv_kind: u8) {
        let (c, r) = chan::<i32>(0);
        let h = go(move || recv(recv_kind, r));
        ferrogo::yield_now();
        match kind {
            1 => c.send(1).unwrap(),
            2 => select! { send(c, 1) -> r => r.unwrap() },
            _ => {
                let (c2, _r2) = chan::<i32>(0);
                select! { send(c, 1) -> r => r.unwrap(), send(c2, 1) -> _ => unreachable!() }
            }
        }
        h.join().unwrap();
    }

    #[test]
    fn all_pairs() {
        support::for_procs(|| {
            for r in 1..=3 {
                for s in 1..=3 {
                    send(s, r);
                }
            }
        });
    }
}

// Behaviour from Go's test/chan/select8.go: `break` inside a select arm.
mod select8 {
    use super::*;

    #[test]
    fn break_in_arms() {
        let (tx, ch) = chan::<i32>(0);
        let _h = go(move || while tx.send(5).is_ok() {});
        #[allow(clippy::never_loop)]
        loop {
            select! { recv(ch) -> v => { assert_eq!(v, Some(5)); break } }
        }
        #[allow(clippy::never_loop)]
        loop {
            select! {
                recv(ch) -> _ => break,
                send(chan::<i32>(0).0, 10) -> _ => panic!("unreachable"),
                after(Duration::from_secs(10)) => panic!("sender stuck"),
            }
        }
        drop(ch);
    }
}

// Behaviour from Go's test/chan/doubleselect.go: a select over four sends,
// muxed back together; every value exactly once.
mod doubleselect {
    use super::*;

    #[test]
    fn no_duplicates() {
        support::for_procs(|| {
            const N: usize = 5_000;
            let chans: Vec<_> = (0..4).map(|_| chan::<usize>(0)).collect();
            let (cmux_tx, cmux) = chan::<usize>(0);
            let (done_tx, done) = chan::<bool>(0);
            let senders: Vec<Sender<usize>> = chans.iter().map(|c| c.0.clone()).collect();
            for (_, rx) in &chans {
                let (rx, out, done) = (rx.clone(), cmux_tx.clone(), done_tx.clone());
                go(move || {
                    for v in &rx {
                        out.send(v).unwrap();
                    }
                    done.send(true).unwrap();
                });
            }
            drop(chans);
            drop(cmux_tx);
            go(move || {
                let [c1, c2, c3, c4] = &senders[..] else {
                    unreachable!()
                };
                for i in 0..N {
                    select! {
                        send(c1, i) -> r => r.unwrap(),
                        send(c2, i) -> r => r.unwrap(),
                        send(c3, i) -> r => r.unwrap(),
                        send(c4, i) -> r => r.unwrap(),
                    }
                }
            });
            go(move || {
                for _ in 0..4 {
                    done.recv().unwrap();
                }
            });
            let mut seen = vec![false; N];
            for v in &cmux {
                assert!(!seen[v], "duplicate value {v}");
                seen[v] = true;
            }
            assert!(seen.iter().all(|&s| s), "a value was lost");
        });
    }
}

// Behaviour from Go's test/chan/sieve1.go: the concurrent prime sieve.
mod sieve1 {
    use super::*;

    fn generate(ch: Sender<u32>) {
        let mut i = 2;
        while ch.send(i).is_ok() {
            i += 1;
        }
    }

    fn filter(input: Receiver<u32>, out: Sender<u32>, prime: u32) {
        for i in &input {
            if i % prime != 0 && out.send(i).is_err() {
                return;
            }
        }
    }

    #[test]
    fn first_primes() {
        support::for_procs(|| {
            let (tx, mut rx) = chan(0);
            go(move || generate(tx));
            let mut primes = vec![];
            for _ in 0..25 {
                let prime = rx.recv().unwrap();
                primes.push(prime);
                let (tx1, rx1) = chan(0);
                let input = std::mem::replace(&mut rx, rx1);
                go(move || filter(input, tx1, prime));
            }
            // Dropping the last receiver unwinds the pipeline: every send fails.
            drop(rx);
            assert_eq!(
                primes,
                [
                    2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73,
                    79, 83, 89, 97
                ]
            );
        });
    }
}

// Behaviour from Go's test/chan/sieve2.go: an Eratosthenes sieve over odd
// candidates. The odd multiples of each prime p (from p²) come from their
// own goroutine; a merging goroutine keeps those streams in a min-heap by
// their next value and emits every odd composite once, in increasing order;
// the sieving goroutine passes the candidates that are not composites and
// feeds each new prime back to the merger through a proxy with an unbounded
// buffer (the merger needs primes only up to √n and would otherwise block
// the sieve). The proxy switches its output case off while its buffer is
// empty. Checked: the first 1,000 primes, and that every goroutine of the
// network returns once the consumer drops the output.
mod sieve2 {
    use super::*;
    use std::cmp::Reverse;
    use std::collections::{BinaryHeap, VecDeque};

    /// 5, 7, 9, ...
    fn odds() -> Receiver<u64> {
        let (tx, rx) = chan(50);
        go(move || {
            let mut n = 5;
            while tx.send(n).is_ok() {
                n += 2;
            }
        });
        rx
    }

    /// p², p² + 2p, p² + 4p, ...
    fn multiples(p: u64) -> Receiver<u64> {
        let (tx, rx) = chan(10);
        go(move || {
            let mut n = p * p;
            while tx.send(n).is_ok() {
                n += 2 * p;
            }
        });
        rx
    }

    /// A sender that never blocks: a goroutine buffers what it receives and
    /// forwards it to `out` (Go's sendproxy).
    fn send_proxy(out: Sender<u64>) -> Sender<u64> {
        let (proxy, input) = chan::<u64>(10);
        go(move || {
            let (idle, _keep) = chan::<u64>(0);
            let closed = never::<u64>();
            let mut buf = VecDeque::new();
            let mut open = true;
            while open || !buf.is_empty() {
                let inp = if open { &input } else { &closed };
                let o = if buf.is_empty() { &idle } else { &out };
                select! {
                    recv(inp) -> v => match v {
                        Some(v) => buf.push_back(v),
                        None => open = false,
                    },
                    send(o, buf.front().copied().unwrap_or(0)) -> r => match r {
                        Ok(()) => drop(buf.pop_front()),
                        Err(_) => return,
                    },
                }
            }
        });
        proxy
    }

    /// The stream of multiples with the smallest next value in the heap.
    struct Stream {
        /// Its next value, already received.
        head: u64,
        rx: Receiver<u64>,
    }

    impl PartialEq for Stream {
        fn eq(&self, o: &Self) -> bool {
            self.head == o.head
        }
    }
    impl Eq for Stream {}
    impl PartialOrd for Stream {
        fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
            Some(self.cmp(o))
        }
    }
    impl Ord for Stream {
        fn cmp(&self, o: &Self) -> std::cmp::Ordering {
            self.head.cmp(&o.head)
        }
    }

    /// Removes `v` from the front of every stream whose next value it is.
    /// `None` if a stream ended (the network is shutting down).
    fn advance_past(heap: &mut BinaryHeap<Reverse<Stream>>, v: u64) -> Option<()> {
        while heap.peek().is_some_and(|s| s.0.head == v) {
            let Reverse(mut s) = heap.pop().unwrap();
            s.head = s.rx.recv()?;
            heap.push(Reverse(s));
        }
        Some(())
    }

    /// Every odd composite ≥ 9 once, ascending, from the multiples of the
    /// primes arriving on `primes`.
    fn merge(primes: Receiver<u64>, composites: Sender<u64>) -> Option<()> {
        let mut heap = BinaryHeap::new();
        loop {
            let m = multiples(primes.recv()?);
            let square = m.recv()?;
            // Everything below p² comes from the primes before p.
            while let Some(min) = heap.peek().map(|s: &Reverse<Stream>| s.0.head) {
                if min >= square {
                    break;
                }
                composites.send(min).ok()?;
                advance_past(&mut heap, min)?;
            }
            advance_past(&mut heap, square)?;
            composites.send(square).ok()?;
            heap.push(Reverse(Stream {
                head: m.recv()?,
                rx: m,
            }));
        }
    }

    /// 2, 3, 5, 7, 11, ...
    fn sieve() -> Receiver<u64> {
        let (out_tx, out) = chan(10);
        out_tx.send(2).unwrap();
        out_tx.send(3).unwrap();
        let (composites_tx, composites) = chan(50);
        let (primes_tx, primes) = chan(10);
        primes_tx.send(3).unwrap();
        go(move || merge(primes, composites_tx));
        go(move || -> Option<()> {
            let primes = send_proxy(primes_tx);
            let candidates = odds();
            let mut p = candidates.recv()?;
            loop {
                let c = composites.recv()?;
                while p < c {
                    primes.send(p).ok()?;
                    out_tx.send(p).ok()?;
                    p = candidates.recv()?;
                }
                if p == c {
                    p = candidates.recv()?;
                }
            }
        });
        out
    }

    fn is_prime(n: u64) -> bool {
        n >= 2 && (2..).take_while(|d| d * d <= n).all(|d| n % d != 0)
    }

    #[test]
    fn first_primes() {
        support::for_procs(|| {
            let primes = sieve();
            let got: Vec<u64> = (0..1000).map(|_| primes.recv().unwrap()).collect();
            assert_eq!(
                got[..25],
                [
                    2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73,
                    79, 83, 89, 97
                ]
            );
            let want: Vec<u64> = (2..).filter(|&n| is_prime(n)).take(1000).collect();
            assert_eq!(got, want);
            drop(primes);
            // The sieve stops at its next send; everything else follows.
            assert!(
                only_caller_left(),
                "{} goroutines left",
                ferrogo::num_goroutine()
            );
        });
    }
}

// Behaviour from Go's test/chan/powser1.go (Doug McIlroy's power series, from
// "Squinting at Power Series"): a power series is a demand channel — the
// consumer asks for the next coefficient, the producer answers — and every
// operator is a goroutine reading its operands' series. Coefficients are exact
// rationals. Go marks the end of a series with a zero denominator; here the
// producer's goroutine returns and its channels close, which also unwinds the
// whole network once the consumer drops its end. Ported: repeat, add,
// constant multiple, subtract, differentiate, integrate, multiply (needs
// split, which serves two readers from one series), exp (a feedback loop
// through split) and monomial substitution (atan), each checked against its
// known first ten coefficients.
mod powser1 {
    use super::*;
    use std::collections::VecDeque;

    /// A rational in lowest terms with a positive denominator.
    #[derive(Clone, Copy, PartialEq, Eq, Debug)]
    struct Rat {
        num: i64,
        den: i64,
    }

    fn gcd(a: i64, b: i64) -> i64 {
        if b == 0 { a.abs() } else { gcd(b, a % b) }
    }

    fn rat(num: i64, den: i64) -> Rat {
        assert_ne!(den, 0);
        let g = gcd(num, den) * den.signum();
        Rat {
            num: num / g,
            den: den / g,
        }
    }

    fn int(n: i64) -> Rat {
        rat(n, 1)
    }

    impl std::ops::Add for Rat {
        type Output = Rat;
        fn add(self, o: Rat) -> Rat {
            let g = gcd(self.den, o.den);
            rat(
                self.num * (o.den / g) + o.num * (self.den / g),
                self.den * (o.den / g),
            )
        }
    }

    impl std::ops::Mul for Rat {
        type Output = Rat;
        fn mul(self, o: Rat) -> Rat {
            // Cross-reduce first to keep the products small.
            let (g1, g2) = (gcd(self.num, o.den).max(1), gcd(self.den, o.num).max(1));
            rat(
                (self.num / g1) * (o.num / g2),
                (self.den / g2) * (o.den / g1),
            )
        }
    }

    /// The consumer's end of a series.
    struct Ps {
        /// Demands: one `()` per coefficient wanted.
        req: Sender<()>,
        /// The answers, in order; closed when the series ends.
        dat: Receiver<Rat>,
    }

    /// The producer's end of a series.
    struct PsOut {
        req: Receiver<()>,
        dat: Sender<Rat>,
    }

    fn series() -> (Ps, PsOut) {
        let (req_tx, req_rx) = chan(0);
        let (dat_tx, dat_rx) = chan(0);
        (
            Ps {
                req: req_tx,
                dat: dat_rx,
            },
            PsOut {
                req: req_rx,
                dat: dat_tx,
            },
        )
    }

    impl Ps {
        /// The next coefficient; `None` once the series ended.
        fn get(&self) -> Option<Rat> {
            self.req.send(()).ok()?;
            self.dat.recv()
        }
    }

    impl PsOut {
        /// Waits for a demand; false once the consumer is gone.
        fn demand(&self) -> bool {
            self.req.recv().is_some()
        }

        /// Answers the next demand with `r`; false once the consumer is gone.
        fn put(&self, r: Rat) -> bool {
            self.demand() && self.dat.send(r).is_ok()
        }

        /// Answers the pending demand with `r`; false once the consumer is gone.
        fn answer(&self, r: Rat) -> bool {
            self.dat.send(r).is_ok()
        }

        /// Serves every further demand from `input` (Go's copy).
        fn copy(&self, input: &Ps) {
            while self.demand() {
                match input.get() {
                    Some(r) if self.answer(r) => {}
                    _ => return,
                }
            }
        }
    }

    /// A new series produced by `f` on its own goroutine (detached: it ends
    /// when its consumer goes away).
    fn make(f: impl FnOnce(PsOut) + Send + 'static) -> Ps {
        let (ps, out) = series();
        go(move || f(out));
        ps
    }

    /// The next coefficient of both `u` and `v`, demanded and collected in
    /// whichever order the producers are ready (Go's getn): a select over two
    /// sends and two receives, where an operation already done — or not yet
    /// possible — is switched off by a channel that is never ready.
    fn get2(u: &Ps, v: &Ps) -> (Option<Rat>, Option<Rat>) {
        enum Event {
            /// The demand went out (false: the series had ended).
            Asked(usize, bool),
            /// The answer (`None`: the series ended instead).
            Got(usize, Option<Rat>),
        }
        let (idle_req, _keep) = chan::<()>(0);
        let idle_dat = never::<Rat>();
        let ps = [u, v];
        let mut asked = [false; 2];
        let mut waiting = [false; 2];
        let mut out = [None; 2];
        while !asked.iter().all(|&a| a) || waiting.iter().any(|&w| w) {
            let req = |i: usize| if asked[i] { &idle_req } else { &ps[i].req };
            let dat = |i: usize| if waiting[i] { &ps[i].dat } else { &idle_dat };
            let event = select! {
                send(req(0), ()) -> r => Event::Asked(0, r.is_ok()),
                send(req(1), ()) -> r => Event::Asked(1, r.is_ok()),
                recv(dat(0)) -> r => Event::Got(0, r),
                recv(dat(1)) -> r => Event::Got(1, r),
            };
            match event {
                Event::Asked(i, ok) => (asked[i], waiting[i]) = (true, ok),
                Event::Got(i, r) => (waiting[i], out[i]) = (false, r),
            }
        }
        (out[0], out[1])
    }

    /// One goroutine serving two consumers of `input`, each at its own pace,
    /// keeping what one has taken and the other not yet (Go's split). It
    /// never blocks on one party while another could need it: every
    /// operation is a case of one select, switched off while it cannot
    /// apply. With `feedback`, `outs[0]` is read only by the network that
    /// computes `input` itself (exp), so the split ends when `outs[1]` goes.
    fn split_into(input: Ps, outs: [PsOut; 2], feedback: bool) {
        enum Event {
            Demand(usize, bool),
            Answered(usize, bool),
            Asked(bool),
            Took(Option<Rat>),
        }
        let (idle_req, _keep_req) = chan::<()>(0);
        let (idle_dat, _keep_dat) = chan::<Rat>(0);
        let (never_req, never_dat) = (never::<()>(), never::<Rat>());
        let mut input = Some(input);
        let mut outs = outs.map(Some);
        let mut queue: [VecDeque<Rat>; 2] = Default::default();
        let mut wants = [false; 2];
        let mut asking = false;
        loop {
            for s in 0..2 {
                // A demand that can never be answered: end that output.
                if wants[s] && queue[s].is_empty() && input.is_none() {
                    (outs[s], wants[s]) = (None, false);
                }
            }
            if outs[1].is_none() && (feedback || outs[0].is_none()) {
                return;
            }
            let need = (0..2).any(|s| wants[s] && queue[s].is_empty());
            let demand = |s: usize| match &outs[s] {
                Some(o) if !wants[s] => &o.req,
                _ => &never_req,
            };
            let answer = |s: usize| match &outs[s] {
                Some(o) if wants[s] && !queue[s].is_empty() => &o.dat,
                _ => &idle_dat,
            };
            let next = |s: usize| queue[s].front().copied().unwrap_or(int(0));
            let (ask, take) = match &input {
                Some(i) if asking => (&idle_req, &i.dat),
                Some(i) if need => (&i.req, &never_dat),
                _ => (&idle_req, &never_dat),
            };
            let event = select! {
                recv(demand(0)) -> d => Event::Demand(0, d.is_some()),
                recv(demand(1)) -> d => Event::Demand(1, d.is_some()),
                send(answer(0), next(0)) -> r => Event::Answered(0, r.is_ok()),
                send(answer(1), next(1)) -> r => Event::Answered(1, r.is_ok()),
                send(ask, ()) -> r => Event::Asked(r.is_ok()),
                recv(take) -> r => Event::Took(r),
            };
            match event {
                Event::Demand(s, true) => wants[s] = true,
                Event::Demand(s, false) | Event::Answered(s, false) => {
                    (outs[s], wants[s]) = (None, false);
                    queue[s].clear();
                }
                Event::Answered(s, true) => {
                    queue[s].pop_front();
                    wants[s] = false;
                }
                Event::Asked(ok) => {
                    asking = ok;
                    if !ok {
                        input = None;
                    }
                }
                Event::Took(Some(r)) => {
                    asking = false;
                    for s in 0..2 {
                        if outs[s].is_some() {
                            queue[s].push_back(r);
                        }
                    }
                }
                Event::Took(None) => (asking, input) = (false, None),
            }
        }
    }

    fn split(u: Ps) -> (Ps, Ps) {
        let (a, a_out) = series();
        let (b, b_out) = series();
        go(move || split_into(u, [a_out, b_out], false));
        (a, b)
    }

    /// c, c, c, ...
    fn rep(c: Rat) -> Ps {
        make(move |z| while z.put(c) {})
    }

    fn ones() -> Ps {
        rep(int(1))
    }

    /// A polynomial: the series ends after its last coefficient.
    fn poly(coefficients: &[i64]) -> Ps {
        let cs: Vec<Rat> = coefficients.iter().copied().map(int).collect();
        make(move |z| {
            for c in cs {
                if !z.put(c) {
                    return;
                }
            }
        })
    }

    fn twos() -> Ps {
        rep(int(2))
    }

    /// U + V.
    fn add(u: Ps, v: Ps) -> Ps {
        make(move |z| {
            while z.demand() {
                let r = match get2(&u, &v) {
                    (Some(a), Some(b)) => a + b,
                    // One series ended: the sum is the other from here on.
                    (Some(a), None) => {
                        if z.answer(a) {
                            z.copy(&u);
                        }
                        return;
                    }
                    (None, Some(b)) => {
                        if z.answer(b) {
                            z.copy(&v);
                        }
                        return;
                    }
                    (None, None) => return,
                };
                if !z.answer(r) {
                    return;
                }
            }
        })
    }

    /// c·U.
    fn cmul(c: Rat, u: Ps) -> Ps {
        make(move |z| {
            while z.demand() {
                match u.get() {
                    Some(r) if z.answer(c * r) => {}
                    _ => return,
                }
            }
        })
    }

    /// U − V.
    fn sub(u: Ps, v: Ps) -> Ps {
        add(u, cmul(int(-1), v))
    }

    /// dU/dx.
    fn diff(u: Ps) -> Ps {
        make(move |z| {
            if !z.demand() || u.get().is_none() {
                return;
            }
            for i in 1.. {
                match u.get() {
                    Some(r) if z.answer(int(i) * r) && z.demand() => {}
                    _ => return,
                }
            }
        })
    }

    /// c + ∫U dx.
    fn integ(c: Rat, u: Ps) -> Ps {
        make(move |z| {
            if !z.put(c) {
                return;
            }
            for i in 1.. {
                if !z.demand() {
                    return;
                }
                match u.get() {
                    Some(r) if z.answer(rat(1, i) * r) => {}
                    _ => return,
                }
            }
        })
    }

    /// U·V: with U = u + x·UU and V = v + x·VV,
    /// UV = uv + x·(u·VV + v·UU) + x²·UU·VV.
    fn mul(u: Ps, v: Ps) -> Ps {
        make(move |z| {
            if !z.demand() {
                return;
            }
            let (Some(u0), Some(v0)) = get2(&u, &v) else {
                return;
            };
            if !z.answer(u0 * v0) {
                return;
            }
            let (uu, uu1) = split(u);
            let (vv, vv1) = split(v);
            let w = add(cmul(u0, vv), cmul(v0, uu));
            if !z.demand() {
                return;
            }
            match w.get() {
                Some(r) if z.answer(r) => z.copy(&add(w, mul(uu1, vv1))),
                _ => {}
            }
        })
    }

    /// exp(U) for U with constant term 0 (which is ignored): Z = exp(U)
    /// solves dZ = Z·dU, so Z = 1 + ∫Z·dU, fed back into itself via split.
    fn exp(u: Ps) -> Ps {
        let (z0, z0_out) = series();
        let (z1, z1_out) = series();
        let z = integ(int(1), mul(z0, diff(u)));
        go(move || split_into(z, [z0_out, z1_out], true));
        z1
    }

    /// U(c·xⁿ): coefficient i times cⁱ, each followed by n − 1 zeros.
    fn monsubst(u: Ps, c0: Rat, n: usize) -> Ps {
        make(move |z| {
            let mut c = int(1);
            loop {
                if !z.demand() {
                    return;
                }
                match u.get() {
                    Some(r) if z.answer(r * c) => c = c * c0,
                    _ => return,
                }
                for _ in 1..n {
                    if !z.put(int(0)) {
                        return;
                    }
                }
            }
        })
    }

    /// Takes the first `want.len()` coefficients of `u` and compares.
    fn check(what: &str, u: Ps, want: &[Rat]) {
        let got: Vec<Rat> = (0..want.len()).map(|_| u.get().unwrap()).collect();
        assert_eq!(got, want, "{what}");
    }

    /// Takes all of a finite series and compares.
    fn check_finite(what: &str, u: Ps, want: &[i64]) {
        let got: Vec<Rat> = std::iter::from_fn(|| u.get()).collect();
        let want: Vec<Rat> = want.iter().copied().map(int).collect();
        assert_eq!(got, want, "{what}");
    }

    const N: i64 = 10;

    #[test]
    fn series_coefficients() {
        support::for_procs(|| {
            let all = |r: Rat| vec![r; N as usize];
            check("ones", ones(), &all(int(1)));
            check("add ones twos", add(ones(), twos()), &all(int(3)));
            check("cmul -1 twos", cmul(int(-1), twos()), &all(int(-2)));
            check("sub ones twos", sub(ones(), twos()), &all(int(-1)));
            let naturals: Vec<Rat> = (1..=N).map(int).collect();
            check("diff ones", diff(ones()), &naturals);
            let mut harmonic = vec![int(0)];
            harmonic.extend((1..N).map(|i| rat(1, i)));
            check("integ ones", integ(int(0), ones()), &harmonic);
            // 1/(1-x)² = 1 + 2x + 3x² + ...
            check("mul ones ones", mul(ones(), ones()), &naturals);
            // exp(x/(1-x)): the coefficients Go's test checks.
            let e = [
                (1, 1),
                (1, 1),
                (3, 2),
                (13, 6),
                (73, 24),
                (167, 40),
                (4051, 720),
                (37633, 5040),
                (43817, 4480),
                (4596553, 362880),
            ];
            check("exp ones", exp(ones()), &e.map(|(n, d)| rat(n, d)));
            // atan x = ∫ 1/(1+x²) = x - x³/3 + x⁵/5 - ...
            let atan: Vec<Rat> = (0..N)
                .map(|i| match i % 4 {
                    1 => rat(1, i),
                    3 => rat(-1, i),
                    _ => int(0),
                })
                .collect();
            check("atan", integ(int(0), monsubst(ones(), int(-1), 2)), &atan);
            // Finite series end, and the operators pass the end on.
            check_finite("add", add(poly(&[1, 2, 3]), poly(&[1])), &[2, 2, 3]);
            check_finite("mul", mul(poly(&[1, 1]), poly(&[1, 1])), &[1, 2, 1]);
            check_finite("diff", diff(poly(&[1, 2, 3])), &[2, 6]);
            // Every operator's goroutine returned once its consumer went away.
            assert!(
                only_caller_left(),
                "{} goroutines left",
                ferrogo::num_goroutine()
            );
        });
    }
}

// Behaviour from Go's test/chan/goroutines.go: a long chain of goroutines
// passing one value along.
mod goroutines {
    use super::*;

    #[test]
    fn chain() {
        support::for_procs(|| {
            let n = 200;
            let (first_tx, mut rx) = chan::<u32>(0);
            for _ in 0..n {
                let (tx, next) = chan(0);
                let left = std::mem::replace(&mut rx, next);
                go(move || tx.send(left.recv().unwrap() + 1).unwrap());
            }
            first_tx.send(0).unwrap();
            assert_eq!(rx.recv(), Some(n));
        });
    }
}

// Behaviour from Go's test/chan/zerosize.go: zero-sized element types.
mod zerosize {
    use super::*;

    #[test]
    fn zero_sized_elements() {
        support::for_procs(|| {
            let (tx, rx) = chan::<()>(0);
            let h = go(move || tx.send(()).unwrap());
            assert_eq!(rx.recv(), Some(()));
            h.join().unwrap();
            let (tx, rx) = chan::<[u64; 0]>(1000);
            for _ in 0..1000 {
                tx.send([]).unwrap();
            }
            assert_eq!(rx.len(), 1000);
        });
    }
}

// Behaviour from Go's test/chan/sendstmt.go: a channel of channels, sending on
// the received channel inside a select.
mod sendstmt {
    use super::*;

    #[test]
    fn chanchan() {
        let (cc_tx, cc) = chan::<Sender<i32>>(1);
        let (c, c_rx) = chan::<i32>(1);
        cc_tx.send(c).unwrap();
        let inner = cc.recv().unwrap();
        select! {
            send(inner, 2) -> r => r.unwrap(),
            default => panic!("nonblock"),
        }
        assert_eq!(c_rx.recv(), Some(2));
        let (b, b_rx) = chan::<bool>(1);
        #[allow(clippy::nonminimal_bool)]
        b.send(false || true).unwrap();
        assert_eq!(b_rx.recv(), Some(true));
    }
}

// Behaviour from Go's src/runtime/chan_test.go.
mod runtime_chan_test {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// TestChan: every capacity blocks and unblocks at the right moments.
    #[test]
    fn every_capacity() {
        support::for_procs(|| {
            const N: usize = 20;
            for cap in 0..N {
                // Receive from an empty channel blocks until a send.
                let (tx, rx) = chan::<usize>(cap);
                let (flag_tx, flag) = chan::<()>(1);
                let r2 = rx.clone();
                let h = go(move || {
                    let v = r2.recv();
                    flag_tx.send(()).unwrap();
                    v
                });
                sleep(Duration::from_millis(2));
                assert!(
                    flag.try_recv().is_err(),
                    "chan[{cap}]: receive from empty did not block"
                );
                tx.send(0).unwrap();
                assert_eq!(h.join().unwrap(), Some(0));

                // Non-blocking receive from an empty channel fails.
                assert!(rx.try_recv().is_err());

                // Send to a full channel blocks until a receive.
                for i in 0..cap {
                    tx.try_send(i)
                        .unwrap_or_else(|_| panic!("chan[{cap}]: send {i} blocked"));
                }
                assert!(
                    tx.try_send(cap).is_err(),
                    "chan[{cap}]: send to full did not fail"
                );
                let t2 = tx.clone();
                let h = go(move || t2.send(cap).unwrap());
                sleep(Duration::from_millis(2));
                for i in 0..=cap {
                    assert_eq!(rx.recv(), Some(i), "chan[{cap}]: FIFO");
                }
                h.join().unwrap();

                // Close: receivers drain then see None; len/cap as expected.
                for i in 0..cap {
                    tx.send(i).unwrap();
                }
                assert_eq!((rx.len(), rx.cap()), (cap, cap));
                tx.close();
                for i in 0..cap {
                    assert_eq!(rx.recv(), Some(i));
                }
                assert_eq!(rx.recv(), None);
                assert_eq!(
                    rx.recv_timeout(Duration::from_secs(1)),
                    Err(ferrogo::RecvTimeoutError::Closed)
                );
            }
        });
    }

    /// TestNonblockRecvRace: a non-blocking select never takes default when a
    /// case is ready (here: a closed channel).
    #[test]
    fn nonblock_select_never_misses_ready() {
        support::for_procs(|| {
            for _ in 0..500 {
                let (tx, rx) = chan::<i32>(1);
                tx.send(1).unwrap();
                let h = go(move || {
                    select! {
                        recv(rx) -> _ => {},
                        default => panic!("chan is not ready"),
                    }
                });
                tx.close();
                let _ = tx.try_send(2);
                h.join().unwrap();
            }
        });
    }

    /// TestSelectFairness: two ready channels are chosen about equally often
    /// (within 10 sigma of a fair coin).
    #[test]
    fn select_fairness() {
        const TRIALS: usize = 10_000;
        let (t1, c1) = chan::<u8>(TRIALS + 1);
        let (t2, c2) = chan::<u8>(TRIALS + 1);
        for _ in 0..=TRIALS {
            t1.send(1).unwrap();
            t2.send(2).unwrap();
        }
        let (_t3, c3) = chan::<u8>(0);
        let (_t4, c4) = chan::<u8>(0);
        let mut cnt1 = 0usize;
        for _ in 0..TRIALS {
            let b = select! {
                recv(c3) -> v => v,
                recv(c4) -> v => v,
                recv(c1) -> v => v,
                recv(c2) -> v => v,
            };
            if b == Some(1) {
                cnt1 += 1;
            }
        }
        let (r, n) = (0.5f64, TRIALS as f64);
        let (mean, sigma) = (n * r, (n * r * (1.0 - r)).sqrt());
        let dev = (cnt1 as f64 - mean).abs();
        assert!(
            dev < 10.0 * sigma,
            "unfair select: {cnt1} of {TRIALS} from c1"
        );
        // Blocking selects are fair too: a uniformly random permutation.
        let mut counts = [0usize; 3];
        let chans: Vec<_> = (0..3).map(|_| chan::<usize>(TRIALS)).collect();
        for _ in 0..TRIALS {
            for (i, (tx, _)) in chans.iter().enumerate() {
                tx.send(i).unwrap();
            }
            let i = select! {
                recv(chans[0].1) -> v => v.unwrap(),
                recv(chans[1].1) -> v => v.unwrap(),
                recv(chans[2].1) -> v => v.unwrap(),
            };
            counts[i] += 1;
        }
        let (p, n) = (1.0 / 3.0, TRIALS as f64);
        let sigma = (n * p * (1.0 - p)).sqrt();
        for c in counts {
            assert!(
                (c as f64 - n * p).abs() < 10.0 * sigma,
                "unfair 3-way select: {counts:?}"
            );
        }
    }

    /// TestCloseWakeups-style: close wakes every blocked receiver, plain and
    /// in select, and every blocked sender.
    #[test]
    fn close_wakes_every_waiter() {
        support::for_procs(|| {
            let (tx, rx) = chan::<u32>(0);
            let mut hs = vec![];
            for i in 0..8 {
                let rx = rx.clone();
                hs.push(go(move || {
                    if i % 2 == 0 {
                        rx.recv()
                    } else {
                        let (_t, other) = chan::<u32>(0);
                        select! { recv(rx) -> v => v, recv(other) -> _ => Some(99) }
                    }
                }));
            }
            sleep(Duration::from_millis(10));
            tx.close();
            for h in hs {
                assert_eq!(h.join().unwrap(), None);
            }
            let (tx, rx) = chan::<u32>(0);
            let senders: Vec<_> = (0..6)
                .map(|i| {
                    let tx = tx.clone();
                    go(move || {
                        if i % 2 == 0 {
                            tx.send(i).map_err(|e| e.0)
                        } else {
                            select! { send(tx, i) -> r => r.map_err(|e| e.0) }
                        }
                    })
                })
                .collect();
            sleep(Duration::from_millis(10));
            rx.close();
            for (i, h) in senders.into_iter().enumerate() {
                assert_eq!(h.join().unwrap(), Err(i as u32));
            }
        });
    }

    /// TestSelfSelect: two goroutines each select send-or-receive on the same
    /// channel; a select never matches its own opposite case.
    #[test]
    fn self_select() {
        support::for_procs(|| {
            for cap in [0usize, 10] {
                let (tx, rx) = chan::<usize>(cap);
                let hs: Vec<_> = (0..2)
                    .map(|p| {
                        let (tx, rx) = (tx.clone(), rx.clone());
                        go(move || {
                            for i in 0..1000 {
                                if p == 0 || i % 2 == 0 {
                                    select! {
                                        send(tx, p) -> r => r.unwrap(),
                                        recv(rx) -> v => {
                                            if cap == 0 && v == Some(p) {
                                                panic!("self receive");
                                            }
                                        }
                                    }
                                } else {
                                    select! {
                                        recv(rx) -> v => {
                                            if cap == 0 && v == Some(p) {
                                                panic!("self receive");
                                            }
                                        }
                                        send(tx, p) -> r => r.unwrap(),
                                    }
                                }
                            }
                        })
                    })
                    .collect();
                for h in hs {
                    h.join().unwrap();
                }
            }
        });
    }

    /// TestMultiConsumer: many producers and consumers, no value lost or
    /// duplicated (checksums).
    #[test]
    fn multi_consumer_checksums() {
        support::for_procs(|| {
            const NWORK: usize = 4;
            const NITER: usize = 5_000;
            for cap in [0usize, 1, 64] {
                let (tx, rx) = chan::<usize>(cap);
                let (rtx, rrx) = chan::<(usize, usize)>(NWORK);
                for _ in 0..NWORK {
                    let (rx, rtx) = (rx.clone(), rtx.clone());
                    go(move || {
                        let (mut n, mut s) = (0, 0);
                        for v in &rx {
                            n += 1;
                            s += v;
                        }
                        rtx.send((n, s)).unwrap();
                    });
                }
                drop(rtx);
                let producers: Vec<_> = (0..NWORK)
                    .map(|w| {
                        let tx = tx.clone();
                        go(move || {
                            for i in 0..NITER {
                                tx.send(w * NITER + i).unwrap();
                            }
                        })
                    })
                    .collect();
                drop(tx);
                for p in producers {
                    p.join().unwrap();
                }
                let (n, s) = rrx.iter().fold((0, 0), |(n, s), (a, b)| (n + a, s + b));
                let total = NWORK * NITER;
                assert_eq!(n, total, "cap {cap}: count");
                assert_eq!(s, total * (total - 1) / 2, "cap {cap}: checksum");
            }
        });
    }

    /// TestSelectStress-style: selects on both sides, with timeouts mixed in;
    /// every value delivered exactly once.
    #[test]
    fn select_stress_exactly_once() {
        support::for_procs(|| {
            const N: usize = 4_000;
            let (a_tx, a_rx) = chan::<usize>(0);
            let (b_tx, b_rx) = chan::<usize>(2);
            let received = Arc::new(AtomicUsize::new(0));
            let sum = Arc::new(AtomicUsize::new(0));
            let prod = go(move || {
                for i in 0..N {
                    let mut v = Some(i);
                    while let Some(x) = v.take() {
                        select! {
                            send(a_tx, x) -> r => r.unwrap(),
                            send(b_tx, x) -> r => r.unwrap(),
                            after(Duration::from_micros(50)) => v = Some(x),
                        }
                    }
                }
            });
            let consumers: Vec<_> = (0..2)
                .map(|_| {
                    let (a, b) = (a_rx.clone(), b_rx.clone());
                    let (received, sum) = (received.clone(), sum.clone());
                    go(move || {
                        let (mut a_open, mut b_open) = (true, true);
                        while a_open || b_open {
                            let na = never::<usize>();
                            let ra = if a_open { &a } else { &na };
                            let rb = if b_open { &b } else { &na };
                            select! {
                                recv(ra) -> v => match v {
                                    Some(v) => { received.fetch_add(1, Ordering::SeqCst); sum.fetch_add(v, Ordering::SeqCst); }
                                    None => a_open = false,
                                },
                                recv(rb) -> v => match v {
                                    Some(v) => { received.fetch_add(1, Ordering::SeqCst); sum.fetch_add(v, Ordering::SeqCst); }
                                    None => b_open = false,
                                },
                                after(Duration::from_micros(30)) => {}
                            }
                        }
                    })
                })
                .collect();
            drop((a_rx, b_rx));
            prod.join().unwrap();
            for c in consumers {
                c.join().unwrap();
            }
            assert_eq!(received.load(Ordering::SeqCst), N);
            assert_eq!(sum.load(Ordering::SeqCst), N * (N - 1) / 2);
        });
    }

    /// TestPseudoRandomSend: a select sending on the same channel twice picks
    /// each case about half the time.
    #[test]
    fn pseudo_random_send() {
        support::for_procs(|| {
            const N: usize = 1000;
            let (tx, rx) = chan::<bool>(0);
            let h = go(move || (0..N).map(|_| rx.recv().unwrap()).collect::<Vec<_>>());
            for _ in 0..N {
                select! {
                    send(tx, false) -> r => r.unwrap(),
                    send(tx, true) -> r => r.unwrap(),
                }
            }
            let got = h.join().unwrap();
            let t = got.iter().filter(|&&b| b).count();
            assert!(t > N / 10 && N - t > N / 10, "not random: {t} true of {N}");
        });
    }
}
