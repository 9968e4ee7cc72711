//! Fuzz target: the intset and zipmap walkers on arbitrary bytes, and on
//! containers built here; each also as the value of its type (11: a set as
//! an intset; 9: a hash as a zipmap).
//!
//! First byte `% 4`: 0, an intset as is; 1, an intset of integers drawn
//! from the rest (sorted, in the smallest width), which must walk back to
//! them; 2, a zipmap as is; 3, a zipmap of pairs drawn from the rest (with
//! free space after some values), which must walk back to them.
//!
//! Always: a walk that succeeds gives as many members as the header says;
//! wrapped as a value, a walk that succeeds agrees with `element_count`
//! and with the container's own walk, and `compact_shape` (intsets)
//! counts the members walked.

#![no_main]

use libfuzzer_sys::arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use rdb_parser::{Intset, Result, Zipmap};

#[path = "../common/wrap.rs"]
mod wrap;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mut u = Unstructured::new(rest);
    match mode % 4 {
        0 => intset(rest, None),
        1 => {
            let mut ints: Vec<i64> = Vec::new();
            while let Ok(v) = draw_int(&mut u) {
                ints.push(v);
                if ints.len() == 2000 {
                    break;
                }
            }
            ints.sort_unstable();
            ints.dedup();
            intset(&build_intset(&ints), Some(&ints[..]));
        }
        2 => zipmap(rest, None),
        _ => {
            let mut pairs = Vec::new();
            while let Ok(p) = draw_pair(&mut u) {
                pairs.push(p);
                if pairs.len() == 300 {
                    break;
                }
            }
            zipmap(&build_zipmap(&pairs), Some(&pairs[..]));
        }
    }
});

fn intset(blob: &[u8], want: Option<&[i64]>) {
    let walked: Result<Vec<i64>> = Intset::new(blob).and_then(|s| {
        let n = s.len();
        let v: Vec<i64> = s.collect::<Result<_>>()?;
        assert_eq!(v.len() as u64, n, "intset members against its header");
        Ok(v)
    });
    if let Some(want) = want {
        assert_eq!(walked.as_deref().ok(), Some(want), "an intset built here");
    }
    let members = walked.as_ref().ok().map(|v| v.len() as u64);
    if let Some(v) = wrap::walk_value(&wrap::one_key_file(11, &wrap::blob_value(&[], blob))) {
        if let Some(n) = v.elements {
            assert_eq!(
                Some(n),
                members,
                "type 11: elements against the intset walk"
            );
        }
        if let (Some(s), Some(m)) = (v.shape_entries, members) {
            assert_eq!(s, m, "type 11: compact_shape against the walk");
        }
    }
}

type Pair = (Vec<u8>, Vec<u8>, u8);

fn zipmap(blob: &[u8], want: Option<&[Pair]>) {
    let walked: Result<Vec<(&[u8], &[u8])>> = Zipmap::new(blob).and_then(|z| z.collect());
    if let Some(want) = want {
        let got = walked.as_ref().expect("a zipmap built here walks");
        let want: Vec<(&[u8], &[u8])> = want.iter().map(|(k, v, _)| (&k[..], &v[..])).collect();
        assert_eq!(got, &want, "pairs built here come back");
    }
    if let Ok(pairs) = &walked {
        if blob[0] < 254 {
            assert_eq!(
                u64::from(blob[0]),
                pairs.len() as u64,
                "zipmap header count"
            );
        }
    }
    let pairs = walked.as_ref().ok().map(|v| v.len() as u64);
    if let Some(v) = wrap::walk_value(&wrap::one_key_file(9, &wrap::blob_value(&[], blob))) {
        if let Some(n) = v.elements {
            assert_eq!(Some(n), pairs, "type 9: elements against the zipmap walk");
        }
    }
}

fn draw_int(u: &mut Unstructured<'_>) -> libfuzzer_sys::arbitrary::Result<i64> {
    let tag: u8 = u.arbitrary()?;
    Ok(match tag % 3 {
        0 => i64::from(u.arbitrary::<i16>()?),
        1 => i64::from(u.arbitrary::<i32>()?),
        _ => u.arbitrary()?,
    })
}

fn draw_bytes(u: &mut Unstructured<'_>) -> libfuzzer_sys::arbitrary::Result<Vec<u8>> {
    let tag: u8 = u.arbitrary()?;
    if tag % 8 == 0 {
        // Past the one-byte length (254 and up).
        Ok(vec![tag; 250 + usize::from(tag)])
    } else {
        let n = usize::from(tag % 40).min(u.len());
        Ok(u.bytes(n)?.to_vec())
    }
}

fn draw_pair(u: &mut Unstructured<'_>) -> libfuzzer_sys::arbitrary::Result<Pair> {
    let s = draw_bytes;
    let k = s(u)?;
    let v = s(u)?;
    let free = u.arbitrary::<u8>()? % 5;
    Ok((k, v, free))
}

/// An intset of sorted, distinct `ints` in the smallest width that holds them.
fn build_intset(ints: &[i64]) -> Vec<u8> {
    let width: u32 = if ints.iter().all(|&v| i16::try_from(v).is_ok()) {
        2
    } else if ints.iter().all(|&v| i32::try_from(v).is_ok()) {
        4
    } else {
        8
    };
    let mut b = width.to_le_bytes().to_vec();
    b.extend_from_slice(&(ints.len() as u32).to_le_bytes());
    for &v in ints {
        b.extend_from_slice(&v.to_le_bytes()[..width as usize]);
    }
    b
}

/// A zipmap of `pairs` (each value followed by its free space, filled with
/// 0xAA), with a count byte (254 = unknown past 253 pairs).
fn build_zipmap(pairs: &[Pair]) -> Vec<u8> {
    fn len(b: &mut Vec<u8>, n: usize) {
        if n < 254 {
            b.push(n as u8);
        } else {
            b.push(254);
            b.extend_from_slice(&(n as u32).to_le_bytes());
        }
    }
    let mut b = vec![pairs.len().min(254) as u8];
    for (k, v, free) in pairs {
        len(&mut b, k.len());
        b.extend_from_slice(k);
        len(&mut b, v.len());
        b.push(*free);
        b.extend_from_slice(v);
        b.extend(std::iter::repeat_n(0xaa, usize::from(*free)));
    }
    b.push(0xff);
    b
}
