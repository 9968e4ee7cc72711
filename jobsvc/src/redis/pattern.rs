//! Which keys a job selects: key types, literal prefixes and Redis globs.

use serde::{Deserialize, Serialize};

/// Key types a cleanup can be limited to.
pub const KEY_TYPES: [&str; 6] = ["string", "list", "set", "zset", "hash", "stream"];

/// The longest glob a pattern may make: Redis matches a glob against every
/// key scanned, so a longer one only costs the server.
pub const MAX_PATTERN_BYTES: usize = 1024;

/// What selects keys: a literal prefix (its glob metacharacters are
/// escaped) or a Redis glob as `SCAN MATCH` takes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum Pattern {
    /// Keys starting with these bytes.
    Prefix(String),
    /// Keys matching this glob.
    Glob(String),
}

impl Pattern {
    /// The `SCAN MATCH` glob.
    pub fn glob(&self) -> String {
        match self {
            Pattern::Prefix(p) => {
                let mut g = String::with_capacity(p.len() + 2);
                for c in p.chars() {
                    if matches!(c, '*' | '?' | '[' | ']' | '\\') {
                        g.push('\\');
                    }
                    g.push(c);
                }
                g.push('*');
                g
            }
            Pattern::Glob(g) => g.clone(),
        }
    }

    /// Refuses a pattern whose glob is longer than [`MAX_PATTERN_BYTES`].
    pub fn check_len(&self) -> Result<(), String> {
        let n = self.glob().len();
        if n > MAX_PATTERN_BYTES {
            return Err(format!(
                "a pattern of {n} bytes: at most {MAX_PATTERN_BYTES} (as a glob)"
            ));
        }
        Ok(())
    }

    /// Whether it matches every key (an empty prefix, a glob of only `*`).
    pub fn matches_everything(&self) -> bool {
        let g = self.glob();
        !g.is_empty() && g.bytes().all(|b| b == b'*')
    }
}

/// Redis glob matching, shared with the CLI's `dump --match`.
pub use analyzer::glob::glob_match;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_escaped() {
        let p = Pattern::Prefix("a*b?[c]\\:".into());
        assert_eq!(p.glob(), "a\\*b\\?\\[c\\]\\\\:*");
        assert!(glob_match(p.glob().as_bytes(), b"a*b?[c]\\:1"));
        assert!(!glob_match(p.glob().as_bytes(), b"axb?[c]\\:1"));
        assert!(glob_match(b"tmp:*:x", b"tmp:12:x"));
        assert!(!glob_match(b"tmp:*:x", b"tmp:12:y"));
    }
}
