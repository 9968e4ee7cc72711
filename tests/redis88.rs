//! Redis 8.8 (RDB 14) files built byte by byte — a stream of type 27 with a
//! NACK zone and sparse arrays of type 28 — read back through `info`,
//! `dump --format jsonl`, `dump --format resp` and `analyze`.
//!
//! Formats as redis/librdb v2.3.0 reads them (`src/lib/parser.c`
//! `elementStreamLP` NACK-zone states and `elementArray`), with the array
//! element tags of redis/redis `src/sparsearray.h` (`AR_RDB_TAG_*`). No
//! server that loads RDB 14 can be installed here, so the RESP output is
//! checked command by command (redis/redis `src/t_array.c` for `ARMSET`
//! and `ARSEEK`; redis.io's `XNACK` page for `XNACK`), not replayed.

use std::path::Path;
use std::process::Command;

use serde_json::{json, Value};

fn len(n: u64) -> Vec<u8> {
    match n {
        0..=63 => vec![n as u8],
        64..=16383 => vec![0x40 | (n >> 8) as u8, n as u8],
        _ => [vec![0x81], n.to_be_bytes().to_vec()].concat(),
    }
}

fn s(b: &[u8]) -> Vec<u8> {
    [len(b.len() as u64), b.to_vec()].concat()
}

/// Listpack entries: 7-bit integers and 6-bit-length strings, each with its
/// one-byte back-length; then the listpack header and terminator.
fn listpack(entries: &[Vec<u8>]) -> Vec<u8> {
    let body = entries.concat();
    [
        ((body.len() + 7) as u32).to_le_bytes().to_vec(),
        (entries.len() as u16).to_le_bytes().to_vec(),
        body,
        vec![0xff],
    ]
    .concat()
}

fn lp_int(v: u8) -> Vec<u8> {
    vec![v, 1]
}

fn lp_str(b: &[u8]) -> Vec<u8> {
    [
        vec![0x80 | b.len() as u8],
        b.to_vec(),
        vec![b.len() as u8 + 1],
    ]
    .concat()
}

fn raw_id(ms: u64, seq: u64) -> Vec<u8> {
    [ms.to_be_bytes(), seq.to_be_bytes()].concat()
}

/// Stream `ev` (type 27): entries 5-0 and 5-1 (field `f`), group `g` with
/// both pending, consumer `alice` owning 5-0, 5-1 in the NACK zone.
fn stream_record() -> Vec<u8> {
    let node = listpack(&[
        lp_int(2),
        lp_int(0),
        lp_int(1),
        lp_str(b"f"),
        lp_int(0),
        lp_int(2),
        lp_int(0),
        lp_int(0),
        lp_str(b"a"),
        lp_int(3),
        lp_int(2),
        lp_int(0),
        lp_int(1),
        lp_str(b"b"),
        lp_int(3),
    ]);
    let t = 1_700_000_000_000i64.to_le_bytes().to_vec();
    [
        vec![27],
        s(b"ev"),
        len(1),
        s(&raw_id(5, 0)),
        s(&node),
        len(2),
        len(5),
        len(1),
        len(5),
        len(0),
        len(0),
        len(0),
        len(2),
        len(1),
        s(b"g"),
        len(5),
        len(1),
        len(2),
        len(2),
        raw_id(5, 0),
        t.clone(),
        len(1),
        raw_id(5, 1),
        t.clone(),
        len(3),
        len(1),
        s(b"alice"),
        t.clone(),
        t,
        len(1),
        raw_id(5, 0),
        len(1),
        raw_id(5, 1),
        vec![0; 5],
    ]
    .concat()
}

/// Array `arr` (type 28): insert index 9; [0] integer -7, [1] double 2.5,
/// [5] small string "abc", [9] string "a longer string".
fn array_record() -> Vec<u8> {
    [
        vec![28],
        s(b"arr"),
        len(4),
        len(1),
        len(9),
        len(0),
        len(1),
        (-7i64).to_le_bytes().to_vec(),
        len(1),
        len(2),
        2.5f64.to_le_bytes().to_vec(),
        len(5),
        len(3),
        s(b"abc"),
        len(9),
        len(0),
        s(b"a longer string"),
    ]
    .concat()
}

fn v14_file() -> Vec<u8> {
    [
        b"REDIS0014".to_vec(),
        vec![0xfe, 0x00],
        stream_record(),
        array_record(),
        vec![0xfc],
        4_102_444_800_000i64.to_le_bytes().to_vec(),
        vec![28],
        s(b"far"),
        len(1),
        len(0),
        len(1 << 40),
        len(0),
        s(b"x"),
        vec![0xff],
        vec![0; 8],
    ]
    .concat()
}

fn ok_stdout(args: &[&str], file: &Path) -> Vec<u8> {
    let o = Command::new(env!("CARGO_BIN_EXE_rdbscope"))
        .args(args)
        .arg(file)
        .output()
        .expect("run rdbscope");
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o.stdout
}

/// The commands of `dump --format resp` output, as text.
fn resp_commands(out: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(out);
    let mut cmds = Vec::new();
    let mut lines = text.split("\r\n");
    while let Some(l) = lines.next() {
        let Some(n) = l.strip_prefix('*') else {
            continue;
        };
        let n: usize = n.parse().unwrap();
        let args: Vec<&str> = (0..n).map(|_| lines.nth(1).unwrap()).collect();
        cmds.push(args.join(" "));
    }
    cmds
}

#[test]
fn redis88_types_through_every_command() {
    let tmp = testkit::temp_dir("formats-redis88");
    let file = tmp.join("v14.rdb");
    std::fs::write(&file, v14_file()).unwrap();

    let info: Value = serde_json::from_slice(&ok_stdout(&["info", "--json"], &file)).unwrap();
    assert_eq!(info["keys"], 3, "{info}");
    assert_eq!(info["version"], 14, "{info}");
    let text = String::from_utf8(ok_stdout(&["info"], &file)).unwrap();
    assert!(text.contains("array"), "{text}");
    assert!(!text.contains("newer than"), "{text}");

    let jsonl = String::from_utf8(ok_stdout(&["dump", "--format", "jsonl"], &file)).unwrap();
    let lines: Vec<Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(lines.len(), 3, "{jsonl}");
    let group = &lines[0]["value"]["groups"][0];
    assert_eq!(lines[0]["type"], "stream");
    assert_eq!(group["nacked"], json!(["5-1"]), "{group}");
    assert_eq!(group["consumers"][0]["pending"], json!(["5-0"]), "{group}");
    assert_eq!(
        group["pending"].as_array().map(Vec::len),
        Some(2),
        "{group}"
    );
    assert_eq!(
        (&lines[1]["type"], &lines[1]["encoding"]),
        (&json!("array"), &json!("array"))
    );
    assert_eq!(
        lines[1]["value"],
        json!({"elements": [[0, "-7"], [1, "2.5"], [5, "abc"], [9, "a longer string"]],
               "count": 4, "insert_idx": 9})
    );
    assert_eq!(
        lines[2]["value"],
        json!({"elements": [[1u64 << 40, "x"]], "count": 1, "insert_idx": null})
    );
    assert_eq!(lines[2]["expire_at_ms"], 4_102_444_800_000i64);
    let only = String::from_utf8(ok_stdout(&["dump", "--type", "array"], &file)).unwrap();
    assert_eq!(only.lines().count(), 2, "{only}");

    let cmds = resp_commands(&ok_stdout(&["dump", "--format", "resp"], &file));
    for want in [
        "XGROUP CREATE ev g 5-1 ENTRIESREAD 2",
        "XGROUP CREATECONSUMER ev g alice",
        "XCLAIM ev g alice 0 5-0 TIME 1700000000000 RETRYCOUNT 1 FORCE JUSTID",
        "XGROUP CREATECONSUMER ev g rdbscope-nack",
        "XCLAIM ev g rdbscope-nack 0 5-1 TIME 1700000000000 RETRYCOUNT 3 FORCE JUSTID",
        "XNACK ev g FAIL IDS 1 5-1 RETRYCOUNT 3",
        "XGROUP DELCONSUMER ev g rdbscope-nack",
        "ARMSET arr 0 -7 1 2.5 5 abc 9 a longer string",
        "ARSEEK arr 10",
        "ARMSET far 1099511627776 x",
        "PEXPIREAT far 4102444800000",
    ] {
        assert!(cmds.iter().any(|c| c == want), "{want:?} not in {cmds:#?}");
    }
    let seek = cmds.iter().position(|c| c.starts_with("ARSEEK arr"));
    let set = cmds.iter().position(|c| c.starts_with("ARMSET arr"));
    assert!(set < seek, "{cmds:#?}");
    assert!(
        !cmds.iter().any(|c| c.starts_with("ARSEEK far")),
        "{cmds:#?}"
    );

    let out = tmp.join("analysis");
    let an = ok_stdout(
        &[
            "analyze",
            "--format",
            "json",
            "--out",
            out.to_str().unwrap(),
        ],
        &file,
    );
    let a: Value = serde_json::from_slice(&an).unwrap();
    assert_eq!(a["totals"]["keys"], 3, "{a}");
    let types = a.to_string();
    assert!(types.contains("sliced_array"), "{types}");
}
