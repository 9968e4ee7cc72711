//! Writing a cleanup's backup: each batch's `DUMP` payloads appended to
//! `backup.rdb` (or its previous TTLs to `ttls.jsonl`) and synced before
//! the batch is acted on; taken up again at a checkpoint's position; and
//! closed with `EOF` and the checksum when the job ends.

use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use rdb_parser::restore::payload_version;
use rdb_parser::writer::{RdbWriter, WriterState};

use super::{BackupPos, TtlRecord, RDB_FILE, TTL_FILE};
use crate::error::{Error, Result};
use crate::redis::keys::hex;
use crate::redis::reply::{bytes as v_bytes, int as v_int};
use crate::redis::timed::{self, NODE_IO};
use crate::store::now_ms;

/// A key read for the backup: its name, `DUMP` payload and absolute
/// expire time.
pub struct Dumped {
    /// The key.
    pub key: Vec<u8>,
    /// Its `DUMP` payload.
    pub payload: Vec<u8>,
    /// Its absolute expire time in ms.
    pub expire_at_ms: Option<u64>,
}

/// Pipelined `PTTL` + `DUMP` of `keys`: the ones still there.
pub fn dump_keys(conn: &mut redis::Connection, keys: &[Vec<u8>]) -> Result<Vec<Dumped>> {
    let mut pipe = redis::pipe();
    for k in keys {
        pipe.cmd("PTTL").arg(&k[..]).cmd("DUMP").arg(&k[..]);
    }
    let replies =
        timed::query_ok(&pipe, conn, NODE_IO).map_err(|e| e.context("DUMP for the backup"))?;
    let now = now_ms().max(0) as u64;
    let mut out = Vec::with_capacity(keys.len());
    for (k, r) in keys.iter().zip(replies.chunks(2)) {
        let Some(payload) = r.get(1).and_then(v_bytes) else {
            continue;
        };
        let ttl = r.first().and_then(v_int).unwrap_or(-1);
        out.push(Dumped {
            key: k.clone(),
            payload,
            expire_at_ms: (ttl >= 0).then(|| now + ttl as u64),
        });
    }
    Ok(out)
}

/// Pipelined `PTTL` of `keys`: their absolute expire times (none: no TTL),
/// for the keys still there.
pub fn ttls_of(
    conn: &mut redis::Connection,
    keys: &[Vec<u8>],
) -> Result<Vec<(Vec<u8>, Option<u64>)>> {
    let mut pipe = redis::pipe();
    for k in keys {
        pipe.cmd("PTTL").arg(&k[..]);
    }
    let replies =
        timed::query_ok(&pipe, conn, NODE_IO).map_err(|e| e.context("PTTL for the backup"))?;
    let now = now_ms().max(0) as u64;
    Ok(keys
        .iter()
        .zip(&replies)
        .filter_map(|(k, r)| match v_int(r).unwrap_or(-2) {
            -2 => None,
            t if t < 0 => Some((k.clone(), None)),
            t => Some((k.clone(), Some(now + t as u64))),
        })
        .collect())
}

/// A backup being written.
pub struct BackupWriter {
    dir: PathBuf,
    aux: Vec<(String, String)>,
    rdb: Option<(File, RdbWriter)>,
    ttl: Option<File>,
    pos: BackupPos,
}

fn open_at(path: &Path, len: u64) -> Result<File> {
    let mut f = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| Error::internal(format!("backup {}: {e}", path.display())))?;
    f.set_len(len)?;
    f.seek(SeekFrom::Start(len))?;
    Ok(f)
}

fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

impl BackupWriter {
    /// Opens the backup in `dir` at a checkpoint's position (none: from
    /// the start), cutting off what was written after it. `aux` goes into
    /// the RDB header.
    pub fn open(
        dir: &Path,
        pos: Option<&BackupPos>,
        aux: Vec<(String, String)>,
    ) -> Result<BackupWriter> {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::internal(format!("backup {}: {e}", dir.display())))?;
        let pos = pos.cloned().unwrap_or_default();
        let rdb_path = dir.join(RDB_FILE);
        let rdb = if pos.version > 0 {
            let f = open_at(&rdb_path, pos.bytes)?;
            let state = WriterState {
                bytes: pos.bytes,
                crc: pos.crc,
                keys: pos.keys,
                db: pos.db,
            };
            Some((f, RdbWriter::resume(pos.version, state)))
        } else {
            let _ = std::fs::remove_file(&rdb_path);
            None
        };
        let ttl_path = dir.join(TTL_FILE);
        let ttl = if pos.ttl_bytes > 0 {
            Some(open_at(&ttl_path, pos.ttl_bytes)?)
        } else {
            let _ = std::fs::remove_file(&ttl_path);
            None
        };
        Ok(BackupWriter {
            dir: dir.to_path_buf(),
            aux,
            rdb,
            ttl,
            pos,
        })
    }

    /// Where the backup stands (for the checkpoint).
    pub fn pos(&self) -> BackupPos {
        self.pos.clone()
    }

    fn start_rdb(&mut self, version: u32) -> Result<()> {
        let aux: Vec<(&str, &str)> = self
            .aux
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let (w, header) = RdbWriter::start(version, &aux);
        let mut f = open_at(&self.dir.join(RDB_FILE), 0)?;
        f.write_all(&header)?;
        sync_dir(&self.dir);
        self.rdb = Some((f, w));
        Ok(())
    }

    /// Appends a batch of keys of `db` to `backup.rdb` and syncs it.
    pub fn add_keys(&mut self, db: u32, keys: &[Dumped]) -> Result<()> {
        if keys.is_empty() {
            return Ok(());
        }
        if self.rdb.is_none() {
            let v = keys
                .iter()
                .filter_map(|d| payload_version(&d.payload))
                .max()
                .unwrap_or(rdb_parser::NEWEST_REDIS_VERSION);
            self.start_rdb(v)?;
        }
        let path = self.dir.join(RDB_FILE);
        let (f, w) = self.rdb.as_mut().expect("started");
        let mut buf = Vec::new();
        for d in keys {
            let bytes = w
                .entry(db, &d.key, d.expire_at_ms, &d.payload)
                .map_err(|e| {
                    Error::internal(format!(
                        "backup {}: key {}: {e}",
                        path.display(),
                        crate::redis::keys::show(&d.key)
                    ))
                })?;
            buf.extend_from_slice(&bytes);
            if buf.len() >= 1 << 20 {
                f.write_all(&buf)?;
                buf.clear();
            }
        }
        f.write_all(&buf)?;
        f.sync_data()
            .map_err(|e| Error::internal(format!("backup {}: sync: {e}", path.display())))?;
        let st = w.state();
        self.pos.version = w.version();
        self.pos.bytes = st.bytes;
        self.pos.crc = st.crc;
        self.pos.keys = st.keys;
        self.pos.db = st.db;
        Ok(())
    }

    /// Appends the previous TTLs of a batch of keys of `db` to `ttls.jsonl`
    /// and syncs it.
    pub fn add_ttls(&mut self, db: u32, keys: &[(Vec<u8>, Option<u64>)]) -> Result<()> {
        if keys.is_empty() {
            return Ok(());
        }
        if self.ttl.is_none() {
            self.ttl = Some(open_at(&self.dir.join(TTL_FILE), 0)?);
            sync_dir(&self.dir);
        }
        let mut buf = Vec::new();
        for (k, t) in keys {
            let rec = TtlRecord {
                db,
                key: hex(k),
                expire_at_ms: *t,
            };
            serde_json::to_writer(&mut buf, &rec).map_err(|e| Error::internal(e.to_string()))?;
            buf.push(b'\n');
        }
        let f = self.ttl.as_mut().expect("opened");
        f.write_all(&buf)?;
        f.sync_data()?;
        self.pos.ttl_bytes += buf.len() as u64;
        self.pos.ttl_keys += keys.len() as u64;
        Ok(())
    }

    /// Closes `backup.rdb` with `EOF` and its checksum (an empty file of
    /// RDB version `version` when no key was written), and syncs it.
    /// Returns its size in bytes.
    pub fn finish_rdb(&mut self, version: u32) -> Result<u64> {
        if self.rdb.is_none() {
            self.start_rdb(version)?;
        }
        let (f, w) = self.rdb.as_mut().expect("started");
        let tail = w.finish();
        f.write_all(&tail)?;
        f.sync_all()?;
        sync_dir(&self.dir);
        Ok(w.state().bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rdb_parser::restore::restore_payload;

    #[test]
    fn a_cut_backup_is_taken_up_again() {
        let dir = std::env::temp_dir().join(format!("rdbscope-backup-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let key = |n: u8| Dumped {
            key: vec![b'k', n],
            payload: restore_payload(0, &[0x01, n], 10),
            expire_at_ms: None,
        };
        let mut w =
            BackupWriter::open(&dir, None, vec![("rdbscope-ticket".into(), "1".into())]).unwrap();
        w.add_keys(0, &[key(1), key(2)]).unwrap();
        w.add_ttls(0, &[(b"t".to_vec(), Some(5))]).unwrap();
        let pos = w.pos();
        w.add_keys(0, &[key(3)]).unwrap();
        w.add_ttls(0, &[(b"u".to_vec(), None)]).unwrap();
        drop(w);
        // Killed after the second batch's bytes, before its checkpoint.
        let mut w = BackupWriter::open(&dir, Some(&pos), Vec::new()).unwrap();
        w.add_keys(0, &[key(3)]).unwrap();
        let size = w.finish_rdb(10).unwrap();
        let data = std::fs::read(dir.join(RDB_FILE)).unwrap();
        assert_eq!(size, data.len() as u64);
        let rdb = rdb_parser::Rdb::new(&data).unwrap();
        assert_eq!(rdb.entries().count(), 3);
        let (body, crc) = data.split_at(data.len() - 8);
        assert_eq!(rdb_parser::crc64::checksum(body).to_le_bytes(), crc);
        let ttls = std::fs::read_to_string(dir.join(TTL_FILE)).unwrap();
        assert_eq!(ttls.lines().count(), 1, "{ttls}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
