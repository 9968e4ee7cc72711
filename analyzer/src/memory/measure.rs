//! [`Measure`]: what the model finds for one key.

use crate::server::ObjEncoding;

/// What the model found for one key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Measure {
    /// Encoding after load, as `OBJECT ENCODING` says it.
    pub encoding: ObjEncoding,
    /// Estimated `MEMORY USAGE`.
    pub memory_bytes: u64,
    /// String length for strings, else the element count.
    pub elements: u64,
    /// Longest element (member, field or value) in bytes.
    pub max_element_bytes: u64,
}
