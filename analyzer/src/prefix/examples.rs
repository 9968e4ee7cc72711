//! Two example keys per pattern: the two smallest (bytewise), the same
//! whatever the threads and the order of keys.

/// Up to two distinct keys, smallest first.
#[derive(Clone, Debug, Default)]
pub(super) struct Examples([Option<Box<[u8]>>; 2]);

impl Examples {
    /// Keeps `key` if it is one of the two smallest seen: one comparison
    /// once two are held and `key` is not smaller.
    #[inline]
    pub(super) fn offer(&mut self, key: &[u8]) {
        if let Some(b) = &self.0[1] {
            if key >= &b[..] {
                return;
            }
        }
        self.offer_slow(key);
    }

    #[cold]
    fn offer_slow(&mut self, key: &[u8]) {
        match &self.0[0] {
            None => self.0[0] = Some(key.into()),
            Some(a) if key < &a[..] => {
                self.0[1] = self.0[0].take();
                self.0[0] = Some(key.into());
            }
            Some(a) if key == &a[..] => {}
            Some(_) => self.0[1] = Some(key.into()),
        }
    }

    /// Keeps the two smallest of both.
    pub(super) fn merge(&mut self, o: &Examples) {
        for k in o.0.iter().flatten() {
            self.offer(k);
        }
    }

    /// The keys, smallest first.
    pub(super) fn keys(&self) -> Vec<Vec<u8>> {
        self.0.iter().flatten().map(|k| k.to_vec()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let mut one = Examples::default();
        one.offer(b"x");
        one.offer(b"x");
        assert_eq!(one.keys(), vec![b"x".to_vec()]);
    }
}
