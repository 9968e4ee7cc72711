//! The file header and the record iterator.

use crate::cursor::Cursor;
use crate::error::{Error, ErrorKind, Result};
use crate::mmap::PageRelease;
use crate::string::RdbString;
use crate::types::{opcode, Kind, Magic, ValueType, NEWEST_REDIS_VERSION, NEWEST_VALKEY_VERSION};
use crate::value::{module, skip_value, ModuleId, Value};

/// An RDB file held in memory (usually memory-mapped). Cheap to copy; every
/// record borrows from the same bytes.
#[derive(Clone, Copy)]
pub struct Rdb<'a> {
    data: &'a [u8],
    magic: Magic,
    version: u32,
    body_start: usize,
    release: Option<&'a dyn PageRelease>,
}

impl std::fmt::Debug for Rdb<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rdb")
            .field("len", &self.data.len())
            .field("magic", &self.magic)
            .field("version", &self.version)
            .field("page_release", &self.release.is_some())
            .finish()
    }
}

/// One thing the file says, in file order.
#[derive(Clone, Copy, Debug)]
pub enum Record<'a> {
    /// Auxiliary field, such as `redis-ver` or `ctime`.
    Aux {
        /// Field name.
        name: RdbString<'a>,
        /// Field value.
        value: RdbString<'a>,
    },
    /// Following keys belong to this database.
    SelectDb(u64),
    /// Size hints for the current database.
    ResizeDb {
        /// Keys in the database.
        db_size: u64,
        /// Keys with an expire time.
        expires_size: u64,
    },
    /// Module auxiliary data (skipped).
    ModuleAux {
        /// The module.
        module: ModuleId,
        /// When it was written (before or after keys).
        when: u64,
    },
    /// A functions library.
    Function {
        /// True for the 7.0 release-candidate format (name, engine, description, code).
        pre_ga: bool,
        /// Library name (pre-GA format only).
        name: Option<RdbString<'a>>,
        /// The library source code.
        code: RdbString<'a>,
    },
    /// Cluster slot sizes (Redis 8).
    SlotInfo {
        /// Slot number.
        slot: u64,
        /// Keys in the slot.
        size: u64,
        /// Keys with an expire time in the slot.
        expires_size: u64,
    },
    /// Valkey: a slot import in progress when the snapshot was taken.
    SlotImport {
        /// Import job name.
        job_name: RdbString<'a>,
        /// Slot ranges (start, end) being imported.
        ranges: u64,
    },
    /// A key and its value.
    Entry(Entry<'a>),
    /// End of file.
    Eof {
        /// Offset of the EOF opcode.
        offset: u64,
        /// The checksum stored after EOF (none before version 5).
        stored_checksum: Option<u64>,
        /// Bytes after the checksum (normally 0).
        trailing_bytes: u64,
    },
}

/// A key with its value and the per-key metadata that preceded it.
#[derive(Clone, Copy, Debug)]
pub struct Entry<'a> {
    /// Database number.
    pub db: u64,
    /// The key as stored (usually raw bytes; may be integer or LZF encoded).
    pub key: RdbString<'a>,
    /// Absolute expire time in milliseconds since the epoch.
    pub expire_at_ms: Option<i64>,
    /// LRU idle time in seconds, when the file carries it.
    pub idle_seconds: Option<u64>,
    /// LFU frequency counter, when the file carries it.
    pub lfu_freq: Option<u8>,
    /// Redis Enterprise per-key extras (opcodes 107 and 121), when present.
    pub enterprise: Enterprise,
    /// Offset where the record starts (its first opcode or its type byte).
    pub record_start: u64,
    /// Offset just after the value.
    pub record_end: u64,
    /// The value.
    pub value: Value<'a>,
}

/// What the Redis Enterprise opcodes said about a key: its `RAM_LRU` (107)
/// and `SLOT_NUM` (121) lengths. Their meaning is Enterprise's own;
/// redis/librdb reads and ignores both (`src/lib/parser.c`, v2.2.0).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Enterprise {
    /// The `RAM_LRU` value.
    pub ram_lru: Option<u64>,
    /// The `SLOT_NUM` value.
    pub slot_num: Option<u64>,
}

impl Enterprise {
    /// Whether either opcode preceded the key.
    pub fn any(&self) -> bool {
        self.ram_lru.is_some() || self.slot_num.is_some()
    }
}

impl<'a> Entry<'a> {
    /// The value's type byte, resolved.
    pub fn value_type(&self) -> ValueType {
        self.value.value_type()
    }

    /// The data type.
    pub fn kind(&self) -> Kind {
        self.value.kind()
    }

    /// Size of the whole record in the file.
    pub fn record_len(&self) -> u64 {
        self.record_end - self.record_start
    }
}

impl<'a> Rdb<'a> {
    /// Reads the header of `data`. Versions newer than the parser knows are
    /// accepted: records are read as far as they are understood, and the
    /// first unknown type or opcode is an error naming it.
    pub fn new(data: &'a [u8]) -> Result<Rdb<'a>> {
        let (magic, digits) = if data.starts_with(b"REDIS") {
            (Magic::Redis, 4)
        } else if data.starts_with(b"VALKEY") {
            (Magic::Valkey, 3)
        } else if crate::lz4frame::is_lz4_frame(data) {
            return Err(Error::new(ErrorKind::Lz4Frame, 0));
        } else {
            return Err(Error::new(ErrorKind::BadMagic, 0));
        };
        let start = if magic == Magic::Redis { 5 } else { 6 };
        let end = start + digits;
        let Some(ver) = data.get(start..end) else {
            return Err(Error::truncated(
                "the RDB version digits",
                start as u64,
                digits as u64,
                data.len().saturating_sub(start) as u64,
            ));
        };
        let mut version = 0u32;
        for (i, &d) in ver.iter().enumerate() {
            if !d.is_ascii_digit() {
                return Err(Error::malformed(
                    "an ASCII digit of the RDB version",
                    (start + i) as u64,
                    Some(d.into()),
                ));
            }
            version = version * 10 + u32::from(d - b'0');
        }
        if version == 0 {
            return Err(Error::malformed(
                "an RDB version of 1 or more",
                start as u64,
                Some(0),
            ));
        }
        Ok(Rdb {
            data,
            magic,
            version,
            body_start: end,
            release: None,
        })
    }

    /// Releases the pages of `data` once read (sequential scans, finished
    /// chunks, the walk of a huge value), so resident memory stays bounded
    /// whatever the file's size. `data` must be the memory `release` maps.
    pub fn with_page_release(mut self, release: &'a dyn PageRelease) -> Rdb<'a> {
        self.release = Some(release);
        self
    }

    pub(crate) fn page_release(&self) -> Option<&'a dyn PageRelease> {
        self.release
    }

    /// The magic (which server family wrote it).
    pub fn magic(&self) -> Magic {
        self.magic
    }

    /// The RDB format version.
    pub fn version(&self) -> u32 {
        self.version
    }

    /// Whether the version is newer than any this parser was written for.
    pub fn is_newer_than_known(&self) -> bool {
        match self.magic {
            Magic::Redis => self.version > NEWEST_REDIS_VERSION,
            Magic::Valkey => self.version > NEWEST_VALKEY_VERSION,
        }
    }

    /// Whether a CRC64 follows the EOF opcode.
    pub fn has_checksum(&self) -> bool {
        self.magic == Magic::Valkey || self.version >= 5
    }

    /// The whole file.
    pub fn data(&self) -> &'a [u8] {
        self.data
    }

    /// Offset of the first record.
    pub fn body_start(&self) -> u64 {
        self.body_start as u64
    }

    /// Iterates over every record in file order.
    pub fn records(&self) -> Records<'a> {
        Records::new(*self, self.body_start, self.data.len(), 0, true)
    }

    /// Iterates over the keys only.
    pub fn entries(&self) -> impl Iterator<Item = Result<Entry<'a>>> + 'a {
        self.records().filter_map(|r| match r {
            Ok(Record::Entry(e)) => Some(Ok(e)),
            Ok(_) => None,
            Err(e) => Some(Err(e)),
        })
    }
}

/// Iterator over records in a byte range of the file. After an error it
/// yields nothing more.
pub struct Records<'a> {
    rdb: Rdb<'a>,
    cur: Cursor<'a>,
    db: u64,
    /// False for a chunk: it ends at a record boundary, not at EOF.
    expect_eof: bool,
    done: bool,
}

impl<'a> Records<'a> {
    pub(crate) fn new(
        rdb: Rdb<'a>,
        start: usize,
        end: usize,
        db: u64,
        expect_eof: bool,
    ) -> Records<'a> {
        let end = end.min(rdb.data.len());
        let start = start.min(end);
        Records {
            rdb,
            cur: Cursor::new(&rdb.data[start..end], start as u64),
            db,
            expect_eof,
            done: false,
        }
    }

    /// For the boundary scan and speculative reads: steps over the next record if it is a plain
    /// key record (a type byte, the key and the value, after any expire,
    /// idle or frequency opcodes) and returns where it ends, by skipping
    /// alone. `None`, with nothing consumed, for any other record and for
    /// anything malformed: the caller then reads it with `next`, which
    /// names any error exactly.
    pub(crate) fn skip_key_record(&mut self) -> Option<u64> {
        if self.done {
            return None;
        }
        let mut c = self.cur;
        loop {
            match c.peek()? {
                opcode::EXPIRETIME_MS => c.skip(9, "an expire time in ms").ok()?,
                opcode::EXPIRETIME => c.skip(5, "an expire time in seconds").ok()?,
                opcode::FREQ => c.skip(2, "an LFU frequency").ok()?,
                opcode::IDLE => {
                    c.skip(1, "an opcode").ok()?;
                    c.len("an LRU idle time").ok()?;
                }
                opcode::RAM_LRU | opcode::SLOT_NUM if self.rdb.magic == Magic::Redis => {
                    c.skip(1, "an opcode").ok()?;
                    c.len("a Redis Enterprise opcode's value").ok()?;
                }
                b => {
                    let vt = ValueType::from_byte(b, self.rdb.magic)?;
                    c.skip(1, "a value type").ok()?;
                    RdbString::skip(&mut c, "a key").ok()?;
                    let mut behind = crate::mmap::ReleaseBehind::new(self.rdb.release, c.offset());
                    skip_value(&mut c, vt, &mut behind).ok()?;
                    self.cur = c;
                    return Some(c.offset());
                }
            }
        }
    }

    /// Database of the records being read.
    pub fn db(&self) -> u64 {
        self.db
    }

    /// Offset of the next record.
    pub fn offset(&self) -> u64 {
        self.cur.offset()
    }

    fn read(&mut self) -> Result<Option<Record<'a>>> {
        // `read`'s first arm takes bytes under 100 for value types.
        const _: () = assert!(
            opcode::RAM_LRU >= 100
                && opcode::SLOT_NUM >= 100
                && opcode::SLOT_IMPORT >= 100
                && opcode::KEY_META >= 100
        );
        if self.cur.is_empty() && !self.expect_eof {
            return Ok(None);
        }
        let record_start = self.cur.offset();
        let mut expire_at_ms = None;
        let mut idle_seconds = None;
        let mut lfu_freq = None;
        let mut enterprise = Enterprise::default();
        let mut key_meta = false;
        loop {
            let at = self.cur.offset();
            let b = self.cur.u8("an opcode or value type")?;
            match b {
                // A value type byte (every opcode is 107 or more): the key
                // and value follow. First, as most records are only this.
                0..=99 => {
                    let meta = KeyMeta {
                        expire_at_ms,
                        idle_seconds,
                        lfu_freq,
                        enterprise,
                    };
                    return self.entry(b, at, record_start, meta);
                }
                opcode::EXPIRETIME_MS => {
                    expire_at_ms = Some(self.cur.i64_le("an expire time in ms")?)
                }
                opcode::EXPIRETIME => {
                    expire_at_ms =
                        Some(i64::from(self.cur.u32_le("an expire time in seconds")? as i32) * 1000)
                }
                opcode::IDLE => idle_seconds = Some(self.cur.len("an LRU idle time")?),
                opcode::FREQ => lfu_freq = Some(self.cur.u8("an LFU frequency")?),
                // Redis Enterprise: one length each, then the key (librdb
                // `__elementRamLru` / `__elementSlotNum`, src/lib/parser.c).
                opcode::RAM_LRU if self.rdb.magic == Magic::Redis => {
                    enterprise.ram_lru = Some(self.cur.len("a Redis Enterprise RAM_LRU value")?)
                }
                opcode::SLOT_NUM if self.rdb.magic == Magic::Redis => {
                    enterprise.slot_num = Some(self.cur.len("a Redis Enterprise SLOT_NUM value")?)
                }
                opcode::KEY_META if self.rdb.magic == Magic::Redis => {
                    // Module metadata classes for the next key: a 4-byte class
                    // spec, then a module operand stream each.
                    let classes = self.cur.count("a key metadata class count", 5)?;
                    for _ in 0..classes {
                        self.cur.skip(4, "a key metadata class spec")?;
                        module::skip_operands(&mut self.cur)?;
                    }
                    key_meta = true;
                }
                _ if expire_at_ms.is_some()
                    || idle_seconds.is_some()
                    || lfu_freq.is_some()
                    || enterprise.any()
                    || key_meta =>
                {
                    // Per-key metadata must be followed by a key.
                    let meta = KeyMeta {
                        expire_at_ms,
                        idle_seconds,
                        lfu_freq,
                        enterprise,
                    };
                    return self.entry(b, at, record_start, meta);
                }
                opcode::AUX => {
                    let name = RdbString::read(&mut self.cur, "an aux field name")?;
                    let value = RdbString::read(&mut self.cur, "an aux field value")?;
                    return Ok(Some(Record::Aux { name, value }));
                }
                opcode::SELECTDB => {
                    self.db = self.cur.len("a database number")?;
                    return Ok(Some(Record::SelectDb(self.db)));
                }
                opcode::RESIZEDB => {
                    let db_size = self.cur.len("a database size hint")?;
                    let expires_size = self.cur.len("an expires size hint")?;
                    return Ok(Some(Record::ResizeDb {
                        db_size,
                        expires_size,
                    }));
                }
                opcode::MODULE_AUX => {
                    let id = ModuleId(self.cur.len("a module id")?);
                    let when_at = self.cur.offset();
                    let when_op = self.cur.len("a module aux 'when' opcode")?;
                    if when_op != 2 {
                        return Err(Error::malformed(
                            "module aux 'when' as an unsigned integer opcode (2)",
                            when_at,
                            Some(when_op),
                        ));
                    }
                    let when = self.cur.len("a module aux 'when' value")?;
                    module::skip_operands(&mut self.cur)?;
                    return Ok(Some(Record::ModuleAux { module: id, when }));
                }
                opcode::FUNCTION2 => {
                    let code = RdbString::read(&mut self.cur, "a function library")?;
                    return Ok(Some(Record::Function {
                        pre_ga: false,
                        name: None,
                        code,
                    }));
                }
                opcode::FUNCTION_PRE_GA => {
                    let name = RdbString::read(&mut self.cur, "a function name")?;
                    RdbString::skip(&mut self.cur, "a function engine")?;
                    let has_desc = self.cur.len("a function description flag")?;
                    if has_desc != 0 {
                        RdbString::skip(&mut self.cur, "a function description")?;
                    }
                    let code = RdbString::read(&mut self.cur, "a function body")?;
                    return Ok(Some(Record::Function {
                        pre_ga: true,
                        name: Some(name),
                        code,
                    }));
                }
                opcode::SLOT_INFO if self.rdb.magic == Magic::Redis => {
                    let slot = self.cur.len("a slot number")?;
                    let size = self.cur.len("a slot size")?;
                    let expires_size = self.cur.len("a slot expires size")?;
                    return Ok(Some(Record::SlotInfo {
                        slot,
                        size,
                        expires_size,
                    }));
                }
                opcode::SLOT_IMPORT if self.rdb.magic == Magic::Valkey => {
                    let job_name = RdbString::read(&mut self.cur, "a slot import job name")?;
                    let ranges = self.cur.count("a slot range count", 2)?;
                    for _ in 0..ranges {
                        self.cur.len("a slot range start")?;
                        self.cur.len("a slot range end")?;
                    }
                    return Ok(Some(Record::SlotImport { job_name, ranges }));
                }
                opcode::EOF => {
                    let stored_checksum = if self.rdb.has_checksum() {
                        Some(self.cur.u64_le("the CRC64 checksum")?)
                    } else {
                        None
                    };
                    self.done = true;
                    let trailing_bytes = self.cur.remaining() as u64;
                    return Ok(Some(Record::Eof {
                        offset: at,
                        stored_checksum,
                        trailing_bytes,
                    }));
                }
                _ => return self.entry(b, at, record_start, KeyMeta::default()),
            }
        }
    }

    fn entry(
        &mut self,
        type_byte: u8,
        at: u64,
        record_start: u64,
        meta: KeyMeta,
    ) -> Result<Option<Record<'a>>> {
        let Some(vt) = ValueType::from_byte(type_byte, self.rdb.magic) else {
            let kind = if type_byte >= 0xf0 {
                ErrorKind::UnknownOpcode(type_byte)
            } else {
                ErrorKind::UnknownValueType(type_byte)
            };
            return Err(Error::new(kind, at));
        };
        let key = RdbString::read(&mut self.cur, "a key")?;
        let value_start = self.cur.pos();
        let value_offset = self.cur.offset();
        let mut behind = crate::mmap::ReleaseBehind::new(self.rdb.release, value_offset);
        if let Err(e) = skip_value(&mut self.cur, vt, &mut behind) {
            return Err(with_key(e, key));
        }
        let data = self.cur.since(value_start);
        // Built in the caller's slot: no copy of the record on the way out.
        Ok(Some(Record::Entry(Entry {
            db: self.db,
            key,
            expire_at_ms: meta.expire_at_ms,
            idle_seconds: meta.idle_seconds,
            lfu_freq: meta.lfu_freq,
            enterprise: meta.enterprise,
            record_start,
            record_end: self.cur.offset(),
            value: Value::new(vt, data, value_offset, self.rdb.release),
        })))
    }

    /// [`Iterator::next`] without rewrapping the record (a loop that looks
    /// at every record in place saves a copy of it per record); errors do
    /// not carry the file's version yet (see [`Records::version`]).
    #[inline]
    pub(crate) fn next_record(&mut self) -> Result<Option<Record<'a>>> {
        if self.done {
            return Ok(None);
        }
        let r = self.read();
        // (`read` itself ends the records at EOF.)
        if !matches!(r, Ok(Some(_))) {
            self.done = true;
        }
        r
    }

    /// The file's RDB version, for errors.
    pub(crate) fn version(&self) -> u32 {
        self.rdb.version
    }
}

/// The per-key metadata opcodes read before a key's type byte.
#[derive(Default)]
struct KeyMeta {
    expire_at_ms: Option<i64>,
    idle_seconds: Option<u64>,
    lfu_freq: Option<u8>,
    enterprise: Enterprise,
}

/// Attaches a key to an error (decoding it if it is compressed).
pub(crate) fn with_key(e: Error, key: RdbString<'_>) -> Error {
    let mut buf = Vec::new();
    match key.bytes(&mut buf) {
        Ok(k) => e.with_key(k),
        Err(_) => e,
    }
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<Record<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        let version = self.version();
        self.next_record()
            .map_err(|e| e.with_version(version))
            .transpose()
    }
}
