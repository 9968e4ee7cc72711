//! Fuzz target: `rdb_parser::lzf_decompress`.
//!
//! * Even first byte: the next two bytes (LE) are the expected length, the
//!   rest is compressed input; the result must equal a simple reference
//!   decoder's (same bytes, or both an error).
//! * Odd first byte: the rest is compressed with a small LZF compressor here
//!   and must decompress back to itself (long and overlapping back references
//!   included).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        if rest.len() < 2 {
            return;
        }
        let expected = usize::from(u16::from_le_bytes([rest[0], rest[1]]));
        let input = &rest[2..];
        let mut out = vec![0xaa; usize::from(mode)]; // must be cleared first
        let got = rdb_parser::lzf_decompress(input, expected, &mut out);
        match (got, reference(input, expected)) {
            (Ok(()), Some(want)) => {
                assert_eq!(out, want, "output differs from the reference decoder")
            }
            (Err(_), None) => {}
            (got, want) => panic!(
                "lzf_decompress gave {got:?}, the reference {:?}",
                want.map(|w| w.len())
            ),
        }
    } else {
        let compressed = compress(rest);
        let mut out = Vec::new();
        rdb_parser::lzf_decompress(&compressed, rest.len(), &mut out)
            .expect("our own compressed data");
        assert_eq!(out, rest, "round trip");
    }
});

/// LZF decoding written the plain way: `None` for anything invalid (a run or
/// reference past either end, or output of another length).
fn reference(input: &[u8], expected: usize) -> Option<Vec<u8>> {
    let mut out: Vec<u8> = Vec::new();
    let mut i = 0;
    while i < input.len() {
        let ctrl = usize::from(input[i]);
        i += 1;
        if ctrl < 32 {
            for _ in 0..=ctrl {
                out.push(*input.get(i)?);
                i += 1;
            }
        } else {
            let mut len = ctrl >> 5;
            if len == 7 {
                len += usize::from(*input.get(i)?);
                i += 1;
            }
            len += 2;
            let back = ((ctrl & 0x1f) << 8) + usize::from(*input.get(i)?) + 1;
            i += 1;
            let start = out.len().checked_sub(back)?;
            for k in 0..len {
                let b = out[start + k];
                out.push(b);
            }
        }
        if out.len() > expected {
            return None;
        }
    }
    (out.len() == expected).then_some(out)
}

/// A small LZF compressor (greedy, hash of 3 bytes), writing literal runs of
/// up to 32 bytes and back references of 3 to 264 bytes up to 8 KiB back.
fn compress(input: &[u8]) -> Vec<u8> {
    fn flush(out: &mut Vec<u8>, lit: &mut Vec<u8>) {
        if !lit.is_empty() {
            out.push((lit.len() - 1) as u8);
            out.append(lit);
        }
    }
    let mut out = Vec::new();
    let mut lit = Vec::new();
    let mut table = vec![0usize; 1 << 12];
    let mut i = 0;
    while i < input.len() {
        if i + 3 <= input.len() {
            let key = ((usize::from(input[i]) << 16
                | usize::from(input[i + 1]) << 8
                | usize::from(input[i + 2]))
            .wrapping_mul(2654435761)
                >> 8)
                & ((1 << 12) - 1);
            let cand = table[key];
            table[key] = i + 1;
            if cand > 0 {
                let r = cand - 1;
                let off = i - r - 1;
                if off < 8192 && input[r..r + 3] == input[i..i + 3] {
                    let max = (input.len() - i).min(264);
                    let mut len = 3;
                    while len < max && input[r + len] == input[i + len] {
                        len += 1;
                    }
                    flush(&mut out, &mut lit);
                    let l = len - 2;
                    if l < 7 {
                        out.push(((l as u8) << 5) | (off >> 8) as u8);
                    } else {
                        out.push((7 << 5) | (off >> 8) as u8);
                        out.push((l - 7) as u8);
                    }
                    out.push(off as u8);
                    i += len;
                    continue;
                }
            }
        }
        lit.push(input[i]);
        if lit.len() == 32 {
            flush(&mut out, &mut lit);
        }
        i += 1;
    }
    flush(&mut out, &mut lit);
    out
}
