#!/usr/bin/env bash
# What report.html costs on a large file made by a real Redis: the page's size, and the
# wall time it adds to `rdbscope analyze`.
#
#   benches/report-cost.sh                 # 9 M keys, 2.6 GB (made once, cached)
#   BENCH_QUICK=1 benches/report-cost.sh   # 500 k keys, 100 MB: to try the script
#
# Settings (environment): BENCH_KEYS, BENCH_GB, BENCH_SEED=42, BENCH_REPEAT=3,
# BENCH_THREADS=nproc, BENCH_PROFILE=release, REDIS_SERVER, REDIS_CLI.
#
# The added time is measured as `rdbscope report DIR` re-rendering the page from the
# run's output (a whole process: start, summary.json and four Parquet tables read, the
# page written), an upper bound of what rendering costs inside `analyze`, and set
# against the best `analyze` wall time of the same file. Both are measured in the same
# run, alternately, so that a busy minute of the machine weighs on both.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="$ROOT/testdata/cache/bench"
GEN="$ROOT/benches/gen_dataset.py"
PY="${PYTHON:-python3}"
SERVER="${REDIS_SERVER:-/usr/bin/redis-server}"
CLI="${REDIS_CLI:-/usr/bin/redis-cli}"
if [ "${BENCH_QUICK:-0}" = 1 ]; then
    GB="${BENCH_GB:-0.1}"; KEYS="${BENCH_KEYS:-500000}"
else
    GB="${BENCH_GB:-2.6}"; KEYS="${BENCH_KEYS:-9000000}"
fi
SEED="${BENCH_SEED:-42}"
REPEAT="${BENCH_REPEAT:-3}"
THREADS="${BENCH_THREADS:-$(nproc)}"
PROFILE="${BENCH_PROFILE:-release}"
BYTES="$("$PY" -c "print(int(float('$GB') * 1e9))")"

NPROC="$(nproc)"
BENCH_NAME=report-cost
# shellcheck source=benches/lib.sh
. "$ROOT/benches/lib.sh"

# The same file name as benches/whole-file.sh gives the same data, so either script
# reuses the other's file.
GEN_HASH="$(sha1sum "$GEN" | cut -c1-10)"
RDB="$CACHE/mixed-k$KEYS-b$BYTES-s$SEED-g$GEN_HASH-r70.rdb"
[ -s "$RDB" ] || make_rdb "$RDB" "$SERVER" mixed --keys "$KEYS" --bytes "$BYTES" --seed "$SEED"

log "cargo build --profile $PROFILE"
(cd "$ROOT" && cargo build --quiet --profile "$PROFILE" --bin rdbscope)
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
BIN="$TARGET/$PROFILE/rdbscope"

# Warm the page cache: every run reads the file from memory.
cat "$RDB" >/dev/null
secs() { local t0 t1; t0="$(date +%s.%N)"; "$@" >/dev/null; t1="$(date +%s.%N)"; awk "BEGIN { print $t1 - $t0 }"; }
all_a=""; all_r=""
for i in $(seq "$REPEAT"); do
    rm -rf "$WORK/out"
    a="$(secs "$BIN" analyze "$RDB" --out "$WORK/out" --threads "$THREADS")"
    r="$(secs "$BIN" report "$WORK/out")"
    log "run $i: analyze ${a} s, report ${r} s"
    all_a="$all_a $a"; all_r="$all_r $r"
done
least() { echo "$@" | tr ' ' '\n' | sort -g | head -n1; }
best_a="$(least $all_a)"; best_r="$(least $all_r)"
page="$(stat -c %s "$WORK/out/report.html")"
keys="$("$PY" -c "import json,sys; print(json.load(open(sys.argv[1]))['files'][0]['keys'])" "$WORK/out/summary.json")"
echo "file:          $(basename "$RDB"), $(stat -c %s "$RDB") bytes, $keys keys"
echo "machine:       $(nproc) cores, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
echo "commit:        $(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet || echo '+changes')"
echo "analyze:       ${best_a} s (best of $REPEAT, $THREADS threads, keys.parquet and report.html)"
echo "report alone:  ${best_r} s (best of $REPEAT; rdbscope report DIR)"
echo "report share:  $(awk "BEGIN { printf \"%.1f\", 100 * $best_r / $best_a }") % of the analysis's wall time"
echo "report.html:   $page bytes ($(awk "BEGIN { printf \"%.2f\", $page / 1048576 }") MiB)"
