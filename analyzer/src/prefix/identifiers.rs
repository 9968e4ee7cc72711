//! The identifier rules: which segments of a key are ids (numbers, dates,
//! times, UUIDs, hex, random and base64url tokens, IP addresses, e-mail
//! addresses, binary) and become `*`.

const DIGIT: u8 = 1;
const HEX_LETTER: u8 = 2;
const LETTER: u8 = 4;
/// `-._+,TZ:`: between the digits of numbers, dates and times.
const NUM_PUNCT: u8 = 8;
/// `+/=`: in base64 tokens.
const TOK_PUNCT: u8 = 16;
/// Control bytes and non-ASCII bytes.
const ODD: u8 = 32;

const fn classes() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = if b.is_ascii_digit() {
            DIGIT
        } else if b.is_ascii_hexdigit() {
            HEX_LETTER | LETTER
        } else if b.is_ascii_alphabetic() {
            LETTER
        } else if b < 0x20 || b >= 0x7f {
            ODD
        } else {
            0
        };
        i += 1;
    }
    let num = b"-._+,TZ:";
    let mut j = 0;
    while j < num.len() {
        t[num[j] as usize] |= NUM_PUNCT;
        j += 1;
    }
    let tok = b"+/=";
    let mut j = 0;
    while j < tok.len() {
        t[tok[j] as usize] |= TOK_PUNCT;
        j += 1;
    }
    t
}

static CLASS: [u8; 256] = classes();

/// What one pass over a token tells.
#[derive(Default)]
pub(super) struct Shape {
    digits: usize,
    letters: usize,
    /// OR and AND of the classes of all bytes.
    any: u8,
    /// Bytes that are digits or [`NUM_PUNCT`] / hex / alnum or [`TOK_PUNCT`].
    numeric: usize,
    hex: usize,
    token: usize,
    switches: usize,
}

pub(super) fn shape(t: &[u8]) -> Shape {
    let mut s = Shape::default();
    let mut prev_digit = None;
    for &b in t {
        let c = CLASS[b as usize];
        s.any |= c;
        let digit = c & DIGIT != 0;
        s.digits += usize::from(digit);
        s.letters += usize::from(c & LETTER != 0);
        s.numeric += usize::from(c & (DIGIT | NUM_PUNCT) != 0);
        s.hex += usize::from(c & (DIGIT | HEX_LETTER) != 0);
        s.token += usize::from(c & (DIGIT | LETTER | TOK_PUNCT) != 0);
        if c & (DIGIT | LETTER) != 0 {
            s.switches += usize::from(prev_digit.is_some_and(|p| p != digit));
            prev_digit = Some(digit);
        }
    }
    s
}

impl Shape {
    /// Every byte of `t` (whose shape this is) a hex digit.
    pub(super) fn all_hex(&self, t: &[u8]) -> bool {
        self.hex == t.len()
    }
}

/// The identifier rules for one token (see the module docs).
pub(super) fn is_identifier(t: &[u8]) -> bool {
    !t.is_empty() && shape_is_identifier(t, &shape(t))
}

pub(super) fn shape_is_identifier(t: &[u8], s: &Shape) -> bool {
    let n = t.len();
    // Numbers, dates, times, versions, addresses.
    if s.digits > 0
        && s.numeric == n
        && s.digits >= n - s.digits
        && (t[0].is_ascii_digit() || t[0] == b'-' || t[0] == b'+')
    {
        return true;
    }
    // Hex.
    if s.hex == n && (n >= 8 || (n >= 4 && s.digits > 0 && s.letters > 0)) {
        return true;
    }
    // Random tokens.
    if s.digits > 0 && s.letters > 0 && s.token == n && (n >= 12 || (n >= 8 && s.switches >= 3)) {
        return true;
    }
    // UUID.
    n == 36
        && t.iter().enumerate().all(|(i, &b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

pub(super) fn is_email(t: &[u8]) -> bool {
    t.iter()
        .position(|&b| b == b'@')
        .is_some_and(|p| p > 0 && p + 1 < t.len())
}

/// Control bytes, or bytes that are not UTF-8 (`s` is the shape of `t`).
pub(super) fn is_binary(t: &[u8], s: &Shape) -> bool {
    s.any & ODD != 0
        && (t.iter().any(|&b| b < 0x20 || b == 0x7f) || std::str::from_utf8(t).is_err())
}

/// A whole segment (or the rest of one) that is one identifier: the shape
/// rules, a UUID, an e-mail address or a base64url token.
pub(super) fn whole_identifier(t: &[u8], s: &Shape) -> bool {
    !t.is_empty() && (shape_is_identifier(t, s) || is_email(t) || is_b64_token(t, s))
}

/// A base64 / base64url token of 16 bytes or more: both cases of letters,
/// 2 digits or more (and `+/=-_`), that change class (lower, upper, digit, other) at least every
/// other byte, as random text does and names (`Some_Class_Name2`) do not.
pub(super) fn is_b64_token(t: &[u8], s: &Shape) -> bool {
    if t.len() < 16 || s.digits < 2 || s.letters == 0 {
        return false;
    }
    let mut prev = 255u8;
    let mut changes = 0;
    let mut cases = 0u8;
    for &b in t {
        let c = match b {
            b'a'..=b'z' => 0,
            b'A'..=b'Z' => 1,
            b'0'..=b'9' => 2,
            b'+' | b'/' | b'=' | b'-' | b'_' => 3,
            _ => return false,
        };
        changes += usize::from(prev != 255 && c != prev);
        cases |= 1 << c;
        prev = c;
    }
    // Few `-`/`_` (1 in 32 bytes of random base64url), and no leading
    // name (`job-…`).
    let inner = t.iter().filter(|&&b| b == b'-' || b == b'_').count();
    let word = t.iter().take_while(|b| b.is_ascii_lowercase()).count();
    let named = word >= 2 && matches!(t.get(word), Some(b'-' | b'_'));
    cases & 3 == 3 && changes * 2 >= t.len() && inner * 8 <= t.len() && !named
}

/// A UUID (`8-4-4-4-12` hex digits, any case) at the start of `t`.
pub(super) fn uuid_at(t: &[u8]) -> bool {
    t.len() >= 36
        && t[..36].iter().enumerate().all(|(i, &b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

/// An alphabetic stem and an identifier tail (`usercart12345`,
/// `sess8f3a9c01`): the stem's length. The tail starts at the first digit
/// and is 4 digits or more, or letters of one case and digits, 6 bytes or
/// more; the stem is 2 letters or more (`v2`, `sha256`, `utf8` stay).
pub(super) fn stem_len(t: &[u8]) -> Option<usize> {
    let stem = t.iter().position(|b| !b.is_ascii_alphabetic())?;
    let tail = &t[stem..];
    if stem < 2 || !tail[0].is_ascii_digit() || !tail.iter().all(u8::is_ascii_alphanumeric) {
        return None;
    }
    let digits = tail.iter().filter(|b| b.is_ascii_digit()).count();
    let ok = if digits == tail.len() {
        tail.len() >= 4
    } else {
        // One case only: a mixed-case tail is a token's (`aGVsbG8gd29y`).
        tail.len() >= 6
            && (tail.iter().all(|b| !b.is_ascii_uppercase())
                || tail.iter().all(|b| !b.is_ascii_lowercase()))
    };
    ok.then_some(stem)
}

fn digits_at(t: &[u8], i: usize, n: usize) -> bool {
    t.len() >= i + n && t[i..i + n].iter().all(u8::is_ascii_digit)
}

/// The length of a time (`12:30`, `12:30:00.5`, `2024-11-05T12:30:00Z`,
/// `…+01:00`) or an IPv6 address (`2001:db8::1`, `::1`, a network
/// `2001:db8::/56`) at the start of
/// `t`: identifiers that hold `:`, checked before a key is split on it.
/// The caller checks that a boundary follows.
pub(super) fn colon_span(t: &[u8]) -> Option<usize> {
    time_span(t).or_else(|| ipv6_span(t))
}

fn time_span(t: &[u8]) -> Option<usize> {
    let mut i = 0;
    if digits_at(t, 0, 4)
        && t.get(4) == Some(&b'-')
        && digits_at(t, 5, 2)
        && t.get(7) == Some(&b'-')
        && digits_at(t, 8, 2)
        && matches!(t.get(10), Some(b'T' | b't' | b' '))
    {
        i = 11;
    }
    let h = t[i.min(t.len())..]
        .iter()
        .take(3)
        .take_while(|b| b.is_ascii_digit())
        .count();
    if !(1..=2).contains(&h) || t.get(i + h) != Some(&b':') || !digits_at(t, i + h + 1, 2) {
        return None;
    }
    i += h + 3;
    if t.get(i) == Some(&b':') && digits_at(t, i + 1, 2) {
        i += 3;
        if matches!(t.get(i), Some(b'.' | b',')) && digits_at(t, i + 1, 1) {
            i += 1;
            while digits_at(t, i, 1) {
                i += 1;
            }
        }
    }
    match t.get(i) {
        Some(b'Z' | b'z') => i += 1,
        Some(b'+' | b'-') if digits_at(t, i + 1, 2) => {
            i += 3;
            if t.get(i) == Some(&b':') && digits_at(t, i + 1, 2) {
                i += 3;
            } else if digits_at(t, i, 2) {
                i += 2;
            }
        }
        _ => {}
    }
    Some(i)
}

fn ipv6_span(t: &[u8]) -> Option<usize> {
    let mut i = 0;
    let mut groups = 0;
    let mut colons = 0;
    let mut double = false;
    let mut digit = false;
    if t.starts_with(b"::") {
        double = true;
        colons = 2;
        i = 2;
    }
    loop {
        let g = t[i..]
            .iter()
            .take(5)
            .take_while(|b| b.is_ascii_hexdigit())
            .count();
        if g == 0 {
            break;
        }
        if g > 4 {
            return None;
        }
        digit |= t[i..i + g].iter().any(u8::is_ascii_digit);
        groups += 1;
        i += g;
        match (t.get(i), t.get(i + 1)) {
            (Some(b':'), Some(b':')) if !double => {
                double = true;
                colons += 2;
                i += 2;
            }
            (Some(b':'), Some(b)) if b.is_ascii_hexdigit() => {
                colons += 1;
                i += 1;
            }
            _ => break,
        }
    }
    let ok = colons >= 2 && digit && if double { groups <= 7 } else { groups == 8 };
    // A network in CIDR form (`2001:db8:85a3:1200::/56`, as rate limiters
    // key IPv6 clients): the prefix length is part of the address.
    if ok && t.get(i) == Some(&b'/') {
        let len = t[i + 1..]
            .iter()
            .take(4)
            .take_while(|b| b.is_ascii_digit())
            .count();
        if (1..=3).contains(&len) {
            i += 1 + len;
        }
    }
    ok.then_some(i)
}
