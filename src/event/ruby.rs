//! How Logstash's Ruby side turns values into text: `Float#to_s` (`123.0`, `1.0e+16`), `to_s` of
//! strings and numbers, `inspect` of arrays and hashes (`["a", nil, {"k"=>1}]`), and
//! [`StackStr`], a fixed-size buffer to write such text into without touching the heap.

use std::fmt;

use super::decimal::Decimal;
use super::Value;

/// A string in a fixed-size stack buffer, for formatting numbers on the hot path without
/// allocating. Writing past the capacity fails with [`fmt::Error`].
pub struct StackStr<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> StackStr<N> {
    pub fn new() -> Self {
        StackStr {
            buf: [0; N],
            len: 0,
        }
    }

    pub fn as_str(&self) -> &str {
        // Only whole `&str`s are ever copied in, so the prefix is valid UTF-8.
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }
}

impl<const N: usize> Default for StackStr<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> fmt::Write for StackStr<N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        if end > N {
            return Err(fmt::Error);
        }
        self.buf[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Writes `f` the way Ruby's `Float#to_s` does (what Logstash shows for a float turned into a
/// string): shortest round-trip digits, always a fraction (`123.0`), plain notation for
/// magnitudes in [1e-4, 1e16) and `1.0e+16` / `1.0e-05` outside it.
pub fn write_ruby_float<W: fmt::Write>(f: f64, out: &mut W) -> fmt::Result {
    if f.is_nan() {
        return out.write_str("NaN");
    }
    if f.is_infinite() {
        return out.write_str(if f > 0.0 { "Infinity" } else { "-Infinity" });
    }
    if f.is_sign_negative() {
        out.write_char('-')?;
    }
    if f == 0.0 {
        return out.write_str("0.0");
    }
    let (digits, decpt) = Decimal::of(f);
    let digits = digits.as_str();
    if decpt > 0 && decpt <= 16 {
        let decpt = decpt as usize;
        if digits.len() > decpt {
            out.write_str(&digits[..decpt])?;
            out.write_char('.')?;
            out.write_str(&digits[decpt..])
        } else {
            out.write_str(digits)?;
            for _ in digits.len()..decpt {
                out.write_char('0')?;
            }
            out.write_str(".0")
        }
    } else if decpt <= 0 && decpt > -4 {
        out.write_str("0.")?;
        for _ in 0..-decpt {
            out.write_char('0')?;
        }
        out.write_str(digits)
    } else {
        out.write_str(&digits[..1])?;
        out.write_char('.')?;
        out.write_str(if digits.len() > 1 { &digits[1..] } else { "0" })?;
        write!(out, "e{:+03}", decpt - 1)
    }
}

/// Writes `value` the way Ruby's `to_s` does for a Logstash field value: strings as they are,
/// numbers in Ruby's notation, `nil` as nothing, arrays and hashes in Ruby's `inspect` form.
pub fn write_ruby_string<W: fmt::Write>(value: &Value, out: &mut W) -> fmt::Result {
    match value {
        Value::Str(s) => out.write_str(s),
        Value::Null => Ok(()),
        Value::Array(_) | Value::Map(_) => write_ruby_inspect(value, out),
        other => write_ruby_scalar(other, out),
    }
}

/// Numbers, booleans and timestamps as Ruby prints them.
fn write_ruby_scalar<W: fmt::Write>(value: &Value, out: &mut W) -> fmt::Result {
    match value {
        Value::Bool(b) => out.write_str(if *b { "true" } else { "false" }),
        Value::Int(n) => out.write_str(itoa::Buffer::new().format(*n)),
        Value::Float(f) => write_ruby_float(*f, out),
        Value::Timestamp(t) => write!(out, "{t}"),
        Value::Str(s) => out.write_str(s),
        Value::Null | Value::Array(_) | Value::Map(_) => write_ruby_inspect(value, out),
    }
}

/// Ruby's `inspect`: `["a", 1, nil]`, `{"k"=>"v"}`.
fn write_ruby_inspect<W: fmt::Write>(value: &Value, out: &mut W) -> fmt::Result {
    match value {
        Value::Null => out.write_str("nil"),
        Value::Str(s) => write!(out, "{:?}", s.as_str()),
        Value::Array(items) => {
            out.write_char('[')?;
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.write_str(", ")?;
                }
                write_ruby_inspect(item, out)?;
            }
            out.write_char(']')
        }
        Value::Map(map) => {
            out.write_char('{')?;
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.write_str(", ")?;
                }
                write!(out, "{:?}=>", k.as_str())?;
                write_ruby_inspect(v, out)?;
            }
            out.write_char('}')
        }
        other => write_ruby_scalar(other, out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ruby(f: f64) -> String {
        let mut s = String::new();
        write_ruby_float(f, &mut s).unwrap();
        s
    }

    #[test]
    fn floats_print_as_ruby_prints_them() {
        assert_eq!(ruby(123.0), "123.0");
        assert_eq!(ruby(123.45), "123.45");
        assert_eq!(ruby(-1.5), "-1.5");
        assert_eq!(ruby(16777217.0), "16777217.0");
        assert_eq!(ruby(2147483648.0), "2147483648.0");
        assert_eq!(ruby(1e15), "1000000000000000.0");
        assert_eq!(ruby(1e16), "1.0e+16");
        assert_eq!(ruby(1.5e300), "1.5e+300");
        assert_eq!(ruby(0.0001), "0.0001");
        assert_eq!(ruby(0.00001), "1.0e-05");
        assert_eq!(ruby(0.01), "0.01");
        assert_eq!(ruby(0.0), "0.0");
        assert_eq!(ruby(f64::NAN), "NaN");
        assert_eq!(ruby(f64::NEG_INFINITY), "-Infinity");
    }

    #[test]
    fn stack_str_formats_without_the_heap_and_refuses_overflow() {
        let mut s = StackStr::<8>::new();
        write_ruby_float(2.5, &mut s).unwrap();
        assert_eq!(s.as_str(), "2.5");
        let mut tiny = StackStr::<2>::new();
        assert!(write_ruby_float(123.0, &mut tiny).is_err());
    }

    #[test]
    fn values_print_as_ruby_to_s() {
        let mut map = super::super::Map::new();
        map.insert("k".into(), Value::Int(1));
        let v = Value::Array(vec!["a".into(), Value::Null, Value::Map(map)]);
        let mut s = String::new();
        write_ruby_string(&v, &mut s).unwrap();
        assert_eq!(s, r#"["a", nil, {"k"=>1}]"#);
        s.clear();
        write_ruby_string(&Value::Bool(true), &mut s).unwrap();
        assert_eq!(s, "true");
    }
}
