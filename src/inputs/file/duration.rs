//! Logstash's friendly durations (`stat_interval => "500 ms"`, `close_older => "1 hour"`,
//! `sincedb_clean_after => 14`): a number, optionally followed by a unit. A bare number counts
//! in the option's own unit (seconds for most, days for `sincedb_clean_after`).

use std::time::Duration;

/// Longer durations are refused (and could not be added to a clock reading).
const MAX_SECONDS: f64 = 100.0 * 365.25 * 86_400.0;

/// Parses `text` (a number and an optional unit); a bare number is in `default_unit` seconds.
pub fn parse_duration(text: &str, default_unit: f64) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = (&text[..split], text[split..].trim());
    let value: f64 = number
        .parse()
        .map_err(|_| format!("\"{text}\" is not a duration (e.g. 5, \"500 ms\", \"1 hour\")"))?;
    let scale = if unit.is_empty() {
        default_unit
    } else {
        unit_seconds(unit).ok_or_else(|| {
            format!("unknown unit \"{unit}\" in \"{text}\" (use us, ms, s, m, h, d or w)")
        })?
    };
    let seconds = value * scale;
    if !(0.0..=MAX_SECONDS).contains(&seconds) {
        return Err(format!("\"{text}\" is not a duration up to 100 years"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// Seconds in one `unit` (the spellings Logstash's `FriendlyDurations` accepts).
fn unit_seconds(unit: &str) -> Option<f64> {
    Some(match unit.to_ascii_lowercase().as_str() {
        "us" | "usec" | "usecs" | "microsecond" | "microseconds" => 1e-6,
        "ms" | "msec" | "msecs" | "millisecond" | "milliseconds" => 1e-3,
        "s" | "sec" | "secs" | "second" | "seconds" => 1.0,
        "m" | "min" | "mins" | "minute" | "minutes" => 60.0,
        "h" | "hour" | "hours" => 3600.0,
        "d" | "day" | "days" => 86_400.0,
        "w" | "week" | "weeks" => 604_800.0,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_units() {
        assert_eq!(parse_duration("5", 1.0), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("0.25", 1.0), Ok(Duration::from_millis(250)));
        assert_eq!(
            parse_duration("500 ms", 1.0),
            Ok(Duration::from_millis(500))
        );
        assert_eq!(parse_duration("1 hour", 1.0), Ok(Duration::from_secs(3600)));
        assert_eq!(
            parse_duration("2 weeks", 1.0),
            Ok(Duration::from_secs(1_209_600))
        );
        assert_eq!(
            parse_duration("14", 86_400.0),
            Ok(Duration::from_secs(1_209_600))
        );
        assert!(parse_duration("soon", 1.0).is_err());
        assert!(parse_duration("5 fortnights", 1.0).is_err());
        assert!(parse_duration("99999999999999999999999 weeks", 1.0).is_err());
    }
}
