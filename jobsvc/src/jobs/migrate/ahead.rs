//! The source's next batch, read while the batch before it is written: a
//! live source is scanned and dumped one batch ahead by a thread of its own
//! (its own connection), a file is read in place.

use std::sync::mpsc::{sync_channel, Receiver};
use std::thread::JoinHandle;

use super::checkpoint::State;
use super::params::MigrationParams;
use super::source::{Batch, FileSource, LiveSource, Src};
use crate::error::{Error, Result};

/// Where a source stands: live, master index, db index, cursor; files,
/// file index, offset, db.
pub(super) type Pos = (usize, u64, u64);

/// A fresh batch and where the source stands after it.
pub(super) struct Next {
    pub(super) batch: Batch,
    pub(super) pos: Pos,
    /// Files: bytes read up to the end of the batch.
    pub(super) done_bytes: Option<u64>,
    /// Files: the batch's file, start offset and db there (the checkpoint
    /// reads it again from these).
    pub(super) file: usize,
    pub(super) start: u64,
    pub(super) start_db: u64,
}

/// Gives a source's fresh batches in order, from a position.
pub(super) enum Ahead {
    /// A thread reading the live source one batch ahead.
    Live {
        rx: Option<Receiver<Result<Option<Next>>>>,
        thread: Option<JoinHandle<()>>,
    },
    Files {
        pos: Pos,
        /// The batch after the one last given, read while that one's
        /// writes were in flight ([`Ahead::prefetch`]).
        ready: Option<Result<Option<Next>>>,
    },
    /// The source has no batch left.
    Done,
}

impl Ahead {
    /// Starts reading `src` from `pos`.
    pub(super) fn start(src: &Src, p: &MigrationParams, pos: Pos) -> Result<Ahead> {
        let l = match src {
            Src::Files(_) => return Ok(Ahead::Files { pos, ready: None }),
            Src::Live(l) => l,
        };
        let mut mine = LiveSource {
            creds: l.creds.clone(),
            masters: l.masters.clone(),
            dbs: l.dbs.clone(),
            conn: None,
        };
        let p = p.clone();
        // One batch waits in the channel while the next is read: at most
        // two batches ahead of the writes.
        let (tx, rx) = sync_channel(1);
        let thread = std::thread::Builder::new()
            .name("migration-read".into())
            .spawn(move || {
                let mut st = State {
                    a: pos.0,
                    b: pos.1,
                    c: pos.2,
                    ..State::default()
                };
                loop {
                    let r = match mine.next_keys(&p, &mut st) {
                        Ok(None) => Ok(None),
                        // Read from the master that was scanned.
                        Ok(Some((db, keys))) => mine.read(st.a, db, keys).map(|batch| {
                            Some(Next {
                                batch,
                                pos: (st.a, st.b, st.c),
                                done_bytes: None,
                                file: 0,
                                start: 0,
                                start_db: 0,
                            })
                        }),
                        Err(e) => Err(e),
                    };
                    let last = !matches!(r, Ok(Some(_)));
                    // The receiver gone: the job stopped.
                    if tx.send(r).is_err() || last {
                        break;
                    }
                }
            })
            .map_err(|e| Error::internal(format!("starting the source reader: {e}")))?;
        Ok(Ahead::Live {
            rx: Some(rx),
            thread: Some(thread),
        })
    }

    /// The next fresh batch, None at the end of the source.
    pub(super) fn next(&mut self, src: &Src, p: &MigrationParams) -> Result<Option<Next>> {
        let r = match (&mut *self, src) {
            (Ahead::Done, _) => Ok(None),
            (Ahead::Live { rx, .. }, _) => match rx.as_ref().map(|rx| rx.recv()) {
                Some(Ok(r)) => r,
                _ => Err(Error::transient("the source reader stopped")),
            },
            (Ahead::Files { pos, ready }, Src::Files(f)) => {
                ready.take().unwrap_or_else(|| file_next(f, p, pos))
            }
            (Ahead::Files { .. }, Src::Live(_)) => Err(Error::internal("not a file source")),
        };
        if !matches!(r, Ok(Some(_))) {
            self.stop();
            *self = Ahead::Done;
        }
        r
    }

    /// Files: reads the next batch now, if not read yet, for [`Ahead::next`]
    /// to give (a read error too, then); called while the targets work on
    /// the batch before, so that the reading and the writing overlap. A
    /// live source is read ahead by its thread already.
    pub(super) fn prefetch(&mut self, src: &Src, p: &MigrationParams) {
        if let (Ahead::Files { pos, ready }, Src::Files(f)) = (self, src) {
            if ready.is_none() {
                *ready = Some(file_next(f, p, pos));
            }
        }
    }

    /// Stops the reader thread (a read under way finishes first).
    fn stop(&mut self) {
        if let Ahead::Live { rx, thread } = self {
            drop(rx.take());
            if let Some(t) = thread.take() {
                let _ = t.join();
            }
        }
    }
}

impl Drop for Ahead {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The next batch of the files with a selected key, from `pos`, moving it.
fn file_next(f: &FileSource, p: &MigrationParams, pos: &mut Pos) -> Result<Option<Next>> {
    loop {
        let (file, start, db) = *pos;
        if file >= f.files.len() {
            return Ok(None);
        }
        let (batch, next, done_to) = f.read_at(p, file, start, db)?;
        let done_bytes = f.files[..file]
            .iter()
            .map(|(_, x)| x.len() as u64)
            .sum::<u64>()
            + done_to;
        *pos = match next {
            Some((o, d)) => (file, o, d),
            None => (file + 1, 0, 0),
        };
        if !batch.items.is_empty() {
            return Ok(Some(Next {
                batch,
                pos: *pos,
                done_bytes: Some(done_bytes),
                file,
                start,
                start_db: db,
            }));
        }
    }
}
