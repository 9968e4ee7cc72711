//! Integration tests.
mod analyze;
mod cleanup;
mod conformance;
mod formats;
mod house;
mod interop;
mod migrate;
mod report;
mod roundtrip;
mod service;
mod service_cli;
