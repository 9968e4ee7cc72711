//! Failures as [`Error`]s of the right kind: error replies from the node
//! (transient, authentication), I/O timeouts, protocol violations, and a
//! cancelled fetch.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::{Error, ErrorKind, Result};

/// Errors out (a conflict) once `cancel` is set.
pub(crate) fn check_cancel(cancel: &AtomicBool) -> Result<()> {
    if cancel.load(Ordering::SeqCst) {
        Err(Error::conflict("stopped: cancelled"))
    } else {
        Ok(())
    }
}

/// A protocol violation (an internal error).
pub(crate) fn protocol(msg: String) -> Error {
    Error::internal(format!("protocol violation: {msg}"))
}

/// A short printable form of a reply line for messages.
pub(crate) fn show(bytes: &[u8]) -> String {
    let mut s: String = bytes
        .iter()
        .take(80)
        .flat_map(|&b| std::ascii::escape_default(b))
        .map(char::from)
        .collect();
    if bytes.len() > 80 {
        s.push('…');
    }
    s
}

/// Whether an I/O error is a socket timeout.
pub(crate) fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// Error replies that mean "try again later": the node is loading, its own
/// master link is down, it is busy, or it could not fork.
pub(crate) fn is_transient_error(msg: &str) -> bool {
    let code = msg.split_whitespace().next().unwrap_or("");
    if matches!(
        code,
        "LOADING" | "BUSY" | "TRYAGAIN" | "MASTERDOWN" | "NOMASTERLINK" | "CLUSTERDOWN"
    ) {
        return true;
    }
    let lower = msg.to_ascii_lowercase();
    [
        "fork",
        "bgsave failed",
        "busy",
        "try again",
        "loading",
        "not connected with my master",
    ]
    .iter()
    .any(|w| lower.contains(w))
}

/// Error replies that mean bad or missing credentials or permissions.
pub(crate) fn is_auth_error(msg: &str) -> bool {
    let code = msg.split_whitespace().next().unwrap_or("");
    if matches!(code, "NOAUTH" | "WRONGPASS" | "NOPERM") {
        return true;
    }
    let lower = msg.to_ascii_lowercase();
    lower.contains("invalid password")
        || lower.contains("invalid username-password")
        || lower.contains("no password is set")
        || lower.contains("without any password configured")
        || lower.contains("authentication required")
}

/// An error reply from the node as an [`Error`] of the right kind.
pub(crate) fn server_error(msg: &str, what: &str) -> Error {
    let kind = if is_transient_error(msg) {
        ErrorKind::Transient
    } else {
        ErrorKind::Internal
    };
    let hint = if msg.starts_with("NOAUTH") {
        " (the node needs a password: set the app's password)"
    } else if msg.starts_with("WRONGPASS") || is_auth_error(msg) && !msg.starts_with("NOPERM") {
        " (check the app's user and password)"
    } else if msg.starts_with("NOPERM") {
        " (the app's user lacks a permission this needs)"
    } else {
        ""
    };
    Error::new(kind, format!("{what}: the node replied `{msg}`{hint}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_kinds() {
        assert!(is_transient_error(
            "LOADING Redis is loading the dataset in memory"
        ));
        assert!(is_transient_error(
            "NOMASTERLINK Can't SYNC while not connected with my master"
        ));
        assert!(is_transient_error(
            "ERR BGSAVE failed, replication can't continue"
        ));
        assert!(!is_transient_error("ERR unknown command 'PSYNC'"));
        assert!(is_auth_error(
            "WRONGPASS invalid username-password pair or user is disabled."
        ));
        assert!(is_auth_error("NOAUTH Authentication required."));
        assert!(is_auth_error("ERR invalid password"));
        assert_eq!(
            server_error("NOAUTH Authentication required.", "x").kind,
            ErrorKind::Internal
        );
    }
}
