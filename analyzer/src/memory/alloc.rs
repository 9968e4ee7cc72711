//! Allocator size classes: how jemalloc (8- or 16-byte quantum) and glibc
//! malloc round a request up.

/// How the server's allocator rounds a request up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Allocator {
    /// jemalloc as Redis and Valkey vendor it (8-byte quantum: 8, 16, 24, 32, 40, 48, 56, 64, 80, ...).
    Jemalloc,
    /// A distribution's shared jemalloc (16-byte quantum: 8, 16, 32, 48, 64, 80, ...), e.g. Debian's redis-server.
    Jemalloc16,
    /// glibc malloc (`MALLOC=libc` builds): usable size max(24, roundup16(n + 8) - 8).
    Libc,
}

impl Allocator {
    /// Usable size of an allocation of `n` bytes.
    #[inline]
    pub fn usable(self, n: u64) -> u64 {
        match self {
            Allocator::Libc => {
                let r = (n + 8).div_ceil(16) * 16 - 8;
                r.max(24)
            }
            Allocator::Jemalloc | Allocator::Jemalloc16 => {
                if n <= 8 {
                    return 8;
                }
                // The quantum-spaced range, then four classes per doubling.
                // Every step is a power of two: rounding up is a mask (a
                // division by a step known only at run time costs tens of
                // cycles, and this runs per element).
                let (quantum, top) = if self == Allocator::Jemalloc {
                    (8, 64)
                } else {
                    (16, 128)
                };
                let step = if n <= top {
                    quantum
                } else {
                    let g = 63 - (n - 1).leading_zeros(); // 2^g < n <= 2^(g+1)
                    1u64 << (g - 2)
                };
                n.saturating_add(step - 1) & !(step - 1)
            }
        }
    }

    /// Every allocator, the default first.
    pub const ALL: [Allocator; 3] = [Allocator::Jemalloc, Allocator::Jemalloc16, Allocator::Libc];

    /// `jemalloc`, `jemalloc16` or `libc`.
    pub fn name(self) -> &'static str {
        match self {
            Allocator::Jemalloc => "jemalloc",
            Allocator::Jemalloc16 => "jemalloc16",
            Allocator::Libc => "libc",
        }
    }

    /// Parses `jemalloc`, `jemalloc16` or `libc`.
    pub fn from_name(s: &str) -> Option<Allocator> {
        match s {
            "jemalloc" => Some(Allocator::Jemalloc),
            "jemalloc16" => Some(Allocator::Jemalloc16),
            "libc" => Some(Allocator::Libc),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_classes() {
        let j = |n| Allocator::Jemalloc.usable(n);
        let got: Vec<u64> = [
            1, 8, 9, 17, 33, 41, 57, 65, 81, 129, 161, 257, 536, 1025, 14337,
        ]
        .iter()
        .map(|&n| j(n))
        .collect();
        assert_eq!(
            got,
            [8, 8, 16, 24, 40, 48, 64, 80, 96, 160, 192, 320, 640, 1280, 16384]
        );
        let j16 = |n| Allocator::Jemalloc16.usable(n);
        assert_eq!(
            [j16(20), j16(5), j16(49), j16(100), j16(129)],
            [32, 8, 64, 112, 160]
        );
        let l = |n| Allocator::Libc.usable(n);
        assert_eq!([l(5), l(18), l(25), l(40), l(41)], [24, 24, 40, 40, 56]);
        // The masks equal rounding up by division, class by class.
        let by_division = |a: Allocator, n: u64| {
            let (quantum, top) = if a == Allocator::Jemalloc {
                (8, 64)
            } else {
                (16, 128)
            };
            let step = match n {
                0..=8 => return 8,
                _ if n <= top => quantum,
                _ => 1 << (63 - (n - 1).leading_zeros() - 2),
            };
            n.div_ceil(step) * step
        };
        let big = (0..40).map(|s| (1u64 << s) * 3 + s);
        for n in (0..70_000).chain(big) {
            for a in [Allocator::Jemalloc, Allocator::Jemalloc16] {
                assert_eq!(a.usable(n), by_division(a, n), "{a:?} {n}");
            }
        }
    }
}
