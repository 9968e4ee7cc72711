//! Values: the fast skip that finds where a record ends, and lazy decoding
//! of a value's elements from the bytes the skip delimited.
//!
//! Layers, lowest first: the shapes decoding hands out ([`element`]) and
//! the container blobs ([`blob`]); the container formats (intset, ziplist,
//! listpack, zipmap) and the value types with their own layout (stream,
//! module); the fast skip ([`skip`]); the value handle ([`handle`]); then
//! counting ([`count`]) and element decoding ([`decode`]) on it.

pub(crate) mod array;
pub(crate) mod blob;
mod count;
mod decode;
pub(crate) mod element;
mod handle;
pub(crate) mod intset;
pub(crate) mod listpack;
pub(crate) mod module;
mod skip;
pub(crate) mod stream;
pub(crate) mod ziplist;
pub(crate) mod zipmap;

pub use array::{format_float, ArrayHeader, ArrayItem};
pub use element::{CompactShape, Element, QuicklistNode, Scratch};
pub use handle::Value;
pub use module::{ModuleId, ModuleOperand};
pub(crate) use skip::skip_value;
pub use stream::{StreamId, StreamMeta, StreamVisitor};
