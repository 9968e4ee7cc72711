//! The top-N lists: the `n` highest-ranked keys by one metric, ranked the
//! same whatever the split of the work.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use crate::facts::KeyFacts;
use crate::model::BigKey;

/// A big key ranked by one metric; "greater" means "ranks higher": larger
/// metric, then smaller (db, key), so results do not depend on threads.
#[derive(Debug)]
pub(super) struct Ranked {
    pub(super) metric: u64,
    pub(super) key: BigKey,
}

fn rank(metric: u64, db: u64, key: &[u8], o_metric: u64, o_db: u64, o_key: &[u8]) -> Ordering {
    metric
        .cmp(&o_metric)
        .then_with(|| (o_db, o_key).cmp(&(db, key)))
}

impl Ord for Ranked {
    fn cmp(&self, o: &Ranked) -> Ordering {
        rank(
            self.metric,
            self.key.db,
            &self.key.key,
            o.metric,
            o.key.db,
            &o.key.key,
        )
    }
}
impl PartialOrd for Ranked {
    fn partial_cmp(&self, o: &Ranked) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl PartialEq for Ranked {
    fn eq(&self, o: &Ranked) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}
impl Eq for Ranked {}

/// The `n` highest-ranked keys seen; a min-heap whose top is the one to evict.
#[derive(Debug, Default)]
pub(super) struct TopN {
    pub(super) heap: BinaryHeap<Reverse<Ranked>>,
    /// The evictee's metric once the list is full (0 before): a key below
    /// it is turned away without a look at the heap.
    pub(super) floor: u64,
}

impl TopN {
    /// Offers a key; copies its bytes only if it makes the list.
    #[inline(always)]
    pub(super) fn offer(&mut self, n: usize, metric: u64, f: &KeyFacts<'_>, memory: u64) {
        if metric < self.floor {
            return;
        }
        self.offer_checked(n, metric, f, memory);
    }

    fn offer_checked(&mut self, n: usize, metric: u64, f: &KeyFacts<'_>, memory: u64) {
        if n == 0 {
            return;
        }
        if self.heap.len() >= n {
            let worst = &self.heap.peek().expect("non-empty").0;
            if rank(
                metric,
                f.db,
                f.key,
                worst.metric,
                worst.key.db,
                &worst.key.key,
            ) != Ordering::Greater
            {
                return;
            }
            self.heap.pop();
        }
        self.heap.push(Reverse(Ranked {
            metric,
            key: BigKey::of(f, memory),
        }));
        self.set_floor(n);
    }

    fn set_floor(&mut self, n: usize) {
        if self.heap.len() >= n {
            self.floor = self.heap.peek().map_or(0, |w| w.0.metric);
        }
    }

    fn offer_ranked(&mut self, n: usize, r: Ranked) {
        if n == 0 {
            return;
        }
        if self.heap.len() >= n {
            if self.heap.peek().is_some_and(|w| r <= w.0) {
                return;
            }
            self.heap.pop();
        }
        self.heap.push(Reverse(r));
        self.set_floor(n);
    }

    pub(super) fn merge(&mut self, n: usize, o: TopN) {
        for Reverse(r) in o.heap {
            self.offer_ranked(n, r);
        }
    }
}
