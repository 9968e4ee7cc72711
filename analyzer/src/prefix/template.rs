//! Templating: a key turned into its pattern (`user:1234:profile` →
//! `user:*:profile`) in one pass over its bytes.

use super::config::{PrefixConfig, F_DIGIT, F_HEX, F_LETTER, MAX_DEPTH, MAX_SEGMENT_BYTES};
use super::identifiers::{
    colon_span, is_b64_token, is_binary, is_identifier, shape, stem_len, uuid_at, whole_identifier,
};

/// The bytes a time or an IPv6 address starts with and has after its
/// first `:`: digits, hex digits and `:`.
static SPANS: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        t[b] = (b as u8).is_ascii_hexdigit() || b == b':' as usize;
        b += 1;
    }
    t
};
/// Most parts of a long segment kept before a `*` stands for the rest.
const MAX_PARTS: usize = 16;
/// Most bytes a segment's pattern takes before a `*` stands for the rest.
const MAX_SEGMENT_PATTERN: usize = 2 * MAX_SEGMENT_BYTES;

impl PrefixConfig {
    /// Writes the pattern of `key` into `out` (cleared first) and returns it.
    pub fn template<'b>(&self, key: &[u8], out: &'b mut Vec<u8>) -> &'b [u8] {
        self.template_with::<true>(key, out)
    }

    /// [`PrefixConfig::template`]; without `FAST`, every segment goes
    /// through the identifier rules (the reference its shortcuts are
    /// tested against).
    #[inline(always)]
    fn template_with<'b, const FAST: bool>(&self, key: &[u8], out: &'b mut Vec<u8>) -> &'b [u8] {
        out.clear();
        // `key[kept..start]` (kept segments and separators) is still to be
        // copied to `out`.
        let mut kept = 0;
        let mut start = 0;
        let mut depth = 0;
        loop {
            let (mut end, lacks) = self.scan(key, start);
            let n = end - start;
            // Times and IPv6 addresses hold `:`: one identifier, one segment.
            let mut span = false;
            // A time or an IPv6 address starts with a digit, a hex digit
            // or `:` (its first 13 bytes at most before a `:`) and goes on
            // past that `:` with one of them: with the shortcuts, other
            // segments skip the check (the reference makes it).
            if key.get(end) == Some(&b':')
                && (!FAST
                    || (n <= 13
                        && SPANS[usize::from(key[start])]
                        && key.get(end + 1).is_some_and(|&b| SPANS[usize::from(b)])))
                && self.is_sep(b':')
                && (n == 0
                    || (n <= 4 && lacks & F_HEX == 0)
                    || (n <= 13 && key[start].is_ascii_digit()))
            {
                if let Some(len) = colon_span(&key[start..]) {
                    let e = start + len;
                    if e == key.len() || self.is_sep(key[e]) || self.inner[key[e] as usize] {
                        end = e;
                        span = true;
                    }
                }
            }
            depth += 1;
            let last = end == key.len();
            if depth == MAX_DEPTH && !last {
                out.extend_from_slice(&key[kept..start]);
                out.push(b'*');
                return out;
            }
            let seg = &key[start..end];
            let decided = if span {
                Some(true)
            } else if FAST {
                segment_shape(seg.len(), lacks)
            } else if seg.is_empty() {
                Some(false)
            } else {
                None
            };
            match decided {
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

    /// The identifier rules on a non-empty segment (the shapes
    /// [`segment_shape`] leaves, or any without the shortcuts).
    #[inline(never)]
    fn template_segment(&self, seg: &[u8], out: &mut Vec<u8>) {
        let sh = shape(seg);
        if is_binary(seg, &sh) {
            out.push(b'*');
            return;
        }
        if !seg.iter().any(|&b| self.inner[b as usize]) {
            match stem_len(seg) {
                Some(stem)
                    if stem <= MAX_SEGMENT_BYTES && !sh.all_hex(seg) && !is_b64_token(seg, &sh) =>
                {
                    out.extend_from_slice(&seg[..stem]);
                    out.push(b'*');
                }
                _ if seg.len() > MAX_SEGMENT_BYTES || whole_identifier(seg, &sh) => out.push(b'*'),
                _ => out.extend_from_slice(seg),
            }
            return;
        }
        if whole_identifier(seg, &sh) {
            out.push(b'*');
            return;
        }
        self.template_parts(seg, out);
    }

    /// A segment part by part (between the inner bytes `-_.@+=,# `): a
    /// part that starts an identifier running to the end of the segment
    /// (`celery-task-meta-<uuid>`) or a UUID, or that is one, becomes `*`;
    /// identifiers next to each other are one `*` (`report-2024-11-05` →
    /// `report-*`); one `*` if every part is one. Long segments keep at
    /// most [`MAX_PARTS`] parts and [`MAX_SEGMENT_PATTERN`] bytes.
    fn template_parts(&self, seg: &[u8], out: &mut Vec<u8>) {
        let n = seg.len();
        let mark = out.len();
        let mut all_ids = true;
        let mut any_part = false;
        // The last thing written is `*` and one inner byte.
        let mut after_id = false;
        let mut parts = 0;
        let mut i = 0;
        while i < n {
            let j = seg[i..]
                .iter()
                .position(|&b| self.inner[b as usize])
                .map_or(n, |p| i + p);
            let part = &seg[i..j];
            if part.is_empty() {
                out.push(seg[i]);
                after_id = false;
                i += 1;
                continue;
            }
            any_part = true;
            parts += 1;
            if parts > MAX_PARTS || out.len() - mark > MAX_SEGMENT_PATTERN {
                // The rest stands as one `*`.
                if after_id {
                    out.pop();
                } else {
                    out.push(b'*');
                }
                all_ids = false;
                break;
            }
            let mut stem = None;
            let id_end =
                if j < n && uuid_at(&seg[i..]) && (i + 36 == n || self.inner[seg[i + 36] as usize])
                {
                    Some(i + 36)
                } else if i > 0 && j < n && idish(part) && {
                    let rest = &seg[i..];
                    whole_identifier(rest, &shape(rest))
                } {
                    Some(n)
                } else {
                    stem = stem_len(part).filter(|_| {
                        let sh = shape(part);
                        !sh.all_hex(part) && !is_b64_token(part, &sh)
                    });
                    (stem.is_none() && (part.len() > MAX_SEGMENT_BYTES || is_identifier(part)))
                        .then_some(j)
                };
            match id_end {
                Some(e) => {
                    if after_id {
                        // `*-` then an identifier: one `*`.
                        out.pop();
                    } else {
                        out.push(b'*');
                    }
                    i = e;
                }
                None => {
                    all_ids = false;
                    match stem {
                        Some(stem) => {
                            out.extend_from_slice(&part[..stem]);
                            out.push(b'*');
                        }
                        None => out.extend_from_slice(part),
                    }
                    i = j;
                }
            }
            after_id = id_end.is_some();
            if i < n {
                out.push(seg[i]);
                i += 1;
            }
        }
        if all_ids && any_part {
            out.truncate(mark);
            out.push(b'*');
        }
    }
}

/// A part that may start a longer identifier: it holds a digit or a
/// capital letter, or is 4 hex digits or more (`cdeb` of a UUID); plain
/// lower-case words (`meta`) do not.
fn idish(part: &[u8]) -> bool {
    part.iter()
        .any(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
        || (part.len() >= 4 && part.iter().all(u8::is_ascii_hexdigit))
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
    } else if lacks & F_DIGIT == 0 {
        // A number.
        Some(true)
    } else if lacks & F_LETTER == 0 {
        // A word, unless it is a long hex string (`deadbeef`) or too long.
        Some(n > MAX_SEGMENT_BYTES || (n >= 8 && lacks & F_HEX == 0))
    } else if lacks & F_HEX == 0 {
        // Hex digits and letters both: hex from 4 characters, a word
        // below (`a1`).
        Some(n >= 4)
    } else {
        // Letters and digits both (a stem and an id, or a token), and the
        // rest.
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
        // Whole identifiers before splitting.
        let uuid = "3f2a9c1e-cdeb-afaf-8b2e-0c4d5e6f7a8b";
        assert_eq!(
            t(format!("celery-task-meta-{uuid}").as_bytes()),
            "celery-task-meta-*"
        );
        assert_eq!(
            t(format!("job-{}-result", uuid.to_uppercase()).as_bytes()),
            "job-*-result"
        );
        assert_eq!(t(b"x:3F2A9C1ECDEBAFAF8B2E0C4D5E6F7A8B"), "x:*");
        assert_eq!(t(b"q:01ARZ3NDEKTSV4RRFFQ69G5FAV"), "q:*");
        assert_eq!(t(b"tok:aGVsbG8-d29y_bGQhIQ-8xQz"), "tok:*");
        assert_eq!(t(b"rate_limit:10.0.0.1"), "rate_limit:*");
        assert_eq!(t(b"rl:2001:db8::ff00:42:8329:hits"), "rl:*:hits");
        assert_eq!(t(b"rl:::1"), "rl:*");
        // express-rate-limit's IPv6 keys: the /56 network.
        assert_eq!(t(b"rl:2001:db8:85a3:1200::/56"), "rl:*");
        assert_eq!(t(b"rl:2a02:1b4f::/56"), "rl:*");
        assert_eq!(t(b"rl:2001:db8::/56/x"), "rl:*/x");
        assert_eq!(t(b"rl:2001:db8::/1234"), "rl:*/*");
        assert_eq!(t(b"stat:2024-11-05"), "stat:*");
        assert_eq!(t(b"ts:12:30:00"), "ts:*");
        assert_eq!(t(b"ts:2024-11-05T12:30:00Z:n"), "ts:*:n");
        assert_eq!(t(b"ts:2024-11-05T12:30:00.123+01:00"), "ts:*");
        assert_eq!(t(b"report-2024-11-05"), "report-*");
        assert_eq!(t(b"t:-12.5"), "t:*");
        assert_eq!(t(b"t:+3"), "t:*");
        assert_eq!(t(b"m:name-alice@example.com"), "m:*");
        assert_eq!(t(b"usercart12345"), "usercart*");
        assert_eq!(t(b"sess8f3a9c01d2"), "sess*");
        assert_eq!(t(b"lock:order12345"), "lock:order*");
        assert_eq!(t(b"sha256"), "sha256");
        assert_eq!(t(b"Some_Class_Name2x"), "Some_Class_Name2x");
        // Long segments are split further, to a bounded length.
        let md5a = "0cc175b9c0f1b6a831c399e269772661";
        let md5b = "92eb5ffee6ae2fec3ad71c777531578f";
        let django = format!(":1:views.decorators.cache.cache_page..GET.{md5a}.{md5b}.en-us.UTC");
        assert_eq!(
            t(django.as_bytes()),
            ":*:views.decorators.cache.cache_page..GET.*.en-us.UTC"
        );
        let many = (0..40)
            .map(|i| format!("w{}", (b'a' + i % 26) as char))
            .collect::<Vec<_>>();
        let p = t(format!("k:{}", many.join(".")).as_bytes());
        assert!(
            p.len() <= 2 + MAX_SEGMENT_PATTERN + 4 && p.ends_with('*'),
            "{p}"
        );
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

/// [`PrefixConfig::template`] against itself without its shortcuts (every
/// segment through the identifier rules), on many generated keys of varied
/// shapes.
#[cfg(test)]
mod reference_tests {
    use super::*;
    use crate::prefix::config::{Separators, DEFAULT_CAP};

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
            let mut want_buf = Vec::new();
            let mut sep_bytes = seps.bytes().to_vec();
            // Keys split on the config's separators and on others.
            sep_bytes.extend_from_slice(b":|/.");
            for i in 0..60_000 {
                let k = if i % 3 == 0 {
                    key(&mut r, seps.bytes())
                } else {
                    key(&mut r, &sep_bytes)
                };
                let want = cfg.template_with::<false>(&k, &mut want_buf);
                let got = cfg.template(&k, &mut out);
                assert!(
                    got == want,
                    "{seps:?} key {:?}: got {:?}, want {:?}",
                    String::from_utf8_lossy(&k),
                    String::from_utf8_lossy(got),
                    String::from_utf8_lossy(want),
                );
            }
        }
        // Every single byte and every pair, alone and between separators.
        let cfg = PrefixConfig::default();
        let mut want_buf = Vec::new();
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                // Times and IPv6 addresses with any byte before and after
                // their first `:` (the shortcuts skip the check by both).
                let mut date = b"x:2024-11-05".to_vec();
                date.extend([a, b'1', b'2', b':', b, b'0', b':', b'3', b'0']);
                let keys = [
                    vec![a],
                    vec![a, b],
                    vec![b'x', b':', a, b, b'1', b'2'],
                    vec![b'x', b':', a, b':', b, b'5', b':', b'y'],
                    vec![b'f', b'e', a, b'0', b':', b':', b, b'1'],
                    date,
                ];
                for k in keys {
                    let want = cfg.template_with::<false>(&k, &mut want_buf);
                    assert_eq!(cfg.template(&k, &mut out), want, "{k:?}");
                }
            }
        }
    }
}
