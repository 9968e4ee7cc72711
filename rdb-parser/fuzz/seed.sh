#!/bin/sh
# Seeds the fuzz corpora (git-ignored) of every target, in
# rdb-parser/fuzz/corpus/<target>/ and jobsvc/fuzz/corpus/api/.
# Usage, from the repository root: rdb-parser/fuzz/seed.sh [RDB_CORPUS]
# (default: $RDB_CORPUS, else shared/rdb-corpus beside the repository).
set -eu
src=${1:-${RDB_CORPUS:-../shared/rdb-corpus}}
[ -d "$src" ] || { echo "no RDB corpus at $src" >&2; exit 1; }
out=rdb-parser/fuzz/corpus
mkdir -p "$out/parse" "$out/lzf" "$out/listpack" "$out/ziplist" "$out/intset_zipmap" "$out/writer"

# Every small RDB file, as is (parse), and its first 4 KiB behind a mode
# byte: LZF round trip (lzf, odd byte), container entries drawn from the
# bytes and framed entries (listpack, ziplist), built intsets and zipmaps
# (intset_zipmap), keys and values drawn from the bytes (writer).
find "$src" -name '*.rdb' -size -100k | sort | while read -r f; do
    n=$(echo "${f#"$src"/}" | tr / _)
    cp "$f" "$out/parse/$n"
done
find "$src" -name '*.rdb' -size -20k | sort | while read -r f; do
    n=$(echo "${f#"$src"/}" | tr / _)
    { printf '\001'; head -c 4096 "$f"; } > "$out/lzf/rt_$n"
    { printf '\002'; head -c 4096 "$f"; } > "$out/listpack/built_$n"
    { printf '\001'; head -c 4096 "$f"; } > "$out/listpack/framed_$n"
    { printf '\002'; head -c 4096 "$f"; } > "$out/ziplist/built_$n"
    { printf '\001'; head -c 4096 "$f"; } > "$out/ziplist/framed_$n"
    { printf '\001'; head -c 4096 "$f"; } > "$out/intset_zipmap/intset_$n"
    { printf '\003'; head -c 4096 "$f"; } > "$out/intset_zipmap/zipmap_$n"
    head -c 4096 "$f" > "$out/writer/$n"
done

# The API: one body of each kind (first byte: its index in BODIES), and
# ticket parameters of each type (first byte 200 + the type's index).
api=jobsvc/fuzz/corpus/api
mkdir -p "$api"
i=0
for b in \
    '{"type":"cleanup","params":{"app":"shop","patterns":[{"prefix":"login:"}],"rate":500},"idempotency_key":"k1","run_at":"2026-11-23T03:00:00Z"}' \
    '{"type":"migration","params":{"source":"shop","target":"shop2","patterns":[{"glob":"user:*"}],"conflict":"skip"}}' \
    '{"params":{"app":"shop","patterns":[{"prefix":"login:old:"}]}}' \
    '{"note":"ok","run_at":"2026-11-23T03:00:00+08:00"}' \
    '{"reason":"too big, run at night"}' \
    '{"run_at":"2026-11-23T03:00:00Z"}' \
    '{"conflict":"replace","rate":5000,"batch":200,"verify_percent":10.5,"wait_replicas":1,"wait_timeout_ms":100}' \
    '{"name":"shop","kind":"replicated","addr":"10.0.0.5:6379","user":null,"password":"secret","maintenance_window":"01:00-05:00"}' \
    '{"name":"alice","role":"submitter"}' \
    '{"role":"admin"}' \
    '{"name":"payments","lead":"carol","members":["alice"]}' \
    '{"lead":null}' \
    '{"team":"payments","tags":["production"],"approvers":["dba"]}' \
    '{"rules":[{"kind":"analysis","approvals":[]},{"name":"c","kind":"cleanup","tags":["production"],"min_risk":"high","keys_over":1000,"approvals":["team_lead","admin","user:bob"]}]}' \
    '{"stand_in":"dave","from":"2026-11-22T07:00:00Z","until":"2026-11-29"}' \
    '{"name":"shop-nightly","app":"shop","cron":"0 3 * * *","keep":7,"params":{"separators":":","top":20}}' \
    '{"cron":"30 2 * * 1-5","keep":14,"enabled":false}' \
    '{"events":["approved","rejected","failed"],"channel":"mail","address":"alice@example.com"}' \
    '{"name":"report.html"}' \
    '{"kind":"email","events":["*"],"smtp":{"host":"mail.example.com","port":25,"from":"rdbscope@example.com"}}'
do
    { printf "\\$(printf %03o "$i")"; printf '%s' "$b"; } > "$api/body_$i"
    i=$((i + 1))
done
i=200
for p in \
    '{"app":"shop","separators":":","prefix_depth":3,"top":50,"keys_table":true}' \
    '{"app":"shop","duration_secs":30,"method":"monitor"}' \
    '{"app":"shop","dbs":[0,1],"patterns":[{"prefix":"tmp:"},{"glob":"s*:[a-c]?"}],"type":"hash","ttl":"without","mode":"expire","expire_secs":[60,600],"dry_run":true}' \
    '{"source":{"app":"shop","method":"rdb"},"target":"shop2","write":"commands","verify_percent":5}' \
    '{"ticket":7,"conflict":"skip","rate":1000}'
do
    { printf "\\$(printf %03o "$i")"; printf '%s' "$p"; } > "$api/params_$i"
    i=$((i + 1))
done
for d in "$out"/* "$api"; do echo "$(ls "$d" | wc -l) seeds in $d"; done
