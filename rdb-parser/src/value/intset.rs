//! Intset: encoding width (u32 LE: 2, 4 or 8), count (u32 LE), sorted
//! little-endian integers.

use crate::cursor::Cursor;
use crate::error::{Error, Result};

/// Iterator over an intset blob's members; offsets are relative to the blob.
pub struct Intset<'b> {
    cur: Cursor<'b>,
    width: u8,
    left: u32,
}

impl<'b> Intset<'b> {
    /// Checks that the header agrees with the blob's size.
    pub fn new(blob: &'b [u8]) -> Result<Intset<'b>> {
        let mut cur = Cursor::new(blob, 0);
        let width = cur.u32_le("an intset encoding")?;
        if !matches!(width, 2 | 4 | 8) {
            return Err(Error::malformed(
                "an intset encoding of 2, 4 or 8",
                0,
                Some(width.into()),
            ));
        }
        let count = cur.u32_le("an intset length")?;
        if u64::from(count) * u64::from(width) != cur.remaining() as u64 {
            return Err(Error::malformed(
                "an intset length matching its size",
                4,
                Some(count.into()),
            ));
        }
        Ok(Intset {
            cur,
            width: width as u8,
            left: count,
        })
    }

    /// Members left to read.
    pub fn len(&self) -> u64 {
        u64::from(self.left)
    }

    /// True when no members are left.
    pub fn is_empty(&self) -> bool {
        self.left == 0
    }
}

impl Iterator for Intset<'_> {
    type Item = Result<i64>;
    fn next(&mut self) -> Option<Result<i64>> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let r = match self.width {
            2 => self
                .cur
                .u16_le("an intset member")
                .map(|v| i64::from(v as i16)),
            4 => self
                .cur
                .u32_le("an intset member")
                .map(|v| i64::from(v as i32)),
            _ => self.cur.i64_le("an intset member"),
        };
        Some(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths() {
        let mut blob = vec![4, 0, 0, 0, 2, 0, 0, 0];
        blob.extend_from_slice(&(-5i32).to_le_bytes());
        blob.extend_from_slice(&70000i32.to_le_bytes());
        let v: Vec<i64> = Intset::new(&blob).unwrap().collect::<Result<_>>().unwrap();
        assert_eq!(v, [-5, 70000]);
        assert!(Intset::new(&blob[..blob.len() - 1]).is_err());
        blob[0] = 3;
        assert!(Intset::new(&blob).is_err());
    }
}
