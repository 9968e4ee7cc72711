//! Integration tests.
mod analyze;
mod cleanup;
mod conformance;
mod interop;
mod roundtrip;
mod service;
mod service_cli;
