//! Two example keys per pattern: the two smallest (bytewise), the same
//! whatever the threads and the order of keys.

/// Up to two distinct keys, smallest first (`len` of them). A key that
/// replaces one is copied into the buffer of the one dropped, so once the
/// buffers have grown to the keys' length no key allocates.
#[derive(Clone, Debug, Default)]
pub(super) struct Examples {
    keys: [Vec<u8>; 2],
    len: u8,
}

impl Examples {
    /// Keeps `key` if it is one of the two smallest seen: one comparison
    /// once two are held and `key` is not smaller.
    #[inline(always)]
    pub(super) fn offer(&mut self, key: &[u8]) {
        if self.len == 2 && not_less(key, &self.keys[1]) {
            return;
        }
        self.offer_slow(key);
    }

    #[cold]
    fn offer_slow(&mut self, key: &[u8]) {
        let at = if self.len == 0 || key < &self.keys[0][..] {
            0
        } else if key == &self.keys[0][..] || (self.len == 2 && key >= &self.keys[1][..]) {
            return;
        } else {
            1
        };
        if at == 0 {
            // The first moves to second; the second's buffer takes `key`.
            self.keys.swap(0, 1);
        }
        let slot = &mut self.keys[at];
        slot.clear();
        slot.extend_from_slice(key);
        self.len = (self.len + 1).min(2);
    }

    /// Keeps the two smallest of both.
    pub(super) fn merge(&mut self, o: &Examples) {
        for k in &o.keys[..usize::from(o.len)] {
            self.offer(k);
        }
    }

    /// The keys, smallest first.
    pub(super) fn keys(&self) -> Vec<Vec<u8>> {
        self.keys[..usize::from(self.len)].to_vec()
    }
}

/// `a >= b` bytewise, eight bytes at a time and inlined: run once per key,
/// where a call to `memcmp` cost more than the comparison.
#[inline(always)]
fn not_less(a: &[u8], b: &[u8]) -> bool {
    let (mut a, mut b) = (a, b);
    while let (Some(x), Some(y)) = (a.first_chunk::<8>(), b.first_chunk::<8>()) {
        if x != y {
            return u64::from_be_bytes(*x) > u64::from_be_bytes(*y);
        }
        a = &a[8..];
        b = &b[8..];
    }
    a >= b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_less_is_bytewise_order() {
        let mut r = crate::testutil::Rng(7);
        for _ in 0..2000 {
            let (m, n) = (r.below(20), r.below(20));
            let a = r.chars(b"ab\x00\xff", m);
            let mut b = a.clone();
            b.truncate(n);
            let cut = n.min(b.len());
            b.extend(r.chars(b"ab\x00\xff", n - cut));
            assert_eq!(not_less(&a, &b), a >= b, "{a:?} {b:?}");
            assert_eq!(not_less(&b, &a), b >= a, "{b:?} {a:?}");
            assert!(not_less(&a, &a));
        }
    }

    #[test]
    fn two_smallest_in_any_order() {
        let keys: [&[u8]; 5] = [b"k:5", b"k:2", b"k:9", b"k:2", b"k:1"];
        let mut a = Examples::default();
        for k in keys {
            a.offer(k);
        }
        assert_eq!(a.keys(), vec![b"k:1".to_vec(), b"k:2".to_vec()]);
        let (mut b, mut c) = (Examples::default(), Examples::default());
        for (i, k) in keys.iter().rev().enumerate() {
            if i % 2 == 0 {
                b.offer(k)
            } else {
                c.offer(k)
            }
        }
        c.merge(&b);
        assert_eq!(c.keys(), a.keys());
        // Any order: the two smallest distinct keys.
        let mut r = crate::testutil::Rng(3);
        for _ in 0..200 {
            let n = 1 + r.below(12);
            let ks: Vec<Vec<u8>> = (0..n)
                .map(|_| {
                    let m = 1 + r.below(3);
                    r.chars(b"abc", m)
                })
                .collect();
            let mut e = Examples::default();
            ks.iter().for_each(|k| e.offer(k));
            let mut want = ks.clone();
            want.sort();
            want.dedup();
            want.truncate(2);
            assert_eq!(e.keys(), want, "{ks:?}");
        }
        let mut one = Examples::default();
        one.offer(b"x");
        one.offer(b"x");
        assert_eq!(one.keys(), vec![b"x".to_vec()]);
    }
}
