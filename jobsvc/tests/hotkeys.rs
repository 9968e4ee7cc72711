//! Hot-key sampling against real Redis 7.0 servers.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use jobsvc::jobs::hotkeys::sample::{
    hot_keys, merge_top, parse_monitor_line, HotKey, HotKeyMethod, HotKeyOptions, NodeAddr,
};
use jobsvc::ErrorKind;
use testkit::{cmd_args, require_server, RedisServer, ServerKind};

fn node(srv: &RedisServer) -> NodeAddr {
    NodeAddr {
        addr: srv.addr().to_string(),
        user: None,
        password: None,
    }
}

fn opts(method: HotKeyMethod, duration: Duration, top: usize) -> HotKeyOptions {
    HotKeyOptions {
        duration,
        top,
        method,
        scan_count: 100,
    }
}

fn run(node: &NodeAddr, o: &HotKeyOptions) -> jobsvc::Result<Vec<HotKey>> {
    let mut last = 0.0;
    let r = hot_keys(node, o, &AtomicBool::new(false), &mut |f| {
        assert!(
            (0.0..=1.0).contains(&f) && f >= last,
            "progress {last} -> {f}"
        );
        last = f;
    });
    if r.is_ok() {
        assert_eq!(last, 1.0);
    }
    r
}

#[test]
fn monitor_finds_the_hot_key_at_a_plausible_rate() {
    let Some(bin) = require_server(ServerKind::Redis70) else {
        return;
    };
    let srv = bin.start(&[]).unwrap();
    let mut c = srv.client();
    let mut load: Vec<Vec<Vec<u8>>> = vec![cmd_args!["SET", "hot:1", "x"]];
    load.extend((0..200).map(|i| cmd_args!["SET", format!("other:{i}"), "y"]));
    c.pipeline_must(&load);

    let stop = AtomicBool::new(false);
    let hot_sent = AtomicU64::new(0);
    let found = thread::scope(|s| {
        let sender = s.spawn(|| {
            let mut c = srv.client();
            let t = Instant::now();
            let mut i = 0usize;
            while !stop.load(Ordering::SeqCst) {
                // hot:1 gets 10 GETs for each GET of one of the others.
                for _ in 0..10 {
                    c.must(&["GET", "hot:1"]);
                }
                hot_sent.fetch_add(10, Ordering::SeqCst);
                c.must(&["GET", format!("other:{}", i % 200).as_str()]);
                i += 1;
            }
            t.elapsed()
        });
        thread::sleep(Duration::from_millis(300));
        let before = hot_sent.load(Ordering::SeqCst);
        let t = Instant::now();
        let found = run(
            &node(&srv),
            &opts(HotKeyMethod::Monitor, Duration::from_millis(1500), 10),
        );
        let sent_rate =
            (hot_sent.load(Ordering::SeqCst) - before) as f64 / t.elapsed().as_secs_f64();
        stop.store(true, Ordering::SeqCst);
        sender.join().unwrap();
        (found, sent_rate)
    });
    let (found, sent_rate) = found;
    let found = found.unwrap();
    eprintln!(
        "sent {sent_rate:.0}/s; found {:?}",
        &found[..3.min(found.len())]
    );
    assert!(!found.is_empty());
    let top = &found[0];
    assert_eq!(top.key, b"hot:1", "{found:?}");
    assert_eq!(top.method, "monitor");
    assert_eq!(top.node, srv.addr().to_string());
    assert_eq!(top.slot, analyzer::slot::key_slot(b"hot:1"));
    let ratio = top.hits_per_sec / sent_rate;
    assert!(
        (0.5..=2.0).contains(&ratio),
        "measured {} /s, sent {sent_rate} /s",
        top.hits_per_sec
    );
    assert!(
        top.error_bound >= 0.0 && top.error_bound < top.hits_per_sec / 10.0,
        "{top:?}"
    );
    // Hottest first; other keys far behind.
    assert!(found
        .windows(2)
        .all(|w| w[0].hits_per_sec >= w[1].hits_per_sec));
    assert!(
        found[1..]
            .iter()
            .all(|k| k.hits_per_sec < top.hits_per_sec / 20.0),
        "{found:?}"
    );
}

#[test]
fn monitor_keys_round_trip_exactly_and_only_keys_count() {
    let Some(bin) = require_server(ServerKind::Redis70) else {
        return;
    };
    let srv = bin.start(&[]).unwrap();
    let keys: Vec<Vec<u8>> = vec![
        b"with space".to_vec(),
        b"quote\"in \\ back".to_vec(),
        b"nl\nCR\rtab\t\x07\x08".to_vec(),
        b"\x00\xff\x80bin".to_vec(),
        "caf\u{e9} \u{1F525}".as_bytes().to_vec(),
        b"{tag}x".to_vec(),
        b"12345".to_vec(),
    ];
    let stop = AtomicBool::new(false);
    let found = thread::scope(|s| {
        s.spawn(|| {
            let mut c = srv.client();
            while !stop.load(Ordering::SeqCst) {
                // Key i is read i + 2 times per round, so the order is known;
                // values and other arguments must not count as keys.
                for (i, k) in keys.iter().enumerate() {
                    for _ in 0..i + 2 {
                        c.must(&[&b"GET"[..], &k[..]]);
                    }
                }
                c.must(&[&b"MSET"[..], b"m:a", b"value:not-a-key", b"m:b", b"12"]);
                c.must(&[&b"MGET"[..], b"m:a", b"m:b"]);
                c.must(&["PING"]);
                c.must(&["SET", "s:key", "value:also-not", "EX", "100"]);
                thread::sleep(Duration::from_millis(5));
            }
        });
        thread::sleep(Duration::from_millis(200));
        let r = run(
            &node(&srv),
            &opts(HotKeyMethod::Monitor, Duration::from_millis(1200), 50),
        );
        stop.store(true, Ordering::SeqCst);
        r
    })
    .unwrap();
    let names: Vec<&[u8]> = found.iter().map(|k| &k.key[..]).collect();
    for k in &keys {
        assert!(
            names.contains(&&k[..]),
            "{:?} missing from {found:?}",
            String::from_utf8_lossy(k)
        );
    }
    // Binary-exact order: the most-read test key first.
    let pos = |k: &[u8]| names.iter().position(|n| *n == k).unwrap();
    for w in keys.windows(2) {
        assert!(pos(&w[1]) < pos(&w[0]), "{names:?}");
    }
    for k in [&b"m:a"[..], b"m:b", b"s:key"] {
        assert!(names.contains(&k), "{names:?}");
    }
    // m:a is named by MSET and MGET: twice per round, like the first test key.
    let rate = |k: &[u8]| found[pos(k)].hits_per_sec;
    assert!(
        (rate(b"m:a") / rate(&keys[0]) - 1.0).abs() < 0.3,
        "{found:?}"
    );
    for not_key in [
        &b"value:not-a-key"[..],
        b"value:also-not",
        b"12",
        b"100",
        b"EX",
        b"PING",
        b"GET",
    ] {
        assert!(
            !names.contains(&not_key),
            "{:?} counted",
            String::from_utf8_lossy(not_key)
        );
    }
    assert_eq!(found[pos(b"{tag}x")].slot, analyzer::slot::key_slot(b"tag"));
}

#[test]
fn monitor_line_parsing() {
    let line =
        br#"+1700000000.123456 [3 127.0.0.1:51234] "MSET" "a b" "\"q\"" "\x00\xfe\\" "\r\n\t\a\b""#;
    assert_eq!(
        parse_monitor_line(line).unwrap(),
        vec![
            b"MSET".to_vec(),
            b"a b".to_vec(),
            b"\"q\"".to_vec(),
            b"\x00\xfe\\".to_vec(),
            b"\r\n\t\x07\x08".to_vec()
        ]
    );
    assert!(parse_monitor_line(b"+OK").is_none());
    assert!(parse_monitor_line(br#"+1.0 [0 lua] "unterminated"#).is_none());
}

#[test]
fn lfu_counters_rank_the_hot_key_first_and_auto_picks_lfu() {
    let Some(bin) = require_server(ServerKind::Redis70) else {
        return;
    };
    let srv = bin.start(&["--maxmemory-policy", "allkeys-lfu"]).unwrap();
    let mut c = srv.client();
    let mut load: Vec<Vec<Vec<u8>>> = (0..500)
        .map(|i| cmd_args!["SET", format!("k:{i}"), "v"])
        .collect();
    load.extend((0..50).map(|i| cmd_args!["HSET", format!("h:{i}"), "f", "v"]));
    c.pipeline_must(&load);
    // A few keys in another db count too.
    c.must(&["SELECT", "2"]);
    c.must(&["SET", "db2:key", "v"]);
    c.must(&["SELECT", "0"]);
    let once: Vec<Vec<Vec<u8>>> = (0..500)
        .map(|i| cmd_args!["GET", format!("k:{i}")])
        .collect();
    c.pipeline_must(&once);
    let hot: Vec<Vec<Vec<u8>>> = (0..3000).map(|_| cmd_args!["GET", "k:77"]).collect();
    c.pipeline_must(&hot);
    let warm: Vec<Vec<Vec<u8>>> = (0..300).map(|_| cmd_args!["HGET", "h:3", "f"]).collect();
    c.pipeline_must(&warm);

    let found = run(
        &node(&srv),
        &opts(HotKeyMethod::Auto, Duration::from_secs(10), 5),
    )
    .unwrap();
    eprintln!("{found:?}");
    assert_eq!(found.len(), 5);
    assert!(found.iter().all(|k| k.method == "lfu"), "{found:?}");
    assert_eq!(found[0].key, b"k:77", "{found:?}");
    assert_eq!(found[1].key, b"h:3", "{found:?}");
    assert!(
        found[0].hits_per_sec > found[1].hits_per_sec
            && found[1].hits_per_sec > found[2].hits_per_sec
    );
    assert!(found
        .iter()
        .all(|k| k.error_bound >= 0.0 && k.error_bound <= k.hits_per_sec));
    // 3000 hits in the last minute: the burst reading is of that order.
    assert!(
        (10.0..=200.0).contains(&found[0].hits_per_sec),
        "{:?}",
        found[0]
    );
    // The same through Lfu explicitly.
    let lfu = run(
        &node(&srv),
        &opts(HotKeyMethod::Lfu, Duration::from_secs(10), 5),
    )
    .unwrap();
    assert_eq!(lfu[0].key, b"k:77");
}

#[test]
fn lfu_on_a_node_without_lfu_policy_is_refused_and_auto_monitors() {
    let Some(bin) = require_server(ServerKind::Redis70) else {
        return;
    };
    let srv = bin.start(&[]).unwrap();
    srv.client().must(&["SET", "a", "1"]);
    let e = run(
        &node(&srv),
        &opts(HotKeyMethod::Lfu, Duration::from_secs(1), 5),
    )
    .unwrap_err();
    assert!(!e.is_transient(), "{e}");
    assert!(e.message.contains("LFU"), "{e}");
    let stop = AtomicBool::new(false);
    let found = thread::scope(|s| {
        s.spawn(|| {
            let mut c = srv.client();
            while !stop.load(Ordering::SeqCst) {
                c.must(&["GET", "a"]);
                thread::sleep(Duration::from_millis(2));
            }
        });
        let r = run(
            &node(&srv),
            &opts(HotKeyMethod::Auto, Duration::from_millis(500), 5),
        );
        stop.store(true, Ordering::SeqCst);
        r
    })
    .unwrap();
    assert_eq!(found[0].key, b"a");
    assert_eq!(found[0].method, "monitor");
}

#[test]
fn cancel_stops_monitor_and_lfu() {
    let Some(bin) = require_server(ServerKind::Redis70) else {
        return;
    };
    let srv = bin.start(&[]).unwrap();
    let n = node(&srv);
    // Set beforehand.
    let e = hot_keys(
        &n,
        &opts(HotKeyMethod::Monitor, Duration::from_secs(5), 5),
        &AtomicBool::new(true),
        &mut |_| {},
    )
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Conflict, "{e}");
    // Set during a 20 s MONITOR window.
    let cancel = AtomicBool::new(false);
    let t = Instant::now();
    let e = thread::scope(|s| {
        s.spawn(|| {
            thread::sleep(Duration::from_millis(400));
            cancel.store(true, Ordering::SeqCst);
        });
        hot_keys(
            &n,
            &opts(HotKeyMethod::Monitor, Duration::from_secs(20), 5),
            &cancel,
            &mut |_| {},
        )
        .unwrap_err()
    });
    assert_eq!(e.kind, ErrorKind::Conflict, "{e}");
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    // The node is fine afterwards.
    assert_eq!(srv.client().must(&["PING"]).as_str(), Some("PONG"));
}

#[test]
fn bad_password_and_refused_port() {
    let Some(bin) = require_server(ServerKind::Redis70) else {
        return;
    };
    let srv = bin.start(&[]).unwrap();
    srv.client().must(&["CONFIG", "SET", "requirepass", "pw"]);
    let mut n = node(&srv);
    n.password = Some("nope".into());
    let e = run(&n, &opts(HotKeyMethod::Auto, Duration::from_millis(200), 5)).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Internal, "{e}");
    n.password = Some("pw".into());
    run(&n, &opts(HotKeyMethod::Auto, Duration::from_millis(200), 5)).unwrap();
    drop(srv);
    let e = run(&n, &opts(HotKeyMethod::Auto, Duration::from_millis(200), 5)).unwrap_err();
    assert!(e.is_transient(), "{e}");
}

#[test]
fn merge_keeps_the_hottest_over_nodes() {
    let k = |key: &str, node: &str, rate: f64| HotKey {
        key: key.as_bytes().to_vec(),
        node: node.into(),
        slot: 0,
        hits_per_sec: rate,
        method: "monitor",
        error_bound: 0.0,
    };
    let merged = merge_top(
        vec![
            vec![k("a", "n1", 10.0), k("b", "n1", 1.0)],
            vec![k("c", "n2", 5.0), k("d", "n2", 7.0)],
            vec![],
        ],
        3,
    );
    let keys: Vec<&[u8]> = merged.iter().map(|h| &h.key[..]).collect();
    assert_eq!(keys, vec![&b"a"[..], b"d", b"c"]);
    assert!(merge_top(vec![], 5).is_empty());
}
