//! The times `sluice kafka rewind` understands: [`parse_datetime`] for `--to-datetime` and
//! [`parse_duration`] for `--by-duration`. Both are clap value parsers, so bad text is a usage
//! error that names the flag.

use chrono::{DateTime, Local, LocalResult, NaiveDateTime, TimeZone};

pub use crate::config::duration::parse_duration;

/// Formats of a local time (no offset), tried in order: Kafka's own `--to-datetime` format
/// (`2026-11-21T10:00:00.000`), with a space instead of the `T`, and without seconds.
const LOCAL_FORMATS: &[&str] = &[
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M",
];

/// `--to-datetime`: an RFC 3339 time (`2026-11-21T10:00:00Z`, `2026-11-21T11:00:00+01:00`) or a
/// local time without offset (`2026-11-21T10:00:00`), read in this machine's time zone (`TZ`).
/// Returns milliseconds since the Unix epoch, Kafka's timestamp unit.
pub fn parse_datetime(text: &str) -> Result<i64, String> {
    let text = text.trim();
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Ok(time.timestamp_millis());
    }
    let naive = LOCAL_FORMATS
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
        .ok_or_else(|| {
            format!(
                "`{text}` is not a time: use RFC 3339 (2026-11-21T10:00:00Z, \
                 2026-11-21T11:00:00+01:00) or a local time (2026-11-21T10:00:00)"
            )
        })?;
    local_millis(naive, text)
}

/// A local time in milliseconds. In the hour a DST change repeats, the earlier instant wins:
/// a rewind that replays a little more is the safe mistake.
fn local_millis(naive: NaiveDateTime, text: &str) -> Result<i64, String> {
    match Local.from_local_datetime(&naive) {
        LocalResult::Single(time) | LocalResult::Ambiguous(time, _) => Ok(time.timestamp_millis()),
        LocalResult::None => Err(format!(
            "`{text}` does not exist in the local time zone (skipped by a DST change); \
             give an offset, e.g. {text}Z"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_times_with_zone() {
        assert_eq!(
            parse_datetime("2026-11-21T10:00:00Z"),
            Ok(1_795_255_200_000)
        );
        assert_eq!(
            parse_datetime("2026-11-21T11:00:00.250+01:00"),
            Ok(1_795_255_200_250)
        );
        assert_eq!(
            parse_datetime("2026-11-21 10:00:00z"),
            Ok(1_795_255_200_000)
        );
    }

    #[test]
    fn local_times_use_the_local_zone() {
        let naive =
            NaiveDateTime::parse_from_str("2026-11-21 10:00:00", "%Y-%m-%d %H:%M:%S").unwrap();
        let expected = Local.from_local_datetime(&naive).earliest().unwrap();
        let millis = expected.timestamp_millis();
        assert_eq!(parse_datetime("2026-11-21T10:00:00"), Ok(millis));
        assert_eq!(parse_datetime("2026-11-21T10:00:00.000"), Ok(millis));
        assert_eq!(parse_datetime("2026-11-21 10:00"), Ok(millis));
    }

    #[test]
    fn bad_times_say_what_is_accepted() {
        for text in [
            "yesterday",
            "2026-13-01T00:00:00Z",
            "2026-11-21",
            "10:00",
            "",
        ] {
            let error = parse_datetime(text).unwrap_err();
            assert!(error.contains("RFC 3339"), "{text}: {error}");
        }
    }
}
