//! The writer thread: [`with_keys_writer`] runs the analysis with a
//! [`KeysSink`] whose row groups one thread appends to `keys.parquet`,
//! then puts the file in place.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::{Arc, Mutex};

use super::buffers::PageBuffers;
use super::column::EncodedRowGroup;
use super::compression::KeysCompression;
use super::encoder::KeysEncoder;
use super::file::KeysFileWriter;
use crate::error::{Error, Result};

/// Where workers send the `keys.parquet` row groups they encoded (one
/// writer thread appends them). Bounded: workers wait when the writer
/// falls behind.
#[derive(Clone, Debug)]
pub struct KeysSink {
    tx: SyncSender<EncodedRowGroup>,
    compression: KeysCompression,
    /// Page buffers the writer has written out.
    page_buffers: Arc<PageBuffers>,
    /// Encoders of merged workers, to be used again: a parallel read
    /// makes a worker per segment read from a guess (dozens per
    /// gigabyte), and fresh buffers cost page faults.
    spare_encoders: Arc<Mutex<Vec<KeysEncoder>>>,
}

/// Most idle encoders kept ([`KeysSink`]): a few per thread are in use
/// at once.
const SPARE_ENCODERS: usize = 4;

impl KeysSink {
    pub(crate) fn send(&self, group: EncodedRowGroup) -> bool {
        self.tx.send(group).is_ok()
    }

    fn spare_encoder(&self, held: bool) -> KeysEncoder {
        let spare = self
            .spare_encoders
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop();
        match spare {
            Some(mut k) => {
                k.reuse(held);
                k
            }
            None if held => KeysEncoder::held(self.compression)
                .with_page_buffers(Arc::clone(&self.page_buffers)),
            None => {
                KeysEncoder::new(self.compression).with_page_buffers(Arc::clone(&self.page_buffers))
            }
        }
    }

    pub(crate) fn encoder(&self) -> KeysEncoder {
        self.spare_encoder(false)
    }

    /// An encoder for rows read from a guess ([`KeysEncoder::held`]).
    pub(crate) fn held_encoder(&self) -> KeysEncoder {
        self.spare_encoder(true)
    }

    /// Keeps a finished encoder (all its rows sent) for later workers.
    pub(crate) fn recycle(&self, k: KeysEncoder) {
        let mut spare = self
            .spare_encoders
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if spare.len() < SPARE_ENCODERS {
            spare.push(k);
        }
    }
}

/// A previous `keys.parquet`, moved aside when a new one took its place
/// ([`with_keys_writer`]), and removed when this is dropped. Removing a
/// file of a hundred megabytes takes the file system 10-30 ms (ext4 frees
/// its blocks and cached pages): a caller can drop this on another thread
/// while it writes its other outputs.
#[derive(Debug)]
pub struct Superseded(Option<PathBuf>);

impl Drop for Superseded {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// `path` with `suffix` appended to its file name.
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(suffix);
    PathBuf::from(p)
}

/// Writes `path` (`keys.parquet`): runs `f` with a sink whose row groups a
/// writer thread appends to it, then closes the file. Returns `f`'s result,
/// the rows written and the previous file, to be removed. If the writer
/// fails, its error wins over the "writer stopped" error the workers then
/// see.
///
/// The file is written as `<path>.partial` and renamed to `path` once
/// complete: a run that fails leaves no partial file and the previous
/// `path` as it was. (Nor is the previous file overwritten in place: ext4
/// flushes a file truncated and written again when it is closed, 80 ms of
/// a 0.9 s run; nor renamed over, which flushes too. The previous file is
/// moved aside first, as [`Superseded`].)
pub fn with_keys_writer<R>(
    path: &Path,
    compression: KeysCompression,
    f: impl FnOnce(&KeysSink) -> Result<R>,
) -> Result<(R, u64, Superseded)> {
    let partial = with_suffix(path, ".partial");
    let mut writer = KeysFileWriter::create(&partial)?;
    // At most two encoded row groups wait for the writer, plus one open row
    // group per worker state not yet merged (a few per thread), each at
    // most WORKER_ROW_GROUP_BYTES: memory stays bounded whatever the file
    // size. Kept to be filled again on top of that, also bounded: written
    // buffers (PageBuffers::PER_COLUMN per column) and idle encoders
    // (SPARE_ENCODERS).
    let (tx, rx) = sync_channel::<EncodedRowGroup>(2);
    let page_buffers = Arc::new(PageBuffers::default());
    std::thread::scope(|s| {
        let written_out = Arc::clone(&page_buffers);
        let handle = s.spawn(move || -> Result<u64> {
            for group in rx {
                written_out.give_back(writer.append(group)?);
            }
            writer.close()
        });
        let sink = KeysSink {
            tx,
            compression,
            page_buffers,
            spare_encoders: Arc::default(),
        };
        let result = f(&sink);
        drop(sink);
        let written = handle
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p));
        let outcome = match (result, written) {
            (Ok(r), Ok(rows)) => {
                // The old file goes aside first: renamed over, ext4 would
                // flush the new one then and there.
                let aside = with_suffix(path, ".superseded");
                let mut superseded = match std::fs::rename(path, &aside) {
                    Ok(()) => Superseded(Some(aside)),
                    Err(_) => {
                        let _ = std::fs::remove_file(path);
                        Superseded(None)
                    }
                };
                match std::fs::rename(&partial, path) {
                    Ok(()) => return Ok((r, rows, superseded)),
                    Err(e) => {
                        // The previous file stays.
                        if let Some(a) = superseded.0.take() {
                            let _ = std::fs::rename(a, path);
                        }
                        Error::io(path, e)
                    }
                }
            }
            (_, Err(e)) => e,
            (Err(e), Ok(_)) => e,
        };
        let _ = std::fs::remove_file(&partial);
        Err(outcome)
    })
}
