//! Finding Debian's Chromium and starting it headless with a DevTools port on 127.0.0.1.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::server::in_ci;

/// Environment variable naming a Chromium binary to use instead of Debian's.
pub const CHROMIUM_ENV: &str = "RDBSCOPE_CHROMIUM";

/// The Chromium binary: `$RDBSCOPE_CHROMIUM`, else Debian's `/usr/bin/chromium`
/// (or `chromium-browser`).
pub fn find_chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(CHROMIUM_ENV) {
        let p = PathBuf::from(p);
        return p.exists().then_some(p);
    }
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// [`find_chromium`], or `None` with a loud `SKIP` line; under `CI` a missing
/// Chromium panics (CI installs it with `testdata/install-servers.sh`).
#[track_caller]
pub fn require_chromium() -> Option<PathBuf> {
    let found = find_chromium();
    if found.is_none() {
        assert!(
            !in_ci(),
            "chromium not found, and CI is set: testdata/install-servers.sh installs it \
             (or set {CHROMIUM_ENV})"
        );
        eprintln!(
            "SKIP: chromium is not installed (apt-get install chromium, or set {CHROMIUM_ENV})"
        );
    }
    found
}

/// The flags every headless run uses: no sandbox (tests run as root in CI), and
/// none of Chromium's own background traffic (the machine's network is closed,
/// and a test counts the requests a page makes).
pub const HEADLESS_FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-dev-shm-usage",
];

/// Starts Chromium on `about:blank` with `--remote-debugging-port=0` and the
/// profile in `profile`; returns the child and the DevTools port, read from the
/// `DevToolsActivePort` file Chromium writes into the profile.
pub(crate) fn start(
    bin: &Path,
    profile: &Path,
    width: u32,
    height: u32,
) -> std::io::Result<(Child, u16)> {
    let mut child = Command::new(bin)
        .args(HEADLESS_FLAGS)
        .arg("--remote-debugging-address=127.0.0.1")
        .arg("--remote-debugging-port=0")
        .arg(format!("--window-size={width},{height}"))
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("about:blank")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let file = profile.join("DevToolsActivePort");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(text) = std::fs::read_to_string(&file) {
            if let Some(port) = text.lines().next().and_then(|l| l.trim().parse().ok()) {
                return Ok((child, port));
            }
        }
        if let Some(status) = child.try_wait()? {
            return Err(std::io::Error::other(format!(
                "chromium exited before opening its DevTools port: {status}"
            )));
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(std::io::Error::other(
                "chromium did not open its DevTools port within 30 s",
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The WebSocket URL of the first page target (`GET /json/list` on the DevTools port).
pub(crate) fn page_socket_url(port: u16) -> std::io::Result<String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let body = http_get(port, "/json/list")?;
        let list: serde_json::Value = serde_json::from_str(&body)
            .map_err(|e| std::io::Error::other(format!("/json/list: {e}: {body}")))?;
        let page = list.as_array().and_then(|targets| {
            targets
                .iter()
                .find(|t| t["type"] == "page")
                .and_then(|t| t["webSocketDebuggerUrl"].as_str())
        });
        if let Some(url) = page {
            return Ok(url.to_string());
        }
        if Instant::now() > deadline {
            return Err(std::io::Error::other(format!(
                "no page target in /json/list: {body}"
            )));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A one-shot HTTP/1.1 GET on loopback, returning the body (read up to its
/// `Content-Length`: Chromium keeps the connection open).
fn http_get(port: u16, path: &str) -> std::io::Result<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let n = s.read(&mut buf)?;
        raw.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&raw);
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let len = head.lines().find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse::<usize>().ok())?
            });
            if len.is_some_and(|len| body.len() >= len) || (n == 0 && len.is_none()) {
                return Ok(body.to_string());
            }
        }
        if n == 0 {
            return Err(std::io::Error::other(format!(
                "short HTTP answer from chromium: {text:?}"
            )));
        }
    }
}
