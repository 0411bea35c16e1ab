#!/usr/bin/env bash
# Model checking and long stress runs (not part of .ci/run; run before touching the
# protocols they cover, and record the outcome in your notes).
#   loom:   the idle-worker protocol (src/runtime/idle.rs) and the channel core (src/chan/loom_tests.rs).
#   miri:   the pure data structures (needs the nightly toolchain with the miri component).
#   stress: FERROGO_STRESS=1 enables the long-running stress tests.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== loom models"
RUSTFLAGS="--cfg loom -C debug-assertions" CARGO_TARGET_DIR=target/loom LOOM_MAX_PREEMPTIONS="${LOOM_MAX_PREEMPTIONS:-3}" \
  cargo test --release --lib loom
echo "== miri on the pure data structures (timer heap, spin lock, channel ring buffer, overflow line)"
cargo +nightly miri test --lib -- timer::tests chan::lock chan::ring stack::overflow::tests
echo "== stress tests"
FERROGO_STRESS=1 cargo test --release -- --test-threads=1
