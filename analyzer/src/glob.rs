//! Redis glob patterns (`KEYS`/`SCAN MATCH` syntax) over byte strings:
//! `rdbscope dump --match` and the job service's cleanup and migration
//! filters match keys the way the server does.
//!
//! Hand-written because no well-kept crate implements Redis's byte-glob
//! semantics (`stringmatchlen` in Redis's `util.c`: bytes, not characters;
//! `\` escapes inside and outside classes; `[^...]` negation; reversed
//! ranges; an unterminated class closed by the pattern's end).

/// A compiled pattern.
#[derive(Clone, Debug)]
pub struct Glob {
    pattern: Vec<u8>,
}

impl Glob {
    /// Compiles `pattern`.
    pub fn new(pattern: &[u8]) -> Glob {
        Glob {
            pattern: pattern.to_vec(),
        }
    }

    /// True when `text` matches the whole pattern.
    pub fn matches(&self, text: &[u8]) -> bool {
        glob_match(&self.pattern, text)
    }
}

/// Matches one pattern element (not '*') at `p` against byte `c`; returns
/// whether it matched and the position after the element.
fn match_one(p: &[u8], mut i: usize, c: u8) -> (bool, usize) {
    match p[i] {
        b'?' => (true, i + 1),
        b'\\' if i + 1 < p.len() => (p[i + 1] == c, i + 2),
        b'[' => {
            i += 1;
            let negate = i < p.len() && p[i] == b'^';
            if negate {
                i += 1;
            }
            let mut matched = false;
            loop {
                if i >= p.len() {
                    break; // Unterminated class: Redis treats the end as closing it.
                }
                if p[i] == b']' {
                    i += 1;
                    break;
                }
                if p[i] == b'\\' && i + 1 < p.len() {
                    if p[i + 1] == c {
                        matched = true;
                    }
                    i += 2;
                } else if i + 2 < p.len() && p[i + 1] == b'-' && p[i + 2] != b']' {
                    let (mut lo, mut hi) = (p[i], p[i + 2]);
                    if lo > hi {
                        std::mem::swap(&mut lo, &mut hi);
                    }
                    if (lo..=hi).contains(&c) {
                        matched = true;
                    }
                    i += 3;
                } else {
                    if p[i] == c {
                        matched = true;
                    }
                    i += 1;
                }
            }
            (matched != negate, i)
        }
        lit => (lit == c, i + 1),
    }
}

/// Whether `t` matches the Redis glob `p` as a whole (`*`, `?`, `[a-z]`,
/// `[^x]`, `\\` escapes). Iterative, with a single backtrack point per `*`:
/// O(len(p) * len(t)).
pub fn glob_match(p: &[u8], t: &[u8]) -> bool {
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == b'*' {
            while pi < p.len() && p[pi] == b'*' {
                pi += 1;
            }
            if pi == p.len() {
                return true;
            }
            star = Some((pi, ti));
            continue;
        }
        if pi < p.len() {
            let (ok, next) = match_one(p, pi, t[ti]);
            if ok {
                pi = next;
                ti += 1;
                continue;
            }
        }
        match star {
            Some((sp, st)) => {
                pi = sp;
                ti = st + 1;
                star = Some((sp, st + 1));
            }
            None => return false,
        }
    }
    while pi < p.len() && p[pi] == b'*' {
        pi += 1;
    }
    pi == p.len()
}

#[cfg(test)]
mod tests {
    use super::glob_match as m;

    #[test]
    fn redis_glob_semantics() {
        assert!(m(b"*", b""));
        assert!(m(b"user:*", b"user:1"));
        assert!(!m(b"user:*", b"use"));
        assert!(m(b"h?llo", b"hello"));
        assert!(m(b"h[ae]llo", b"hallo"));
        assert!(!m(b"h[^e]llo", b"hello"));
        assert!(m(b"h[a-b]llo", b"hbllo"));
        assert!(m(b"h\\*llo", b"h*llo"));
        assert!(!m(b"h\\*llo", b"hallo"));
        assert!(m(b"*:*:profile", b"user:42:profile"));
        assert!(!m(b"*:*:profile", b"user:42:profiles"));
        assert!(m(b"a*b*c", b"aXXbYYbc"));
        assert!(m(b"\xff*", b"\xff\x00"));
    }
}
