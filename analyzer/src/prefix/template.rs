//! Templating: a key turned into its pattern (`user:1234:profile` →
//! `user:*:profile`) in one pass over its bytes.

use super::config::{
    PrefixConfig, F_ALNUM, F_DIGIT, F_HEX, F_LETTER, MAX_DEPTH, MAX_SEGMENT_BYTES,
};
use super::identifiers::{is_binary, is_email, is_identifier, shape, shape_is_identifier};

impl PrefixConfig {
    /// Writes the pattern of `key` into `out` (cleared first) and returns it.
    pub fn template<'b>(&self, key: &[u8], out: &'b mut Vec<u8>) -> &'b [u8] {
        out.clear();
        // `key[kept..start]` (kept segments and separators) is still to be
        // copied to `out`.
        let mut kept = 0;
        let mut start = 0;
        let mut depth = 0;
        loop {
            let (end, lacks) = self.scan(key, start);
            depth += 1;
            let last = end == key.len();
            if depth == MAX_DEPTH && !last {
                out.extend_from_slice(&key[kept..start]);
                out.push(b'*');
                return out;
            }
            let seg = &key[start..end];
            match segment_shape(seg.len(), lacks) {
                Some(false) => {}
                Some(true) => {
                    out.extend_from_slice(&key[kept..start]);
                    out.push(b'*');
                    kept = end;
                }
                None => {
                    out.extend_from_slice(&key[kept..start]);
                    self.template_segment(seg, out);
                    kept = end;
                }
            }
            if last {
                break;
            }
            start = end + 1;
        }
        out.extend_from_slice(&key[kept..]);
        out
    }

    /// The identifier rules on a non-empty segment of at most
    /// [`MAX_SEGMENT_BYTES`] that is neither all letters nor all digits
    /// (the shapes [`segment_shape`] leaves).
    #[inline(never)]
    fn template_segment(&self, seg: &[u8], out: &mut Vec<u8>) {
        let sh = shape(seg);
        if seg.len() > MAX_SEGMENT_BYTES
            || shape_is_identifier(seg, &sh)
            || is_binary(seg, &sh)
            || is_email(seg)
        {
            out.push(b'*');
            return;
        }
        if !seg.iter().any(|&b| self.inner[b as usize]) {
            out.extend_from_slice(seg);
            return;
        }
        // Part by part; one `*` if every non-empty part is an identifier.
        let mark = out.len();
        let mut all_ids = true;
        let mut any_part = false;
        let mut start = 0;
        for i in 0..=seg.len() {
            if i < seg.len() && !self.inner[seg[i] as usize] {
                continue;
            }
            let part = &seg[start..i];
            if !part.is_empty() {
                any_part = true;
                if is_identifier(part) {
                    out.push(b'*');
                } else {
                    all_ids = false;
                    out.extend_from_slice(part);
                }
            }
            if i < seg.len() {
                out.push(seg[i]);
            }
            start = i + 1;
        }
        if all_ids && any_part {
            out.truncate(mark);
            out.push(b'*');
        }
    }
}

/// The common segment shapes, decided from the length `n` of a segment
/// and the `F_*` classes some of its bytes lack: `Some(true)` for an
/// identifier (`*`), `Some(false)` for a segment kept as is (empty
/// included), `None` for the others, left to
/// [`PrefixConfig::template_segment`].
#[inline(always)]
fn segment_shape(n: usize, lacks: u8) -> Option<bool> {
    if n == 0 {
        Some(false)
    } else if n > MAX_SEGMENT_BYTES || lacks & F_DIGIT == 0 {
        // Too long, or a number.
        Some(true)
    } else if lacks & F_LETTER == 0 {
        // A word, unless it is a long hex string (`deadbeef`).
        Some(n >= 8 && lacks & F_HEX == 0)
    } else if lacks & F_HEX == 0 {
        // Hex digits and letters both: hex from 4 characters, a word
        // below (`a1`).
        Some(n >= 4)
    } else if lacks & F_ALNUM == 0 && n >= 12 {
        // Letters and digits both: a random token.
        Some(true)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prefix::config::Separators;

    fn t(key: &[u8]) -> String {
        let cfg = PrefixConfig::default();
        let mut buf = Vec::new();
        String::from_utf8_lossy(cfg.template(key, &mut buf)).into_owned()
    }

    #[test]
    fn templating() {
        assert_eq!(t(b"user:1234:profile"), "user:*:profile");
        assert_eq!(t(b"user:98:profile"), "user:*:profile");
        assert_eq!(t(b"login:9f86d081884c7d65"), "login:*");
        assert_eq!(t(b"cache:item:17"), "cache:item:*");
        assert_eq!(t(b"config"), "config");
        assert_eq!(
            t(b"obj:123e4567-e89b-12d3-a456-426614174000:meta"),
            "obj:*:meta"
        );
        assert_eq!(t(b"stats:2024-01-31:hits"), "stats:*:hits");
        assert_eq!(t(b"stats:20240131"), "stats:*");
        assert_eq!(t(b"ts:1700000000123"), "ts:*");
        assert_eq!(t(b"tok:aGVsbG8gd29ybGQ9PQ"), "tok:*");
        assert_eq!(t(b"tok:k3j4h5g6"), "tok:*");
        assert_eq!(t(b"h:deadbeef"), "h:*");
        assert_eq!(t(b"h:a1b2"), "h:*");
        assert_eq!(t(b"comment:4321:reply.to"), "comment:*:reply.to");
        assert_eq!(t(b"lock:order-12345"), "lock:order-*");
        assert_eq!(t(b"api|v2|users"), "api|v2|users");
        assert_eq!(t(b"user:alice@example.com"), "user:*");
        assert_eq!(t(b"feature_flags:dark_mode"), "feature_flags:dark_mode");
        assert_eq!(t(b"face:cafe"), "face:cafe");
        assert_eq!(t(b"address2"), "address2");
        assert_eq!(t(b"12345"), "*");
        assert_eq!(t(b"a::b:"), "a::b:");
        assert_eq!(t(b""), "");
        assert_eq!(t(b"{user3}.ttl:5"), "{user3}.ttl:*");
        // Binary segments are identifiers; valid non-ASCII UTF-8 is kept.
        assert_eq!(t(b"bin:\x00\xff"), "bin:*");
        assert_eq!(t("键:名字".as_bytes()), "键:名字");
        // Depth is bounded: the 8th segment stands for the rest.
        assert_eq!(t(b"a:b:c:d:e:f:g:h:i:j"), "a:b:c:d:e:f:g:*");
        assert_eq!(t(b"a:b:c:d:e:f:g:h"), "a:b:c:d:e:f:g:h");
        let long = format!("blob:{}", "x".repeat(100));
        assert_eq!(t(long.as_bytes()), "blob:*");
        // Explicit separators.
        assert_eq!(Separators::parse("auto"), Some(Separators::Auto));
        assert_eq!(
            Separators::parse(":|"),
            Some(Separators::Chars(b":|".to_vec()))
        );
        assert_eq!(Separators::parse(""), None);
        assert_eq!(Separators::parse("*"), None);
        assert_eq!(Separators::parse("→"), None);
        let cfg = PrefixConfig::new(&Separators::Chars(b".".to_vec()), 10, 3);
        let mut buf = Vec::new();
        assert_eq!(cfg.template(b"app.users.42", &mut buf), b"app.users.*");
        assert_eq!(cfg.template(b"a:b.c", &mut buf), b"a:b.c");
    }
}

/// [`PrefixConfig::template`] against a frozen copy of its first,
/// straightforward implementation, on many generated keys of varied shapes.
#[cfg(test)]
mod reference_tests {
    use super::*;
    use crate::prefix::config::{Separators, DEFAULT_CAP};

    // ---- The reference: the original implementation, kept verbatim in
    // behaviour (own tables and helpers, so later changes to the module's
    // helpers cannot change it).

    struct RefConfig {
        sep: [bool; 256],
        inner: [bool; 256],
    }

    impl RefConfig {
        fn new(seps: &Separators) -> RefConfig {
            let mut sep = [false; 256];
            for &b in seps.bytes() {
                sep[b as usize] = true;
            }
            let mut inner = [false; 256];
            for &b in b"-_.@+=,# " {
                inner[b as usize] = !sep[b as usize];
            }
            RefConfig { sep, inner }
        }
    }

    const R_DIGIT: u8 = 1;
    const R_HEX_LETTER: u8 = 2;
    const R_LETTER: u8 = 4;
    const R_NUM_PUNCT: u8 = 8;
    const R_TOK_PUNCT: u8 = 16;
    const R_ODD: u8 = 32;

    fn r_class(b: u8) -> u8 {
        let mut c = if b.is_ascii_digit() {
            R_DIGIT
        } else if b.is_ascii_hexdigit() {
            R_HEX_LETTER | R_LETTER
        } else if b.is_ascii_alphabetic() {
            R_LETTER
        } else if !(0x20..0x7f).contains(&b) {
            R_ODD
        } else {
            0
        };
        if b"-._+,TZ".contains(&b) {
            c |= R_NUM_PUNCT;
        }
        if b"+/=".contains(&b) {
            c |= R_TOK_PUNCT;
        }
        c
    }

    #[derive(Default)]
    struct RShape {
        digits: usize,
        letters: usize,
        any: u8,
        numeric: usize,
        hex: usize,
        token: usize,
        switches: usize,
    }

    fn r_shape(t: &[u8]) -> RShape {
        let mut s = RShape::default();
        let mut prev_digit = None;
        for &b in t {
            let c = r_class(b);
            s.any |= c;
            let digit = c & R_DIGIT != 0;
            s.digits += usize::from(digit);
            s.letters += usize::from(c & R_LETTER != 0);
            s.numeric += usize::from(c & (R_DIGIT | R_NUM_PUNCT) != 0);
            s.hex += usize::from(c & (R_DIGIT | R_HEX_LETTER) != 0);
            s.token += usize::from(c & (R_DIGIT | R_LETTER | R_TOK_PUNCT) != 0);
            if c & (R_DIGIT | R_LETTER) != 0 {
                s.switches += usize::from(prev_digit.is_some_and(|p| p != digit));
                prev_digit = Some(digit);
            }
        }
        s
    }

    fn r_is_identifier(t: &[u8]) -> bool {
        !t.is_empty() && r_shape_is_identifier(t, &r_shape(t))
    }

    fn r_shape_is_identifier(t: &[u8], s: &RShape) -> bool {
        let n = t.len();
        if s.digits > 0
            && s.numeric == n
            && s.digits >= n - s.digits
            && (t[0].is_ascii_digit() || t[0] == b'-')
        {
            return true;
        }
        if s.hex == n && (n >= 8 || (n >= 4 && s.digits > 0 && s.letters > 0)) {
            return true;
        }
        if s.digits > 0 && s.letters > 0 && s.token == n && (n >= 12 || (n >= 8 && s.switches >= 3))
        {
            return true;
        }
        n == 36
            && t.iter().enumerate().all(|(i, &b)| match i {
                8 | 13 | 18 | 23 => b == b'-',
                _ => b.is_ascii_hexdigit(),
            })
    }

    fn r_is_email(t: &[u8]) -> bool {
        t.iter()
            .position(|&b| b == b'@')
            .is_some_and(|p| p > 0 && p + 1 < t.len())
    }

    fn r_is_binary(t: &[u8], s: &RShape) -> bool {
        s.any & R_ODD != 0
            && (t.iter().any(|&b| b < 0x20 || b == 0x7f) || std::str::from_utf8(t).is_err())
    }

    fn r_template_segment(cfg: &RefConfig, seg: &[u8], out: &mut Vec<u8>) {
        if seg.is_empty() {
            return;
        }
        if seg.len() <= MAX_SEGMENT_BYTES {
            if seg.iter().all(u8::is_ascii_alphabetic) {
                if seg.len() >= 8 && seg.iter().all(u8::is_ascii_hexdigit) {
                    out.push(b'*');
                } else {
                    out.extend_from_slice(seg);
                }
                return;
            }
            if seg.iter().all(u8::is_ascii_digit) {
                out.push(b'*');
                return;
            }
        }
        let sh = r_shape(seg);
        if seg.len() > MAX_SEGMENT_BYTES
            || r_shape_is_identifier(seg, &sh)
            || r_is_binary(seg, &sh)
            || r_is_email(seg)
        {
            out.push(b'*');
            return;
        }
        if !seg.iter().any(|&b| cfg.inner[b as usize]) {
            out.extend_from_slice(seg);
            return;
        }
        let mark = out.len();
        let mut all_ids = true;
        let mut any_part = false;
        let mut start = 0;
        for i in 0..=seg.len() {
            if i < seg.len() && !cfg.inner[seg[i] as usize] {
                continue;
            }
            let part = &seg[start..i];
            if !part.is_empty() {
                any_part = true;
                if r_is_identifier(part) {
                    out.push(b'*');
                } else {
                    all_ids = false;
                    out.extend_from_slice(part);
                }
            }
            if i < seg.len() {
                out.push(seg[i]);
            }
            start = i + 1;
        }
        if all_ids && any_part {
            out.truncate(mark);
            out.push(b'*');
        }
    }

    fn reference_template(cfg: &RefConfig, key: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut start = 0;
        let mut depth = 0;
        loop {
            let end = key[start..]
                .iter()
                .position(|&b| cfg.sep[b as usize])
                .map_or(key.len(), |p| start + p);
            depth += 1;
            if depth == MAX_DEPTH && end < key.len() {
                out.push(b'*');
                break;
            }
            r_template_segment(cfg, &key[start..end], &mut out);
            if end >= key.len() {
                break;
            }
            out.push(key[end]);
            start = end + 1;
        }
        out
    }

    // ---- A deterministic generator of keys.

    use crate::testutil::Rng;

    const LOWER: &[u8] = b"abcdefghijklmnopqrstuvwxyz";
    const ALPHA: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    const DIGITS: &[u8] = b"0123456789";
    const HEX: &[u8] = b"0123456789abcdef";
    const HEX_UPPER: &[u8] = b"0123456789ABCDEF";
    const HEX_LETTERS: &[u8] = b"abcdefABCDEF";
    const ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=";
    /// Bytes that sit on the edges of the rules.
    const TRICKY: &[u8] = b"aAfFgGzZtTxX09-_.@+=,# :|/{}[]*!~\t\x00\x7f\x80\xc3\xa9\xff";

    fn len(r: &mut Rng) -> usize {
        match r.below(10) {
            0 => r.below(3),
            1..=6 => 1 + r.below(14),
            7 | 8 => 8 + r.below(30),
            _ => 60 + r.below(10),
        }
    }

    /// One segment (it may contain separators or inner bytes itself).
    fn segment(r: &mut Rng) -> Vec<u8> {
        let n = len(r);
        match r.below(24) {
            0 => Vec::new(),
            1 => r.chars(LOWER, n),
            2 => r.chars(ALPHA, n),
            3 => r.chars(DIGITS, n),
            4 => r.chars(HEX, n),
            5 => r.chars(HEX_UPPER, n),
            6 => r.chars(HEX_LETTERS, n),
            7 => r.chars(ALNUM, n),
            8 => r.chars(B64, n),
            9 => r.chars(TRICKY, n),
            10 => (0..n).map(|_| r.next() as u8).collect(),
            11 => {
                let h = r.chars(HEX, 32);
                let mut u = Vec::new();
                for (i, b) in h.into_iter().enumerate() {
                    if [8, 12, 16, 20].contains(&i) {
                        u.push(b'-');
                    }
                    u.push(b);
                }
                if r.below(4) == 0 {
                    let i = r.below(u.len());
                    u[i] = r.pick(TRICKY);
                }
                u
            }
            12 => {
                let (a, b) = (r.below(8), r.below(8));
                let mut e = r.chars(LOWER, a);
                e.push(b'@');
                e.extend(r.chars(LOWER, b));
                if r.below(2) == 0 {
                    e.extend_from_slice(b".com");
                }
                e
            }
            13 => format!(
                "{:04}-{:02}-{:02}{}",
                r.below(3000),
                r.below(13),
                r.below(32),
                ["", "T10:00Z", "T10", " 10.5"][r.below(4)]
            )
            .into_bytes(),
            14 => format!("{}.{}", r.below(1000), r.below(100_000)).into_bytes(),
            15 => format!(
                "{}.{}.{}.{}",
                r.below(256),
                r.below(256),
                r.below(256),
                r.below(256)
            )
            .into_bytes(),
            16 => {
                // Alternating letters and digits (k3j4h5g6).
                (0..n)
                    .map(|i| {
                        if (i + r.below(2)).is_multiple_of(2) {
                            r.pick(LOWER)
                        } else {
                            r.pick(DIGITS)
                        }
                    })
                    .collect()
            }
            17 => {
                // Words and ids joined by inner bytes.
                let parts = 1 + r.below(4);
                let mut v = Vec::new();
                for i in 0..parts {
                    if i > 0 {
                        v.push(r.pick(b"-_.@+=,# "));
                    }
                    let m = len(r) % 16;
                    let set: &[u8] = [LOWER, DIGITS, HEX, ALNUM, TRICKY][r.below(5)];
                    v.extend(r.chars(set, m));
                }
                v
            }
            18 => "名字é".repeat(1 + r.below(30)).into_bytes(),
            19 => {
                // A word with a digit or a T/Z somewhere.
                let mut v = r.chars(LOWER, n.max(1));
                let i = r.below(v.len());
                v[i] = r.pick(b"0123456789TZ");
                v
            }
            20 => {
                // Digits with a letter or punctuation somewhere.
                let mut v = r.chars(DIGITS, n.max(1));
                let i = r.below(v.len());
                v[i] = r.pick(b"TZaxf-._+,/=@ ");
                v
            }
            21 => {
                // Lengths around the limits.
                let m = [3, 4, 7, 8, 11, 12, 35, 36, 37, 63, 64, 65, 200][r.below(13)];
                let set: &[u8] = [LOWER, DIGITS, HEX, HEX_LETTERS, ALNUM, B64][r.below(6)];
                r.chars(set, m)
            }
            22 => r.chars(b"0123456789-._+,TZ", n),
            _ => {
                let w = [
                    "user",
                    "login",
                    "cache",
                    "item",
                    "profile",
                    "page",
                    "html",
                    "order",
                    "reply.to",
                    "v2",
                    "api",
                    "feature_flags",
                    "dark_mode",
                    "{user3}",
                    "face",
                    "deadbeef",
                    "cafe",
                    "T",
                    "Z",
                    "-1",
                    "-",
                    "@",
                    "a@b",
                ];
                w[r.below(w.len())].as_bytes().to_vec()
            }
        }
    }

    fn key(r: &mut Rng, seps: &[u8]) -> Vec<u8> {
        let segs = match r.below(10) {
            0 => 1,
            1..=7 => 1 + r.below(4),
            _ => 1 + r.below(12),
        };
        let mut k = Vec::new();
        for i in 0..segs {
            if i > 0 {
                k.push(r.pick(seps));
            }
            k.extend(segment(r));
        }
        k
    }

    #[test]
    fn template_matches_the_reference() {
        let configs = [
            Separators::Auto,
            Separators::Chars(b":".to_vec()),
            Separators::Chars(b".".to_vec()),
            Separators::Chars(b"-_".to_vec()),
            Separators::Chars(b" @#".to_vec()),
            Separators::Chars(b"a0".to_vec()),
            Separators::Chars(b"\x00\x7f".to_vec()),
        ];
        let mut r = Rng(42);
        let mut out = Vec::new();
        for seps in &configs {
            let cfg = PrefixConfig::new(seps, DEFAULT_CAP, 3);
            let reference = RefConfig::new(seps);
            let mut sep_bytes = seps.bytes().to_vec();
            // Keys split on the config's separators and on others.
            sep_bytes.extend_from_slice(b":|/.");
            for i in 0..60_000 {
                let k = if i % 3 == 0 {
                    key(&mut r, seps.bytes())
                } else {
                    key(&mut r, &sep_bytes)
                };
                let want = reference_template(&reference, &k);
                let got = cfg.template(&k, &mut out);
                assert!(
                    got == want,
                    "{seps:?} key {:?}: got {:?}, want {:?}",
                    String::from_utf8_lossy(&k),
                    String::from_utf8_lossy(got),
                    String::from_utf8_lossy(&want),
                );
            }
        }
        // Every single byte and every pair, alone and between separators.
        let cfg = PrefixConfig::default();
        let reference = RefConfig::new(&Separators::Auto);
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                for k in [vec![a], vec![a, b], vec![b'x', b':', a, b, b'1', b'2']] {
                    let want = reference_template(&reference, &k);
                    assert_eq!(cfg.template(&k, &mut out), &want[..], "{k:?}");
                }
            }
        }
    }
}
