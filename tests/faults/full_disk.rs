//! The reports disk fills up (a small tmpfs the test mounts as the reports
//! folder): the ticket fails with a clear message, no partial report is
//! left, the store and the audit stay consistent, and the next ticket runs
//! once there is space again.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::json;

use crate::service::{audit_steps, files_under, Service, Setup};

/// A tmpfs mounted on a folder, unmounted on drop.
struct Tmpfs {
    at: PathBuf,
}

impl Tmpfs {
    /// Mounts a tmpfs of `size` (e.g. `64k`) on `at`; `None` (loud SKIP)
    /// where mounting is not allowed, except under `CI`.
    fn mount(at: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(at).unwrap();
        let out = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0755"),
                "tmpfs",
            ])
            .arg(at)
            .output();
        match out {
            Ok(o) if o.status.success() => Some(Tmpfs {
                at: at.to_path_buf(),
            }),
            other => {
                let why = match other {
                    Ok(o) => String::from_utf8_lossy(&o.stderr).into_owned(),
                    Err(e) => e.to_string(),
                };
                assert!(
                    std::env::var_os("CI").is_none(),
                    "cannot mount a tmpfs (the test needs root): {why}"
                );
                eprintln!("SKIP: cannot mount a tmpfs for the full-disk test (needs root): {why}");
                None
            }
        }
    }

    /// Gives the file system `size` (space is back).
    fn resize(&self, size: &str) {
        let st = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.at)
            .status()
            .expect("remount");
        assert!(st.success(), "remount {}", self.at.display());
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.at).status();
    }
}

/// The files under `dir` (relative paths), sorted.
fn files(dir: &Path) -> Vec<String> {
    files_under(dir).into_iter().map(|(name, _)| name).collect()
}

fn submit_and_approve(svc: &Service, alice: &str, admin: &str, rdb: &Path) -> i64 {
    let t = svc.ok(
        "POST",
        "/tickets",
        alice,
        Some(json!({"type": "analysis", "params": {"file": rdb}})),
    );
    let id = t["id"].as_i64().unwrap();
    svc.ok("POST", &format!("/tickets/{id}/approve"), admin, None);
    id
}

#[test]
fn service_sqlite_full_reports_disk_fails_cleanly_then_recovers() {
    let Some(setup) = Setup::new("sqlite") else {
        return;
    };
    // The sample's report takes about 180 KB: 64 KB fills up mid-write.
    let Some(disk) = Tmpfs::mount(&setup.reports, "64k") else {
        return;
    };
    let admin = setup.init_admin("root");
    let svc = setup.start(1, "");
    let alice = svc.add_user(&admin, "alice", "submitter");
    let rdb = setup.allowed.join("sample.rdb");
    std::fs::copy(testkit::workspace_root().join("testdata/sample.rdb"), &rdb).unwrap();

    let id = submit_and_approve(&svc, &alice, &admin, &rdb);
    let t = svc.wait_state(id, &alice, &["failed", "succeeded"], 60);
    assert_eq!(t["state"], "failed", "{t}");
    let error = t["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("No space left on device") && error.contains("removed"),
        "a clear message: {error}"
    );
    // No partial report: nothing is listed, nothing is on the disk.
    let listed = svc.ok("GET", &format!("/tickets/{id}/report"), &alice, None);
    assert_eq!(listed.as_array().map(Vec::len), Some(0), "{listed}");
    assert!(
        files(&setup.reports).is_empty(),
        "left on the full disk: {:?}",
        files(&setup.reports)
    );
    // The store and the audit agree: approved, started, failed, once each.
    let steps = audit_steps(&svc, id, &admin);
    let to: Vec<&str> = steps.iter().map(|s| s.1.as_str()).collect();
    assert_eq!(
        to.iter().filter(|s| **s == "failed").count(),
        1,
        "{steps:?}"
    );
    assert_eq!(to.last(), Some(&"failed"), "{steps:?}");
    assert_eq!(svc.count("/tickets", &admin), 1);

    // Space is back: the next ticket runs and its report is whole.
    disk.resize("16m");
    let id2 = submit_and_approve(&svc, &alice, &admin, &rdb);
    let t = svc.wait_state(id2, &alice, &["failed", "succeeded"], 60);
    assert_eq!(t["state"], "succeeded", "{t}");
    let summary = svc.bytes(&format!("/tickets/{id2}/report/summary.json"), &alice);
    let summary: serde_json::Value = serde_json::from_slice(&summary).expect("whole summary.json");
    assert_eq!(summary["files"][0]["keys"], t["result"]["keys"]);
    let on_disk = files(&setup.reports);
    assert!(
        on_disk.iter().any(|f| f.ends_with("report.html")),
        "{on_disk:?}"
    );
    drop(svc);
}
