//! Fuzz target: the listpack walkers (`Listpack::new`/`next_entry`,
//! `Listpack::count`, `Listpack::for_each_len`) on arbitrary bytes, and the
//! same bytes as the value of every type stored as listpacks.
//!
//! The first byte picks how the rest becomes a listpack:
//! * `% 3 == 0`: as is;
//! * `% 3 == 1`: framed (size field set to the length, 0xFF appended; bit
//!   2 of the first byte sets the count to "unknown"), so random entries get
//!   past the header checks;
//! * `% 3 == 2`: entries drawn from the rest (integers of every width,
//!   strings of every length class) encoded here as Redis does; the walk
//!   must give them back exactly.
//!
//! Always: the two walkers agree (the same lengths when both accept, an
//! error from both otherwise); `count` equals the entries walked; the
//! header's count, when known, equals them; and wrapped as a hash (16),
//! sorted set (17), list (18), set (20) or hash with field expiry (25),
//! a value whose walk succeeds has as many elements as `element_count`,
//! its `compact_shape` counts the entries walked, and it holds the
//! entries walked (per element: 1, 2 or 3 of them).

#![no_main]

use libfuzzer_sys::arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use rdb_parser::{Listpack, Result, Scalar};

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
        let got = walked.as_ref().expect("a listpack built here walks");
        let want: Vec<Scalar<'_>> = items.iter().map(Item::scalar).collect();
        assert_eq!(got, &want, "entries built here come back");
    }
    let entry_count = walked.as_ref().ok().map(|v| v.len() as u64);
    let expiry = rest.get(..8).unwrap_or(&[0; 8]);
    for (type_byte, value, per) in [
        (16, wrap::blob_value(&[], &blob), 2),
        (17, wrap::blob_value(&[], &blob), 2),
        (
            18,
            wrap::quicklist_value(18, &blob, 1 + u64::from(mode >> 6)),
            1,
        ),
        (20, wrap::blob_value(&[], &blob), 1),
        (25, wrap::blob_value(expiry, &blob), 3),
    ] {
        let Some(v) = wrap::walk_value(&wrap::one_key_file(type_byte, &value)) else {
            continue;
        };
        if let Some(n) = v.elements {
            let nodes = if type_byte == 18 {
                1 + u64::from(mode >> 6)
            } else {
                1
            };
            let e = entry_count.expect("a value whose walk succeeds holds a listpack that walks");
            assert_eq!(
                n * per,
                e * nodes,
                "type {type_byte}: elements against entries"
            );
        }
        if let (Some(s), Some(e)) = (v.shape_entries, entry_count) {
            assert_eq!(s, e, "type {type_byte}: compact_shape against the walk");
        }
    }
});

/// Walks `blob` with both walkers and checks they agree; the entries if it
/// is a listpack.
fn check(blob: &[u8]) -> Result<Vec<Scalar<'_>>> {
    let checked: Result<Vec<Scalar<'_>>> = Listpack::new(blob).and_then(|lp| lp.collect());
    let mut lens = Vec::new();
    let fast = Listpack::for_each_len(blob, |l| lens.push(l));
    match (&checked, &fast) {
        (Ok(items), Ok(n)) => {
            assert_eq!(*n, items.len() as u64, "for_each_len's count");
            let want: Vec<u64> = items.iter().map(Scalar::len).collect();
            assert_eq!(lens, want, "for_each_len's lengths");
            assert_eq!(
                Listpack::count(blob).expect("count of a listpack that walks"),
                *n,
                "count against the walk"
            );
            let lp = Listpack::new(blob).expect("header read once");
            if let Some(h) = lp.header_count() {
                assert_eq!(h, *n, "header count of a listpack that walks");
            }
        }
        (Err(_), Err(_)) => {}
        (a, f) => panic!("the listpack walkers disagree: {a:?} against {f:?}"),
    }
    checked
}

/// `body` as a listpack's entries: the size field set to the length and
/// the terminator appended; the count is the entries' count guess from
/// the first byte of the body, or "unknown".
fn frame(body: &[u8], unknown: bool) -> Vec<u8> {
    let mut b = Vec::with_capacity(body.len() + 7);
    b.extend_from_slice(&((body.len() + 7) as u32).to_le_bytes());
    let count = if unknown {
        u16::MAX
    } else {
        u16::from(body.first().copied().unwrap_or(0) % 16)
    };
    b.extend_from_slice(&count.to_le_bytes());
    b.extend_from_slice(body);
    b.push(0xff);
    b
}

/// A listpack of `items`, encoded in the smallest form, as Redis does.
fn build(items: &[Item]) -> Vec<u8> {
    let mut body = Vec::new();
    for it in items {
        let start = body.len();
        match it {
            Item::Int(v) => {
                let v = *v;
                if (0..=127).contains(&v) {
                    body.push(v as u8);
                } else if (-4096..4096).contains(&v) {
                    let u = (v as u16) & 0x1fff;
                    body.extend_from_slice(&[0xc0 | (u >> 8) as u8, u as u8]);
                } else if let Ok(x) = i16::try_from(v) {
                    body.push(0xf1);
                    body.extend_from_slice(&x.to_le_bytes());
                } else if (-(1 << 23)..(1 << 23)).contains(&v) {
                    body.push(0xf2);
                    body.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
                } else if let Ok(x) = i32::try_from(v) {
                    body.push(0xf3);
                    body.extend_from_slice(&x.to_le_bytes());
                } else {
                    body.push(0xf4);
                    body.extend_from_slice(&v.to_le_bytes());
                }
            }
            Item::Bytes(s) => {
                if s.len() < 64 {
                    body.push(0x80 | s.len() as u8);
                } else if s.len() < 4096 {
                    body.extend_from_slice(&[0xe0 | (s.len() >> 8) as u8, s.len() as u8]);
                } else {
                    body.push(0xf0);
                    body.extend_from_slice(&(s.len() as u32).to_le_bytes());
                }
                body.extend_from_slice(s);
            }
        }
        // The back length: 7 bits a byte, the most significant first; every
        // byte after the first has its high bit set (it is read backwards).
        let len = body.len() - start;
        let mut groups = Vec::new();
        let mut l = len;
        loop {
            groups.push((l & 127) as u8);
            l >>= 7;
            if l == 0 {
                break;
            }
        }
        for (i, g) in groups.iter().rev().enumerate() {
            body.push(if i == 0 { *g } else { g | 128 });
        }
    }
    let count = u16::try_from(items.len()).unwrap_or(u16::MAX);
    let mut out = Vec::with_capacity(body.len() + 7);
    out.extend_from_slice(&((body.len() + 7) as u32).to_le_bytes());
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&body);
    out.push(0xff);
    out
}
