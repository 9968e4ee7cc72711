//! Checking the CRC-64 stored after the EOF opcode, computed on all cores.

use crate::crc64;
use crate::reader::Rdb;

/// What the checksum after EOF says about the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChecksumStatus {
    /// Stored and computed checksums agree.
    Verified(u64),
    /// The stored checksum is 0: the writer had checksums turned off.
    Disabled,
    /// The format version predates checksums (before version 5).
    Absent,
    /// Verification was not asked for.
    Skipped,
    /// They differ.
    Mismatch {
        /// The checksum in the file.
        stored: u64,
        /// The checksum of the bytes.
        computed: u64,
    },
}

impl<'a> Rdb<'a> {
    /// CRC64 of `data` (a prefix of the file) on the rayon pool, giving
    /// pages back as pieces are done.
    fn par_checksum_releasing(&self, data: &[u8]) -> u64 {
        use rayon::prelude::*;
        const PIECE: usize = 16 << 20;
        let parts: Vec<(u64, u64)> = data
            .par_chunks(PIECE)
            .enumerate()
            .map(|(i, c)| {
                let crc = crc64::checksum(c);
                if let Some(r) = self.page_release() {
                    let start = (i * PIECE) as u64;
                    r.release(start, start + c.len() as u64);
                }
                (crc, c.len() as u64)
            })
            .collect();
        parts
            .into_iter()
            .fold(0, |acc, (crc, len)| crc64::combine(acc, crc, len))
    }

    /// Checks the CRC64 stored after the EOF opcode at `eof_offset`
    /// (as reported by [`Record::Eof`](crate::reader::Record::Eof)), computing it on the rayon pool.
    pub fn checksum_status(&self, eof_offset: u64, stored: Option<u64>) -> ChecksumStatus {
        match stored {
            None => ChecksumStatus::Absent,
            Some(0) => ChecksumStatus::Disabled,
            Some(stored) => {
                let end = (eof_offset as usize + 1).min(self.data().len());
                let computed = self.par_checksum_releasing(&self.data()[..end]);
                if computed == stored {
                    ChecksumStatus::Verified(stored)
                } else {
                    ChecksumStatus::Mismatch { stored, computed }
                }
            }
        }
    }
}
