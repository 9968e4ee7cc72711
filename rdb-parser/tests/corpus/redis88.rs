//! redis/librdb's Redis 8.8 (RDB 14) test dumps, once the corpus has them
//! (`redis-librdb/array_v14_*.rdb`, `stream_v14_xnack.rdb`, from librdb's
//! `test/dumps/` at v2.3.0): each reads to the end with the values librdb's
//! own expected output (`test/dumps/array_v14_*.json`) gives.

use rdb_parser::{Kind, Rdb, Record, Scratch, StreamId, StreamVisitor};

use super::walk::walk_all;

/// The file when the corpus has it; a SKIP line naming it otherwise (these
/// were published after the corpus was taken: asked for, not fetched).
fn v14_dump(name: &str) -> Option<Vec<u8>> {
    let dir = testkit::corpus_dir()?;
    let p = dir.join("redis-librdb").join(name);
    match std::fs::read(&p) {
        Ok(d) => Some(d),
        Err(_) => {
            eprintln!("SKIP: {name} is not in the corpus yet (redis/librdb v2.3.0 test/dumps)");
            None
        }
    }
}

/// `(insert_idx, [(index, value)])` of the one array in `data`.
fn the_array(data: &[u8]) -> (Option<u64>, Vec<(u64, String)>) {
    let rdb = Rdb::new(data).unwrap();
    let mut scratch = Scratch::new();
    let mut found = None;
    for r in rdb.records() {
        if let Record::Entry(e) = r.unwrap() {
            assert_eq!(e.kind(), Kind::Array);
            let mut els = Vec::new();
            let h = e
                .value
                .walk_array(&mut scratch, |i, item| {
                    let mut b = Vec::new();
                    item.push_to(&mut b);
                    els.push((i, String::from_utf8(b).unwrap()));
                })
                .unwrap();
            assert_eq!(h.count, els.len() as u64);
            found = Some((h.insert_idx, els));
        }
    }
    found.expect("an array key")
}

#[test]
fn librdb_v14_array_dumps_read_as_librdb_expects() {
    for name in [
        "array_v14_basic.rdb",
        "array_v14_mixed_types.rdb",
        "array_v14_insert_idx_boundary.rdb",
        "array_v14_insert_idx_none.rdb",
        "array_v14_with_insert_idx.rdb",
    ] {
        let Some(data) = v14_dump(name) else { continue };
        let s = walk_all(&data).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(s.keys, 1, "{name}");
        let (insert, els) = the_array(&data);
        let own = |v: &[(u64, &str)]| -> Vec<(u64, String)> {
            v.iter().map(|(i, s)| (*i, s.to_string())).collect()
        };
        match name {
            "array_v14_basic.rdb" => {
                let want: Vec<(u64, String)> = (0..100).map(|i| (i, format!("a{i}"))).collect();
                assert_eq!((insert, els), (None, want), "{name}");
            }
            "array_v14_mixed_types.rdb" => assert_eq!(
                (insert, els),
                (
                    None,
                    own(&[
                        (0, "this_is_a_long_sds_string_value_long_enough"),
                        (1, "42"),
                        (2, "1.5"),
                        (3, "abc")
                    ])
                ),
                "{name}"
            ),
            "array_v14_insert_idx_boundary.rdb" => assert_eq!(
                (insert, els),
                (Some(u64::MAX - 1), own(&[(0, "a"), (1, "b")])),
                "{name}"
            ),
            _ => assert!(!els.is_empty(), "{name}"),
        }
    }
}

#[derive(Default)]
struct Ids {
    pending: Vec<StreamId>,
    owned: Vec<StreamId>,
    nacked: Vec<StreamId>,
}

impl StreamVisitor for Ids {
    fn group_pending(&mut self, id: StreamId, _t: i64, _n: u64) {
        self.pending.push(id);
    }
    fn consumer_pending(&mut self, id: StreamId) {
        self.owned.push(id);
    }
    fn nacked(&mut self, id: StreamId) {
        self.nacked.push(id);
    }
}

/// librdb's `stream_v14_xnack.rdb`: 4 entries; group `mygroup` has two
/// owned pending entries (the first and last) and two NACKed ones between.
#[test]
fn librdb_v14_xnack_stream_has_two_owned_and_two_nacked() {
    let name = "stream_v14_xnack.rdb";
    let Some(data) = v14_dump(name) else { return };
    walk_all(&data).unwrap_or_else(|e| panic!("{name}: {e}"));
    let rdb = Rdb::new(&data).unwrap();
    let mut ids = Ids::default();
    for r in rdb.records() {
        if let Record::Entry(e) = r.unwrap() {
            if e.kind() == Kind::Stream {
                let meta = e.value.walk_stream(&mut Scratch::new(), &mut ids).unwrap();
                assert_eq!(meta.length, 4, "{name}");
            }
        }
    }
    assert_eq!((ids.owned.len(), ids.nacked.len()), (2, 2), "{name}");
    assert!(ids.nacked.iter().all(|n| ids.pending.contains(n)), "{name}");
    let (lo, hi) = (ids.owned.iter().min(), ids.owned.iter().max());
    assert!(
        ids.nacked.iter().all(|n| Some(n) > lo && Some(n) < hi),
        "{name}"
    );
}
