//! The lazy value handle: a value's type and the exact bytes it occupies,
//! with the accessors that read its header (string, module id, stream).

use super::array::{self, ArrayHeader, ArrayItem};
use super::element::Scratch;
use super::module::{ModuleId, ModuleOperand};
use super::stream::{self, StreamMeta, StreamVisitor};
use crate::cursor::Cursor;
use crate::error::{Error, Result};
use crate::mmap::{PageRelease, ReleaseBehind};
use crate::string::RdbString;
use crate::types::{Kind, ValueType};

/// A value: its type and the exact bytes it occupies in the file. Nothing is
/// decoded until an accessor asks.
#[derive(Clone, Copy)]
pub struct Value<'a> {
    pub(super) value_type: ValueType,
    pub(super) data: &'a [u8],
    pub(super) offset: u64,
    pub(super) release: Option<&'a dyn PageRelease>,
}

impl std::fmt::Debug for Value<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Value")
            .field("value_type", &self.value_type)
            .field("offset", &self.offset)
            .field("len", &self.data.len())
            .finish()
    }
}

impl<'a> Value<'a> {
    pub(crate) fn new(
        value_type: ValueType,
        data: &'a [u8],
        offset: u64,
        release: Option<&'a dyn PageRelease>,
    ) -> Value<'a> {
        Value {
            value_type,
            data,
            offset,
            release,
        }
    }

    /// The type byte, resolved.
    pub fn value_type(&self) -> ValueType {
        self.value_type
    }

    /// The data type.
    pub fn kind(&self) -> Kind {
        self.value_type.kind()
    }

    /// The value's bytes exactly as in the file (what a RESTORE payload wraps).
    pub fn raw(&self) -> &'a [u8] {
        self.data
    }

    /// Absolute offset of the value's first byte.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Size of the value in the file.
    pub fn serialized_len(&self) -> u64 {
        self.data.len() as u64
    }

    pub(super) fn cursor(&self) -> Cursor<'a> {
        Cursor::new(self.data, self.offset)
    }

    /// For strings: the string as stored.
    #[inline]
    pub fn as_string(&self) -> Result<RdbString<'a>> {
        if self.value_type != ValueType::String {
            return Err(Error::malformed(
                "a string value",
                self.offset,
                Some(self.value_type.byte().into()),
            ));
        }
        RdbString::read(&mut self.cursor(), "a string value")
    }

    /// For module values: which module wrote it.
    pub fn module_id(&self) -> Result<ModuleId> {
        if self.kind() != Kind::Module {
            return Err(Error::malformed(
                "a module value",
                self.offset,
                Some(self.value_type.byte().into()),
            ));
        }
        Ok(ModuleId(self.cursor().len("a module id")?))
    }

    /// For module values: how many string operands the module wrote and
    /// their summed length (for a module whose memory follows from its
    /// buffers, e.g. RedisBloom's filters).
    pub fn module_strings(&self) -> Result<(u64, u64)> {
        super::module::string_operands(&mut self.module_operand_cursor()?)
    }

    /// For module values: every operand the module wrote, in order (for
    /// a module whose memory follows from its saved fields).
    pub fn module_operands(&self) -> Result<Vec<ModuleOperand>> {
        super::module::operands(&mut self.module_operand_cursor()?)
    }

    /// For module values: the bytes of the first string operand, if any
    /// (e.g. RedisJSON's document, saved as JSON text).
    pub fn module_first_string(&self) -> Result<Option<Vec<u8>>> {
        super::module::first_string(&mut self.module_operand_cursor()?)
    }

    /// A module value's operands, after its module id; only type 7 types
    /// its operands.
    fn module_operand_cursor(&self) -> Result<Cursor<'a>> {
        let mut cur = self.cursor();
        if self.value_type != ValueType::Module2 {
            return Err(Error::malformed(
                "a module value with typed operands (type 7)",
                self.offset,
                Some(self.value_type.byte().into()),
            ));
        }
        cur.len("a module id")?;
        Ok(cur)
    }

    /// Walks a stream value: entries, then consumer groups with their pending
    /// entries and consumers, reported to `visitor` as they are read.
    pub fn walk_stream(
        &self,
        scratch: &mut Scratch,
        visitor: &mut impl StreamVisitor,
    ) -> Result<StreamMeta> {
        if self.kind() != Kind::Stream {
            return Err(Error::malformed(
                "a stream value",
                self.offset,
                Some(self.value_type.byte().into()),
            ));
        }
        let behind = ReleaseBehind::new(self.release, self.offset);
        stream::walk(
            &mut self.cursor(),
            self.value_type,
            scratch,
            visitor,
            behind,
        )
    }

    /// Walks a sparse array (type 28): `f(index, item)` per non-empty slot
    /// in stored order; returns the header (count, insert index).
    pub fn walk_array(
        &self,
        scratch: &mut Scratch,
        f: impl FnMut(u64, ArrayItem<'_>),
    ) -> Result<ArrayHeader> {
        if self.kind() != Kind::Array {
            return Err(Error::malformed(
                "an array value",
                self.offset,
                Some(self.value_type.byte().into()),
            ));
        }
        array::walk(&mut self.cursor(), scratch, f)
    }

    /// For streams: the metadata (length, ids, group count) without
    /// decoding entries.
    pub fn stream_meta(&self) -> Result<StreamMeta> {
        if self.kind() != Kind::Stream {
            return Err(Error::malformed(
                "a stream value",
                self.offset,
                Some(self.value_type.byte().into()),
            ));
        }
        stream::read_meta(&mut self.cursor(), self.value_type)
    }
}
