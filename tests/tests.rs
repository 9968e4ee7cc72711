//! Integration tests.
mod analyze;
mod cleanup;
mod conformance;
mod house;
mod interop;
mod migrate;
mod patterns;
mod report;
mod roundtrip;
mod service;
mod service_cli;
