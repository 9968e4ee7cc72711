//! Integration tests.
mod analyze;
mod api_input;
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
mod prefix_cut;
mod report;
mod roundtrip;
mod service;
mod service_cli;
