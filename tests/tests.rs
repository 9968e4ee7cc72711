//! Integration tests.
mod analyze;
mod cleanup;
mod conformance;
mod interop;
mod migrate;
mod roundtrip;
mod service;
mod service_cli;
