//! The fast skip: where a value ends, found by reading lengths only (what
//! lets a record be read without decoding its value).

use super::array;
use super::module::{self, ModuleId};
use super::stream;
use crate::cursor::Cursor;
use crate::error::{Error, ErrorKind, Result};
use crate::mmap::ReleaseBehind;
use crate::string::RdbString;
use crate::types::ValueType;

/// Module ids occupy 8 bytes; a string at least 1; an intset member 2.
pub(super) const MIN_STRING_BYTES: u64 = 1;

/// Skips one value of type `vt` at the cursor, reading only lengths.
pub(crate) fn skip_value(
    cur: &mut Cursor<'_>,
    vt: ValueType,
    behind: &mut ReleaseBehind<'_>,
) -> Result<()> {
    use ValueType::*;
    match vt {
        String | HashZipmap | ListZiplist | SetIntset | ZsetZiplist | HashZiplist
        | HashListpack | ZsetListpack | SetListpack | HashListpackExPreGa => {
            RdbString::skip(cur, "a value string")
        }
        List | Set => {
            let n = cur.count("a collection length", MIN_STRING_BYTES)?;
            for _ in 0..n {
                behind.at(cur.offset());
                RdbString::skip(cur, "a collection element")?;
            }
            Ok(())
        }
        Hash => {
            let n = cur.count("a hash length", 2 * MIN_STRING_BYTES)?;
            for _ in 0..n {
                behind.at(cur.offset());
                RdbString::skip(cur, "a hash field")?;
                RdbString::skip(cur, "a hash value")?;
            }
            Ok(())
        }
        Zset => {
            let n = cur.count("a sorted set length", 2)?;
            for _ in 0..n {
                behind.at(cur.offset());
                RdbString::skip(cur, "a sorted set member")?;
                let len = cur.u8("a text score length")?;
                if len < 253 {
                    cur.skip(u64::from(len), "a text score")?;
                }
            }
            Ok(())
        }
        Zset2 => {
            let n = cur.count("a sorted set length", 9)?;
            for _ in 0..n {
                behind.at(cur.offset());
                RdbString::skip(cur, "a sorted set member")?;
                cur.skip(8, "a binary score")?;
            }
            Ok(())
        }
        ListQuicklist => {
            let n = cur.count("a quicklist node count", MIN_STRING_BYTES)?;
            for _ in 0..n {
                behind.at(cur.offset());
                RdbString::skip(cur, "a quicklist node")?;
            }
            Ok(())
        }
        ListQuicklist2 => {
            let n = cur.count("a quicklist node count", 2)?;
            for _ in 0..n {
                behind.at(cur.offset());
                cur.len("a quicklist node container")?;
                RdbString::skip(cur, "a quicklist node")?;
            }
            Ok(())
        }
        StreamListpacks | StreamListpacks2 | StreamListpacks3 | StreamListpacks4
        | StreamListpacks5 => stream::skip(cur, vt),
        Array => array::skip(cur),
        Module2 => module::skip_value(cur),
        ModulePreGa => {
            let at = cur.offset();
            let id = cur.len("a module id")?;
            Err(Error::new(
                ErrorKind::ModulePreGa {
                    module: ModuleId(id).name(),
                },
                at,
            ))
        }
        HashMetadataPreGa | HashMetadata => {
            if vt == HashMetadata {
                cur.skip(8, "a hash's minimum field expire time")?;
            }
            let n = cur.count("a hash length", 3)?;
            for _ in 0..n {
                behind.at(cur.offset());
                cur.len("a hash field expire time")?;
                RdbString::skip(cur, "a hash field")?;
                RdbString::skip(cur, "a hash value")?;
            }
            Ok(())
        }
        HashListpackEx => {
            cur.skip(8, "a hash's minimum field expire time")?;
            RdbString::skip(cur, "a listpack")
        }
        ValkeyHash2 => {
            let n = cur.count("a hash length", 10)?;
            for _ in 0..n {
                behind.at(cur.offset());
                skip_valkey_field(cur)?;
            }
            Ok(())
        }
    }
}

/// Valkey 9 hash entry: field, value, then the field's absolute expire
/// time in ms as 8 bytes LE (-1 = none).
fn skip_valkey_field(cur: &mut Cursor<'_>) -> Result<()> {
    RdbString::skip(cur, "a hash field")?;
    RdbString::skip(cur, "a hash value")?;
    cur.skip(8, "a hash field expire time")
}
