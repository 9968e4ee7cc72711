//! Throwaway PostgreSQL servers: `initdb` into a temp dir, `postgres` on a free
//! 127.0.0.1 port, a `rdbscope` database owned by the `rdbscope` role (trust
//! auth), stopped and removed on drop.
//!
//! The binaries come from `$RDBSCOPE_PG_BIN` (a directory holding `initdb`,
//! `postgres` and `psql`), else the newest `/usr/lib/postgresql/<version>/bin`
//! (Debian's `postgresql` package, installed by `testdata/install-servers.sh`).
//! PostgreSQL refuses to run as root, so when the tests run as root the server
//! runs as the `postgres` system user (the package creates it): the temp dir is
//! handed to that user and `initdb` / `postgres` are started with its uid and
//! gid (and no supplementary groups), so that the child's PID is the
//! postmaster's own.
//!
//! ```no_run
//! let Some(pg) = testkit::require_postgres() else { return };
//! let db = pg.start().unwrap();
//! assert_eq!(db.psql("select 40 + 2").unwrap(), "42");
//! println!("{}", db.url()); // postgres://rdbscope@127.0.0.1:<port>/rdbscope
//! // stopped (fast shutdown) and its dir removed when `db` drops
//! ```

use std::fs::File;
use std::io;
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::fsutil::TempDir;
use crate::server::{in_ci, stdout_of, stop_child, tail_of};

/// The env var naming a directory with `initdb`, `postgres` and `psql`.
pub const PG_BIN_ENV: &str = "RDBSCOPE_PG_BIN";

/// The role and the database every test server has.
const ROLE: &str = "rdbscope";

/// A PostgreSQL installation found on this machine, ready to [`start`](PostgresBin::start).
#[derive(Clone, Debug)]
pub struct PostgresBin {
    /// The directory holding `initdb`, `postgres`, `psql`.
    pub bin_dir: PathBuf,
    /// Version from `postgres --version` (`postgres (PostgreSQL) 15.18 (Debian …)` → `"15.18"`).
    pub version: String,
    /// Uid and gid to run as (the `postgres` user) when this process is root.
    run_as: Option<(u32, u32)>,
}

/// Locates PostgreSQL (see the module docs). Cached per process. Never panics;
/// see [`require_postgres`] for tests.
pub fn find_postgres() -> Option<PostgresBin> {
    static CACHE: OnceLock<Option<PostgresBin>> = OnceLock::new();
    CACHE.get_or_init(locate).clone()
}

/// Like [`find_postgres`], for tests: when PostgreSQL is missing and env `CI` is
/// set, panics (CI must install it); otherwise prints a loud SKIP line and
/// returns `None`:
///
/// ```no_run
/// let Some(pg) = testkit::require_postgres() else { return };
/// ```
#[track_caller]
pub fn require_postgres() -> Option<PostgresBin> {
    if let Some(b) = find_postgres() {
        return Some(b);
    }
    if in_ci() {
        panic!(
            "PostgreSQL (initdb, postgres) not found, and CI is set: CI must install it \
             (run `bash testdata/install-servers.sh`, or set {PG_BIN_ENV} to its bin dir)"
        );
    }
    eprintln!(
        "SKIP: PostgreSQL not installed; run testdata/install-servers.sh \
         (or set {PG_BIN_ENV} to the directory holding initdb and postgres)"
    );
    None
}

fn has_binaries(dir: &Path) -> bool {
    ["initdb", "postgres", "psql"]
        .iter()
        .all(|b| dir.join(b).is_file())
}

/// `15.14` → `[15, 14]`, for picking the newest install.
fn version_key(name: &str) -> Vec<u64> {
    name.split('.').map(|p| p.parse().unwrap_or(0)).collect()
}

fn locate() -> Option<PostgresBin> {
    let bin_dir = match std::env::var_os(PG_BIN_ENV).filter(|v| !v.is_empty()) {
        Some(d) => {
            let d = PathBuf::from(d);
            if !has_binaries(&d) {
                eprintln!(
                    "testkit: {PG_BIN_ENV}={} has no initdb, postgres and psql",
                    d.display()
                );
                return None;
            }
            d
        }
        None => {
            let mut found: Vec<(Vec<u64>, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
                .ok()?
                .flatten()
                .map(|e| {
                    (
                        version_key(&e.file_name().to_string_lossy()),
                        e.path().join("bin"),
                    )
                })
                .filter(|(_, d)| has_binaries(d))
                .collect();
            found.sort();
            found.pop()?.1
        }
    };
    let out = Command::new(bin_dir.join("postgres"))
        .arg("--version")
        .stdin(Stdio::null())
        .output();
    let out = match out {
        Ok(o) if o.status.success() => o,
        Ok(o) => {
            eprintln!(
                "testkit: {}/postgres --version failed ({}): {}",
                bin_dir.display(),
                o.status,
                String::from_utf8_lossy(&o.stderr).trim()
            );
            return None;
        }
        Err(e) => {
            eprintln!("testkit: cannot run {}/postgres: {e}", bin_dir.display());
            return None;
        }
    };
    // `postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)`
    let text = String::from_utf8_lossy(&out.stdout);
    let mut words = text.split_whitespace();
    let version = words
        .find(|w| *w == "(PostgreSQL)")
        .and(words.next())
        .unwrap_or("")
        .to_string();
    let run_as = if effective_uid() == Some(0) {
        match postgres_user() {
            Some(ids) => Some(ids),
            None => {
                eprintln!(
                    "testkit: running as root, and there is no `postgres` user to run \
                     PostgreSQL as (install Debian's postgresql package)"
                );
                return None;
            }
        }
    } else {
        None
    };
    Some(PostgresBin {
        bin_dir,
        version,
        run_as,
    })
}

/// The effective uid, from `/proc/self/status` (else `id -u`).
fn effective_uid() -> Option<u32> {
    if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
        if let Some(line) = status.lines().find_map(|l| l.strip_prefix("Uid:")) {
            return line.split_whitespace().nth(1)?.parse().ok();
        }
    }
    id_of(&["-u"])
}

fn id_of(args: &[&str]) -> Option<u32> {
    stdout_of(Command::new("id").args(args))?
        .trim()
        .parse()
        .ok()
}

fn postgres_user() -> Option<(u32, u32)> {
    Some((id_of(&["-u", "postgres"])?, id_of(&["-g", "postgres"])?))
}

/// Hands `path` and everything under it to `uid:gid`.
fn chown_tree(path: &Path, uid: u32, gid: u32) -> io::Result<()> {
    std::os::unix::fs::chown(path, Some(uid), Some(gid))?;
    if path.is_dir() && !path.is_symlink() {
        for e in std::fs::read_dir(path)? {
            chown_tree(&e?.path(), uid, gid)?;
        }
    }
    Ok(())
}

fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}

impl PostgresBin {
    /// Version, e.g. `"15.18"`.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// A command for one of the binaries, run as the `postgres` user when we are root.
    fn command(&self, program: &str, cwd: &Path) -> Command {
        let mut cmd = Command::new(self.bin_dir.join(program));
        cmd.current_dir(cwd).stdin(Stdio::null());
        if let Some((uid, gid)) = self.run_as {
            cmd.uid(uid)
                .gid(gid)
                .env("HOME", cwd)
                .env("USER", "postgres");
        }
        cmd
    }

    /// `initdb` (trust auth, superuser `rdbscope`) into a fresh temp dir, then
    /// `postgres -D <dir>/data -p <free port> -k <dir> -h 127.0.0.1 -c fsync=off`
    /// (and the other durability settings off), then `CREATE DATABASE rdbscope`.
    /// Returns once the database accepts queries (30 s timeout; the error then
    /// includes the log tail). Retries on another port when the port was taken.
    pub fn start(&self) -> io::Result<Postgres> {
        let dir = TempDir::new("postgres")?;
        if let Some((uid, gid)) = self.run_as {
            chown_tree(dir.path(), uid, gid)?;
        }
        let data = dir.join("data");
        let log_path = dir.join("postgres.log");
        let log = File::create(&log_path)?;
        let out = self
            .command("initdb", dir.path())
            .arg("-D")
            .arg(&data)
            .args([
                "-U",
                ROLE,
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ])
            .stdout(log.try_clone()?)
            .stderr(log)
            .status()
            .map_err(|e| io::Error::new(e.kind(), format!("running initdb: {e}")))?;
        if !out.success() {
            return Err(io::Error::other(format!(
                "initdb failed ({out}); log {}:\n{}",
                log_path.display(),
                tail_of(&log_path, 30)
            )));
        }
        let mut dir = Some(dir);
        let mut last_err = None;
        for attempt in 0..6 {
            let d = dir.take().expect("dir");
            let port = free_port()?;
            let child = self.spawn_postgres(d.path(), port)?;
            let mut pg = Postgres {
                child,
                port,
                bin: self.clone(),
                dir: Some(d),
                stopped: false,
            };
            match pg.wait_ready() {
                Ok(()) => return Ok(pg),
                Err((e, retry)) => {
                    pg.stop_quietly();
                    dir = pg.dir.take();
                    if !retry {
                        return Err(e);
                    }
                    eprintln!(
                        "testkit: postgres start attempt {} failed, retrying: {e}",
                        attempt + 1
                    );
                    last_err = Some(e);
                }
            }
        }
        Err(last_err.unwrap_or_else(|| io::Error::other("postgres did not start")))
    }
}

impl PostgresBin {
    /// The postmaster on `dir/data`, listening on 127.0.0.1:`port` and a
    /// socket in `dir`, logging to `dir/postgres.log`.
    fn spawn_postgres(&self, dir: &Path, port: u16) -> io::Result<Child> {
        let log = File::options()
            .append(true)
            .open(dir.join("postgres.log"))?;
        self.command("postgres", dir)
            .arg("-D")
            .arg(dir.join("data"))
            .args(["-p", &port.to_string(), "-h", "127.0.0.1", "-k"])
            .arg(dir)
            .args(["-c", "fsync=off", "-c", "full_page_writes=off"])
            .args(["-c", "synchronous_commit=off", "-c", "max_connections=200"])
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .map_err(|e| io::Error::new(e.kind(), format!("spawning postgres: {e}")))
    }
}

/// A running PostgreSQL server with a `rdbscope` database; stopped (fast
/// shutdown, SIGKILL after 10 s) and its dir removed on drop (kept when env
/// `RDBSCOPE_KEEP_TMP` is set).
#[derive(Debug)]
pub struct Postgres {
    child: Child,
    port: u16,
    bin: PostgresBin,
    dir: Option<TempDir>,
    stopped: bool,
}

impl Postgres {
    /// `Err((error, worth retrying on another port))`.
    fn wait_ready(&mut self) -> Result<(), (io::Error, bool)> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                self.stopped = true;
                let tail = self.log_tail(30);
                let retry = tail.contains("could not bind") || tail.contains("already in use");
                return Err((
                    io::Error::other(format!(
                        "postgres exited at start ({status}); log {}:\n{tail}",
                        self.log_path().display()
                    )),
                    retry,
                ));
            }
            if Instant::now() > deadline {
                return Err((
                    io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!(
                            "postgres on port {} did not accept queries within 30 s; log {}:\n{}",
                            self.port,
                            self.log_path().display(),
                            self.log_tail(30)
                        ),
                    ),
                    false,
                ));
            }
            if TcpStream::connect((Ipv4Addr::LOCALHOST, self.port)).is_ok() {
                // Our postmaster writes its pid as the first line of postmaster.pid
                // once it listens; a port answered by anything else is retried.
                let pid_file = self.data_dir().join("postmaster.pid");
                let ours = std::fs::read_to_string(&pid_file)
                    .ok()
                    .and_then(|t| t.lines().next()?.trim().parse::<u32>().ok())
                    == Some(self.child.id());
                if ours {
                    match self.psql_in("postgres", &format!("create database {ROLE}")) {
                        Ok(_) => return Ok(()),
                        // Still starting up ("the database system is starting up").
                        Err(e) if e.to_string().contains("starting up") => {}
                        Err(e) => return Err((e, false)),
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `postgres://rdbscope@127.0.0.1:<port>/rdbscope`.
    pub fn url(&self) -> String {
        format!("postgres://{ROLE}@127.0.0.1:{}/{ROLE}", self.port)
    }

    /// TCP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The postmaster's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The temp dir: `data/` (the cluster), the Unix socket, `postgres.log`.
    pub fn dir(&self) -> &Path {
        self.dir.as_ref().expect("dir").path()
    }

    /// The cluster's data directory.
    pub fn data_dir(&self) -> PathBuf {
        self.dir().join("data")
    }

    /// initdb's and the server's log.
    pub fn log_path(&self) -> PathBuf {
        self.dir().join("postgres.log")
    }

    /// Last `lines` lines of the log.
    pub fn log_tail(&self, lines: usize) -> String {
        tail_of(&self.log_path(), lines)
    }

    /// The installation it runs.
    pub fn bin(&self) -> &PostgresBin {
        &self.bin
    }

    /// Runs `sql` with `psql` over TCP in the `rdbscope` database (unaligned,
    /// tuples only, stop on the first error) and returns its trimmed stdout,
    /// e.g. `"1"` for `select 1`. An SQL error is an `Err` with psql's message.
    pub fn psql(&self, sql: &str) -> io::Result<String> {
        self.psql_in(ROLE, sql)
    }

    fn psql_in(&self, db: &str, sql: &str) -> io::Result<String> {
        let out: Output = Command::new(self.bin.bin_dir.join("psql"))
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                ROLE,
                "-d",
                db,
            ])
            .args(["-c", sql])
            .env("PGCONNECT_TIMEOUT", "5")
            .stdin(Stdio::null())
            .output()?;
        if !out.status.success() {
            return Err(io::Error::other(format!(
                "psql -c {sql:?} ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// Stops the server (fast shutdown: every client is cut off), waits
    /// `down`, and starts it again on the same port and data; returns once
    /// it answers queries again (30 s timeout).
    pub fn restart(&mut self, down: Duration) -> io::Result<()> {
        self.stop_quietly();
        std::thread::sleep(down);
        self.child = self.bin.spawn_postgres(self.dir(), self.port)?;
        self.stopped = false;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match self.psql("select 1") {
                Ok(_) => return Ok(()),
                Err(e) if Instant::now() > deadline => {
                    return Err(io::Error::other(format!(
                        "postgres did not come back: {e}\n{}",
                        self.log_tail(30)
                    )))
                }
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }

    /// Stops the server and removes its dir.
    pub fn stop(self) {
        drop(self)
    }

    fn stop_quietly(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        // SIGINT is PostgreSQL's fast shutdown: clients are disconnected (SIGTERM
        // would wait for them to leave).
        stop_child(&mut self.child, "-INT");
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop_quietly();
        // `dir` (a TempDir) is removed when the field drops, after the server is gone.
    }
}
