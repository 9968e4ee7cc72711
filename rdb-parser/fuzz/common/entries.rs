//! Shared by the container targets: container entries drawn from fuzz
//! input, spread over every integer width and string length class.
#![allow(dead_code)] // each target uses what it needs

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use rdb_parser::Scalar;

/// One container entry.
#[derive(Clone, Debug, PartialEq)]
pub enum Item {
    /// An integer.
    Int(i64),
    /// A string.
    Bytes(Vec<u8>),
}

impl Item {
    /// As the walkers hand it out.
    pub fn scalar(&self) -> Scalar<'_> {
        match self {
            Item::Int(i) => Scalar::Int(*i),
            Item::Bytes(b) => Scalar::Bytes(b),
        }
    }
}

/// Up to 1,000 entries from `u` (as many as it has bytes for), of at most
/// 256 KiB of strings in all.
pub fn draw(u: &mut Unstructured<'_>) -> Vec<Item> {
    let mut out = Vec::new();
    let mut bytes = 0;
    while !u.is_empty() && out.len() < 1000 && bytes < 256 << 10 {
        match one(u) {
            Ok(it) => {
                if let Item::Bytes(b) = &it {
                    bytes += b.len();
                }
                out.push(it)
            }
            Err(_) => break,
        }
    }
    out
}

fn one(u: &mut Unstructured<'_>) -> Result<Item> {
    let tag: u8 = u.arbitrary()?;
    Ok(match tag % 10 {
        0 => Item::Int(u.int_in_range(-1..=13)?),
        1 => Item::Int(u.int_in_range(-4096..=4095)?),
        2 => Item::Int(i64::from(u.arbitrary::<i8>()?)),
        3 => Item::Int(i64::from(u.arbitrary::<i16>()?)),
        4 => Item::Int(u.int_in_range(-(1 << 23)..=(1 << 23) - 1)?),
        5 => Item::Int(i64::from(u.arbitrary::<i32>()?)),
        6 => Item::Int(u.arbitrary()?),
        7 => {
            let n = u.int_in_range(0..=70)?;
            Item::Bytes(u.bytes(n.min(u.len()))?.to_vec())
        }
        // Long strings: a few bytes from the input, repeated to a length in
        // one of the longer length classes.
        8 => {
            let n: usize = u.int_in_range(60..=20_000)?;
            let b: u8 = u.arbitrary()?;
            Item::Bytes(vec![b; n])
        }
        _ => {
            let n = u.int_in_range(0..=16)?;
            let digits = u.bytes(n.min(u.len()))?;
            // Strings that look like numbers, or nearly.
            Item::Bytes(
                digits
                    .iter()
                    .map(|d| b"0123456789-+ ."[usize::from(d % 14)])
                    .collect(),
            )
        }
    })
}
