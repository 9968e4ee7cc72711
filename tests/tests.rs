//! Integration tests.
mod analyze;
mod api_input;
mod approvals;
mod cleanup;
mod conformance;
mod console;
mod diff;
mod faults;
mod formats;
mod house;
mod interop;
mod migrate;
mod patterns;
mod report;
mod roundtrip;
mod service;
mod service_cli;
