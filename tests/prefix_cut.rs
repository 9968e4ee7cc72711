//! `summary.json`'s `prefix_cut_by_memory` reaches the reader: when the
//! pattern memory bound cut a level before the whole file was seen, the
//! terminal report and report.html say that the patterns may depend on
//! `--threads` and how to avoid it; otherwise they say nothing.

use std::process::Command;

use testkit::{cmd_args, require_server, ServerKind};

/// Runs `rdbscope analyze` with `extra`: (stdout, summary.json, report.html).
fn run(
    rdb: &std::path::Path,
    out: &std::path::Path,
    extra: &[&str],
) -> (String, serde_json::Value, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_rdbscope"))
        .arg("analyze")
        .arg(rdb)
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .expect("run rdbscope");
    assert!(
        o.status.success(),
        "analyze failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let summary = std::fs::read(out.join("summary.json")).expect("summary.json");
    let html = std::fs::read_to_string(out.join("report.html")).expect("report.html");
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        serde_json::from_slice(&summary).expect("summary.json parses"),
        html,
    )
}

#[test]
fn prefix_cut_by_memory_is_reported() {
    let Some(bin) = require_server(ServerKind::Redis70) else {
        return;
    };
    let srv = bin.without_modules().start(&[]).expect("start server");
    let mut c = srv.client();
    // 8,000 patterns of one shape, no position over 64 values: with a cap
    // of 100 only the memory bound (8 x the cap) cuts before the end.
    let letters: Vec<char> = "ghijklmnopqrstuvwxyz".chars().collect();
    let mut cmds = Vec::new();
    for x in &letters {
        for y in &letters {
            for z in &letters {
                cmds.push(cmd_args!["SET", format!("x:p{x}:q{y}:r{z}"), "1"]);
            }
        }
    }
    c.pipeline_must(&cmds);
    let rdb = srv.save();
    let tmp = testkit::TempDir::new("prefix-cut").expect("temp dir");
    let (stdout, summary, html) = run(
        &rdb,
        &tmp.path().join("cut"),
        &["--threads", "1", "--prefix-cap", "100"],
    );
    assert_eq!(summary["files"][0]["prefix_cut_by_memory"], true);
    assert!(
        stdout.contains("warning: patterns were cut by the memory bound"),
        "{stdout}"
    );
    assert!(stdout.contains("--threads"), "{stdout}");
    assert!(
        html.contains("id=\"prefix-cut-0\""),
        "report.html has no note"
    );
    let (stdout, summary, html) = run(&rdb, &tmp.path().join("whole"), &["--threads", "1"]);
    assert_eq!(summary["files"][0]["prefix_cut_by_memory"], false);
    assert!(!stdout.contains("memory bound"), "{stdout}");
    assert!(
        !html.contains("id=\"prefix-cut-"),
        "report.html notes a cut"
    );
}
