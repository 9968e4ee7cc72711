//! Opcode and value-type numbers, and what each type byte means in the
//! file's dialect (Redis and Valkey gave type 22 different meanings).

/// Which server family wrote the file, from its magic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Magic {
    /// `REDIS` + 4 digits (Redis, and Valkey before 9).
    Redis,
    /// `VALKEY` + 3 digits (Valkey 9 and later).
    Valkey,
}

/// Newest RDB version written with the `REDIS` magic that this parser knows.
pub const NEWEST_REDIS_VERSION: u32 = 14;
/// Newest RDB version written with the `VALKEY` magic that this parser knows.
pub const NEWEST_VALKEY_VERSION: u32 = 80;

/// Opcodes that appear where a value type byte could.
pub mod opcode {
    /// Redis Enterprise: per-key RAM LRU data, one RDB length, before the
    /// key's type byte (redis/librdb `src/lib/defines.h`
    /// `__RDB_OPCODE_RAM_LRU 107`, read and ignored by `__elementRamLru` in
    /// `src/lib/parser.c`, librdb v2.0.0). Only in `REDIS`-magic files.
    pub const RAM_LRU: u8 = 107;
    /// Redis Enterprise: cluster slot number, one RDB length, before the
    /// key's type byte (redis/librdb `src/lib/defines.h`
    /// `__RDB_OPCODE_SLOT_NUM 121`, `__elementSlotNum` in
    /// `src/lib/parser.c`, librdb v2.2.0). Only in `REDIS`-magic files.
    pub const SLOT_NUM: u8 = 121;
    /// Valkey: a slot migration in progress (slot import).
    pub const SLOT_IMPORT: u8 = 0xf3;
    /// Redis 8.6+: module metadata attached to the next key (same byte as
    /// Valkey's slot import; the magic tells them apart).
    pub const KEY_META: u8 = 0xf3;
    /// Redis 8 cluster: slot id and sizes.
    pub const SLOT_INFO: u8 = 0xf4;
    /// Redis 7 functions library.
    pub const FUNCTION2: u8 = 0xf5;
    /// Redis 7.0 release candidates' function format.
    pub const FUNCTION_PRE_GA: u8 = 0xf6;
    /// Module auxiliary data.
    pub const MODULE_AUX: u8 = 0xf7;
    /// LRU idle time of the next key, in seconds.
    pub const IDLE: u8 = 0xf8;
    /// LFU counter of the next key.
    pub const FREQ: u8 = 0xf9;
    /// Auxiliary field (name, value).
    pub const AUX: u8 = 0xfa;
    /// Hash table size hints for the current database.
    pub const RESIZEDB: u8 = 0xfb;
    /// Expire time of the next key, in milliseconds.
    pub const EXPIRETIME_MS: u8 = 0xfc;
    /// Expire time of the next key, in seconds (old files).
    pub const EXPIRETIME: u8 = 0xfd;
    /// Switch database.
    pub const SELECTDB: u8 = 0xfe;
    /// End of file (followed by the checksum from version 5 on).
    pub const EOF: u8 = 0xff;
}

/// The Redis data type of a value, as `TYPE key` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// string
    String,
    /// list
    List,
    /// set
    Set,
    /// zset
    Zset,
    /// hash
    Hash,
    /// stream
    Stream,
    /// a module's type
    Module,
    /// array (Redis 8.8's sparse array)
    Array,
}

impl Kind {
    /// The name `TYPE` answers (modules answer their type name; this says "module").
    pub fn name(self) -> &'static str {
        match self {
            Kind::String => "string",
            Kind::List => "list",
            Kind::Set => "set",
            Kind::Zset => "zset",
            Kind::Hash => "hash",
            Kind::Stream => "stream",
            Kind::Module => "module",
            Kind::Array => "array",
        }
    }

    /// Parses a name as [`Kind::name`] gives it.
    pub fn from_name(s: &str) -> Option<Kind> {
        Some(match s {
            "string" => Kind::String,
            "list" => Kind::List,
            "set" => Kind::Set,
            "zset" => Kind::Zset,
            "hash" => Kind::Hash,
            "stream" => Kind::Stream,
            "module" => Kind::Module,
            "array" => Kind::Array,
            _ => return None,
        })
    }
}

/// A value type byte, resolved for the file's dialect.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
#[repr(u8)]
pub enum ValueType {
    /// 0: string.
    String = 0,
    /// 1: linked list of strings (before 3.2).
    List = 1,
    /// 2: set as a hash table.
    Set = 2,
    /// 3: sorted set with scores as text.
    Zset = 3,
    /// 4: hash as a hash table.
    Hash = 4,
    /// 5: sorted set with binary double scores.
    Zset2 = 5,
    /// 6: module value in the pre-GA format (cannot be skipped).
    ModulePreGa = 6,
    /// 7: module value with a self-describing opcode stream.
    Module2 = 7,
    /// 9: hash as a zipmap (before 2.6).
    HashZipmap = 9,
    /// 10: list as one ziplist.
    ListZiplist = 10,
    /// 11: set as an intset.
    SetIntset = 11,
    /// 12: sorted set as a ziplist.
    ZsetZiplist = 12,
    /// 13: hash as a ziplist.
    HashZiplist = 13,
    /// 14: quicklist of ziplists (3.2 to 6.2).
    ListQuicklist = 14,
    /// 15: stream (5.0).
    StreamListpacks = 15,
    /// 16: hash as a listpack (7.0).
    HashListpack = 16,
    /// 17: sorted set as a listpack (7.0).
    ZsetListpack = 17,
    /// 18: quicklist of listpacks or plain nodes (7.0).
    ListQuicklist2 = 18,
    /// 19: stream with first id, max deleted id, entries added, entries read (7.0).
    StreamListpacks2 = 19,
    /// 20: set as a listpack (7.2).
    SetListpack = 20,
    /// 21: stream with consumer active time (7.2).
    StreamListpacks3 = 21,
    /// 22 in Redis files: hash with field expiry, 7.4 release candidates.
    HashMetadataPreGa = 22,
    /// 23 in Redis files: listpack hash with field expiry, 7.4 release candidates.
    HashListpackExPreGa = 23,
    /// 24: hash table hash with field expiry (Redis 7.4).
    HashMetadata = 24,
    /// 25: listpack hash with field expiry (Redis 7.4).
    HashListpackEx = 25,
    /// 22 in Valkey files: hash with field expiry (Valkey 9).
    ValkeyHash2 = 122,
    /// 26: stream with idempotent-producer state (Redis 8.6).
    StreamListpacks4 = 26,
    /// 27: stream whose consumer groups carry a NACK zone (Redis 8.8, RDB
    /// 14): `RDB_TYPE_STREAM_LISTPACKS_5 27` as redis/librdb reads it
    /// (`src/lib/parser.c` `elementStreamLP`, states `ST_LOAD_NACK_ZONE_*`,
    /// librdb v2.3.0, CHANGELOG 2026-06-03: "parse and emit the
    /// per-consumer-group NACK zone added in Redis 8.8").
    StreamListpacks5 = 27,
    /// 28: sparse array (Redis 8.8, RDB 14): `RDB_TYPE_ARRAY 28` as
    /// redis/librdb reads it (`src/lib/parser.c` `elementArray`, v2.3.0);
    /// element tags from redis/redis `src/sparsearray.h` (`AR_RDB_TAG_*`).
    /// Some development branch of Redis gave 28 to a
    /// `RDB_TYPE_STREAM_LISTPACKS_6`; the released 8.8 format (librdb 2.3.0,
    /// its `array_v14_*.rdb` test dumps) has the array at 28.
    Array = 28,
}

impl ValueType {
    /// Resolves a type byte; `None` when it is not a value type in this dialect.
    pub fn from_byte(b: u8, magic: Magic) -> Option<ValueType> {
        use ValueType::*;
        Some(match b {
            0 => String,
            1 => List,
            2 => Set,
            3 => Zset,
            4 => Hash,
            5 => Zset2,
            6 => ModulePreGa,
            7 => Module2,
            9 => HashZipmap,
            10 => ListZiplist,
            11 => SetIntset,
            12 => ZsetZiplist,
            13 => HashZiplist,
            14 => ListQuicklist,
            15 => StreamListpacks,
            16 => HashListpack,
            17 => ZsetListpack,
            18 => ListQuicklist2,
            19 => StreamListpacks2,
            20 => SetListpack,
            21 => StreamListpacks3,
            22 if magic == Magic::Valkey => ValkeyHash2,
            22 => HashMetadataPreGa,
            23 if magic == Magic::Redis => HashListpackExPreGa,
            24 if magic == Magic::Redis => HashMetadata,
            25 if magic == Magic::Redis => HashListpackEx,
            26 if magic == Magic::Redis => StreamListpacks4,
            27 if magic == Magic::Redis => StreamListpacks5,
            28 if magic == Magic::Redis => Array,
            _ => return None,
        })
    }

    /// The type byte as written in the file.
    pub fn byte(self) -> u8 {
        // Discriminants are the type bytes, except Valkey's type 22, which
        // shares its byte with Redis's pre-GA field-expiry hash.
        match self {
            ValueType::ValkeyHash2 => 22,
            other => other as u8,
        }
    }

    /// The data type.
    pub fn kind(self) -> Kind {
        use ValueType::*;
        match self {
            String => Kind::String,
            List | ListZiplist | ListQuicklist | ListQuicklist2 => Kind::List,
            Set | SetIntset | SetListpack => Kind::Set,
            Zset | Zset2 | ZsetZiplist | ZsetListpack => Kind::Zset,
            Hash | HashZipmap | HashZiplist | HashListpack | HashMetadataPreGa
            | HashListpackExPreGa | HashMetadata | HashListpackEx | ValkeyHash2 => Kind::Hash,
            StreamListpacks | StreamListpacks2 | StreamListpacks3 | StreamListpacks4
            | StreamListpacks5 => Kind::Stream,
            ModulePreGa | Module2 => Kind::Module,
            Array => Kind::Array,
        }
    }

    /// The encoding as stored in the file (not necessarily what the server
    /// uses after loading: old ziplists become listpacks, for instance).
    pub fn file_encoding(self) -> &'static str {
        use ValueType::*;
        match self {
            String => "string",
            List => "linkedlist",
            Set | Hash | HashMetadataPreGa | HashMetadata | ValkeyHash2 => "hashtable",
            Zset | Zset2 => "skiplist",
            ModulePreGa | Module2 => "module",
            HashZipmap => "zipmap",
            ListZiplist | ZsetZiplist | HashZiplist => "ziplist",
            SetIntset => "intset",
            ListQuicklist => "quicklist",
            ListQuicklist2 => "quicklist2",
            StreamListpacks | StreamListpacks2 | StreamListpacks3 | StreamListpacks4
            | StreamListpacks5 => "stream",
            Array => "array",
            HashListpack | ZsetListpack | SetListpack => "listpack",
            HashListpackExPreGa | HashListpackEx => "listpackex",
        }
    }

    /// Whether hash fields of this type may carry their own expire times.
    pub fn has_field_expiry(self) -> bool {
        matches!(
            self,
            ValueType::HashMetadataPreGa
                | ValueType::HashListpackExPreGa
                | ValueType::HashMetadata
                | ValueType::HashListpackEx
                | ValueType::ValkeyHash2
        )
    }

    /// Every type this parser knows, in type-byte order.
    pub const ALL: [ValueType; 29] = {
        use ValueType::*;
        [
            String,
            List,
            Set,
            Zset,
            Hash,
            Zset2,
            ModulePreGa,
            Module2,
            HashZipmap,
            ListZiplist,
            SetIntset,
            ZsetZiplist,
            HashZiplist,
            ListQuicklist,
            StreamListpacks,
            HashListpack,
            ZsetListpack,
            ListQuicklist2,
            StreamListpacks2,
            SetListpack,
            StreamListpacks3,
            HashMetadataPreGa,
            HashListpackExPreGa,
            HashMetadata,
            HashListpackEx,
            ValkeyHash2,
            StreamListpacks4,
            StreamListpacks5,
            Array,
        ]
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_bytes_round_trip_in_their_dialect() {
        for vt in ValueType::ALL {
            let magic = if vt == ValueType::ValkeyHash2 {
                Magic::Valkey
            } else {
                Magic::Redis
            };
            assert_eq!(ValueType::from_byte(vt.byte(), magic), Some(vt), "{vt:?}");
        }
        assert_eq!(ValueType::from_byte(8, Magic::Redis), None);
        assert_eq!(ValueType::from_byte(24, Magic::Valkey), None);
    }
}
