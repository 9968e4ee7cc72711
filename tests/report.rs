//! `report.html`: written by every `rdbscope analyze`, re-rendered by
//! `rdbscope report DIR`; self-contained, with the headline numbers of
//! summary.json, key names escaped (a real server's dump with hostile and
//! binary keys), and drawn by a real headless Chromium without a console
//! message.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use testkit::{cmd_args, require_server, ServerKind};

fn rdbscope(args: &[&std::ffi::OsStr]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_rdbscope"))
        .args(args)
        .output()
        .expect("run rdbscope")
}

/// Analyzes `rdb` into `out`; returns summary.json and report.html.
fn analyze(rdb: &Path, out: &Path) -> (Value, String) {
    let o = rdbscope(&[
        "analyze".as_ref(),
        rdb.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ]);
    assert!(
        o.status.success(),
        "analyze failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let summary = std::fs::read(out.join("summary.json")).expect("summary.json");
    let html = std::fs::read_to_string(out.join("report.html")).expect("report.html");
    (serde_json::from_slice(&summary).expect("json"), html)
}

fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/sample.rdb")
}

/// `1,234,567`, as the page prints counts.
fn grouped(n: u64) -> String {
    let d = n.to_string();
    let mut out = String::new();
    for (i, c) in d.chars().enumerate() {
        if i > 0 && (d.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[test]
fn analyze_writes_a_self_contained_report_that_report_re_renders() {
    let tmp = testkit::temp_dir("report-sample");
    let out = tmp.join("out");
    let (summary, html) = analyze(&sample(), &out);
    let f = &summary["files"][0];
    // The headline, from summary.json.
    let server = format!("Redis {}", f["redis_ver"].as_str().expect("redis_ver"));
    let keys = grouped(f["keys"].as_u64().expect("keys"));
    assert!(
        html.contains(&format!("<dd>{server}</dd>")),
        "server {server}"
    );
    assert!(html.contains(&format!("<dd>{keys}</dd>")), "keys {keys}");
    let used = f["used_mem"].as_u64().expect("used_mem") as f64;
    let ratio = f["memory_bytes_estimate"].as_u64().unwrap() as f64 * 100.0 / used;
    assert!(html.contains(&format!("(estimate is {ratio:.1} % of it)")));
    // ctime 1796589919 is 2026-12-06 20:45:19 UTC.
    assert_eq!(f["ctime"], 1_796_589_919);
    assert!(html.contains("<dd>2026-12-06 20:45 UTC</dd>"));
    // The sample's 10,000-element list is a recommendation's item.
    assert!(html.contains("<li><code>db 0: biglist (list of 10,000 elements)</code>"));
    // Every section, and nothing fetched from elsewhere.
    for id in [
        "advice-0",
        "types-0",
        "dbs-0",
        "ttl-0",
        "prefixes-0",
        "bigkeys-0",
        "hotkeys-0",
        "slots-0",
    ] {
        assert!(html.contains(&format!("<section id=\"{id}\">")), "{id}");
    }
    assert!(html.matches("<svg").count() >= 6);
    let lower = html.to_ascii_lowercase();
    for attr in ["src=", "href="] {
        for scheme in ["http:", "https:", "//"] {
            for q in ["\"", "'", ""] {
                let bad = format!("{attr}{q}{scheme}");
                assert!(!lower.contains(&bad), "external reference {bad}");
            }
        }
    }
    assert!(!lower.contains("<link") && !lower.contains("@import"));
    assert!(summary["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .any(|o| o.as_str().unwrap().ends_with("report.html")));

    // `report DIR` writes the same page from the files.
    std::fs::remove_file(out.join("report.html")).unwrap();
    let o = rdbscope(&["report".as_ref(), out.as_os_str()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let again = std::fs::read_to_string(out.join("report.html")).expect("re-rendered");
    assert_eq!(again, html);
    let leftovers: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // A directory without summary.json: exit 1, naming it.
    let empty = tmp.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let o = rdbscope(&["report".as_ref(), empty.as_os_str()]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("summary.json") && err.contains("missing"),
        "{err}"
    );
    assert!(!empty.join("report.html").exists());
}

/// A dump with a key made of markup and a binary key, from a real server.
fn hostile_dump(tmp: &Path) -> Option<PathBuf> {
    let bin = require_server(ServerKind::Redis70)?;
    let srv = bin.start(&[]).expect("start server");
    let mut c = srv.client();
    c.pipeline_must(&[
        cmd_args!["SET", "</script><b>x</b>", "v".repeat(5000)],
        cmd_args!["SET", b"\xff\x00bin".to_vec(), "w".repeat(4000)],
        cmd_args!["HSET", "user:1:profile", "name", "a"],
        cmd_args!["HSET", "user:2:profile", "name", "b"],
    ]);
    let rdb = srv.save();
    std::fs::create_dir_all(tmp).expect("dump dir");
    let kept = tmp.join("hostile.rdb");
    std::fs::copy(&rdb, &kept).expect("copy dump");
    Some(kept)
}

#[test]
fn key_names_render_as_text() {
    let tmp = testkit::temp_dir("report-hostile");
    let Some(rdb) = hostile_dump(&tmp.join("dump")) else {
        return;
    };
    let (_, html) = analyze(&rdb, &tmp.join("out"));
    assert!(
        !html.contains("<b>x</b>"),
        "markup from a key reached the page"
    );
    assert!(html.contains("<code>&lt;/script&gt;&lt;b&gt;x&lt;/b&gt;</code>"));
    // The only `</script>`s close the page's two script elements.
    assert_eq!(html.matches("</script>").count(), 2);
    assert!(
        html.contains("<code>\\xff\\x00bin</code>"),
        "binary key as escaped bytes"
    );
    // The drill-down's data is JSON that parses back to the key's pattern.
    let start = html.find("id=\"report-data\">").unwrap() + "id=\"report-data\">".len();
    let end = start + html[start..].find("</script>").unwrap();
    let data: Value = serde_json::from_str(&html[start..end]).expect("data block");
    let patterns: Vec<&str> = data["files"][0]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n[0].as_str().unwrap())
        .collect();
    assert!(
        patterns.iter().any(|p| p.contains("</script>")),
        "{patterns:?}"
    );
    assert!(patterns.contains(&"user:*:profile"), "{patterns:?}");

    // Two files: the per-source split first, then one article each; and
    // `report DIR` draws the same page.
    let both = tmp.join("both");
    let o = rdbscope(&[
        "analyze".as_ref(),
        sample().as_os_str(),
        rdb.as_os_str(),
        "--out".as_ref(),
        both.as_os_str(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let html = std::fs::read_to_string(both.join("report.html")).unwrap();
    assert!(html.contains("<section id=\"sources\">"));
    assert!(html.contains("<article id=\"file-0\">") && html.contains("<article id=\"file-1\">"));
    assert!(html.contains("id=\"icicle-1\""));
    let o = rdbscope(&["report".as_ref(), both.as_os_str()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        std::fs::read_to_string(both.join("report.html")).unwrap(),
        html
    );
}

/// Chromium, or `None` (with a loud SKIP) outside CI.
fn chromium() -> Option<PathBuf> {
    let found = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists());
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "chromium is missing (testdata/install-servers.sh installs it)"
        );
        eprintln!("SKIP: chromium is not installed (apt-get install chromium)");
    }
    found
}

fn headless(bin: &Path, profile: &Path, args: &[String]) -> std::process::Output {
    Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .output()
        .expect("run chromium")
}

/// The workspace's target directory (where the test binary lives).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary");
    // target/release/deps/integration-…
    exe.ancestors().nth(3).expect("target dir").to_path_buf()
}

#[test]
fn chromium_draws_the_report() {
    let Some(bin) = chromium() else {
        return;
    };
    let tmp = testkit::temp_dir("report-chromium");
    let out = tmp.join("out");
    let (summary, _) = analyze(&sample(), &out);
    let url = format!("file://{}", out.join("report.html").display());
    let dom = |hash: &str, profile: &str| -> String {
        // Console messages (the page logs none; an error in the script
        // would show here) go to stderr with the logging flags.
        let o = headless(
            &bin,
            &tmp.join(profile),
            &[
                "--enable-logging=stderr".into(),
                "--v=0".into(),
                "--dump-dom".into(),
                format!("{url}{hash}"),
            ],
        );
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "{stderr}");
        let console: Vec<&str> = stderr.lines().filter(|l| l.contains(":CONSOLE")).collect();
        assert!(console.is_empty(), "console messages: {console:?}");
        String::from_utf8(o.stdout).expect("utf-8 DOM")
    };
    let page = dom("", "profile-1");
    // SVG charts (drawn without script) and the parts the script builds.
    assert!(page.matches("<svg").count() >= 6);
    assert!(page.contains("class=\"heat\""));
    let nodes = page.matches("class=\"node ").count();
    assert!(nodes > 5, "icicle nodes built by the script: {nodes}");
    assert!(page.contains("class=\"node top\""));
    assert!(page.contains("data-path=\"\""));
    let table_start = page.find("id=\"bigkeys-table-0\"").expect("big keys table");
    let table = &page[table_start..table_start + page[table_start..].find("</table>").unwrap()];
    let f = &summary["files"][0];
    let top = f["top_keys_by_memory"].as_array().unwrap().len();
    assert!(top > 0);
    assert!(
        table.matches("<tr>").count() > top,
        "header + a row per key"
    );
    // Opening the drill-down on a prefix shows that prefix on top.
    let drilled = dom("#drill-0=login", "profile-2");
    assert!(drilled.contains("data-path=\"login\""));
    assert!(drilled.contains(">login:*  "), "login's children drawn");
    assert!(!drilled.contains(">bigstring  "), "siblings gone");
    assert!(page.contains(">bigstring  "));
    // A screenshot, kept under target/.
    let shot = target_dir().join("report-screenshot.png");
    let _ = std::fs::remove_file(&shot);
    let o = headless(
        &bin,
        &tmp.join("profile-3"),
        &[
            format!("--screenshot={}", shot.display()),
            "--window-size=1280,2000".into(),
            url,
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let png = std::fs::read(&shot).expect("screenshot written");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 10_000);
}
