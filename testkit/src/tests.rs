//! Real-server tests: each installed server kind is started, used, saved and stopped.

use std::path::Path;

use crate::*;

fn pid_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Start, SET/GET, typed replies, SAVE, magic check, restart from the RDB, stop.
fn exercise(kind: ServerKind) {
    let Some(bin) = require_server(kind) else {
        return;
    };
    assert!(
        !bin.version().is_empty(),
        "{kind}: no version from --version"
    );
    let srv = bin
        .start(&[])
        .unwrap_or_else(|e| panic!("{kind}: start failed: {e}"));
    assert_eq!(srv.version(), bin.version(), "{kind}: INFO vs --version");
    let (pid, dir) = (srv.pid(), srv.dir().to_path_buf());
    assert!(pid_alive(pid));
    assert!(dir.is_dir());
    assert_eq!(srv.addr().port(), srv.port());

    let mut c = srv.client();
    assert_eq!(
        c.cmd(&["SET", "k", "v"]).unwrap(),
        Reply::Status("OK".into())
    );
    assert_eq!(c.cmd(&["GET", "k"]).unwrap().as_bytes(), Some(&b"v"[..]));
    assert!(c.cmd(&["GET", "missing"]).unwrap().is_nil());
    assert!(c.cmd(&["NOSUCHCOMMAND"]).unwrap().is_error());
    let bin_key = b"bin\x00\xff".to_vec();
    c.must(&cmd_args!["SET", bin_key, b"\r\n\x00".to_vec()]);

    // Typed replies the other tests rely on.
    c.must(&["HSET", "h", "f1", "v1", "f2", "v2"]);
    let h = c.must(&["HGETALL", "h"]);
    assert_eq!(h.get_field("f2").and_then(Reply::as_str), Some("v2"));
    assert_eq!(h.into_pairs().unwrap().len(), 2);
    let small_hash = if bin.major() >= 7 {
        "listpack"
    } else {
        "ziplist"
    };
    assert_eq!(
        c.must(&["OBJECT", "ENCODING", "h"]).as_str(),
        Some(small_hash)
    );
    assert!(
        c.must(&["MEMORY", "USAGE", "h", "SAMPLES", "0"])
            .as_int()
            .unwrap()
            > 0
    );
    c.must(&["ZADD", "z", "1.5", "a", "-inf", "b"]);
    let z = c
        .must(&["ZRANGE", "z", "0", "-1", "WITHSCORES"])
        .into_pairs()
        .unwrap();
    assert_eq!(z[0].0.as_str(), Some("b"));
    assert_eq!(z[0].1.as_f64(), Some(f64::NEG_INFINITY));
    assert_eq!(z[1].1.as_f64(), Some(1.5));
    c.must(&["XADD", "s", "1-1", "f", "v"]);
    c.must(&["XGROUP", "CREATE", "s", "g", "0"]);
    c.must(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "c1",
        "COUNT",
        "1",
        "STREAMS",
        "s",
        ">",
    ]);
    let x = c.must(&["XINFO", "STREAM", "s", "FULL"]);
    assert_eq!(x.get_field("length").and_then(Reply::as_int), Some(1));
    let groups = x.get_field("groups").and_then(Reply::as_array).unwrap();
    assert_eq!(
        groups[0].get_field("name").and_then(Reply::as_str),
        Some("g")
    );
    c.must(&["PEXPIRE", "k", "100000"]);
    if bin.major() >= 7 {
        assert!(c.must(&["PEXPIRETIME", "k"]).as_int().unwrap() > 0);
        c.must(&["DEBUG", "OBJECT", "h"]); // --enable-debug-command yes took effect
    } else {
        assert!(c.cmd(&["PEXPIRETIME", "k"]).unwrap().is_error());
    }
    let scan = c.must(&["SCAN", "0", "COUNT", "100"]).into_array().unwrap();
    assert_eq!(scan[0].as_int(), Some(0));
    assert_eq!(scan[1].as_array().unwrap().len(), 5);

    // Pipelined bulk load.
    let cmds: Vec<Vec<Vec<u8>>> = (0..20_000)
        .map(|i| cmd_args!["SET", format!("key:{i}"), i.to_string()])
        .collect();
    let replies = c.pipeline_must(&cmds);
    assert_eq!(replies.len(), 20_000);
    assert!(replies.iter().all(|r| r == &Reply::Status("OK".into())));
    let mixed = c
        .pipeline(&[vec!["GET", "key:7"], vec!["INCR", "h"], vec!["DBSIZE"]])
        .unwrap();
    assert_eq!(mixed[0].as_int(), Some(7));
    assert!(mixed[1].is_error());
    assert_eq!(mixed[2].as_int(), Some(20_005));

    if kind == ServerKind::Redis74Stack {
        let mods = format!("{:?}", c.must(&["MODULE", "LIST"]));
        for m in ["ReJSON", "bf", "timeseries", "search"] {
            assert!(mods.contains(m), "module {m} not loaded: {mods}");
        }
        c.must(&["JSON.SET", "j", "$", r#"{"a":[1,2]}"#]);
        c.must(&["BF.ADD", "bf", "x"]);
        c.must(&["TS.ADD", "ts", "1", "2.5"]);
        c.must(&["HSET", "hfe", "f", "v"]);
        c.must(&["HEXPIRE", "hfe", "1000", "FIELDS", "1", "f"]);
    }

    let rdb = srv.save();
    assert_eq!(rdb, srv.rdb_path());
    let bytes = std::fs::read(&rdb).unwrap();
    assert!(
        bytes.starts_with(kind.rdb_magic()),
        "{kind}: {:?}",
        String::from_utf8_lossy(&bytes[..9])
    );
    eprintln!(
        "{kind}: {} wrote {} ({} bytes)",
        srv.version(),
        String::from_utf8_lossy(&bytes[..9]),
        bytes.len()
    );

    // Load it back into a second server.
    let srv2 = bin.start_with_rdb(&rdb, &[]).unwrap();
    assert_ne!(srv2.port(), srv.port());
    let mut c2 = srv2.client();
    assert_eq!(c2.must(&["DBSIZE"]).as_int(), c.must(&["DBSIZE"]).as_int());
    assert_eq!(
        c2.must(&cmd_args!["GET", bin_key]).as_bytes(),
        Some(&b"\r\n\x00"[..])
    );
    let pid2 = srv2.pid();
    srv2.stop();
    assert!(!pid_alive(pid2));

    drop(c);
    drop(srv);
    assert!(!pid_alive(pid), "{kind}: pid {pid} still alive after drop");
    if std::env::var_os("RDBSCOPE_KEEP_TMP").is_none() {
        assert!(!dir.exists(), "{kind}: {} not removed", dir.display());
    }
}

#[test]
fn redis70() {
    exercise(ServerKind::Redis70);
}

#[test]
fn redis62() {
    exercise(ServerKind::Redis62);
}

#[test]
fn valkey9() {
    exercise(ServerKind::Valkey9);
}

#[test]
fn redis74stack() {
    exercise(ServerKind::Redis74Stack);
}

#[test]
fn extra_args_win_and_bad_args_fail_fast() {
    let Some(bin) = require_server(ServerKind::Redis70) else {
        return;
    };
    let srv = bin
        .start(&[
            "--maxmemory-policy",
            "allkeys-lfu",
            "--hash-max-listpack-entries",
            "1",
        ])
        .unwrap();
    let mut c = srv.client();
    let cfg = c.must(&["CONFIG", "GET", "maxmemory-policy"]);
    assert_eq!(
        cfg.get_field("maxmemory-policy").and_then(Reply::as_str),
        Some("allkeys-lfu")
    );
    c.must(&["HSET", "h", "a", "1", "b", "2"]);
    assert_eq!(
        c.must(&["OBJECT", "ENCODING", "h"]).as_str(),
        Some("hashtable")
    );
    assert!(c.must(&["OBJECT", "FREQ", "h"]).as_int().is_some());

    let t = std::time::Instant::now();
    let err = bin
        .start(&["--no-such-directive", "x"])
        .unwrap_err()
        .to_string();
    assert!(err.contains("no-such-directive"), "{err}");
    assert!(t.elapsed() < std::time::Duration::from_secs(5));
}

#[test]
fn modules_can_be_dropped() {
    let Some(bin) = require_server(ServerKind::Redis74Stack) else {
        return;
    };
    assert_eq!(bin.modules.len(), 5, "{:?}", bin.modules);
    let srv = bin.without_modules().start(&[]).unwrap();
    let list = srv.client().must(&["MODULE", "LIST"]).into_array().unwrap();
    assert!(list.is_empty());
}

#[test]
fn many_servers_in_parallel() {
    let bins = require_all_servers();
    let handles: Vec<_> = (0..8)
        .map(|i| {
            let bin = bins.get(i % bins.len().max(1)).cloned();
            std::thread::spawn(move || {
                let Some(bin) = bin else { return };
                let srv = bin.without_modules().start(&[]).unwrap();
                srv.client().must(&["SET", "i", &i.to_string()]);
                assert_eq!(srv.client().must(&["GET", "i"]).as_int(), Some(i as i64));
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}

#[test]
fn temp_dir_removed_on_drop() {
    let t = temp_dir("unit test/tag");
    let p = t.path().to_path_buf();
    assert!(p.is_dir() && p.starts_with(std::env::temp_dir()));
    std::fs::write(t.join("f"), b"x").unwrap();
    let t2 = temp_dir("unit test/tag");
    assert_ne!(t2.path(), t.path());
    drop(t);
    if std::env::var_os("RDBSCOPE_KEEP_TMP").is_none() {
        assert!(!p.exists());
    }
}

#[test]
fn corpus_lookup_never_panics() {
    let files = corpus_files();
    if corpus_dir().is_some() {
        assert!(!files.is_empty());
        assert!(files.windows(2).all(|w| w[0] < w[1]));
        assert!(files.iter().all(|f| f.extension().unwrap() == "rdb"));
    }
}

#[test]
fn kinds() {
    let names: Vec<_> = ServerKind::ALL.iter().map(|k| k.name()).collect();
    assert_eq!(
        names,
        ["redis62", "redis70", "redis74stack", "redis82", "valkey9"]
    );
    assert_eq!(ServerKind::Valkey9.env_var(), "RDBSCOPE_VALKEY9");
    assert!(workspace_root().join("Cargo.toml").is_file());
}
