//! Check 4: `rdbscope dump --format resp` rebuilds the same data in a fresh server (also
//! through `redis-cli --pipe`).

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use testkit::{RedisServer, Reply, ServerBin, ServerKind};

use super::model::Cmd;
use super::report::{show, show_cmd, trunc};
use super::server::dbsizes;

/// Splits a RESP request stream (arrays of bulk strings) into commands.
pub(super) fn parse_resp_commands(b: &[u8]) -> Result<Vec<Cmd>, String> {
    pub(super) fn line(b: &[u8], i: &mut usize) -> Result<i64, String> {
        let start = *i;
        let end = b[start..]
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or_else(|| format!("offset {start}: no CRLF"))?
            + start;
        *i = end + 2;
        std::str::from_utf8(&b[start + 1..end])
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("offset {start}: bad length line {}", show(&b[start..end])))
    }
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'*' {
            return Err(format!(
                "offset {i}: expected '*', found {}",
                show(&b[i..(i + 40).min(b.len())])
            ));
        }
        let n = line(b, &mut i)?;
        if n <= 0 {
            return Err(format!("offset {i}: command of {n} arguments"));
        }
        let mut cmd = Vec::with_capacity(n as usize);
        for _ in 0..n {
            if b.get(i) != Some(&b'$') {
                return Err(format!("offset {i}: expected '$'"));
            }
            let len = line(b, &mut i)?;
            let len =
                usize::try_from(len).map_err(|_| format!("offset {i}: negative bulk length"))?;
            if i + len + 2 > b.len() || &b[i + len..i + len + 2] != b"\r\n" {
                return Err(format!(
                    "offset {i}: bulk of {len} bytes not followed by CRLF"
                ));
            }
            cmd.push(b[i..i + len].to_vec());
            i += len + 2;
        }
        out.push(cmd);
    }
    Ok(out)
}

pub(super) fn load_resp(srv: &RedisServer, resp: &[u8], kind: ServerKind) -> Vec<String> {
    let cmds = match parse_resp_commands(resp) {
        Ok(c) => c,
        Err(e) => {
            return vec![format!(
                "--format resp output is not a RESP command stream: {e}"
            )]
        }
    };
    let mut names: BTreeMap<String, usize> = BTreeMap::new();
    for c in &cmds {
        *names
            .entry(String::from_utf8_lossy(&c[0]).to_uppercase())
            .or_default() += 1;
    }
    eprintln!("[{kind}] resp: {} commands {names:?}", cmds.len());
    let mut c = srv.client();
    let replies = match c.pipeline(&cmds) {
        Ok(r) => r,
        Err(e) => {
            return vec![format!(
                "sending {} commands: I/O error {e}\n{}",
                cmds.len(),
                srv.log_tail(10)
            )]
        }
    };
    let errs: Vec<String> = cmds
        .iter()
        .zip(&replies)
        .filter_map(|(cmd, r)| match r {
            Reply::Error(e) => Some(format!("{} -> -{e}", show_cmd(cmd))),
            _ => None,
        })
        .collect();
    let mut p: Vec<String> = errs.iter().take(10).cloned().collect();
    if errs.len() > 10 {
        p.push(format!("... {} error replies in all", errs.len()));
    }
    p
}

pub(super) fn redis_cli_pipe_problems(
    bin: &ServerBin,
    resp: &[u8],
    dbsizes: &BTreeMap<u32, u64>,
) -> Vec<String> {
    let cli_path = Path::new("/usr/bin/redis-cli");
    if !cli_path.exists() {
        eprintln!("SKIP: /usr/bin/redis-cli not installed; redis-cli --pipe check skipped");
        return Vec::new();
    }
    let srv = bin.start(&[]).expect("start server for redis-cli --pipe");
    let mut child = Command::new(cli_path)
        .args(["-h", "127.0.0.1", "-p", &srv.port().to_string(), "--pipe"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn redis-cli");
    let mut stdin = child.stdin.take().expect("stdin");
    let data = resp.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&data));
    let out = child.wait_with_output().expect("redis-cli --pipe");
    let _ = writer.join();
    let mut p = Vec::new();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    if !out.status.success() || !text.contains("errors: 0") {
        p.push(format!(
            "redis-cli --pipe: {:?}: {}",
            out.status.code(),
            trunc(text.trim())
        ));
    }
    let got = dbsizes_of(&srv);
    if &got != dbsizes {
        p.push(format!(
            "after redis-cli --pipe: DBSIZE {got:?} vs original {dbsizes:?}"
        ));
    }
    p
}

pub(super) fn dbsizes_of(srv: &RedisServer) -> BTreeMap<u32, u64> {
    dbsizes(&mut srv.client())
}
