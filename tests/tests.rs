//! Integration tests.
mod conformance;
mod roundtrip;
