//! Cleanup tickets end to end: `rdbscope serve` as a child process, real
//! Redis nodes (a 3-master cluster, a master with a replica, a single
//! node), whole key sets compared before and after.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use testkit::{RedisServer, Reply};

use crate::service::{
    audit_steps, master_with_replica, scan_keys, setup_and_redis, slot, small_cluster, Service,
    Setup,
};

type Cmd = Vec<Vec<u8>>;

/// Every key of db 0 of these nodes (SCAN, deduplicated).
fn keyset(nodes: &[&RedisServer]) -> BTreeSet<Vec<u8>> {
    let mut out = BTreeSet::new();
    for n in nodes {
        scan_keys(&mut n.client(), |_, k| {
            out.insert(k);
        });
    }
    out
}

/// Sends each command to the cluster node that owns its key (args[1]);
/// `small_cluster` gives node i the i-th third of the slots.
fn cluster_write(nodes: &[RedisServer], cmds: Vec<Cmd>) {
    let mut per: Vec<Vec<Cmd>> = vec![Vec::new(); 3];
    for c in cmds {
        let s = slot(&c[1]);
        let i = if s <= 5460 {
            0
        } else if s <= 10922 {
            1
        } else {
            2
        };
        per[i].push(c);
    }
    for (n, cmds) in nodes.iter().zip(per) {
        n.client().pipeline_must(&cmds);
    }
}

fn submit(svc: &Service, token: &str, params: Value) -> Value {
    svc.ok(
        "POST",
        "/tickets",
        token,
        Some(json!({"type": "cleanup", "params": params})),
    )
}

/// Submits as `who`, approves as `admin`, waits for the end.
fn run_cleanup(svc: &Service, who: &str, admin: &str, params: Value, secs: u64) -> Value {
    let t = submit(svc, who, params);
    let id = t["id"].as_i64().unwrap();
    svc.ok("POST", &format!("/tickets/{id}/approve"), admin, None);
    let done = svc.wait_state(id, who, &["succeeded", "failed"], secs);
    assert_eq!(done["state"], "succeeded", "{done}\n{}", svc.log_text());
    done
}

fn report(svc: &Service, id: i64, token: &str) -> Value {
    serde_json::from_slice(&svc.bytes(&format!("/tickets/{id}/report/cleanup.json"), token))
        .unwrap()
}

fn per_node_sum(report: &Value, field: &str) -> u64 {
    report["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n[field].as_u64().unwrap())
        .sum()
}

/// A prefix among others on a cluster: every matching key gone (big
/// collections included), every other key intact; the plan counts the
/// matching keys live and then from an analysis report.
#[test]
fn cleanup_of_a_prefix_on_a_cluster() {
    let Some(setup) = Setup::new("sqlite") else {
        return;
    };
    let Some(nodes) = small_cluster() else { return };
    let mut cmds: Vec<Cmd> = Vec::new();
    // 3000 keys under `sess:`, of several types, some with a TTL, four of
    // them collections far above big_elements.
    for i in 0..2996 {
        cmds.push(match i % 5 {
            0 => testkit::cmd_args!["SET", format!("sess:{i}"), "v"],
            1 => testkit::cmd_args!["SET", format!("sess:{i}"), "v", "EX", "3600"],
            2 => testkit::cmd_args!["HSET", format!("sess:{i}:h"), "a", "1", "b", "2"],
            3 => testkit::cmd_args!["RPUSH", format!("sess:{i}:l"), "x", "y"],
            _ => testkit::cmd_args!["SADD", format!("sess:{i}:s"), "m"],
        });
    }
    // 3000 others, with look-alike names.
    for i in 0..2996 {
        cmds.push(match i % 4 {
            0 => testkit::cmd_args!["SET", format!("sessile:{i}"), "v"],
            1 => testkit::cmd_args!["SET", format!("sess{i}"), "v", "EX", "3600"],
            2 => testkit::cmd_args!["HSET", format!("user:{i}"), "sess:", "1"],
            _ => testkit::cmd_args!["SET", format!("xsess:{i}"), "v"],
        });
    }
    for (i, key) in [
        "sess:big:hash",
        "sess:big:list",
        "sess:big:set",
        "sess:big:zset",
        "cart:big:hash",
        "cart:big:list",
        "cart:big:set",
        "cart:big:zset",
    ]
    .iter()
    .enumerate()
    {
        for chunk in 0..3 {
            let mut c: Cmd = Vec::new();
            let verb = ["HSET", "RPUSH", "SADD", "ZADD"][i % 4];
            c.push(verb.as_bytes().to_vec());
            c.push(key.as_bytes().to_vec());
            for j in chunk * 500..(chunk + 1) * 500 {
                if verb == "HSET" || verb == "ZADD" {
                    if verb == "ZADD" {
                        c.push(j.to_string().into_bytes());
                        c.push(format!("m{j}").into_bytes());
                    } else {
                        c.push(format!("f{j}").into_bytes());
                        c.push(b"v".to_vec());
                    }
                } else {
                    c.push(format!("m{j}").into_bytes());
                }
            }
            cmds.push(c);
        }
    }
    cluster_write(&nodes, cmds);
    let all: Vec<&RedisServer> = nodes.iter().collect();
    let before = keyset(&all);
    assert_eq!(before.len(), 6000);
    let expected: BTreeSet<Vec<u8>> = before
        .iter()
        .filter(|k| !k.starts_with(b"sess:"))
        .cloned()
        .collect();
    assert_eq!(before.len() - expected.len(), 3000);

    let admin = setup.init_admin("root");
    let svc = setup.start(1, "");
    let alice = svc.add_user(&admin, "alice", "submitter");
    svc.add_local_app(&admin, "shop", "cluster", nodes[0].port());
    let params = json!({"app": "shop", "patterns": [{"prefix": "sess:"}], "rate": 5000, "batch": 200, "big_elements": 1000});

    // No analysis yet: a live count.
    let live = submit(&svc, &alice, params.clone());
    assert_eq!(live["plan"]["source"], "live_scan", "{live}");
    assert_eq!(live["plan"]["keys"], 3000, "{live}");
    assert_eq!(live["plan"]["match"], json!(["sess:*"]));
    assert_eq!(live["plan"]["masters"].as_array().unwrap().len(), 3);
    let live_id = live["id"].as_i64().unwrap();
    svc.ok(
        "POST",
        &format!("/tickets/{live_id}/reject"),
        &admin,
        Some(json!({"reason": "use the analysis"})),
    );

    // With an analysis report: counted in its keys table.
    let a = svc.ok(
        "POST",
        "/tickets",
        &alice,
        Some(json!({"type": "analysis", "params": {"app": "shop"}})),
    );
    let aid = a["id"].as_i64().unwrap();
    svc.ok("POST", &format!("/tickets/{aid}/approve"), &admin, None);
    assert_eq!(
        svc.wait_state(aid, &alice, &["succeeded", "failed"], 120)["state"],
        "succeeded"
    );
    let t = submit(&svc, &alice, params);
    let plan = &t["plan"];
    assert_eq!(plan["source"], "analysis", "{t}");
    assert_eq!(plan["analysis_ticket"], aid);
    assert_eq!(plan["keys"], 3000, "{plan}");
    assert_eq!(plan["big_keys"], 4, "{plan}");
    assert!(plan["memory_bytes"].as_u64().unwrap() > 0);
    let plan_nodes: u64 = plan["per_node"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["keys"].as_u64().unwrap())
        .sum();
    assert_eq!(plan_nodes, 3000);
    assert_eq!(plan["eta_secs"], 1);

    let id = t["id"].as_i64().unwrap();
    svc.ok("POST", &format!("/tickets/{id}/approve"), &admin, None);
    let done = svc.wait_state(id, &alice, &["succeeded", "failed"], 60);
    assert_eq!(done["state"], "succeeded", "{done}\n{}", svc.log_text());
    let after = keyset(&all);
    assert_eq!(after, expected, "the key sets differ");
    let r = &done["result"];
    assert_eq!(r["deleted"], 3000, "{r}");
    assert_eq!(r["big_keys"], 4, "{r}");
    assert!(r["elements_removed"].as_u64().unwrap() >= 4 * 500, "{r}");
    assert_eq!(r["masters"], 3);
    let rep = report(&svc, id, &alice);
    assert_eq!(per_node_sum(&rep, "deleted"), 3000, "{rep}");
    assert_eq!(rep["nodes"].as_array().unwrap().len(), 3);
    let sample = rep["sample"].as_array().unwrap();
    assert_eq!(sample.len(), 100);
    assert!(
        sample
            .iter()
            .all(|s| s["key"].as_str().unwrap().starts_with("sess:")),
        "{rep}"
    );
    assert!(rep["seconds"].as_f64().unwrap() > 0.0);
}

/// SIGKILL mid-cleanup, restart: the job resumes from its checkpoint and
/// ends with exactly the right keys gone and every deletion counted once.
#[test]
fn cleanup_resumes_after_sigkill() {
    let Some(setup) = Setup::new("sqlite") else {
        return;
    };
    let Some((master, replica)) = master_with_replica() else {
        return;
    };
    let cmds: Vec<Cmd> = (0..2000)
        .map(|i| testkit::cmd_args!["SET", format!("tmp:{i}:x"), "v"])
        .collect();
    master.client().pipeline_must(&cmds);
    let before = keyset(&[&master]);
    let expected: BTreeSet<Vec<u8>> = before
        .iter()
        .filter(|k| !k.starts_with(b"tmp:"))
        .cloned()
        .collect();
    assert_eq!(before.len() - expected.len(), 2000);
    let admin = setup.init_admin("root");
    let mut svc = setup.start(1, "");
    let alice = svc.add_user(&admin, "alice", "submitter");
    svc.add_local_app(&admin, "shop", "replicated", master.port());
    let t = submit(
        &svc,
        &alice,
        json!({"app": "shop", "patterns": [{"glob": "tmp:*:x"}], "rate": 400, "batch": 100}),
    );
    assert_eq!(t["plan"]["keys"], 2000, "{t}");
    let id = t["id"].as_i64().unwrap();
    svc.ok("POST", &format!("/tickets/{id}/approve"), &admin, None);
    // Kill once some keys are gone, well before the end.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let left = master.client().must(&["DBSIZE"]).as_int().unwrap() as usize;
        if left < before.len() - 300 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the cleanup did not start: {}",
            svc.log_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    svc.kill();
    let left = master.client().must(&["DBSIZE"]).as_int().unwrap() as usize;
    assert!(
        left > expected.len() + 300,
        "the job finished before the kill ({left} keys left)"
    );
    // A kill can also land just after an UNLINK, before the next
    // checkpoint: made certain here by deleting ten keys and naming them
    // among the checkpoint's pending keys, as the dead attempt would have.
    // The resumed run counts them once (as recovered).
    let gone: Vec<String> = keyset(&[&master])
        .into_iter()
        .filter(|k| k.starts_with(b"tmp:"))
        .take(10)
        .map(|k| String::from_utf8(k).unwrap())
        .collect();
    let hex: Vec<String> = gone
        .iter()
        .map(|k| k.bytes().map(|b| format!("{b:02x}")).collect())
        .collect();
    let script = "import sqlite3, json, sys\n\
                  c = sqlite3.connect(sys.argv[1])\n\
                  (cp,) = c.execute('SELECT checkpoint FROM tickets WHERE id = ?', (int(sys.argv[2]),)).fetchone()\n\
                  cp = json.loads(cp)\n\
                  assert cp['current'], cp\n\
                  cp['pending'] += [h for h in sys.argv[3:] if h not in cp['pending']]\n\
                  c.execute('UPDATE tickets SET checkpoint = ? WHERE id = ?', (json.dumps(cp), int(sys.argv[2])))\n\
                  c.commit()\n";
    let edited = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(setup.dir.join("jobs.db"))
        .arg(id.to_string())
        .args(&hex)
        .output();
    let recovered_at_least = match edited {
        Ok(out) => {
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            for k in &gone {
                master.client().must(&["DEL", k.as_str()]);
            }
            gone.len() as u64
        }
        Err(e) => {
            eprintln!("SKIP (the recovered-keys part): python3: {e}");
            0
        }
    };
    let svc = setup.start(1, "");
    let done = svc.wait_state(id, &alice, &["succeeded", "failed"], 60);
    assert_eq!(done["state"], "succeeded", "{done}\n{}", svc.log_text());
    assert_eq!(keyset(&[&master]), expected);
    let r = &done["result"];
    assert_eq!(r["deleted"], 2000, "every deletion counted once: {r}");
    assert!(
        r["recovered"].as_u64().unwrap() >= recovered_at_least,
        "{r}"
    );
    assert_eq!(r["resumes"], 1, "{r}");
    assert_eq!(done["attempts"], 2, "{done}");
    let steps = audit_steps(&svc, id, &alice);
    assert!(
        steps.contains(&("running".into(), "approved".into(), "rescuer".into())),
        "{steps:?}"
    );
    assert_eq!(steps.last().unwrap().1, "succeeded");
    // The replica followed.
    let deadline = Instant::now() + Duration::from_secs(10);
    while keyset(&[&replica]) != expected {
        assert!(Instant::now() < deadline, "the replica did not follow");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A rate of N keys/s holds within 10 % over the run (keys deleted over
/// the run's own seconds, as the result reports them).
#[test]
fn cleanup_rate_limit_holds() {
    let Some((setup, bin)) = setup_and_redis("sqlite") else {
        return;
    };
    let node = bin.start(&[]).unwrap();
    let cmds: Vec<Cmd> = (0..2500)
        .map(|i| {
            if i < 2000 {
                testkit::cmd_args!["SET", format!("r:{i}"), "v"]
            } else {
                testkit::cmd_args!["SET", format!("keep:{i}"), "v"]
            }
        })
        .collect();
    node.client().pipeline_must(&cmds);
    let admin = setup.init_admin("root");
    let svc = setup.start(1, "");
    let alice = svc.add_user(&admin, "alice", "submitter");
    svc.add_local_app(&admin, "one", "standalone", node.port());
    let rate = 500.0;
    let done = run_cleanup(
        &svc,
        &alice,
        &admin,
        json!({"app": "one", "patterns": [{"prefix": "r:"}], "rate": 500, "batch": 200}),
        60,
    );
    let r = &done["result"];
    assert_eq!(r["deleted"], 2000, "{r}");
    let measured = r["deleted"].as_f64().unwrap() / r["seconds"].as_f64().unwrap();
    assert!(
        (measured - rate).abs() <= rate * 0.1,
        "measured {measured:.1} keys/s for a rate of {rate}: {r}"
    );
    assert!(
        (r["keys_per_sec"].as_f64().unwrap() - rate).abs() <= rate * 0.1,
        "{r}"
    );
    assert_eq!(node.client().must(&["DBSIZE"]).as_int(), Some(500));
}

/// Guards (a match-all pattern, `force` for admins only), a dry run that
/// deletes nothing, and type/TTL filters that select exactly the right
/// keys; `expire` mode sets TTLs within the range.
#[test]
fn cleanup_guards_dry_run_and_filters() {
    let Some((setup, bin)) = setup_and_redis("sqlite") else {
        return;
    };
    let node = bin.start(&[]).unwrap();
    let mut cmds: Vec<Cmd> = Vec::new();
    for i in 0..100 {
        cmds.push(testkit::cmd_args!["SET", format!("f:s:{i}"), "v"]);
        cmds.push(testkit::cmd_args![
            "SET",
            format!("f:t:{i}"),
            "v",
            "EX",
            "3600"
        ]);
        cmds.push(testkit::cmd_args!["HSET", format!("f:h:{i}"), "a", "1"]);
        cmds.push(testkit::cmd_args!["SET", format!("g:{i}"), "v"]);
    }
    for i in 0..50 {
        cmds.push(testkit::cmd_args!["HSET", format!("f:ht:{i}"), "a", "1"]);
        cmds.push(testkit::cmd_args!["EXPIRE", format!("f:ht:{i}"), "3600"]);
    }
    node.client().pipeline_must(&cmds);
    let admin = setup.init_admin("root");
    let svc = setup.start(1, "");
    let alice = svc.add_user(&admin, "alice", "submitter");
    svc.add_local_app(&admin, "one", "standalone", node.port());

    // Guards.
    for (who, params, want) in [
        (
            &alice,
            json!({"app": "one", "patterns": [{"glob": "*"}]}),
            400,
        ),
        (
            &admin,
            json!({"app": "one", "patterns": [{"glob": "*"}]}),
            400,
        ),
        (
            &admin,
            json!({"app": "one", "patterns": [{"prefix": ""}]}),
            400,
        ),
        (
            &alice,
            json!({"app": "one", "patterns": [{"glob": "*"}], "force": true}),
            403,
        ),
        (
            &alice,
            json!({"app": "one", "patterns": [{"prefix": "f:"}], "force": true}),
            403,
        ),
        (
            &alice,
            json!({"app": "one", "patterns": [{"prefix": "f:"}], "colour": "red"}),
            400,
        ),
        (
            &alice,
            json!({"app": "one", "patterns": [{"prefix": "f:"}], "mode": "expire"}),
            400,
        ),
        (
            &alice,
            json!({"app": "nope", "patterns": [{"prefix": "f:"}]}),
            400,
        ),
    ] {
        let (status, v) = svc.call(
            "POST",
            "/tickets",
            who,
            Some(json!({"type": "cleanup", "params": params})),
        );
        assert_eq!(status, want, "{params}: {v}");
    }
    let forced = submit(
        &svc,
        &admin,
        json!({"app": "one", "patterns": [{"glob": "*"}], "force": true}),
    );
    assert_eq!(forced["plan"]["keys"], 450, "{forced}");
    let fid = forced["id"].as_i64().unwrap();
    svc.ok("POST", &format!("/tickets/{fid}/cancel"), &admin, None);

    let all = keyset(&[&node]);
    assert_eq!(all.len(), 450);
    let with = |pred: &dyn Fn(&str) -> bool| -> BTreeSet<Vec<u8>> {
        all.iter()
            .filter(|k| !pred(std::str::from_utf8(k).unwrap()))
            .cloned()
            .collect()
    };

    // Dry run: counts, deletes nothing.
    let done = run_cleanup(
        &svc,
        &alice,
        &admin,
        json!({"app": "one", "patterns": [{"prefix": "f:"}], "dry_run": true, "rate": 10000}),
        30,
    );
    assert_eq!(done["result"]["would_act_on"], 350, "{done}");
    assert_eq!(done["result"]["deleted"], 0);
    assert_eq!(keyset(&[&node]), all);

    // Hashes without a TTL: f:h:* only (not f:ht:*, not the strings).
    let done = run_cleanup(
        &svc,
        &alice,
        &admin,
        json!({"app": "one", "patterns": [{"prefix": "f:"}], "type": "hash", "ttl": "without", "rate": 10000}),
        30,
    );
    assert_eq!(done["result"]["deleted"], 100, "{done}");
    let expect = with(&|k| k.starts_with("f:h:"));
    assert_eq!(keyset(&[&node]), expect);

    // Keys with a TTL, any type: f:t:* and f:ht:*.
    let done = run_cleanup(
        &svc,
        &alice,
        &admin,
        json!({"app": "one", "patterns": [{"prefix": "f:"}], "ttl": "with", "rate": 10000}),
        30,
    );
    assert_eq!(done["result"]["deleted"], 150, "{done}");
    let expect =
        with(&|k| k.starts_with("f:h:") || k.starts_with("f:t:") || k.starts_with("f:ht:"));
    assert_eq!(keyset(&[&node]), expect);

    // Expire mode: the remaining f:s:* get a TTL within the range.
    let done = run_cleanup(
        &svc,
        &alice,
        &admin,
        json!({"app": "one", "patterns": [{"glob": "f:s:*"}], "mode": "expire", "expire_secs": [1000, 2000], "rate": 10000}),
        30,
    );
    assert_eq!(done["result"]["expired"], 100, "{done}");
    let mut c = node.client();
    let mut ttls = BTreeSet::new();
    for i in 0..100 {
        let t = c.must(&["TTL", &format!("f:s:{i}")]).as_int().unwrap();
        assert!((990..=2000).contains(&t), "f:s:{i} has TTL {t}");
        ttls.insert(t / 100);
    }
    assert!(ttls.len() > 3, "the TTLs are not spread: {ttls:?}");
    assert!(matches!(c.must(&["TTL", "g:1"]), Reply::Int(-1)));
    // Again: nothing left to do (the TTLs are already in range).
    let done = run_cleanup(
        &svc,
        &alice,
        &admin,
        json!({"app": "one", "patterns": [{"glob": "f:s:*"}], "mode": "expire", "expire_secs": [1000, 2000], "rate": 10000}),
        30,
    );
    assert_eq!(done["result"]["expired"], 0, "{done}");
    assert_eq!(keyset(&[&node]), expect);

    // Idle time: of keys idle for 3 s, the ones read since are kept.
    let cmds: Vec<Cmd> = (0..40)
        .map(|i| testkit::cmd_args!["SET", format!("i:{i}"), "v"])
        .collect();
    c.pipeline_must(&cmds);
    std::thread::sleep(Duration::from_millis(3100));
    for i in 0..20 {
        c.must(&["GET", &format!("i:{i}")]);
    }
    let done = run_cleanup(
        &svc,
        &alice,
        &admin,
        json!({"app": "one", "patterns": [{"prefix": "i:"}], "idle_secs_min": 2, "rate": 10000}),
        30,
    );
    assert_eq!(done["result"]["deleted"], 20, "{done}");
    let left: BTreeSet<Vec<u8>> = keyset(&[&node])
        .into_iter()
        .filter(|k| k.starts_with(b"i:"))
        .collect();
    let want: BTreeSet<Vec<u8>> = (0..20).map(|i| format!("i:{i}").into_bytes()).collect();
    assert_eq!(left, want);

    // An analysis without keys.parquet: the plan falls back to its prefix table.
    let a = svc.ok(
        "POST",
        "/tickets",
        &alice,
        Some(json!({"type": "analysis", "params": {"app": "one", "keys_table": false}})),
    );
    let aid = a["id"].as_i64().unwrap();
    svc.ok("POST", &format!("/tickets/{aid}/approve"), &admin, None);
    assert_eq!(
        svc.wait_state(aid, &alice, &["succeeded", "failed"], 60)["state"],
        "succeeded"
    );
    let t = submit(
        &svc,
        &alice,
        json!({"app": "one", "patterns": [{"prefix": "g:"}], "dry_run": true}),
    );
    assert_eq!(t["plan"]["source"], "analysis_prefixes", "{t}");
    assert_eq!(t["plan"]["analysis_ticket"], aid);
    assert_eq!(t["plan"]["keys"], 100, "{t}");
}

/// A fork on the node (a slow BGSAVE) pauses the cleanup until it ends;
/// the pause is reported and the job still finishes.
#[test]
fn cleanup_pauses_while_the_node_forks() {
    let Some((setup, bin)) = setup_and_redis("sqlite") else {
        return;
    };
    let node = bin.start(&[]).unwrap();
    let cmds: Vec<Cmd> = (0..1000)
        .map(|i| testkit::cmd_args!["SET", format!("p:{i}"), "v"])
        .collect();
    node.client().pipeline_must(&cmds);
    let admin = setup.init_admin("root");
    let svc = setup.start(1, "");
    let alice = svc.add_user(&admin, "alice", "submitter");
    svc.add_local_app(&admin, "one", "standalone", node.port());
    let t = submit(
        &svc,
        &alice,
        json!({"app": "one", "patterns": [{"prefix": "p:"}], "rate": 10000}),
    );
    let id = t["id"].as_i64().unwrap();
    // About 2 s of BGSAVE: 2 ms per key.
    let mut c = node.client();
    c.must(&["CONFIG", "SET", "rdb-key-save-delay", "2000"]);
    c.must(&["BGSAVE"]);
    svc.ok("POST", &format!("/tickets/{id}/approve"), &admin, None);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let t = svc.ok("GET", &format!("/tickets/{id}"), &alice, None);
        if t["progress"]["phase"] == "paused" {
            assert!(
                t["progress"]["counters"]["reason"]
                    .as_str()
                    .unwrap()
                    .contains("fork"),
                "{t}"
            );
            assert_eq!(
                c.must(&["DBSIZE"]).as_int(),
                Some(1000),
                "nothing is deleted while paused"
            );
            break;
        }
        assert!(Instant::now() < deadline, "never paused: {t}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let done = svc.wait_state(id, &alice, &["succeeded", "failed"], 30);
    assert_eq!(done["state"], "succeeded", "{done}");
    assert_eq!(done["result"]["deleted"], 1000);
    assert!(
        done["result"]["paused_secs"].as_f64().unwrap() >= 0.5,
        "{done}"
    );
    assert_eq!(c.must(&["DBSIZE"]).as_int(), Some(0));
}

/// `"backup": false`: the plan says plainly that no rollback is possible
/// (and rates the risk a level up), the job deletes exactly the matching
/// keys with no backup file, counts keys (and elements where a filter read
/// their type), and a rollback of it is refused with a 409, a restore
/// ticket naming it with a 400.
#[test]
fn cleanup_without_a_backup() {
    let Some((setup, bin)) = setup_and_redis("sqlite") else {
        return;
    };
    let node = bin.start(&[]).unwrap();
    let mut cmds: Vec<Cmd> = Vec::new();
    for i in 0..3000 {
        cmds.push(match i % 3 {
            0 => testkit::cmd_args!["SET", format!("nb:s:{i}"), "v"],
            1 => testkit::cmd_args!["HSET", format!("nb:h:{i}"), "a", "1", "b", "2"],
            _ => testkit::cmd_args!["RPUSH", format!("nb:l:{i}"), "x", "y", "z"],
        });
        cmds.push(testkit::cmd_args!["SET", format!("keep:{i}"), "v"]);
    }
    // A big hash: unlinked whole (no type is read without a filter).
    for part in 0..5 {
        let mut c = testkit::cmd_args!["HSET", "nb:big"];
        for f in 0..1000 {
            c.push(format!("f{}", part * 1000 + f).into_bytes());
            c.push(b"v".to_vec());
        }
        cmds.push(c);
    }
    node.client().pipeline_must(&cmds);
    let expected: BTreeSet<Vec<u8>> = keyset(&[&node])
        .into_iter()
        .filter(|k| !k.starts_with(b"nb:"))
        .collect();
    assert_eq!(expected.len(), 3000);
    let admin = setup.init_admin("root");
    let svc = setup.start(1, "");
    let alice = svc.add_user(&admin, "alice", "submitter");
    svc.add_local_app(&admin, "one", "standalone", node.port());

    // Hashes only, by a type filter: their type is read, so their
    // elements are counted.
    let params = json!({"app": "one", "patterns": [{"prefix": "nb:h:"}], "backup": false, "type": "hash", "rate": 1_000_000, "batch": 300});
    let t = submit(&svc, &alice, params.clone());
    let plan = &t["plan"];
    assert_eq!(plan["rollback_possible"], false, "{plan}");
    assert!(
        plan["rollback"].as_str().unwrap().contains("NOT POSSIBLE"),
        "{plan}"
    );
    assert!(
        plan["action"].as_str().unwrap().contains("no rollback"),
        "{plan}"
    );
    assert_eq!(plan["backup"]["file"], Value::Null, "{plan}");
    assert_eq!(plan["keys"], 1000, "{plan}");
    // 1000 keys is low by count; no rollback makes it medium.
    assert_eq!(t["risk"], "medium", "{t}");
    let with = submit(
        &svc,
        &alice,
        json!({"app": "one", "patterns": [{"prefix": "nb:h:"}], "type": "hash"}),
    );
    assert_eq!(with["plan"]["rollback_possible"], true, "{with}");
    assert_eq!(with["risk"], "low", "{with}");
    let id = t["id"].as_i64().unwrap();
    svc.ok("POST", &format!("/tickets/{id}/approve"), &admin, None);
    let done = svc.wait_state(id, &alice, &["succeeded", "failed"], 60);
    assert_eq!(done["state"], "succeeded", "{done}\n{}", svc.log_text());
    let r = &done["result"];
    assert_eq!(r["deleted"], 1000, "{r}");
    assert_eq!(r["elements"], 2000, "two fields a hash: {r}");
    assert_eq!(r["elements_uncounted_keys"], 0, "{r}");
    assert_eq!(r["backup"], Value::Null, "{r}");
    assert_eq!(r["rollback_possible"], false, "{r}");

    // Every other `nb:` key, no filter: nothing read but the SCANs.
    let done = run_cleanup(
        &svc,
        &alice,
        &admin,
        json!({"app": "one", "patterns": [{"prefix": "nb:"}], "backup": false, "rate": 1_000_000, "batch": 300}),
        60,
    );
    let r = &done["result"];
    assert_eq!(r["deleted"], 2001, "{r}");
    assert_eq!(r["elements_uncounted_keys"], 2001, "{r}");
    assert_eq!(r["big_keys"], 0, "{r}");
    assert_eq!(keyset(&[&node]), expected);
    let id2 = done["id"].as_i64().unwrap();
    let rep = report(&svc, id2, &alice);
    assert_eq!(per_node_sum(&rep, "deleted"), 2001, "{rep}");
    assert_eq!(rep["backup"], Value::Null, "{rep}");
    // No backup folder beside the report.
    let files = svc.ok("GET", &format!("/tickets/{id2}/report"), &alice, None);
    assert!(!files.to_string().contains("backup"), "{files}");

    // No rollback: the API refuses it, and a restore ticket naming it.
    for tid in [id, id2] {
        let (status, v) = svc.call("POST", &format!("/tickets/{tid}/rollback"), &alice, None);
        assert_eq!(status, 409, "{v}");
        assert!(v.to_string().contains("backup"), "{v}");
    }
    let (status, v) = svc.call(
        "POST",
        "/tickets",
        &alice,
        Some(json!({"type": "restore", "params": {"ticket": id2, "app": "one"}})),
    );
    assert_eq!(status, 400, "{v}");
    assert!(v.to_string().contains("no rollback"), "{v}");
    // The ticket keeps the parameter (the console hides its rollback
    // button on it).
    assert_eq!(done["params"]["backup"], false, "{done}");
}
