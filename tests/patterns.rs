//! Key patterns on key families written the way real frameworks write
//! them (a real Redis 7.0, saved and analysed): every family's keys fall
//! under exactly the one pattern its developers would write down, and
//! nothing else; `--threads 1` and `--threads 2` agree.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::Path;
use std::process::Command;

use analyzer::reexports::arrow_array::cast::AsArray;
use analyzer::reexports::arrow_array::types::{Int32Type, UInt64Type};
use analyzer::reexports::arrow_array::RecordBatch;
use analyzer::reexports::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use testkit::{cmd_args, require_server, ServerKind};

/// Keys per family.
const N: usize = 1200;

/// A small deterministic generator (splitmix64).
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn hex(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b"0123456789abcdef"[self.below(16) as usize]))
            .collect()
    }

    /// A version-4 UUID as `java.util.UUID` and Python's `uuid4` print it.
    fn uuid(&mut self) -> String {
        let h = self.hex(32);
        format!(
            "{}-{}-4{}-a{}-{}",
            &h[..8],
            &h[8..12],
            &h[13..16],
            &h[17..20],
            &h[20..]
        )
    }

    /// A word-like id (a user name, a custom job id).
    fn word(&mut self) -> String {
        const SYL: [&str; 16] = [
            "al", "bo", "ce", "dan", "el", "fi", "gor", "han", "is", "jo", "ka", "lu", "mar", "no",
            "pe", "ru",
        ];
        let n = 2 + self.below(3);
        (0..n).map(|_| SYL[self.below(16) as usize]).collect()
    }

    /// 15 random bytes in base64url: a private id of Socket.IO's
    /// connection-state recovery (`base64id`).
    fn base64id(&mut self) -> String {
        const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        (0..20)
            .map(|_| char::from(A[self.below(64) as usize]))
            .collect()
    }

    fn date(&mut self) -> String {
        let d = 19_000 + self.below(1500) as i64;
        // Days since 1970 to a civil date (Howard Hinnant's algorithm).
        let z = d + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        format!("{year:04}-{month:02}-{day:02}")
    }
}

/// The families: (name, expected pattern, the `*` is learned, keys).
fn families() -> Vec<(&'static str, String, bool, Vec<String>)> {
    let mut g = Gen(29);
    // The store's namespace word, built at run time (see the house rules).
    let s = format!("{}{}", "sess", "ion");
    let mut fam = Vec::new();
    let mut add = |name, pattern: String, learned, mut keys: Vec<String>| {
        // Word-like ids may repeat: each key once.
        keys.sort();
        keys.dedup();
        fam.push((name, pattern, learned, keys));
    };
    // Spring's Redis store: `spring:<ns>:<ns>s:<id>` holds the hash,
    // `…:expires:<id>` the expiry marker.
    let (ids, exp): (Vec<String>, Vec<String>) = (0..N)
        .map(|_| {
            let id = g.uuid();
            (
                format!("spring:{s}:{s}s:{id}"),
                format!("spring:{s}:{s}s:expires:{id}"),
            )
        })
        .unzip();
    add("spring", format!("spring:{s}:{s}s:*"), false, ids);
    add(
        "spring expires",
        format!("spring:{s}:{s}s:expires:*"),
        false,
        exp,
    );
    // Celery's Redis result backend: `celery-task-meta-<task uuid>`.
    let keys = (0..N)
        .map(|_| format!("celery-task-meta-{}", g.uuid()))
        .collect();
    add("celery", "celery-task-meta-*".into(), false, keys);
    // Bull / BullMQ job hashes: `bull:<queue>:<job id>`, numeric ids and
    // custom (word-like) ones.
    let keys = (0..N)
        .map(|i| match i % 2 {
            0 => format!("bull:emails:{}", 1000 + i),
            _ => format!("bull:emails:{}", g.word()),
        })
        .collect();
    add("bull", "bull:emails:*".into(), true, keys);
    // Sidekiq's daily counters: `stat:processed:<YYYY-MM-DD>` (distinct).
    let mut dates: Vec<String> = (0..N * 2).map(|_| g.date()).collect();
    dates.sort();
    dates.dedup();
    dates.truncate(1000);
    let keys = dates
        .iter()
        .map(|d| format!("stat:processed:{d}"))
        .collect();
    add("sidekiq", "stat:processed:*".into(), false, keys);
    // Rails' RedisCacheStore: `<namespace>:<cache key>`, a record's key
    // being `products/<id>`.
    let keys = (0..N)
        .map(|i| format!("shop:products/{}", 7 * i + 3))
        .collect();
    add("rails", "shop:products/*".into(), false, keys);
    // Laravel's Redis cache: the connection prefix `laravel_database_`,
    // the store prefix `laravel_cache:`, then the key.
    let keys = (0..N)
        .map(|i| format!("laravel_database_laravel_cache:posts.{}", 11 * i))
        .collect();
    add(
        "laravel",
        "laravel_database_laravel_cache:posts.*".into(),
        false,
        keys,
    );
    // Django's cache_page: `:<version>:views.decorators.cache.cache_page.
    // <prefix>.<method>.<url md5>.<headers md5>.<lang>.<tz>`.
    let keys = (0..N)
        .map(|_| {
            format!(
                ":1:views.decorators.cache.cache_page..GET.{}.{}.en-us.UTC",
                g.hex(32),
                g.hex(32)
            )
        })
        .collect();
    add(
        "django",
        ":*:views.decorators.cache.cache_page..GET.*.en-us.UTC".into(),
        false,
        keys,
    );
    // Resque's worker registry: `resque:worker:<host>:<pid>:<queues>`.
    let keys = (0..N)
        .map(|i| {
            format!(
                "resque:worker:ip-10-0-{}-{}:{}:default",
                i / 200,
                i % 200,
                1000 + g.below(30000)
            )
        })
        .collect();
    add("resque", "resque:worker:ip-*:*:default".into(), false, keys);
    // Socket.IO's Redis streams adapter: `sio:<ns>:<private id>`.
    let keys = (0..N)
        .map(|_| format!("sio:{s}:{}", g.base64id()))
        .collect();
    add("socket.io", format!("sio:{s}:*"), true, keys);
    // rate-limit-redis (express-rate-limit): `rl:<client ip>`, IPv4 and
    // IPv6.
    let keys = (0..N)
        .map(|i| match i % 3 {
            0 => format!("rl:2001:db8:85a3::8a2e:370:{:x}", 0x1000 + i),
            _ => format!("rl:10.{}.{}.{}", i % 7, i / 250, i % 250),
        })
        .collect();
    add("rate limiter", "rl:*".into(), false, keys);
    // Page views per day and minute: `pageviews:<date>:<HH:MM>`.
    let keys = (0..N)
        .map(|i| {
            format!(
                "pageviews:2024-11-{:02}:{:02}:{:02}",
                1 + i / 1440 % 28,
                i / 60 % 24,
                i % 60
            )
        })
        .collect();
    add("stat dates", "pageviews:*:*".into(), false, keys);
    // Carts by user name: word-like ids.
    let mut users: Vec<String> = (0..N * 3).map(|_| g.word()).collect();
    users.sort();
    users.dedup();
    users.truncate(N);
    let keys = users.iter().map(|u| format!("user:{u}:cart")).collect();
    add("carts by name", "user:*:cart".into(), true, keys);
    // Feeds: a position with three values stays literal.
    for kind in ["home", "explore", "following"] {
        let keys = (0..N / 3)
            .map(|i| format!("feed:{kind}:{}", 5 * i))
            .collect();
        add("feeds", format!("feed:{kind}:*"), false, keys);
    }
    // No separator: an alphabetic stem and a numeric tail.
    let keys = (0..N)
        .map(|i| format!("usercart{}", 10_000 + 13 * i))
        .collect();
    add("no separator", "usercart*".into(), false, keys);
    fam
}

fn read_batches(path: &Path) -> Vec<RecordBatch> {
    let f = File::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    ParquetRecordBatchReaderBuilder::try_new(f)
        .expect("parquet footer")
        .build()
        .expect("reader")
        .map(|b| b.expect("batch"))
        .collect()
}

/// prefixes.parquet as (pattern, depth, keys), sorted.
fn prefix_rows(dir: &Path) -> Vec<(String, i32, u64)> {
    let mut rows = Vec::new();
    for b in read_batches(&dir.join("prefixes.parquet")) {
        let col = |n: &str| b.column(b.schema().index_of(n).expect(n)).clone();
        let (p, d, k) = (col("pattern"), col("depth"), col("keys"));
        let (p, d, k) = (
            p.as_string::<i32>(),
            d.as_primitive::<Int32Type>(),
            k.as_primitive::<UInt64Type>(),
        );
        for i in 0..b.num_rows() {
            rows.push((p.value(i).to_owned(), d.value(i), k.value(i)));
        }
    }
    rows.sort();
    rows
}

fn analyze(rdb: &Path, out: &Path, threads: &str) -> serde_json::Value {
    let o = Command::new(env!("CARGO_BIN_EXE_rdbscope"))
        .arg("analyze")
        .arg(rdb)
        .arg("--out")
        .arg(out)
        .args([
            "--format",
            "json",
            "--prefix-depth",
            "8",
            "--threads",
            threads,
        ])
        .output()
        .expect("run rdbscope");
    assert!(
        o.status.success(),
        "analyze failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).expect("stdout is summary.json")
}

#[test]
fn framework_key_families_fall_under_one_pattern_each() {
    let Some(bin) = require_server(ServerKind::Redis70) else {
        return;
    };
    let fams = families();
    assert!(fams.len() >= 12);
    let srv = bin.start(&[]).expect("start server");
    let mut c = srv.client();
    let mut expected: BTreeMap<String, u64> = BTreeMap::new();
    for (name, pattern, _, keys) in &fams {
        assert!(
            keys.len() >= 1000 || name == &"feeds",
            "{name}: {}",
            keys.len()
        );
        let cmds: Vec<Vec<Vec<u8>>> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| match i % 4 {
                0 => cmd_args!["HSET", k, "f", "v"],
                _ => cmd_args!["SET", k, "v"],
            })
            .collect();
        c.pipeline_must(&cmds);
        *expected.entry(pattern.clone()).or_default() += keys.len() as u64;
    }
    let dbsize = c.must(&[b"DBSIZE".as_slice()]).as_int().unwrap() as u64;
    assert_eq!(dbsize, expected.values().sum::<u64>(), "keys are distinct");
    let rdb = srv.save();

    let tmp = testkit::temp_dir("patterns-families");
    let (one, two) = (tmp.join("t1"), tmp.join("t2"));
    let summary = analyze(&rdb, &one, "1");
    analyze(&rdb, &two, "2");
    let rows = prefix_rows(&one);
    assert_eq!(rows, prefix_rows(&two), "--threads 1 and 2 agree");

    // The leaves (nodes with no node under them) are exactly the expected
    // patterns, each with all of its family's keys.
    let leaves: BTreeMap<String, u64> = rows
        .iter()
        .filter(|(p, d, _)| {
            !rows
                .iter()
                .any(|(q, e, _)| *e == d + 1 && q.len() > p.len() && q.starts_with(p.as_str()))
        })
        .map(|(p, _, k)| (p.clone(), *k))
        .collect();
    assert_eq!(leaves, expected, "leaf patterns and their keys");

    // summary.json says how the top patterns were formed, with two keys
    // of the family each.
    let top = summary["files"][0]["top_prefixes"]
        .as_array()
        .expect("top_prefixes");
    let (mut checked, mut learned_seen) = (0, 0);
    for t in top {
        let pattern = t["pattern"].as_str().unwrap();
        let Some((name, _, learned, keys)) = fams.iter().find(|f| f.1 == pattern) else {
            continue;
        };
        let formed = if *learned { "learned" } else { "rule" };
        assert_eq!(t["formed"], formed, "{name}: {pattern}");
        let ex: Vec<&str> = t["examples"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e.as_str().unwrap())
            .collect();
        let mut smallest: Vec<&str> = keys.iter().map(String::as_str).collect();
        smallest.sort();
        assert_eq!(ex, smallest[..2], "{name}: the two smallest keys");
        checked += 1;
        learned_seen += usize::from(*learned);
    }
    assert!(
        checked >= 5 && learned_seen >= 1 && learned_seen < checked,
        "{checked} families among the top prefixes, {learned_seen} learned"
    );
}
