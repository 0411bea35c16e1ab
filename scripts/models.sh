#!/usr/bin/env bash
# Model checking, sanitizers and long stress runs (not part of .ci/run; run before touching
# the protocols they cover, and record the outcome in your notes).
#   scripts/models.sh [loom|miri|stress|tsan|migrate]...   (no argument: loom, miri, stress)
#   loom:   the idle-worker protocol (src/runtime/idle.rs) and the channel core (src/chan/loom_tests.rs).
#   miri:   the pure data structures (needs the nightly toolchain with the miri component).
#   stress: FERROGO_STRESS=1 enables the long-running stress tests.
#   migrate: the integration tests (stress included) with every `support::runtime` built with
#           the `unsafe` `allow_migration` opt-in (FERROGO_TEST_MIGRATE=1): goroutines move
#           between workers under the whole behavioural suite.
#   tsan:   ThreadSanitizer over the integration tests (nightly with rust-src; std is rebuilt
#           instrumented, so there are no false positives from an uninstrumented std). Any report
#           fails the run (TSan's exit status 66). What it can and cannot see:
#           * TSan knows OS threads, not goroutines: goroutines on one worker look like one
#             thread, so a race between two of them is invisible; races across workers (and
#             with plain threads) are reported. Stack switches are not annotated with TSan's
#             fiber API (__tsan_switch_to_fiber), so a report's stack shows the goroutine's
#             frames on top of stale frames of whatever ran before on that worker: trust the
#             top frames.
#           * For the same reason TSan's per-thread shadow call stack drifts a little with every
#             goroutine a worker runs; after ~10^5 goroutines on one worker its state breaks:
#             "races" of a thread with itself, garbage stacks, or a hang inside TSan (a fault in
#             its trace code re-entering it through ferrogo's instrumented SIGSEGV handler).
#             So the tests with 30k+ goroutines are skipped (on 2026-11-22 the runtime_stack
#             binary hung with every thread waiting on TSan's TracePartAlloc mutex, one of
#             them inside ferrogo's SIGSEGV handler), as are the tests that need the
#             deadlock detector's quiet state (TSan's own background thread is a thread ferrogo
#             cannot account for, so no report can fire).
#           * Migrating goroutines (tests/runtime_migration.rs) are left out: their frames
#             move between OS threads, which TSan's per-thread shadow stacks cannot follow;
#             two of those tests ran past the 15-minute watchdog under TSan (they take under
#             a second in a plain debug build).
set -euo pipefail
cd "$(dirname "$0")/.."

loom() {
  echo "== loom models"
  RUSTFLAGS="--cfg loom -C debug-assertions" CARGO_TARGET_DIR=target/loom LOOM_MAX_PREEMPTIONS="${LOOM_MAX_PREEMPTIONS:-3}" \
    cargo test --release --lib loom
}

miri() {
  echo "== miri on the pure data structures (timer heap, spin lock, channel ring buffer, overflow line, record cache)"
  cargo +nightly miri test --lib -- timer::tests chan::lock chan::ring stack::overflow::tests runtime::gcache
}

stress() {
  echo "== stress tests"
  FERROGO_STRESS=1 cargo test --release -- --test-threads=1
}

migrate() {
  echo "== integration tests on migrating runtimes"
  FERROGO_TEST_MIGRATE=1 FERROGO_STRESS=1 cargo test --release --tests
}

tsan() {
  echo "== ThreadSanitizer over the integration tests (all but runtime_migration)"
  local target t tests=()
  target="$(rustc +nightly -vV | sed -n 's/^host: //p')"
  for t in tests/*.rs; do
    t="$(basename "$t" .rs)"
    [ "$t" = runtime_migration ] || tests+=(--test "$t")
  done
  RUSTFLAGS="-Zsanitizer=thread" CARGO_TARGET_DIR=target/tsan FERROGO_TEST_HANG_SECS=900 \
    cargo +nightly test -Zbuild-std --target "$target" --lib "${tests[@]}" --no-fail-fast -- \
    --skip spawn_100k_exact --skip spawn_1m_exact --skip skynet_1m \
    --skip deadlock_is_reported --skip out_of_stacks_is_reported \
    --skip parked_goroutines_beyond_the_initial_budget --skip pooled_stack_memory_returns_after_a_burst
}

if [ $# -eq 0 ]; then
  set -- loom miri stress
fi
for mode in "$@"; do
  case "$mode" in
    loom | miri | stress | tsan | migrate) "$mode" ;;
    *)
      echo "usage: $0 [loom|miri|stress|tsan|migrate]..." >&2
      exit 2
      ;;
  esac
done
