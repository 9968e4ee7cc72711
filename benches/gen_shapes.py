#!/usr/bin/env python3
"""Writes Redis protocol for the file shapes of benches/shapes.sh to stdout.

    gen_shapes.py tiny    --keys N [--seed S]                    # N tiny keys
    gen_shapes.py bigvals --keys N --bytes B --big K [--seed S]  # the mix, plus K big values

tiny: strings under 32 bytes (97 %: short random text, integers, flags), and a
few small collections (3 %: hashes, sets, lists of 2-6 short elements), 20 %
with a TTL: a cache of counters and flags.

bigvals: gen_dataset.py's realistic mix of `keys` keys, plus K values of
1-4 MB (strings random and compressible, hashes, lists, sets and sorted sets
of 1-4 MB in all) spread through db 0, the shape that slows a parser whose
work is per byte inside a value rather than per key.
"""
import argparse
import random
import sys

import gen_dataset as g

TTL_BASE = g.TTL_BASE


def tiny(keys, seed):
    rng = random.Random(seed)
    pool = g.Pool(rng)
    rnd, rr, take = rng.random, rng.randrange, pool.take
    g.emit(b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n")
    for i in range(keys):
        b = i % 100
        if b < 60:
            key = b"t:%x" % i
            val = take(1 + rr(31))
        elif b < 85:
            key = b"n:%d" % i
            val = b"%d" % rr(-1_000_000, 1_000_000)
        elif b < 97:
            key = b"f:%d" % i
            val = b"1" if b & 1 else b"0"
        else:
            key = b"c:%d" % i
            items = [take(4 + rr(8)) for _ in range(2 + rr(5))]
            if b == 97:
                flat = []
                for j, v in enumerate(items):
                    flat += [b"k%d" % j, v]
                g.cmd_list([b"HSET", key], flat)
            elif b == 98:
                g.cmd_list([b"SADD", key], items)
            else:
                g.cmd_list([b"RPUSH", key], items)
            if rnd() < 0.2:
                g.cmd(b"PEXPIREAT", key, b"%d" % (TTL_BASE + i))
            continue
        if rnd() < 0.2:
            px = b"%d" % (TTL_BASE + i)
            g.emit(b"*5\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n$4\r\nPXAT\r\n$%d\r\n%s\r\n"
                   % (len(key), key, len(val), val, len(px), px))
        else:
            g.emit(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(key), key, len(val), val))
    g.flush(True)


def big_values(count, seed):
    """count values of 1-4 MB each, in db 0; returns their bytes."""
    rng = random.Random(seed + 1)
    pool = g.Pool(rng)
    total = 0
    g.cmd(b"SELECT", b"0")
    for i in range(count):
        size = rng.randrange(1 << 20, 4 << 20)
        total += size
        kind = i % 10
        if kind < 4:
            g.cmd(b"SET", b"big:blob:%d" % i, pool.take(size))
        elif kind < 6:
            g.cmd(b"SET", b"big:doc:%d" % i, g.json_like(rng, size))
        elif kind == 6:
            n = size // 64
            for s in range(0, n, 500):
                flat = []
                for j in range(s, min(n, s + 500)):
                    flat += [b"field:%d" % j, pool.take(48)]
                g.cmd_list([b"HSET", b"big:hash:%d" % i], flat)
        elif kind == 7:
            n = size // 100
            for s in range(0, n, 1000):
                g.cmd_list([b"RPUSH", b"big:list:%d" % i], [pool.take(100) for _ in range(s, min(n, s + 1000))])
        elif kind == 8:
            n = size // 40
            for s in range(0, n, 1000):
                g.cmd_list([b"SADD", b"big:set:%d" % i], [b"%s:%d" % (pool.take(30), j) for j in range(s, min(n, s + 1000))])
        else:
            n = size // 40
            for s in range(0, n, 500):
                flat = []
                for j in range(s, min(n, s + 500)):
                    flat += [b"%d" % rng.randrange(1 << 30), b"%s:%d" % (pool.take(24), j)]
                g.cmd_list([b"ZADD", b"big:zset:%d" % i], flat)
    g.flush(True)
    return total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["tiny", "bigvals"])
    ap.add_argument("--keys", type=int, default=10_000_000)
    ap.add_argument("--bytes", type=int, default=2_600_000_000)
    ap.add_argument("--big", type=int, default=100)
    ap.add_argument("--seed", type=int, default=42)
    a = ap.parse_args()
    if a.mode == "tiny":
        tiny(a.keys, a.seed)
    else:
        big = a.big * (5 << 19)  # the big values' expected bytes (2.5 MB each)
        g.mixed(a.keys, max(a.bytes - big, a.keys * 40), a.seed)
        print("gen_shapes: %d MB in %d big values" % (big_values(a.big, a.seed) >> 20, a.big), file=sys.stderr)


if __name__ == "__main__":
    main()
