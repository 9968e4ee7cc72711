//! The crate's one error type. Its kind decides two things: the HTTP status
//! a request gets, and whether the scheduler retries a job that hit it.

use std::fmt;

/// What kind of failure this is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The request is malformed or names something invalid (400).
    BadRequest,
    /// No token, or a token that matches no user (401).
    Unauthorized,
    /// The user may not do this (403).
    Forbidden,
    /// No such ticket, app, user or report file (404).
    NotFound,
    /// Not possible in the current state (409).
    Conflict,
    /// Trying again later may work: connection refused or reset, a timeout,
    /// a server still `LOADING`, a busy node.
    Transient,
    /// Anything else: a bug, a broken store, a protocol violation, a failed
    /// authentication against a node. Not retried.
    Internal,
}

/// How the message of an error that is a node's silence begins (a socket
/// timeout, or a pipeline's replies not all back by its deadline).
pub const TIMED_OUT: &str = "timed out waiting for the node";

/// An error with its kind and a message meant for people.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    /// What kind of failure.
    pub kind: ErrorKind,
    /// What went wrong, with the context that makes it actionable.
    pub message: String,
}

impl Error {
    /// An error of `kind`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            kind,
            message: message.into(),
        }
    }
    /// 400.
    pub fn bad_request(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::BadRequest, message)
    }
    /// 403.
    pub fn forbidden(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Forbidden, message)
    }
    /// 404.
    pub fn not_found(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::NotFound, message)
    }
    /// 409.
    pub fn conflict(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Conflict, message)
    }
    /// Retryable.
    pub fn transient(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Transient, message)
    }
    /// Not retryable.
    pub fn internal(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Internal, message)
    }
    /// Whether a job that failed with this error should be tried again.
    pub fn is_transient(&self) -> bool {
        self.kind == ErrorKind::Transient
    }
    /// Whether a node stopped answering (see [`TIMED_OUT`]).
    pub fn is_timeout(&self) -> bool {
        self.message.contains(TIMED_OUT)
    }
    /// The same error with `context: ` in front of its message.
    pub fn context(mut self, context: impl fmt::Display) -> Error {
        self.message = format!("{context}: {}", self.message);
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Error {
        use std::io::ErrorKind as K;
        let kind = match e.kind() {
            K::ConnectionRefused
            | K::ConnectionReset
            | K::ConnectionAborted
            | K::TimedOut
            | K::WouldBlock
            | K::UnexpectedEof
            | K::BrokenPipe
            | K::Interrupted => ErrorKind::Transient,
            _ => ErrorKind::Internal,
        };
        Error::new(kind, e.to_string())
    }
}

impl From<redis::RedisError> for Error {
    fn from(e: redis::RedisError) -> Error {
        let transient = e.is_io_error()
            || e.is_timeout()
            || e.is_connection_refusal()
            || e.is_connection_dropped()
            || matches!(
                e.code(),
                Some("LOADING")
                    | Some("BUSY")
                    | Some("TRYAGAIN")
                    | Some("MASTERDOWN")
                    | Some("CLUSTERDOWN")
            );
        Error::new(
            if transient {
                ErrorKind::Transient
            } else {
                ErrorKind::Internal
            },
            if e.is_timeout() {
                // A socket timeout reads "Resource temporarily unavailable".
                format!("{TIMED_OUT}: {e}")
            } else {
                e.to_string()
            },
        )
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
