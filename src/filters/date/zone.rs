//! Time zones for the `date` filter: [`Zone`] (a fixed offset or an IANA zone) and the
//! conversion of a parsed [`Local`] date-time to an instant.
//!
//! Zone ids are read as Joda's `DateTimeZone.forID` reads them: IANA names, case-sensitive
//! (`Europe/Paris`, `UTC`, `CET`, `EST5EDT`), or offsets (`+01:00`, `-0530`, `+01`). A local
//! time that a zone skips (the spring-forward gap) does not exist and fails to parse, as in
//! Joda; one it repeats (the autumn overlap) is the earlier instant.
//!
//! Converting through an IANA zone means a binary search over its transitions, so the last
//! conversion is cached per thread: log lines arrive in time order and mostly share their
//! second with the line before.

use std::cell::Cell;
use std::str::FromStr;

use chrono::{LocalResult, Offset, TimeZone};
use chrono_tz::Tz;

use crate::event::Timestamp;

const NANOS_PER_MILLI: i64 = 1_000_000;

/// A local (zone-less) date and time, as read from text; ranges already checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Local {
    pub year: i32,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    pub millis: u32,
}

impl Local {
    /// The local date-time read as if it were UTC, in whole seconds, or `None` when a field is
    /// out of range or the instant does not fit.
    fn as_utc(&self) -> Option<Timestamp> {
        Timestamp::from_civil(
            self.year,
            self.month,
            self.day,
            self.hour,
            self.minute,
            self.second,
            0,
        )
    }
}

/// The zone a local time is read in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Zone {
    /// A fixed offset from UTC, in milliseconds (Joda offsets may carry milliseconds).
    Fixed(i64),
    /// An IANA zone, with its daylight-saving rules.
    Named(Tz),
}

impl Zone {
    pub const UTC: Zone = Zone::Fixed(0);

    /// Reads a zone id as Joda's `DateTimeZone.forID` does; `None` if it names no zone.
    pub fn parse(id: &str) -> Option<Zone> {
        if id.starts_with(['+', '-']) {
            let (offset, len) = parse_offset(id.as_bytes())?;
            return (len == id.len()).then_some(Zone::Fixed(offset));
        }
        Tz::from_str(id).ok().map(Zone::Named)
    }

    /// The instant `local` stands for in this zone; `None` in a daylight-saving gap or out of
    /// range.
    pub fn to_instant(self, local: &Local) -> Option<Timestamp> {
        let secs = local.as_utc()?.secs();
        let utc_secs = match self {
            Zone::Fixed(offset) => {
                let nanos = secs
                    .checked_mul(1_000_000_000)?
                    .checked_sub(offset.checked_mul(NANOS_PER_MILLI)?)?
                    .checked_add(i64::from(local.millis) * NANOS_PER_MILLI)?;
                return Some(Timestamp::from_nanos(nanos));
            }
            Zone::Named(tz) => named_to_utc(tz, secs)?,
        };
        utc_secs
            .checked_mul(1_000_000_000)?
            .checked_add(i64::from(local.millis) * NANOS_PER_MILLI)
            .map(Timestamp::from_nanos)
    }
}

/// A UTC second that a gap makes impossible; never a real result (it is before 1677).
const GAP: i64 = i64::MIN;

thread_local! {
    /// The last `(zone, local second, UTC second or GAP)` converted on this thread.
    static LAST: Cell<(Tz, i64, i64)> = const { Cell::new((Tz::UTC, i64::MIN, GAP)) };
}

/// The UTC second of local second `local` in `tz`, through the per-thread cache.
fn named_to_utc(tz: Tz, local: i64) -> Option<i64> {
    let cached = LAST.try_with(Cell::get).ok();
    let utc = match cached {
        Some((last_tz, last_local, utc)) if last_tz == tz && last_local == local => utc,
        _ => {
            let utc = convert(tz, local).unwrap_or(GAP);
            // Only fails during thread teardown, when the cache is gone anyway.
            let _ = LAST.try_with(|c| c.set((tz, local, utc)));
            utc
        }
    };
    (utc != GAP).then_some(utc)
}

/// The uncached conversion: chrono-tz's transition search.
fn convert(tz: Tz, local: i64) -> Option<i64> {
    let naive = chrono::DateTime::from_timestamp(local, 0)?.naive_utc();
    let offset = match tz.offset_from_local_datetime(&naive) {
        LocalResult::Single(offset) => offset,
        // The earlier instant: the offset in force before the clocks went back.
        LocalResult::Ambiguous(earlier, _) => earlier,
        LocalResult::None => return None,
    };
    local.checked_sub(i64::from(offset.fix().local_minus_utc()))
}

/// Joda's lenient offset parser (`Z`, `ZZ` and ISO8601 offsets): a sign, two-digit hours
/// (at most 23), then optionally minutes, seconds and milliseconds, either all with colons
/// (`+01:30:15.250`) or none (`+013015`). Returns the offset in milliseconds and the bytes
/// read. A field Joda leaves unread ends the offset; a field cut short fails it.
pub fn parse_offset(text: &[u8]) -> Option<(i64, usize)> {
    let negative = match text.first()? {
        b'+' => false,
        b'-' => true,
        _ => return None,
    };
    let hours = two_digits(text, 1)?;
    if hours > 23 {
        return None;
    }
    let separated = text.get(3) == Some(&b':');
    let mut offset = i64::from(hours) * 3_600_000;
    let mut pos = 3;
    let mut complete = true;
    for unit in [60_000, 1000] {
        match offset_field(text, pos, separated)? {
            Some((value, end)) => {
                offset += value * unit;
                pos = end;
            }
            None => {
                complete = false;
                break;
            }
        }
    }
    if complete {
        let (millis, len) = offset_millis(&text[pos..], separated)?;
        offset += millis;
        pos += len;
    }
    Some((if negative { -offset } else { offset }, pos))
}

/// The minutes or seconds of an offset at `pos`: `Some(None)` when the offset ends before
/// them, `None` when they are malformed (a colon or one digit without a second one, 60+).
fn offset_field(text: &[u8], pos: usize, separated: bool) -> Option<Option<(i64, usize)>> {
    let start = match (separated, text.get(pos)) {
        (true, Some(b':')) => pos + 1,
        (true, _) => return Some(None),
        (false, _) => pos,
    };
    match two_digits(text, start) {
        Some(value) if value < 60 => Some(Some((i64::from(value), start + 2))),
        Some(_) => None,
        // With colons a field must follow its colon; without, one lone digit is an error.
        None if separated || text.get(start).is_some_and(u8::is_ascii_digit) => None,
        None => Some(None),
    }
}

/// The `.SSS` after an offset's seconds (`.` or `,` with colons, nothing without).
fn offset_millis(text: &[u8], separated: bool) -> Option<(i64, usize)> {
    let start = if separated {
        if !matches!(text.first(), Some(b'.' | b',')) {
            return Some((0, 0));
        }
        1
    } else {
        0
    };
    let digits = text[start..]
        .iter()
        .take(3)
        .take_while(|b| b.is_ascii_digit())
        .count();
    match digits {
        0 if separated => None,
        0 => Some((0, 0)),
        3 => {
            let d = &text[start..start + 3];
            let value = d.iter().fold(0i64, |v, b| v * 10 + i64::from(b - b'0'));
            Some((value, start + 3))
        }
        _ => None,
    }
}

/// Two ASCII digits at `pos`.
fn two_digits(text: &[u8], pos: usize) -> Option<u32> {
    match text.get(pos..pos + 2)? {
        [a @ b'0'..=b'9', b @ b'0'..=b'9'] => Some(u32::from(a - b'0') * 10 + u32::from(b - b'0')),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(year: i32, month: u32, day: u32, hour: u32, minute: u32, second: u32) -> Local {
        Local {
            year,
            month,
            day,
            hour,
            minute,
            second,
            millis: 0,
        }
    }

    #[test]
    fn offsets_parse_with_and_without_colons() {
        assert_eq!(parse_offset(b"+01:00"), Some((3_600_000, 6)));
        assert_eq!(parse_offset(b"+0100"), Some((3_600_000, 5)));
        assert_eq!(parse_offset(b"-05"), Some((-18_000_000, 3)));
        assert_eq!(parse_offset(b"-05:30:15"), Some((-19_815_000, 9)));
        assert_eq!(parse_offset(b"+053015"), Some((19_815_000, 7)));
        assert_eq!(parse_offset(b"+05:30:15.250"), Some((19_815_250, 13)));
        assert_eq!(parse_offset(b"+01:00 rest"), Some((3_600_000, 6)));
        assert_eq!(parse_offset(b"+24:00"), None);
        assert_eq!(parse_offset(b"+01:60"), None);
        assert_eq!(parse_offset(b"+1"), None);
        assert_eq!(parse_offset(b"+01:"), None);
        assert_eq!(parse_offset(b"+011"), None);
        assert_eq!(parse_offset(b"Z"), None);
    }

    #[test]
    fn zone_ids_are_iana_names_or_offsets() {
        assert_eq!(
            Zone::parse("Europe/Paris"),
            Some(Zone::Named(Tz::Europe__Paris))
        );
        assert_eq!(Zone::parse("UTC"), Some(Zone::Named(Tz::UTC)));
        assert_eq!(Zone::parse("+01:00"), Some(Zone::Fixed(3_600_000)));
        assert_eq!(Zone::parse("-0530"), Some(Zone::Fixed(-19_800_000)));
        assert_eq!(Zone::parse("europe/paris"), None);
        assert_eq!(Zone::parse("+01:00x"), None);
        assert_eq!(Zone::parse(""), None);
        assert_eq!(Zone::parse("Mars/Olympus"), None);
    }

    #[test]
    fn named_zones_follow_daylight_saving_time() {
        let paris = Zone::Named(Tz::Europe__Paris);
        let winter = paris.to_instant(&local(2016, 1, 10, 12, 0, 0)).unwrap();
        assert_eq!(winter.to_string(), "2016-01-10T11:00:00.000Z");
        let summer = paris.to_instant(&local(2016, 7, 10, 12, 0, 0)).unwrap();
        assert_eq!(summer.to_string(), "2016-07-10T10:00:00.000Z");
        // 2016-03-27 02:00-03:00 does not exist in Paris.
        assert_eq!(paris.to_instant(&local(2016, 3, 27, 2, 30, 0)), None);
        // 2016-10-30 02:00-03:00 happens twice: the first one wins.
        let twice = paris.to_instant(&local(2016, 10, 30, 2, 30, 0)).unwrap();
        assert_eq!(twice.to_string(), "2016-10-30T00:30:00.000Z");
    }

    #[test]
    fn the_per_thread_cache_keeps_zones_and_seconds_apart() {
        let paris = Zone::Named(Tz::Europe__Paris);
        let new_york = Zone::Named(Tz::America__New_York);
        let t = local(2020, 6, 1, 8, 0, 0);
        for _ in 0..3 {
            assert_eq!(
                paris.to_instant(&t).unwrap().to_string(),
                "2020-06-01T06:00:00.000Z"
            );
            assert_eq!(
                new_york.to_instant(&t).unwrap().to_string(),
                "2020-06-01T12:00:00.000Z"
            );
            let gap = local(2020, 3, 8, 2, 30, 0);
            assert_eq!(new_york.to_instant(&gap), None);
            let later = Local { millis: 5, ..t };
            assert_eq!(
                paris.to_instant(&later).unwrap().to_string(),
                "2020-06-01T06:00:00.005Z"
            );
        }
    }

    #[test]
    fn fixed_offsets_keep_milliseconds() {
        let t = Local {
            millis: 123,
            ..local(2001, 9, 5, 16, 36, 36)
        };
        let ts = Zone::Fixed(7 * 3_600_000).to_instant(&t).unwrap();
        assert_eq!(ts.to_string(), "2001-09-05T09:36:36.123Z");
        assert_eq!(Zone::UTC.to_instant(&local(2026, 2, 30, 0, 0, 0)), None);
    }
}
