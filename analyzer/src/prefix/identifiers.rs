//! The identifier rules: which segments of a key are ids (numbers, dates,
//! UUIDs, hex, random tokens, e-mail addresses, binary) and become `*`.

const DIGIT: u8 = 1;
const HEX_LETTER: u8 = 2;
const LETTER: u8 = 4;
/// `-._+,TZ`: between the digits of numbers, dates and times.
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
    let num = b"-._+,TZ";
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
        && (t[0].is_ascii_digit() || t[0] == b'-')
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
