//! Every corpus file parses to the end (or fails the way it is bad on purpose).

use rdb_parser::{ChecksumStatus, Rdb};

use super::files::{load_corpus, BAD_ON_PURPOSE, TRAILING_BYTES};
use super::walk::walk_all;

#[test]
fn every_corpus_file_parses_to_the_end() {
    let Some((_, files)) = load_corpus() else {
        return;
    };
    let mut failures = Vec::new();
    let mut checked = 0;
    for f in &files {
        if BAD_ON_PURPOSE.contains(&f.rel.as_str()) {
            continue;
        }
        checked += 1;
        match walk_all(&f.data) {
            Err(e) => failures.push(format!("{}: {e}", f.rel)),
            Ok(s) => {
                if !s.inconsistencies.is_empty() {
                    failures.push(format!("{}: inconsistent: {:?}", f.rel, s.inconsistencies));
                }
                if !matches!(
                    s.checksum,
                    ChecksumStatus::Verified(_) | ChecksumStatus::Disabled | ChecksumStatus::Absent
                ) {
                    failures.push(format!("{}: checksum {:?}", f.rel, s.checksum));
                }
                let trailing = TRAILING_BYTES
                    .iter()
                    .find(|(n, _)| *n == f.rel)
                    .map_or(0, |(_, t)| *t);
                if s.trailing_bytes != trailing {
                    failures.push(format!(
                        "{}: {} bytes after the checksum",
                        f.rel, s.trailing_bytes
                    ));
                }
                let checksum_len = if Rdb::new(&f.data).map(|r| r.has_checksum()).unwrap_or(false) {
                    8
                } else {
                    0
                };
                if s.eof_offset + 1 + checksum_len + s.trailing_bytes != f.data.len() as u64 {
                    failures.push(format!(
                        "{}: EOF at {} in {} bytes",
                        f.rel,
                        s.eof_offset,
                        f.data.len()
                    ));
                }
                // (A stream's length field need not equal its live entries:
                // several Redis 5.0 files say 120 for a trimmed stream holding
                // 118, as HDT3213's expected output also shows.)
                if s.stream.entries > s.stream_lengths + 8 {
                    failures.push(format!(
                        "{}: {} live stream entries, lengths say {}",
                        f.rel, s.stream.entries, s.stream_lengths
                    ));
                }
            }
        }
    }
    for bad in BAD_ON_PURPOSE {
        assert!(
            files.iter().any(|f| f.rel == bad),
            "corpus lacks {bad}, which the MANIFEST lists"
        );
    }
    eprintln!("walked {checked} corpus files completely");
    assert!(
        failures.is_empty(),
        "{} of {checked} files failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
