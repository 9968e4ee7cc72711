//! The ceiling of a whole-file run: maps each file given as an argument as
//! `rdbscope` does and reads every byte with N threads (a XOR of 8-byte
//! words, nothing parsed), printing the bytes per second the machine gives
//! a plain read of the mapped file.
//!
//! `cargo run --release -p rdb-parser --example touch -- [--threads N] FILE...`

use std::fs::File;
use std::time::Instant;

fn fold(bytes: &[u8]) -> u64 {
    let mut acc = 0u64;
    let mut words = bytes.chunks_exact(8);
    for w in &mut words {
        acc ^= u64::from_le_bytes(w.try_into().expect("8 bytes"));
    }
    for &b in words.remainder() {
        acc ^= u64::from(b);
    }
    acc
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if let Some(i) = args.iter().position(|a| a == "--threads") {
        if i + 1 >= args.len() {
            eprintln!("touch: --threads needs a number");
            std::process::exit(2);
        }
        threads = args[i + 1].parse().unwrap_or_else(|_| {
            eprintln!("touch: --threads needs a number, not {:?}", args[i + 1]);
            std::process::exit(2)
        });
        args.drain(i..i + 2);
    }
    if args.is_empty() {
        eprintln!("usage: touch [--threads N] FILE...");
        std::process::exit(2);
    }
    let t = Instant::now();
    let mut total = 0usize;
    let mut acc = 0u64;
    for path in &args {
        let file = File::open(path).unwrap_or_else(|e| {
            eprintln!("touch: cannot open {path}: {e}");
            std::process::exit(1)
        });
        // SAFETY: the file is not modified while this example runs.
        #[allow(unsafe_code)]
        let map = unsafe { rdb_parser::mmap::map(&file) }.unwrap_or_else(|e| {
            eprintln!("touch: cannot map {path}: {e}");
            std::process::exit(1)
        });
        let data: &[u8] = &map;
        total += data.len();
        let part = data.len().div_ceil(threads.max(1)).max(1);
        acc ^= std::thread::scope(|s| {
            let handles: Vec<_> = data
                .chunks(part)
                .map(|c| s.spawn(move || fold(c)))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("reader thread"))
                .fold(0, |a, b| a ^ b)
        });
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "{total} bytes in {secs:.3} s with {threads} threads: {:.0} MB/s (fold {acc:016x})",
        total as f64 / 1e6 / secs
    );
}
