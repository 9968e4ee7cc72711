//! Zipmap (hashes in Redis before 2.6): a count byte (254 = unknown), then
//! key length, key, value length, a "free" byte, value, free padding, and
//! 0xFF at the end. Lengths are one byte below 254, or 254 + u32 LE.

use super::blob::iter_item;
use crate::cursor::Cursor;
use crate::error::{Error, Result};

/// Iterator over a zipmap blob's (field, value) pairs.
pub struct Zipmap<'b> {
    cur: Cursor<'b>,
    header_count: u8,
    seen: u64,
    done: bool,
}

impl<'b> Zipmap<'b> {
    /// Starts reading `blob`.
    pub fn new(blob: &'b [u8]) -> Result<Zipmap<'b>> {
        let mut cur = Cursor::new(blob, 0);
        let header_count = cur.u8("a zipmap count")?;
        if header_count == 255 {
            // 254 means "count unknown"; 255 is never a count (Redis's
            // integrity check refuses it too).
            return Err(Error::malformed(
                "a zipmap count byte below 255",
                0,
                Some(255),
            ));
        }
        Ok(Zipmap {
            cur,
            header_count,
            seen: 0,
            done: false,
        })
    }

    fn len_field(&mut self, expected: &'static str) -> Result<Option<u64>> {
        let b = self.cur.u8(expected)?;
        match b {
            0..=253 => Ok(Some(u64::from(b))),
            254 => Ok(Some(u64::from(self.cur.u32_le(expected)?))),
            _ => Ok(None),
        }
    }

    /// Reads the next pair.
    pub fn next_pair(&mut self) -> Result<Option<(&'b [u8], &'b [u8])>> {
        if self.done {
            return Ok(None);
        }
        let at = self.cur.offset();
        let Some(klen) = self.len_field("a zipmap key length")? else {
            self.done = true;
            if !self.cur.is_empty() {
                return Err(Error::malformed(
                    "nothing after a zipmap's terminator",
                    at,
                    None,
                ));
            }
            if self.header_count < 254 && u64::from(self.header_count) != self.seen {
                return Err(Error::malformed(
                    "as many zipmap entries as its header counts",
                    0,
                    Some(self.header_count.into()),
                ));
            }
            return Ok(None);
        };
        let key = self.cur.bytes(klen, "a zipmap key")?;
        let vat = self.cur.offset();
        let Some(vlen) = self.len_field("a zipmap value length")? else {
            return Err(Error::malformed("a zipmap value length", vat, Some(255)));
        };
        let free = self.cur.u8("a zipmap free-space byte")?;
        let value = self.cur.bytes(vlen, "a zipmap value")?;
        self.cur.skip(u64::from(free), "zipmap free space")?;
        self.seen += 1;
        Ok(Some((key, value)))
    }
}

impl<'b> Iterator for Zipmap<'b> {
    type Item = Result<(&'b [u8], &'b [u8])>;
    fn next(&mut self) -> Option<Self::Item> {
        let r = self.next_pair();
        iter_item(r, &mut self.done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_and_free_space() {
        let blob = [2, 1, b'a', 2, 1, b'x', b'y', 0, 1, b'b', 0, 0, 0xff];
        let v: Vec<_> = Zipmap::new(&blob).unwrap().collect::<Result<_>>().unwrap();
        assert_eq!(v, [(&b"a"[..], &b"xy"[..]), (&b"b"[..], &b""[..])]);
        let mut bad = blob;
        bad[0] = 3;
        assert!(Zipmap::new(&bad)
            .unwrap()
            .collect::<Result<Vec<_>>>()
            .is_err());
    }
}
