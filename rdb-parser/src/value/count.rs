//! Counting a value's elements, and measuring a container blob's shape,
//! from headers and lengths (no element is decoded where a count is stored).

use super::array;
use super::blob::{load_blob, read_blob_string};
use super::element::{CompactShape, Scratch};
use super::handle::Value;
use super::intset::Intset;
use super::listpack::Listpack;
use super::stream;
use super::ziplist::Ziplist;
use super::zipmap::Zipmap;
use crate::error::{Error, Result};
use crate::string::{decimal_len, RdbString};
use crate::types::ValueType;

impl Value<'_> {
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
            StreamListpacks | StreamListpacks2 | StreamListpacks3 | StreamListpacks4
            | StreamListpacks5 => Ok(stream::read_meta(&mut cur, self.value_type)?.length),
            Array => Ok(array::read_header(&mut cur)?.count),
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
}
