//! Corpus access: the files, by relative path, and which are bad on purpose.

use std::path::{Path, PathBuf};

use super::walk::{walk_all, Summary};

/// Files the MANIFEST marks as bad on purpose (each has its own test in
/// bad_on_purpose.rs). The redis-librdb ones: a wrong CRC64 and a future
/// version whose CRC64 does not match either. (`redis_ent_opcode_ram_lru.rdb`,
/// with Redis Enterprise's opcode 107, is read: see enterprise.rs.)
pub(super) const BAD_ON_PURPOSE: [&str; 6] = [
    "redis-redis/corrupt_ziplist.rdb",
    "valkey-valkey/corrupt_ziplist.rdb",
    "redis-replicator/module.rdb",
    "hdt3213-rdb/zipmap_big_len.rdb",
    "redis-librdb/invalid_chksum_v8.rdb",
    "redis-librdb/future_v19.rdb",
];

/// Files with bytes after the checksum (which Redis ignores).
/// redis_40_with_module.rdb ends with 40 ASCII hex digits after its EOF and
/// zero checksum.
pub(super) const TRAILING_BYTES: [(&str, u64); 1] =
    [("redis-rdb-tools/redis_40_with_module.rdb", 40)];

pub(super) struct CorpusFile {
    /// Path relative to the corpus folder, with `/`.
    pub(super) rel: String,
    pub(super) data: Vec<u8>,
}

pub(super) fn rel_name(dir: &Path, p: &Path) -> String {
    p.strip_prefix(dir)
        .unwrap_or(p)
        .to_string_lossy()
        .replace('\\', "/")
}

pub(super) fn load_corpus() -> Option<(PathBuf, Vec<CorpusFile>)> {
    let files = testkit::corpus_files();
    let dir = testkit::corpus_dir()?;
    if files.is_empty() {
        eprintln!("SKIP: the RDB corpus at {} has no .rdb file", dir.display());
        return None;
    }
    let files = files
        .iter()
        .map(|p| CorpusFile {
            rel: rel_name(&dir, p),
            data: std::fs::read(p).unwrap_or_else(|e| panic!("reading {}: {e}", p.display())),
        })
        .collect();
    Some((dir, files))
}

/// One corpus file by its relative path: `None` (with a SKIP line) without a
/// corpus; a panic when the corpus is there but the file is not.
pub(super) fn corpus_file(rel: &str) -> Option<Vec<u8>> {
    let dir = testkit::corpus_dir()?;
    let p = dir.join(rel);
    Some(std::fs::read(&p).unwrap_or_else(|e| panic!("corpus file {} missing: {e}", p.display())))
}

pub(super) fn summary_of(rel: &str) -> Option<Summary> {
    let data = corpus_file(rel)?;
    Some(walk_all(&data).unwrap_or_else(|e| panic!("{rel}: {e}")))
}
