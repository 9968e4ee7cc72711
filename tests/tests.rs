//! Integration tests.
mod analyze;
mod conformance;
mod roundtrip;
