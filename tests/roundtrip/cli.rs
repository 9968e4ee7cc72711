//! Running the `rdbscope` binary and describing what it did.

use std::ffi::OsStr;
use std::process::{Command, Output, Stdio};

use super::report::trunc;

pub(super) fn cli<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    Command::new(env!("CARGO_BIN_EXE_rdbscope"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run rdbscope")
}

pub(super) fn describe(out: &Output) -> String {
    format!(
        "exit {:?}; stderr: {}; stdout starts: {}",
        out.status.code(),
        trunc(String::from_utf8_lossy(&out.stderr).trim()),
        trunc(&String::from_utf8_lossy(
            &out.stdout[..out.stdout.len().min(300)]
        ))
    )
}
