#!/usr/bin/env bash
# Regenerates testdata/sample.rdb with a real redis-server (Debian's 7.0 by
# default; REDIS_SERVER=/path/to/redis-server to use another). The dataset is
# fixed (no randomness): about 3,000 keys of every type over three databases,
# with TTLs, big keys and key prefixes, for the README's first command.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
server="${REDIS_SERVER:-/usr/bin/redis-server}"
cli="${REDIS_CLI:-/usr/bin/redis-cli}"
dir="$(mktemp -d)"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$server" --bind 127.0.0.1 --port "$port" --save "" --appendonly no --dir "$dir" --dbfilename dump.rdb \
    --daemonize no >"$dir/log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
for _ in $(seq 50); do "$cli" -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
r() { "$cli" -p "$port" "$@" >/dev/null; }
r eval "
local now = 1700000000000
for i = 1, 1500 do
  redis.call('SET', 'login:' .. i, 'token-' .. (i * 7919 % 100003))
  if i % 3 == 0 then redis.call('PEXPIREAT', 'login:' .. i, now * 2 + i * 1000) end
end
for i = 1, 600 do
  redis.call('HSET', 'user:' .. i .. ':profile', 'name', 'user' .. i, 'age', tostring(20 + i % 50), 'city', 'city' .. (i % 17))
end
for i = 1, 300 do
  redis.call('RPUSH', 'queue:' .. (i % 10), 'job-' .. i)
  redis.call('SADD', 'tags:' .. (i % 20), i)
  redis.call('ZADD', 'rank:' .. (i % 5), i * 1.5, 'player' .. i)
end
for i = 1, 10000 do redis.call('RPUSH', 'biglist', 'item-' .. i) end
for i = 1, 1200 do redis.call('HSET', 'bighash', 'field' .. i, string.rep('v', 20)) end
for i = 1, 1000 do redis.call('SADD', 'bigset', 'member' .. i) end
for i = 1, 1000 do redis.call('ZADD', 'bigzset', i, 'm' .. i) end
redis.call('SET', 'bigstring', string.rep('abcdefghij', 20000))
for i = 1, 50 do redis.call('XADD', 'events', i .. '-1', 'kind', 'click', 'n', tostring(i)) end
redis.call('XGROUP', 'CREATE', 'events', 'readers', '0')
redis.call('XREADGROUP', 'GROUP', 'readers', 'alice', 'COUNT', '5', 'STREAMS', 'events', '>')
redis.call('SET', 'counter', 12345)
return 1" 0
r -n 1 eval "for i = 1, 400 do redis.call('SET', 'cache:item:' .. i, string.rep('x', i)) redis.call('PEXPIREAT', 'cache:item:' .. i, 3000000000000 + i) end return 1" 0
r -n 2 eval "for i = 1, 100 do redis.call('HSET', 'order:' .. i, 'sku', 'A' .. i, 'qty', i) end return 1" 0
r save
cp "$dir/dump.rdb" "$here/sample.rdb"
echo "wrote $here/sample.rdb ($(wc -c <"$here/sample.rdb") bytes) with $("$server" --version)"
