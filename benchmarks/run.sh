#!/usr/bin/env bash
# Side-by-side peer benchmarks: Go, ferrogo, may, tokio, std threads + crossbeam-channel.
#
#   benchmarks/run.sh [--quick] [--reps N] [--peers "go may ..."] [workload ...]
#
#   workloads: spawn skynet yield parked (= parked-100k parked-20k) unbuf spsc mpmc4 mpmc100
#              select ring sieve mutex sleep (= sleep-20k sleep-100k sleep-1m sleepall-1m)
#              (default: all)
#   --quick / BENCH_QUICK=1   smaller sizes, 3 repetitions (smoke test, not for the record)
#   --reps N  / BENCH_REPS=N  repetitions per program run (median is reported; default 5)
#   --peers / BENCH_PEERS     subset of peers (default: go ferrogo may tokio threads)
#
# Builds every peer in release mode (-j2), runs each workload once per peer under
# `timeout 120`, and prints a markdown table (also written to benchmarks/out/latest.md).
# A peer that fails to build, or a run that fails/times out, is reported, never fatal.
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
OUT=$HERE/out
BIN=$HERE/bin
mkdir -p "$OUT/logs" "$BIN"

QUICK=${BENCH_QUICK:-0}
REPS=${BENCH_REPS:-}
PEERS=${BENCH_PEERS:-"go ferrogo may tokio threads"}
TIMEOUT=${BENCH_TIMEOUT:-120}
ALL="spawn skynet yield parked-100k parked-20k unbuf spsc mpmc4 mpmc100 select ring sieve mutex sleep-20k sleep-100k sleep-1m sleepall-1m"
SEL=()
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1 ;;
    --reps) REPS=$2; shift ;;
    --peers) PEERS=$2; shift ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
        parked) SEL+=(parked-100k parked-20k) ;;
    sleep) SEL+=(sleep-20k sleep-100k sleep-1m sleepall-1m) ;;
    *) case " $ALL " in *" $1 "*) SEL+=("$1") ;; *) echo "unknown workload: $1 (known: $ALL parked)" >&2; exit 2 ;; esac ;;
  esac
  shift
done
[ ${#SEL[@]} -eq 0 ] && read -r -a SEL <<< "$ALL"
if [ -z "$REPS" ]; then if [ "$QUICK" = 1 ]; then REPS=3; else REPS=5; fi; fi
export BENCH_REPS=$REPS GOMAXPROCS=2

# size <label> <peer> -> number, or "skip"
size() {
  local w=$1 p=$2 s
  case "$w" in
    spawn)       s=1000000;  [ "$p" = threads ] && s=10000 ;;
    skynet)      s=1000000;  [ "$p" = threads ] && s=skip ;;   # 1M OS threads: not feasible
    yield)       s=1000000 ;;
    parked-100k) s=100000 ;;
    parked-20k)  s=20000;    [ "$p" = threads ] && s=10000 ;;   # pids limit here is <20k threads
    unbuf)       s=1000000;  [ "$p" = threads ] && s=20000 ;;   # ~55 us/round trip (futex)
    spsc|mpmc4|mpmc100) s=10000000 ;;
    select)      s=2000000;  [ "$p" = may ] && s=100000 ;;      # may::select! ~45 us/msg
    ring)        s=10000000; [ "$p" = may ] && s=2000000; [ "$p" = threads ] && s=100000 ;;
    sieve)       s=5000;     [ "$p" = threads ] && s=1000 ;;    # ms total: only same-n compares
    mutex)       s=10000000; [ "$p" = may ] && s=1000000 ;;     # 1000 x 10k (may: 1000 x 1k)
    sleep-20k)   s=20000;  case "$p" in may|threads) s=skip ;; esac ;;   # wall ms + peak RSS (extra)
    sleep-100k)  s=100000; case "$p" in may|threads) s=skip ;; esac ;;
    sleep-1m)    s=1000000; case "$p" in may|threads) s=skip ;; esac ;;
    sleepall-1m) s=1000000; case "$p" in may|threads) s=skip ;; esac ;;   # all asleep at once
  esac
  if [ "$QUICK" = 1 ] && [ "$s" != skip ]; then
    case "$w" in
      parked-100k|sleep-100k|sleep-1m|sleepall-1m) s=skip ;;
      parked-20k|sleep-20k)  ;;
      skynet)      s=$((s / 10)) ;;          # must stay a power of 10
      sieve)       s=$((s / 5)) ;;
      *)           s=$((s / 10)) ;;
    esac
  fi
  echo "$s"
}

unit() {
  case "$1" in
    spawn) echo "ns/goroutine" ;; skynet) echo "ns/leaf" ;; yield) echo "ns/yield" ;;
    parked-*) echo "KiB RSS/goroutine" ;; unbuf) echo "ns/round trip" ;;
    spsc|mpmc4|mpmc100|select) echo "ns/msg" ;; ring) echo "ns/hop" ;; sieve) echo "ms total" ;;
        mutex) echo "ns/lock+unlock" ;; sleep-*|sleepall-*) echo "ms wall" ;;
  esac
}

# ---------------------------------------------------------------- build
declare -A EXE WHY
echo "== build (release, -j2)" >&2
for p in $PEERS; do
  case "$p" in
    go)
      if ! command -v go >/dev/null 2>&1; then
        echo "   go: SKIPPED - 'go' not found; install it with: sudo benchmarks/install-go.sh" >&2
        WHY[go]="go not installed"; continue
      fi
      if (cd "$HERE/go" && go build -p 2 -o "$BIN/go-peers" .) >"$OUT/logs/build-go.log" 2>&1; then
        EXE[go]=$BIN/go-peers; echo "   go: ok ($(go version | awk '{print $3}'))" >&2
      else
        echo "   go: BUILD FAILED - skipped (see out/logs/build-go.log)" >&2; WHY[go]="build failed"
      fi ;;
    ferrogo|may|tokio|threads)
      if cargo build --release -j2 --manifest-path "$HERE/$p/Cargo.toml" >"$OUT/logs/build-$p.log" 2>&1; then
        EXE[$p]=$HERE/$p/target/release/bench-$p; echo "   $p: ok" >&2
      else
        WHY[$p]="build failed"
        echo "   $p: BUILD FAILED - skipped (see out/logs/build-$p.log; $(grep -c '^error' "$OUT/logs/build-$p.log") errors)" >&2
      fi ;;
    *) echo "   unknown peer $p" >&2 ;;
  esac
done

# ---------------------------------------------------------------- run
RES=$OUT/results.tsv   # label peer size status value extra
: > "$RES"
echo "== run (reps=$REPS, quick=$QUICK, timeout=${TIMEOUT}s each)" >&2
for w in "${SEL[@]}"; do
  prog=${w%%-*}   # parked-100k -> parked
  for p in $PEERS; do
    n=$(size "$w" "$p")
    if [ "$n" = skip ]; then continue; fi
    if [ -z "${EXE[$p]:-}" ]; then
      printf '%s\t%s\t%s\t%s\t\t\n' "$w" "$p" "$n" "${WHY[$p]:-not built}" >> "$RES"; continue
    fi
    log=$OUT/logs/$p-$w.log
    t0=$(date +%s.%N)
    line=$(timeout -k 5 "$TIMEOUT" "${EXE[$p]}" "$prog" "$n" 2>"$log")
    rc=$?
    secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')
    line=$(printf '%s\n' "$line" | grep -P "^$prog\t" | tail -1)
    if [ $rc -eq 0 ] && [ -n "$line" ]; then
      value=$(cut -f3 <<< "$line"); extra=$(cut -f4- <<< "$line")
      printf '%s\t%s\t%s\tok\t%s\t%s\n' "$w" "$p" "$n" "$value" "$extra" >> "$RES"
      printf '   %-12s %-8s n=%-9s %12s %s  (%ss)\n' "$w" "$p" "$n" "$value" "$(unit "$w")" "$secs" >&2
    else
      case $rc in
        3)   status="n/a (not implemented for this peer)" ;;
        124|137) status="TIMEOUT (>${TIMEOUT}s)" ;;
        *)   why=""
             for pat in 'Cannot allocate memory' 'memory allocation of [0-9]+ bytes failed' 'Resource temporarily unavailable' 'fatal error: [^.]*' "panicked at [^ ]+"; do
               why=$(grep -m1 -oE "$pat" "$log" | head -1); [ -n "$why" ] && break
             done
             [ -z "$why" ] && why=$(grep -v '^ ' "$log" | tail -1 | cut -c1-80)
             status="FAILED rc=$rc: ${why:-no message}" ;;
      esac
      printf '%s\t%s\t%s\t%s\t\t\n' "$w" "$p" "$n" "$status" >> "$RES"
      printf '   %-12s %-8s n=%-9s %s  (%ss)\n' "$w" "$p" "$n" "$status" "$secs" >&2
    fi
  done
done

# ------------------------------------------------------- derived sleep rows
# A sleep run reports wall ms as its value and, in its extra field, its peak RSS and the
# peak number of goroutines asleep at once. Two rows per sleep size come from those:
# `-rss` (peak RSS above the baseline, MiB) and `-rss/asleep` (that RSS divided by the peak
# asleep: what one sleeping goroutine costs, whatever the start rate; see BENCHMARKS.md).
ORDER=()
for w in "${SEL[@]}"; do
  ORDER+=("$w")
  case "$w" in sleep-*|sleepall-*) ORDER+=("$w-rss" "$w-rss/asleep") ;; esac
done
awk -F'\t' -v OFS='\t' '$1 ~ /^sleep(all)?-/ && $4 == "ok" {
    rss = ""; per = ""
    if (match($6, /peak_rss_delta=[0-9]+/)) rss = substr($6, RSTART + 15, RLENGTH - 15)
    if (match($6, /kib_per_asleep=[0-9.]+/)) per = substr($6, RSTART + 15, RLENGTH - 15)
    if (rss != "") print $1 "-rss", $2, $3, "ok", rss, "derived"
    if (per != "" && per + 0 > 0) print $1 "-rss/asleep", $2, $3, "ok", per, "derived"
  }' "$RES" > "$RES.derived"
cat "$RES.derived" >> "$RES"; rm -f "$RES.derived"

# ---------------------------------------------------------------- table
{
  echo "# ferrogo peer benchmarks"
  echo
  echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); commit: $(git -C "$HERE" rev-parse --short HEAD 2>/dev/null) ($(git -C "$HERE" rev-parse --abbrev-ref HEAD 2>/dev/null))"
  echo "- machine: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), kernel $(uname -r), vm.max_map_count=$(cat /proc/sys/vm/max_map_count)"
  echo "- $(command -v go >/dev/null && go version | awk '{print $3}' || echo 'go: absent'); $(rustc --version | awk '{print $1, $2}'); 2 worker threads per runtime (GOMAXPROCS=2, tokio worker_threads(2), may set_workers(2), ferrogo max_procs(2))"
  echo "- mode: $([ "$QUICK" = 1 ] && echo QUICK || echo full); each figure is the median of $REPS repetitions inside one process (parked: one measurement)"
  echo
  echo "Cell: figure (ratio to Go = peer/Go; **lower is better** for every row; <1 beats Go). † = run at a different size than Go (see details); per-op figures still compare, sieve (ms total) does not."
  echo
  awk -F'\t' -v peers="$PEERS" -v order="${ORDER[*]}" '
    function unit(w) {
      if (w=="spawn") return "ns/goroutine"; if (w=="skynet") return "ns/leaf"; if (w=="yield") return "ns/yield";
            if (w ~ /^parked/) return "KiB/goroutine"; if (w=="unbuf") return "ns/round trip";
      if (w ~ /^sleep.*-rss\/asleep$/) return "KiB RSS/sleeping goroutine"; if (w ~ /^sleep.*-rss$/) return "MiB peak RSS"; if (w ~ /^sleep/) return "ms wall";
      if (w=="ring") return "ns/hop"; if (w=="sieve") return "ms total"; if (w=="mutex") return "ns/op"; return "ns/msg"
    }
    { k=$1 SUBSEP $2; st[k]=$4; val[k]=$5; sz[k]=$3 }
    END {
      np=split(peers, P, " "); nw=split(order, W, " ")
      hdr="| workload | unit |"; sep="|---|---|"
      for (i=1;i<=np;i++) { hdr=hdr " " P[i] " |"; sep=sep "---:|" }
      print hdr; print sep
      for (j=1;j<=nw;j++) {
        w=W[j]; row="| " w " | " unit(w) " |"
        g=w SUBSEP "go"; gok=((g in st) && st[g]=="ok" && val[g]+0>0)
        for (i=1;i<=np;i++) {
          k=w SUBSEP P[i]
          if (!(k in st)) { row=row " — |"; continue }
          if (st[k]!="ok") { s=st[k]; if (s ~ /Cannot allocate|memory allocation/) s=s " (ENOMEM)"; if (s ~ /Resource temporarily/) s=s " (EAGAIN)"; sub(/:.*\(/, " (", s); sub(/:.*/, "", s); row=row " " s " |"; continue }
          v=val[k]+0; cell=(v>=100 ? sprintf("%.0f", v) : sprintf("%.3g", v))
          dag=(P[i]!="go" && (g in sz) && sz[k]!=sz[g]) ? "†" : ""
          if (P[i]=="go") cell=cell " (1×)"
          else if (gok && !(w=="sieve" && dag=="†")) cell=cell sprintf(" (%.2f×)", v/val[g])
          row=row " " cell dag " |"
        }
        print row
      }
    }' "$RES"
  echo
  echo "## Details (size, status, program output)"
  echo
  echo '```'
  awk -F'\t' '{ printf "%-20s %-8s n=%-9s %-6s %10s  %s\n", $1, $2, $3, ($4=="ok"?"ok":""), $5, ($4=="ok"?$6:$4) }' "$RES"
  echo '```'
} > "$OUT/latest.md"
echo >&2
cat "$OUT/latest.md"
