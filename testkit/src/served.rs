//! `rdbscope serve` as a child process, for the benches: its config written
//! into a temp dir, the first admin's token taken from `--init-admin`, the
//! service started and waited for on `/healthz`, killed on drop.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::TempDir;

/// A service set up (config written, admin made) but not started yet.
pub struct ServeSetup {
    pub bin: String,
    pub dir: TempDir,
    pub port: u16,
    pub config: PathBuf,
    /// The store's URL (SQLite in `dir` unless another was given).
    pub store: String,
    /// The first admin's token.
    pub admin: String,
}

/// A running service.
pub struct Served {
    pub child: Child,
    pub port: u16,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    pub admin: String,
    pub dir: TempDir,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl ServeSetup {
    /// Writes the config in a new temp dir named for `tag` (`listen`,
    /// `data_dir`, `store`, then `extra(dir)`'s lines) and makes the admin
    /// `root`. `store`: None for SQLite in the temp dir.
    pub fn new(
        bin: &str,
        tag: &str,
        store: Option<&str>,
        extra: impl FnOnce(&Path) -> String,
    ) -> Self {
        let dir = crate::temp_dir(tag);
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let store = store
            .map(str::to_string)
            .unwrap_or_else(|| format!("sqlite://{}", dir.join("jobs.db").display()));
        let config = dir.join("config.toml");
        let text = format!(
            "listen = \"127.0.0.1:{port}\"\ndata_dir = \"{}\"\nstore = \"{store}\"\n{}",
            dir.join("data").display(),
            extra(dir.path())
        );
        std::fs::write(&config, text).expect("write the config");
        let out = Command::new(bin)
            .args(["serve", "--config"])
            .arg(&config)
            .args(["--init-admin", "root"])
            .output()
            .expect("run rdbscope serve --init-admin");
        let text = String::from_utf8_lossy(&out.stdout);
        let admin = text
            .split_whitespace()
            .find(|w| w.starts_with("rdbs_"))
            .unwrap_or_else(|| panic!("no token: {text} {}", String::from_utf8_lossy(&out.stderr)))
            .trim_matches(|c: char| !c.is_ascii_alphanumeric() && c != '_')
            .to_string();
        ServeSetup {
            bin: bin.to_string(),
            dir,
            port,
            config,
            store,
            admin,
        }
    }

    /// Starts the service (its stderr in `serve.log` of the dir) and waits
    /// up to 30 s for `/healthz`.
    pub fn start(self) -> Served {
        let log = std::fs::File::create(self.dir.join("serve.log")).expect("serve.log");
        let child = Command::new(&self.bin)
            .args(["serve", "--config"])
            .arg(&self.config)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start rdbscope serve");
        let served = Served {
            child,
            port: self.port,
            base: format!("http://127.0.0.1:{}", self.port),
            admin: self.admin,
            dir: self.dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !healthy(served.port) {
            assert!(Instant::now() < deadline, "the service did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        served
    }
}

/// Whether `GET /healthz` answers 200.
fn healthy(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let req =
        format!("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    let mut head = [0u8; 12];
    s.write_all(req.as_bytes()).is_ok()
        && s.read_exact(&mut head).is_ok()
        && head.ends_with(b" 200")
}
