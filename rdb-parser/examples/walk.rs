//! Walks every record and element of the RDB files given as arguments and
//! prints one line per file: keys, elements, checksum status, or the error.
//!
//! `cargo run --release -p rdb-parser --example walk -- FILE...`

use rdb_parser::{ChecksumStatus, Kind, Rdb, Record, Scratch};

fn walk(data: &[u8]) -> rdb_parser::Result<(u64, u64, ChecksumStatus)> {
    let rdb = Rdb::new(data)?;
    let mut scratch = Scratch::new();
    let (mut keys, mut elements) = (0u64, 0u64);
    let mut status = ChecksumStatus::Absent;
    for r in rdb.records() {
        match r? {
            Record::Entry(e) => {
                keys += 1;
                match e.kind() {
                    Kind::Stream => {
                        e.value.walk_stream(&mut scratch, &mut ())?;
                    }
                    _ => e.value.for_each_element(&mut scratch, |_| elements += 1)?,
                }
                elements += e.value.element_count(&mut scratch).map(|_| 0)?;
            }
            Record::Eof {
                offset,
                stored_checksum,
                ..
            } => status = rdb.checksum_status(offset, stored_checksum),
            _ => {}
        }
    }
    Ok((keys, elements, status))
}

fn main() {
    for path in std::env::args().skip(1) {
        let data = std::fs::read(&path).expect("read");
        match walk(&data) {
            Ok((k, el, st)) => println!("{path}: {k} keys, {el} elements, {st:?}"),
            Err(e) => println!("{path}: ERROR {e}"),
        }
    }
}
