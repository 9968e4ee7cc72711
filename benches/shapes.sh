#!/usr/bin/env bash
# Analysis speed on every file shape, side by side with HDT3213/rdb in the same run.
#
#   benches/shapes.sh                    # the full matrix (files made once, cached)
#   BENCH_QUICK=1 benches/shapes.sh      # small files: to try the script
#   BENCH_SHAPES="b d" benches/shapes.sh # some shapes only
#
# The shapes (issue 28):
#   a  the 1 GB, 5 M-key mix as SAVE writes it and `cp` leaves it in the page cache
#      (small folios), read right after the copy (each run copies it afresh, untimed)
#   b  10 M tiny keys (strings under 32 bytes, 3 % small collections)
#   c  2.6 GB: 100 values of 1-4 MB among 9 M keys
#   d  a 3-node fleet's three files in one run (a third of the keys each)
#   e  the 1 GB mix cold: dropped from the page cache before each run, read from this disk
# For each: `analyze` with keys.parquet, `--no-keys`, `info`, `dump --format jsonl`, and a
# plain read of the mapped files with as many threads (the machine's limit for any
# reader of this file in this state: rdb-parser's `touch` example). With BENCH_HDT3213,
# HDT3213/rdb's memory report (`-c memory -o CSV`) and JSON dump (`-c json`) on the same
# files in the same run. The targets of issue 28 are printed with each shape: met or
# missed, and by how much.
#
# Settings (environment):
#   BENCH_SHAPES="a b c d e"   BENCH_REPEAT=3   BENCH_THREADS=nproc   BENCH_SEED=42
#   BENCH_PROFILE=dist (what ships; `release` builds quicker)
#   BENCH_HDT3213=PATH    an HDT3213/rdb binary. It is a Go program whose modules this
#                         machine's registries do not serve, and the project commits no
#                         recipe that builds a fetched program, so the script takes a
#                         binary built by hand; without one, the peer columns say skipped.
#   BENCH_PEER_TIMEOUT=1800   seconds per peer run
#   REDIS_SERVER=/usr/bin/redis-server  REDIS_CLI=/usr/bin/redis-cli
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="$ROOT/testdata/cache/bench"
PY="${PYTHON:-python3}"
SERVER="${REDIS_SERVER:-/usr/bin/redis-server}"
CLI="${REDIS_CLI:-/usr/bin/redis-cli}"
SHAPES="${BENCH_SHAPES:-a b c d e}"
REPEAT="${BENCH_REPEAT:-3}"
NPROC="$(nproc)"
THREADS="${BENCH_THREADS:-$NPROC}"
SEED="${BENCH_SEED:-42}"
PEER_TIMEOUT="${BENCH_PEER_TIMEOUT:-1800}"
HDT="${BENCH_HDT3213:-}"
if [ "${BENCH_QUICK:-0}" = 1 ]; then
    MIX_KEYS=500000; MIX_BYTES=100000000; TINY_KEYS=1000000
    BIG_KEYS=700000; BIG_BYTES=260000000; BIG_VALUES=10
else
    MIX_KEYS=5000000; MIX_BYTES=1000000000; TINY_KEYS=10000000
    BIG_KEYS=9000000; BIG_BYTES=2600000000; BIG_VALUES=100
fi

BENCH_NAME=shapes
# shellcheck source=benches/lib.sh
. "$ROOT/benches/lib.sh"
facts "rdbscope on every file shape" "SHAPES=$SHAPES REPEAT=$REPEAT THREADS=$THREADS SEED=$SEED HDT3213=${HDT:+given}${HDT:-none} QUICK=${BENCH_QUICK:-0}"

# The mix comes from gen_dataset.py (the same file name, so the same cached file, as
# whole-file.sh); the other shapes from gen_shapes.py, named by both generators' hash.
MIX_HASH="$(sha1sum "$ROOT/benches/gen_dataset.py" | cut -c1-10)"
SHAPE_HASH="$(cat "$ROOT/benches/gen_dataset.py" "$ROOT/benches/gen_shapes.py" | sha1sum | cut -c1-10)"
mix_file() { # KEYS BYTES SEED
    GEN="$ROOT/benches/gen_dataset.py"
    local f="$CACHE/mixed-k$1-b$2-s$3-g$MIX_HASH-r70.rdb"
    make_rdb "$f" "$SERVER" mixed --keys "$1" --bytes "$2" --seed "$3"
    echo "$f"
}
shape_file() { # NAME GEN_ARGS...
    GEN="$ROOT/benches/gen_shapes.py"
    local f="$CACHE/shape-$1-s$SEED-g$SHAPE_HASH-r70.rdb"; shift
    make_rdb "$f" "$SERVER" "$@" --seed "$SEED"
    echo "$f"
}
export PYTHONPATH="$ROOT/benches${PYTHONPATH:+:$PYTHONPATH}"

PROFILE="${BENCH_PROFILE:-dist}"
log "cargo build --profile $PROFILE (rdbscope, and rdb-parser's touch example)"
(cd "$ROOT" && cargo build --profile "$PROFILE" --quiet --bin rdbscope \
    && cargo build --profile "$PROFILE" --quiet -p rdb-parser --example touch)
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
BIN="$TARGET/$PROFILE/rdbscope"
TOUCH="$TARGET/$PROFILE/examples/touch"
if [ -n "$HDT" ] && [ ! -x "$HDT" ]; then die "BENCH_HDT3213=$HDT is not an executable"; fi

OUT="$WORK/out"
SUMMARY=()

# $EACH FILES CMD...: CMD once per file, FILE last (for commands that read one file a run).
cat >"$WORK/each.sh" <<'EOF'
files="$1"; shift
for f in $files; do "$@" "$f" || exit 1; done
EOF
EACH=(bash "$WORK/each.sh")

# measure SHAPE LABEL FILES KEYS: the rows of one shape, then its targets.
measure() {
    local shape="$1" label="$2" files="$3" keys="$4" bytes f
    local a n info dump ceil hdt="" hdtj="" rss_max=0 r
    bytes="$(bytes_of "$files")"
    echo "== ($shape) $label"
    for f in $files; do describe "$f"; done
    header
    timed "analyze" "$BIN" analyze $files --out "$OUT" --threads "$THREADS"
    row "$files" "$keys" "analyze (keys.parquet)"; a="$T_SEC"; rss_max="$T_RSS_MB"
    timed "analyze nk" "$BIN" analyze $files --out "$OUT" --threads "$THREADS" --no-keys
    row "$files" "$keys" "analyze --no-keys"; n="$T_SEC"
    if [ "$(calc "($T_RSS_MB > $rss_max)")" = 1 ]; then rss_max="$T_RSS_MB"; fi
    timed "info" "${EACH[@]}" "$files" "$BIN" info --threads "$THREADS"
    row "$files" "$keys" "info (checksum verified)"; info="$T_SEC"
    timed "dump" "${EACH[@]}" "$files" "$BIN" dump --format jsonl --threads "$THREADS"
    row "$files" "$keys" "dump --format jsonl > /dev/null"; dump="$T_SEC"
    for r in "$T_RSS_MB"; do if [ "$(calc "($r > $rss_max)")" = 1 ]; then rss_max="$r"; fi; done
    timed "touch" "$TOUCH" --threads "$THREADS" $files
    row "$files" "$keys" "plain read of the mapped files"; ceil="$T_SEC"
    if [ -n "$HDT" ]; then
        TIMED_REPEAT=1 TIMED_TIMEOUT="$PEER_TIMEOUT" timed "hdt memory" "${EACH[@]}" "$files" "$HDT" -c memory -o "$WORK/hdt.csv"
        row "$files" "$keys" "HDT3213/rdb -c memory -o CSV"
        [ "$T_STATUS" = ok ] && hdt="$T_SEC"
        TIMED_REPEAT=1 TIMED_TIMEOUT="$PEER_TIMEOUT" timed "hdt json" "${EACH[@]}" "$files" "$HDT" -c json -o "$WORK/hdt.json"
        row "$files" "$keys" "HDT3213/rdb -c json"
        [ "$T_STATUS" = ok ] && hdtj="$T_SEC"
        rm -f "$WORK/hdt.csv" "$WORK/hdt.json"
    fi
    # The targets: >= 15x HDT3213's memory report with keys.parquet on every shape;
    # >= 1.5 GB/s with keys.parquet and >= 2.5 GB/s with --no-keys on (a)-(d); dump
    # >= 5x HDT3213's -c json; peak RSS <= 300 MB everywhere.
    local gbs_a gbs_n gbs_c line
    gbs_a="$(div "$bytes" "$(calc "$a * 1e9")" 2)"; gbs_n="$(div "$bytes" "$(calc "$n * 1e9")" 2)"
    gbs_c="$(div "$bytes" "$(calc "$ceil * 1e9")" 2)"
    line="($shape) keys.parquet $gbs_a GB/s, --no-keys $gbs_n GB/s (plain read $gbs_c GB/s)"
    if [ "$shape" != e ]; then
        echo "target      >= 1.5 GB/s with keys.parquet: $gbs_a ($( [ "$(calc "($gbs_a >= 1.5)")" = 1 ] && echo met || echo missed))"
        echo "target      >= 2.5 GB/s with --no-keys: $gbs_n ($( [ "$(calc "($gbs_n >= 2.5)")" = 1 ] && echo met || echo missed))"
    fi
    echo "limit       a plain read of the mapped files gives $gbs_c GB/s: keys.parquet runs at $(div "$ceil" "$a" 2) of it, --no-keys at $(div "$ceil" "$n" 2)"
    if [ -n "$hdt" ]; then
        echo "target      >= 15x HDT3213's memory report with keys.parquet: $(div "$hdt" "$a" 1)x ($( [ "$(calc "($hdt >= 15 * $a)")" = 1 ] && echo met || echo missed)); --no-keys $(div "$hdt" "$n" 1)x"
        line="$line, $(div "$hdt" "$a" 1)x HDT3213 with keys.parquet"
    else
        echo "target      x HDT3213: skipped (BENCH_HDT3213 names no binary of it)"
    fi
    if [ -n "$hdtj" ]; then
        echo "target      dump >= 5x HDT3213's -c json: $(div "$hdtj" "$dump" 1)x ($( [ "$(calc "($hdtj >= 5 * $dump)")" = 1 ] && echo met || echo missed))"
        line="$line, dump $(div "$hdtj" "$dump" 1)x"
    fi
    echo "target      peak RSS <= 300 MB (rdbscope's runs, the mapped pages included): $rss_max MB ($( [ "$(calc "($rss_max <= 300)")" = 1 ] && echo met || echo missed))"
    echo "            info $(div "$bytes" "$(calc "$info * 1e9")" 2) GB/s, dump $(div "$bytes" "$(calc "$dump * 1e9")" 2) GB/s"
    echo
    SUMMARY+=("$line, peak RSS $rss_max MB")
}

MIX=""
case " $SHAPES " in *" a "*|*" e "*) MIX="$(mix_file "$MIX_KEYS" "$MIX_BYTES" "$SEED")";; esac
for shape in $SHAPES; do
    WARM_FILE=""; PRE_RUN=""
    case "$shape" in
    a)
        COPY="$WORK/copy.rdb"; cp "$MIX.meta" "$COPY.meta"
        PRE_RUN="rm -f '$COPY'; cp '$MIX' '$COPY'"; eval "$PRE_RUN"
        measure a "as SAVE and cp leave it: small folios, read right after the copy" "$COPY" "$(meta "$MIX" keys)"
        rm -f "$COPY" ;;
    b)
        f="$(shape_file "tiny-k$TINY_KEYS" tiny --keys "$TINY_KEYS")"
        warm "$f"
        measure b "$TINY_KEYS tiny keys" "$f" "$(meta "$f" keys)" ;;
    c)
        f="$(shape_file "bigvals-k$BIG_KEYS-b$BIG_BYTES-v$BIG_VALUES" bigvals --keys "$BIG_KEYS" --bytes "$BIG_BYTES" --big "$BIG_VALUES")"
        warm "$f"
        measure c "$BIG_VALUES values of 1-4 MB among $BIG_KEYS keys" "$f" "$(meta "$f" keys)" ;;
    d)
        files=""; keys=0
        for node in 1 2 3; do
            f="$(mix_file "$((MIX_KEYS / 3))" "$((MIX_BYTES / 3))" "$((SEED + node))")"
            files="$files $f"; keys=$((keys + $(meta "$f" keys)))
            pagecache read "$f"
        done
        PRE_RUN="cat $files >/dev/null"
        measure d "a 3-node fleet's files in one run" "${files# }" "$keys" ;;
    e)
        PRE_RUN="pagecache drop '$MIX'"
        measure e "cold: dropped from the page cache, read from disk" "$MIX" "$(meta "$MIX" keys)" ;;
    *) die "unknown shape $shape (a b c d e)" ;;
    esac
done

echo "== summary"
for l in "${SUMMARY[@]}"; do echo "$l"; done
steal
