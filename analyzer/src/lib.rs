//! Placeholder: the analyzer arrives with its issue.
