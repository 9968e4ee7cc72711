#!/usr/bin/env bash
# Two builds of rdbscope on the whole-file benchmark's file, their runs interleaved, so
# that a slower or busier moment of the machine falls on both alike: is a change within
# a few percent of the build before it?
#
#   benches/ab.sh BASE [NEW]     # BASE and NEW: git revisions (NEW defaults to the work
#                                # tree) or paths of rdbscope binaries
#
# A revision is built in a git worktree of this repository under testdata/cache/ab/
# (gitignored) with the same profile, its target directory seeded from this one's.
#
# Settings (environment):
#   BENCH_GB=1 BENCH_KEYS=5000000 BENCH_SEED=42   the file (the same cached file as
#                         whole-file.sh and shapes.sh (a); made once with a real server)
#   BENCH_REPEAT=11       rounds; each round runs BASE and NEW once per mode, in
#                         alternating order
#   BENCH_THREADS=nproc   BENCH_PROFILE=dist (what ships; `release` builds quicker)
#   REDIS_SERVER=/usr/bin/redis-server  REDIS_CLI=/usr/bin/redis-cli
#
# Per mode it prints each build's best and median wall seconds, the ratio of the
# medians, and the median of the rounds' own new/base ratios, of wall and of CPU
# time (timed to the millisecond).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="$ROOT/testdata/cache/bench"
PY="${PYTHON:-python3}"
SERVER="${REDIS_SERVER:-/usr/bin/redis-server}"
CLI="${REDIS_CLI:-/usr/bin/redis-cli}"
NPROC="$(nproc)"
THREADS="${BENCH_THREADS:-$NPROC}"
REPEAT="${BENCH_REPEAT:-11}"
SEED="${BENCH_SEED:-42}"
KEYS="${BENCH_KEYS:-5000000}"
BYTES="$("$PY" -c "print(int(float('${BENCH_GB:-1}') * 1e9))")"
PROFILE="${BENCH_PROFILE:-dist}"
[ $# -ge 1 ] && [ $# -le 2 ] || { sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }

BENCH_NAME=ab
# shellcheck source=benches/lib.sh
. "$ROOT/benches/lib.sh"
facts "two builds of rdbscope, interleaved" "BASE=$1 NEW=${2:-work tree} REPEAT=$REPEAT THREADS=$THREADS PROFILE=$PROFILE"

TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
# binary_of REV_OR_PATH: a path as is; a revision built in its own worktree.
binary_of() {
    if [ -x "$1" ] && [ -f "$1" ]; then echo "$1"; return; fi
    local rev dir
    rev="$(git -C "$ROOT" rev-parse --short "$1^{commit}")" || die "$1 is neither a binary nor a revision"
    dir="$ROOT/testdata/cache/ab/$rev"
    if [ ! -x "$dir/target/$PROFILE/rdbscope" ]; then
        log "building $rev ($PROFILE) in $(basename "$dir")"
        rm -rf "$dir/src"; mkdir -p "$dir"
        git -C "$ROOT" worktree add -f --detach "$dir/src" "$rev" >/dev/null
        if [ ! -d "$dir/target" ] && [ -d "$TARGET/$PROFILE" ]; then
            mkdir -p "$dir/target"; cp -a "$TARGET/$PROFILE" "$dir/target/"
        fi
        (cd "$dir/src" && CARGO_TARGET_DIR="$dir/target" cargo build --profile "$PROFILE" --quiet --bin rdbscope)
        git -C "$ROOT" worktree remove --force "$dir/src"
    fi
    echo "$dir/target/$PROFILE/rdbscope"
}
if [ $# = 2 ]; then NEW="$(binary_of "$2")"; else
    log "cargo build --profile $PROFILE (the work tree)"
    (cd "$ROOT" && cargo build --profile "$PROFILE" --quiet --bin rdbscope)
    NEW="$TARGET/$PROFILE/rdbscope"
fi
BASE="$(binary_of "$1")"

GEN="$ROOT/benches/gen_dataset.py"
FILE="$CACHE/mixed-k$KEYS-b$BYTES-s$SEED-g$(sha1sum "$GEN" | cut -c1-10)-r70.rdb"
make_rdb "$FILE" "$SERVER" mixed --keys "$KEYS" --bytes "$BYTES" --seed "$SEED"
describe "$FILE"
warm "$FILE"
OUT="$WORK/out"

# The timer: wall seconds and the child's CPU seconds (user + system), to the
# millisecond (`/usr/bin/time` gives hundredths, too coarse for a run of half a
# second and a gap of a few percent).
cat >"$WORK/timer.py" <<'PYEOF'
import resource, subprocess, sys, time
before = resource.getrusage(resource.RUSAGE_CHILDREN)
t0 = time.perf_counter()
with open(sys.argv[1], "wb") as err:
    rc = subprocess.call(sys.argv[2:], stdout=subprocess.DEVNULL, stderr=err)
wall = time.perf_counter() - t0
after = resource.getrusage(resource.RUSAGE_CHILDREN)
cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
print("%.3f %.3f" % (wall, cpu))
sys.exit(rc)
PYEOF
# one BIN ARGS...: one timed run (no sampler beside it); prints "wall cpu".
one() {
    rm -rf "$OUT"; cat "$FILE" >/dev/null
    "$PY" "$WORK/timer.py" "$WORK/err" "$@" \
        || die "$* failed: $(tail -n3 "$WORK/err" | tr '\n' ' ')"
}
# stats FILE COLUMN: "best median" of that column.
stats() { awk -v c="$2" '{print $c}' "$1" | sort -n | awk '{v[NR] = $1} END {m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%s %.3f", v[1], m}'; }

# paired FILE_BASE FILE_NEW COLUMN: the median of the rounds' new/base ratios
# (each round's two runs back to back, so a slower minute of the machine
# cancels out in its ratio).
paired() { paste "$1" "$2" | awk -v c="$3" '{print $(c + 2) / $c}' | sort -n | awk '{v[NR] = $1} END {m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.3f", m}'; }

printf '%-24s %10s %10s %10s %10s %9s %9s %9s\n' mode "base best" "new best" "base med" "new med" "new/base" "paired" "CPU pair"
for mode in keys nokeys; do
    extra=(); label="analyze (keys.parquet)"
    if [ "$mode" = nokeys ]; then extra=(--no-keys); label="analyze --no-keys"; fi
    : >"$WORK/base"; : >"$WORK/new"
    for r in $(seq "$REPEAT"); do
        for who in $( [ $((r % 2)) = 1 ] && echo "base new" || echo "new base"); do
            bin="$BASE"; [ "$who" = new ] && bin="$NEW"
            one "$bin" analyze "$FILE" --out "$OUT" --threads "$THREADS" "${extra[@]}" >>"$WORK/$who"
        done
    done
    read -r bb bm <<<"$(stats "$WORK/base" 1)"; read -r nb nm <<<"$(stats "$WORK/new" 1)"
    printf '%-24s %10s %10s %10s %10s %9s %9s %9s\n' "$label" "$bb" "$nb" "$bm" "$nm" "$(div "$nm" "$bm" 3)" \
        "$(paired "$WORK/base" "$WORK/new" 1)" "$(paired "$WORK/base" "$WORK/new" 2)"
    echo "  runs (wall s, CPU s): base $(tr '\n' ' ' <"$WORK/base")| new $(tr '\n' ' ' <"$WORK/new")"
done
steal
