//! The `ISO8601` format: [`Iso8601`].
//!
//! Logstash tries Joda's `ISODateTimeFormat.dateTimeParser()` and then four "casual" patterns
//! (`yyyy-MM-dd HH:mm:ss.SSSZ`, `yyyy-MM-dd HH:mm:ss.SSS` and the same with `,`). Joda's ISO
//! parser is lenient: one-digit fields (`2011-4-9T3:4`), ordinal (`2011-100`) and week dates
//! (`2011-W15-2`), a fraction on the hour or minute, a `T` with nothing after it; but it wants
//! the `T` (a space is only accepted by the casual patterns, which require a fraction of one
//! to three digits). Without an offset in the text, the time is local to the filter's zone.
//!
//! The canonical shape (`2026-11-21T05:24:00.123Z`, `2026-11-21 05:24:00,123`) is read at
//! fixed positions first; anything else goes through the full grammar.

use crate::event::Timestamp;

use super::fields::{Field, Now, Parsed};
use super::locale::Locale;
use super::pattern::{read_fraction, read_number, read_offset, Pattern};
use super::zone::{Local, Zone};

/// The compiled `ISO8601` format.
#[derive(Clone, Debug)]
pub struct Iso8601 {
    casual: [Pattern; 4],
}

const CASUAL: [&str; 4] = [
    "yyyy-MM-dd HH:mm:ss.SSSZ",
    "yyyy-MM-dd HH:mm:ss.SSS",
    "yyyy-MM-dd HH:mm:ss,SSSZ",
    "yyyy-MM-dd HH:mm:ss,SSS",
];

impl Default for Iso8601 {
    fn default() -> Iso8601 {
        Iso8601 {
            // These patterns hold no two-digit year, so the year passed is never used.
            casual: CASUAL.map(|p| {
                Pattern::compile(p, Locale::English, 1970).expect("built-in pattern compiles")
            }),
        }
    }
}

impl Iso8601 {
    pub fn parse(&self, text: &str, zone: Zone, now: Now) -> Option<Timestamp> {
        let bytes = text.as_bytes();
        let instant =
            |(local, parsed): (Local, Option<Zone>)| parsed.unwrap_or(zone).to_instant(&local);
        if let Some(ts) = read_fast(bytes).and_then(instant) {
            return Some(ts);
        }
        read_iso(bytes)
            .and_then(instant)
            .or_else(|| self.casual.iter().find_map(|p| p.parse(text, zone, now)))
    }
}

/// `yyyy-MM-ddTHH:mm:ss[.fraction][zone]` (fraction of 1-9 digits) or the casual
/// `yyyy-MM-dd HH:mm:ss.fff[zone]` (1-3 digits), at fixed positions.
fn read_fast(t: &[u8]) -> Option<(Local, Option<Zone>)> {
    if t.len() < 19 || t[4] != b'-' || t[7] != b'-' || t[13] != b':' || t[16] != b':' {
        return None;
    }
    let max_fraction = match t[10] {
        b'T' | b't' => 9,
        b' ' => 3,
        _ => return None,
    };
    let year = digits(&t[0..4])?;
    let (month, day) = (digits(&t[5..7])?, digits(&t[8..10])?);
    let (hour, minute, second) = (
        digits(&t[11..13])?,
        digits(&t[14..16])?,
        digits(&t[17..19])?,
    );
    let mut pos = 19;
    let mut millis = 0;
    if matches!(t.get(pos), Some(b'.' | b',')) {
        let (value, len) = read_fraction(&t[pos + 1..], max_fraction, 1000)?;
        millis = value as u32;
        pos += 1 + len;
    } else if max_fraction == 3 {
        return None;
    }
    let zone = if pos == t.len() {
        None
    } else {
        let (offset, len) = read_offset(&t[pos..])?;
        pos += len;
        Some(Zone::Fixed(offset))
    };
    if pos != t.len() {
        return None;
    }
    let local = Local {
        year: year as i32,
        month,
        day,
        hour,
        minute,
        second,
        millis,
    };
    Some((local, zone))
}

fn digits(t: &[u8]) -> Option<u32> {
    t.iter().try_fold(0u32, |v, &b| {
        b.is_ascii_digit().then(|| v * 10 + u32::from(b - b'0'))
    })
}

/// Joda's `dateTimeParser()`: `time | date-opt-time`, the whole text.
fn read_iso(t: &[u8]) -> Option<(Local, Option<Zone>)> {
    let mut parsed = Parsed::default();
    let end = if matches!(t.first(), Some(b'T' | b't')) {
        let pos = time_element(t, 1, &mut parsed)?;
        optional_offset(t, pos, &mut parsed)
    } else {
        date_opt_time(t, &mut parsed)?
    };
    if end != t.len() {
        return None;
    }
    // An ISO date always starts with a year, so Joda's default year is never used.
    Some((parsed.resolve(2000)?, parsed.zone))
}

/// `date-element ['T' [time-element] [offset]]`.
fn date_opt_time(t: &[u8], parsed: &mut Parsed) -> Option<usize> {
    let pos = date_element(t, parsed)?;
    if !matches!(t.get(pos), Some(b'T' | b't')) {
        return Some(pos);
    }
    let mut with_time = *parsed;
    let pos = match time_element(t, pos + 1, &mut with_time) {
        Some(end) => {
            *parsed = with_time;
            end
        }
        None => pos + 1,
    };
    Some(optional_offset(t, pos, parsed))
}

/// `[offset]`: `Z` or `±HH[:mm[:ss[.SSS]]]` when one parses at `pos`.
fn optional_offset(t: &[u8], pos: usize, parsed: &mut Parsed) -> usize {
    match read_offset(&t[pos..]) {
        Some((offset, len)) => {
            parsed.zone = Some(Zone::Fixed(offset));
            pos + len
        }
        None => pos,
    }
}

/// Reads one form of date into the fields; returns the position after it.
type DateReader = fn(&[u8], &mut Parsed) -> Option<usize>;

/// The longest of the calendar date (`yyyy[-MM[-dd]]`), the week date (`xxxx-Www[-e]`) and
/// the ordinal date (`yyyy-DDD`), as Joda's matching parser picks.
fn date_element(t: &[u8], parsed: &mut Parsed) -> Option<usize> {
    let candidates: [DateReader; 3] = [calendar_date, week_date, ordinal_date];
    let mut best: Option<(usize, Parsed)> = None;
    for read in candidates {
        let mut attempt = *parsed;
        if let Some(end) = read(t, &mut attempt) {
            if best.is_none_or(|(len, _)| end > len) {
                best = Some((end, attempt));
            }
        }
    }
    let (end, found) = best?;
    *parsed = found;
    Some(end)
}

/// A number of at most `max` digits at `pos`, after the literal `prefix` (compared ignoring
/// case); saved as `field`.
fn field_after(
    t: &[u8],
    pos: usize,
    prefix: &[u8],
    field: Field,
    max: usize,
    parsed: &mut Parsed,
) -> Option<usize> {
    let start = pos + prefix.len();
    if !t.get(pos..start)?.eq_ignore_ascii_case(prefix) {
        return None;
    }
    let (value, len) = read_number(&t[start..], max, false)?;
    parsed.set(field, value);
    Some(start + len)
}

/// The signed year of up to nine digits that starts every ISO date.
fn year(t: &[u8], field: Field, parsed: &mut Parsed) -> Option<usize> {
    let (value, len) = read_number(t, 9, true)?;
    parsed.set(field, value);
    Some(len)
}

fn calendar_date(t: &[u8], parsed: &mut Parsed) -> Option<usize> {
    let pos = year(t, Field::Year, parsed)?;
    let mut with_month = *parsed;
    let Some(pos_month) = field_after(t, pos, b"-", Field::Month, 2, &mut with_month) else {
        return Some(pos);
    };
    *parsed = with_month;
    Some(field_after(t, pos_month, b"-", Field::DayOfMonth, 2, parsed).unwrap_or(pos_month))
}

fn week_date(t: &[u8], parsed: &mut Parsed) -> Option<usize> {
    let pos = year(t, Field::Weekyear, parsed)?;
    let pos = field_after(t, pos, b"-W", Field::Week, 2, parsed)?;
    Some(field_after(t, pos, b"-", Field::DayOfWeek, 1, parsed).unwrap_or(pos))
}

fn ordinal_date(t: &[u8], parsed: &mut Parsed) -> Option<usize> {
    let pos = year(t, Field::Year, parsed)?;
    field_after(t, pos, b"-", Field::DayOfYear, 3, parsed)
}

/// `HH [':' mm [':' ss [fraction] | fraction] | fraction]`, a fraction belonging to the last
/// field read.
fn time_element(t: &[u8], pos: usize, parsed: &mut Parsed) -> Option<usize> {
    let (hour, len) = read_number(t.get(pos..)?, 2, false)?;
    parsed.set(Field::HourOfDay, hour);
    let pos = pos + len;
    if let Some(end) = field_after(t, pos, b":", Field::Minute, 2, parsed) {
        return Some(minute_rest(t, end, parsed));
    }
    Some(fraction(t, pos, 3_600_000, parsed).unwrap_or(pos))
}

/// After the minutes: `':' ss [fraction]`, or a fraction of the minute, or nothing.
fn minute_rest(t: &[u8], pos: usize, parsed: &mut Parsed) -> usize {
    if let Some(end) = field_after(t, pos, b":", Field::Second, 2, parsed) {
        return fraction(t, end, 1000, parsed).unwrap_or(end);
    }
    fraction(t, pos, 60_000, parsed).unwrap_or(pos)
}

/// `('.' | ',') digit{1,9}`: a fraction of a unit of `unit_millis`, spread over the minute,
/// second and millisecond fields below that unit.
fn fraction(t: &[u8], pos: usize, unit_millis: i64, parsed: &mut Parsed) -> Option<usize> {
    if !matches!(t.get(pos), Some(b'.' | b',')) {
        return None;
    }
    let (millis, len) = read_fraction(&t[pos + 1..], 9, unit_millis)?;
    if unit_millis > 60_000 {
        parsed.set(Field::Minute, millis / 60_000);
    }
    if unit_millis > 1000 {
        parsed.set(Field::Second, millis % 60_000 / 1000);
    }
    parsed.set(Field::Millis, millis % 1000);
    Some(pos + 1 + len)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_in(text: &str, zone: Zone) -> Option<String> {
        let now = Now {
            year: 2026,
            month: 6,
        };
        Iso8601::default()
            .parse(text, zone, now)
            .map(|t| t.to_string())
    }

    fn parse(text: &str) -> Option<String> {
        parse_in(text, Zone::UTC)
    }

    /// The cases of logstash-filter-date's spec ("parsing with ISO8601").
    #[test]
    fn logstash_spec_cases() {
        for (input, output) in [
            ("2001-01-01T00:00:00-0800", "2001-01-01T08:00:00.000Z"),
            ("1974-03-02T04:09:09-0800", "1974-03-02T12:09:09.000Z"),
            ("2010-05-03T08:18:18+00:00", "2010-05-03T08:18:18.000Z"),
            ("2004-07-04T12:27:27-00:00", "2004-07-04T12:27:27.000Z"),
            ("2001-09-05T16:36:36+0000", "2001-09-05T16:36:36.000Z"),
            ("2001-11-06T20:45:45-0000", "2001-11-06T20:45:45.000Z"),
            ("2001-12-07T23:54:54Z", "2001-12-07T23:54:54.000Z"),
            ("2010-05-03T08:18:18.123+00:00", "2010-05-03T08:18:18.123Z"),
            ("2004-07-04T12:27:27.123-04:00", "2004-07-04T16:27:27.123Z"),
            ("2001-09-05T16:36:36.123+0700", "2001-09-05T09:36:36.123Z"),
            ("2001-11-06T20:45:45.123-0000", "2001-11-06T20:45:45.123Z"),
            ("2001-12-07T23:54:54.123Z", "2001-12-07T23:54:54.123Z"),
            ("2001-12-07T23:54:54,123Z", "2001-12-07T23:54:54.123Z"),
            ("2001-11-06 20:45:45.123-0000", "2001-11-06T20:45:45.123Z"),
            ("2001-12-07 23:54:54.123Z", "2001-12-07T23:54:54.123Z"),
            ("2001-12-07 23:54:54,123Z", "2001-12-07T23:54:54.123Z"),
            ("2001-11-06 20:45:45.123", "2001-11-06T20:45:45.123Z"),
            ("2001-11-06 20:45:45,123", "2001-11-06T20:45:45.123Z"),
        ] {
            assert_eq!(parse(input).as_deref(), Some(output), "{input}");
        }
    }

    #[test]
    fn joda_leniency() {
        for (input, output) in [
            ("2011-4-9T3:4:5Z", "2011-04-09T03:04:05.000Z"),
            ("2011", "2011-01-01T00:00:00.000Z"),
            ("2011-04", "2011-04-01T00:00:00.000Z"),
            ("2011-04-19T", "2011-04-19T00:00:00.000Z"),
            ("2011-04-19TZ", "2011-04-19T00:00:00.000Z"),
            ("2011-04-19T10", "2011-04-19T10:00:00.000Z"),
            ("2011-04-19T10.5", "2011-04-19T10:30:00.000Z"),
            ("2011-04-19T10:30.5", "2011-04-19T10:30:30.000Z"),
            ("2011-04-19t10:30:00.123456789z", "2011-04-19T10:30:00.123Z"),
            ("2011-100", "2011-04-10T00:00:00.000Z"),
            ("2011-W15-2", "2011-04-12T00:00:00.000Z"),
            ("2011-w15-2T01:00", "2011-04-12T01:00:00.000Z"),
            ("T10:00:00Z", "1970-01-01T10:00:00.000Z"),
            ("2011-04-19T10:00+01", "2011-04-19T09:00:00.000Z"),
            ("2011-04-19T10:00:00+01:30:15", "2011-04-19T08:29:45.000Z"),
        ] {
            assert_eq!(parse(input).as_deref(), Some(output), "{input}");
        }
    }

    #[test]
    fn rejects_what_joda_rejects() {
        for input in [
            "",
            "2011-04-19Z",
            "2011-04-19 10:00:00",
            "2011-04-19 10:00:00.1234",
            "2011-04-19T10:00:00.1234567891Z",
            "2011-04-19T24:00:00Z",
            "2011-02-30T10:00:00Z",
            "2011-04-19T10:00:00+24:00",
            "2011-04-19T10:00:00 Z",
            "2011-04-19T10:",
            "2011/04/19",
            " 2011-04-19",
            "2011-04-19T10:00:00Zjunk",
            "20x1-04-19",
        ] {
            assert_eq!(parse(input), None, "{input:?}");
        }
    }

    #[test]
    fn local_times_are_read_in_the_zone_and_offsets_win() {
        let caracas = Zone::parse("America/Caracas").unwrap();
        // Venezuela moved from -4:00 to -4:30 in December 2007 and back in May 2016.
        for (input, output) in [
            ("2001-01-01T00:00:00", "2001-01-01T04:00:00.000Z"),
            ("2008-01-01T00:00:00", "2008-01-01T04:30:00.000Z"),
            ("2016-05-01T08:18:18.123", "2016-05-01T12:18:18.123Z"),
            ("2007-12-09T01:00:00", "2007-12-09T05:00:00.000Z"),
            ("2007-12-09T10:00:00", "2007-12-09T14:30:00.000Z"),
            ("2008-01-01T00:00:00Z", "2008-01-01T00:00:00.000Z"),
        ] {
            assert_eq!(parse_in(input, caracas).as_deref(), Some(output), "{input}");
        }
    }

    #[test]
    fn the_fast_shape_agrees_with_the_grammar() {
        use rand::seq::SliceRandom;
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let samples = [
            "2026-11-21T05:24:00.123Z",
            "2026-11-21T05:24:00+01:00",
            "2026-11-21T05:24:00.123456-0500",
            "2026-02-28T23:59:59",
        ];
        let alphabet = b"0123456789T:-+.,Zz ";
        let mut agreed = 0;
        for _ in 0..40_000 {
            let mut text = samples.choose(&mut rng).unwrap().as_bytes().to_vec();
            for _ in 0..rng.gen_range(0..3) {
                let i = rng.gen_range(0..text.len());
                text[i] = *alphabet.choose(&mut rng).unwrap();
            }
            if text[10] == b' ' {
                continue; // the casual shape is checked by the spec cases
            }
            let Some(fast) = read_fast(&text) else {
                continue;
            };
            let full = read_iso(&text);
            let instant = |(l, z): (Local, Option<Zone>)| z.unwrap_or(Zone::UTC).to_instant(&l);
            assert_eq!(
                Some(fast).and_then(instant),
                full.and_then(instant),
                "{}",
                String::from_utf8_lossy(&text)
            );
            agreed += 1;
        }
        assert!(agreed > 10_000, "{agreed}");
    }
}
