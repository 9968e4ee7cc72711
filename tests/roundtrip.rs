//! Round trips against real servers, one test per installed server kind.
//!
//! For each kind: start a server, create keys of every type in every encoding it has (small and
//! large variants, LZF strings, quicklists with many / compressed / plain nodes, intsets, set
//! listpacks, skiplists, stream groups with pending entries, TTLs, hash field TTLs, module values,
//! several dbs, binary keys), SAVE, then
//! 1. `rdbscope dump --format jsonl` must equal what the server answers for every key (SCAN of
//!    every db; TYPE, values, counts, PEXPIRETIME / PTTL, HPEXPIRETIME, XINFO STREAM FULL);
//! 2. `rdbscope info --json` key counts per db must equal DBSIZE;
//! 3. `--db`, `--match`, `--type` must select exactly the right lines;
//! 4. `rdbscope dump --format resp` piped into a fresh server of the same kind must rebuild the
//!    same data (also through `redis-cli --pipe`);
//! 5. bad files exit 1 with an "offset" in the message, bad usage exits 2.
//!
//! All problems are collected and reported together at the end (first few per check).

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value as Json;
use testkit::{cmd_args, require_server, Client, RedisServer, Reply, ServerBin, ServerKind};

type Bytes = Vec<u8>;
type Cmd = Vec<Vec<u8>>;

/// 2100-01-01T00:00:00Z in ms: key and field expiries that never fire during a test.
const FAR: i64 = 4_102_444_800_000;

#[test]
fn roundtrip_redis62() {
    roundtrip(ServerKind::Redis62);
}

#[test]
fn roundtrip_redis70() {
    roundtrip(ServerKind::Redis70);
}

#[test]
fn roundtrip_valkey9() {
    roundtrip(ServerKind::Valkey9);
}

#[test]
fn roundtrip_redis74stack() {
    roundtrip(ServerKind::Redis74Stack);
}

// ---------------------------------------------------------------------------------------------
// What the server can do
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug)]
struct Features {
    /// Redis 7.0+ / Valkey: listpack everywhere, PEXPIRETIME, stream v2 metadata, functions,
    /// plain quicklist nodes (DEBUG QUICKLIST-PACKED-THRESHOLD).
    v7: bool,
    /// Redis 7.2+ / Valkey: small sets of strings are listpacks; consumers have active-time.
    v72: bool,
    /// Hash field expiration (Redis 7.4+, Valkey 9+).
    hfe: bool,
    /// Modules loaded (redis-stack).
    modules: bool,
}

impl Features {
    fn of(bin: &ServerBin) -> Features {
        let mut it = bin
            .version()
            .split('.')
            .map(|s| s.parse::<u32>().unwrap_or(0));
        let major = it.next().unwrap_or(0);
        let minor = it.next().unwrap_or(0);
        let valkey = bin.kind == ServerKind::Valkey9;
        let v = (major, minor);
        Features {
            v7: major >= 7,
            v72: valkey || v >= (7, 2),
            hfe: if valkey { major >= 9 } else { v >= (7, 4) },
            modules: !bin.modules.is_empty(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Normalised key contents (from a server or from `rdbscope dump`)
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq)]
enum Val {
    Str(Bytes),
    List(Vec<Bytes>),
    Set(BTreeSet<Bytes>),
    ZSet(BTreeMap<Bytes, f64>),
    /// field -> (value, field expire-at ms)
    Hash(BTreeMap<Bytes, (Bytes, Option<i64>)>),
    Stream(Box<StreamVal>),
    /// Module type name; `DUMP` payload when read from a server.
    Module {
        name: String,
        dump: Option<Bytes>,
    },
}

impl Val {
    fn count(&self) -> usize {
        match self {
            Val::Str(b) => b.len(),
            Val::List(v) => v.len(),
            Val::Set(s) => s.len(),
            Val::ZSet(z) => z.len(),
            Val::Hash(h) => h.len(),
            Val::Stream(s) => s.entries.len(),
            Val::Module { .. } => 0,
        }
    }
}

/// In the `Option<Option<T>>` fields, the outer `None` means "this source cannot tell" (an
/// older server) and is not compared.
#[derive(Clone, Debug, PartialEq)]
struct StreamVal {
    length: i64,
    last_id: String,
    first_id: Option<Option<String>>,
    max_deleted_id: Option<Option<String>>,
    entries_added: Option<Option<i64>>,
    entries: Vec<(String, Vec<(Bytes, Bytes)>)>,
    groups: BTreeMap<Bytes, Group>,
}

#[derive(Clone, Debug, PartialEq)]
struct Group {
    last_id: String,
    entries_read: Option<Option<i64>>,
    /// (id, delivery time ms, delivery count), by id
    pending: Vec<(String, i64, i64)>,
    consumers: BTreeMap<Bytes, Consumer>,
}

#[derive(Clone, Debug, PartialEq)]
struct Consumer {
    seen_time: i64,
    active_time: Option<Option<i64>>,
    pending: Vec<String>,
}

#[derive(Clone, Debug)]
struct KeyVal {
    /// `TYPE` answer; module type name for module values.
    ty: String,
    /// `OBJECT ENCODING` (server) or the dump's `encoding`.
    encoding: Option<String>,
    expire: Option<i64>,
    val: Val,
}

type Snapshot = BTreeMap<(u32, Bytes), KeyVal>;

// ---------------------------------------------------------------------------------------------
// The test
// ---------------------------------------------------------------------------------------------

fn roundtrip(kind: ServerKind) {
    let Some(bin) = require_server(kind) else {
        return;
    };
    let f = Features::of(&bin);
    let mut rep = Report::new(kind);
    eprintln!("[{kind}] {} {} {f:?}", bin.path.display(), bin.version());

    // LRU / LFU policies make SAVE write IDLE / FREQ opcodes before every key.
    let policy = match kind {
        ServerKind::Redis70 | ServerKind::Valkey9 => "allkeys-lfu",
        _ => "allkeys-lru",
    };
    let orig = bin
        .start(&["--maxmemory-policy", policy])
        .expect("start server");
    let mut c = orig.client();
    let notes = populate(&mut c, &f);
    for n in &notes {
        eprintln!("[{kind}] note: {n}");
    }
    let rdb = orig.save();
    let rdb_bytes = std::fs::read(&rdb).expect("read dump.rdb");
    assert!(
        rdb_bytes.starts_with(kind.rdb_magic()),
        "{kind}: dump.rdb starts with {:?}",
        show(&rdb_bytes[..rdb_bytes.len().min(9)])
    );
    eprintln!(
        "[{kind}] dump.rdb: {} bytes, header {}",
        rdb_bytes.len(),
        show(&rdb_bytes[..rdb_bytes.len().min(9)])
    );

    let (mut expected, problems) = snapshot_server(&mut c, &f);
    rep.section("server snapshot (sanity of the test itself)", problems);
    let dbsizes = dbsizes(&mut c);
    eprintln!(
        "[{kind}] server: {} keys, per db {dbsizes:?}",
        expected.len()
    );
    rep.section(
        "test data covers every type",
        coverage_problems(&expected, &f),
    );
    // Control: the server itself reloading dump.rdb must compare equal, or the comparison is unsound.
    {
        let reloaded = bin
            .start_with_rdb(&rdb, &[])
            .expect("start server on dump.rdb");
        let (mut snap, _) = snapshot_server(&mut reloaded.client(), &f);
        // Some module types (TopK) do not DUMP the same bytes after a reload: compare those by
        // module name only from here on.
        for (k, kv) in expected.iter_mut() {
            if let (Val::Module { dump: d1, .. }, Some(Val::Module { dump: d2, .. })) =
                (&mut kv.val, snap.get_mut(k).map(|x| &mut x.val))
            {
                if d1 != d2 {
                    eprintln!(
                        "[{kind}] note: DUMP of db{} {} ({}) changes on reload; not compared",
                        k.0,
                        show(&k.1),
                        kv.ty
                    );
                    *d1 = None;
                    *d2 = None;
                }
            }
        }
        let o = CmpOpts {
            exp: "original",
            got: "reloaded",
            ttl_tol: ttl_tol(&f),
            times: true,
        };
        rep.section(
            "control: server reloaded from dump.rdb == original (test soundness)",
            diff_snapshots(&expected, &snap, &o, None),
        );
    }

    // 1. dump --format jsonl vs the server.
    let out = cli([
        OsStr::new("dump"),
        rdb.as_os_str(),
        OsStr::new("--format"),
        OsStr::new("jsonl"),
    ]);
    let mut full_lines: BTreeMap<(u32, Bytes), String> = BTreeMap::new();
    let mut dumped: Snapshot = BTreeMap::new();
    if !out.status.success() {
        rep.section("dump --format jsonl exits 0", vec![describe(&out)]);
    } else {
        let mut parsed = parse_jsonl(&out.stdout);
        if out.stdout.is_empty() {
            parsed.problems.push("no output at all".into());
        }
        rep.section(
            "dump jsonl: every line is a valid record per the spec",
            parsed.problems,
        );
        full_lines = parsed.lines;
        dumped = parsed.snapshot;
        rep.section(
            "dump jsonl == server (keys, types, values, counts, expiries, field TTLs, streams)",
            diff_snapshots(
                &expected,
                &dumped,
                &CmpOpts {
                    exp: "server",
                    got: "dump",
                    ttl_tol: ttl_tol(&f),
                    times: true,
                },
                None,
            ),
        );
        rep.section(
            "dump encodings distinguish what the server distinguishes",
            encoding_problems(&expected, &dumped),
        );
        eprintln!("[{kind}] dump encodings: {}", encoding_table(&dumped));
    }
    let enc_hint: BTreeMap<(u32, Bytes), String> = dumped
        .iter()
        .filter_map(|(k, v)| Some((k.clone(), v.encoding.clone()?)))
        .collect();

    // 2. info --json vs DBSIZE.
    rep.section(
        "info --json: key/expire counts per db == DBSIZE, per type, checksum, aux, modules, functions",
        info_problems(&rdb, &dbsizes, &expected, &f, bin.version()),
    );

    // 3. Filters.
    if !full_lines.is_empty() {
        rep.section(
            "filters --db / --match / --type",
            filter_problems(&rdb, &expected, &full_lines),
        );
    }

    // 4. RESP round trip into a fresh server of the same kind.
    let out = cli([
        OsStr::new("dump"),
        rdb.as_os_str(),
        OsStr::new("--format"),
        OsStr::new("resp"),
    ]);
    if !out.status.success() {
        rep.section("dump --format resp exits 0", vec![describe(&out)]);
    } else {
        let resp = out.stdout;
        let fresh = bin.start(&[]).expect("start fresh server");
        let problems = load_resp(&fresh, &resp, kind);
        rep.section("resp: every command accepted by a fresh server", problems);
        let (restored, problems) = snapshot_server(&mut fresh.client(), &f);
        rep.section("fresh server snapshot (sanity)", problems);
        rep.section(
            "resp round trip: fresh server == original server",
            diff_snapshots(
                &expected,
                &restored,
                &CmpOpts {
                    exp: "original",
                    got: "restored",
                    ttl_tol: ttl_tol(&f).max(1000),
                    times: false,
                },
                Some(&enc_hint),
            ),
        );
        drop(fresh);
        rep.section(
            "resp through redis-cli --pipe",
            redis_cli_pipe_problems(&bin, &resp, &dbsizes),
        );
    }

    // 5. Bad input and bad usage.
    rep.section(
        "bad files exit 1 with an offset; bad usage exits 2",
        bad_input_problems(&rdb_bytes, &rdb),
    );

    drop(c);
    drop(orig);
    rep.finish();
}

fn ttl_tol(f: &Features) -> i64 {
    // 6.2 has no PEXPIRETIME: expiries are reconstructed from PTTL.
    if f.v7 {
        0
    } else {
        2000
    }
}

// ---------------------------------------------------------------------------------------------
// Creating the data
// ---------------------------------------------------------------------------------------------

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn bytes(&mut self, n: usize) -> Bytes {
        (0..n).map(|_| self.next() as u8).collect()
    }
    fn ascii(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| (b'!' + (self.next() % 90) as u8) as char)
            .collect()
    }
}

/// Stream entry ids of `stream:main`: three per millisecond.
fn sid(i: usize) -> String {
    format!("{}-{}", 1_700_000_000_000u64 + (i / 3) as u64, i % 3)
}

/// Integers (and near-integers) covering every int encoding of strings, ziplists, listpacks.
const INTS: [&str; 38] = [
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

fn with_members(mut cmd: Cmd, items: impl IntoIterator<Item = impl AsRef<[u8]>>) -> Cmd {
    cmd.extend(items.into_iter().map(|x| x.as_ref().to_vec()));
    cmd
}

/// Fills the server; returns notes about optional features that could not be used.
fn populate(c: &mut Client, f: &Features) -> Vec<String> {
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

fn populate_streams(c: &mut Client, f: &Features) {
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
fn coverage_problems(s: &Snapshot, f: &Features) -> Vec<String> {
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

// ---------------------------------------------------------------------------------------------
// Reading a server
// ---------------------------------------------------------------------------------------------

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn db_count(c: &mut Client) -> u32 {
    c.must(&["CONFIG", "GET", "databases"])
        .into_pairs()
        .and_then(|p| p.first().and_then(|(_, v)| v.as_int()))
        .unwrap_or(16) as u32
}

fn dbsizes(c: &mut Client) -> BTreeMap<u32, u64> {
    let mut out = BTreeMap::new();
    for db in 0..db_count(c) {
        c.must(&cmd_args!["SELECT", db.to_string()]);
        let n = c.must(&["DBSIZE"]).as_int().unwrap_or(0) as u64;
        if n > 0 {
            out.insert(db, n);
        }
    }
    c.must(&["SELECT", "0"]);
    out
}

fn bulk(r: &Reply) -> Bytes {
    r.as_bytes().map(<[u8]>::to_vec).unwrap_or_default()
}

fn id_str(r: Option<&Reply>) -> String {
    r.and_then(Reply::as_str).unwrap_or("?").to_string()
}

/// "0-0" (never set) and nil both become `None`.
fn norm_id(s: Option<&str>) -> Option<String> {
    s.filter(|s| *s != "0-0").map(str::to_owned)
}

fn arr(r: Option<&Reply>) -> Vec<Reply> {
    r.cloned().and_then(Reply::into_array).unwrap_or_default()
}

/// Every key of every db, read back with plain commands. Also returns inconsistencies between the
/// count commands and the values read (a broken test, not a broken rdbscope).
fn snapshot_server(c: &mut Client, f: &Features) -> (Snapshot, Vec<String>) {
    let mut snap = Snapshot::new();
    let mut problems = Vec::new();
    for db in 0..db_count(c) {
        c.must(&cmd_args!["SELECT", db.to_string()]);
        let size = c.must(&["DBSIZE"]).as_int().unwrap_or(0);
        if size == 0 {
            continue;
        }
        let mut keys = BTreeSet::new();
        let mut cursor = b"0".to_vec();
        loop {
            let r = c
                .must(&cmd_args!["SCAN", cursor, "COUNT", "1000"])
                .into_array()
                .expect("SCAN reply");
            cursor = bulk(&r[0]);
            for k in r[1].as_array().unwrap_or_default() {
                keys.insert(bulk(k));
            }
            if cursor == b"0" {
                break;
            }
        }
        if keys.len() as i64 != size {
            problems.push(format!(
                "db{db}: SCAN found {} keys, DBSIZE says {size}",
                keys.len()
            ));
        }
        for key in keys {
            let kv = read_key(c, f, &key, &mut problems);
            snap.insert((db, key), kv);
        }
    }
    c.must(&["SELECT", "0"]);
    (snap, problems)
}

fn read_key(c: &mut Client, f: &Features, key: &[u8], problems: &mut Vec<String>) -> KeyVal {
    let ty = c
        .must(&cmd_args!["TYPE", key])
        .as_str()
        .unwrap_or("?")
        .to_string();
    let encoding = c
        .must(&cmd_args!["OBJECT", "ENCODING", key])
        .as_str()
        .map(str::to_owned);
    let expire = if f.v7 {
        Some(
            c.must(&cmd_args!["PEXPIRETIME", key])
                .as_int()
                .unwrap_or(-3),
        )
        .filter(|&t| t >= 0)
    } else {
        let t = c.must(&cmd_args!["PTTL", key]).as_int().unwrap_or(-3);
        (t >= 0).then(|| now_ms() + t)
    };
    let count_cmd = |name: &str| cmd_args![name, key];
    let (val, count) = match ty.as_str() {
        "string" => (
            Val::Str(bulk(&c.must(&cmd_args!["GET", key]))),
            c.must(&count_cmd("STRLEN")),
        ),
        "list" => {
            let v = c
                .must(&cmd_args!["LRANGE", key, "0", "-1"])
                .into_array()
                .unwrap_or_default();
            (
                Val::List(v.iter().map(bulk).collect()),
                c.must(&count_cmd("LLEN")),
            )
        }
        "set" => {
            let v = c
                .must(&cmd_args!["SMEMBERS", key])
                .into_array()
                .unwrap_or_default();
            (
                Val::Set(v.iter().map(bulk).collect()),
                c.must(&count_cmd("SCARD")),
            )
        }
        "zset" => {
            let v = c
                .must(&cmd_args!["ZRANGE", key, "0", "-1", "WITHSCORES"])
                .into_pairs()
                .unwrap_or_default();
            let z = v
                .iter()
                .map(|(m, s)| (bulk(m), s.as_f64().unwrap_or(f64::NAN)))
                .collect();
            (Val::ZSet(z), c.must(&count_cmd("ZCARD")))
        }
        "hash" => {
            let pairs = c
                .must(&cmd_args!["HGETALL", key])
                .into_pairs()
                .unwrap_or_default();
            let mut h: BTreeMap<Bytes, (Bytes, Option<i64>)> = pairs
                .iter()
                .map(|(k, v)| (bulk(k), (bulk(v), None)))
                .collect();
            if f.hfe && !h.is_empty() {
                let fields: Vec<Bytes> = h.keys().cloned().collect();
                let mut cmd = cmd_args!["HPEXPIRETIME", key, "FIELDS", fields.len().to_string()];
                cmd.extend(fields.iter().cloned());
                let ttls = c.must(&cmd).into_array().unwrap_or_default();
                for (field, t) in fields.iter().zip(ttls) {
                    if let Some(t) = t.as_int().filter(|&t| t >= 0) {
                        h.get_mut(field).expect("field").1 = Some(t);
                    }
                }
            }
            (Val::Hash(h), c.must(&count_cmd("HLEN")))
        }
        "stream" => (
            Val::Stream(Box::new(read_stream(c, f, key))),
            c.must(&count_cmd("XLEN")),
        ),
        other => {
            let dump = c.must(&cmd_args!["DUMP", key]);
            (
                Val::Module {
                    name: other.to_string(),
                    dump: Some(bulk(&dump)),
                },
                Reply::Int(0),
            )
        }
    };
    if count.as_int() != Some(val.count() as i64) {
        problems.push(format!(
            "{}: count command says {count:?}, read {} elements",
            show(key),
            val.count()
        ));
    }
    if let Val::Stream(s) = &val {
        if s.length != s.entries.len() as i64 {
            problems.push(format!(
                "{}: XINFO length {} but XRANGE {} entries",
                show(key),
                s.length,
                s.entries.len()
            ));
        }
    }
    KeyVal {
        ty,
        encoding,
        expire,
        val,
    }
}

fn read_stream(c: &mut Client, f: &Features, key: &[u8]) -> StreamVal {
    let entries = c
        .must(&cmd_args!["XRANGE", key, "-", "+"])
        .into_array()
        .unwrap_or_default()
        .into_iter()
        .map(|e| {
            let e = e.into_array().unwrap_or_default();
            let id = id_str(e.first());
            let fields = e
                .get(1)
                .cloned()
                .and_then(Reply::into_pairs)
                .unwrap_or_default()
                .iter()
                .map(|(k, v)| (bulk(k), bulk(v)))
                .collect();
            (id, fields)
        })
        .collect();
    let info = c.must(&cmd_args!["XINFO", "STREAM", key, "FULL", "COUNT", "0"]);
    let mut groups = BTreeMap::new();
    for g in arr(info.get_field("groups")) {
        let pending = arr(g.get_field("pending"))
            .iter()
            .map(|p| {
                let p = p.as_array().unwrap_or_default();
                let int = |i: usize| p.get(i).and_then(Reply::as_int).unwrap_or(-1);
                (id_str(p.first()), int(2), int(3))
            })
            .collect();
        let mut consumers = BTreeMap::new();
        for cons in arr(g.get_field("consumers")) {
            let pending = arr(cons.get_field("pending"))
                .iter()
                .map(|p| id_str(p.as_array().and_then(|a| a.first())))
                .collect();
            consumers.insert(
                cons.get_field("name").map(bulk).unwrap_or_default(),
                Consumer {
                    seen_time: cons
                        .get_field("seen-time")
                        .and_then(Reply::as_int)
                        .unwrap_or(-1),
                    active_time: if f.v72 {
                        Some(
                            cons.get_field("active-time")
                                .and_then(Reply::as_int)
                                .filter(|&t| t >= 0),
                        )
                    } else {
                        None
                    },
                    pending,
                },
            );
        }
        groups.insert(
            g.get_field("name").map(bulk).unwrap_or_default(),
            Group {
                last_id: id_str(g.get_field("last-delivered-id")),
                entries_read: g.get_field("entries-read").map(Reply::as_int),
                pending,
                consumers,
            },
        );
    }
    StreamVal {
        length: info
            .get_field("length")
            .and_then(Reply::as_int)
            .unwrap_or(-1),
        last_id: id_str(info.get_field("last-generated-id")),
        first_id: info
            .get_field("recorded-first-entry-id")
            .map(|r| norm_id(r.as_str())),
        max_deleted_id: info
            .get_field("max-deleted-entry-id")
            .map(|r| norm_id(r.as_str())),
        entries_added: info.get_field("entries-added").map(Reply::as_int),
        entries,
        groups,
    }
}

// ---------------------------------------------------------------------------------------------
// Reading `rdbscope dump --format jsonl`
// ---------------------------------------------------------------------------------------------

struct Parsed {
    snapshot: Snapshot,
    /// The raw line of every key, to check that filtered output repeats it verbatim.
    lines: BTreeMap<(u32, Bytes), String>,
    problems: Vec<String>,
}

fn parse_jsonl(out: &[u8]) -> Parsed {
    let mut p = Parsed {
        snapshot: Snapshot::new(),
        lines: BTreeMap::new(),
        problems: Vec::new(),
    };
    let text = match std::str::from_utf8(out) {
        Ok(t) => t,
        Err(e) => {
            p.problems.push(format!("output is not UTF-8: {e}"));
            return p;
        }
    };
    for (n, line) in text.lines().enumerate() {
        let n = n + 1;
        if line.trim().is_empty() {
            p.problems.push(format!("line {n}: empty line"));
            continue;
        }
        let j: Json = match serde_json::from_str(line) {
            Ok(j) => j,
            Err(e) => {
                p.problems
                    .push(format!("line {n}: not JSON ({e}): {}", trunc(line)));
                continue;
            }
        };
        let mut warn = Vec::new();
        match json_record(&j, &mut warn) {
            Ok((db, key, kv)) => {
                for w in warn {
                    p.problems
                        .push(format!("line {n} (db{db} {}): {w}", show(&key)));
                }
                if p.snapshot.contains_key(&(db, key.clone())) {
                    p.problems
                        .push(format!("line {n}: db{db} {} appears twice", show(&key)));
                }
                p.lines.insert((db, key.clone()), line.to_string());
                p.snapshot.insert((db, key), kv);
            }
            Err(e) => p.problems.push(format!("line {n}: {e}: {}", trunc(line))),
        }
    }
    p
}

fn b64decode(s: &str) -> Result<Bytes, String> {
    let s = s.as_bytes();
    if !s.len().is_multiple_of(4) {
        return Err(format!("base64 length {} is not a multiple of 4", s.len()));
    }
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let nchunks = s.len() / 4;
    let mut out = Vec::with_capacity(nchunks * 3);
    for (ci, chunk) in s.chunks(4).enumerate() {
        let pad = chunk.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 || (pad > 0 && ci + 1 != nchunks) {
            return Err("bad base64 padding".into());
        }
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            let v = if i >= 4 - pad {
                0
            } else {
                val(c).ok_or_else(|| format!("bad base64 byte {:?}", c as char))?
            };
            n = (n << 6) | v;
        }
        out.extend_from_slice(&[(n >> 16) as u8, (n >> 8) as u8, n as u8][..3 - pad]);
    }
    Ok(out)
}

/// A byte string: a JSON string, or `{"base64": ...}` for bytes that are not valid UTF-8.
fn jbytes(v: &Json, warn: &mut Vec<String>) -> Result<Bytes, String> {
    match v {
        Json::String(s) => Ok(s.as_bytes().to_vec()),
        Json::Object(m) if m.len() == 1 && m.get("base64").is_some_and(Json::is_string) => {
            let b = b64decode(m["base64"].as_str().unwrap_or_default())?;
            if std::str::from_utf8(&b).is_ok() {
                warn.push(format!("valid UTF-8 {} written as base64", show(&b)));
            }
            Ok(b)
        }
        other => Err(format!(
            "expected a string or {{\"base64\":..}}, got {}",
            trunc(&other.to_string())
        )),
    }
}

fn jarr<'a>(v: &'a Json, what: &str) -> Result<&'a Vec<Json>, String> {
    v.as_array()
        .ok_or_else(|| format!("{what}: expected an array, got {}", trunc(&v.to_string())))
}

fn jint(v: Option<&Json>, what: &str) -> Result<i64, String> {
    v.and_then(Json::as_i64)
        .ok_or_else(|| format!("{what}: expected an integer, got {v:?}"))
}

fn jopt_int(v: Option<&Json>, what: &str) -> Result<Option<i64>, String> {
    match v {
        None => Err(format!("{what}: missing")),
        Some(Json::Null) => Ok(None),
        Some(x) => x
            .as_i64()
            .map(Some)
            .ok_or_else(|| format!("{what}: expected an integer or null, got {x}")),
    }
}

fn jid(v: Option<&Json>, what: &str) -> Result<String, String> {
    let s = v
        .and_then(Json::as_str)
        .ok_or_else(|| format!("{what}: expected an id string, got {v:?}"))?;
    let ok = s
        .split_once('-')
        .is_some_and(|(a, b)| a.parse::<u64>().is_ok() && b.parse::<u64>().is_ok());
    if !ok {
        return Err(format!("{what}: {s:?} is not ms-seq"));
    }
    Ok(s.to_string())
}

fn jopt_id(v: Option<&Json>, what: &str) -> Result<Option<String>, String> {
    match v {
        None => Err(format!("{what}: missing")),
        Some(Json::Null) => Ok(None),
        Some(_) => Ok(norm_id(Some(&jid(v, what)?))),
    }
}

fn jscore(v: &Json) -> Result<f64, String> {
    match v {
        Json::Number(n) => n.as_f64().ok_or_else(|| format!("score {n}")),
        Json::String(s) if s == "inf" => Ok(f64::INFINITY),
        Json::String(s) if s == "-inf" => Ok(f64::NEG_INFINITY),
        Json::String(s) if s == "nan" => Ok(f64::NAN),
        other => Err(format!("bad score {other}")),
    }
}

fn json_record(j: &Json, warn: &mut Vec<String>) -> Result<(u32, Bytes, KeyVal), String> {
    let o = j.as_object().ok_or("not a JSON object")?;
    for f in ["db", "key", "type", "encoding", "expire_at_ms", "value"] {
        if !o.contains_key(f) {
            return Err(format!("missing field {f:?}"));
        }
    }
    let db = o["db"].as_u64().ok_or("db is not a number")? as u32;
    let key = jbytes(&o["key"], warn)?;
    let ty = o["type"].as_str().ok_or("type is not a string")?;
    let encoding = o["encoding"]
        .as_str()
        .ok_or("encoding is not a string")?
        .to_string();
    if encoding.is_empty() {
        warn.push("empty encoding".into());
    }
    let expire = jopt_int(o.get("expire_at_ms"), "expire_at_ms")?;
    let v = &o["value"];
    let (ty, val) = match ty {
        "string" => ("string".to_string(), Val::Str(jbytes(v, warn)?)),
        "list" => {
            let items = jarr(v, "list")?
                .iter()
                .map(|x| jbytes(x, warn))
                .collect::<Result<_, _>>()?;
            ("list".into(), Val::List(items))
        }
        "set" => {
            let items: Vec<Bytes> = jarr(v, "set")?
                .iter()
                .map(|x| jbytes(x, warn))
                .collect::<Result<_, _>>()?;
            let set: BTreeSet<Bytes> = items.iter().cloned().collect();
            if set.len() != items.len() {
                warn.push(format!(
                    "set has {} elements but {} distinct",
                    items.len(),
                    set.len()
                ));
            }
            ("set".into(), Val::Set(set))
        }
        "zset" => {
            let mut z = BTreeMap::new();
            for pair in jarr(v, "zset")? {
                let pair = jarr(pair, "zset element")?;
                if pair.len() != 2 {
                    return Err(format!("zset element of {} items", pair.len()));
                }
                if z.insert(jbytes(&pair[0], warn)?, jscore(&pair[1])?)
                    .is_some()
                {
                    warn.push("duplicate zset member".into());
                }
            }
            ("zset".into(), Val::ZSet(z))
        }
        "hash" => {
            let mut h = BTreeMap::new();
            for item in jarr(v, "hash")? {
                let item = jarr(item, "hash field")?;
                let ttl = match item.len() {
                    2 => None,
                    3 => Some(jint(item.get(2), "field expire")?),
                    n => return Err(format!("hash field entry of {n} items")),
                };
                if h.insert(jbytes(&item[0], warn)?, (jbytes(&item[1], warn)?, ttl))
                    .is_some()
                {
                    warn.push("duplicate hash field".into());
                }
            }
            ("hash".into(), Val::Hash(h))
        }
        "stream" => (
            "stream".into(),
            Val::Stream(Box::new(json_stream(v, warn)?)),
        ),
        "module" => {
            let m = v.as_object().ok_or("module value is not an object")?;
            let name = m
                .get("module")
                .and_then(Json::as_str)
                .ok_or("module name missing")?
                .to_string();
            if !m.get("encver").is_some_and(Json::is_u64) {
                warn.push(format!(
                    "module encver is not a number: {:?}",
                    m.get("encver")
                ));
            }
            if m.get("rdb_bytes")
                .and_then(Json::as_u64)
                .is_none_or(|n| n == 0)
            {
                warn.push(format!(
                    "module rdb_bytes is not a positive number: {:?}",
                    m.get("rdb_bytes")
                ));
            }
            (name.clone(), Val::Module { name, dump: None })
        }
        other => return Err(format!("unknown type {other:?}")),
    };
    Ok((
        db,
        key,
        KeyVal {
            ty,
            encoding: Some(encoding),
            expire,
            val,
        },
    ))
}

fn json_stream(v: &Json, warn: &mut Vec<String>) -> Result<StreamVal, String> {
    let o = v.as_object().ok_or("stream value is not an object")?;
    let mut entries = Vec::new();
    for e in jarr(o.get("entries").unwrap_or(&Json::Null), "entries")? {
        let id = jid(e.get("id"), "entry id")?;
        let mut fields = Vec::new();
        for fv in jarr(e.get("fields").unwrap_or(&Json::Null), "entry fields")? {
            let fv = jarr(fv, "entry field")?;
            if fv.len() != 2 {
                return Err(format!("entry {id}: field pair of {} items", fv.len()));
            }
            fields.push((jbytes(&fv[0], warn)?, jbytes(&fv[1], warn)?));
        }
        entries.push((id, fields));
    }
    let mut groups = BTreeMap::new();
    for g in jarr(o.get("groups").unwrap_or(&Json::Null), "groups")? {
        let name = jbytes(g.get("name").unwrap_or(&Json::Null), warn)?;
        let mut pending = Vec::new();
        for p in jarr(g.get("pending").unwrap_or(&Json::Null), "group pending")? {
            pending.push((
                jid(p.get("id"), "pending id")?,
                jint(p.get("delivery_time_ms"), "delivery_time_ms")?,
                jint(p.get("delivery_count"), "delivery_count")?,
            ));
        }
        let mut consumers = BTreeMap::new();
        for cons in jarr(g.get("consumers").unwrap_or(&Json::Null), "consumers")? {
            let pending = jarr(
                cons.get("pending").unwrap_or(&Json::Null),
                "consumer pending",
            )?
            .iter()
            .map(|x| jid(Some(x), "consumer pending id"))
            .collect::<Result<_, _>>()?;
            consumers.insert(
                jbytes(cons.get("name").unwrap_or(&Json::Null), warn)?,
                Consumer {
                    seen_time: jint(cons.get("seen_time_ms"), "seen_time_ms")?,
                    active_time: Some(
                        jopt_int(cons.get("active_time_ms"), "active_time_ms")?.filter(|&t| t >= 0),
                    ),
                    pending,
                },
            );
        }
        groups.insert(
            name,
            Group {
                last_id: jid(g.get("last_id"), "group last_id")?,
                entries_read: Some(jopt_int(g.get("entries_read"), "entries_read")?),
                pending,
                consumers,
            },
        );
    }
    Ok(StreamVal {
        length: jint(o.get("length"), "length")?,
        last_id: jid(o.get("last_id"), "last_id")?,
        first_id: Some(jopt_id(o.get("first_id"), "first_id")?),
        max_deleted_id: Some(jopt_id(o.get("max_deleted_id"), "max_deleted_id")?),
        entries_added: Some(jopt_int(o.get("entries_added"), "entries_added")?),
        entries,
        groups,
    })
}

// ---------------------------------------------------------------------------------------------
// Comparing
// ---------------------------------------------------------------------------------------------

struct CmpOpts {
    exp: &'static str,
    got: &'static str,
    /// Allowed difference of expiry times (ms).
    ttl_tol: i64,
    /// Compare consumer seen/active times (not reproducible through RESP).
    times: bool,
}

fn same_f64(a: f64, b: f64) -> bool {
    if a.is_nan() || b.is_nan() {
        return a.is_nan() && b.is_nan();
    }
    // Exact, or within 2 ulps (JSON float parsing need not be correctly rounded).
    a == b
        || (a.is_finite()
            && b.is_finite()
            && (a - b).abs() <= 2.0 * f64::EPSILON * a.abs().max(b.abs()))
}

fn same_ttl(a: Option<i64>, b: Option<i64>, tol: i64) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(x), Some(y)) => (x - y).abs() <= tol,
        _ => false,
    }
}

fn diff_snapshots(
    exp: &Snapshot,
    got: &Snapshot,
    o: &CmpOpts,
    rdb_enc: Option<&BTreeMap<(u32, Bytes), String>>,
) -> Vec<String> {
    let mut out = Vec::new();
    let only_exp: Vec<_> = exp.keys().filter(|k| !got.contains_key(*k)).collect();
    let only_got: Vec<_> = got.keys().filter(|k| !exp.contains_key(*k)).collect();
    if !only_exp.is_empty() {
        out.push(format!(
            "{} keys only in {}: {}",
            only_exp.len(),
            o.exp,
            only_exp
                .iter()
                .take(15)
                .map(|(db, k)| format!("db{db} {}", show(k)))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if !only_got.is_empty() {
        out.push(format!(
            "{} keys only in {}: {}",
            only_got.len(),
            o.got,
            only_got
                .iter()
                .take(15)
                .map(|(db, k)| format!("db{db} {}", show(k)))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    for (id, a) in exp {
        let Some(b) = got.get(id) else { continue };
        let mut encs = format!(
            "{} enc {}, {} enc {}",
            o.exp,
            a.encoding.as_deref().unwrap_or("?"),
            o.got,
            b.encoding.as_deref().unwrap_or("?")
        );
        if let Some(e) = rdb_enc.and_then(|m| m.get(id)) {
            let _ = write!(encs, ", rdb enc {e}");
        }
        let p = format!("db{} {} [{}; {encs}]", id.0, show(&id.1), a.ty);
        if a.ty != b.ty {
            out.push(format!(
                "{p}: type {} {:?} vs {} {:?}",
                o.exp, a.ty, o.got, b.ty
            ));
            continue;
        }
        if !same_ttl(a.expire, b.expire, o.ttl_tol) {
            out.push(format!(
                "{p}: expire_at_ms {} {:?} vs {} {:?}",
                o.exp, a.expire, o.got, b.expire
            ));
        }
        if a.val.count() != b.val.count() {
            out.push(format!(
                "{p}: count {} {} vs {} {}",
                o.exp,
                a.val.count(),
                o.got,
                b.val.count()
            ));
        }
        diff_val(&p, &a.val, &b.val, o, &mut out);
    }
    out
}

fn first_diff<T: PartialEq>(a: &[T], b: &[T]) -> Option<usize> {
    (0..a.len().max(b.len())).find(|&i| a.get(i) != b.get(i))
}

fn diff_val(p: &str, a: &Val, b: &Val, o: &CmpOpts, out: &mut Vec<String>) {
    let (e, g) = (o.exp, o.got);
    match (a, b) {
        (Val::Str(x), Val::Str(y)) => {
            if x != y {
                let i = first_diff(x, y).unwrap_or(0);
                out.push(format!(
                    "{p}: string differs at byte {i} (lengths {} / {}): {e} {} vs {g} {}",
                    x.len(),
                    y.len(),
                    show(&x[i.min(x.len())..]),
                    show(&y[i.min(y.len())..])
                ));
            }
        }
        (Val::List(x), Val::List(y)) => {
            if let Some(i) = first_diff(x, y) {
                out.push(format!(
                    "{p}: list differs at index {i} (lengths {} / {}): {e} {} vs {g} {}",
                    x.len(),
                    y.len(),
                    x.get(i).map_or("<none>".into(), |v| show(v)),
                    y.get(i).map_or("<none>".into(), |v| show(v))
                ));
            }
        }
        (Val::Set(x), Val::Set(y)) => {
            let miss: Vec<String> = x.difference(y).take(5).map(|m| show(m)).collect();
            let extra: Vec<String> = y.difference(x).take(5).map(|m| show(m)).collect();
            if !miss.is_empty() || !extra.is_empty() {
                out.push(format!(
                    "{p}: set members only in {e}: {miss:?}; only in {g}: {extra:?}"
                ));
            }
        }
        (Val::ZSet(x), Val::ZSet(y)) => {
            let mut bad = Vec::new();
            for (m, s) in x {
                match y.get(m) {
                    None => bad.push(format!("{} missing in {g}", show(m))),
                    Some(t) if !same_f64(*s, *t) => {
                        bad.push(format!("{} score {e} {s:?} vs {g} {t:?}", show(m)))
                    }
                    _ => {}
                }
            }
            bad.extend(
                y.keys()
                    .filter(|m| !x.contains_key(*m))
                    .map(|m| format!("{} only in {g}", show(m))),
            );
            if !bad.is_empty() {
                out.push(format!(
                    "{p}: zset: {} (of {} problems)",
                    bad[..bad.len().min(5)].join("; "),
                    bad.len()
                ));
            }
        }
        (Val::Hash(x), Val::Hash(y)) => {
            let mut bad = Vec::new();
            for (fld, (v, t)) in x {
                match y.get(fld) {
                    None => bad.push(format!("field {} missing in {g}", show(fld))),
                    Some((v2, t2)) => {
                        if v != v2 {
                            bad.push(format!(
                                "field {} value {e} {} vs {g} {}",
                                show(fld),
                                show(v),
                                show(v2)
                            ));
                        }
                        if !same_ttl(*t, *t2, o.ttl_tol) {
                            bad.push(format!(
                                "field {} expire {e} {t:?} vs {g} {t2:?}",
                                show(fld)
                            ));
                        }
                    }
                }
            }
            bad.extend(
                y.keys()
                    .filter(|f| !x.contains_key(*f))
                    .map(|f| format!("field {} only in {g}", show(f))),
            );
            if !bad.is_empty() {
                out.push(format!(
                    "{p}: hash: {} (of {} problems)",
                    bad[..bad.len().min(5)].join("; "),
                    bad.len()
                ));
            }
        }
        (Val::Stream(x), Val::Stream(y)) => diff_stream(p, x, y, o, out),
        (Val::Module { name: n1, dump: d1 }, Val::Module { name: n2, dump: d2 }) => {
            if n1 != n2 {
                out.push(format!("{p}: module {e} {n1} vs {g} {n2}"));
            }
            if let (Some(d1), Some(d2)) = (d1, d2) {
                if d1 != d2 {
                    out.push(format!(
                        "{p}: module DUMP payload differs ({} / {} bytes; first difference at {:?})",
                        d1.len(),
                        d2.len(),
                        first_diff(d1, d2)
                    ));
                }
            }
        }
        _ => out.push(format!("{p}: value kinds differ: {e} {a:?} vs {g} {b:?}")),
    }
}

fn cmp_opt<T: PartialEq + std::fmt::Debug>(
    p: &str,
    what: &str,
    a: &Option<T>,
    b: &Option<T>,
    o: &CmpOpts,
    out: &mut Vec<String>,
) {
    if let (Some(x), Some(y)) = (a, b) {
        if x != y {
            out.push(format!("{p}: {what} {} {x:?} vs {} {y:?}", o.exp, o.got));
        }
    }
}

fn diff_stream(p: &str, a: &StreamVal, b: &StreamVal, o: &CmpOpts, out: &mut Vec<String>) {
    let (e, g) = (o.exp, o.got);
    if a.length != b.length {
        out.push(format!(
            "{p}: stream length {e} {} vs {g} {}",
            a.length, b.length
        ));
    }
    if a.last_id != b.last_id {
        out.push(format!(
            "{p}: last_id {e} {} vs {g} {}",
            a.last_id, b.last_id
        ));
    }
    cmp_opt(p, "first_id", &a.first_id, &b.first_id, o, out);
    cmp_opt(
        p,
        "max_deleted_id",
        &a.max_deleted_id,
        &b.max_deleted_id,
        o,
        out,
    );
    cmp_opt(
        p,
        "entries_added",
        &a.entries_added,
        &b.entries_added,
        o,
        out,
    );
    if let Some(i) = first_diff(&a.entries, &b.entries) {
        let sh = |x: Option<&(String, Vec<(Bytes, Bytes)>)>| {
            x.map_or("<none>".to_string(), |(id, f)| {
                format!(
                    "{id} {:?}",
                    f.iter()
                        .take(4)
                        .map(|(k, v)| (show(k), show(v)))
                        .collect::<Vec<_>>()
                )
            })
        };
        out.push(format!(
            "{p}: entries differ at index {i} ({} / {} entries): {e} {} vs {g} {}",
            a.entries.len(),
            b.entries.len(),
            sh(a.entries.get(i)),
            sh(b.entries.get(i))
        ));
    }
    let names = |m: &BTreeMap<Bytes, Group>| m.keys().map(|k| show(k)).collect::<Vec<_>>();
    if a.groups.keys().ne(b.groups.keys()) {
        out.push(format!(
            "{p}: groups {e} {:?} vs {g} {:?}",
            names(&a.groups),
            names(&b.groups)
        ));
    }
    for (name, ga) in &a.groups {
        let Some(gb) = b.groups.get(name) else {
            continue;
        };
        let gp = format!("{p} group {}", show(name));
        if ga.last_id != gb.last_id {
            out.push(format!(
                "{gp}: last_id {e} {} vs {g} {}",
                ga.last_id, gb.last_id
            ));
        }
        cmp_opt(
            &gp,
            "entries_read",
            &ga.entries_read,
            &gb.entries_read,
            o,
            out,
        );
        if let Some(i) = first_diff(&ga.pending, &gb.pending) {
            out.push(format!(
                "{gp}: pending differs at {i} ({} / {} entries; (id, delivery ms, count)): {e} {:?} vs {g} {:?}",
                ga.pending.len(),
                gb.pending.len(),
                ga.pending.get(i),
                gb.pending.get(i)
            ));
        }
        let cn = |m: &BTreeMap<Bytes, Consumer>| m.keys().map(|k| show(k)).collect::<Vec<_>>();
        if ga.consumers.keys().ne(gb.consumers.keys()) {
            out.push(format!(
                "{gp}: consumers {e} {:?} vs {g} {:?}",
                cn(&ga.consumers),
                cn(&gb.consumers)
            ));
        }
        for (cname, ca) in &ga.consumers {
            let Some(cb) = gb.consumers.get(cname) else {
                continue;
            };
            let cp = format!("{gp} consumer {}", show(cname));
            if ca.pending != cb.pending {
                out.push(format!(
                    "{cp}: pending ids {e} {:?} vs {g} {:?}",
                    ca.pending, cb.pending
                ));
            }
            if o.times {
                if ca.seen_time != cb.seen_time {
                    out.push(format!(
                        "{cp}: seen_time_ms {e} {} vs {g} {}",
                        ca.seen_time, cb.seen_time
                    ));
                }
                cmp_opt(
                    &cp,
                    "active_time_ms",
                    &ca.active_time,
                    &cb.active_time,
                    o,
                    out,
                );
            }
        }
    }
}

/// For set, zset and hash: the dump must tell apart at least as many encodings as the server.
fn encoding_problems(server: &Snapshot, dump: &Snapshot) -> Vec<String> {
    let mut out = Vec::new();
    for ty in ["set", "zset", "hash"] {
        let distinct = |s: &Snapshot| -> BTreeSet<String> {
            s.values()
                .filter(|kv| kv.ty == ty)
                .filter_map(|kv| kv.encoding.clone())
                .collect()
        };
        let (a, b) = (distinct(server), distinct(dump));
        if b.len() < a.len() {
            out.push(format!("{ty}: server has encodings {a:?}, dump only {b:?}"));
        }
    }
    out
}

fn encoding_table(s: &Snapshot) -> String {
    let mut m: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for kv in s.values() {
        *m.entry((kv.ty.as_str(), kv.encoding.as_deref().unwrap_or("?")))
            .or_default() += 1;
    }
    m.iter()
        .map(|((t, e), n)| format!("{t}/{e}={n}"))
        .collect::<Vec<_>>()
        .join(" ")
}

// ---------------------------------------------------------------------------------------------
// info, filters, RESP, bad input
// ---------------------------------------------------------------------------------------------

fn cli<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    Command::new(env!("CARGO_BIN_EXE_rdbscope"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run rdbscope")
}

fn describe(out: &Output) -> String {
    format!(
        "exit {:?}; stderr: {}; stdout starts: {}",
        out.status.code(),
        trunc(String::from_utf8_lossy(&out.stderr).trim()),
        trunc(&String::from_utf8_lossy(
            &out.stdout[..out.stdout.len().min(300)]
        ))
    )
}

/// Per-db key counts out of `info --json`, accepting a few plausible shapes:
/// `"dbs": [{"db": 0, "keys": N, ..}]` or `"dbs": {"0": N | {"keys": N}}` (also under
/// "databases"/"keyspace", at the top level or one level down).
fn info_db_counts(j: &Json) -> Option<BTreeMap<u32, u64>> {
    const LISTS: [&str; 4] = ["dbs", "databases", "keyspace", "db"];
    const IDX: [&str; 4] = ["db", "index", "id", "number"];
    const CNT: [&str; 5] = ["keys", "key_count", "count", "num_keys", "entries"];
    let count = |v: &Json| -> Option<u64> {
        v.as_u64()
            .or_else(|| CNT.iter().find_map(|c| v.get(*c).and_then(Json::as_u64)))
    };
    let parse = |v: &Json| -> Option<BTreeMap<u32, u64>> {
        let mut m = BTreeMap::new();
        match v {
            Json::Array(items) => {
                for it in items {
                    let db = IDX.iter().find_map(|i| it.get(*i).and_then(Json::as_u64))?;
                    m.insert(db as u32, count(it)?);
                }
            }
            Json::Object(o) => {
                for (k, v) in o {
                    let db: u32 = k.trim_start_matches("db").parse().ok()?;
                    m.insert(db, count(v)?);
                }
            }
            _ => return None,
        }
        Some(m)
    };
    let top = j.as_object()?;
    for l in LISTS {
        if let Some(m) = top.get(l).and_then(parse) {
            return Some(m);
        }
    }
    for v in top.values() {
        if let Some(o) = v.as_object() {
            for l in LISTS {
                if let Some(m) = o.get(l).and_then(parse) {
                    return Some(m);
                }
            }
        }
    }
    None
}

fn info_problems(
    rdb: &Path,
    dbsizes: &BTreeMap<u32, u64>,
    expected: &Snapshot,
    f: &Features,
    version: &str,
) -> Vec<String> {
    let mut p = Vec::new();
    let text = cli([OsStr::new("info"), rdb.as_os_str()]);
    if !text.status.success() || text.stdout.is_empty() {
        p.push(format!("info (text): {}", describe(&text)));
    }
    let out = cli([OsStr::new("info"), rdb.as_os_str(), OsStr::new("--json")]);
    if !out.status.success() {
        p.push(format!("info --json: {}", describe(&out)));
        return p;
    }
    let j: Json = match serde_json::from_slice(&out.stdout) {
        Ok(j) => j,
        Err(e) => {
            p.push(format!(
                "info --json is not one JSON document ({e}): {}",
                trunc(&String::from_utf8_lossy(&out.stdout))
            ));
            return p;
        }
    };
    match info_db_counts(&j) {
        None => p.push(format!(
            "info --json: cannot find per-db key counts in {}",
            trunc(&j.to_string())
        )),
        Some(m) => {
            let m: BTreeMap<u32, u64> = m.into_iter().filter(|&(_, n)| n > 0).collect();
            if &m != dbsizes {
                p.push(format!(
                    "info --json key counts {m:?} vs DBSIZE {dbsizes:?}"
                ));
            }
        }
    }
    // Expiring keys per db, totals.
    let mut want_exp: BTreeMap<u64, u64> = BTreeMap::new();
    for ((db, _), kv) in expected {
        if kv.expire.is_some() {
            *want_exp.entry(*db as u64).or_default() += 1;
        }
    }
    if let Some(dbs) = j.get("dbs").and_then(Json::as_array) {
        let got: BTreeMap<u64, u64> = dbs
            .iter()
            .filter_map(|d| Some((d.get("db")?.as_u64()?, d.get("expires")?.as_u64()?)))
            .filter(|&(_, n)| n > 0)
            .collect();
        if got != want_exp {
            p.push(format!(
                "info --json expires per db {got:?} vs server {want_exp:?}"
            ));
        }
    }
    let total_exp: u64 = want_exp.values().sum();
    for (field, want) in [("keys", expected.len() as u64), ("expires", total_exp)] {
        if j.get(field).and_then(Json::as_u64) != Some(want) {
            p.push(format!(
                "info --json {field:?}: {:?}, want {want}",
                j.get(field)
            ));
        }
    }
    if j.get("checksum").and_then(Json::as_str) != Some("verified") {
        p.push(format!(
            "info --json checksum: {:?}, want \"verified\"",
            j.get("checksum")
        ));
    }
    // Keys per type (module values count as "module").
    let mut want_types: BTreeMap<String, u64> = BTreeMap::new();
    let mut want_modules: BTreeMap<String, u64> = BTreeMap::new();
    for kv in expected.values() {
        if let Val::Module { name, .. } = &kv.val {
            *want_types.entry("module".into()).or_default() += 1;
            *want_modules.entry(name.clone()).or_default() += 1;
        } else {
            *want_types.entry(kv.ty.clone()).or_default() += 1;
        }
    }
    let sum_by = |list: Option<&Json>, name: &str| -> BTreeMap<String, u64> {
        let mut m = BTreeMap::new();
        for t in list
            .and_then(Json::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            let k = t
                .get(name)
                .and_then(Json::as_str)
                .unwrap_or("?")
                .to_string();
            *m.entry(k).or_default() += t.get("keys").and_then(Json::as_u64).unwrap_or(0);
        }
        m
    };
    let got_types = sum_by(j.get("types"), "type");
    if got_types != want_types {
        p.push(format!(
            "info --json keys per type {got_types:?} vs server {want_types:?}"
        ));
    }
    let got_modules = sum_by(j.get("modules"), "module");
    if got_modules != want_modules {
        p.push(format!(
            "info --json modules {got_modules:?} vs server {want_modules:?}"
        ));
    }
    if f.modules
        && j.get("module_aux")
            .and_then(Json::as_array)
            .is_none_or(Vec::is_empty)
    {
        p.push(format!(
            "info --json module_aux is empty with RediSearch loaded: {:?}",
            j.get("module_aux")
        ));
    }
    // The server's version is one of the aux fields (redis-ver / valkey-ver).
    let aux_has_version = j
        .get("aux")
        .and_then(Json::as_object)
        .is_some_and(|a| a.values().any(|v| v.as_str() == Some(version)));
    if !aux_has_version {
        p.push(format!(
            "info --json aux has no field equal to the server version {version:?}: {:?}",
            j.get("aux")
        ));
    }
    if f.v7 {
        let funcs = j.get("functions").map(Json::to_string).unwrap_or_default();
        if !funcs.contains("rdbscopelib") {
            p.push(format!(
                "info --json functions lacks the loaded library rdbscopelib: {}",
                trunc(&funcs)
            ));
        }
    }
    p
}

/// Redis glob (`*`, `?`, `[a-z]`, `[^x]`, `\x`) over bytes.
fn glob(p: &[u8], s: &[u8]) -> bool {
    match p.first() {
        None => s.is_empty(),
        Some(b'*') => (0..=s.len()).any(|i| glob(&p[1..], &s[i..])),
        Some(b'?') => !s.is_empty() && glob(&p[1..], &s[1..]),
        Some(b'[') => {
            let Some(&c) = s.first() else { return false };
            let mut i = 1;
            let neg = p.get(1) == Some(&b'^');
            if neg {
                i += 1;
            }
            let mut hit = false;
            while i < p.len() && p[i] != b']' {
                if p.get(i + 1) == Some(&b'-') && i + 2 < p.len() && p[i + 2] != b']' {
                    let (lo, hi) = (p[i].min(p[i + 2]), p[i].max(p[i + 2]));
                    hit |= (lo..=hi).contains(&c);
                    i += 3;
                } else {
                    hit |= p[i] == c;
                    i += 1;
                }
            }
            hit != neg && glob(&p[(i + 1).min(p.len())..], &s[1..])
        }
        Some(b'\\') if p.len() >= 2 => s.first() == Some(&p[1]) && glob(&p[2..], &s[1..]),
        Some(&c) => s.first() == Some(&c) && glob(&p[1..], &s[1..]),
    }
}

fn filter_problems(
    rdb: &Path,
    expected: &Snapshot,
    full: &BTreeMap<(u32, Bytes), String>,
) -> Vec<String> {
    let mut p = Vec::new();
    type Pred = Box<dyn Fn(&(u32, Bytes), &KeyVal) -> bool>;
    let is_module = |kv: &KeyVal| matches!(kv.val, Val::Module { .. });
    let cases: Vec<(Vec<&str>, Pred)> = vec![
        (vec!["--db", "1"], Box::new(|k, _| k.0 == 1)),
        (vec!["--db", "15"], Box::new(|k, _| k.0 == 15)),
        (
            vec!["--match", "user:*"],
            Box::new(|k, _| k.1.starts_with(b"user:")),
        ),
        (
            vec!["--match", "k:00?1"],
            Box::new(|k, _| glob(b"k:00?1", &k.1)),
        ),
        (
            vec!["--match", "k:000[0-3]"],
            Box::new(|k, _| glob(b"k:000[0-3]", &k.1)),
        ),
        (vec!["--type", "hash"], Box::new(|_, kv| kv.ty == "hash")),
        (
            vec!["--type", "stream"],
            Box::new(|_, kv| kv.ty == "stream"),
        ),
        (
            vec!["--db", "0", "--type", "zset", "--match", "zset:*"],
            Box::new(|k, kv| k.0 == 0 && kv.ty == "zset" && k.1.starts_with(b"zset:")),
        ),
        (
            vec!["--type", "module"],
            Box::new(move |_, kv| is_module(kv)),
        ),
    ];
    for (args, pred) in cases {
        let mut all: Vec<&OsStr> = vec![
            OsStr::new("dump"),
            rdb.as_os_str(),
            OsStr::new("--format"),
            OsStr::new("jsonl"),
        ];
        all.extend(args.iter().map(OsStr::new));
        let label = args.join(" ");
        let out = cli(&all);
        if !out.status.success() {
            p.push(format!("dump {label}: {}", describe(&out)));
            continue;
        }
        let parsed = parse_jsonl(&out.stdout);
        for q in parsed.problems.iter().take(3) {
            p.push(format!("dump {label}: {q}"));
        }
        let want: BTreeSet<&(u32, Bytes)> = expected
            .iter()
            .filter(|(k, kv)| pred(k, kv))
            .map(|(k, _)| k)
            .collect();
        let got: BTreeSet<&(u32, Bytes)> = parsed.lines.keys().collect();
        let sh = |s: Vec<&&(u32, Bytes)>| {
            s.iter()
                .take(8)
                .map(|(db, k)| format!("db{db} {}", show(k)))
                .collect::<Vec<_>>()
        };
        let missing: Vec<_> = want.difference(&got).collect();
        let extra: Vec<_> = got.difference(&want).collect();
        if !missing.is_empty() || !extra.is_empty() {
            p.push(format!(
                "dump {label}: {} keys expected, {} output; missing {:?}; unexpected {:?}",
                want.len(),
                got.len(),
                sh(missing),
                sh(extra)
            ));
        }
        if want.is_empty() && !label.contains("module") {
            p.push(format!(
                "dump {label}: the test data has no such keys (test bug)"
            ));
        }
        let changed: Vec<String> = parsed
            .lines
            .iter()
            .filter(|(k, line)| full.get(*k).is_some_and(|l| l != *line))
            .take(3)
            .map(|((db, k), _)| format!("db{db} {}", show(k)))
            .collect();
        if !changed.is_empty() {
            p.push(format!(
                "dump {label}: lines differ from the unfiltered dump for {changed:?}"
            ));
        }
    }
    p
}

/// Splits a RESP request stream (arrays of bulk strings) into commands.
fn parse_resp_commands(b: &[u8]) -> Result<Vec<Cmd>, String> {
    fn line(b: &[u8], i: &mut usize) -> Result<i64, String> {
        let start = *i;
        let end = b[start..]
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or_else(|| format!("offset {start}: no CRLF"))?
            + start;
        *i = end + 2;
        std::str::from_utf8(&b[start + 1..end])
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("offset {start}: bad length line {}", show(&b[start..end])))
    }
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'*' {
            return Err(format!(
                "offset {i}: expected '*', found {}",
                show(&b[i..(i + 40).min(b.len())])
            ));
        }
        let n = line(b, &mut i)?;
        if n <= 0 {
            return Err(format!("offset {i}: command of {n} arguments"));
        }
        let mut cmd = Vec::with_capacity(n as usize);
        for _ in 0..n {
            if b.get(i) != Some(&b'$') {
                return Err(format!("offset {i}: expected '$'"));
            }
            let len = line(b, &mut i)?;
            let len =
                usize::try_from(len).map_err(|_| format!("offset {i}: negative bulk length"))?;
            if i + len + 2 > b.len() || &b[i + len..i + len + 2] != b"\r\n" {
                return Err(format!(
                    "offset {i}: bulk of {len} bytes not followed by CRLF"
                ));
            }
            cmd.push(b[i..i + len].to_vec());
            i += len + 2;
        }
        out.push(cmd);
    }
    Ok(out)
}

fn load_resp(srv: &RedisServer, resp: &[u8], kind: ServerKind) -> Vec<String> {
    let cmds = match parse_resp_commands(resp) {
        Ok(c) => c,
        Err(e) => {
            return vec![format!(
                "--format resp output is not a RESP command stream: {e}"
            )]
        }
    };
    let mut names: BTreeMap<String, usize> = BTreeMap::new();
    for c in &cmds {
        *names
            .entry(String::from_utf8_lossy(&c[0]).to_uppercase())
            .or_default() += 1;
    }
    eprintln!("[{kind}] resp: {} commands {names:?}", cmds.len());
    let mut c = srv.client();
    let replies = match c.pipeline(&cmds) {
        Ok(r) => r,
        Err(e) => {
            return vec![format!(
                "sending {} commands: I/O error {e}\n{}",
                cmds.len(),
                srv.log_tail(10)
            )]
        }
    };
    let errs: Vec<String> = cmds
        .iter()
        .zip(&replies)
        .filter_map(|(cmd, r)| match r {
            Reply::Error(e) => Some(format!("{} -> -{e}", show_cmd(cmd))),
            _ => None,
        })
        .collect();
    let mut p: Vec<String> = errs.iter().take(10).cloned().collect();
    if errs.len() > 10 {
        p.push(format!("... {} error replies in all", errs.len()));
    }
    p
}

fn redis_cli_pipe_problems(
    bin: &ServerBin,
    resp: &[u8],
    dbsizes: &BTreeMap<u32, u64>,
) -> Vec<String> {
    let cli_path = Path::new("/usr/bin/redis-cli");
    if !cli_path.exists() {
        eprintln!("SKIP: /usr/bin/redis-cli not installed; redis-cli --pipe check skipped");
        return Vec::new();
    }
    let srv = bin.start(&[]).expect("start server for redis-cli --pipe");
    let mut child = Command::new(cli_path)
        .args(["-h", "127.0.0.1", "-p", &srv.port().to_string(), "--pipe"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn redis-cli");
    let mut stdin = child.stdin.take().expect("stdin");
    let data = resp.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&data));
    let out = child.wait_with_output().expect("redis-cli --pipe");
    let _ = writer.join();
    let mut p = Vec::new();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    if !out.status.success() || !text.contains("errors: 0") {
        p.push(format!(
            "redis-cli --pipe: {:?}: {}",
            out.status.code(),
            trunc(text.trim())
        ));
    }
    let got = dbsizes_of(&srv);
    if &got != dbsizes {
        p.push(format!(
            "after redis-cli --pipe: DBSIZE {got:?} vs original {dbsizes:?}"
        ));
    }
    p
}

fn dbsizes_of(srv: &RedisServer) -> BTreeMap<u32, u64> {
    dbsizes(&mut srv.client())
}

fn bad_input_problems(rdb_bytes: &[u8], rdb: &Path) -> Vec<String> {
    let mut p = Vec::new();
    let dir = testkit::temp_dir("roundtrip-bad");
    let mut check = |label: &str, args: Vec<&OsStr>, code: i32, want_offset: bool| {
        let out = cli(&args);
        let err = String::from_utf8_lossy(&out.stderr).to_lowercase();
        if out.status.code() != Some(code) {
            p.push(format!("{label}: want exit {code}, got {}", describe(&out)));
        } else if want_offset && !err.contains("offset") {
            p.push(format!(
                "{label}: error message lacks \"offset\": {}",
                trunc(err.trim())
            ));
        } else if err.trim().is_empty() {
            p.push(format!(
                "{label}: exit {code} without any message on stderr"
            ));
        }
    };
    // Cut inside the data: the middle of the file, and just before the checksum/EOF.
    let half = dir.join("half.rdb");
    std::fs::write(&half, &rdb_bytes[..rdb_bytes.len() / 2]).expect("write");
    let short = dir.join("short.rdb");
    std::fs::write(&short, &rdb_bytes[..rdb_bytes.len() - 12]).expect("write");
    let garbage = dir.join("garbage.rdb");
    std::fs::write(&garbage, b"NOTANRDBFILE, just some text\n").expect("write");
    let missing = dir.join("does-not-exist.rdb");
    let d = OsStr::new("dump");
    check(
        "dump of a file truncated at half",
        vec![d, half.as_os_str()],
        1,
        true,
    );
    check(
        "dump of a file missing its last 12 bytes",
        vec![d, short.as_os_str()],
        1,
        true,
    );
    check(
        "dump --format resp of a truncated file",
        vec![
            d,
            half.as_os_str(),
            OsStr::new("--format"),
            OsStr::new("resp"),
        ],
        1,
        true,
    );
    check(
        "info of a truncated file",
        vec![OsStr::new("info"), half.as_os_str()],
        1,
        true,
    );
    check(
        "dump of a file with a bad magic",
        vec![d, garbage.as_os_str()],
        1,
        true,
    );
    check(
        "dump of a missing file",
        vec![d, missing.as_os_str()],
        1,
        false,
    );
    check("dump without FILE", vec![d], 2, false);
    check("no subcommand", vec![], 2, false);
    check(
        "dump --format xml",
        vec![
            d,
            rdb.as_os_str(),
            OsStr::new("--format"),
            OsStr::new("xml"),
        ],
        2,
        false,
    );
    check(
        "dump --db notanumber",
        vec![d, rdb.as_os_str(), OsStr::new("--db"), OsStr::new("x")],
        2,
        false,
    );
    check(
        "unknown option",
        vec![d, rdb.as_os_str(), OsStr::new("--no-such-option")],
        2,
        false,
    );
    p
}

// ---------------------------------------------------------------------------------------------
// Reporting
// ---------------------------------------------------------------------------------------------

/// Escaped, truncated bytes for messages.
fn show(b: &[u8]) -> String {
    let mut s = String::from("\"");
    let cut = b.len() > 48;
    for chunk in b[..b.len().min(48)].utf8_chunks() {
        for c in chunk.valid().chars() {
            let _ = write!(s, "{}", c.escape_debug());
        }
        for byte in chunk.invalid() {
            let _ = write!(s, "\\x{byte:02x}");
        }
    }
    s.push('"');
    if cut {
        let _ = write!(s, "..({} bytes)", b.len());
    }
    s
}

fn show_cmd(c: &[Vec<u8>]) -> String {
    let mut s: Vec<String> = c.iter().take(6).map(|a| show(a)).collect();
    if c.len() > 6 {
        s.push(format!("...({} args)", c.len()));
    }
    s.join(" ")
}

fn trunc(s: &str) -> String {
    if s.chars().count() > 400 {
        format!("{}...", s.chars().take(400).collect::<String>())
    } else {
        s.to_string()
    }
}

struct Report {
    kind: ServerKind,
    sections: Vec<(String, Vec<String>)>,
}

impl Report {
    fn new(kind: ServerKind) -> Report {
        Report {
            kind,
            sections: Vec::new(),
        }
    }

    fn section(&mut self, name: &str, problems: Vec<String>) {
        if problems.is_empty() {
            eprintln!("[{}] ok: {name}", self.kind);
        } else {
            eprintln!("[{}] FAIL ({} problems): {name}", self.kind, problems.len());
        }
        self.sections.push((name.to_string(), problems));
    }

    fn finish(self) {
        let total = self.sections.len();
        let bad: Vec<_> = self
            .sections
            .into_iter()
            .filter(|(_, p)| !p.is_empty())
            .collect();
        if bad.is_empty() {
            return;
        }
        let mut s = format!("{}: {} of {total} checks failed\n", self.kind, bad.len());
        for (name, p) in &bad {
            let _ = writeln!(s, "== {name}: {} problem(s)", p.len());
            for l in p.iter().take(25) {
                let _ = writeln!(s, "  - {l}");
            }
            if p.len() > 25 {
                let _ = writeln!(s, "  ... and {} more", p.len() - 25);
            }
        }
        panic!("{s}");
    }
}
