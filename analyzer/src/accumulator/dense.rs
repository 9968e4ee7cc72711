//! Array-indexed tallies of the common types and databases, which the
//! fold updates instead of looking up the accumulator's maps.

use rdb_parser::{Kind, UNKNOWN_DB};

use super::top::TopN;
use crate::model::{DbStat, TypeKey, TypeStat};
use crate::server::ObjEncoding;

/// The data types counted in arrays: every [`Kind`] but modules, in
/// declaration order (`kind as usize` indexes them).
pub(super) const DENSE_KINDS: [Kind; 6] = [
    Kind::String,
    Kind::List,
    Kind::Set,
    Kind::Zset,
    Kind::Hash,
    Kind::Stream,
];

/// Every [`ObjEncoding`], in declaration order (`encoding as usize`
/// indexes them).
pub(super) const ENCODINGS: [ObjEncoding; 14] = [
    ObjEncoding::Int,
    ObjEncoding::Embstr,
    ObjEncoding::Raw,
    ObjEncoding::Listpack,
    ObjEncoding::ListpackEx,
    ObjEncoding::Quicklist,
    ObjEncoding::Ziplist,
    ObjEncoding::Linkedlist,
    ObjEncoding::Intset,
    ObjEncoding::Hashtable,
    ObjEncoding::Skiplist,
    ObjEncoding::Stream,
    ObjEncoding::Module,
    ObjEncoding::SlicedArray,
];

/// Databases below this number are counted in an array, and so is the
/// placeholder [`UNKNOWN_DB`] (in the last slot): a parallel read labels the
/// keys of a segment read from a guessed start with it until it knows
/// their database, which is most keys of most segments.
pub(super) const DENSE_DBS: usize = 64;

/// The slot of database `db` in [`Dense::dbs`], if it has one.
#[inline(always)]
pub(super) fn dense_db(db: u64) -> Option<usize> {
    match usize::try_from(db) {
        Ok(i) if i < DENSE_DBS => Some(i),
        _ if db == UNKNOWN_DB => Some(DENSE_DBS),
        _ => None,
    }
}

/// The index in [`DENSE_KINDS`] of a type counted in arrays (`None`:
/// module types and sparse arrays, counted in the maps).
pub(super) fn dense_kind(tk: TypeKey) -> Option<usize> {
    let k = tk.kind as usize;
    (tk.module.is_none() && k < DENSE_KINDS.len()).then_some(k)
}

/// The per-key tallies of the common types and databases, indexed instead
/// of looked up in `Accumulator`'s maps, and folded into them by
/// `Accumulator::settle`. A slot stands for a map entry when it counted
/// a key (`keys > 0`, `Some`).
#[derive(Debug)]
pub(super) struct Dense {
    pub(super) types: [[TypeStat; ENCODINGS.len()]; DENSE_KINDS.len()],
    pub(super) dbs: [DbStat; DENSE_DBS + 1],
    pub(super) top_memory: [Option<TopN>; DENSE_KINDS.len()],
    pub(super) top_elements: [Option<TopN>; DENSE_KINDS.len()],
}

impl Default for Dense {
    fn default() -> Dense {
        Dense {
            types: [[TypeStat::default(); ENCODINGS.len()]; DENSE_KINDS.len()],
            dbs: [DbStat::default(); DENSE_DBS + 1],
            top_memory: Default::default(),
            top_elements: Default::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dense_tables_index_in_declaration_order() {
        for (i, k) in DENSE_KINDS.iter().enumerate() {
            assert_eq!(*k as usize, i);
        }
        assert_eq!(Kind::Module as usize, DENSE_KINDS.len());
        for (i, e) in ENCODINGS.iter().enumerate() {
            assert_eq!(*e as usize, i);
        }
        assert_eq!(ObjEncoding::SlicedArray as usize + 1, ENCODINGS.len());
    }
}
