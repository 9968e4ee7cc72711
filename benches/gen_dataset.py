#!/usr/bin/env python3
"""Writes Redis protocol (RESP) for a large, realistic, deterministic dataset to stdout.

Piped through `redis-cli --pipe` into a fresh redis-server by benches/whole-file.sh.

    gen_dataset.py mixed  --keys N --bytes B [--seed S]   # the realistic mix
    gen_dataset.py onelist --bytes B [--seed S]           # a single huge list

The mixed dataset: four databases (70/15/10/5 % of the keys); mostly small
strings (login:<hex>, cache:item:<id> integers, page:<id> compressible JSON)
and small hashes (user:<id>:profile), small lists, sets (intset and strings),
zsets; a few mid-size collections past the listpack limits (hashtable /
skiplist encodings); a few huge collections scaled with --keys (at 5 M keys: a
list of 2 M elements, a hash of 500 k fields, a zset of 300 k members, a set of
200 k members); big strings (4 MB random, 8 MB compressible); streams with
consumer groups and pending entries; absolute TTLs (PXAT / PEXPIREAT, far in
the future) on about 30 % of the keys. Same seed and parameters, same commands.
The size of the small values is chosen so that the RDB comes out near --bytes.
"""
import argparse
import random
import sys

OUT = sys.stdout.buffer
BUF = []
BUF_BYTES = 0
TTL_BASE = 4_000_000_000_000  # ms, year 2096: never expires while benchmarking


def flush(force=False):
    global BUF, BUF_BYTES
    if force or BUF_BYTES > (4 << 20):
        OUT.write(b"".join(BUF))
        BUF = []
        BUF_BYTES = 0


def emit(b):
    global BUF_BYTES
    BUF.append(b)
    BUF_BYTES += len(b)
    if BUF_BYTES > (4 << 20):
        flush()


def cmd(*args):
    parts = [b"*%d\r\n" % len(args)]
    for a in args:
        parts.append(b"$%d\r\n%s\r\n" % (len(a), a))
    emit(b"".join(parts))


def cmd_list(head, items):
    """head: list of bytes (e.g. [b'RPUSH', key]); items: list of bytes."""
    n = len(head) + len(items)
    parts = [b"*%d\r\n" % n]
    for a in head:
        parts.append(b"$%d\r\n%s\r\n" % (len(a), a))
    for a in items:
        parts.append(b"$%d\r\n%s\r\n" % (len(a), a))
    emit(b"".join(parts))


class Pool:
    """Deterministic random hex text; values are slices of it (fast)."""

    def __init__(self, rng, size=16 << 20):
        self.data = rng.randbytes(size // 2).hex().encode()
        self.n = len(self.data)
        self.rng = rng

    def take(self, length):
        o = self.rng.randrange(0, self.n - length)
        return self.data[o:o + length]


WORDS = [w.encode() for w in (
    "alpha beta gamma delta status active pending shipped user order item price "
    "currency EUR USD name email city country created updated tags true false null "
    "count total score level premium basic region eu-west us-east login token").split()]


def json_like(rng, length):
    """Compressible text (LZF-friendly), about `length` bytes."""
    out = [b"{"]
    n = 1
    while n < length:
        w = b'"%s":"%s-%d",' % (rng.choice(WORDS), rng.choice(WORDS), rng.randrange(1000))
        out.append(w)
        n += len(w)
    out.append(b"}")
    return b"".join(out)[:max(length, 2)]


def in_batches(items, size=1000):
    for i in range(0, len(items), size):
        yield items[i:i + size]


def mixed(keys, target_bytes, seed):
    rng = random.Random(seed)
    pool = Pool(rng)
    f = keys / 5_000_000  # scale of the huge collections

    # --- fixed-size part: huge collections, big strings, streams (db 0) ---
    fixed = 0
    cmd(b"SELECT", b"0")
    n = int(2_000_000 * f)
    for chunk_start in range(0, n, 1000):
        items = [b"job:%d:%s" % (i, pool.take(8)) for i in range(chunk_start, min(n, chunk_start + 1000))]
        cmd_list([b"RPUSH", b"queue:big:jobs"], items)
    fixed += n * 22
    n = int(500_000 * f)
    for s in range(0, n, 500):
        items = []
        for i in range(s, min(n, s + 500)):
            items.append(b"field:%d" % i)
            items.append(pool.take(24))
        cmd_list([b"HSET", b"hash:big:attributes"], items)
    fixed += n * 40
    n = int(300_000 * f)
    for s in range(0, n, 500):
        items = []
        for i in range(s, min(n, s + 500)):
            items.append(b"%d" % rng.randrange(10_000_000))
            items.append(b"player:%d" % i)
        cmd_list([b"ZADD", b"zset:big:leaderboard"], items)
    fixed += n * 25
    n = int(200_000 * f)
    for s in range(0, n, 1000):
        cmd_list([b"SADD", b"set:big:visitors"], [b"visitor:%s:%d" % (pool.take(8), j) for j in range(s, min(n, s + 1000))])
    fixed += n * 24
    for i in range(4):  # big random strings, stored raw
        cmd(b"SET", b"blob:random:%d" % i, pool.take(4 << 20))
        fixed += 4 << 20
    for i in range(2):  # big compressible strings, stored LZF
        cmd(b"SET", b"blob:json:%d" % i, json_like(rng, 8 << 20))
        fixed += 1 << 20
    # streams: 20 small ones, one big one, with groups and pending entries
    for s in range(21):
        name = b"stream:events:%d" % s
        entries = int((100_000 if s == 20 else 5_000) * f) + 10
        for e in range(entries):
            cmd(b"XADD", name, b"%d-%d" % (1_700_000_000_000 + e * 1000, e % 3),
                b"kind", rng.choice(WORDS), b"user", b"%d" % rng.randrange(1_000_000),
                b"payload", pool.take(20))
        fixed += entries * 40
        cmd(b"XGROUP", b"CREATE", name, b"readers", b"0")
        cmd(b"XGROUP", b"CREATE", name, b"audit", b"$")
        cmd(b"XREADGROUP", b"GROUP", b"readers", b"alice", b"COUNT", b"%d" % min(entries, 50),
            b"STREAMS", name, b">")
        cmd(b"XREADGROUP", b"GROUP", b"readers", b"bob", b"COUNT", b"5", b"STREAMS", name, b">")
        if s % 3 == 0:
            cmd(b"PEXPIREAT", name, b"%d" % (TTL_BASE + s))

    # --- the many small keys ---
    # Estimated RDB bytes per key as a function of the value scale L (fitted on
    # real files; see whole-file.sh's output for the real sizes).
    def est(L):
        return 0.80 * (0.38 * (28 + L) + 0.07 * 22 + 0.05 * (20 + 0.45 * L)
                + 0.25 * (60 + 6 * (L / 5 + 2)) + 0.05 * (30 + 3 * 12 + 2 * L)
                + 0.06 * (20 + 11 * (L / 4 + 2)) + 0.05 * (20 + 11 * 4) + 0.03 * (20 + 6 * (L / 4 + 2))
                + 0.05 * (20 + 11 * (14)) + 0.002 * (600 * 30) + 0.01 * 2)
    budget = max(target_bytes - fixed, keys * 40)
    lo, hi = 4.0, 100_000.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if est(mid) * keys < budget:
            lo = mid
        else:
            hi = mid
    L = max(8, int(lo))
    print("gen_dataset: value scale L=%d bytes, fixed part ~%d MB" % (L, fixed >> 20), file=sys.stderr)

    dbs = [(0, 0.70), (1, 0.15), (2, 0.10), (3, 0.05)]
    start = 0
    rnd = rng.random
    rr = rng.randrange
    take = pool.take
    for db, share in dbs:
        end = keys if db == 3 else start + int(keys * share)
        emit(b"*2\r\n$6\r\nSELECT\r\n$1\r\n%d\r\n" % db)
        for i in range(start, end):
            b = i % 100
            ttl = rnd() < 0.3
            if b < 38:
                key = b"login:%s%x" % (take(10), i)
                val = take(max(1, int(L * (0.5 + rnd()))))
                if ttl:
                    px = b"%d" % (TTL_BASE + i)
                    emit(b"*5\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n$4\r\nPXAT\r\n$%d\r\n%s\r\n"
                         % (len(key), key, len(val), val, len(px), px))
                else:
                    emit(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(key), key, len(val), val))
                continue
            if b < 45:
                key = b"cache:item:%d" % i
                cmd(b"SET", key, b"%d" % rr(-10**12, 10**12) if b & 1 else b"%d" % rr(10000))
            elif b < 50:
                key = b"page:%d:html" % i
                cmd(b"SET", key, json_like(rng, int(L * 1.0) + 24))
            elif b < 75:
                key = b"user:%d:profile" % i
                vl = max(1, L // 5)
                cmd(b"HSET", key, b"name", take(vl), b"email", take(vl) + b"@example.com",
                    b"age", b"%d" % (18 + i % 60), b"city", rng.choice(WORDS),
                    b"plan", b"premium" if b & 1 else b"basic", b"score", b"%d" % rr(100000))
            elif b < 80:
                key = b"order:%d" % i
                cmd(b"HSET", key, b"sku", b"A%d" % rr(100000), b"qty", b"%d" % rr(1, 9),
                    b"note", take(70 + L * 2))  # > 64 bytes: hashtable encoding
            elif b < 86:
                key = b"queue:%d" % i
                cmd_list([b"RPUSH", key], [take(max(1, L // 4)) for _ in range(3 + rr(18))])
            elif b < 91:
                key = b"tags:%d" % i
                cmd_list([b"SADD", key], [b"%d" % rr(100000) for _ in range(3 + rr(18))])
            elif b < 94:
                key = b"followers:%d" % i
                cmd_list([b"SADD", key], [take(max(1, L // 4)) for _ in range(3 + rr(8))])
            elif b < 99:
                key = b"rank:%d" % i
                items = []
                for j in range(3 + rr(18)):
                    items.append(b"%d" % rr(1000) if j & 1 else b"%.3f" % (rnd() * 100))
                    items.append(b"m%d" % j)
                cmd_list([b"ZADD", key], items)
            else:
                if i % 1000 == 999:  # mid-size collections past the listpack limits
                    if (i // 1000) & 1:
                        key = b"zset:mid:%d" % i
                        items = []
                        for j in range(600):
                            items.append(b"%d" % rr(100000))
                            items.append(b"member:%d" % j)
                        cmd_list([b"ZADD", key], items)
                    else:
                        key = b"hash:mid:%d" % i
                        items = []
                        for j in range(600):
                            items.append(b"f%d" % j)
                            items.append(take(16))
                        cmd_list([b"HSET", key], items)
                else:
                    key = b"counter:%d" % i
                    cmd(b"INCRBY", key, b"%d" % rr(1, 1 << 40))
            if ttl:
                px = b"%d" % (TTL_BASE + i)
                emit(b"*3\r\n$9\r\nPEXPIREAT\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(key), key, len(px), px))
        start = end
    flush(True)


def onelist(target_bytes, seed):
    rng = random.Random(seed)
    pool = Pool(rng)
    elem = 200
    # LZF saves ~17% on random hex in the RDB: 1.2x the elements to land near target_bytes.
    n = max(1, int(target_bytes * 1.2) // (elem + 2))
    emit(b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n")
    for s in range(0, n, 1000):
        cmd_list([b"RPUSH", b"list:huge"], [pool.take(elem) for _ in range(s, min(n, s + 1000))])
    cmd(b"SET", b"marker", b"1")
    flush(True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["mixed", "onelist"])
    ap.add_argument("--keys", type=int, default=5_000_000)
    ap.add_argument("--bytes", type=int, default=1 << 30)
    ap.add_argument("--seed", type=int, default=42)
    a = ap.parse_args()
    if a.mode == "mixed":
        mixed(a.keys, a.bytes, a.seed)
    else:
        onelist(a.bytes, a.seed)


if __name__ == "__main__":
    main()
