//! Listpack (Redis 7+ compact container; also stream nodes since 5.0).
//!
//! Layout: total bytes (u32 LE), element count (u16 LE, 65535 = unknown),
//! entries, and a 0xFF terminator. Each entry is an encoding byte, its data,
//! and a back length of 1 to 5 bytes.

use super::blob::iter_item;
use crate::cursor::Cursor;
use crate::error::{Error, Result};
use crate::string::{decimal_len as digits, Scalar};

/// Bytes of the back length that follows an entry of `entry_len` bytes
/// (7 bits per byte).
#[inline]
fn backlen_size(entry_len: u64) -> u64 {
    match entry_len {
        0..=127 => 1,
        128..=16383 => 2,
        16384..=2097151 => 3,
        2097152..=268435455 => 4,
        _ => 5,
    }
}

#[inline]
fn decimal_len(v: i64) -> u64 {
    digits(v) as u64
}

/// Iterator over the entries of one listpack blob. Offsets in its errors are
/// relative to the blob.
pub struct Listpack<'b> {
    cur: Cursor<'b>,
    header_count: u16,
    seen: u64,
    done: bool,
}

impl<'b> Listpack<'b> {
    /// Checks the header and terminator of `blob`.
    pub fn new(blob: &'b [u8]) -> Result<Listpack<'b>> {
        let mut cur = Cursor::new(blob, 0);
        let total = cur.u32_le("a listpack's total size")?;
        let header_count = cur.u16_le("a listpack's element count")?;
        if total as usize != blob.len() {
            return Err(Error::malformed(
                "a listpack size equal to its string length",
                0,
                Some(total.into()),
            ));
        }
        if blob.last() != Some(&0xff) {
            return Err(Error::malformed(
                "a listpack ending in 0xFF",
                blob.len().saturating_sub(1) as u64,
                blob.last().map(|&b| b.into()),
            ));
        }
        Ok(Listpack {
            cur,
            header_count,
            seen: 0,
            done: false,
        })
    }

    /// The count in the header, unless it says "unknown" (65535).
    pub fn header_count(&self) -> Option<u64> {
        (self.header_count != u16::MAX).then_some(u64::from(self.header_count))
    }

    /// Counts the entries, walking them only when the header does not say.
    pub fn count(blob: &'b [u8]) -> Result<u64> {
        let lp = Listpack::new(blob)?;
        if let Some(n) = lp.header_count() {
            return Ok(n);
        }
        let mut n = 0;
        for e in lp {
            e?;
            n += 1;
        }
        Ok(n)
    }

    /// Calls `f` with the length of every entry in order (a string's
    /// bytes, an integer's decimal digits) and returns how many there are:
    /// a walk that reads only encoding bytes, lengths and integers. It
    /// accepts exactly what [`Listpack::next_entry`] accepts; when it meets
    /// anything else, the checked reader walks again to name the error
    /// (so `f` may have seen some entries of a listpack that then fails).
    pub fn for_each_len(blob: &'b [u8], mut f: impl FnMut(u64)) -> Result<u64> {
        let mut lp = Listpack::new(blob)?;
        if blob.len() < 7 {
            // No room for a terminator after the header.
            while lp.next_entry()?.is_some() {}
            return Ok(0);
        }
        let body = &blob[6..blob.len() - 1]; // between header and terminator
        let mut i = 0usize;
        let mut seen = 0u64;
        let sound = loop {
            let Some(&enc) = body.get(i) else {
                break i == body.len();
            };
            let int = |n: usize| -> Option<i64> {
                let b = body.get(i + 1..i + 1 + n)?;
                let mut le = [0u8; 8];
                le[8 - n..].copy_from_slice(b);
                // Sign-extend from the top: shift the n bytes down again.
                Some(i64::from_le_bytes(le) >> (8 * (8 - n)))
            };
            let (len, data) = match enc {
                0x00..=0x7f => (decimal_len(i64::from(enc)), 0),
                0x80..=0xbf => (u64::from(enc & 0x3f), usize::from(enc & 0x3f)),
                0xc0..=0xdf => {
                    let Some(&lo) = body.get(i + 1) else {
                        break false;
                    };
                    let raw = (i64::from(enc & 0x1f) << 8) | i64::from(lo);
                    let v = if raw >= 1 << 12 { raw - (1 << 13) } else { raw };
                    (decimal_len(v), 1)
                }
                0xe0..=0xef => {
                    let Some(&lo) = body.get(i + 1) else {
                        break false;
                    };
                    let n = (usize::from(enc & 0x0f) << 8) | usize::from(lo);
                    (n as u64, n + 1)
                }
                0xf0 => {
                    let Some(n) = int(4) else { break false };
                    let n = n as u32 as usize;
                    (n as u64, n + 4)
                }
                0xf1..=0xf4 => {
                    let n = [2, 3, 4, 8][usize::from(enc - 0xf1)];
                    let Some(v) = int(n) else { break false };
                    (decimal_len(v), n)
                }
                _ => break false,
            };
            let entry_len = 1 + data;
            i += entry_len + backlen_size(entry_len as u64) as usize;
            if i > body.len() {
                break false;
            }
            seen += 1;
            f(len);
        };
        if sound && lp.header_count().is_none_or(|n| n == seen) {
            return Ok(seen);
        }
        // Something is off: let the checked reader find and name it.
        while lp.next_entry()?.is_some() {}
        Err(Error::malformed(
            "a listpack that both listpack readers accept",
            0,
            None,
        ))
    }

    /// Reads the next entry.
    pub fn next_entry(&mut self) -> Result<Option<Scalar<'b>>> {
        if self.done {
            return Ok(None);
        }
        let at = self.cur.offset();
        let enc = self.cur.u8("a listpack entry encoding")?;
        let (value, data_len) = match enc {
            0x00..=0x7f => (Scalar::Int(i64::from(enc)), 0u64),
            0x80..=0xbf => {
                let n = u64::from(enc & 0x3f);
                (Scalar::Bytes(self.cur.bytes(n, "a listpack string")?), n)
            }
            0xc0..=0xdf => {
                let lo = self.cur.u8("a listpack 13-bit integer")?;
                let raw = (i64::from(enc & 0x1f) << 8) | i64::from(lo);
                let v = if raw >= 1 << 12 { raw - (1 << 13) } else { raw };
                (Scalar::Int(v), 1)
            }
            0xe0..=0xef => {
                let lo = self.cur.u8("a listpack 12-bit string length")?;
                let n = (u64::from(enc & 0x0f) << 8) | u64::from(lo);
                (
                    Scalar::Bytes(self.cur.bytes(n, "a listpack string")?),
                    n + 1,
                )
            }
            0xf0 => {
                let n = u64::from(self.cur.u32_le("a listpack 32-bit string length")?);
                (
                    Scalar::Bytes(self.cur.bytes(n, "a listpack string")?),
                    n + 4,
                )
            }
            0xf1 => (
                Scalar::Int(i64::from(
                    self.cur.u16_le("a listpack 16-bit integer")? as i16
                )),
                2,
            ),
            0xf2 => {
                let b = self.cur.array::<3>("a listpack 24-bit integer")?;
                let v = i32::from_le_bytes([0, b[0], b[1], b[2]]) >> 8;
                (Scalar::Int(i64::from(v)), 3)
            }
            0xf3 => (
                Scalar::Int(i64::from(
                    self.cur.u32_le("a listpack 32-bit integer")? as i32
                )),
                4,
            ),
            0xf4 => (
                Scalar::Int(self.cur.i64_le("a listpack 64-bit integer")?),
                8,
            ),
            0xff => {
                self.done = true;
                if !self.cur.is_empty() {
                    return Err(Error::malformed(
                        "nothing after a listpack's terminator",
                        at,
                        None,
                    ));
                }
                if self.header_count != u16::MAX && u64::from(self.header_count) != self.seen {
                    return Err(Error::malformed(
                        "as many listpack entries as its header counts",
                        at,
                        Some(self.seen),
                    ));
                }
                return Ok(None);
            }
            _ => {
                return Err(Error::malformed(
                    "a listpack entry encoding",
                    at,
                    Some(enc.into()),
                ))
            }
        };
        self.cur
            .skip(backlen_size(1 + data_len), "a listpack entry back length")?;
        self.seen += 1;
        Ok(Some(value))
    }
}

impl<'b> Iterator for Listpack<'b> {
    type Item = Result<Scalar<'b>>;
    fn next(&mut self) -> Option<Self::Item> {
        let r = self.next_entry();
        iter_item(r, &mut self.done)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Entries in every encoding, at the edges of each integer width;
    /// `mid` and `long` need the 12- and 32-bit string lengths.
    fn every_encoding<'b>(mid: &'b [u8], long: &'b [u8]) -> Vec<Scalar<'b>> {
        let mut v: Vec<Scalar<'b>> = [
            0,
            5,
            -5,
            127,
            4095,
            -4096,
            30000,
            -32768,
            8_388_607,
            -8_000_000,
            -8_388_608,
            2_000_000_000,
            i64::from(i32::MIN),
            i64::MAX,
            i64::MIN,
        ]
        .into_iter()
        .map(Scalar::Int)
        .collect();
        v.extend([b"".as_slice(), b"hello", mid, long].map(Scalar::Bytes));
        v
    }

    /// `for_each_len` agrees with `next_entry` on every input: the same
    /// lengths when both accept it, an error from both otherwise.
    #[test]
    fn length_walk_agrees_with_the_checked_reader() {
        let (mid, long) = (vec![b'y'; 300], vec![b'x'; 5000]);
        let entries = every_encoding(&mid, &long);
        let good = build(&entries);
        let checked = |blob: &[u8]| -> Result<Vec<u64>> {
            Listpack::new(blob)?.map(|e| e.map(|s| s.len())).collect()
        };
        let fast = |blob: &[u8]| -> Result<Vec<u64>> {
            let mut v = Vec::new();
            let n = Listpack::for_each_len(blob, |l| v.push(l))?;
            assert_eq!(n, v.len() as u64);
            Ok(v)
        };
        let want: Vec<u64> = entries.iter().map(|e| e.len()).collect();
        assert_eq!(fast(&good).unwrap(), want);
        // Every truncation and every single-byte change (a deterministic
        // walk of values per position), with the size field kept honest.
        let mut cases = Vec::new();
        for cut in 0..good.len() {
            let mut b = good[..cut].to_vec();
            if b.len() >= 4 {
                let n = b.len() as u32;
                b[..4].copy_from_slice(&n.to_le_bytes());
            }
            cases.push(b);
        }
        for pos in 4..good.len() {
            for v in [
                0x00, 0x7f, 0x80, 0xbf, 0xc0, 0xdf, 0xe0, 0xef, 0xf0, 0xf1, 0xf4, 0xf5, 0xff,
            ] {
                let mut b = good.clone();
                b[pos] = v;
                cases.push(b);
            }
        }
        for b in &cases {
            match (checked(b), fast(b)) {
                (Ok(a), Ok(f)) => assert_eq!(a, f, "{b:02x?}"),
                (Err(_), Err(_)) => {}
                (a, f) => panic!("readers disagree on {b:02x?}: {a:?} vs {f:?}"),
            }
        }
    }

    /// Builds a listpack the way Redis encodes entries (a test oracle).
    pub(crate) fn build(entries: &[Scalar<'_>]) -> Vec<u8> {
        let mut body = Vec::new();
        for e in entries {
            let start = body.len();
            match *e {
                Scalar::Int(v) if (0..=127).contains(&v) => body.push(v as u8),
                Scalar::Int(v) if (-4096..4096).contains(&v) => {
                    let u = (v as u16) & 0x1fff;
                    body.push(0xc0 | (u >> 8) as u8);
                    body.push(u as u8);
                }
                Scalar::Int(v) if i16::try_from(v).is_ok() => {
                    body.push(0xf1);
                    body.extend_from_slice(&(v as i16).to_le_bytes());
                }
                Scalar::Int(v) if (-(1 << 23)..(1 << 23)).contains(&v) => {
                    body.push(0xf2);
                    body.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
                }
                Scalar::Int(v) if i32::try_from(v).is_ok() => {
                    body.push(0xf3);
                    body.extend_from_slice(&(v as i32).to_le_bytes());
                }
                Scalar::Int(v) => {
                    body.push(0xf4);
                    body.extend_from_slice(&v.to_le_bytes());
                }
                Scalar::Bytes(b) if b.len() < 64 => {
                    body.push(0x80 | b.len() as u8);
                    body.extend_from_slice(b);
                }
                Scalar::Bytes(b) if b.len() < 4096 => {
                    body.push(0xe0 | (b.len() >> 8) as u8);
                    body.push(b.len() as u8);
                    body.extend_from_slice(b);
                }
                Scalar::Bytes(b) => {
                    body.push(0xf0);
                    body.extend_from_slice(&(b.len() as u32).to_le_bytes());
                    body.extend_from_slice(b);
                }
            }
            let len = body.len() - start;
            // Back length: 7 bits per byte, most significant group first.
            let mut groups = Vec::new();
            let mut l = len;
            loop {
                groups.push((l & 127) as u8);
                l >>= 7;
                if l == 0 {
                    break;
                }
            }
            groups.reverse();
            let n = groups.len();
            for (i, g) in groups.into_iter().enumerate() {
                body.push(if i + 1 < n { g | 128 } else { g });
            }
        }
        let mut out = Vec::new();
        out.extend_from_slice(&((body.len() + 7) as u32).to_le_bytes());
        out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
        out.extend_from_slice(&body);
        out.push(0xff);
        out
    }

    #[test]
    fn every_encoding_round_trips() {
        let (mid, long) = (vec![b'y'; 300], vec![b'x'; 5000]);
        let items = every_encoding(&mid, &long);
        let blob = build(&items);
        let got: Vec<_> = Listpack::new(&blob)
            .unwrap()
            .collect::<Result<_>>()
            .unwrap();
        assert_eq!(got, items);
        assert_eq!(Listpack::count(&blob).unwrap(), items.len() as u64);
    }

    #[test]
    fn every_truncation_fails_cleanly() {
        let blob = build(&[Scalar::Bytes(b"abc"), Scalar::Int(1 << 40)]);
        for cut in 0..blob.len() {
            let part = &blob[..cut];
            let r = Listpack::new(part).and_then(|lp| lp.collect::<Result<Vec<_>>>());
            assert!(r.is_err(), "prefix of {cut} bytes parsed");
        }
    }
}
