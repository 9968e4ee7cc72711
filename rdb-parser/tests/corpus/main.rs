//! The public RDB corpus (`../shared/rdb-corpus`, see its MANIFEST.md), read completely.
//!
//! * every file parses to the end, every value decodes completely and the
//!   checksum holds, except the files the MANIFEST marks as bad on purpose,
//!   which must fail the specific way they are bad;
//! * what the parser finds agrees with the MANIFEST's structural facts
//!   (size, version, value types and their counts, DB numbers, opcodes,
//!   module names, checksum state), plus a few facts stated in prose;
//! * reading chunks in parallel gives exactly what one sequential pass gives.
//!
//! Without the corpus every test prints a SKIP line (from testkit) and passes.

mod bad_on_purpose;
mod enterprise;
mod every_file;
mod files;
mod manifest;
mod parallel;
mod redis88;
mod walk;
