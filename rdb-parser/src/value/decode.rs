//! Decoding a collection's elements one at a time, for every encoding
//! (plain, ziplist, listpack, intset, zipmap, quicklist, with field expiry).

use super::blob::{load_blob, read_blob_string};
use super::element::{Element, QuicklistNode, Scratch};
use super::handle::Value;
use super::intset::Intset;
use super::listpack::Listpack;
use super::skip::MIN_STRING_BYTES;
use super::ziplist::Ziplist;
use super::zipmap::Zipmap;
use crate::cursor::Cursor;
use crate::error::{Error, Result};
use crate::mmap::ReleaseBehind;
use crate::string::{RdbString, Scalar};
use crate::types::ValueType;

/// Largest hash field expire time Redis accepts (2^48 - 1 ms).
const MAX_FIELD_EXPIRE_MS: u64 = (1 << 48) - 1;

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
impl Value<'_> {
    /// Calls `f` for every element in stored order, decoding one container
    /// node at a time (a big value is never materialized). Strings, streams,
    /// module values and arrays have no elements here: see
    /// [`Value::as_string`], [`Value::walk_stream`], [`Value::module_id`] and
    /// [`Value::walk_array`].
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
            | StreamListpacks5 | ModulePreGa | Module2 | Array => Ok(()),
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
        self.for_each_quicklist_node_stored(scratch, |node, _| f(node))
    }

    /// As [`Value::for_each_quicklist_node`], with the node's size as
    /// stored in the file when it is LZF-compressed there (`None` when
    /// stored raw): a server with `list-compress-depth` keeps inner nodes
    /// compressed in memory, at that size.
    pub fn for_each_quicklist_node_stored(
        &self,
        scratch: &mut Scratch,
        mut f: impl FnMut(QuicklistNode<'_>, Option<u64>) -> Result<()>,
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
            let stored_lzf = match s {
                RdbString::Lzf { compressed, .. } => Some(compressed.len() as u64),
                _ => None,
            };
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
            f(node, stored_lzf).map_err(|e| e.rebase(blob.file_offset, blob.compressed))?;
        }
        Ok(())
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
