//! Values: the fast skip that finds where a record ends, and lazy decoding
//! of a value's elements from the bytes the skip delimited.

pub(crate) mod intset;
pub(crate) mod listpack;
pub(crate) mod module;
pub(crate) mod stream;
pub(crate) mod ziplist;
pub(crate) mod zipmap;

use crate::cursor::Cursor;
use crate::error::{Error, ErrorKind, Result};
use crate::mmap::{PageRelease, ReleaseBehind};
use crate::string::{decimal_len, RdbString, Scalar};
use crate::types::{Kind, ValueType};
use intset::Intset;
use listpack::Listpack;
use ziplist::Ziplist;
use zipmap::Zipmap;

pub use module::ModuleId;
pub use stream::{StreamId, StreamMeta, StreamVisitor};

/// Reusable buffers for decoding: LZF-compressed blobs and strings are
/// decompressed here, so decoding allocates only while these grow.
#[derive(Default, Debug)]
pub struct Scratch {
    pub(crate) a: Vec<u8>,
    pub(crate) b: Vec<u8>,
}

impl Scratch {
    /// Empty buffers.
    pub fn new() -> Scratch {
        Scratch::default()
    }
}

/// One element of a collection, borrowed from the file or from [`Scratch`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Element<'b> {
    /// A list element or a set member.
    Member(Scalar<'b>),
    /// A sorted-set member and its score.
    Scored {
        /// The member.
        member: Scalar<'b>,
        /// Its score.
        score: f64,
    },
    /// A hash field and its value, with the field's own expire time (ms since
    /// the epoch) when the hash type carries field expiry.
    Field {
        /// The field.
        field: Scalar<'b>,
        /// The value.
        value: Scalar<'b>,
        /// Absolute expire time of this field, if it has one.
        expire_at_ms: Option<i64>,
    },
}

/// What [`Value::compact_shape`] reads from a container blob.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CompactShape {
    /// Entries in the container (a hash or sorted set has two per element).
    pub entries: u64,
    /// Longest entry at positions 0, 2, 4, ... (members, fields), in bytes
    /// (an integer counts its decimal digits).
    pub max_even: u64,
    /// Longest entry at positions 1, 3, 5, ... (scores, hash values).
    pub max_odd: u64,
    /// Size of the blob itself (decompressed).
    pub blob_len: u64,
}

/// One node of a quicklist (list types 14 and 18), decompressed when the
/// file compressed it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QuicklistNode<'b> {
    /// A packed node: a ziplist (type 14) or a listpack (type 18).
    Packed(&'b [u8]),
    /// A plain node (type 18): one large element stored as is.
    Plain(&'b [u8]),
}

/// A value: its type and the exact bytes it occupies in the file. Nothing is
/// decoded until an accessor asks.
#[derive(Clone, Copy)]
pub struct Value<'a> {
    value_type: ValueType,
    data: &'a [u8],
    offset: u64,
    release: Option<&'a dyn PageRelease>,
}

impl std::fmt::Debug for Value<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Value")
            .field("value_type", &self.value_type)
            .field("offset", &self.offset)
            .field("len", &self.data.len())
            .finish()
    }
}

/// Largest hash field expire time Redis accepts (2^48 - 1 ms).
const MAX_FIELD_EXPIRE_MS: u64 = (1 << 48) - 1;

/// Module ids occupy 8 bytes; a string at least 1; an intset member 2.
const MIN_STRING_BYTES: u64 = 1;

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
        StreamListpacks | StreamListpacks2 | StreamListpacks3 | StreamListpacks4 => {
            stream::skip(cur, vt)
        }
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

/// Turns a container's `next_*` result into an iterator item; after an
/// error the iterator is done.
pub(crate) fn iter_item<T>(r: Result<Option<T>>, done: &mut bool) -> Option<Result<T>> {
    match r {
        Ok(v) => v.map(Ok),
        Err(e) => {
            *done = true;
            Some(Err(e))
        }
    }
}

/// A blob (ziplist, listpack, intset, zipmap) ready to decode, and where its
/// bytes came from for error offsets.
struct Blob<'s> {
    bytes: &'s [u8],
    file_offset: u64,
    compressed: bool,
}

fn load_blob<'a: 's, 's>(s: RdbString<'a>, at: u64, buf: &'s mut Vec<u8>) -> Result<Blob<'s>> {
    match s {
        RdbString::Raw(b) => Ok(Blob {
            bytes: b,
            file_offset: at,
            compressed: false,
        }),
        RdbString::Lzf { offset, .. } => Ok(Blob {
            bytes: s.bytes(buf)?,
            file_offset: offset,
            compressed: true,
        }),
        RdbString::Int(_) => Err(Error::malformed(
            "an encoded container, not an integer string",
            at,
            None,
        )),
    }
}

/// Reads a blob string and records the file offset of its bytes.
fn read_blob_string<'a>(
    cur: &mut Cursor<'a>,
    expected: &'static str,
) -> Result<(RdbString<'a>, u64)> {
    let before = cur.offset();
    let s = RdbString::read(cur, expected)?;
    // Raw bytes start after the length prefix.
    let at = match s {
        RdbString::Raw(b) => cur.offset() - b.len() as u64,
        _ => before,
    };
    Ok((s, at))
}

fn parse_score(s: Scalar<'_>, at: u64) -> Result<f64> {
    match s {
        Scalar::Int(i) => Ok(i as f64),
        Scalar::Bytes(b) => {
            parse_double_text(b).ok_or_else(|| Error::malformed("a sorted set score", at, None))
        }
    }
}

/// Parses a score as Redis writes it in text ("%.17g", "inf", "-inf", "nan").
pub(crate) fn parse_double_text(b: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(b).ok()?;
    s.trim().parse::<f64>().ok()
}

fn read_text_score(cur: &mut Cursor<'_>) -> Result<f64> {
    let at = cur.offset();
    let len = cur.u8("a text score length")?;
    match len {
        253 => Ok(f64::NAN),
        254 => Ok(f64::INFINITY),
        255 => Ok(f64::NEG_INFINITY),
        n => {
            let b = cur.bytes(u64::from(n), "a text score")?;
            parse_double_text(b)
                .ok_or_else(|| Error::malformed("a decimal score", at, Some(n.into())))
        }
    }
}

impl<'a> Value<'a> {
    pub(crate) fn new(
        value_type: ValueType,
        data: &'a [u8],
        offset: u64,
        release: Option<&'a dyn PageRelease>,
    ) -> Value<'a> {
        Value {
            value_type,
            data,
            offset,
            release,
        }
    }

    /// The type byte, resolved.
    pub fn value_type(&self) -> ValueType {
        self.value_type
    }

    /// The data type.
    pub fn kind(&self) -> Kind {
        self.value_type.kind()
    }

    /// The value's bytes exactly as in the file (what a RESTORE payload wraps).
    pub fn raw(&self) -> &'a [u8] {
        self.data
    }

    /// Absolute offset of the value's first byte.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Size of the value in the file.
    pub fn serialized_len(&self) -> u64 {
        self.data.len() as u64
    }

    fn cursor(&self) -> Cursor<'a> {
        Cursor::new(self.data, self.offset)
    }

    /// For strings: the string as stored.
    #[inline]
    pub fn as_string(&self) -> Result<RdbString<'a>> {
        if self.value_type != ValueType::String {
            return Err(Error::malformed(
                "a string value",
                self.offset,
                Some(self.value_type.byte().into()),
            ));
        }
        RdbString::read(&mut self.cursor(), "a string value")
    }

    /// For module values: which module wrote it.
    pub fn module_id(&self) -> Result<ModuleId> {
        if self.kind() != Kind::Module {
            return Err(Error::malformed(
                "a module value",
                self.offset,
                Some(self.value_type.byte().into()),
            ));
        }
        Ok(ModuleId(self.cursor().len("a module id")?))
    }

    /// Number of elements: string length for strings, entries for streams
    /// (the stream's length field), 1 for module values. Reads headers only
    /// where the encoding records a count; walks a container otherwise.
    pub fn element_count(&self, scratch: &mut Scratch) -> Result<u64> {
        use ValueType::*;
        let mut cur = self.cursor();
        let buf = &mut scratch.a;
        match self.value_type {
            String => Ok(RdbString::read(&mut cur, "a string value")?.len()),
            List | Set | Zset | Zset2 | Hash | HashMetadataPreGa | ValkeyHash2 => {
                cur.len("a collection length")
            }
            HashMetadata => {
                cur.skip(8, "a hash's minimum field expire time")?;
                cur.len("a hash length")
            }
            ModulePreGa | Module2 => Ok(1),
            StreamListpacks | StreamListpacks2 | StreamListpacks3 | StreamListpacks4 => {
                Ok(stream::read_meta(&mut cur, self.value_type)?.length)
            }
            ListQuicklist | ListQuicklist2 => {
                let nodes = cur.count("a quicklist node count", 1)?;
                let mut total = 0u64;
                for _ in 0..nodes {
                    let container = if self.value_type == ListQuicklist2 {
                        cur.len("a quicklist node container")?
                    } else {
                        2
                    };
                    let (s, at) = read_blob_string(&mut cur, "a quicklist node")?;
                    if container == 1 {
                        total += 1;
                        continue;
                    }
                    let blob = load_blob(s, at, buf)?;
                    let n = if self.value_type == ListQuicklist {
                        Ziplist::count(blob.bytes)
                    } else {
                        Listpack::count(blob.bytes)
                    }
                    .map_err(|e| e.rebase(blob.file_offset, blob.compressed))?;
                    total += n;
                }
                Ok(total)
            }
            HashZipmap => {
                let (s, at) = read_blob_string(&mut cur, "a zipmap")?;
                let blob = load_blob(s, at, buf)?;
                let mut n = 0;
                for p in Zipmap::new(blob.bytes)
                    .map_err(|e| e.rebase(blob.file_offset, blob.compressed))?
                {
                    p.map_err(|e| e.rebase(blob.file_offset, blob.compressed))?;
                    n += 1;
                }
                Ok(n)
            }
            ListZiplist | ZsetZiplist | HashZiplist => {
                let (s, at) = read_blob_string(&mut cur, "a ziplist")?;
                let blob = load_blob(s, at, buf)?;
                let n = Ziplist::count(blob.bytes)
                    .map_err(|e| e.rebase(blob.file_offset, blob.compressed))?;
                Ok(if self.value_type == ListZiplist {
                    n
                } else {
                    n / 2
                })
            }
            SetIntset => {
                let (s, at) = read_blob_string(&mut cur, "an intset")?;
                let blob = load_blob(s, at, buf)?;
                Ok(Intset::new(blob.bytes)
                    .map_err(|e| e.rebase(blob.file_offset, blob.compressed))?
                    .len())
            }
            SetListpack | HashListpack | ZsetListpack | HashListpackExPreGa | HashListpackEx => {
                if self.value_type == HashListpackEx {
                    cur.skip(8, "a hash's minimum field expire time")?;
                }
                let (s, at) = read_blob_string(&mut cur, "a listpack")?;
                let blob = load_blob(s, at, buf)?;
                let n = Listpack::count(blob.bytes)
                    .map_err(|e| e.rebase(blob.file_offset, blob.compressed))?;
                Ok(match self.value_type {
                    SetListpack => n,
                    HashListpackExPreGa | HashListpackEx => n / 3,
                    _ => n / 2,
                })
            }
        }
    }

    /// For a value stored as one container blob (listpack, ziplist or
    /// intset): its entries and the longest entry at even and at odd
    /// positions, read from lengths alone (no element is parsed or
    /// copied). Enough to tell whether a server keeps the blob as it is
    /// on load. `None` for every other encoding.
    pub fn compact_shape(&self, scratch: &mut Scratch) -> Result<Option<CompactShape>> {
        use ValueType::*;
        let mut cur = self.cursor();
        let (expected, listpack) = match self.value_type {
            SetIntset => ("an intset", false),
            ListZiplist | ZsetZiplist | HashZiplist => ("a ziplist", false),
            SetListpack | HashListpack | ZsetListpack | HashListpackExPreGa => ("a listpack", true),
            HashListpackEx => {
                cur.skip(8, "a hash's minimum field expire time")?;
                ("a listpack", true)
            }
            _ => return Ok(None),
        };
        let (s, at) = read_blob_string(&mut cur, expected)?;
        let blob = load_blob(s, at, &mut scratch.a)?;
        let re = |e: Error| e.rebase(blob.file_offset, blob.compressed);
        let mut shape = CompactShape {
            entries: 0,
            max_even: 0,
            max_odd: 0,
            blob_len: blob.bytes.len() as u64,
        };
        let mut add = |len: u64| {
            let m = if shape.entries.is_multiple_of(2) {
                &mut shape.max_even
            } else {
                &mut shape.max_odd
            };
            *m = (*m).max(len);
            shape.entries += 1;
        };
        if self.value_type == SetIntset {
            for m in Intset::new(blob.bytes).map_err(re)? {
                add(decimal_len(m.map_err(re)?) as u64);
            }
        } else if listpack {
            Listpack::for_each_len(blob.bytes, add).map_err(re)?;
        } else {
            let mut zl = Ziplist::new(blob.bytes).map_err(re)?;
            while let Some(s) = zl.next_entry().map_err(re)? {
                add(s.len());
            }
        }
        Ok(Some(shape))
    }

    /// Calls `f` for every element in stored order, decoding one container
    /// node at a time (a big value is never materialized). Strings, streams
    /// and module values have no elements here: see [`Value::as_string`],
    /// [`Value::walk_stream`] and [`Value::module_id`].
    pub fn for_each_element(
        &self,
        scratch: &mut Scratch,
        mut f: impl FnMut(Element<'_>),
    ) -> Result<()> {
        use ValueType::*;
        let mut cur = self.cursor();
        let mut behind = ReleaseBehind::new(self.release, self.offset);
        let Scratch { a, b } = scratch;
        match self.value_type {
            String | StreamListpacks | StreamListpacks2 | StreamListpacks3 | StreamListpacks4
            | ModulePreGa | Module2 => Ok(()),
            List | Set => {
                let n = cur.count("a collection length", MIN_STRING_BYTES)?;
                for _ in 0..n {
                    behind.at(cur.offset());
                    let s = RdbString::read(&mut cur, "a collection element")?;
                    f(Element::Member(s.scalar(a)?));
                }
                Ok(())
            }
            Hash => {
                let n = cur.count("a hash length", 2)?;
                for _ in 0..n {
                    behind.at(cur.offset());
                    let field = RdbString::read(&mut cur, "a hash field")?;
                    let value = RdbString::read(&mut cur, "a hash value")?;
                    f(Element::Field {
                        field: field.scalar(a)?,
                        value: value.scalar(b)?,
                        expire_at_ms: None,
                    });
                }
                Ok(())
            }
            HashMetadataPreGa | HashMetadata => {
                // 7.4 GA stores each field's expire time relative to the
                // hash's minimum (plus one, so that 0 means "none");
                // release candidates stored it absolute.
                let min_expire = if self.value_type == HashMetadata {
                    Some(cur.i64_le("a hash's minimum field expire time")?)
                } else {
                    None
                };
                let n = cur.count("a hash length", 3)?;
                for _ in 0..n {
                    behind.at(cur.offset());
                    let ttl_at = cur.offset();
                    let ttl = cur.len("a hash field expire time")?;
                    let expire_at_ms = match (ttl, min_expire) {
                        (0, _) => None,
                        // Relative to the minimum, plus one (GA format).
                        (t, Some(min)) => Some(
                            (min as u64)
                                .checked_add(t - 1)
                                .filter(|&v| v <= MAX_FIELD_EXPIRE_MS)
                                .ok_or_else(|| {
                                    Error::malformed(
                                        "a field expire time below 2^48",
                                        ttl_at,
                                        Some(t),
                                    )
                                })? as i64,
                        ),
                        (t, None) if t <= MAX_FIELD_EXPIRE_MS => Some(t as i64),
                        (t, None) => {
                            return Err(Error::malformed(
                                "a field expire time below 2^48",
                                ttl_at,
                                Some(t),
                            ))
                        }
                    };
                    let field = RdbString::read(&mut cur, "a hash field")?;
                    let value = RdbString::read(&mut cur, "a hash value")?;
                    f(Element::Field {
                        field: field.scalar(a)?,
                        value: value.scalar(b)?,
                        expire_at_ms,
                    });
                }
                Ok(())
            }
            ValkeyHash2 => {
                let n = cur.count("a hash length", 3)?;
                for _ in 0..n {
                    behind.at(cur.offset());
                    let field = RdbString::read(&mut cur, "a hash field")?;
                    let value = RdbString::read(&mut cur, "a hash value")?;
                    let ttl = cur.i64_le("a hash field expire time")?;
                    let expire_at_ms = (ttl >= 0).then_some(ttl);
                    f(Element::Field {
                        field: field.scalar(a)?,
                        value: value.scalar(b)?,
                        expire_at_ms,
                    });
                }
                Ok(())
            }
            Zset | Zset2 => {
                let n = cur.count("a sorted set length", 2)?;
                for _ in 0..n {
                    behind.at(cur.offset());
                    let member = RdbString::read(&mut cur, "a sorted set member")?;
                    let score = if self.value_type == Zset2 {
                        cur.f64_le("a binary score")?
                    } else {
                        read_text_score(&mut cur)?
                    };
                    f(Element::Scored {
                        member: member.scalar(a)?,
                        score,
                    });
                }
                Ok(())
            }
            HashZipmap => {
                let (s, at) = read_blob_string(&mut cur, "a zipmap")?;
                let blob = load_blob(s, at, a)?;
                let re = |e: Error| e.rebase(blob.file_offset, blob.compressed);
                for p in Zipmap::new(blob.bytes).map_err(re)? {
                    let (field, value) = p.map_err(re)?;
                    f(Element::Field {
                        field: Scalar::Bytes(field),
                        value: Scalar::Bytes(value),
                        expire_at_ms: None,
                    });
                }
                Ok(())
            }
            SetIntset => {
                let (s, at) = read_blob_string(&mut cur, "an intset")?;
                let blob = load_blob(s, at, a)?;
                let re = |e: Error| e.rebase(blob.file_offset, blob.compressed);
                for m in Intset::new(blob.bytes).map_err(re)? {
                    f(Element::Member(Scalar::Int(m.map_err(re)?)));
                }
                Ok(())
            }
            ListZiplist | ZsetZiplist | HashZiplist => {
                let (s, at) = read_blob_string(&mut cur, "a ziplist")?;
                let blob = load_blob(s, at, a)?;
                let re = |e: Error| e.rebase(blob.file_offset, blob.compressed);
                let items = Ziplist::new(blob.bytes).map_err(re)?;
                emit_flat(
                    self.value_type,
                    items.map(|r| r.map_err(re)),
                    blob.file_offset,
                    &mut f,
                )
            }
            SetListpack | HashListpack | ZsetListpack | HashListpackExPreGa | HashListpackEx => {
                if self.value_type == HashListpackEx {
                    cur.skip(8, "a hash's minimum field expire time")?;
                }
                let (s, at) = read_blob_string(&mut cur, "a listpack")?;
                let blob = load_blob(s, at, a)?;
                let re = |e: Error| e.rebase(blob.file_offset, blob.compressed);
                let items = Listpack::new(blob.bytes).map_err(re)?;
                emit_flat(
                    self.value_type,
                    items.map(|r| r.map_err(re)),
                    blob.file_offset,
                    &mut f,
                )
            }
            ListQuicklist | ListQuicklist2 => {
                let nodes = cur.count("a quicklist node count", 1)?;
                for _ in 0..nodes {
                    behind.at(cur.offset());
                    let container_at = cur.offset();
                    let container = if self.value_type == ListQuicklist2 {
                        cur.len("a quicklist node container")?
                    } else {
                        2
                    };
                    let (s, at) = read_blob_string(&mut cur, "a quicklist node")?;
                    match container {
                        1 => f(Element::Member(s.scalar(a)?)),
                        2 => {
                            let blob = load_blob(s, at, a)?;
                            let re = |e: Error| e.rebase(blob.file_offset, blob.compressed);
                            if self.value_type == ListQuicklist {
                                for it in Ziplist::new(blob.bytes).map_err(re)? {
                                    f(Element::Member(it.map_err(re)?));
                                }
                            } else {
                                for it in Listpack::new(blob.bytes).map_err(re)? {
                                    f(Element::Member(it.map_err(re)?));
                                }
                            }
                        }
                        c => {
                            return Err(Error::malformed(
                                "a quicklist node container (1 plain, 2 packed)",
                                container_at,
                                Some(c),
                            ))
                        }
                    }
                }
                Ok(())
            }
        }
    }

    /// For quicklists: calls `f` with each node in order, giving pages back
    /// behind the walk. Errors `f` returns about a node's bytes (offsets
    /// relative to the node) are moved to the node's place in the file.
    pub fn for_each_quicklist_node(
        &self,
        scratch: &mut Scratch,
        mut f: impl FnMut(QuicklistNode<'_>) -> Result<()>,
    ) -> Result<()> {
        let v2 = match self.value_type {
            ValueType::ListQuicklist => false,
            ValueType::ListQuicklist2 => true,
            vt => {
                return Err(Error::malformed(
                    "a quicklist value",
                    self.offset,
                    Some(vt.byte().into()),
                ))
            }
        };
        let mut cur = self.cursor();
        let mut behind = ReleaseBehind::new(self.release, self.offset);
        let nodes = cur.count("a quicklist node count", 1)?;
        for _ in 0..nodes {
            behind.at(cur.offset());
            let container_at = cur.offset();
            let container = if v2 {
                cur.len("a quicklist node container")?
            } else {
                2
            };
            let (s, at) = read_blob_string(&mut cur, "a quicklist node")?;
            let blob = load_blob(s, at, &mut scratch.a)?;
            let node = match container {
                1 => QuicklistNode::Plain(blob.bytes),
                2 => QuicklistNode::Packed(blob.bytes),
                c => {
                    return Err(Error::malformed(
                        "a quicklist node container (1 plain, 2 packed)",
                        container_at,
                        Some(c),
                    ))
                }
            };
            f(node).map_err(|e| e.rebase(blob.file_offset, blob.compressed))?;
        }
        Ok(())
    }

    /// Walks a stream value: entries, then consumer groups with their pending
    /// entries and consumers, reported to `visitor` as they are read.
    pub fn walk_stream(
        &self,
        scratch: &mut Scratch,
        visitor: &mut impl StreamVisitor,
    ) -> Result<StreamMeta> {
        if self.kind() != Kind::Stream {
            return Err(Error::malformed(
                "a stream value",
                self.offset,
                Some(self.value_type.byte().into()),
            ));
        }
        let behind = ReleaseBehind::new(self.release, self.offset);
        stream::walk(
            &mut self.cursor(),
            self.value_type,
            scratch,
            visitor,
            behind,
        )
    }

    /// For streams: the metadata (length, ids, group count) without
    /// decoding entries.
    pub fn stream_meta(&self) -> Result<StreamMeta> {
        if self.kind() != Kind::Stream {
            return Err(Error::malformed(
                "a stream value",
                self.offset,
                Some(self.value_type.byte().into()),
            ));
        }
        stream::read_meta(&mut self.cursor(), self.value_type)
    }
}

/// Emits the elements of one flat container (ziplist or listpack) grouped
/// the way the value type lays them out: members, pairs or triplets.
fn emit_flat<'b>(
    vt: ValueType,
    mut items: impl Iterator<Item = Result<Scalar<'b>>>,
    blob_at: u64,
    f: &mut impl FnMut(Element<'_>),
) -> Result<()> {
    use ValueType::*;
    let missing = || {
        Error::malformed(
            "a complete pair or triplet in a compact container",
            blob_at,
            None,
        )
    };
    while let Some(first) = items.next() {
        let first = first?;
        match vt {
            ListZiplist | SetListpack => f(Element::Member(first)),
            ZsetZiplist | ZsetListpack => {
                let score = items.next().ok_or_else(missing)??;
                f(Element::Scored {
                    member: first,
                    score: parse_score(score, blob_at)?,
                })
            }
            HashZiplist | HashListpack => {
                let value = items.next().ok_or_else(missing)??;
                f(Element::Field {
                    field: first,
                    value,
                    expire_at_ms: None,
                })
            }
            _ => {
                // Listpack-ex triplets: field, value, expire time (0 = none).
                let value = items.next().ok_or_else(missing)??;
                let ttl = items.next().ok_or_else(missing)??;
                let ttl = ttl.as_int().ok_or_else(|| {
                    Error::malformed("an integer field expire time", blob_at, None)
                })?;
                f(Element::Field {
                    field: first,
                    value,
                    expire_at_ms: (ttl != 0).then_some(ttl),
                })
            }
        }
    }
    Ok(())
}
