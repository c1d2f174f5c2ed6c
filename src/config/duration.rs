//! Durations as people write them in settings and on the command line: `500ms`, `30s`, `15m`,
//! `2h`, `1d`, `1w`, sums like `1h30m`, decimals like `1.5h` (Logstash's
//! `config.reload.interval` style), and ISO 8601 as Kafka's tools take it (`PT2H`).

use std::time::Duration;

/// A duration: a sum of `<number><unit>` (`500ms`, `30s`, `15m`, `2h`, `1d`, `1w`,
/// `1h30m`, `1.5h`) or an ISO 8601 duration as Kafka's tool takes it (`PT2H`, `P1DT30M`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let parsed = match text.strip_prefix(['P', 'p']) {
        Some(iso) => iso_duration(iso),
        None => unit_duration(text),
    };
    let duration = parsed.ok_or_else(|| {
        format!(
            "`{text}` is not a duration: use a number and a unit (ms, s, m, h, d, w), \
             e.g. 30s, 15m, 2h, 1d, 1h30m, or ISO 8601 like PT2H"
        )
    })?;
    match duration.is_zero() {
        true => Err(format!("`{text}`: the duration must be more than zero")),
        false => Ok(duration),
    }
}

/// Milliseconds per unit of the `<number><unit>` form.
fn unit_millis(unit: &str) -> Option<f64> {
    Some(match unit {
        "ms" => 1.0,
        "s" | "sec" | "secs" => 1_000.0,
        "m" | "min" | "mins" => 60_000.0,
        "h" | "hr" | "hrs" => 3_600_000.0,
        "d" | "day" | "days" => 86_400_000.0,
        "w" | "week" | "weeks" => 604_800_000.0,
        _ => return None,
    })
}

/// `1h30m`: every part a number then a unit.
fn unit_duration(text: &str) -> Option<Duration> {
    sum_parts(text, unit_millis)
}

/// The part of an ISO 8601 duration after its `P`: `nW`, `nD`, then `T` with `nH`, `nM`, `nS`.
fn iso_duration(text: &str) -> Option<Duration> {
    let upper = text.to_ascii_uppercase();
    let (date, time) = match upper.split_once('T') {
        Some((date, time)) if !time.is_empty() => (date, Some(time)),
        Some(_) => return None,
        None => (upper.as_str(), None),
    };
    if date.is_empty() && time.is_none() {
        return None;
    }
    let date = match date {
        "" => Duration::ZERO,
        date => sum_parts(date, |unit| match unit {
            "W" | "D" => unit_millis(&unit.to_ascii_lowercase()),
            _ => None,
        })?,
    };
    let time = match time {
        None => Duration::ZERO,
        Some(time) => sum_parts(time, |unit| match unit {
            "H" | "M" | "S" => unit_millis(&unit.to_ascii_lowercase()),
            _ => None,
        })?,
    };
    Some(date + time)
}

/// Sums one or more `<number><unit>` parts, each unit's milliseconds from `millis` (None: not
/// a unit).
fn sum_parts(text: &str, millis: impl Fn(&str) -> Option<f64>) -> Option<Duration> {
    if text.is_empty() {
        return None;
    }
    let mut rest = text;
    let mut total = 0.0;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..digits].parse().ok()?;
        let after = &rest[digits..];
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        total += number * millis(&after[..unit_len])?;
        rest = &after[unit_len..];
    }
    (total.is_finite() && total < 1e15).then(|| Duration::from_millis(total.round() as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_with_units() {
        let ms = |n| Ok(Duration::from_millis(n));
        assert_eq!(parse_duration("500ms"), ms(500));
        assert_eq!(parse_duration("30s"), ms(30_000));
        assert_eq!(parse_duration("15m"), ms(900_000));
        assert_eq!(parse_duration("2h"), ms(7_200_000));
        assert_eq!(parse_duration("1d"), ms(86_400_000));
        assert_eq!(parse_duration("1w"), ms(604_800_000));
        assert_eq!(parse_duration("1h30m"), ms(5_400_000));
        assert_eq!(parse_duration("1.5h"), ms(5_400_000));
        assert_eq!(parse_duration("1d2h3m4s5ms"), ms(93_784_005));
    }

    #[test]
    fn iso_8601_durations() {
        let ms = |n| Ok(Duration::from_millis(n));
        assert_eq!(parse_duration("PT2H"), ms(7_200_000));
        assert_eq!(parse_duration("P1DT30M"), ms(88_200_000));
        assert_eq!(parse_duration("pt1.5s"), ms(1_500));
        assert_eq!(parse_duration("P2D"), ms(172_800_000));
    }

    #[test]
    fn bad_durations_are_refused() {
        for text in ["", "2", "h", "2x", "1h30", "-5m", "1..5s", "PT", "P1H", "P"] {
            let error = parse_duration(text).unwrap_err();
            assert!(error.contains("not a duration"), "{text}: {error}");
        }
        assert!(parse_duration("0s").unwrap_err().contains("more than zero"));
    }
}
