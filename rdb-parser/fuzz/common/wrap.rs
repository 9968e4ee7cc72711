//! Shared by the container targets: a container blob wrapped as the value of
//! a one-key RDB file, and the checks every value accessor must pass on it.
#![allow(dead_code)] // each target uses what it needs

use rdb_parser::writer::{push_length, push_string};
use rdb_parser::{Element, Rdb, Record, Scratch};

/// A one-key RDB file (version 11, db 0, key `k`) whose value is `value`
/// under type byte `type_byte` (`value` already holds any prefix the type
/// needs, e.g. a quicklist's node count).
pub fn one_key_file(type_byte: u8, value: &[u8]) -> Vec<u8> {
    let mut f = b"REDIS0011".to_vec();
    f.extend_from_slice(&[0xfe, 0x00, type_byte, 0x01, b'k']);
    f.extend_from_slice(value);
    f.extend_from_slice(&[0xff, 0, 0, 0, 0, 0, 0, 0, 0]);
    f
}

/// The value bytes of a type holding one blob string (`prefix` first, e.g.
/// the minimum field expire time of type 25).
pub fn blob_value(prefix: &[u8], blob: &[u8]) -> Vec<u8> {
    let mut v = prefix.to_vec();
    push_string(&mut v, blob);
    v
}

/// The value bytes of a quicklist (type 14: ziplist nodes; type 18: packed
/// listpack nodes, container 2) holding `nodes` copies of `blob`.
pub fn quicklist_value(type_byte: u8, blob: &[u8], nodes: u64) -> Vec<u8> {
    let mut v = Vec::new();
    push_length(&mut v, nodes);
    for _ in 0..nodes {
        if type_byte == 18 {
            v.push(2);
        }
        push_string(&mut v, blob);
    }
    v
}

/// What the file's one value gave: elements walked (or the walk failed),
/// and the entries `compact_shape` measured when it measures this type.
pub struct ValueWalk {
    /// Elements `for_each_element` gave, if it succeeded.
    pub elements: Option<u64>,
    /// `compact_shape`'s entries, when it succeeded with a shape.
    pub shape_entries: Option<u64>,
}

/// Reads the one value of `file` through every accessor that applies,
/// asserting what must always hold: no panic; a walk that succeeds agrees
/// with `element_count`; a file that reads has exactly one key.
pub fn walk_value(file: &[u8]) -> Option<ValueWalk> {
    let rdb = Rdb::new(file).expect("our own header");
    let mut scratch = Scratch::new();
    let mut out = None;
    for r in rdb.records() {
        let Ok(r) = r else { return out };
        let Record::Entry(e) = r else { continue };
        assert!(out.is_none(), "one key written, two read");
        let v = &e.value;
        let counted = v.element_count(&mut scratch);
        let shape = v.compact_shape(&mut scratch);
        let mut n = 0u64;
        let walked = v.for_each_element(&mut scratch, |_: Element<'_>| n += 1);
        if walked.is_ok() {
            assert_eq!(
                counted.as_ref().ok(),
                Some(&n),
                "element_count against the elements walked ({:?})",
                e.value_type()
            );
        }
        out = Some(ValueWalk {
            elements: walked.ok().map(|_| n),
            shape_entries: shape.ok().flatten().map(|s| s.entries),
        });
    }
    out
}
