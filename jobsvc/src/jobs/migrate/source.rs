//! Where the keys come from: a live app (`SCAN`, then `PTTL` + `DUMP` on
//! each master) or RDB files (on the service host, or fetched from the app
//! as a replica) read in batches of records without decoding the values.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use ::redis::Value as RV;
use rdb_parser::restore::{payload_version, restore_payload};
use rdb_parser::{Chunk, Rdb, Record};
use serde_json::json;

use super::checkpoint::State;
use super::params::MigrationParams;
use crate::error::{Error, Result};
use crate::files::map_file;
use crate::job::{FetchProgress, JobCtx, Shard};
use crate::redis::keys::show;
use crate::redis::nodes::is_cluster;
use crate::redis::reply::{int, server_error};
use crate::redis::timed::{self, NODE_IO};
use crate::registry::{self, Credentials, Node};
use crate::state::credentials;
use crate::store::{now_ms, AppRow};

/// One key read from the source.
pub(super) struct Item {
    pub(super) key: Vec<u8>,
    pub(super) payload: Vec<u8>,
    pub(super) expire_at: Option<i64>,
    /// The RDB version the payload says it was written with (None: its
    /// trailer does not hold), found once where the payload is made.
    pub(super) version: Option<u32>,
    /// File sources: where its record starts (for the verification).
    pub(super) offset: Option<u64>,
}

pub(super) struct Batch {
    pub(super) db: u32,
    pub(super) items: Vec<Item>,
    /// Keys that were selected but are gone (live) by the time of `DUMP`.
    pub(super) vanished: u64,
}

pub(super) struct LiveSource {
    pub(super) creds: Credentials,
    pub(super) masters: Vec<String>,
    pub(super) dbs: Vec<u32>,
    pub(super) conn: Option<(String, u32, redis::Connection)>,
}

impl LiveSource {
    pub(super) fn open(ctx: &JobCtx, p: &MigrationParams, app: &AppRow) -> Result<LiveSource> {
        let nodes = ctx.fresh_nodes(app)?;
        let mut masters: Vec<&Node> = nodes.iter().filter(|n| n.role == "master").collect();
        // Shards in slot order, so that a failover keeps each one's place.
        masters.sort_by_key(|n| {
            (
                n.slots.as_ref().and_then(|s| s.first().map(|r| r[0])),
                n.addr.clone(),
            )
        });
        let mut s = LiveSource {
            creds: credentials(app),
            masters: masters.iter().map(|n| n.addr.clone()).collect(),
            dbs: Vec::new(),
            conn: None,
        };
        s.dbs = match (&p.dbs, is_cluster(app)) {
            (_, true) => vec![0],
            (Some(d), false) => {
                let mut d = d.clone();
                d.sort_unstable();
                d
            }
            (None, false) => {
                let mut all = BTreeSet::new();
                for m in s.masters.clone() {
                    let c = s.conn(&m, 0)?;
                    all.extend(registry::keyspace(c)?.into_iter().map(|(db, _)| db));
                }
                all.into_iter().collect()
            }
        };
        Ok(s)
    }

    pub(super) fn conn(&mut self, addr: &str, db: u32) -> Result<&mut redis::Connection> {
        let fresh = !matches!(&self.conn, Some((a, d, _)) if a == addr && *d == db);
        if fresh {
            let mut c = registry::connect(addr, &self.creds, Duration::from_secs(5))?;
            if db != 0 {
                redis::cmd("SELECT")
                    .arg(db)
                    .query::<()>(&mut c)
                    .map_err(Error::from)?;
            }
            self.conn = Some((addr.to_string(), db, c));
        }
        Ok(&mut self.conn.as_mut().expect("set").2)
    }

    /// The next batch of selected keys, moving the position in `st`.
    pub(super) fn next_keys(
        &mut self,
        p: &MigrationParams,
        st: &mut State,
    ) -> Result<Option<(u32, Vec<Vec<u8>>)>> {
        let want = p.chunk();
        loop {
            if st.a >= self.masters.len() {
                return Ok(None);
            }
            if st.b as usize >= self.dbs.len() {
                st.a += 1;
                st.b = 0;
                st.c = 0;
                continue;
            }
            let (master, db) = (self.masters[st.a].clone(), self.dbs[st.b as usize]);
            let mut cmd = redis::cmd("SCAN");
            cmd.arg(st.c);
            if p.patterns.len() == 1 {
                cmd.arg("MATCH").arg(p.patterns[0].glob());
            }
            cmd.arg("COUNT").arg(want.max(10));
            if let Some(t) = &p.key_type {
                cmd.arg("TYPE").arg(t);
            }
            let (next, keys): (u64, Vec<Vec<u8>>) = cmd
                .query(self.conn(&master, db)?)
                .map_err(|e| Error::from(e).context(format!("SCAN on {master}")))?;
            st.c = next;
            if next == 0 {
                st.b += 1;
                st.c = 0;
            }
            let keys: Vec<Vec<u8>> = keys.into_iter().filter(|k| p.selects_key(k)).collect();
            if !keys.is_empty() {
                return Ok(Some((db, keys)));
            }
        }
    }

    /// `PTTL` and `DUMP` of each key, from the master of the current position.
    pub(super) fn read(&mut self, a: usize, db: u32, keys: Vec<Vec<u8>>) -> Result<Batch> {
        // The position moves on only before a SCAN: `a` is the master the
        // keys were scanned on.
        let master = self.masters[a.min(self.masters.len() - 1)].clone();
        let mut pipe = redis::pipe();
        for k in &keys {
            pipe.cmd("PTTL").arg(&k[..]);
            pipe.cmd("DUMP").arg(&k[..]);
        }
        let before = now_ms();
        // One deadline for the batch's replies; a connection that failed
        // one is not used again.
        let replies: Vec<RV> =
            timed::query(&pipe, self.conn(&master, db)?, NODE_IO).map_err(|e| {
                self.conn = None;
                e.context(format!("DUMP on {master}"))
            })?;
        let mut b = Batch {
            db,
            items: Vec::new(),
            vanished: 0,
        };
        // The replies are moved, not copied, into the items.
        let mut replies = replies.into_iter();
        for k in keys {
            let mut r: Vec<RV> = replies.by_ref().take(2).collect();
            let mut at = before;
            // A cluster slot moved since the SCAN: read the key where it is now.
            if let Some((code, details)) = r.iter().find_map(server_error) {
                let addr = details
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or_default()
                    .to_string();
                if !matches!(code.as_str(), "MOVED" | "ASK") || addr.is_empty() {
                    return Err(Error::internal(format!(
                        "DUMP {} on {master}: {code} {details}",
                        show(&k)
                    )));
                }
                let mut c = registry::connect(&addr, &self.creds, Duration::from_secs(5))?;
                let mut pipe = redis::pipe();
                if code == "ASK" {
                    pipe.cmd("ASKING").ignore();
                }
                pipe.cmd("PTTL").arg(&k[..]).cmd("DUMP").arg(&k[..]);
                at = now_ms();
                r = pipe
                    .query(&mut c)
                    .map_err(|e| Error::from(e).context(format!("DUMP on {addr}")))?;
            }
            let pttl = r.first().and_then(int).unwrap_or(-2);
            match (r.pop(), pttl) {
                (Some(RV::BulkString(payload)), t) if t != -2 && r.len() == 1 => {
                    b.items.push(Item {
                        key: k,
                        version: payload_version(&payload),
                        payload,
                        expire_at: (t >= 0).then_some(at + t),
                        offset: None,
                    })
                }
                _ => b.vanished += 1,
            }
        }
        Ok(b)
    }
}

/// A batch read from a file, where the next starts (offset, db; None at
/// the end of the file), and how far the file has been read.
pub(super) type FileBatch = (Batch, Option<(u64, u64)>, u64);

/// RDB files read in order: a batch is a run of records of one db.
pub(super) struct FileSource {
    pub(super) files: Vec<(PathBuf, rdb_parser::mmap::Mmap)>,
}

impl FileSource {
    pub(super) fn rdb(&self, i: usize) -> Result<Rdb<'_>> {
        let (path, m) = &self.files[i];
        Rdb::new(m).map_err(|e| Error::internal(format!("{}: {e}", path.display())))
    }

    /// Reads the batch starting at file `file`, `offset` (db `db`); returns
    /// it and where the next one starts (None at the end of the file).
    pub(super) fn read_at(
        &self,
        p: &MigrationParams,
        file: usize,
        offset: u64,
        db: u64,
    ) -> Result<FileBatch> {
        let rdb = self.rdb(file)?;
        let offset = offset.max(rdb.body_start());
        let chunk = Chunk {
            index: 0,
            start: offset,
            end: rdb.data().len() as u64,
            db,
            last: true,
        };
        let mut records = rdb.chunk_records(&chunk);
        let mut b = Batch {
            db: db as u32,
            items: Vec::new(),
            vanished: 0,
        };
        let mut keybuf = Vec::new();
        let want = p.chunk();
        let mut bytes = 0u64;
        let name = self.files[file].0.display().to_string();
        loop {
            let at = records.offset();
            let at_db = records.db();
            if !b.items.is_empty() && (b.items.len() >= want || bytes >= 16 << 20) {
                return Ok((b, Some((at, at_db)), at));
            }
            match records.next() {
                None | Some(Ok(Record::Eof { .. })) => {
                    return Ok((b, None, rdb.data().len() as u64))
                }
                Some(Err(e)) => return Err(Error::internal(format!("{name}: {e}"))),
                Some(Ok(Record::SelectDb(_))) if !b.items.is_empty() => {
                    return Ok((b, Some((at, at_db)), at));
                }
                Some(Ok(Record::Entry(e))) => {
                    b.db = e.db as u32;
                    let key = e
                        .key
                        .bytes(&mut keybuf)
                        .map_err(|e| Error::internal(format!("{name}: {e}")))?;
                    if !p.selects_db(e.db as u32)
                        || !p.selects_key(key)
                        || !p.selects_type(e.kind().name())
                    {
                        continue;
                    }
                    bytes += e.value.raw().len() as u64;
                    b.items.push(Item {
                        key: key.to_vec(),
                        // What `restore_payload` writes in the trailer.
                        version: Some(rdb.version().min(u32::from(u16::MAX))),
                        payload: restore_payload(
                            e.value_type().byte(),
                            e.value.raw(),
                            rdb.version(),
                        ),
                        expire_at: e.expire_at_ms,
                        offset: Some(e.record_start),
                    });
                }
                Some(Ok(_)) => {}
            }
        }
    }
}

pub(super) enum Src {
    Live(Box<LiveSource>),
    Files(FileSource),
}

pub(super) fn live_estimate(l: &mut LiveSource) -> Result<u64> {
    let mut n = 0;
    for m in l.masters.clone() {
        let c = l.conn(&m, 0)?;
        for (db, keys) in registry::keyspace(c)? {
            if l.dbs.contains(&db) {
                n += keys;
            }
        }
    }
    Ok(n.max(1))
}

/// Fetches each shard's RDB as a replica, shards side by side as
/// [`JobCtx::fetch_shards`] allows (files of an earlier attempt are
/// complete, fetches land by rename, and are kept).
pub(super) fn fetch_files(ctx: &JobCtx, app: &AppRow) -> Result<FileSource> {
    let dir = ctx.work_dir().join("fetch");
    std::fs::create_dir_all(&dir)?;
    let nodes = ctx.fresh_nodes(app)?;
    let mut sources = registry::sources(&nodes);
    sources.sort_by(|a, b| a.0.addr.cmp(&b.0.addr));
    let shards: Vec<Shard> = sources
        .iter()
        .map(|(master, from)| Shard::in_dir(&dir, &master.addr, &from.addr))
        .collect();
    let progress = |p: FetchProgress<'_>| {
        ctx.progress(
            "fetching",
            0.0,
            json!({"node": p.node, "bytes": p.bytes, "shards_done": p.shards_done, "shards": p.shards}),
            false,
        );
    };
    ctx.fetch_shards(app, &shards, &progress, &|_, _, _| Ok(()))?;
    let files = shards
        .into_iter()
        .map(|s| map_file(&s.dest).map(|m| (s.dest, m)))
        .collect::<Result<Vec<_>>>()?;
    Ok(FileSource { files })
}
