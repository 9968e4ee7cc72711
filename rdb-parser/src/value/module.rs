//! Module values (type 7) and module aux data: a 64-bit module id, then a
//! self-describing stream of typed operands ending with an EOF opcode, which
//! is what lets a reader skip values of modules it does not know.

use crate::cursor::Cursor;
use crate::error::{Error, Result};
use crate::string::RdbString;

const OP_EOF: u64 = 0;
const OP_SINT: u64 = 1;
const OP_UINT: u64 = 2;
const OP_FLOAT: u64 = 3;
const OP_DOUBLE: u64 = 4;
const OP_STRING: u64 = 5;

/// The characters a module type name may use, in id order.
const NAME_CHARSET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// A module type id: a 9-character name (6 bits a character) followed by a
/// 10-bit encoding version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ModuleId(pub u64);

impl ModuleId {
    /// The module type name, e.g. `ReJSON-RL`.
    pub fn name(self) -> String {
        let mut id = self.0 >> 10;
        let mut name = [0u8; 9];
        for slot in name.iter_mut().rev() {
            *slot = NAME_CHARSET[(id & 63) as usize];
            id >>= 6;
        }
        name.iter().map(|&c| c as char).collect()
    }

    /// The encoding version the module wrote the value with.
    pub fn encoding_version(self) -> u16 {
        (self.0 & 1023) as u16
    }
}

/// Skips a module operand stream up to and including its EOF opcode.
pub(crate) fn skip_operands(cur: &mut Cursor<'_>) -> Result<()> {
    loop {
        let at = cur.offset();
        match cur.len("a module opcode")? {
            OP_EOF => return Ok(()),
            OP_SINT | OP_UINT => {
                cur.len("a module integer")?;
            }
            OP_FLOAT => cur.skip(4, "a module float")?,
            OP_DOUBLE => cur.skip(8, "a module double")?,
            OP_STRING => RdbString::skip(cur, "a module string")?,
            op => return Err(Error::malformed("a module opcode (0..=5)", at, Some(op))),
        }
    }
}

/// The string operands of a module value after its id: how many, and
/// their summed length (uncompressed).
pub(crate) fn string_operands(cur: &mut Cursor<'_>) -> Result<(u64, u64)> {
    let (mut count, mut bytes) = (0u64, 0u64);
    loop {
        let at = cur.offset();
        match cur.len("a module opcode")? {
            OP_EOF => return Ok((count, bytes)),
            OP_SINT | OP_UINT => {
                cur.len("a module integer")?;
            }
            OP_FLOAT => cur.skip(4, "a module float")?,
            OP_DOUBLE => cur.skip(8, "a module double")?,
            OP_STRING => {
                let s = RdbString::read(cur, "a module string")?;
                count += 1;
                bytes += s.len();
            }
            op => return Err(Error::malformed("a module opcode (0..=5)", at, Some(op))),
        }
    }
}

/// One typed operand of a module value, as the module saved it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ModuleOperand {
    /// `SaveSigned` / `SaveUnsigned` (a signed value reads as its bits).
    Int(u64),
    /// `SaveFloat`.
    Float(f32),
    /// `SaveDouble`.
    Double(f64),
    /// `SaveString` / `SaveStringBuffer`: its length (uncompressed).
    Str(u64),
}

/// Every operand of a module value after its id, in order.
pub(crate) fn operands(cur: &mut Cursor<'_>) -> Result<Vec<ModuleOperand>> {
    let mut out = Vec::new();
    loop {
        let at = cur.offset();
        match cur.len("a module opcode")? {
            OP_EOF => return Ok(out),
            OP_SINT | OP_UINT => out.push(ModuleOperand::Int(cur.len("a module integer")?)),
            OP_FLOAT => {
                let b = cur.bytes(4, "a module float")?;
                out.push(ModuleOperand::Float(f32::from_le_bytes([
                    b[0], b[1], b[2], b[3],
                ])));
            }
            OP_DOUBLE => {
                let b = cur.bytes(8, "a module double")?;
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                out.push(ModuleOperand::Double(f64::from_le_bytes(a)));
            }
            OP_STRING => {
                let s = RdbString::read(cur, "a module string")?;
                out.push(ModuleOperand::Str(s.len()));
            }
            op => return Err(Error::malformed("a module opcode (0..=5)", at, Some(op))),
        }
    }
}

/// The bytes of the first string operand of a module value (after its
/// id), if it has one: e.g. RedisJSON's document text.
pub(crate) fn first_string(cur: &mut Cursor<'_>) -> Result<Option<Vec<u8>>> {
    loop {
        let at = cur.offset();
        match cur.len("a module opcode")? {
            OP_EOF => return Ok(None),
            OP_SINT | OP_UINT => {
                cur.len("a module integer")?;
            }
            OP_FLOAT => cur.skip(4, "a module float")?,
            OP_DOUBLE => cur.skip(8, "a module double")?,
            OP_STRING => {
                let s = RdbString::read(cur, "a module string")?;
                let mut buf = Vec::new();
                return Ok(Some(s.bytes(&mut buf)?.to_vec()));
            }
            op => return Err(Error::malformed("a module opcode (0..=5)", at, Some(op))),
        }
    }
}

/// Skips a type-7 module value: its id, then its operands.
pub(crate) fn skip_value(cur: &mut Cursor<'_>) -> Result<()> {
    cur.len("a module id")?;
    skip_operands(cur)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id_for(name: &str, encver: u64) -> u64 {
        let mut id = 0u64;
        for c in name.bytes() {
            let pos = NAME_CHARSET.iter().position(|&x| x == c).unwrap() as u64;
            id = (id << 6) | pos;
        }
        (id << 10) | encver
    }

    #[test]
    fn names_and_versions() {
        let id = ModuleId(id_for("ReJSON-RL", 3));
        assert_eq!(id.name(), "ReJSON-RL");
        assert_eq!(id.encoding_version(), 3);
        let id = ModuleId(id_for("TSDB-TYPE", 7));
        assert_eq!(id.name(), "TSDB-TYPE");
    }

    #[test]
    fn operands_are_skipped() {
        // uint 5, double, string "ab", eof
        let mut data = vec![2, 5, 4];
        data.extend_from_slice(&1.5f64.to_le_bytes());
        data.extend_from_slice(&[5, 2, b'a', b'b', 0, 0x99]);
        let mut c = Cursor::new(&data, 0);
        skip_operands(&mut c).unwrap();
        assert_eq!(c.remaining(), 1);
        let mut c = Cursor::new(&[7], 0);
        assert!(skip_operands(&mut c).is_err());
    }

    #[test]
    fn operands_are_listed() {
        // uint 5, double 1.5, string "ab", eof
        let mut data = vec![2, 5, 4];
        data.extend_from_slice(&1.5f64.to_le_bytes());
        data.extend_from_slice(&[5, 2, b'a', b'b', 0, 0x99]);
        let mut c = Cursor::new(&data, 0);
        assert_eq!(
            operands(&mut c).unwrap(),
            vec![
                ModuleOperand::Int(5),
                ModuleOperand::Double(1.5),
                ModuleOperand::Str(2)
            ]
        );
        assert_eq!(c.remaining(), 1);
        assert!(operands(&mut Cursor::new(&[9], 0)).is_err());
    }

    #[test]
    fn the_first_string_is_read() {
        // uint 5, string "ab", string "c", eof
        let data = [2, 5, 5, 2, b'a', b'b', 5, 1, b'c', 0];
        let mut c = Cursor::new(&data, 0);
        assert_eq!(first_string(&mut c).unwrap(), Some(b"ab".to_vec()));
        let mut c = Cursor::new(&[2, 5, 0], 0);
        assert_eq!(first_string(&mut c).unwrap(), None);
    }

    #[test]
    fn string_operands_are_counted() {
        // uint 5, string "ab", double, string "xyz", eof
        let mut data = vec![2, 5, 5, 2, b'a', b'b', 4];
        data.extend_from_slice(&1.5f64.to_le_bytes());
        data.extend_from_slice(&[5, 3, b'x', b'y', b'z', 0, 0x99]);
        let mut c = Cursor::new(&data, 0);
        assert_eq!(string_operands(&mut c).unwrap(), (2, 5));
        assert_eq!(c.remaining(), 1);
        assert!(string_operands(&mut Cursor::new(&[5], 0)).is_err());
    }
}
