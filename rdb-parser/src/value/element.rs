//! What decoding hands to callers: elements, container shapes, quicklist
//! nodes, and the scratch buffers they may borrow from.

use crate::string::Scalar;

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
/// What `Value::compact_shape` reads from a container blob.
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
