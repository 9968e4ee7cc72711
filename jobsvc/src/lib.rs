//! Placeholder: the job service arrives with its issue.
