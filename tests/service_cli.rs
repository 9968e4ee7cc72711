//! The job service as a new user meets it through the CLI alone: create the
//! first admin, start `rdbscope serve`, register a live app, hand a submitter
//! a token, file an analysis ticket, approve it, wait for it, download the
//! report and read the audit trail. Real processes throughout: the service
//! is a child process, the app a Redis 7.0 master with a replica.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::service::{dbsize, free_port, master_with_replica};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_rdbscope")
}

/// What one `rdbscope` invocation did.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
    line: String,
}

impl Run {
    #[track_caller]
    fn ok(self) -> Run {
        assert_eq!(self.code, 0, "{}", self.describe());
        self
    }

    #[track_caller]
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("--json output does not parse ({e}): {}", self.describe()))
    }

    fn describe(&self) -> String {
        format!(
            "`rdbscope {}` exited with {}\n--- stdout\n{}\n--- stderr\n{}",
            self.line, self.code, self.stdout, self.stderr
        )
    }
}

fn from_output(line: String, out: Output) -> Run {
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        line,
    }
}

/// Runs `rdbscope args...` in `cwd`, with a clean client environment (the
/// server and token only from the flags).
fn rdbscope(cwd: &Path, args: &[&str]) -> Run {
    let out = Command::new(bin())
        .args(args)
        .current_dir(cwd)
        .env_remove("RDBSCOPE_SERVER")
        .env_remove("RDBSCOPE_TOKEN")
        .stdin(Stdio::null())
        .output()
        .expect("run rdbscope");
    from_output(args.join(" "), out)
}

/// The client commands against one service, as one user.
struct As<'a> {
    cwd: &'a Path,
    server: String,
    token: String,
}

impl As<'_> {
    fn run(&self, args: &[&str]) -> Run {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--server", &self.server, "--token", &self.token]);
        rdbscope(self.cwd, &all)
    }
}

/// `rdbscope serve` as a child process: SIGTERM, then SIGKILL, by PID when
/// dropped (also when the test panics).
struct Serve {
    child: Option<Child>,
    log: PathBuf,
}

impl Serve {
    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM; returns the exit status if it stopped within `secs`.
    fn terminate(&mut self, secs: u64) -> Option<std::process::ExitStatus> {
        let mut child = self.child.take()?;
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        None
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        self.terminate(10);
    }
}

/// The first word of the output that is a token.
#[track_caller]
fn token_in(run: &Run) -> String {
    run.stdout
        .split_whitespace()
        .find(|w| w.starts_with("rdbs_"))
        .unwrap_or_else(|| panic!("no token printed: {}", run.describe()))
        .to_string()
}

#[test]
fn service_cli_readme_flow() {
    let Some((master, replica)) = master_with_replica() else {
        return;
    };
    let dir = testkit::temp_dir("service-cli");
    let cwd = dir.path();
    let data = dir.join("data");
    let data_arg = data.to_str().unwrap();

    // 1. The first admin.
    let init = rdbscope(
        cwd,
        &["serve", "--data-dir", data_arg, "--init-admin", "admin"],
    )
    .ok();
    let admin_token = token_in(&init);
    assert_eq!(init.stdout.trim(), admin_token, "stdout is the token alone");
    assert!(
        init.stderr
            .contains(&format!("export RDBSCOPE_TOKEN={admin_token}")),
        "{}",
        init.describe()
    );

    // 2. The service.
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let log = dir.join("serve.log");
    let child = Command::new(bin())
        .args(["serve", "--listen", &listen, "--data-dir", data_arg])
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("start rdbscope serve");
    let mut serve = Serve {
        child: Some(child),
        log,
    };
    let server = format!("http://{listen}");
    let admin = As {
        cwd,
        server: server.clone(),
        token: admin_token.clone(),
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    let me = loop {
        let r = admin.run(&["user", "me", "--json"]);
        if r.code == 0 {
            break r.json();
        }
        assert!(
            r.stderr.contains("connection refused"),
            "{}\n{}",
            r.describe(),
            serve.log_text()
        );
        assert!(
            Instant::now() < deadline,
            "service did not start: {}",
            serve.log_text()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(me["name"], "admin");
    assert_eq!(me["role"], "admin");

    // 3. The app: a master with a replica, given by its master.
    let master_addr = format!("127.0.0.1:{}", master.port());
    let replica_addr = format!("127.0.0.1:{}", replica.port());
    let added = admin
        .run(&[
            "node",
            "add",
            "shop",
            "--kind",
            "replicated",
            "--addr",
            &master_addr,
        ])
        .ok();
    let replica_row = added
        .stdout
        .lines()
        .find(|l| l.starts_with(&replica_addr))
        .unwrap_or_else(|| panic!("replica not shown: {}", added.describe()));
    let cols: Vec<&str> = replica_row.split_whitespace().collect();
    assert_eq!(
        cols[..3],
        [replica_addr.as_str(), "replica", master_addr.as_str()]
    );
    let apps = admin.run(&["node", "list", "--json"]).ok().json();
    assert_eq!(apps[0]["name"], "shop");
    assert_eq!(apps[0]["nodes"].as_array().unwrap().len(), 2, "{apps}");

    // 4. A submitter.
    let alice_token = token_in(
        &admin
            .run(&["user", "add", "alice", "--role", "submitter"])
            .ok(),
    );
    assert_ne!(alice_token, admin_token);
    let alice = As {
        cwd,
        server: server.clone(),
        token: alice_token,
    };
    let users = admin.run(&["user", "list"]).ok();
    assert!(
        users
            .stdout
            .lines()
            .any(|l| l.split_whitespace().take(2).eq(["alice", "submitter"])),
        "{}",
        users.describe()
    );

    // 5. Alice files an analysis ticket; she cannot approve it herself.
    let ticket = alice
        .run(&["ticket", "submit", "analysis", "--app", "shop", "--json"])
        .ok()
        .json();
    let id = ticket["id"].as_i64().expect("ticket id");
    let id_s = id.to_string();
    assert_eq!(ticket["state"], "pending");
    assert_eq!(ticket["submitter"], "alice");
    assert_eq!(ticket["params"]["app"], "shop");
    let refused = alice.run(&["ticket", "approve", &id_s]);
    assert_eq!(refused.code, 1, "{}", refused.describe());
    assert!(
        refused.stderr.contains("error: ") && refused.stderr.contains("(HTTP 403)"),
        "{}",
        refused.describe()
    );
    assert!(
        refused.stderr.contains("submitter"),
        "the message says why: {}",
        refused.describe()
    );
    let still = alice.run(&["ticket", "show", &id_s, "--json"]).ok().json();
    assert_eq!(
        still["state"], "pending",
        "a refused approval changes nothing"
    );

    // 6. The admin approves; alice waits for it.
    let approved = admin
        .run(&["ticket", "approve", &id_s, "--note", "fine"])
        .ok();
    let field = |run: &Run, key: &str| -> String {
        run.stdout
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{key}:")))
            .map(|v| v.trim().to_string())
            .unwrap_or_else(|| panic!("no {key}: line: {}", run.describe()))
    };
    assert_eq!(field(&approved, "state"), "approved");
    assert_eq!(field(&approved, "handler"), "admin");
    let waited = alice
        .run(&["ticket", "wait", &id_s, "--timeout", "120"])
        .ok();
    assert_eq!(field(&waited, "state"), "succeeded", "{}", serve.log_text());
    let expected = dbsize(&master);
    assert!(expected >= 3000, "{expected}");
    assert!(
        waited.stdout.contains(&format!("\"keys\": {expected}")),
        "the result block has the key count: {}",
        waited.describe()
    );

    // 7. The report: listed, one file downloaded, then all of them.
    let listed = alice.run(&["ticket", "report", &id_s]).ok();
    let names: Vec<&str> = listed
        .stdout
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    for f in ["keys.parquet", "summary.json"] {
        assert!(names.contains(&f), "{f} not listed: {}", listed.describe());
    }
    let summary_path = dir.join("summary.json");
    alice
        .run(&[
            "ticket",
            "report",
            &id_s,
            "summary.json",
            "-o",
            summary_path.to_str().unwrap(),
        ])
        .ok();
    let summary: Value = serde_json::from_slice(&std::fs::read(&summary_path).unwrap()).unwrap();
    assert_eq!(
        summary["totals"]["keys"], expected,
        "summary.json's key count vs DBSIZE: {}",
        summary["totals"]
    );
    let all = dir.join("all");
    alice
        .run(&[
            "ticket",
            "report",
            &id_s,
            "--all",
            "-o",
            all.to_str().unwrap(),
        ])
        .ok();
    let listed_json = alice
        .run(&["ticket", "report", &id_s, "--json"])
        .ok()
        .json();
    for f in listed_json.as_array().unwrap() {
        let name = f["name"].as_str().unwrap();
        let got = std::fs::metadata(all.join(name))
            .unwrap_or_else(|e| panic!("{name} not downloaded: {e}"))
            .len();
        assert_eq!(Some(got), f["bytes"].as_u64(), "{name}");
    }
    let parquet = std::fs::read(all.join("keys.parquet")).unwrap();
    assert!(parquet.starts_with(b"PAR1") && parquet.ends_with(b"PAR1"));

    // 8. The audit trail, as a table and as JSON.
    let audit = alice.run(&["ticket", "audit", &id_s]).ok();
    let steps: Vec<Vec<&str>> = audit
        .stdout
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().skip(1).take(3).collect())
        .collect();
    assert_eq!(
        steps,
        vec![
            vec!["alice", "-", "pending"],
            vec!["admin", "pending", "approved"],
            vec!["scheduler", "approved", "running"],
            vec!["worker", "running", "succeeded"],
        ],
        "{}",
        audit.describe()
    );
    assert!(audit.stdout.starts_with("AT "), "{}", audit.describe());
    let audit_json = alice.run(&["ticket", "audit", &id_s, "--json"]).ok().json();
    assert_eq!(audit_json.as_array().unwrap().len(), 4, "{audit_json}");
    assert_eq!(audit_json[0]["from"], Value::Null);
    assert_eq!(audit_json[1]["note"], "fine");

    // 9. Lists, as a table and as JSON; alice sees her ticket.
    let list = alice.run(&["ticket", "list"]).ok();
    let mut lines = list.stdout.lines();
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        [
            "ID",
            "TYPE",
            "STATE",
            "SUBMITTER",
            "HANDLER",
            "PROGRESS",
            "CREATED",
            "SCHEDULED"
        ]
    );
    let row: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(
        row[..5],
        [id_s.as_str(), "analysis", "succeeded", "alice", "admin"]
    );
    let list_json = alice
        .run(&["ticket", "list", "--state", "succeeded", "--json"])
        .ok()
        .json();
    assert_eq!(list_json[0]["id"], id);
    let shown = alice.run(&["ticket", "show", &id_s, "--json"]).ok().json();
    assert_eq!(shown["result"]["keys"], expected);

    // 10. Failures: exit 1 with the reason, exit 2 for bad usage.
    let no_token = rdbscope(cwd, &["ticket", "list", "--server", &server]);
    assert_eq!(no_token.code, 1, "{}", no_token.describe());
    assert!(
        no_token.stderr.contains("(HTTP 401)"),
        "{}",
        no_token.describe()
    );
    let missing = alice.run(&["ticket", "show", "999999"]);
    assert_eq!(missing.code, 1);
    assert!(
        missing.stderr.contains("(HTTP 404)"),
        "{}",
        missing.describe()
    );
    let dead = format!("http://127.0.0.1:{}", free_port());
    let refused = rdbscope(cwd, &["ticket", "list", "--server", &dead, "--token", "x"]);
    assert_eq!(refused.code, 1);
    assert!(
        refused.stderr.contains(&dead) && refused.stderr.contains("connection refused"),
        "{}",
        refused.describe()
    );
    let usage = alice.run(&["ticket", "submit", "hotkeys", "--app", "shop", "--no-keys"]);
    assert_eq!(usage.code, 2, "{}", usage.describe());
    let failed_wait = admin.run(&["ticket", "wait", "999999", "--timeout", "1"]);
    assert_eq!(failed_wait.code, 1);

    // 11. SIGTERM stops the service cleanly.
    let status = serve.terminate(15);
    assert!(
        status.is_some_and(|s| s.success()),
        "serve did not exit cleanly on SIGTERM ({status:?}): {}",
        serve.log_text()
    );
}
