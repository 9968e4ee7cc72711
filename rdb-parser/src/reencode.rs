//! A value re-encoded for a server too old for its own encoding: a `DUMP`
//! payload of the server's RDB version in the plain encodings every
//! version reads (a list, set, sorted set or hash as its elements one by
//! one, a string as itself). `RESTORE` of it builds the server's own
//! compact encodings, as commands would, in one atomic command.
//!
//! ```
//! use rdb_parser::reencode::{plain_payload, Reencoded};
//! use rdb_parser::restore::{payload_value, payload_version, restore_payload};
//! use rdb_parser::Scratch;
//!
//! // A list in a quicklist of listpacks (RDB 11) holds what RDB 9 reads
//! // as a plain list.
//! let old = restore_payload(1, &[2, 1, b'x', 0xc0, 7], 11);
//! let value = payload_value(&old).unwrap();
//! let mut out = Vec::new();
//! let got = plain_payload(&value, 9, &mut Scratch::new(), &mut out).unwrap();
//! assert!(matches!(got, Reencoded::Payload));
//! assert_eq!(payload_version(&out), Some(9));
//! ```

use crate::crc64;
use crate::error::Result;
use crate::string::Scalar;
use crate::types::{Kind, ValueType};
use crate::value::{Element, Scratch, Value};
use crate::writer::{push_length, push_string};

/// What [`plain_payload`] made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reencoded {
    /// The payload was appended.
    Payload,
    /// An empty collection, which no server stores: nothing appended.
    Empty,
    /// No plain encoding holds it: a stream, a module value, a hash with
    /// field expiry, a sorted set for a version before 8. Nothing appended.
    NotPlain,
}

/// Appends to `out` `value` as a `DUMP` payload of RDB version `version`
/// in plain encodings (see the module notes). On an error `out` is left
/// as it was.
pub fn plain_payload(
    value: &Value<'_>,
    version: u32,
    scratch: &mut Scratch,
    out: &mut Vec<u8>,
) -> Result<Reencoded> {
    // The sorted set with binary scores is read from RDB version 8 (4.0).
    let plain = match value.kind() {
        Kind::String => ValueType::String,
        Kind::List => ValueType::List,
        Kind::Set => ValueType::Set,
        Kind::Hash => ValueType::Hash,
        Kind::Zset if version >= 8 => ValueType::Zset2,
        _ => return Ok(Reencoded::NotPlain),
    };
    let start = out.len();
    out.push(plain.byte());
    if plain == ValueType::String {
        let mut buf = Vec::new();
        match value
            .as_string()
            .and_then(|s| s.bytes(&mut buf).map(|b| push_string(out, b)))
        {
            Ok(()) => return Ok(finish(out, start, version)),
            Err(e) => {
                out.truncate(start);
                return Err(e);
            }
        }
    }
    // The elements first, then their count in front of them.
    let mut body = Vec::with_capacity(value.raw().len() + 16);
    let mut n = 0u64;
    let mut plain = true;
    let put = |body: &mut Vec<u8>, s: Scalar<'_>| s.with_bytes(|b| push_string(body, b));
    let walked = value.for_each_element(scratch, |el| match el {
        Element::Member(m) => {
            put(&mut body, m);
            n += 1;
        }
        Element::Scored { member, score } => {
            put(&mut body, member);
            body.extend_from_slice(&score.to_le_bytes());
            n += 1;
        }
        Element::Field {
            field,
            value,
            expire_at_ms,
        } => {
            plain &= expire_at_ms.is_none();
            put(&mut body, field);
            put(&mut body, value);
            n += 1;
        }
    });
    if let Err(e) = walked {
        out.truncate(start);
        return Err(e);
    }
    if !plain || n == 0 {
        out.truncate(start);
        return Ok(if plain {
            Reencoded::Empty
        } else {
            Reencoded::NotPlain
        });
    }
    push_length(out, n);
    out.extend_from_slice(&body);
    Ok(finish(out, start, version))
}

/// Adds the trailer (version, CRC64 of the payload) to the payload that
/// starts at `start`.
fn finish(out: &mut Vec<u8>, start: usize, version: u32) -> Reencoded {
    out.extend_from_slice(&(version.min(u32::from(u16::MAX)) as u16).to_le_bytes());
    let crc = crc64::checksum(&out[start..]);
    out.extend_from_slice(&crc.to_le_bytes());
    Reencoded::Payload
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::restore::{payload_value, restore_payload};

    /// Each kind re-encoded reads back as the same elements, in a payload
    /// of the asked version; what has no plain form is said so, with
    /// nothing appended.
    #[test]
    fn plain_forms_read_back() {
        let mut scratch = Scratch::new();
        let elements = |p: &[u8]| {
            let v = payload_value(p).unwrap();
            let mut got = Vec::new();
            let b = |s: Scalar<'_>| s.with_bytes(<[u8]>::to_vec);
            v.for_each_element(&mut Scratch::new(), |e| {
                got.push(match e {
                    Element::Member(m) => (b(m), Vec::new(), None),
                    Element::Scored { member, score } => (b(member), Vec::new(), Some(score)),
                    Element::Field { field, value, .. } => (b(field), b(value), None),
                })
            })
            .unwrap();
            (v.kind(), got)
        };
        // A list (plain, RDB 1 type) with an integer; a set; a sorted set.
        let cases = [
            restore_payload(1, &[2, 1, b'x', 0xc0, 7], 11),
            restore_payload(2, &[2, 1, b'a', 1, b'b'], 11),
            restore_payload(5, &[1, 1, b'm', 0, 0, 0, 0, 0, 0, 0xf8, 0x3f], 11),
            restore_payload(4, &[1, 1, b'f', 2, b'v', b'w'], 11),
        ];
        for old in &cases {
            let mut out = vec![0xaa];
            let v = payload_value(old).unwrap();
            let got = plain_payload(&v, 9, &mut scratch, &mut out).unwrap();
            assert_eq!(got, Reencoded::Payload);
            assert_eq!(out[0], 0xaa, "appended, not replaced");
            let new = &out[1..];
            assert_eq!(crate::restore::payload_version(new), Some(9));
            assert_eq!(elements(new), elements(old));
        }
        let s = restore_payload(0, &[3, b'a', b'b', b'c'], 11);
        let mut out = Vec::new();
        let v = payload_value(&s).unwrap();
        assert_eq!(
            plain_payload(&v, 9, &mut scratch, &mut out).unwrap(),
            Reencoded::Payload
        );
        let back = payload_value(&out).unwrap();
        let mut buf = Vec::new();
        assert_eq!(back.as_string().unwrap().bytes(&mut buf).unwrap(), b"abc");
        // An empty list; a sorted set for RDB 7: nothing appended.
        let mut out = Vec::new();
        let empty = restore_payload(1, &[0], 11);
        let v = payload_value(&empty).unwrap();
        assert_eq!(
            plain_payload(&v, 9, &mut scratch, &mut out).unwrap(),
            Reencoded::Empty
        );
        let v = payload_value(&cases[2]).unwrap();
        assert_eq!(
            plain_payload(&v, 7, &mut scratch, &mut out).unwrap(),
            Reencoded::NotPlain
        );
        assert!(out.is_empty());
    }
}
