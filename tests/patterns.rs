//! Key patterns on key families written the way real frameworks write
//! them, each format taken from the framework's own source (cited at each
//! family), loaded into a real Redis 7.0, saved and analysed: every
//! family's keys fall under exactly the one pattern its developers would
//! write down, and nothing else. `--threads 1` and `--threads 2` agree, and
//! so does a file of the same keys written in the opposite order; under a
//! `--prefix-cap` below the families' count, at most the cap remain, the
//! same for all three.

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

    /// `n` characters of base64url: random bytes as Socket.IO's
    /// `base64id` (15 bytes, 20 characters) and `uid-safe` (24 bytes, 32
    /// characters) write them.
    fn base64url(&mut self, n: usize) -> String {
        const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        (0..n)
            .map(|_| char::from(A[self.below(64) as usize]))
            .collect()
    }

    /// An IPv6 /56 network as the `ip-address` package's `networkForm()`
    /// writes it: four groups at most, the fourth's low byte zero, the
    /// zero groups at the end folded into `::`, then `/56`.
    fn ipv6_network(&mut self) -> String {
        let a = [0x2001, 0x2a02, 0x2600, 0x2c0f][self.below(4) as usize];
        let b = 1 + self.below(0xffff);
        let c = match self.below(4) {
            0 => 0,
            _ => self.below(0x1_0000),
        };
        let d = self.below(0x100) << 8;
        match (c, d) {
            (0, 0) => format!("{a:x}:{b:x}::/56"),
            (_, 0) => format!("{a:x}:{b:x}:{c:x}::/56"),
            _ => format!("{a:x}:{b:x}:{c:x}:{d:x}::/56"),
        }
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

/// A family of keys: its name, the one pattern its keys must have, whether
/// that pattern's `*` is learned from the data, and the keys.
type Family = (&'static str, String, bool, Vec<String>);

/// The families. Each framework's key format is taken from its own source
/// (repository and file cited above each family; `<s>` stands for the
/// store's namespace word that the house rules keep out of this file, see
/// `s` below).
fn families() -> Vec<Family> {
    let mut g = Gen(29);
    // The store's namespace word, built at run time (see the house rules).
    let s = format!("{}{}", "sess", "ion");
    let cap_s = format!("S{}", &s[1..]);
    let mut fam = Vec::new();
    let mut add = |name, pattern: String, learned, mut keys: Vec<String>| {
        // Word-like ids may repeat: each key once.
        keys.sort();
        keys.dedup();
        fam.push((name, pattern, learned, keys));
    };

    // Spring <s> Data Redis: the namespace `spring:<s>` (DEFAULT_NAMESPACE),
    // then `<s>s:<id>` for the hash and `<s>s:expires:<id>` for the expiry
    // marker, the id a `java.util.UUID`; the principal index
    // `index:<FindByIndexName<S>Repository's class name>.PRINCIPAL_NAME_INDEX_NAME:<user name>`.
    // Source: spring-projects/spring-<s>,
    // spring-<s>-data-redis/src/main/java/org/springframework/<s>/data/redis/RedisIndexed<S>Repository.java
    // (getExpiredKeyPrefix, getPrincipalKey, DEFAULT_NAMESPACE) and
    // spring-<s>-core/src/main/java/org/springframework/<s>/FindByIndexName<S>Repository.java
    // (PRINCIPAL_NAME_INDEX_NAME: the class name and `.PRINCIPAL_NAME_INDEX_NAME`).
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
    let index = format!(
        "spring:{s}:index:org.springframework.{s}.FindByIndexName{cap_s}Repository.\
         PRINCIPAL_NAME_INDEX_NAME"
    );
    let keys = (0..N * 2)
        .map(|_| format!("{index}:{}", g.word()))
        .collect();
    add("spring principal index", format!("{index}:*"), true, keys);

    // Spring Data Redis' cache (`@Cacheable("users")`): `<cache name>::<key>`
    // (CacheKeyPrefix.simple(): the name and SEPARATOR `::`), the key a
    // user name. Source: spring-projects/spring-data-redis,
    // src/main/java/org/springframework/data/redis/cache/CacheKeyPrefix.java.
    let keys = (0..N * 2).map(|_| format!("users::{}", g.word())).collect();
    add("spring cache", "users::*".into(), true, keys);

    // Celery's result backend: `celery-task-meta-<task uuid>`
    // (task_keyprefix). Source: celery/celery, celery/backends/base.py
    // (BaseKeyValueStoreBackend).
    let keys = (0..N)
        .map(|_| format!("celery-task-meta-{}", g.uuid()))
        .collect();
    add("celery", "celery-task-meta-*".into(), false, keys);

    // BullMQ job hashes: `<prefix>:<queue>:<job id>`, prefix `bull`
    // (QueueKeys.toKey); ids count up from 1 unless a custom id is given,
    // which may not be an integer nor hold `:` (here a word). Source:
    // taskforcesh/bullmq, src/classes/queue-keys.ts and src/classes/job.ts.
    let keys = (0..N)
        .map(|i| match i % 2 {
            0 => format!("bull:emails:{}", 1000 + i),
            _ => format!("bull:emails:{}", g.word()),
        })
        .collect();
    add("bull", "bull:emails:*".into(), true, keys);

    // Sidekiq's daily counters: `stat:processed:<YYYY-MM-DD>` (nowdate,
    // UTC). Source: sidekiq/sidekiq, lib/sidekiq/launcher.rb.
    let mut dates: Vec<String> = (0..N * 2).map(|_| g.date()).collect();
    dates.sort();
    dates.dedup();
    dates.truncate(1000);
    let keys = dates
        .iter()
        .map(|d| format!("stat:processed:{d}"))
        .collect();
    add("sidekiq", "stat:processed:*".into(), false, keys);

    // Rails' RedisCacheStore: `<namespace>:<key>` (namespace_key), a
    // record's key being `<model_name.cache_key>/<id>` (`products/7`,
    // cache versioning on, the default). Sources: rails/rails,
    // activesupport/lib/active_support/cache.rb and
    // activerecord/lib/active_record/integration.rb (cache_key).
    let keys = (0..N)
        .map(|i| format!("shop:products/{}", 7 * i + 3))
        .collect();
    add("rails", "shop:products/*".into(), false, keys);

    // Laravel 13's rate limiter on the Redis cache: the connection prefix
    // `laravel-database-` and the cache prefix `laravel-cache-` (both
    // from APP_NAME, no `:` added by RedisStore::setPrefix since 11.x),
    // then the limiter's key, md5(limiter name . key) for named limiters,
    // and `<key>:timer` beside it. Sources: laravel/framework,
    // config/database.php, config/cache.php, src/Illuminate/Cache/RedisStore.php,
    // src/Illuminate/Cache/RateLimiter.php (hit) and
    // src/Illuminate/Routing/Middleware/ThrottleRequests.php.
    let (hits, timers): (Vec<String>, Vec<String>) = (0..N)
        .map(|_| {
            let key = format!("laravel-database-laravel-cache-{}", g.hex(32));
            (key.clone(), format!("{key}:timer"))
        })
        .unzip();
    add(
        "laravel throttle",
        "laravel-database-laravel-cache-*".into(),
        false,
        hits,
    );
    add(
        "laravel throttle timer",
        "laravel-database-laravel-cache-*:timer".into(),
        false,
        timers,
    );

    // Django's cache: `<KEY_PREFIX>:<version>:<key>` (default_key_func,
    // prefix '' and version 1); cache_page's key
    // `views.decorators.cache.cache_page.<prefix>.<method>.<url md5>.<headers md5>`
    // and the header cache's `views.decorators.cache.cache_header.<prefix>.<url md5>`,
    // both then `.<language>.<time zone>` (USE_I18N, USE_TZ). Sources:
    // django/django, django/core/cache/backends/base.py and
    // django/utils/cache.py (_generate_cache_key, _generate_cache_header_key,
    // _i18n_cache_key_suffix).
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
    let keys = (0..N)
        .map(|_| {
            format!(
                ":1:views.decorators.cache.cache_header..{}.en-us.UTC",
                g.hex(32)
            )
        })
        .collect();
    add(
        "django header",
        ":*:views.decorators.cache.cache_header..*.en-us.UTC".into(),
        false,
        keys,
    );

    // Resque's worker registry: namespace `resque`, then
    // `worker:<hostname>:<pid>:<queues joined by ,>` (Worker#to_s). Sources:
    // resque/resque, lib/resque.rb (the namespace) and lib/resque/worker.rb.
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

    // Socket.IO's Redis streams adapter: `sio:<s>:<private id>` (the
    // key prefix option's default), the id 15 random bytes in base64url
    // (base64id). Source: socketio/socket.io-redis-streams-adapter,
    // lib/adapter.ts.
    let keys = (0..N)
        .map(|_| format!("sio:{s}:{}", g.base64url(20)))
        .collect();
    add("socket.io", format!("sio:{s}:*"), true, keys);

    // connect-redis, express' Redis store: `sess:<id>` (the prefix's
    // default), the id 24 random bytes in base64url (uid-safe). Source:
    // tj/connect-redis, index.ts.
    let keys = (0..N)
        .map(|_| format!("sess:{}", g.base64url(32)))
        .collect();
    // Most are tokens by rule; the few the rules miss (no digit, too
    // few class changes) are more than 16 beside those `*`: learned.
    add("connect-redis", "sess:*".into(), true, keys);

    // rate-limit-redis (express-rate-limit's store): `rl:<key>` (prefix
    // `rl:`, prefixKey), the key express-rate-limit's ipKeyGenerator
    // gives: an IPv4 address as it is, an IPv6 one as its /56 network in
    // CIDR form (`2001:db8:85a3:1200::/56`). Sources:
    // express-rate-limit/rate-limit-redis, source/lib.ts;
    // express-rate-limit/express-rate-limit, source/ip-key-generator.ts.
    let keys = (0..N)
        .map(|i| match i % 3 {
            0 => format!("rl:{}", g.ipv6_network()),
            _ => format!("rl:10.{}.{}.{}", i % 7, i / 250, i % 250),
        })
        .collect();
    add("rate-limit-redis", "rl:*".into(), false, keys);

    // rate-limiter-flexible: `<keyPrefix>:<key>` (getKey), here its
    // brute-force example's limiter of failed logins per user name and
    // IP, keyed `<user name>_<ip>`. Source: animir/node-rate-limiter-flexible,
    // lib/RateLimiterAbstract.js.
    let keys = (0..N * 2)
        .map(|i| {
            format!(
                "login_fail_consecutive_username_and_ip:{}_192.168.{}.{}",
                g.word(),
                i % 5,
                g.below(250)
            )
        })
        .collect();
    add(
        "rate-limiter-flexible",
        "login_fail_consecutive_username_and_ip:*".into(),
        true,
        keys,
    );

    // Not a framework's: an application's own names.
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

/// `rdbscope analyze` with `--threads threads` and `extra`: summary.json.
fn analyze(rdb: &Path, out: &Path, threads: &str, extra: &[&str]) -> serde_json::Value {
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
        .args(extra)
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
    let mut expected: BTreeMap<String, u64> = BTreeMap::new();
    let mut cmds: Vec<Vec<Vec<u8>>> = Vec::new();
    for (name, pattern, _, keys) in &fams {
        assert!(
            keys.len() >= 1000 || name == &"feeds",
            "{name}: {}",
            keys.len()
        );
        cmds.extend(keys.iter().enumerate().map(|(i, k)| match i % 4 {
            0 => cmd_args!["HSET", k, "f", "v"],
            _ => cmd_args!["SET", k, "v"],
        }));
        *expected.entry(pattern.clone()).or_default() += keys.len() as u64;
    }
    // The same keys written in two orders, into two servers: the second
    // file lists them in another order (a bucket's keys come out newest
    // first).
    let load = |cmds: &[Vec<Vec<u8>>]| {
        let srv = bin.start(&[]).expect("start server");
        let mut c = srv.client();
        for chunk in cmds.chunks(2000) {
            c.pipeline_must(chunk);
        }
        let dbsize = c.must(&[b"DBSIZE".as_slice()]).as_int().unwrap() as u64;
        assert_eq!(dbsize, expected.values().sum::<u64>(), "keys are distinct");
        let rdb = srv.save();
        (srv, rdb)
    };
    let (_srv, rdb) = load(&cmds);
    cmds.reverse();
    let (_srv_reversed, rdb_reversed) = load(&cmds);

    let tmp = testkit::temp_dir("patterns-families");
    let (one, two, rev) = (tmp.join("t1"), tmp.join("t2"), tmp.join("rev"));
    let summary = analyze(&rdb, &one, "1", &[]);
    analyze(&rdb, &two, "2", &[]);
    analyze(&rdb_reversed, &rev, "2", &[]);
    let rows = prefix_rows(&one);
    assert_eq!(rows, prefix_rows(&two), "--threads 1 and 2 agree");
    assert_eq!(rows, prefix_rows(&rev), "the key order does not matter");

    // The keys whose own pattern a node is (its keys less its children's)
    // are exactly the expected patterns, each with all of its family's
    // keys.
    let child_of = |q: &str, e: i32, p: &str, d: i32| {
        e == d + 1
            && q.len() > p.len()
            && q.starts_with(p)
            && b":|/".contains(&q.as_bytes()[p.len()])
    };
    let own: BTreeMap<String, u64> = rows
        .iter()
        .map(|(p, d, k)| {
            let under: u64 = rows
                .iter()
                .filter(|(q, e, _)| child_of(q, *e, p, *d))
                .map(|r| r.2)
                .sum();
            (p.clone(), k - under)
        })
        .filter(|(_, k)| *k > 0)
        .collect();
    assert_eq!(own, expected, "patterns and their keys");
    assert_eq!(
        summary["files"][0]["prefix_patterns"].as_u64(),
        Some(expected.len() as u64),
        "one pattern held per family"
    );

    // summary.json says how the top patterns were formed, with the two
    // smallest keys under each.
    let top = summary["files"][0]["top_prefixes"]
        .as_array()
        .expect("top_prefixes");
    let (mut checked, mut learned_seen) = (0, 0);
    for t in top {
        let pattern = t["pattern"].as_str().unwrap();
        let Some((name, _, learned, _)) = fams.iter().find(|f| f.1 == pattern) else {
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
        // The keys of this family and of the families under it.
        let mut smallest: Vec<&str> = fams
            .iter()
            .filter(|f| {
                f.1 == pattern
                    || (f.1.len() > pattern.len()
                        && f.1.starts_with(pattern)
                        && b":|/".contains(&f.1.as_bytes()[pattern.len()]))
            })
            .flat_map(|f| f.3.iter().map(String::as_str))
            .collect();
        smallest.sort();
        assert_eq!(ex, smallest[..2], "{name}: the two smallest keys");
        checked += 1;
        learned_seen += usize::from(*learned);
    }
    assert!(
        checked >= 5 && learned_seen >= 1 && learned_seen < checked,
        "{checked} families among the top prefixes, {learned_seen} learned"
    );

    // Under a cap below the families' count the patterns are cut coarser
    // until at most the cap remain, the same for any threads and order,
    // and without the memory bound's help.
    let cap = 16;
    assert!(expected.len() > cap);
    let cap_arg = cap.to_string();
    let mut cut = Vec::new();
    for (rdb, threads, dir) in [
        (&rdb, "1", "cap1"),
        (&rdb, "2", "cap2"),
        (&rdb_reversed, "2", "cap-rev"),
    ] {
        let s = analyze(rdb, &tmp.join(dir), threads, &["--prefix-cap", &cap_arg]);
        let f = &s["files"][0];
        let held = f["prefix_patterns"].as_u64().unwrap();
        assert!(
            (1..=cap as u64).contains(&held),
            "{held} patterns, cap {cap}"
        );
        assert!(f["prefix_level"].as_i64().unwrap() < 8, "{f}");
        assert_eq!(f["prefix_cut_by_memory"], false);
        let rows = prefix_rows(&tmp.join(dir));
        let keys: u64 = rows.iter().filter(|r| r.1 == 1).map(|r| r.2).sum();
        assert_eq!(keys, expected.values().sum::<u64>(), "every key counted");
        cut.push(rows);
    }
    assert_eq!(cut[0], cut[1], "capped: --threads 1 and 2 agree");
    assert_eq!(cut[0], cut[2], "capped: the key order does not matter");
}
