//! [`Decimal`]: the shortest round-trip decimal digits of a float, for writers that must print
//! floats the way another runtime does (Java's `Double.toString` in sprintf, Ruby's `Float#to_s`
//! in mutate) without allocating.

/// The significant digits of a positive finite number and the position of its decimal point:
/// value = 0.DIGITS x 10^point (`0.00123` -> `"123"`, -2).
pub struct Decimal {
    digits: [u8; 32],
    len: usize,
}

impl Decimal {
    /// Decomposes `f.abs()`; `f` must be finite and non-zero.
    pub fn of(f: f64) -> (Decimal, i32) {
        let mut ryu = ryu::Buffer::new();
        Self::parse(ryu.format_finite(f.abs()))
    }

    /// Reads ryu's output (`123.45`, `1e20`, `1.5e-7`, `0.001`).
    fn parse(text: &str) -> (Decimal, i32) {
        let (mantissa, exp) = match text.split_once(['e', 'E']) {
            Some((m, e)) => (m, e.parse::<i32>().unwrap_or(0)),
            None => (text, 0),
        };
        let int_len = mantissa.find('.').unwrap_or(mantissa.len());
        let mut d = Decimal {
            digits: [0; 32],
            len: 0,
        };
        let mut point = int_len as i32 + exp;
        for b in mantissa.bytes().filter(u8::is_ascii_digit) {
            if d.len == 0 && b == b'0' {
                point -= 1;
            } else if d.len < d.digits.len() {
                d.digits[d.len] = b;
                d.len += 1;
            }
        }
        while d.len > 1 && d.digits[d.len - 1] == b'0' {
            d.len -= 1;
        }
        (d, point)
    }

    /// The digits, without leading or trailing zeros.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.digits[..self.len]).unwrap_or("0")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_and_point() {
        let cases = [
            (123.45, "12345", 3),
            (0.00123, "123", -2),
            (1e20, "1", 21),
            (1.5e-7, "15", -6),
        ];
        for (f, digits, point) in cases {
            let (d, p) = Decimal::of(f);
            assert_eq!((d.as_str(), p), (digits, point), "{f}");
        }
    }
}
