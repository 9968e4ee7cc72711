//! Times the sequential boundary scan alone: `scan FILE`.
fn main() {
    let path = std::env::args().nth(1).expect("FILE");
    let data = std::fs::read(&path).expect("read");
    let rdb = rdb_parser::Rdb::new(&data).expect("header");
    let t = std::time::Instant::now();
    let chunks = rdb.chunks(rdb_parser::DEFAULT_CHUNK_BYTES).expect("scan");
    let s = t.elapsed().as_secs_f64();
    println!(
        "{} chunks in {:.3} s ({:.0} MB/s)",
        chunks.len(),
        s,
        data.len() as f64 / 1e6 / s
    );
}
