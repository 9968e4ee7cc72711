//! Fetching snapshots from real servers by acting as a replica, and from
//! scripted fake nodes for the protocol corners real servers rarely show.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use jobsvc::replica::{fetch_rdb, FetchOptions, FetchedRdb, Framing, SyncCommand};
use jobsvc::ErrorKind;
use rdb_parser::{Rdb, Record, Scratch};
use testkit::{cmd_args, require_server, RedisServer, ServerBin, ServerKind, TempDir};

const BIG: usize = 300_000;

/// A few thousand keys of several types, and one big string so that the
/// payload spans many reads.
fn fill(srv: &RedisServer) -> i64 {
    let mut c = srv.client();
    let mut cmds: Vec<Vec<Vec<u8>>> = Vec::new();
    for i in 0..2000 {
        cmds.push(cmd_args!["SET", format!("str:{i}"), format!("value-{i}")]);
    }
    for i in 0..300 {
        cmds.push(cmd_args![
            "HSET",
            format!("hash:{i}"),
            "f1",
            "v1",
            "f2",
            i.to_string(),
            "f3",
            "x"
        ]);
        cmds.push(cmd_args![
            "RPUSH",
            format!("list:{i}"),
            "a",
            "b",
            "c",
            i.to_string()
        ]);
        cmds.push(cmd_args![
            "SADD",
            format!("set:{i}"),
            "m1",
            "m2",
            i.to_string()
        ]);
        cmds.push(cmd_args!["ZADD", format!("zset:{i}"), "1", "a", "2.5", "b"]);
    }
    cmds.push(cmd_args!["SET", "int", "12345"]);
    cmds.push(cmd_args!["SET", "big", "x".repeat(BIG)]);
    cmds.push(cmd_args!["XADD", "stream", "*", "f", "v"]);
    c.pipeline_must(&cmds);
    c.must(&["DBSIZE"]).as_int().unwrap()
}

/// A node of `bin` with diskless sync `diskless` ("yes"/"no") after
/// `delay` seconds, filled; and its key count.
fn filled(bin: &ServerBin, diskless: &str, delay: &str) -> (RedisServer, i64) {
    let srv = bin
        .start(&[
            "--repl-diskless-sync",
            diskless,
            "--repl-diskless-sync-delay",
            delay,
        ])
        .unwrap();
    let n = fill(&srv);
    (srv, n)
}

/// A temp dir, and `snap.rdb` in it.
fn snap_dest() -> (TempDir, PathBuf) {
    let dir = testkit::temp_dir("fetch");
    let dest = dir.join("snap.rdb");
    (dir, dest)
}

fn dbsize(srv: &RedisServer) -> i64 {
    srv.client().must(&["DBSIZE"]).as_int().unwrap()
}

/// Parses the file; checks the key count and a few values.
fn check_rdb(path: &Path, expect_keys: i64, magic: &[u8]) {
    let data = std::fs::read(path).unwrap();
    assert!(
        data.starts_with(magic),
        "magic {:?}",
        String::from_utf8_lossy(&data[..9.min(data.len())])
    );
    let rdb = Rdb::new(&data).unwrap();
    let mut scratch = Scratch::new();
    let mut keys = 0i64;
    let mut strings: HashMap<Vec<u8>, Vec<u8>> = HashMap::new();
    let mut counts: HashMap<Vec<u8>, u64> = HashMap::new();
    for r in rdb.records() {
        if let Record::Entry(e) = r.unwrap() {
            keys += 1;
            let mut kb = Vec::new();
            let key = e.key.bytes(&mut kb).unwrap().to_vec();
            if key == b"str:42" || key == b"big" || key == b"int" {
                let mut vb = Vec::new();
                strings.insert(
                    key.clone(),
                    e.value
                        .as_string()
                        .unwrap()
                        .bytes(&mut vb)
                        .unwrap()
                        .to_vec(),
                );
            }
            if key == b"hash:7" || key == b"list:9" || key == b"zset:3" {
                counts.insert(key, e.value.element_count(&mut scratch).unwrap());
            }
        }
    }
    assert_eq!(keys, expect_keys, "keys in {}", path.display());
    assert_eq!(strings[&b"str:42"[..]], b"value-42");
    assert_eq!(strings[&b"int"[..]], b"12345");
    assert_eq!(strings[&b"big"[..]].len(), BIG);
    assert_eq!(counts[&b"hash:7"[..]], 3);
    assert_eq!(counts[&b"list:9"[..]], 4);
    assert_eq!(counts[&b"zset:3"[..]], 2);
}

fn fetch(addr: impl ToString, dest: &Path) -> jobsvc::Result<FetchedRdb> {
    let mut opts = FetchOptions::new(addr.to_string());
    opts.read_timeout = Duration::from_secs(20);
    fetch_with(&opts, dest)
}

fn fetch_with(opts: &FetchOptions, dest: &Path) -> jobsvc::Result<FetchedRdb> {
    let mut last = (0u64, None);
    let r = fetch_rdb(
        opts,
        dest,
        &mut |n, t| last = (n, t),
        &AtomicBool::new(false),
    );
    if let Ok(f) = &r {
        assert_eq!(
            last.0, f.bytes,
            "the last progress call reports the whole size"
        );
        if let Framing::Length(n) = f.framing {
            assert_eq!(last.1, Some(n));
            assert_eq!(n, f.bytes);
        }
    }
    r
}

/// Nothing but `name` in `dir` (no temp files left).
fn only_file(dir: &Path, name: Option<&str>) {
    let names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, name.map(|n| vec![n.to_string()]).unwrap_or_default());
}

#[test]
fn disk_based_snapshot_from_redis70() {
    let Some(bin) = require_server(ServerKind::Redis70) else {
        return;
    };
    let srv = bin.start(&["--repl-diskless-sync", "no"]).unwrap();
    let n = fill(&srv);
    let (dir, dest) = snap_dest();
    let t = Instant::now();
    let f = fetch(srv.addr(), &dest).unwrap();
    assert!(matches!(f.framing, Framing::Length(_)), "{f:?}");
    assert_eq!(f.command, SyncCommand::Psync);
    assert!(f.rdb_only, "Redis 7.0 takes rdb-only");
    assert_eq!(f.replid.as_deref().map(str::len), Some(40));
    assert!(f.offset.is_some());
    assert_eq!(f.bytes, std::fs::metadata(&dest).unwrap().len());
    check_rdb(&dest, n, b"REDIS");
    only_file(dir.path(), Some("snap.rdb"));
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    // rdb-only: the node did not keep us as a replica.
    thread::sleep(Duration::from_millis(300));
    let info = srv.client().must(&["INFO", "replication"]);
    assert!(
        info.as_str().unwrap().contains("connected_slaves:0"),
        "{info:?}"
    );
}

#[test]
fn diskless_snapshot_from_redis70() {
    let Some(bin) = require_server(ServerKind::Redis70) else {
        return;
    };
    let (srv, n) = filled(&bin, "yes", "0");
    let (dir, dest) = snap_dest();
    let f = fetch(srv.addr(), &dest).unwrap();
    assert_eq!(f.framing, Framing::Eof);
    assert!(f.rdb_only);
    check_rdb(&dest, n, b"REDIS");
    only_file(dir.path(), Some("snap.rdb"));
}

#[test]
fn diskless_with_delay_waits_through_keepalives() {
    // The node waits 3 s before forking, sending a newline each second
    // meanwhile: a 1.5 s read timeout must not fire.
    let Some(bin) = require_server(ServerKind::Redis70) else {
        return;
    };
    let (srv, n) = filled(&bin, "yes", "3");
    let (_dir, dest) = snap_dest();
    let mut opts = FetchOptions::new(srv.addr().to_string());
    opts.read_timeout = Duration::from_millis(1500);
    let t = Instant::now();
    let f = fetch_with(&opts, &dest).unwrap();
    assert!(t.elapsed() >= Duration::from_secs(2), "{:?}", t.elapsed());
    assert_eq!(f.framing, Framing::Eof);
    check_rdb(&dest, n, b"REDIS");
}

#[test]
fn snapshot_from_a_replica() {
    let Some(bin) = require_server(ServerKind::Redis70) else {
        return;
    };
    let master = bin.start(&[]).unwrap();
    let n = fill(&master);
    let port = master.port().to_string();
    let replica = bin
        .start(&[
            "--replicaof",
            "127.0.0.1",
            &port,
            "--repl-diskless-sync",
            "no",
        ])
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let info = replica.client().must(&["INFO", "replication"]);
        if info.as_str().unwrap().contains("master_link_status:up") && dbsize(&replica) == n {
            break;
        }
        assert!(Instant::now() < deadline, "replica never synced: {info:?}");
        thread::sleep(Duration::from_millis(50));
    }
    let dir = testkit::temp_dir("fetch");
    let dest = dir.join("replica.rdb");
    let f = fetch(replica.addr(), &dest).unwrap();
    assert_eq!(f.command, SyncCommand::Psync);
    check_rdb(&dest, n, b"REDIS");
}

#[test]
fn password_good_bad_missing_and_acl_user() {
    let Some(bin) = require_server(ServerKind::Redis70) else {
        return;
    };
    let srv = bin.start(&["--repl-diskless-sync-delay", "0"]).unwrap();
    let mut c = srv.client();
    // Set after start: the server must answer an unauthenticated PING to be ready.
    c.must(&["CONFIG", "SET", "requirepass", "s3cret"]);
    c.must(&["SET", "k", "v"]);
    c.must(&["ACL", "SETUSER", "fetcher", "on", ">pw2", "~*", "+@all"]);
    let dir = testkit::temp_dir("fetch");
    let dest = dir.join("snap.rdb");

    let mut opts = FetchOptions::new(srv.addr().to_string());
    opts.password = Some("s3cret".into());
    fetch_with(&opts, &dest).unwrap();
    let data = std::fs::read(&dest).unwrap();
    assert!(data.starts_with(b"REDIS"));
    std::fs::remove_file(&dest).unwrap();

    opts.user = Some("fetcher".into());
    opts.password = Some("pw2".into());
    fetch_with(&opts, &dest).unwrap();
    std::fs::remove_file(&dest).unwrap();

    opts.user = None;
    opts.password = Some("wrong".into());
    let e = fetch_with(&opts, &dest).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Internal, "{e}");
    assert!(e.message.contains("authentication"), "{e}");

    opts.password = None;
    let e = fetch_with(&opts, &dest).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Internal, "{e}");
    assert!(e.message.contains("NOAUTH"), "{e}");
    only_file(dir.path(), None);
}

#[test]
fn redis62() {
    let Some(bin) = require_server(ServerKind::Redis62) else {
        return;
    };
    for diskless in ["no", "yes"] {
        let (srv, n) = filled(&bin, diskless, "0");
        let (_dir, dest) = snap_dest();
        let f = fetch(srv.addr(), &dest).unwrap();
        // 6.2.14 already takes `REPLCONF rdb-only` (the fake nodes below
        // cover a node that refuses it).
        assert!(f.rdb_only);
        assert_eq!(f.command, SyncCommand::Psync);
        assert_eq!(
            matches!(f.framing, Framing::Eof),
            diskless == "yes",
            "{f:?}"
        );
        check_rdb(&dest, n, b"REDIS");
    }
}

#[test]
fn valkey9() {
    let Some(bin) = require_server(ServerKind::Valkey9) else {
        return;
    };
    for diskless in ["no", "yes"] {
        let (srv, n) = filled(&bin, diskless, "0");
        let (_dir, dest) = snap_dest();
        let f = fetch(srv.addr(), &dest).unwrap();
        assert!(f.rdb_only);
        // Valkey 9 sends a replica that did not announce its version the
        // Redis-compatible format (`REDIS0011`), not `VALKEY080`.
        let magic: &[u8] = if std::fs::read(&dest).unwrap().starts_with(b"VALKEY") {
            b"VALKEY"
        } else {
            b"REDIS"
        };
        check_rdb(&dest, n, magic);
    }
}

#[test]
fn refused_port_is_transient() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let dir = testkit::temp_dir("fetch");
    let e = fetch(format!("127.0.0.1:{port}"), &dir.join("x.rdb")).unwrap_err();
    assert!(e.is_transient(), "{e}");
    only_file(dir.path(), None);
}

#[test]
fn cancel_set_beforehand() {
    let Some(bin) = require_server(ServerKind::Redis70) else {
        return;
    };
    let srv = bin.start(&[]).unwrap();
    let dir = testkit::temp_dir("fetch");
    let dest = dir.join("x.rdb");
    let opts = FetchOptions::new(srv.addr().to_string());
    let e = fetch_rdb(&opts, &dest, &mut |_, _| {}, &AtomicBool::new(true)).unwrap_err();
    assert!(!e.is_transient(), "{e}");
    assert!(!dest.exists());
    only_file(dir.path(), None);
}

#[test]
fn cancel_during_transfer_leaves_no_file() {
    // A fake node that sends the header and a few bytes, then stalls.
    let (addr, _h) = fake_node(|s, _| {
        s.write_all(
            b"+FULLRESYNC 0123456789012345678901234567890123456789 7\r\n$1000\r\nREDIS0009",
        )
        .unwrap();
        thread::sleep(Duration::from_secs(3));
    });
    let dir = testkit::temp_dir("fetch");
    let dest = dir.join("x.rdb");
    let cancel = AtomicBool::new(false);
    let t = Instant::now();
    let opts = FetchOptions::new(addr);
    let e = thread::scope(|s| {
        s.spawn(|| {
            thread::sleep(Duration::from_millis(500));
            cancel.store(true, std::sync::atomic::Ordering::SeqCst);
        });
        fetch_rdb(&opts, &dest, &mut |_, _| {}, &cancel).unwrap_err()
    });
    assert!(!e.is_transient(), "{e}");
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    only_file(dir.path(), None);
}

// ------------------------------------------------------------ fake nodes

/// A tiny RDB (one key) that the parser accepts.
fn tiny_rdb() -> Vec<u8> {
    let mut file = b"REDIS0009".to_vec();
    file.extend_from_slice(&[0xfe, 0x00, 0x00, 0x01, b'k', 0x01, b'v', 0xff]);
    file.extend_from_slice(&[0; 8]);
    file
}

/// Reads one RESP command (array of bulk strings).
fn read_cmd(r: &mut impl BufRead) -> Option<Vec<String>> {
    let mut line = String::new();
    if r.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let n: usize = line.trim().strip_prefix('*')?.parse().ok()?;
    let mut args = Vec::new();
    for _ in 0..n {
        line.clear();
        r.read_line(&mut line).ok()?;
        let len: usize = line.trim().strip_prefix('$')?.parse().ok()?;
        let mut buf = vec![0; len + 2];
        r.read_exact(&mut buf).ok()?;
        buf.truncate(len);
        args.push(String::from_utf8_lossy(&buf).into_owned());
    }
    Some(args)
}

/// A fake node: refuses `REPLCONF rdb-only` like an old server, answers
/// `+OK` to everything else until `PSYNC` or `SYNC`, then
/// hands the socket and that command to `script`; serves connections until
/// the test ends.
/// Also returns what the client sent after the sync command.
fn fake_node(
    script: impl Fn(&mut TcpStream, &str) + Send + Sync + 'static,
) -> (String, Arc<Mutex<Vec<u8>>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let after = Arc::new(Mutex::new(Vec::new()));
    let after2 = after.clone();
    thread::spawn(move || {
        let script = std::sync::Arc::new(script);
        for s in l.incoming() {
            let Ok(mut s) = s else { return };
            let script = script.clone();
            let after = after2.clone();
            thread::spawn(move || {
                let mut r = BufReader::new(s.try_clone().unwrap());
                while let Some(cmd) = read_cmd(&mut r) {
                    let name = cmd[0].to_ascii_uppercase();
                    if name == "PSYNC" || name == "SYNC" {
                        // Keep what the client sends next (ACKs).
                        let mut drain = r;
                        thread::spawn(move || {
                            let mut b = [0u8; 1024];
                            while let Ok(n @ 1..) = drain.read(&mut b) {
                                after.lock().unwrap().extend_from_slice(&b[..n]);
                            }
                        });
                        script(&mut s, &name);
                        let _ = s.shutdown(std::net::Shutdown::Both);
                        return;
                    }
                    if cmd.get(1).is_some_and(|a| a == "rdb-only") {
                        s.write_all(b"-ERR Unrecognized REPLCONF option: rdb-only\r\n")
                            .unwrap();
                    } else {
                        s.write_all(b"+OK\r\n").unwrap();
                    }
                }
            });
        }
    });
    (addr, after)
}

#[test]
fn eof_mark_straddling_reads_and_trailing_stream() {
    let mark = "abcdefghij0123456789abcdefghij0123456789";
    let (addr, _h) = fake_node(move |s, _| {
        s.write_all(b"+FULLRESYNC 0123456789012345678901234567890123456789 7\r\n\n\n")
            .unwrap();
        thread::sleep(Duration::from_millis(50));
        s.write_all(format!("\n$EOF:{mark}\r\n").as_bytes())
            .unwrap();
        let rdb = tiny_rdb();
        let mut all = rdb.clone();
        all.extend_from_slice(mark.as_bytes());
        all.extend_from_slice(b"*1\r\n$4\r\nPING\r\n");
        // Split inside the mark, with pauses so that reads see the pieces.
        let cut = rdb.len() + 17;
        for piece in [&all[..5], &all[5..cut], &all[cut..cut + 1], &all[cut + 1..]] {
            s.write_all(piece).unwrap();
            s.flush().unwrap();
            thread::sleep(Duration::from_millis(100));
        }
        thread::sleep(Duration::from_secs(2));
    });
    let dir = testkit::temp_dir("fetch");
    let dest = dir.join("x.rdb");
    let f = fetch(addr, &dest).unwrap();
    assert_eq!(f.framing, Framing::Eof);
    assert_eq!(f.offset, Some(7));
    assert_eq!(std::fs::read(&dest).unwrap(), tiny_rdb());
    assert!(!f.rdb_only, "the fake node refuses rdb-only");
}

#[test]
fn psync_refused_falls_back_to_sync() {
    let (addr, _h) = fake_node(|s, cmd| {
        if cmd == "PSYNC" {
            s.write_all(b"-ERR unknown command 'PSYNC'\r\n").unwrap();
            return;
        }
        let rdb = tiny_rdb();
        s.write_all(format!("\n\n${}\r\n", rdb.len()).as_bytes())
            .unwrap();
        s.write_all(&rdb).unwrap();
        s.write_all(b"*1\r\n$4\r\nPING\r\n").unwrap();
        thread::sleep(Duration::from_secs(2));
    });
    let dir = testkit::temp_dir("fetch");
    let dest = dir.join("x.rdb");
    let f = fetch(addr, &dest).unwrap();
    assert_eq!(f.command, SyncCommand::Sync);
    assert_eq!(f.framing, Framing::Length(tiny_rdb().len() as u64));
    assert_eq!(f.replid, None);
    assert_eq!(std::fs::read(&dest).unwrap(), tiny_rdb());
}

#[test]
fn keepalives_reset_the_read_timeout_and_silence_is_transient() {
    let (addr, _h) = fake_node(|s, _| {
        s.write_all(b"+FULLRESYNC 0123456789012345678901234567890123456789 0\r\n")
            .unwrap();
        // 1.6 s of newlines, one every 100 ms, then silence.
        for _ in 0..16 {
            thread::sleep(Duration::from_millis(100));
            s.write_all(b"\n").unwrap();
        }
        thread::sleep(Duration::from_secs(3));
    });
    let dir = testkit::temp_dir("fetch");
    let mut opts = FetchOptions::new(addr);
    opts.read_timeout = Duration::from_millis(500);
    let t = Instant::now();
    let e = fetch_with(&opts, &dir.join("x.rdb")).unwrap_err();
    let took = t.elapsed();
    assert!(e.is_transient(), "{e}");
    assert!(
        took >= Duration::from_millis(1900) && took < Duration::from_secs(3),
        "{took:?}"
    );
    only_file(dir.path(), None);
}

#[test]
fn transient_and_fatal_replies() {
    let (addr, _h) = fake_node(|s, _| {
        s.write_all(b"-LOADING Redis is loading the dataset in memory\r\n")
            .unwrap();
    });
    let dir = testkit::temp_dir("fetch");
    let e = fetch(addr, &dir.join("x.rdb")).unwrap_err();
    assert!(e.is_transient(), "{e}");

    let (addr, _h) = fake_node(|s, _| {
        s.write_all(b"+FULLRESYNC 0123456789012345678901234567890123456789 0\r\n$5\r\nHELLO")
            .unwrap();
        thread::sleep(Duration::from_secs(1));
    });
    let e = fetch(addr, &dir.join("x.rdb")).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Internal, "{e}");
    assert!(e.message.contains("not an RDB"), "{e}");

    // The node goes away mid-transfer.
    let (addr, _h) = fake_node(|s, _| {
        s.write_all(b"+FULLRESYNC 0123456789012345678901234567890123456789 0\r\n$100\r\nREDIS0009")
            .unwrap();
    });
    let e = fetch(addr, &dir.join("x.rdb")).unwrap_err();
    assert!(e.is_transient(), "{e}");
    only_file(dir.path(), None);
}

#[test]
fn acks_during_a_slow_transfer() {
    let (addr, after) = fake_node(|s, _| {
        s.write_all(b"+FULLRESYNC 0123456789012345678901234567890123456789 0\r\n")
            .unwrap();
        let rdb = tiny_rdb();
        s.write_all(format!("${}\r\n", rdb.len()).as_bytes())
            .unwrap();
        // 2.4 s for a few bytes.
        for piece in rdb.chunks(5) {
            s.write_all(piece).unwrap();
            thread::sleep(Duration::from_millis(500));
        }
    });
    let dir = testkit::temp_dir("fetch");
    let dest = dir.join("x.rdb");
    let mut calls = Vec::new();
    let f = fetch_rdb(
        &FetchOptions::new(addr),
        &dest,
        &mut |n, t| calls.push((n, t)),
        &AtomicBool::new(false),
    )
    .unwrap();
    assert_eq!(f.bytes, tiny_rdb().len() as u64);
    let sent = String::from_utf8_lossy(&after.lock().unwrap()).into_owned();
    let acks = sent.matches("REPLCONF\r\n$3\r\nACK\r\n$1\r\n0").count();
    assert!(acks >= 1, "{sent:?}");
    // Progress grows to the known total.
    assert!(calls.len() >= 3, "{calls:?}");
    assert!(calls.windows(2).all(|w| w[0].0 <= w[1].0));
    assert_eq!(calls.last(), Some(&(f.bytes, Some(f.bytes))));
}
