//! Integration tests.
mod analyze;
mod cleanup;
mod conformance;
mod console;
mod house;
mod interop;
mod migrate;
mod report;
mod roundtrip;
mod service;
mod service_cli;
