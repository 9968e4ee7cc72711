//! `report.html`: written by every `rdbscope analyze`, re-rendered by
//! `rdbscope report DIR`; self-contained, with the headline numbers of
//! summary.json, key names escaped (a real server's dump with hostile and
//! binary keys), and drawn by a real headless Chromium (driven over the
//! DevTools protocol: clicks, typing, console and network checked).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};
use testkit::{cmd_args, require_chromium, require_server, Browser, ServerKind};

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

/// The workspace's target directory (where the test binary lives).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary");
    // target/release/deps/integration-…
    exe.ancestors().nth(3).expect("target dir").to_path_buf()
}

/// The number of elements matching `selector`.
fn count(b: &mut Browser, selector: &str) -> u64 {
    let js = format!("document.querySelectorAll({selector:?}).length");
    b.eval(&js).as_u64().expect("a count")
}

#[test]
fn chromium_draws_the_report() {
    let Some(bin) = require_chromium() else {
        return;
    };
    let tmp = testkit::temp_dir("report-chromium");
    let out = tmp.join("out");
    let (summary, _) = analyze(&sample(), &out);
    let url = format!("file://{}", out.join("report.html").display());
    let f = &summary["files"][0];

    // Without script, the headline numbers are there.
    let mut b = Browser::launch(&bin);
    b.call(
        "Emulation.setScriptExecutionDisabled",
        json!({"value": true}),
    );
    b.goto(&url);
    let head = b.text("body").expect("body text");
    let keys = grouped(f["keys"].as_u64().expect("keys"));
    assert!(head.contains(&keys), "keys {keys} readable without script");
    assert!(head.contains("2026-12-06 20:45 UTC"));
    assert_eq!(count(&mut b, ".icicle .node"), 0, "script really was off");
    drop(b);

    let mut b = Browser::launch_sized(&bin, 1280, 2000);
    b.goto(&url);
    // SVG charts (drawn without script) and the parts the script builds.
    assert!(count(&mut b, "svg") >= 6);
    assert!(count(&mut b, ".heat") >= 1);
    let nodes = count(&mut b, "#icicle-0 .node");
    assert!(nodes > 5, "icicle nodes built by the script: {nodes}");
    assert_eq!(
        b.eval("document.getElementById('icicle-0').dataset.path"),
        ""
    );
    let top = f["top_keys_by_memory"].as_array().unwrap().len() as u64;
    assert!(top > 0);
    let rows = count(&mut b, "#bigkeys-table-0 tbody tr");
    assert!(rows >= top, "a row per big key: {rows} < {top}");
    b.screenshot(&target_dir().join("report-screenshot.png"), false);

    // Clicking a prefix drills down: it goes on top, its children below it,
    // its siblings leave; clicking the top goes back up.
    b.click("#icicle-0 .node[data-pattern='login']");
    b.wait_for(
        "document.getElementById('icicle-0').dataset.path === 'login'",
        "drill-down into login",
    );
    let top_label = b.text("#icicle-0 .node.top").expect("top box");
    assert!(top_label.starts_with("login "), "{top_label}");
    assert!(count(&mut b, "#icicle-0 .node[data-pattern='login:*']") == 1);
    assert_eq!(
        count(&mut b, "#icicle-0 .node[data-pattern='bigstring']"),
        0
    );
    b.screenshot(&target_dir().join("report-drilled.png"), false);
    b.click("#icicle-0 .node.top");
    b.wait_for(
        "document.getElementById('icicle-0').dataset.path === ''",
        "back to all keys",
    );
    assert_eq!(
        count(&mut b, "#icicle-0 .node[data-pattern='bigstring']"),
        1
    );

    // The big-key table filters as one types and sorts on a click.
    b.type_into("input.filter[data-table='bigkeys-table-0']", "biglist");
    let shown = "Array.from(document.querySelectorAll('#bigkeys-table-0 tbody tr'))\
        .filter(r => r.style.display !== 'none').length";
    b.wait_for(&format!("{shown} === 1"), "filtered to biglist");
    b.type_into("input.filter[data-table='bigkeys-table-0']", "");
    b.wait_for(&format!("{shown} === {rows}"), "filter cleared");
    let memory_col = b.eval(
        "Array.from(document.querySelectorAll('#bigkeys-table-0 th'))\
            .findIndex(h => /memory/i.test(h.textContent))",
    );
    let col = memory_col.as_i64().expect("a memory column");
    assert!(col >= 0);
    b.click(&format!("#bigkeys-table-0 th:nth-child({})", col + 1));
    let values = b.eval(&format!(
        "Array.from(document.querySelectorAll('#bigkeys-table-0 tbody tr'))\
            .map(r => Number(r.cells[{col}].dataset.v))"
    ));
    let values: Vec<f64> = values
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let mut sorted = values.clone();
    sorted.sort_by(|a, b| b.total_cmp(a));
    assert_eq!(values, sorted, "sorted by memory, largest first");

    // Nothing but the file itself was fetched; nothing was logged.
    let requests = b.requests();
    assert!(
        requests
            .iter()
            .all(|r| r.starts_with("file://") || r.starts_with("data:")),
        "requests leaving the file: {requests:?}"
    );
    assert!(requests.iter().any(|r| r.ends_with("report.html")));
    let errors = b.console_errors();
    assert!(errors.is_empty(), "console: {errors:?}");
    let png = std::fs::read(target_dir().join("report-screenshot.png")).expect("screenshot");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 10_000);
}
