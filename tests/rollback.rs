//! Backups before destructive cleanups and their rollback, end to end:
//! `rdbscope serve` as a child process, real Redis nodes (a single node, a
//! master with a replica, a 3-master cluster), every key compared with
//! `DUMP` and `PTTL` before the cleanup and after the rollback.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use testkit::{RedisServer, Reply};

use crate::service::{
    dbsize, master_with_replica, scan_keys, setup_and_redis, slot, small_cluster, Service, Setup,
};

type Cmd = Vec<Vec<u8>>;
/// The admin files and approves in most tests here, and one admin's
/// approval is enough for every ticket: the default policies would ask a
/// cleanup whose plan counts over 100,000 keys for two people.
const SELF: &str =
    "allow_self_approval = true\n[[approval_policies]]\nkind = \"*\"\napprovals = [\"admin\"]\n";
/// Per key: its `DUMP` payload and absolute expire time (-1: none).
pub(crate) type Snapshot = BTreeMap<Vec<u8>, (Vec<u8>, i64)>;

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// `DUMP` and `PTTL` of every key starting with `prefix` on these nodes.
pub(crate) fn snapshot(nodes: &[&RedisServer], prefix: &[u8]) -> Snapshot {
    let mut out = Snapshot::new();
    for n in nodes {
        let mut keys = Vec::new();
        scan_keys(&mut n.client(), |_, k| {
            if k.starts_with(prefix) {
                keys.push(k);
            }
        });
        let mut c = n.client();
        for part in keys.chunks(1000) {
            let cmds: Vec<Cmd> = part
                .iter()
                .flat_map(|k| {
                    [
                        vec![b"DUMP".to_vec(), k.clone()],
                        vec![b"PTTL".to_vec(), k.clone()],
                    ]
                })
                .collect();
            let now = now_ms();
            let replies = c.pipeline_must(&cmds);
            for (k, r) in part.iter().zip(replies.chunks(2)) {
                let dump = r[0].as_bytes().expect("DUMP").to_vec();
                let pttl = r[1].as_int().unwrap();
                let at = if pttl < 0 { -1 } else { now + pttl };
                assert!(out.insert(k.clone(), (dump, at)).is_none(), "key twice");
            }
        }
    }
    out
}

/// The value of `key` as a sorted list of its parts (hash and set
/// iteration order is not kept by `RESTORE`).
fn content(c: &mut testkit::Client, key: &[u8]) -> Vec<Vec<u8>> {
    let t = c.must(&[&b"TYPE"[..], key]);
    let cmd: Vec<&[u8]> = match t.as_str().unwrap() {
        "string" => vec![b"GET", key],
        "list" => vec![b"LRANGE", key, b"0", b"-1"],
        "set" => vec![b"SMEMBERS", key],
        "zset" => vec![b"ZRANGE", key, b"0", b"-1", b"WITHSCORES"],
        "hash" => vec![b"HGETALL", key],
        "stream" => vec![b"XRANGE", key, b"-", b"+"],
        other => panic!("type {other}"),
    };
    let r = c.must(&cmd);
    let mut parts: Vec<Vec<u8>> = match &r {
        Reply::Array(a) => a.iter().map(|x| format!("{x:?}").into_bytes()).collect(),
        other => vec![format!("{other:?}").into_bytes()],
    };
    if matches!(t.as_str().unwrap(), "hash") {
        let mut pairs: Vec<Vec<u8>> = parts.chunks(2).map(|p| p.concat()).collect();
        pairs.sort();
        return pairs;
    }
    if matches!(t.as_str().unwrap(), "set") {
        parts.sort();
    }
    parts
}

/// Whether `key` on one of `nodes` holds what `dump` held: the payload is
/// restored into a scratch key of the same slot and both are compared.
fn same_content(nodes: &[&RedisServer], key: &[u8], dump: &[u8]) -> bool {
    let mut scratch = b"{".to_vec();
    scratch.extend_from_slice(key);
    scratch.extend_from_slice(b"}:rollback-check");
    for n in nodes {
        let mut c = n.client();
        if c.cmd(&[&b"EXISTS"[..], key]).unwrap().as_int() != Some(1) {
            continue;
        }
        c.must(&[&b"RESTORE"[..], &scratch, b"0", dump, b"REPLACE"]);
        let same = content(&mut c, key) == content(&mut c, &scratch);
        c.must(&[&b"DEL"[..], &scratch]);
        return same;
    }
    false
}

/// Every key of `before` is in `after` with the same `DUMP` (or, for
/// hashes and sets whose iteration order `RESTORE` does not keep, the same
/// content as the `DUMP` taken before) and an expire time within a second;
/// `after` has no other key.
pub(crate) fn assert_same(nodes: &[&RedisServer], before: &Snapshot, after: &Snapshot) {
    let missing: Vec<_> = before.keys().filter(|k| !after.contains_key(*k)).collect();
    let extra: Vec<_> = after.keys().filter(|k| !before.contains_key(*k)).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{} missing (e.g. {:?}), {} extra (e.g. {:?})",
        missing.len(),
        missing.first().map(|k| String::from_utf8_lossy(k)),
        extra.len(),
        extra.first().map(|k| String::from_utf8_lossy(k))
    );
    let mut bad_value = 0;
    let mut bad_ttl = 0;
    for (k, (dump, at)) in before {
        let (d2, at2) = &after[k];
        if dump != d2 && !same_content(nodes, k, dump) {
            bad_value += 1;
            eprintln!("value differs: {}", String::from_utf8_lossy(k));
        }
        if (*at < 0) != (*at2 < 0) || (at - at2).abs() > 1000 {
            bad_ttl += 1;
            eprintln!("TTL differs: {} {at} {at2}", String::from_utf8_lossy(k));
        }
    }
    assert_eq!((bad_value, bad_ttl), (0, 0), "of {} keys", before.len());
}

/// Keys of every type under `prefix`: strings (some with TTLs), lists,
/// sets, sorted sets, small hashes, streams, and `big` collections over
/// the cleanup's `big_elements` (hashes of several MB among them).
pub(crate) fn load_keys(n: usize, big: usize, prefix: &str) -> Vec<Cmd> {
    let mut cmds: Vec<Cmd> = Vec::with_capacity(n + big);
    for i in 0..n {
        let k = format!("{prefix}{i}");
        cmds.push(match i % 10 {
            0..=3 => testkit::cmd_args!["SET", k, format!("value-{i}")],
            4 => testkit::cmd_args![
                "SET",
                k,
                format!("ttl-{i}"),
                "EX",
                (3600 + i % 7200).to_string()
            ],
            5 => testkit::cmd_args!["RPUSH", k, "a", "b", format!("c{i}"), "d"],
            6 => testkit::cmd_args!["SADD", k, "1", "2", format!("m{i}")],
            7 => testkit::cmd_args!["ZADD", k, "1.5", "a", (i as f64 / 3.0).to_string(), "b"],
            8 => testkit::cmd_args!["HSET", k, "f", format!("v{i}"), "g", "2"],
            _ if i % 100 == 9 => {
                testkit::cmd_args!["XADD", k, "*", "f", format!("s{i}")]
            }
            _ => testkit::cmd_args!["SET", k, format!("p-{i}"), "PX", "86400000"],
        });
    }
    for b in 0..big {
        let k = format!("{prefix}big:{b}");
        match b % 4 {
            // A hash of about 3 MB.
            0 => {
                for part in 0..30 {
                    let mut c = testkit::cmd_args!["HSET", k.clone()];
                    for f in 0..1000 {
                        c.push(format!("field:{part}:{f}").into_bytes());
                        c.push(vec![b'x'; 100]);
                    }
                    cmds.push(c);
                }
            }
            1 => {
                let mut c = testkit::cmd_args!["RPUSH", k.clone()];
                c.extend((0..5000).map(|i| format!("item-{i}").into_bytes()));
                cmds.push(c);
            }
            2 => {
                let mut c = testkit::cmd_args!["SADD", k.clone()];
                c.extend((0..5000).map(|i| format!("member-{i}").into_bytes()));
                cmds.push(c);
            }
            _ => {
                let mut c = testkit::cmd_args!["ZADD", k.clone()];
                for i in 0..5000 {
                    c.push(i.to_string().into_bytes());
                    c.push(format!("z-{i}").into_bytes());
                }
                cmds.push(c);
                cmds.push(testkit::cmd_args!["PEXPIRE", k.clone(), "7200000"]);
            }
        }
    }
    cmds
}

pub(crate) fn write(node: &RedisServer, cmds: &[Cmd]) {
    let mut c = node.client();
    for part in cmds.chunks(5000) {
        for r in c.pipeline_must(part) {
            assert!(!matches!(r, Reply::Error(_)), "{r:?}");
        }
    }
}

/// Sends each command to the cluster node that owns its key (args[1]).
fn cluster_write(nodes: &[RedisServer], cmds: Vec<Cmd>) {
    let mut per: Vec<Vec<Cmd>> = vec![Vec::new(); 3];
    for c in cmds {
        let i = match slot(&c[1]) {
            0..=5460 => 0,
            5461..=10922 => 1,
            _ => 2,
        };
        per[i].push(c);
    }
    for (n, cmds) in nodes.iter().zip(per) {
        write(n, &cmds);
    }
}

fn run_ticket(
    svc: &Service,
    who: &str,
    admin: &str,
    kind: &str,
    params: Value,
    secs: u64,
) -> Value {
    let t = svc.ok(
        "POST",
        "/tickets",
        who,
        Some(json!({"type": kind, "params": params})),
    );
    let id = t["id"].as_i64().unwrap();
    svc.ok("POST", &format!("/tickets/{id}/approve"), admin, None);
    let done = svc.wait_state(id, who, &["succeeded", "failed"], secs);
    assert_eq!(done["state"], "succeeded", "{done}\n{}", svc.log_text());
    done
}

/// Files the rollback of `id` as `who` (the API), approves it as `admin`,
/// waits for its end.
fn rollback(svc: &Service, who: &str, admin: &str, id: i64, body: Value, secs: u64) -> Value {
    let t = svc.ok("POST", &format!("/tickets/{id}/rollback"), who, Some(body));
    assert_eq!(t["type"], "restore", "{t}");
    assert_eq!(t["state"], "pending", "a restore waits for approval: {t}");
    assert_eq!(t["params"]["ticket"], id, "{t}");
    let rid = t["id"].as_i64().unwrap();
    svc.ok("POST", &format!("/tickets/{rid}/approve"), admin, None);
    svc.wait_state(rid, who, &["succeeded", "failed"], secs)
}

fn backup_file(setup: &Setup, id: i64, name: &str) -> PathBuf {
    setup
        .reports
        .join(id.to_string())
        .join("report/backup")
        .join(name)
}

fn rdbscope(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_rdbscope"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

/// `rdbscope info` and `dump` read the backup: `keys` keys, all distinct,
/// with a verified checksum.
fn check_backup_readable(path: &std::path::Path, keys: u64) {
    let p = path.to_str().unwrap();
    let (ok, text) = rdbscope(&["info", p, "--json"]);
    assert!(ok, "{text}");
    let info: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(info["keys"], keys, "{info}");
    assert_eq!(info["checksum"], "verified", "{info}");
    let (ok, text) = rdbscope(&["dump", p]);
    assert!(ok, "{}", &text[..text.len().min(2000)]);
    let mut names = std::collections::BTreeSet::new();
    for line in text.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        assert!(names.insert(v["key"].to_string()), "{line} twice");
    }
    assert_eq!(names.len() as u64, keys);
}

/// A delete cleanup's backup is a valid RDB file; its rollback puts every
/// key back with its value and TTL; keys expired by then are skipped and
/// counted; keys that exist again are left (skip), or overwritten by a
/// second rollback with `replace`; the CLI files rollbacks too.
#[test]
fn rollback_of_a_delete_cleanup_on_one_node() {
    let Some((setup, bin)) = setup_and_redis("sqlite") else {
        return;
    };
    let node = bin.start(&[]).unwrap();
    write(&node, &load_keys(3000, 4, "gone:"));
    write(&node, &load_keys(500, 0, "keep:"));
    // Expired by the time of the rollback.
    let short: Vec<Cmd> = (0..20)
        .map(|i| testkit::cmd_args!["SET", format!("gone:short:{i}"), "x", "PX", "2500"])
        .collect();
    write(&node, &short);
    let before = snapshot(&[&node], b"gone:");
    let kept = snapshot(&[&node], b"keep:");
    let admin = setup.init_admin("root");
    let svc = setup.start(1, SELF);
    let alice = svc.add_user(&admin, "alice", "submitter");
    svc.add_local_app(&admin, "shop", "standalone", node.port());
    let params =
        json!({"app": "shop", "patterns": [{"glob": "gone:*"}], "rate": 100000, "batch": 300});
    let plan = svc.ok(
        "POST",
        "/tickets/plan",
        &alice,
        Some(json!({"type": "cleanup", "params": params})),
    );
    assert!(
        plan["plan"]["backup"]["estimated_bytes"].as_u64().unwrap() > 0,
        "{plan}"
    );
    let done = run_ticket(&svc, &alice, &admin, "cleanup", params, 120);
    let id = done["id"].as_i64().unwrap();
    let r = &done["result"];
    assert_eq!(r["deleted"], before.len(), "{r}");
    assert_eq!(r["backup"]["keys"], before.len(), "{r}");
    let path = backup_file(&setup, id, "backup.rdb");
    assert_eq!(
        r["backup"]["bytes"],
        std::fs::metadata(&path).unwrap().len(),
        "{r}"
    );
    assert_eq!(snapshot(&[&node], b"gone:").len(), 0);
    check_backup_readable(&path, before.len() as u64);
    // One key exists again, with another value.
    node.client().must(&["SET", "gone:0", "new"]);
    std::thread::sleep(Duration::from_millis(2600));
    let t = rollback(&svc, &alice, &admin, id, json!({}), 120);
    assert_eq!(t["state"], "succeeded", "{t}\n{}", svc.log_text());
    let res = &t["result"]["restore"];
    assert_eq!(res["skipped_expired"], short.len(), "{t}");
    assert_eq!(res["skipped_existing"], 1, "{t}");
    assert_eq!(res["restored"], before.len() - short.len() - 1, "{t}");
    assert_eq!(t["result"]["verification"]["mismatch_count"], 0, "{t}");
    let mut expected = before.clone();
    expected.retain(|k, _| !k.starts_with(b"gone:short:"));
    let mut after = snapshot(&[&node], b"gone:");
    assert_eq!(
        node.client().must(&["GET", "gone:0"]).as_bytes(),
        Some(&b"new"[..])
    );
    after.insert(b"gone:0".to_vec(), expected[&b"gone:0"[..]].clone());
    assert_same(&[&node], &expected, &after);
    assert_same(&[&node], &kept, &snapshot(&[&node], b"keep:"));
    // `replace` through the CLI: the key gets the backup's value.
    let (ok, text) = rdbscope(&[
        "ticket",
        "rollback",
        &id.to_string(),
        "--conflict",
        "replace",
        "--json",
        "--server",
        &format!("http://127.0.0.1:{}", svc.port),
        "--token",
        &alice,
    ]);
    assert!(ok, "{text}");
    let t: Value = serde_json::from_str(&text).unwrap();
    let rid = t["id"].as_i64().unwrap();
    assert_eq!(t["params"]["conflict"], "replace", "{t}");
    svc.ok("POST", &format!("/tickets/{rid}/approve"), &admin, None);
    let t = svc.wait_state(rid, &alice, &["succeeded", "failed"], 120);
    assert_eq!(t["state"], "succeeded", "{t}");
    assert_same(&[&node], &expected, &snapshot(&[&node], b"gone:"));
    assert_eq!(dbsize(&node) as usize, expected.len() + kept.len());
    // Only a cleanup can be rolled back.
    let (code, _) = svc
        .try_call(
            "POST",
            &format!("/tickets/{rid}/rollback"),
            Some(alice.as_str()),
            None,
        )
        .unwrap();
    assert_eq!(code, 409);
}

/// An `expire` cleanup records the previous TTLs; its rollback gives them
/// back (PERSIST for keys that had none).
#[test]
fn rollback_of_an_expire_cleanup_restores_ttls() {
    expire_and_roll_back("sqlite");
}

/// The same on the PostgreSQL store.
#[test]
fn rollback_of_an_expire_cleanup_on_postgres() {
    expire_and_roll_back("postgres");
}

fn expire_and_roll_back(backend: &str) {
    let Some((setup, bin)) = setup_and_redis(backend) else {
        return;
    };
    let node = bin.start(&[]).unwrap();
    write(&node, &load_keys(2000, 0, "cold:"));
    let before = snapshot(&[&node], b"cold:");
    let admin = setup.init_admin("root");
    let svc = setup.start(1, SELF);
    svc.add_local_app(&admin, "shop", "standalone", node.port());
    let done = run_ticket(
        &svc,
        &admin,
        &admin,
        "cleanup",
        json!({"app": "shop", "patterns": [{"glob": "cold:*"}], "mode": "expire", "expire_secs": [30000, 40000], "rate": 100000}),
        60,
    );
    let id = done["id"].as_i64().unwrap();
    // Keys that already expire within the range are left as they are.
    let selected = done["result"]["selected"].as_u64().unwrap() as usize;
    assert!(selected > 1500, "{done}");
    assert_eq!(done["result"]["backup"]["keys"], selected, "{done}");
    let changed = snapshot(&[&node], b"cold:");
    let persistent = before.values().filter(|(_, at)| *at < 0).count();
    assert!(persistent > 1000, "{persistent}");
    assert_eq!(changed.values().filter(|(_, at)| *at < 0).count(), 0);
    let t = rollback(&svc, &admin, &admin, id, json!({}), 60);
    assert_eq!(t["state"], "succeeded", "{t}\n{}", svc.log_text());
    let res = &t["result"]["restore"];
    assert_eq!(res["persisted"], persistent, "{t}");
    assert_eq!(res["restored"], selected - persistent, "{t}");
    assert_eq!(res["verification"]["mismatch_count"], 0, "{t}");
    assert_same(&[&node], &before, &snapshot(&[&node], b"cold:"));
}

/// On a 3-master cluster, the backup holds every master's keys and the
/// rollback routes each back to the master of its slot.
#[test]
fn rollback_on_a_cluster() {
    let Some(setup) = Setup::new("sqlite") else {
        return;
    };
    let Some(nodes) = small_cluster() else { return };
    cluster_write(&nodes, load_keys(3000, 4, "gone:"));
    let all: Vec<&RedisServer> = nodes.iter().collect();
    let before = snapshot(&all, b"gone:");
    let admin = setup.init_admin("root");
    let svc = setup.start(1, SELF);
    svc.add_local_app(&admin, "c", "cluster", nodes[0].port());
    let done = run_ticket(
        &svc,
        &admin,
        &admin,
        "cleanup",
        json!({"app": "c", "patterns": [{"glob": "gone:*"}], "rate": 100000}),
        120,
    );
    let id = done["id"].as_i64().unwrap();
    assert_eq!(snapshot(&all, b"gone:").len(), 0);
    check_backup_readable(&backup_file(&setup, id, "backup.rdb"), before.len() as u64);
    let t = rollback(&svc, &admin, &admin, id, json!({}), 120);
    assert_eq!(t["state"], "succeeded", "{t}\n{}", svc.log_text());
    assert_same(&all, &before, &snapshot(&all, b"gone:"));
}

/// Migration writes confirmed with WAIT: one replica answers; asking for
/// two is a failure that says so, not a silent success.
#[test]
fn migration_waits_for_replicas() {
    let Some((setup, bin)) = setup_and_redis("sqlite") else {
        return;
    };
    let Some((master, _replica)) = master_with_replica() else {
        return;
    };
    let source = bin.start(&[]).unwrap();
    write(&source, &load_keys(500, 0, "m:"));
    let admin = setup.init_admin("root");
    let svc = setup.start(1, "allow_self_approval = true\nmax_attempts = 1\n");
    svc.add_local_app(&admin, "src", "standalone", source.port());
    svc.add_local_app(&admin, "dst", "replicated", master.port());
    let done = run_ticket(
        &svc,
        &admin,
        &admin,
        "migration",
        json!({"source": "src", "target": "dst", "patterns": [{"glob": "m:*"}], "wait_replicas": 1, "wait_timeout_ms": 5000}),
        60,
    );
    assert!(done["result"]["waits"].as_u64().unwrap() > 0, "{done}");
    let t = svc.ok(
        "POST",
        "/tickets",
        &admin,
        Some(json!({"type": "migration", "params": {"source": "src", "target": "dst", "patterns": [{"glob": "m:*"}], "conflict": "replace", "wait_replicas": 2, "wait_timeout_ms": 300}})),
    );
    let id = t["id"].as_i64().unwrap();
    svc.ok("POST", &format!("/tickets/{id}/approve"), &admin, None);
    let t = svc.wait_state(id, &admin, &["succeeded", "failed"], 60);
    assert_eq!(t["state"], "failed", "{t}");
    assert!(
        t["error"].as_str().unwrap().contains("1 of 2 replica"),
        "{t}"
    );
}

/// A backup older than `backup_retention_days` is deleted at the service's
/// start; rolling back then fails with a clear message.
#[test]
fn expired_backups_are_deleted_and_say_so() {
    let Some((setup, bin)) = setup_and_redis("sqlite") else {
        return;
    };
    let node = bin.start(&[]).unwrap();
    write(&node, &load_keys(100, 0, "old:"));
    let admin = setup.init_admin("root");
    let mut svc = setup.start(1, SELF);
    svc.add_local_app(&admin, "shop", "standalone", node.port());
    let done = run_ticket(
        &svc,
        &admin,
        &admin,
        "cleanup",
        json!({"app": "shop", "patterns": [{"glob": "old:*"}]}),
        60,
    );
    let id = done["id"].as_i64().unwrap();
    svc.kill();
    let path = backup_file(&setup, id, "backup.rdb");
    let f = std::fs::File::options().write(true).open(&path).unwrap();
    f.set_modified(SystemTime::now() - Duration::from_secs(3 * 86_400))
        .unwrap();
    drop(f);
    let svc = setup.start(1, "allow_self_approval = true\nbackup_retention_days = 2\n");
    let deadline = Instant::now() + Duration::from_secs(10);
    while path.exists() {
        assert!(Instant::now() < deadline, "not deleted: {}", svc.log_text());
        std::thread::sleep(Duration::from_millis(100));
    }
    let (code, body) = svc
        .try_call(
            "POST",
            &format!("/tickets/{id}/rollback"),
            Some(admin.as_str()),
            None,
        )
        .unwrap();
    assert_eq!(code, 409, "{body}");
    assert!(
        body.to_string().contains("backup_retention_days = 2"),
        "{body}"
    );
}

/// The big one: a cleanup of 100,000 keys of every type (big collections
/// and TTLs among them) is SIGKILLed twice mid-run, resumed to its end,
/// then rolled back: every key is back with the same `DUMP` and TTL, none
/// is doubled in the backup or missing, nothing else changed.
#[test]
fn cleanup_killed_twice_then_rolled_back() {
    let Some((setup, bin)) = setup_and_redis("sqlite") else {
        return;
    };
    let node = bin.start(&[]).unwrap();
    write(&node, &load_keys(100_000 - 8, 8, "rb:"));
    write(&node, &load_keys(1000, 0, "other:"));
    let before = snapshot(&[&node], b"rb:");
    assert_eq!(before.len(), 100_000);
    let others = snapshot(&[&node], b"other:");
    let total = dbsize(&node);
    let admin = setup.init_admin("root");
    let mut svc = setup.start(1, SELF);
    svc.add_local_app(&admin, "shop", "standalone", node.port());
    let t = svc.ok(
        "POST",
        "/tickets",
        &admin,
        Some(json!({"type": "cleanup", "params": {"app": "shop", "patterns": [{"glob": "rb:*"}], "rate": 8000, "batch": 500}})),
    );
    let id = t["id"].as_i64().unwrap();
    svc.ok("POST", &format!("/tickets/{id}/approve"), &admin, None);
    // Killed at about a quarter and at about two thirds.
    for (n, at) in [(1, 25_000u64), (2, 65_000)] {
        let deadline = Instant::now() + Duration::from_secs(120);
        while total - dbsize(&node) < at {
            assert!(Instant::now() < deadline, "stuck: {}", svc.log_text());
            std::thread::sleep(Duration::from_millis(20));
        }
        svc.kill();
        let left = dbsize(&node) - others.len() as u64;
        assert!(left > 10_000, "kill {n} came too late ({left} left)");
        svc = setup.start(1, SELF);
    }
    let done = svc.wait_state(id, &admin, &["succeeded", "failed"], 300);
    assert_eq!(done["state"], "succeeded", "{done}\n{}", svc.log_text());
    let r = &done["result"];
    assert_eq!(r["resumes"], 2, "{r}");
    assert_eq!(r["deleted"], 100_000, "{r}");
    assert_eq!(
        r["backup"]["keys"], 100_000,
        "none doubled, none missing: {r}"
    );
    assert_eq!(dbsize(&node), others.len() as u64);
    check_backup_readable(&backup_file(&setup, id, "backup.rdb"), 100_000);
    let t = rollback(
        &svc,
        &admin,
        &admin,
        id,
        json!({"rate": 50000, "batch": 500}),
        300,
    );
    assert_eq!(t["state"], "succeeded", "{t}\n{}", svc.log_text());
    assert_eq!(t["result"]["restore"]["restored"], 100_000, "{t}");
    assert_same(&[&node], &before, &snapshot(&[&node], b"rb:"));
    assert_same(&[&node], &others, &snapshot(&[&node], b"other:"));
    assert_eq!(dbsize(&node), total);
}
