//! Keys and memory per cluster hash tag (`{...}` in the key), bounded.

use std::collections::HashMap;

use crate::model::Bucket;

/// Most distinct hash tags tracked; beyond, the table is dropped and the
/// report says so (the slots table still has everything).
pub(crate) const HASH_TAG_CAP: usize = 100_000;

/// Keys and memory per hash tag: exact while the file has at most
/// [`HASH_TAG_CAP`] distinct tags, otherwise marked overflowed, so the
/// result does not depend on how the work was split.
#[derive(Clone, Debug, Default)]
pub struct HashTagAcc {
    tags: HashMap<Box<[u8]>, Bucket>,
    overflowed: bool,
}

impl HashTagAcc {
    /// Counts a key whose hash tag is `tag` (none: nothing to count; most
    /// keys have none, so that test is inlined).
    #[inline(always)]
    pub(super) fn add(&mut self, tag: Option<&[u8]>, memory: u64) {
        if let Some(tag) = tag {
            self.add_tag(tag, memory);
        }
    }

    fn add_tag(&mut self, tag: &[u8], memory: u64) {
        if self.overflowed {
            return;
        }
        let len = self.tags.len();
        if let Some(b) = self.tags.get_mut(tag) {
            b.add(memory);
        } else if len < HASH_TAG_CAP {
            let mut b = Bucket::default();
            b.add(memory);
            self.tags.insert(tag.into(), b);
        } else {
            self.overflowed = true;
            self.tags.clear();
        }
    }

    pub(super) fn merge(&mut self, o: HashTagAcc) {
        if self.overflowed || o.overflowed {
            self.overflowed = true;
            self.tags.clear();
            return;
        }
        for (t, b) in o.tags {
            self.tags.entry(t).or_default().merge(b);
        }
        if self.tags.len() > HASH_TAG_CAP {
            self.overflowed = true;
            self.tags.clear();
        }
    }

    /// Whether the file had more distinct tags than the cap.
    pub fn overflowed(&self) -> bool {
        self.overflowed
    }

    /// Number of distinct tags (0 when overflowed).
    pub fn len(&self) -> usize {
        self.tags.len()
    }

    /// True when no key has a hash tag (or the cap was passed).
    pub fn is_empty(&self) -> bool {
        self.tags.is_empty()
    }

    /// The `n` tags holding the most memory, most first (ties by tag).
    pub fn top(&self, n: usize) -> Vec<(&[u8], Bucket)> {
        let mut v: Vec<(&[u8], Bucket)> = self.tags.iter().map(|(t, b)| (&t[..], *b)).collect();
        v.sort_by(|a, b| {
            b.1.memory_bytes
                .cmp(&a.1.memory_bytes)
                .then(b.1.keys.cmp(&a.1.keys))
                .then(a.0.cmp(b.0))
        });
        v.truncate(n);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_tags_are_counted_and_merge_like_one_pass() {
        let keys: Vec<Vec<u8>> = (0..300)
            .map(|i| format!("{{user{}}}:k{i}", i % 7).into_bytes())
            .collect();
        // As from_entry finds them.
        let tag = |k: &[u8]| {
            let t = crate::slot::hash_tag(k);
            (t.len() != k.len()).then(|| t.to_vec())
        };
        let mut whole = HashTagAcc::default();
        let (mut a, mut b) = (HashTagAcc::default(), HashTagAcc::default());
        for (i, k) in keys.iter().enumerate() {
            whole.add(tag(k).as_deref(), 10);
            if i % 2 == 0 {
                a.add(tag(k).as_deref(), 10)
            } else {
                b.add(tag(k).as_deref(), 10)
            }
        }
        whole.add(tag(b"no-tag").as_deref(), 5);
        whole.add(tag(b"empty{}tag").as_deref(), 5);
        a.merge(b);
        assert_eq!(whole.len(), 7);
        assert_eq!(whole.top(10), a.top(10));
        let top = whole.top(1);
        assert_eq!((top[0].0, top[0].1.keys), (&b"user0"[..], 43));
        let mut big = HashTagAcc::default();
        for i in 0..=HASH_TAG_CAP {
            big.add(tag(format!("{{t{i}}}").as_bytes()).as_deref(), 1);
        }
        assert!(big.overflowed() && big.is_empty());
    }
}
