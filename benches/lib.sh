#!/usr/bin/env bash
# What the whole-file benchmarks share (sourced, not run): logging, the scratch directory,
# the machine's facts, making RDB files with a real server, timing a command (best of N,
# peak RSS), the page cache's state, and the table rows.
#
# The caller sets, before sourcing: ROOT, CACHE, PY, SERVER, CLI, BENCH_NAME (the log
# prefix), and after: GEN (the generator make_rdb runs), REPEAT, OUT (removed before each
# timed run).
# shellcheck shell=bash

calc() { awk "BEGIN { print $1 }"; }
log() { echo "${BENCH_NAME:-bench}: $*" >&2; }
die() { log "$*"; exit 1; }
mkdir -p "$CACHE"
WORK="$(mktemp -d "$CACHE/${BENCH_NAME:-bench}.XXXXXX")"
SERVER_PIDS=""
SERVER_PID=""
cleanup() {
    for p in $SERVER_PID $SERVER_PIDS; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
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

# --- machine facts ---------------------------------------------------------------
# Total and steal jiffies of all CPUs (steal: time the hypervisor gave to others).
cpu_stat() { awk '/^cpu / {t = 0; for (i = 2; i <= NF; i++) t += $i; print t, $9}' /proc/stat; }
read -r T0 S0 <<<"$(cpu_stat)"
# facts TITLE SETTINGS: the header of a run: date, machine, load, kernel, page cache, commit.
facts() {
    echo "== $1"
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
    echo "settings    $2"
    echo
}
# steal: the end of a run: the load then, and the CPU time the host took from this VM.
steal() {
    local t1 s1
    echo "load avg    $(cut -d' ' -f1-3 /proc/loadavg) (at the end)"
    read -r t1 s1 <<<"$(cpu_stat)"
    echo "cpu steal   $(calc "100 * ($s1 - $S0) / ($t1 - $T0)" | xargs printf '%.0f')% of this VM's CPU time was taken by the host during the run"
}

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

# timed LABEL CMD...: best of REPEAT runs (REPEAT overridable via TIMED_REPEAT, TIMEOUT via
# TIMED_TIMEOUT; PRE_RUN, if set, is run untimed before each run). Sets T_SEC, T_CPU (user + system CPU seconds of the best run: on a shared
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
        if [ -n "${PRE_RUN:-}" ]; then eval "$PRE_RUN"; fi
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
# pagecache.py read|written|drop FILE: drops FILE from the page cache and reads it back,
# with readahead (as a first read from disk: large folios) or without (small folios, as a
# write leaves them), or not at all (drop: the next read is from disk).
import os, sys
mode, path = sys.argv[1], sys.argv[2]
fd = os.open(path, os.O_RDONLY)
os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_RANDOM if mode == "written" else os.POSIX_FADV_SEQUENTIAL)
if mode == "drop":  # as a cold file: nothing of it cached
    sys.exit(0)
step = 16384 if mode == "written" else 1 << 20
while os.read(fd, step):
    pass
EOF
pagecache() { "$PY" "$WORK/pagecache.py" "$1" "$2"; }
warm() { WARM_FILE="$1"; pagecache read "$1"; }
div() { "$PY" -c "import sys; a, b = float(sys.argv[1]), float(sys.argv[2]); print('%.${3:-1}f' % (a / b) if b > 0 else '-')" "$1" "$2"; }

# bytes_of FILES: the bytes of the files (a space-separated list).
bytes_of() { local f n=0; for f in $1; do n=$((n + $(stat -c %s "$f"))); done; echo "$n"; }

# row FILES KEYS LABEL [COPIES]: prints one table line from T_* (for COPIES runs of FILES at
# once: their bytes and keys together).
row() {
    local file="$1" keys="$2" label="$3" copies="${4:-1}" size mbs kps mbc
    size="$(($(bytes_of "$file") * copies))"; keys="$((keys * copies))"
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
