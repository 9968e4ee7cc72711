//! Creating the test data: keys of every type in every encoding the server has, and the
//! check that the data really covers them.

use std::collections::{BTreeMap, BTreeSet};

use testkit::{cmd_args, Client, Reply};

use super::model::{Bytes, Cmd, Features, Snapshot, Val, FAR};
use super::report::show_cmd;

pub(super) struct Rng(u64);

impl Rng {
    pub(super) fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    pub(super) fn bytes(&mut self, n: usize) -> Bytes {
        (0..n).map(|_| self.next() as u8).collect()
    }
    pub(super) fn ascii(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| (b'!' + (self.next() % 90) as u8) as char)
            .collect()
    }
}

/// Stream entry ids of `stream:main`: three per millisecond.
pub(super) fn sid(i: usize) -> String {
    format!("{}-{}", 1_700_000_000_000u64 + (i / 3) as u64, i % 3)
}

/// Integers (and near-integers) covering every int encoding of strings, ziplists, listpacks.
pub(super) const INTS: [&str; 38] = [
    "0",
    "1",
    "-1",
    "12",
    "13",
    "63",
    "64",
    "127",
    "128",
    "-128",
    "-129",
    "255",
    "256",
    "4095",
    "4096",
    "-4096",
    "-4097",
    "32767",
    "32768",
    "-32768",
    "-32769",
    "8388607",
    "8388608",
    "-8388608",
    "-8388609",
    "2147483647",
    "2147483648",
    "-2147483648",
    "-2147483649",
    "4294967296",
    "9223372036854775807",
    "-9223372036854775808",
    "9223372036854775808",
    "007",
    "-0",
    "+1",
    "1.5",
    "12345678901",
];

pub(super) fn with_members(mut cmd: Cmd, items: impl IntoIterator<Item = impl AsRef<[u8]>>) -> Cmd {
    cmd.extend(items.into_iter().map(|x| x.as_ref().to_vec()));
    cmd
}

/// Fills the server; returns notes about optional features that could not be used.
pub(super) fn populate(c: &mut Client, f: &Features) -> Vec<String> {
    let mut notes = Vec::new();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let list_size = if f.v7 {
        "list-max-listpack-size"
    } else {
        "list-max-ziplist-size"
    };
    let mut cmds: Vec<Cmd> = Vec::new();

    // ---- db 0: strings
    cmds.push(cmd_args!["SELECT", "0"]);
    for (i, v) in INTS.iter().enumerate() {
        cmds.push(cmd_args!["SET", format!("str:int:{i:02}"), v]);
    }
    cmds.push(cmd_args!["SET", "str:embstr", "hello world"]);
    cmds.push(cmd_args!["SET", "str:raw:compressible", "x".repeat(100)]);
    cmds.push(cmd_args!["SET", "str:raw:incompressible", rng.ascii(200)]);
    cmds.push(cmd_args!["SET", "str:big:lzf", "abcdefghij".repeat(10_000)]);
    cmds.push(cmd_args!["SET", "str:big:random", rng.bytes(20_000)]);
    cmds.push(cmd_args![
        "SET",
        "str:binary",
        b"\x00\xff\xfe\x80binary\r\n\x00".to_vec()
    ]);
    cmds.push(cmd_args!["SET", "str:empty", ""]);
    cmds.push(cmd_args!["SET", "str:utf8", "héllo wörld ключ 🔑"]);
    cmds.push(cmd_args![
        "SET",
        "str:json-special",
        "quote\" backslash\\ tab\t nl\n ctrl\x01 del\x7f </script>"
    ]);
    cmds.push(cmd_args!["SET", "str:latin1", b"caf\xe9".to_vec()]);
    cmds.push(cmd_args!["SET", "", "the empty key"]);
    cmds.push(cmd_args!["SET", b"\xff\x00key".to_vec(), "binary key"]);
    cmds.push(cmd_args!["SET", "key with spaces\r\n", "v"]);
    cmds.push(cmd_args!["SET", "ключ🔑", "unicode key"]);
    for i in 0..1000 {
        cmds.push(cmd_args!["SET", format!("k:{i:04}"), format!("value-{i}")]);
    }

    // ---- lists
    cmds.push(with_members(cmd_args!["RPUSH", "list:small"], INTS));
    cmds.push(cmd_args![
        "RPUSH",
        "list:small",
        "a",
        "",
        "é",
        b"\xff\x00".to_vec()
    ]);
    cmds.push(cmd_args![
        "RPUSH",
        "list:strlens",
        "s".repeat(63),
        "t".repeat(64),
        rng.ascii(4095),
        rng.ascii(4096),
        rng.ascii(5000)
    ]);
    let big: Vec<String> = (0..3000)
        .map(|i| {
            if i % 7 == 0 {
                (i * 1000).to_string()
            } else {
                format!("item-{i}-{}", i % 13)
            }
        })
        .collect();
    cmds.push(with_members(cmd_args!["RPUSH", "list:big"], &big));
    // Quicklists with 4 entries per node, middle nodes LZF-compressed.
    cmds.push(cmd_args!["CONFIG", "SET", list_size, "4"]);
    cmds.push(cmd_args!["CONFIG", "SET", "list-compress-depth", "1"]);
    let nodes4: Vec<String> = (0..201)
        .map(|i| format!("node-element-{i:05}-aaaaaaaaaaaaaaaa"))
        .collect();
    cmds.push(with_members(cmd_args!["RPUSH", "list:nodes4"], &nodes4));
    cmds.push(cmd_args!["CONFIG", "SET", list_size, "-2"]);
    cmds.push(cmd_args!["CONFIG", "SET", "list-compress-depth", "2"]);
    let comp: Vec<String> = (0..3000).map(|i| format!("compressed-{i:06}")).collect();
    cmds.push(with_members(cmd_args!["RPUSH", "list:compressed"], &comp));
    cmds.push(cmd_args!["CONFIG", "SET", "list-compress-depth", "0"]);
    cmds.push(cmd_args!["LPUSH", "list:lpush", "c", "b", "a"]);

    // ---- sets
    cmds.push(cmd_args!["SADD", "set:int16", "1", "2", "3", "-5"]);
    cmds.push(cmd_args!["SADD", "set:int32", "1", "70000", "-70000"]);
    cmds.push(cmd_args![
        "SADD",
        "set:int64",
        "1",
        "4294967296",
        "-9223372036854775808",
        "9223372036854775807"
    ]);
    let ints400: Vec<String> = (0..400i64)
        .map(|i| (i * 7919 - 1_000_000).to_string())
        .collect();
    cmds.push(with_members(cmd_args!["SADD", "set:int:big"], &ints400));
    let ints600: Vec<String> = (0..600i64).map(|i| (i * 3 - 900).to_string()).collect();
    cmds.push(with_members(cmd_args!["SADD", "set:int:toobig"], &ints600));
    cmds.push(cmd_args![
        "SADD",
        "set:str:small",
        "a",
        "b",
        "c",
        "",
        "é",
        b"\xff\x00".to_vec(),
        "123abc"
    ]);
    cmds.push(cmd_args!["SADD", "set:mixed", "1", "2", "x"]);
    let members: Vec<String> = (0..300).map(|i| format!("member-{i}")).collect();
    cmds.push(with_members(cmd_args!["SADD", "set:big"], &members));
    cmds.push(cmd_args!["SADD", "set:long", "a", "m".repeat(100)]);

    // ---- sorted sets
    cmds.push(cmd_args![
        "ZADD",
        "zset:small",
        "inf",
        "a",
        "-inf",
        "b",
        "-1.5",
        "c",
        "0",
        "d",
        "0.1",
        "e",
        "1e300",
        "f",
        "3",
        "g",
        "12345678901234567",
        "h",
        "-1e-300",
        "i",
        "2.5",
        "",
        "7",
        b"\xff\x01".to_vec(),
        "-3",
        "neg"
    ]);
    let mut z = cmd_args!["ZADD", "zset:ints"];
    for i in 1..=10 {
        z.push(i.to_string().into_bytes());
        z.push(i.to_string().into_bytes());
    }
    cmds.push(z);
    let mut z = cmd_args!["ZADD", "zset:big", "inf", "top", "-inf", "bottom"];
    for i in 0..300 {
        z.push(format!("{}", i as f64 * 1.37 - 100.0).into_bytes());
        z.push(format!("zmember-{i}").into_bytes());
    }
    cmds.push(z);
    cmds.push(cmd_args![
        "ZADD",
        "zset:longmember",
        "1",
        "m".repeat(100),
        "2",
        "a"
    ]);

    // ---- hashes
    cmds.push(cmd_args![
        "HSET",
        "hash:small",
        "f1",
        "v1",
        "int",
        "123",
        "neg",
        "-5",
        "empty",
        "",
        b"\xff\xfe".to_vec(),
        b"\x00".to_vec(),
        "é",
        "ü",
        "big",
        "9223372036854775807"
    ]);
    let mut h = cmd_args!["HSET", "hash:big"];
    for i in 0..300 {
        h.push(format!("field-{i}").into_bytes());
        h.push(
            if i % 5 == 0 {
                i.to_string()
            } else {
                format!("value-{i}")
            }
            .into_bytes(),
        );
    }
    cmds.push(h);
    // 600 fields: a hashtable on 6.2 too (hash-max-ziplist-entries is 512 there).
    let mut h = cmd_args!["HSET", "hash:huge"];
    for i in 0..600 {
        h.push(format!("hugefield-{i}").into_bytes());
        h.push(i.to_string().into_bytes());
    }
    cmds.push(h);
    cmds.push(cmd_args![
        "HSET",
        "hash:longval",
        "a",
        "v".repeat(100),
        "b",
        "1"
    ]);
    if f.hfe {
        cmds.push(cmd_args![
            "HSET",
            "hash:ttl:small",
            "f1",
            "1",
            "f2",
            "two",
            "f3",
            "3",
            "f4",
            "four",
            "f5",
            ""
        ]);
        cmds.push(cmd_args![
            "HPEXPIREAT",
            "hash:ttl:small",
            (FAR + 1000).to_string(),
            "FIELDS",
            "2",
            "f1",
            "f2"
        ]);
        cmds.push(cmd_args![
            "HPEXPIREAT",
            "hash:ttl:small",
            (FAR + 2000).to_string(),
            "FIELDS",
            "1",
            "f5"
        ]);
        let mut h = cmd_args!["HSET", "hash:ttl:big"];
        for i in 0..300 {
            h.push(format!("hf-{i}").into_bytes());
            h.push(format!("hv-{i}").into_bytes());
        }
        cmds.push(h);
        for i in 0..10 {
            cmds.push(cmd_args![
                "HPEXPIREAT",
                "hash:ttl:big",
                (FAR + 10_000 + i * 7).to_string(),
                "FIELDS",
                "1",
                format!("hf-{}", i * 29)
            ]);
        }
        cmds.push(cmd_args!["HSET", "hash:ttl:keyttl", "a", "1", "b", "2"]);
        cmds.push(cmd_args![
            "HPEXPIREAT",
            "hash:ttl:keyttl",
            (FAR + 3000).to_string(),
            "FIELDS",
            "2",
            "a",
            "b"
        ]);
        cmds.push(cmd_args![
            "PEXPIREAT",
            "hash:ttl:keyttl",
            (FAR + 7).to_string()
        ]);
    }

    // ---- keys for --match
    cmds.push(cmd_args!["HSET", "user:1", "name", "alice", "age", "30"]);
    cmds.push(cmd_args!["SET", "user:2", "bob"]);
    cmds.push(cmd_args!["SADD", "user:3", "x", "y"]);
    cmds.push(cmd_args!["SET", "users", "no match"]);
    cmds.push(cmd_args!["SET", "user", "no match"]);
    cmds.push(cmd_args!["SET", "xuser:1", "no match"]);
    cmds.push(cmd_args!["SET", b"user:\xff\x00".to_vec(), "binary match"]);

    // ---- expiries on several types
    for (i, k) in [
        "str:embstr",
        "list:small",
        "set:str:small",
        "zset:small",
        "hash:small",
        "set:int:big",
        "zset:big",
    ]
    .iter()
    .enumerate()
    {
        cmds.push(cmd_args!["PEXPIREAT", k, (FAR + 1 + i as i64).to_string()]);
    }
    for i in 0..10 {
        cmds.push(cmd_args![
            "PEXPIREAT",
            format!("k:{i:04}"),
            (FAR + 100 + i).to_string()
        ]);
    }
    cmds.push(cmd_args![
        "PEXPIREAT",
        "str:int:05",
        (FAR + 200).to_string()
    ]);

    // ---- db 1
    cmds.push(cmd_args!["SELECT", "1"]);
    cmds.push(cmd_args!["HSET", "h1", "a", "1", "b", "2"]);
    cmds.push(cmd_args!["RPUSH", "l1", "x", "y", "z"]);
    cmds.push(cmd_args!["SADD", "s1", "p", "q"]);
    cmds.push(cmd_args!["ZADD", "z1", "1", "one", "2", "two"]);
    cmds.push(cmd_args!["SET", "ttl1", "expiring"]);
    cmds.push(cmd_args!["PEXPIREAT", "ttl1", (FAR + 300).to_string()]);
    cmds.push(cmd_args!["HSET", "user:10", "name", "carol"]);
    cmds.push(cmd_args!["RPUSH", "user:11", "1", "2"]);
    cmds.push(cmd_args!["SET", "k:0001", "same name as a db0 key"]);

    // ---- db 5
    cmds.push(cmd_args!["SELECT", "5"]);
    cmds.push(cmd_args!["SET", "user:50", "dave"]);
    cmds.push(cmd_args!["SET", "counter", "42"]);
    cmds.push(cmd_args!["ZADD", "zset:db5", "1.5", "m"]);

    // ---- db 15
    cmds.push(cmd_args!["SELECT", "15"]);
    cmds.push(cmd_args!["SET", "last", "db15"]);
    cmds.push(cmd_args!["PEXPIREAT", "last", (FAR + 400).to_string()]);
    cmds.push(cmd_args!["HSET", "h15", "x", "y"]);
    cmds.push(cmd_args!["SELECT", "0"]);
    c.pipeline_must(&cmds);

    // ---- plain quicklist nodes (7.0+): elements above the packed threshold get their own node.
    if f.v7 {
        match c.cmd(&["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "1000"]) {
            Ok(Reply::Status(_)) => {
                let head: Vec<String> = (0..600).map(|i| format!("plain-list-{i:05}")).collect();
                c.pipeline_must(&[
                    with_members(cmd_args!["RPUSH", "list:plain"], &head),
                    cmd_args![
                        "RPUSH",
                        "list:plain",
                        "x".repeat(3000),
                        "small",
                        rng.bytes(5000),
                        "tail"
                    ],
                    cmd_args!["LPUSH", "list:plain", "h".repeat(2000)],
                    cmd_args!["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "1073741824"],
                ]);
            }
            other => notes.push(format!(
                "DEBUG QUICKLIST-PACKED-THRESHOLD not available: {other:?}"
            )),
        }
    }

    // ---- streams
    populate_streams(c, f);

    // ---- functions (7.0+): a FUNCTION record in the RDB the parser must step over.
    if f.v7 {
        let code = "#!lua name=rdbscopelib\nredis.register_function('rdbscope_one', function(keys, args) return 1 end)";
        match c.cmd(&["FUNCTION", "LOAD", code]) {
            Ok(Reply::Bulk(_)) => {}
            other => notes.push(format!("FUNCTION LOAD failed: {other:?}")),
        }
    }

    // ---- modules (redis-stack)
    if f.modules {
        let module_cmds: Vec<Cmd> = vec![
            cmd_args![
                "JSON.SET",
                "json:1",
                "$",
                r#"{"a":1,"b":[1,2,3],"c":{"d":"x"},"e":null,"f":1.5}"#
            ],
            cmd_args!["JSON.SET", "json:ttl", "$", r#""a string""#],
            cmd_args!["PEXPIREAT", "json:ttl", (FAR + 500).to_string()],
            cmd_args!["BF.ADD", "bf:1", "a"],
            cmd_args!["BF.ADD", "bf:1", "b"],
            cmd_args!["BF.RESERVE", "bf:big", "0.001", "10000"],
            cmd_args!["BF.MADD", "bf:big", "x", "y", "z"],
            cmd_args!["CF.ADD", "cf:1", "a"],
            cmd_args!["TS.CREATE", "ts:1", "LABELS", "sensor", "s1"],
            cmd_args!["TS.ADD", "ts:1", "1000", "1.5"],
            cmd_args!["TS.ADD", "ts:1", "2000", "2.5"],
            cmd_args!["CMS.INITBYDIM", "cms:1", "100", "5"],
            cmd_args!["CMS.INCRBY", "cms:1", "a", "3"],
            cmd_args!["TOPK.RESERVE", "topk:1", "10"],
            cmd_args!["TOPK.ADD", "topk:1", "a", "b", "a"],
            cmd_args!["TDIGEST.CREATE", "td:1"],
            cmd_args!["TDIGEST.ADD", "td:1", "1", "2", "3"],
            cmd_args![
                "FT.CREATE",
                "idx",
                "ON",
                "HASH",
                "PREFIX",
                "1",
                "doc:",
                "SCHEMA",
                "title",
                "TEXT"
            ],
            cmd_args!["HSET", "doc:1", "title", "hello"],
            cmd_args!["HSET", "doc:2", "title", "world"],
        ];
        let replies = c.pipeline(&module_cmds).expect("module commands");
        for (cmd, r) in module_cmds.iter().zip(&replies) {
            if let Reply::Error(e) = r {
                notes.push(format!("{} -> -{e}", show_cmd(cmd)));
            }
        }
    }
    notes
}

pub(super) fn populate_streams(c: &mut Client, f: &Features) {
    let mut cmds: Vec<Cmd> = vec![cmd_args!["SELECT", "0"]];
    for i in 0..300usize {
        let id = sid(i);
        let cmd = match i % 10 {
            _ if i == 150 => {
                let mut cmd = cmd_args!["XADD", "stream:main", id];
                for j in 0..20 {
                    cmd.push(format!("wide-{j}").into_bytes());
                    cmd.push(j.to_string().into_bytes());
                }
                cmd
            }
            7 => cmd_args![
                "XADD",
                "stream:main",
                id,
                "other",
                i.to_string(),
                "extra",
                "x"
            ],
            8 => cmd_args![
                "XADD",
                "stream:main",
                id,
                "name",
                b"\xff\x00bin".to_vec(),
                "n",
                i.to_string()
            ],
            _ => cmd_args![
                "XADD",
                "stream:main",
                id,
                "name",
                format!("n{i}"),
                "n",
                i.to_string()
            ],
        };
        cmds.push(cmd);
    }
    // Exact trim: removes i = 0..39, partly inside the first node (deleted flags).
    cmds.push(cmd_args!["XTRIM", "stream:main", "MAXLEN", "260"]);
    cmds.push(cmd_args![
        "XDEL",
        "stream:main",
        sid(100),
        sid(101),
        sid(102),
        sid(200),
        sid(299)
    ]);
    cmds.push(cmd_args!["XGROUP", "CREATE", "stream:main", "g1", "0"]);
    cmds.push(cmd_args!["XGROUP", "CREATE", "stream:main", "g2", "$"]);
    if f.v7 {
        cmds.push(cmd_args![
            "XGROUP",
            "CREATE",
            "stream:main",
            "g3",
            sid(150),
            "ENTRIESREAD",
            "100"
        ]);
    }
    // alice gets 40..44, bob 45..47.
    cmds.push(cmd_args![
        "XREADGROUP",
        "GROUP",
        "g1",
        "alice",
        "COUNT",
        "5",
        "STREAMS",
        "stream:main",
        ">"
    ]);
    cmds.push(cmd_args![
        "XREADGROUP",
        "GROUP",
        "g1",
        "bob",
        "COUNT",
        "3",
        "STREAMS",
        "stream:main",
        ">"
    ]);
    cmds.push(cmd_args!["XACK", "stream:main", "g1", sid(41)]);
    cmds.push(cmd_args![
        "XCLAIM",
        "stream:main",
        "g1",
        "bob",
        "0",
        sid(42)
    ]);
    cmds.push(cmd_args![
        "XGROUP",
        "CREATECONSUMER",
        "stream:main",
        "g1",
        "carol"
    ]);
    cmds.push(cmd_args![
        "PEXPIREAT",
        "stream:main",
        (FAR + 600).to_string()
    ]);

    // Emptied stream: length 0, last id 5-2.
    cmds.push(cmd_args!["XADD", "stream:emptied", "5-1", "a", "1"]);
    cmds.push(cmd_args!["XADD", "stream:emptied", "5-2", "b", "2"]);
    cmds.push(cmd_args!["XDEL", "stream:emptied", "5-1", "5-2"]);
    if f.v7 {
        cmds.push(cmd_args![
            "XSETID",
            "stream:emptied",
            "9-9",
            "ENTRIESADDED",
            "42",
            "MAXDELETEDID",
            "5-2"
        ]);
    }
    // Empty stream that only holds a group.
    cmds.push(cmd_args![
        "XGROUP",
        "CREATE",
        "stream:emptygroup",
        "grp",
        "$",
        "MKSTREAM"
    ]);
    // Auto ids.
    for i in 0..3 {
        cmds.push(cmd_args!["XADD", "stream:auto", "*", "i", i.to_string()]);
    }
    // Another db.
    cmds.push(cmd_args!["SELECT", "5"]);
    cmds.push(cmd_args!["XADD", "db5:stream", "1-1", "a", "1"]);
    cmds.push(cmd_args!["XADD", "db5:stream", "1-2", "b", "2"]);
    cmds.push(cmd_args!["XADD", "db5:stream", "2-0", "c", "3"]);
    cmds.push(cmd_args!["XGROUP", "CREATE", "db5:stream", "gg", "0"]);
    cmds.push(cmd_args![
        "XREADGROUP",
        "GROUP",
        "gg",
        "c1",
        "COUNT",
        "1",
        "STREAMS",
        "db5:stream",
        ">"
    ]);
    cmds.push(cmd_args!["SELECT", "15"]);
    cmds.push(cmd_args!["XADD", "stream:db15", "7-7", "k", "v"]);
    cmds.push(cmd_args![
        "PEXPIREAT",
        "stream:db15",
        (FAR + 700).to_string()
    ]);
    cmds.push(cmd_args!["SELECT", "0"]);
    c.pipeline_must(&cmds);
}

/// The test data must actually contain what it claims to cover.
pub(super) fn coverage_problems(s: &Snapshot, f: &Features) -> Vec<String> {
    let mut p = Vec::new();
    let mut encs: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for kv in s.values() {
        encs.entry(kv.ty.as_str())
            .or_default()
            .insert(kv.encoding.as_deref().unwrap_or("?"));
    }
    let mut want: Vec<(&str, &str)> = vec![
        ("string", "int"),
        ("string", "embstr"),
        ("string", "raw"),
        ("list", "quicklist"),
        ("set", "intset"),
        ("set", "hashtable"),
        ("zset", "skiplist"),
        ("hash", "hashtable"),
        ("stream", "stream"),
    ];
    let lp = if f.v7 { "listpack" } else { "ziplist" };
    want.push(("zset", lp));
    want.push(("hash", lp));
    if f.v72 {
        want.push(("set", "listpack"));
        want.push(("list", "listpack"));
    }
    if f.hfe {
        let with_ttl = s
            .values()
            .filter(|kv| matches!(&kv.val, Val::Hash(h) if h.values().any(|v| v.1.is_some())))
            .count();
        if with_ttl < 3 {
            p.push(format!("only {with_ttl} hashes with field TTLs"));
        }
    }
    for (ty, enc) in want {
        if !encs.get(ty).is_some_and(|e| e.contains(enc)) {
            p.push(format!(
                "no {ty} with encoding {enc} on the server (have {:?})",
                encs.get(ty)
            ));
        }
    }
    if f.v7 && !s.contains_key(&(0, b"list:plain".to_vec())) {
        p.push("list:plain (plain quicklist nodes) was not created".into());
    }
    if f.modules && !s.values().any(|kv| matches!(kv.val, Val::Module { .. })) {
        p.push("no module values were created".into());
    }
    eprintln!("server encodings: {encs:?}");
    p
}
