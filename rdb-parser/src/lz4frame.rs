//! Decompressing a whole file written as a standard LZ4 frame (what `lz4
//! dump.rdb` writes) into a file of its own, in bounded memory, so the
//! result can be mapped and read in parallel like any RDB file.
//!
//! The frame format is the LZ4 project's (lz4/lz4 `doc/lz4_Frame_format.md`:
//! magic 0x184D2204, a frame descriptor, blocks of at most 4 MB, an end
//! mark, an optional content checksum). Valkey's whole-file envelope
//! (`rdbcompression lz4`) is not in any Valkey source this project could
//! read; a file in another framing is refused by `Rdb::new` as not an RDB
//! file, never guessed at.

use std::io::{self, Read, Write};

use crate::error::{Error, ErrorKind, Result};

/// The four bytes opening an LZ4 frame.
pub const LZ4_FRAME_MAGIC: [u8; 4] = [0x04, 0x22, 0x4d, 0x18];

/// Whether `data` starts with an LZ4 frame.
pub fn is_lz4_frame(data: &[u8]) -> bool {
    data.starts_with(&LZ4_FRAME_MAGIC)
}

/// Counts the compressed bytes the decoder has taken, for error offsets.
struct Counting<'a> {
    data: &'a [u8],
    taken: u64,
}

impl Read for Counting<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.data.read(buf)?;
        self.taken += n as u64;
        Ok(n)
    }
}

/// Decompresses the LZ4 frame(s) in `compressed` into `out`, 64 KB at a
/// time (the decoder holds one block, at most 4 MB, whatever the file's
/// size), and returns the decompressed length. A bad frame is an error at
/// the compressed offset the decoder had reached.
pub fn decompress_to(compressed: &[u8], out: &mut impl Write) -> Result<u64> {
    if !is_lz4_frame(compressed) {
        return Err(Error::new(ErrorKind::BadMagic, 0));
    }
    let mut src = Counting {
        data: compressed,
        taken: 0,
    };
    let mut dec = lz4_flex::frame::FrameDecoder::new(&mut src);
    let mut buf = vec![0u8; 64 << 10];
    let mut total = 0u64;
    loop {
        let n = match dec.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                let at = dec.get_ref().taken;
                return Err(Error::new(
                    ErrorKind::Io(format!(
                        "bad LZ4 frame (after {total} decompressed bytes): {e}"
                    )),
                    at,
                ));
            }
        };
        out.write_all(&buf[..n]).map_err(|e| {
            Error::new(
                ErrorKind::Io(format!("writing the decompressed file: {e}")),
                0,
            )
        })?;
        total += n as u64;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compress(data: &[u8]) -> Vec<u8> {
        let mut enc = lz4_flex::frame::FrameEncoder::new(Vec::new());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    #[test]
    fn round_trip_and_truncation_is_an_error_with_an_offset() {
        let data: Vec<u8> = (0..300_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        let c = compress(&data);
        assert!(is_lz4_frame(&c));
        let mut out = Vec::new();
        assert_eq!(decompress_to(&c, &mut out).unwrap(), data.len() as u64);
        assert_eq!(out, data);
        // (A frame cut inside its end mark decodes whole: the RDB inside
        // still ends with EOF and its checksum, which the parser checks.)
        for cut in [5, 100, c.len() / 2] {
            let mut out = Vec::new();
            let e = decompress_to(&c[..cut], &mut out).expect_err("truncated");
            assert!(e.offset() <= cut as u64, "{cut}: {e}");
            assert!(e.to_string().contains("LZ4"), "{e}");
        }
        let e = decompress_to(b"REDIS0011", &mut Vec::new()).expect_err("not LZ4");
        assert_eq!(e.kind(), &ErrorKind::BadMagic);
    }
}
