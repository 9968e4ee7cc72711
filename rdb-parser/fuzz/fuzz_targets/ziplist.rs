//! Fuzz target: the ziplist walker (`Ziplist::new`/`next_entry`,
//! `Ziplist::count`) on arbitrary bytes, and the same bytes as the value of
//! every type stored as ziplists.
//!
//! The first byte picks how the rest becomes a ziplist:
//! * `% 3 == 0`: as is;
//! * `% 3 == 1`: framed (size field set to the length, tail offset 10,
//!   0xFF appended; bit 2 of the first byte sets the count to "unknown"),
//!   so random entries get past the header checks;
//! * `% 3 == 2`: entries drawn from the rest (integers of every width,
//!   strings of every length class) encoded here as Redis does; the walk
//!   must give them back exactly.
//!
//! Always: `count` equals the entries walked, and so does the header's
//! count when known; and wrapped as a list (10), sorted set (12), hash
//! (13) or quicklist (14), a value whose walk succeeds has as many
//! elements as `element_count`, its `compact_shape` counts the entries
//! walked, and it holds the entries walked (per element: 1 or 2 of them).

#![no_main]

use libfuzzer_sys::arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use rdb_parser::{Result, Scalar, Ziplist};

#[path = "../common/entries.rs"]
mod entries;
#[path = "../common/wrap.rs"]
mod wrap;

use entries::Item;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let (blob, built) = match mode % 3 {
        0 => (rest.to_vec(), None),
        1 => (frame(rest, mode & 4 != 0), None),
        _ => {
            let items = entries::draw(&mut Unstructured::new(rest));
            (build(&items), Some(items))
        }
    };
    let walked = check(&blob);
    if let Some(items) = built {
        let got = walked.as_ref().expect("a ziplist built here walks");
        let want: Vec<Scalar<'_>> = items.iter().map(Item::scalar).collect();
        assert_eq!(got, &want, "entries built here come back");
    }
    let entry_count = walked.as_ref().ok().map(|v| v.len() as u64);
    let nodes = 1 + u64::from(mode >> 6);
    for (type_byte, value, per) in [
        (10, wrap::blob_value(&[], &blob), 1),
        (12, wrap::blob_value(&[], &blob), 2),
        (13, wrap::blob_value(&[], &blob), 2),
        (14, wrap::quicklist_value(14, &blob, nodes), 1),
    ] {
        let Some(v) = wrap::walk_value(&wrap::one_key_file(type_byte, &value)) else {
            continue;
        };
        if let Some(n) = v.elements {
            let copies = if type_byte == 14 { nodes } else { 1 };
            let e = entry_count.expect("a value whose walk succeeds holds a ziplist that walks");
            assert_eq!(
                n * per,
                e * copies,
                "type {type_byte}: elements against entries"
            );
        }
        if let (Some(s), Some(e)) = (v.shape_entries, entry_count) {
            assert_eq!(s, e, "type {type_byte}: compact_shape against the walk");
        }
    }
});

/// Walks `blob`; on success checks the counts against the walk.
fn check(blob: &[u8]) -> Result<Vec<Scalar<'_>>> {
    let walked: Result<Vec<Scalar<'_>>> = Ziplist::new(blob).and_then(|zl| zl.collect());
    if let Ok(items) = &walked {
        let n = items.len() as u64;
        assert_eq!(
            Ziplist::count(blob).expect("count of a ziplist that walks"),
            n,
            "count against the walk"
        );
        let header = u16::from_le_bytes([blob[8], blob[9]]);
        if header != u16::MAX {
            assert_eq!(u64::from(header), n, "header count of a ziplist that walks");
        }
    }
    walked
}

/// `body` as a ziplist's entries: size field, tail offset 10, a count
/// (guessed from the body's first byte, or "unknown"), and the terminator.
fn frame(body: &[u8], unknown: bool) -> Vec<u8> {
    let mut b = Vec::with_capacity(body.len() + 11);
    b.extend_from_slice(&((body.len() + 11) as u32).to_le_bytes());
    b.extend_from_slice(&10u32.to_le_bytes());
    let count = if unknown {
        u16::MAX
    } else {
        u16::from(body.get(1).copied().unwrap_or(0) % 16)
    };
    b.extend_from_slice(&count.to_le_bytes());
    b.extend_from_slice(body);
    b.push(0xff);
    b
}

/// A ziplist of `items`, each in its smallest encoding, as Redis does.
fn build(items: &[Item]) -> Vec<u8> {
    let mut body = Vec::new();
    let (mut prev, mut last_start) = (0usize, 0usize);
    for it in items {
        let start = body.len();
        last_start = start;
        if prev < 254 {
            body.push(prev as u8);
        } else {
            body.push(0xfe);
            body.extend_from_slice(&(prev as u32).to_le_bytes());
        }
        match it {
            Item::Int(v) => {
                let v = *v;
                if (0..=12).contains(&v) {
                    body.push(0xf1 + v as u8);
                } else if let Ok(x) = i8::try_from(v) {
                    body.extend_from_slice(&[0xfe, x as u8]);
                } else if let Ok(x) = i16::try_from(v) {
                    body.push(0xc0);
                    body.extend_from_slice(&x.to_le_bytes());
                } else if (-(1 << 23)..(1 << 23)).contains(&v) {
                    body.push(0xf0);
                    body.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
                } else if let Ok(x) = i32::try_from(v) {
                    body.push(0xd0);
                    body.extend_from_slice(&x.to_le_bytes());
                } else {
                    body.push(0xe0);
                    body.extend_from_slice(&v.to_le_bytes());
                }
            }
            Item::Bytes(s) => {
                if s.len() < 64 {
                    body.push(s.len() as u8);
                } else if s.len() < 16384 {
                    body.extend_from_slice(&[0x40 | (s.len() >> 8) as u8, s.len() as u8]);
                } else {
                    body.push(0x80);
                    body.extend_from_slice(&(s.len() as u32).to_be_bytes());
                }
                body.extend_from_slice(s);
            }
        }
        prev = body.len() - start;
    }
    let count = u16::try_from(items.len()).unwrap_or(u16::MAX);
    let mut out = Vec::with_capacity(body.len() + 11);
    out.extend_from_slice(&((body.len() + 11) as u32).to_le_bytes());
    out.extend_from_slice(&((10 + last_start) as u32).to_le_bytes());
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&body);
    out.push(0xff);
    out
}
