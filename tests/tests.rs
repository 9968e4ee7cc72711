//! Integration tests.
mod analyze;
mod conformance;
mod interop;
mod roundtrip;
mod service;
