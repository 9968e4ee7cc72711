//! Sorted-set scores as listpack text: `%.17g` (Redis <= 7.0) or the
//! shortest text that reads back (7.2+ and Valkey).

/// The decimal digits of a number formatted in exponent form by `args`
/// (`{:e}` or `{:.16e}` of a non-negative finite value), and the power of
/// ten of the first digit.
struct SciDigits {
    digits: [u8; 24],
    n: usize,
    exp: i32,
}

impl SciDigits {
    fn of(args: std::fmt::Arguments<'_>) -> SciDigits {
        let mut text = [0u8; 40];
        let mut w = &mut text[..];
        let len = match std::io::Write::write_fmt(&mut w, args) {
            Ok(()) => 40 - w.len(),
            Err(_) => 0,
        };
        let text = &text[..len];
        let e_at = text.iter().position(|&b| b == b'e').unwrap_or(len);
        let exp = std::str::from_utf8(text.get(e_at + 1..).unwrap_or_default())
            .ok()
            .and_then(|t| t.parse().ok())
            .unwrap_or(0);
        let mut d = SciDigits {
            digits: [b'0'; 24],
            n: 0,
            exp,
        };
        for &b in text[..e_at].iter().filter(|b| b.is_ascii_digit()) {
            if d.n < d.digits.len() {
                d.digits[d.n] = b;
                d.n += 1;
            }
        }
        d.n = d.n.max(1);
        d
    }

    fn digits(&self) -> &[u8] {
        &self.digits[..self.n]
    }
}

/// Score text being written into a fixed buffer.
struct ScoreText<'b> {
    out: &'b mut [u8; 32],
    len: usize,
}

impl ScoreText<'_> {
    fn push(&mut self, b: u8) {
        if let Some(slot) = self.out.get_mut(self.len) {
            *slot = b;
            self.len += 1;
        }
    }

    fn extend(&mut self, bytes: &[u8]) {
        bytes.iter().for_each(|&b| self.push(b));
    }

    /// `d[.ddd]e<sign><exponent>`, with at least `min_exp_digits` digits.
    fn exponent_form(&mut self, digits: &[u8], exp: i32, min_exp_digits: u32) {
        self.push(digits[0]);
        if digits.len() > 1 {
            self.push(b'.');
            self.extend(&digits[1..]);
        }
        self.push(b'e');
        self.push(if exp < 0 { b'-' } else { b'+' });
        let e = exp.unsigned_abs();
        let width = e.checked_ilog10().unwrap_or(0) + 1;
        for i in (0..width.max(min_exp_digits)).rev() {
            self.push(b'0' + (e / 10u32.pow(i) % 10) as u8);
        }
    }
}

/// Formats a finite `x` as C's `printf("%.17g", x)` does (how Redis <= 7.0
/// turns a non-integral score into listpack text) into `out`; returns the
/// length. 17 significant digits, trailing zeros dropped; exponent form
/// (at least two exponent digits) below 1e-4 and from 1e17.
pub(super) fn format_g17(x: f64, out: &mut [u8; 32]) -> usize {
    let mut sci = SciDigits::of(format_args!("{:.16e}", x.abs()));
    while sci.n > 1 && sci.digits[sci.n - 1] == b'0' {
        sci.n -= 1;
    }
    let (digits, exp) = (sci.digits(), sci.exp);
    let mut t = ScoreText { out, len: 0 };
    if x < 0.0 {
        t.push(b'-');
    }
    if !(-4..17).contains(&exp) {
        t.exponent_form(digits, exp, 2);
    } else if exp >= 0 {
        let whole = exp as usize + 1;
        (0..whole).for_each(|i| t.push(digits.get(i).copied().unwrap_or(b'0')));
        if digits.len() > whole {
            t.push(b'.');
            t.extend(&digits[whole..]);
        }
    } else {
        t.extend(b"0.");
        (0..(-exp - 1)).for_each(|_| t.push(b'0'));
        t.extend(digits);
    }
    t.len
}

/// Formats a finite `x` as Redis 7.2+ turns a non-integral score into
/// listpack text (`fpconv_dtoa`): the shortest digits that read back as
/// `x`, plain while the exponent is small, else `d.ddde+X`; into `out`,
/// returning the length.
pub(super) fn format_shortest(x: f64, out: &mut [u8; 32]) -> usize {
    let sci = SciDigits::of(format_args!("{:e}", x.abs()));
    let (digits, exp10) = (sci.digits(), sci.exp);
    let n = digits.len() as i32;
    // x = digits * 10^k
    let k = exp10 - (n - 1);
    let exp = exp10.abs();
    let mut t = ScoreText { out, len: 0 };
    if x < 0.0 {
        t.push(b'-');
    }
    if k >= 0 && exp < n + 7 {
        t.extend(digits);
        (0..k).for_each(|_| t.push(b'0'));
    } else if k < 0 && (k > -7 || exp < 4) {
        let offset = n + k;
        if offset <= 0 {
            t.extend(b"0.");
            (0..-offset).for_each(|_| t.push(b'0'));
            t.extend(digits);
        } else {
            let offset = offset as usize;
            t.extend(&digits[..offset]);
            t.push(b'.');
            t.extend(&digits[offset..]);
        }
    } else {
        t.exponent_form(digits, exp10, 1);
    }
    t.len
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_format_as_printf_g17() {
        // What Redis 7.0 replies (it formats scores with "%.17g").
        for (x, want) in [
            (0.1, "0.10000000000000001"),
            (2.5, "2.5"),
            (-2.5, "-2.5"),
            (1e-5, "1.0000000000000001e-05"),
            (1.5e300, "1.5000000000000001e+300"),
            (123456.789, "123456.789"),
            (0.0001, "0.0001"),
            (1.5e17, "1.5e+17"),
            (1.25e16, "12500000000000000"),
            (-3.0e-10, "-3e-10"),
            (7.0e-300, "7.0000000000000003e-300"),
            (1.5e-105, "1.5e-105"),
            (1e100, "1e+100"),
            (-9.87654321e-5, "-9.8765432099999994e-05"),
        ] {
            let mut buf = [0u8; 32];
            let n = format_g17(x, &mut buf);
            assert_eq!(std::str::from_utf8(&buf[..n]).unwrap(), want, "{x}");
        }
    }

    #[test]
    fn scores_format_as_redis_7_2_does() {
        // What Redis 7.4 replies (it formats scores with fpconv_dtoa).
        for (x, want) in [
            (1e-7, "1e-7"),
            (1e-5, "0.00001"),
            (0.000123, "0.000123"),
            (0.1, "0.1"),
            (-2.5, "-2.5"),
            (123456.789, "123456.789"),
            (1.5e20, "1.5e+20"),
            (1e21, "1e+21"),
            (1.5e300, "1.5e+300"),
            (-3.25e-100, "-3.25e-100"),
            (1e100, "1e+100"),
            (1.05e105, "1.05e+105"),
        ] {
            let mut buf = [0u8; 32];
            let n = format_shortest(x, &mut buf);
            assert_eq!(std::str::from_utf8(&buf[..n]).unwrap(), want, "{x}");
        }
    }
}
