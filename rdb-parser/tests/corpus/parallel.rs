//! Reading chunks in parallel gives exactly what one sequential pass gives.

use std::collections::BTreeSet;

use rdb_parser::{Chunk, Rdb, Record, Result, Scratch, ValueType, DEFAULT_CHUNK_BYTES};

use super::files::load_corpus;
use super::walk::{decode_entry, Summary};

/// What one record says, with a digest of everything decoded from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Sig {
    Entry {
        db: u64,
        key: Vec<u8>,
        value_type: ValueType,
        expire: Option<i64>,
        idle: Option<u64>,
        freq: Option<u8>,
        record_start: u64,
        record_end: u64,
        digest: u64,
    },
    Other(String),
}

pub(super) fn sig(
    r: Record<'_>,
    scratch: &mut Scratch,
    buf: &mut Vec<u8>,
    rdb: &Rdb<'_>,
) -> Result<Sig> {
    Ok(match r {
        Record::Entry(e) => {
            let mut sum = Summary::new(rdb);
            let digest =
                decode_entry(&e, scratch, buf, &mut sum).map_err(|err| match e.key.bytes(buf) {
                    Ok(k) => err.with_key(k),
                    Err(_) => err,
                })?;
            Sig::Entry {
                db: e.db,
                key: e.key.bytes(buf)?.to_vec(),
                value_type: e.value_type(),
                expire: e.expire_at_ms,
                idle: e.idle_seconds,
                freq: e.lfu_freq,
                record_start: e.record_start,
                record_end: e.record_end,
                digest,
            }
        }
        other => Sig::Other(format!("{other:?}")),
    })
}

pub(super) fn sequential(rdb: &Rdb<'_>) -> Result<Vec<Sig>> {
    let (mut scratch, mut buf) = (Scratch::new(), Vec::new());
    rdb.records()
        .map(|r| sig(r?, &mut scratch, &mut buf, rdb))
        .collect()
}

pub(super) fn check_chunks(rdb: &Rdb<'_>, chunks: &[Chunk]) -> std::result::Result<(), String> {
    let first = chunks.first().ok_or("no chunk")?;
    if first.start != rdb.body_start() {
        return Err(format!(
            "first chunk starts at {}, body at {}",
            first.start,
            rdb.body_start()
        ));
    }
    for (i, w) in chunks.windows(2).enumerate() {
        if w[0].end != w[1].start || w[0].last || w[0].start > w[0].end {
            return Err(format!("chunks {i} and {}: {:?} {:?}", i + 1, w[0], w[1]));
        }
    }
    for (i, c) in chunks.iter().enumerate() {
        if c.index != i {
            return Err(format!("chunk {i} has index {}", c.index));
        }
    }
    let last = chunks.last().unwrap();
    if !last.last || last.end != rdb.data().len() as u64 {
        return Err(format!(
            "last chunk {last:?}, file of {} bytes",
            rdb.data().len()
        ));
    }
    Ok(())
}

pub(super) fn parallel(rdb: &Rdb<'_>, chunk_bytes: u64) -> Result<Vec<Sig>> {
    let chunks = rdb.chunks(chunk_bytes)?;
    if let Err(msg) = check_chunks(rdb, &chunks) {
        panic!("chunks of {chunk_bytes} bytes: {msg}");
    }
    let parts = rdb.par_map_chunks(&chunks, |_c, records| {
        let (mut scratch, mut buf) = (Scratch::new(), Vec::new());
        records
            .map(|r| sig(r?, &mut scratch, &mut buf, rdb))
            .collect::<Result<Vec<Sig>>>()
    })?;
    Ok(parts.into_iter().flatten().collect())
}

/// Keys and a digest of all decoded values, folded on the pool in any order.
pub(super) fn folded(rdb: &Rdb<'_>, chunk_bytes: u64) -> Result<(u64, u64)> {
    let chunks = rdb.chunks(chunk_bytes)?;
    rdb.par_fold(
        &chunks,
        || (0u64, 0u64),
        |acc, r| {
            if let Record::Entry(_) = r {
                let Sig::Entry { digest, .. } = sig(r, &mut Scratch::new(), &mut Vec::new(), rdb)?
                else {
                    unreachable!()
                };
                acc.0 += 1;
                acc.1 = acc.1.wrapping_add(digest);
            }
            Ok(())
        },
        |a, b| (a.0 + b.0, a.1.wrapping_add(b.1)),
    )
}

#[test]
fn parallel_equals_sequential_on_every_corpus_file() {
    let Some((_, files)) = load_corpus() else {
        return;
    };
    let mut failures = Vec::new();
    let mut seen = BTreeSet::new();
    for f in &files {
        if !seen.insert(f.data.clone()) {
            continue; // identical bytes already compared
        }
        let rdb = match Rdb::new(&f.data) {
            Ok(r) => r,
            Err(e) => {
                failures.push(format!("{}: {e}", f.rel));
                continue;
            }
        };
        let seq = sequential(&rdb);
        let seq_fold = seq.as_ref().map(|v| {
            v.iter().fold((0u64, 0u64), |acc, s| match s {
                Sig::Entry { digest, .. } => (acc.0 + 1, acc.1.wrapping_add(*digest)),
                Sig::Other(_) => acc,
            })
        });
        for chunk_bytes in [1, 64, 4096, 1 << 16, DEFAULT_CHUNK_BYTES] {
            let par = parallel(&rdb, chunk_bytes);
            if par != seq {
                let detail = match (&seq, &par) {
                    (Ok(a), Ok(b)) => {
                        let i = a
                            .iter()
                            .zip(b)
                            .position(|(x, y)| x != y)
                            .unwrap_or(a.len().min(b.len()));
                        format!(
                            "{} vs {} records; first difference at #{i}: {:?} vs {:?}",
                            a.len(),
                            b.len(),
                            a.get(i),
                            b.get(i)
                        )
                    }
                    (a, b) => format!(
                        "sequential {:?} vs parallel {:?}",
                        a.as_ref().err(),
                        b.as_ref().err()
                    ),
                };
                failures.push(format!(
                    "{} (chunks of {chunk_bytes} bytes): {detail}",
                    f.rel
                ));
            }
            if let (Ok(want), Ok(got)) = (&seq_fold, folded(&rdb, chunk_bytes)) {
                if *want != got {
                    failures.push(format!(
                        "{} (par_fold, chunks of {chunk_bytes} bytes): {got:?} vs {want:?}",
                        f.rel
                    ));
                }
            }
        }
    }
    eprintln!("compared {} distinct corpus files", seen.len());
    assert!(
        failures.is_empty(),
        "{} differences:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
