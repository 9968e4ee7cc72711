//! LZF decompression into a caller-owned buffer.
//!
//! This is the only place the parser writes decoded bytes. The output
//! length is known from the RDB string header; every back reference and
//! literal run is bounds-checked, so corrupt input gives an error.

use crate::error::{Error, Result};

/// Bytes the output buffer holds past the declared length, so that literal
/// runs and back references can be copied in fixed-size blocks (which
/// compile to a few vector moves instead of a `memcpy` call per run).
const SLACK: usize = 32;

/// Decompresses `input` into `out` (its contents replaced), expecting exactly
/// `expected_len` bytes. Errors carry offsets relative to `input`.
pub(crate) fn decompress_into(input: &[u8], expected_len: usize, out: &mut Vec<u8>) -> Result<()> {
    // No LZF stream expands more than 88 times (a 3-byte back reference
    // copies at most 264 bytes): refuse before reserving anything absurd.
    if expected_len as u64 > (input.len() as u64).saturating_mul(89).saturating_add(64) {
        return Err(Error::malformed(
            "an LZF length that LZF can produce",
            0,
            Some(expected_len as u64),
        ));
    }
    // Bytes past `o` may hold scraps of block copies or of the previous
    // output: every later run or reference overwrites them before anything
    // reads them, and what lies past the output is cut off at the end. So
    // only bytes the buffer never held are zeroed (not the whole output
    // once per string).
    if out.len() < expected_len + SLACK {
        out.resize(expected_len + SLACK, 0);
    }
    let mut o = 0usize;
    let mut i = 0usize;
    while i < input.len() {
        let ctrl = input[i] as usize;
        let at = i as u64;
        i += 1;
        if ctrl < 32 {
            // Literal run of ctrl + 1 bytes.
            let run = ctrl + 1;
            if i + run > input.len() {
                return Err(Error::malformed(
                    "an LZF literal run inside the input",
                    at,
                    Some(run as u64),
                ));
            }
            if o + run > expected_len {
                return Err(Error::malformed(
                    "LZF output no longer than the declared length",
                    at,
                    Some(expected_len as u64),
                ));
            }
            // o + 32 <= expected_len - 1 + 32 < out.len().
            match input.get(i..i + 32) {
                Some(block) => out[o..o + 32].copy_from_slice(block),
                None => out[o..o + run].copy_from_slice(&input[i..i + run]),
            }
            o += run;
            i += run;
        } else {
            let mut len = ctrl >> 5;
            if len == 7 {
                let Some(&extra) = input.get(i) else {
                    return Err(Error::truncated(
                        "an LZF back-reference length",
                        i as u64,
                        1,
                        0,
                    ));
                };
                len += extra as usize;
                i += 1;
            }
            len += 2;
            let Some(&low) = input.get(i) else {
                return Err(Error::truncated(
                    "an LZF back-reference offset",
                    i as u64,
                    1,
                    0,
                ));
            };
            i += 1;
            let back = ((ctrl & 0x1f) << 8) + low as usize + 1;
            if back > o {
                return Err(Error::malformed(
                    "an LZF back reference inside the output so far",
                    at,
                    Some(back as u64),
                ));
            }
            if o + len > expected_len {
                return Err(Error::malformed(
                    "LZF output no longer than the declared length",
                    at,
                    Some(expected_len as u64),
                ));
            }
            let from = o - back;
            if back >= 16 {
                // Sixteen bytes at a time: each block reads only bytes
                // before its own destination, all of them final. The last
                // block may run up to 15 bytes past o + len (slack).
                let mut k = 0;
                while k < len {
                    out.copy_within(from + k..from + k + 16, o + k);
                    k += 16;
                }
            } else if back == 1 {
                let b = out[from];
                out[o..o + len].fill(b);
            } else {
                // A short period: byte by byte (run-length style).
                for k in 0..len {
                    out[o + k] = out[from + k];
                }
            }
            o += len;
        }
    }
    out.truncate(o);
    if o != expected_len {
        return Err(Error::malformed(
            "LZF output of the declared length",
            input.len() as u64,
            Some(o as u64),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_and_back_reference() {
        // "abcabcabc": literal "abc", then back ref len 6, distance 3.
        let input = [2, b'a', b'b', b'c', (4 << 5), 2];
        let mut out = Vec::new();
        decompress_into(&input, 9, &mut out).unwrap();
        assert_eq!(out, b"abcabcabc");
    }

    #[test]
    fn long_back_reference() {
        // literal "a", then len 7+3+2 = 12 copy at distance 1.
        let input = [0, b'a', (7 << 5), 3, 0];
        let mut out = Vec::new();
        decompress_into(&input, 13, &mut out).unwrap();
        assert_eq!(out, vec![b'a'; 13]);
    }

    /// The byte-wise reference decoder the fast one must match.
    fn reference(input: &[u8], expected_len: usize) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < input.len() {
            let ctrl = input[i] as usize;
            i += 1;
            if ctrl < 32 {
                out.extend_from_slice(input.get(i..i + ctrl + 1)?);
                i += ctrl + 1;
            } else {
                let mut len = ctrl >> 5;
                if len == 7 {
                    len += *input.get(i)? as usize;
                    i += 1;
                }
                let back = ((ctrl & 0x1f) << 8) + *input.get(i)? as usize + 1;
                i += 1;
                let start = out.len().checked_sub(back)?;
                for k in 0..len + 2 {
                    out.push(out[start + k]);
                }
            }
            if out.len() > expected_len {
                return None;
            }
        }
        (out.len() == expected_len).then_some(out)
    }

    #[test]
    fn matches_the_byte_wise_decoder_on_random_streams() {
        let mut x = 0x9e37_79b9u32;
        let mut next = |n: u32| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x % n
        };
        let mut out = Vec::new();
        for _ in 0..3000 {
            // A valid stream: literals and back references of every size.
            let mut input = Vec::new();
            let mut produced = 0usize;
            for _ in 0..1 + next(40) {
                if produced == 0 || next(3) == 0 {
                    let run = 1 + next(32) as usize;
                    input.push((run - 1) as u8);
                    for _ in 0..run {
                        input.push(next(4) as u8 + b'a');
                    }
                    produced += run;
                } else {
                    let len = 3 + next(262) as usize; // 3..=264 (code 0 would be a literal)
                    let back = 1 + next(produced.min(8192) as u32) as usize;
                    let code = (len - 2).min(7);
                    input.push(((code << 5) | ((back - 1) >> 8)) as u8);
                    if code == 7 {
                        input.push((len - 2 - 7) as u8);
                    }
                    input.push((back - 1) as u8);
                    produced += len;
                }
            }
            let want = reference(&input, produced).unwrap();
            decompress_into(&input, produced, &mut out).unwrap();
            assert_eq!(out, want);
            // Wrong declared lengths fail, like the reference.
            for wrong in [produced.saturating_sub(1), produced + 1] {
                assert_eq!(
                    decompress_into(&input, wrong, &mut out).is_ok(),
                    reference(&input, wrong).is_some()
                );
            }
        }
    }

    #[test]
    fn errors_inside_long_inputs_name_the_token() {
        // 40 literal bytes, then a token that fails with more input after
        // it: the error names the failing token, not where input ends.
        let mut input = vec![31];
        input.extend_from_slice(&[b'x'; 32]);
        input.push(7);
        input.extend_from_slice(&[b'y'; 8]);
        let at = input.len();
        let tail = [b'z'; 40];
        let mut out = Vec::new();
        // A reference to before the output's start.
        let mut bad = input.clone();
        bad.extend_from_slice(&[0x3f, 0xff]);
        bad.push(31);
        bad.extend_from_slice(&tail[..32]);
        let e = decompress_into(&bad, 40 + 3 + 32, &mut out).unwrap_err();
        assert_eq!(e.offset(), at as u64, "{e}");
        // A literal run past the declared length.
        let mut long = input.clone();
        long.push(31);
        long.extend_from_slice(&tail[..32]);
        long.extend_from_slice(&tail);
        let e = decompress_into(&long, 40 + 10, &mut out).unwrap_err();
        assert_eq!(e.offset(), at as u64, "{e}");
        // A back reference past the declared length.
        let mut over = input;
        over.extend_from_slice(&[0xe0, 200, 0]);
        over.extend_from_slice(&tail);
        let e = decompress_into(&over, 40 + 100, &mut out).unwrap_err();
        assert_eq!(e.offset(), at as u64, "{e}");
    }

    #[test]
    fn corrupt_inputs_fail_cleanly() {
        let mut out = Vec::new();
        assert!(decompress_into(&[5, b'a'], 6, &mut out).is_err());
        assert!(decompress_into(&[0, b'a', (1 << 5), 9], 4, &mut out).is_err());
        assert!(decompress_into(&[0, b'a'], 2, &mut out).is_err());
        assert!(decompress_into(&[0, b'a', 0xe0], 9, &mut out).is_err());
    }
}
