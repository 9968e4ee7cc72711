//! Bearer tokens: random, shown once, stored only as their SHA-256.

use std::io::Read;

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `n` bytes from the OS's random source.
pub fn random_bytes(n: usize) -> Result<Vec<u8>> {
    let mut buf = vec![0u8; n];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .map_err(|e| Error::internal(format!("cannot read /dev/urandom: {e}")))?;
    Ok(buf)
}

/// A new token: `rdbs_` and 32 random bytes in hex.
pub fn new_token() -> Result<String> {
    Ok(format!("rdbs_{}", hex(&random_bytes(32)?)))
}

/// What the store keeps of a token.
pub fn token_hash(token: &str) -> String {
    sha256_hex(token.as_bytes())
}

/// SHA-256 in hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Checks a user name: 1–64 of letters, digits, `.`, `_`, `-`, `@`.
pub fn check_name(what: &str, name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    if ok {
        Ok(())
    } else {
        Err(Error::bad_request(format!(
            "{what} {name:?} must be 1-64 letters, digits, '.', '_', '-' or '@'"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_hashed() {
        let a = new_token().unwrap();
        let b = new_token().unwrap();
        assert_ne!(a, b);
        assert!(a.starts_with("rdbs_") && a.len() == 5 + 64);
        assert_eq!(token_hash(&a), token_hash(&a));
        assert_ne!(token_hash(&a), token_hash(&b));
        // Known SHA-256 vector.
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(check_name("user", "alice.b-1").is_ok());
        assert!(check_name("user", "").is_err());
        assert!(check_name("user", "a b").is_err());
    }
}
