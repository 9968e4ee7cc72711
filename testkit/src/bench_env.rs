//! The benches' settings from the environment.

/// `name` as a number within `lo..=hi`, else `default`; a number out of
/// range stops the bench with the range to give.
pub fn env_u64(name: &str, default: u64, lo: u64, hi: u64) -> u64 {
    let v = std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    assert!((lo..=hi).contains(&v), "{name}: give {lo} to {hi}");
    v
}

/// `name` as a comma-separated list (items trimmed, empty ones dropped),
/// else `default`'s items.
pub fn env_list(name: &str, default: &str) -> Vec<String> {
    std::env::var(name)
        .unwrap_or_else(|_| default.into())
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}
