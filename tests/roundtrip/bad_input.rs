//! Check 5: bad files exit 1 with an offset in the message; bad usage exits 2.

use std::ffi::OsStr;
use std::path::Path;

use super::cli::{cli, describe};
use super::report::trunc;

pub(super) fn bad_input_problems(rdb_bytes: &[u8], rdb: &Path) -> Vec<String> {
    let mut p = Vec::new();
    let dir = testkit::temp_dir("roundtrip-bad");
    let mut check = |label: &str, args: Vec<&OsStr>, code: i32, want_offset: bool| {
        let out = cli(&args);
        let err = String::from_utf8_lossy(&out.stderr).to_lowercase();
        if out.status.code() != Some(code) {
            p.push(format!("{label}: want exit {code}, got {}", describe(&out)));
        } else if want_offset && !err.contains("offset") {
            p.push(format!(
                "{label}: error message lacks \"offset\": {}",
                trunc(err.trim())
            ));
        } else if err.trim().is_empty() {
            p.push(format!(
                "{label}: exit {code} without any message on stderr"
            ));
        }
    };
    // Cut inside the data: the middle of the file, and just before the checksum/EOF.
    let half = dir.join("half.rdb");
    std::fs::write(&half, &rdb_bytes[..rdb_bytes.len() / 2]).expect("write");
    let short = dir.join("short.rdb");
    std::fs::write(&short, &rdb_bytes[..rdb_bytes.len() - 12]).expect("write");
    let garbage = dir.join("garbage.rdb");
    std::fs::write(&garbage, b"NOTANRDBFILE, just some text\n").expect("write");
    let missing = dir.join("does-not-exist.rdb");
    let d = OsStr::new("dump");
    check(
        "dump of a file truncated at half",
        vec![d, half.as_os_str()],
        1,
        true,
    );
    check(
        "dump of a file missing its last 12 bytes",
        vec![d, short.as_os_str()],
        1,
        true,
    );
    check(
        "dump --format resp of a truncated file",
        vec![
            d,
            half.as_os_str(),
            OsStr::new("--format"),
            OsStr::new("resp"),
        ],
        1,
        true,
    );
    check(
        "info of a truncated file",
        vec![OsStr::new("info"), half.as_os_str()],
        1,
        true,
    );
    check(
        "dump of a file with a bad magic",
        vec![d, garbage.as_os_str()],
        1,
        true,
    );
    check(
        "dump of a missing file",
        vec![d, missing.as_os_str()],
        1,
        false,
    );
    check("dump without FILE", vec![d], 2, false);
    check("no subcommand", vec![], 2, false);
    check(
        "dump --format xml",
        vec![
            d,
            rdb.as_os_str(),
            OsStr::new("--format"),
            OsStr::new("xml"),
        ],
        2,
        false,
    );
    check(
        "dump --db notanumber",
        vec![d, rdb.as_os_str(), OsStr::new("--db"), OsStr::new("x")],
        2,
        false,
    );
    check(
        "unknown option",
        vec![d, rdb.as_os_str(), OsStr::new("--no-such-option")],
        2,
        false,
    );
    p
}
