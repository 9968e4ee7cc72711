//! Integration tests.
mod conformance;
