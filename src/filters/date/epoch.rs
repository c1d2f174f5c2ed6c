//! The numeric formats: `UNIX` (seconds), `UNIX_MS` (milliseconds) and `TAI64N`.
//!
//! They read numbers (integers, floats) as well as strings, with Logstash's quirks kept:
//! `UNIX` refuses seconds past 2^31-1, reads at most three digits after a string's dot (the
//! rest is ignored) and truncates floats to the millisecond; `UNIX_MS` takes integers only
//! from strings; `TAI64N` takes strings only, with or without the leading `@`, and subtracts
//! ten leap seconds. Results are whole milliseconds, as Logstash's are.

use crate::event::{Timestamp, Value};

/// The largest `UNIX` value Logstash accepts (Java's `Integer.MAX_VALUE` seconds).
const MAX_EPOCH_SECONDS: i64 = i32::MAX as i64;

fn from_millis(millis: i64) -> Option<Timestamp> {
    millis.checked_mul(1_000_000).map(Timestamp::from_nanos)
}

/// Java's `Long.parseLong`: an optional sign and decimal digits, nothing else.
fn parse_long(text: &str) -> Option<i64> {
    text.parse().ok()
}

/// `UNIX`: seconds since the epoch.
pub fn unix(value: &Value) -> Option<Timestamp> {
    match value {
        Value::Int(secs) => from_millis(seconds_to_millis(*secs)?),
        Value::Float(secs) => {
            if (*secs as i64) > MAX_EPOCH_SECONDS {
                return None;
            }
            // Java's `(long) (value * 1000)`: truncation, NaN as 0, saturation.
            from_millis((secs * 1000.0) as i64)
        }
        Value::Str(text) => from_millis(unix_text(text.as_str())?),
        _ => None,
    }
}

fn seconds_to_millis(secs: i64) -> Option<i64> {
    if secs > MAX_EPOCH_SECONDS {
        return None;
    }
    secs.checked_mul(1000)
}

/// A `UNIX` string: `1478207457` or `1478207457.456`. After the dot only the first three
/// characters are read (as a number, so a sign is allowed); the rest is ignored.
fn unix_text(text: &str) -> Option<i64> {
    let Some((secs, fraction)) = text.split_once('.') else {
        return seconds_to_millis(parse_long(text)?);
    };
    let millis = seconds_to_millis(parse_long(secs)?)?;
    let digits = fraction.len().min(3);
    let sub = parse_long(fraction.get(..digits)?)?;
    let scale = [0, 100, 10, 1][digits];
    millis.checked_add(sub * scale)
}

/// `UNIX_MS`: milliseconds since the epoch.
pub fn unix_ms(value: &Value) -> Option<Timestamp> {
    match value {
        Value::Int(millis) => from_millis(*millis),
        Value::Float(millis) => from_millis(*millis as i64),
        Value::Str(text) => from_millis(parse_long(text.as_str())?),
        _ => None,
    }
}

/// `TAI64N`: `@` (optional), 16 hex digits of seconds with the TAI64 epoch bit, 8 hex digits
/// of nanoseconds (`@4000000050d506482dbdf024`). Trailing text is ignored.
pub fn tai64n(value: &Value) -> Option<Timestamp> {
    let text = value.as_str()?;
    let text = text.strip_prefix('@').unwrap_or(text);
    let secs = i64::from_str_radix(text.get(..16)?, 16).ok()? & ((1 << 62) - 1);
    let nanos = i32::from_str_radix(text.get(16..24)?, 16).ok()?;
    // TAI is ten seconds ahead of UTC at the TAI64 epoch (Logstash ignores later leap seconds).
    let secs = secs - 10;
    secs.checked_mul(1000)?
        .checked_add(i64::from(nanos / 1_000_000))
        .and_then(from_millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(ts: Option<Timestamp>) -> Option<String> {
        ts.map(|t| t.to_string())
    }

    #[test]
    fn unix_reads_integers_floats_and_strings() {
        assert_eq!(
            text(unix(&Value::from("1478207457"))),
            Some("2016-11-03T21:10:57.000Z".into())
        );
        assert_eq!(
            text(unix(&Value::Int(1_000_000_000))),
            Some("2001-09-09T01:46:40.000Z".into())
        );
        assert_eq!(
            text(unix(&Value::Float(1_350_414_944.123_456))),
            Some("2012-10-16T19:15:44.123Z".into())
        );
        assert_eq!(
            text(unix(&Value::from("1350414944.123456"))),
            Some("2012-10-16T19:15:44.123Z".into())
        );
        assert_eq!(
            text(unix(&Value::from("1478207457.4"))),
            Some("2016-11-03T21:10:57.400Z".into())
        );
        assert_eq!(
            text(unix(&Value::from("1.123abc"))),
            Some("1970-01-01T00:00:01.123Z".into())
        );
        assert_eq!(
            text(unix(&Value::from("-1.5"))),
            Some("1969-12-31T23:59:59.500Z".into())
        );
        assert_eq!(
            text(unix(&Value::Int(-1))),
            Some("1969-12-31T23:59:59.000Z".into())
        );
    }

    #[test]
    fn unix_rejects_what_logstash_rejects() {
        for bad in [
            "%{bad_value}",
            "",
            "1.",
            ".5",
            "1.2a",
            " 1",
            "2147483648",
            "1e9",
            "0x10",
        ] {
            assert_eq!(unix(&Value::from(bad)), None, "{bad:?}");
        }
        assert_eq!(unix(&Value::Int(2_147_483_648)), None);
        assert_eq!(unix(&Value::Float(2_147_483_648.0)), None);
        assert_eq!(unix(&Value::Float(f64::INFINITY)), None);
        assert_eq!(unix(&Value::Bool(true)), None);
        assert_eq!(unix(&Value::Array(vec![Value::Int(1)])), None);
    }

    #[test]
    fn unix_ms_reads_integers_only_from_strings() {
        assert_eq!(
            text(unix_ms(&Value::from("1000000000123"))),
            Some("2001-09-09T01:46:40.123Z".into())
        );
        assert_eq!(
            text(unix_ms(&Value::Int(456))),
            Some("1970-01-01T00:00:00.456Z".into())
        );
        assert_eq!(
            text(unix_ms(&Value::Float(456.9))),
            Some("1970-01-01T00:00:00.456Z".into())
        );
        assert_eq!(unix_ms(&Value::from("456.5")), None);
        assert_eq!(unix_ms(&Value::Int(i64::MAX)), None);
    }

    #[test]
    fn tai64n_reads_labels_with_or_without_at() {
        for label in ["4000000050d506482dbdf024", "@4000000050d506482dbdf024"] {
            assert_eq!(
                text(tai64n(&Value::from(label))),
                Some("2012-12-22T01:00:46.767Z".into())
            );
        }
        assert_eq!(tai64n(&Value::from("4000000050d50648")), None);
        assert_eq!(tai64n(&Value::from("4000000050d50648zzzzzzzz")), None);
        assert_eq!(tai64n(&Value::Int(5)), None);
    }
}
