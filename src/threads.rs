//! The size of the global rayon pool, set once from `--threads`.

/// Sets the size of the global rayon pool once.
pub(crate) fn init_threads(threads: Option<usize>) {
    if let Some(n) = threads.filter(|&n| n > 0) {
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global();
    }
}
