//! [`Timestamp`]: `@timestamp` as nanoseconds since the Unix epoch, UTC.
//!
//! Kept as an integer so that creating and comparing timestamps is free; it is formatted only
//! when an output writes it. Conversion to and from the civil calendar (proleptic Gregorian, UTC)
//! is hand-written: Howard Hinnant's `days_from_civil` / `civil_from_days` are a dozen integer
//! operations, where a general date library would cost far more per event. They are exact for
//! every instant an `i64` of nanoseconds can hold (1677-09-21 to 2262-04-11), before 1970 too.

use std::cell::Cell;

const NANOS_PER_SEC: i64 = 1_000_000_000;
const SECS_PER_DAY: i64 = 86_400;
/// Days from 0000-03-01 (the start of the shifted calendar used below) to 1970-01-01.
const UNIX_EPOCH_DAYS: i64 = 719_468;
/// Days in a 400-year Gregorian cycle.
const DAYS_PER_ERA: i64 = 146_097;
/// The largest UTC offset ISO8601 parsers accept (java.time: ±18:00).
const MAX_OFFSET_SECS: i64 = 18 * 3600;

/// The longest output of [`Timestamp::write_iso8601`]: `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`.
pub const ISO8601_MAX_LEN: usize = 30;

/// An instant, in nanoseconds since 1970-01-01T00:00:00Z.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    pub const fn from_nanos(nanos: i64) -> Timestamp {
        Timestamp(nanos)
    }

    pub const fn from_millis(millis: i64) -> Timestamp {
        Timestamp(millis * 1_000_000)
    }

    pub const fn from_secs(secs: i64) -> Timestamp {
        Timestamp(secs * 1_000_000_000)
    }

    /// The current time, to the millisecond: what an input stamps on the events it makes.
    /// Millisecond precision is what Elasticsearch's `date` type keeps and what Logstash's JSON
    /// shows (`2026-11-21T05:24:00.000Z`); parsed timestamps keep their full precision.
    pub fn now() -> Timestamp {
        let d = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Timestamp::from_millis(d.as_millis() as i64)
    }

    pub const fn nanos(self) -> i64 {
        self.0
    }

    /// Whole seconds since the epoch (rounded down).
    pub const fn secs(self) -> i64 {
        self.0.div_euclid(1_000_000_000)
    }

    /// Nanoseconds within the second, 0..1e9.
    pub const fn subsec_nanos(self) -> u32 {
        self.0.rem_euclid(1_000_000_000) as u32
    }

    /// Whole milliseconds since the epoch (rounded down).
    pub const fn millis(self) -> i64 {
        self.0.div_euclid(1_000_000)
    }
}

/// Calendar arithmetic.
impl Timestamp {
    /// The UTC civil date and time: `(year, month 1-12, day 1-31, hour, minute, second,
    /// nanosecond)`.
    pub fn civil(self) -> (i32, u32, u32, u32, u32, u32, u32) {
        let secs = self.secs();
        let nanos = self.subsec_nanos();
        let days = secs.div_euclid(SECS_PER_DAY);
        let sod = (secs - days * SECS_PER_DAY) as u32;
        let (year, month, day) = civil_from_days(days);
        // An i64 of nanoseconds spans years 1677..2262, so the year always fits an i32.
        (
            year as i32,
            month,
            day,
            sod / 3600,
            sod / 60 % 60,
            sod % 60,
            nanos,
        )
    }

    /// The instant of a UTC civil date and time; `None` when a field is out of range (month
    /// 13, February 30th, hour 24, second 60, nanos >= 1e9) or the instant does not fit.
    pub fn from_civil(
        year: i32,
        month: u32,
        day: u32,
        hour: u32,
        minute: u32,
        second: u32,
        nanos: u32,
    ) -> Option<Timestamp> {
        let valid = (1..=12).contains(&month)
            && day >= 1
            && day <= Self::days_in_month(year, month)
            && hour < 24
            && minute < 60
            && second < 60
            && i64::from(nanos) < NANOS_PER_SEC;
        if !valid {
            return None;
        }
        let days = days_from_civil(i64::from(year), month, day);
        let secs = days * SECS_PER_DAY + i64::from(hour * 3600 + minute * 60 + second);
        secs.checked_mul(NANOS_PER_SEC)?
            .checked_add(i64::from(nanos))
            .map(Timestamp)
    }

    /// Days since 1970-01-01 (negative before), the day this instant falls on in UTC.
    pub const fn days_since_epoch(self) -> i64 {
        self.secs().div_euclid(SECS_PER_DAY)
    }

    /// ISO day of the week in UTC: 1 = Monday .. 7 = Sunday.
    pub const fn weekday(self) -> u32 {
        weekday_from_days(self.days_since_epoch())
    }

    pub const fn is_leap_year(year: i32) -> bool {
        year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
    }

    /// Days in `month` (1-12) of `year`; 0 for a month out of range.
    pub const fn days_in_month(year: i32, month: u32) -> u32 {
        match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if Self::is_leap_year(year) => 29,
            2 => 28,
            _ => 0,
        }
    }

    /// This instant moved by `secs` seconds; `None` on overflow.
    pub fn checked_add_secs(self, secs: i64) -> Option<Timestamp> {
        secs.checked_mul(NANOS_PER_SEC)
            .and_then(|n| self.0.checked_add(n))
            .map(Timestamp)
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (month 1-12, day 1-31).
pub(super) const fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    // Shift the year to start in March so the leap day is the last day of the year.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (month as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * DAYS_PER_ERA + doe - UNIX_EPOCH_DAYS
}

/// The proleptic Gregorian `(year, month, day)` of a count of days since 1970-01-01.
pub(super) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    match i32::try_from(days) {
        Ok(days) if (-NEAR_DAYS..=NEAR_DAYS).contains(&days) => civil_from_days_near(days),
        _ => civil_from_days_any(days),
    }
}

/// The span of days [`civil_from_days_near`] handles (about ±2900 years around 1970), a
/// superset of what an i64 of nanoseconds can reach.
const NEAR_DAYS: i32 = 1_000_000;

/// Neri and Schneider's "Euclidean affine functions" conversion (2021): a few multiplications
/// and shifts instead of Hinnant's chain of divisions, since this runs for every timestamp
/// written. Days are shifted by 82 eras so all arithmetic is unsigned and 32-bit.
fn civil_from_days_near(days: i32) -> (i64, u32, u32) {
    const ERAS: u32 = 82;
    const SHIFT: u32 = UNIX_EPOCH_DAYS as u32 + DAYS_PER_ERA as u32 * ERAS;
    let n = (days + SHIFT as i32) as u32;
    let n1 = 4 * n + 3;
    let century = n1 / DAYS_PER_ERA as u32;
    let day_of_century = n1 % DAYS_PER_ERA as u32 / 4;
    let p2 = 2_939_745u64 * u64::from(4 * day_of_century + 3);
    let year_of_century = (p2 >> 32) as u32;
    let day_of_year = (p2 as u32) / 2_939_745 / 4;
    let n3 = 2141 * day_of_year + 197_913;
    let month = n3 >> 16;
    let day = (n3 & 0xffff) / 2141 + 1;
    // The computation's years start in March: January and February belong to the next year.
    let january_or_february = day_of_year >= 306;
    let year = i64::from(100 * century + year_of_century) - i64::from(400 * ERAS)
        + i64::from(january_or_february);
    let month = if january_or_february {
        month - 12
    } else {
        month
    };
    (year, month, day)
}

/// Hinnant's `civil_from_days`, valid for any day count.
fn civil_from_days_any(days: i64) -> (i64, u32, u32) {
    let z = days + UNIX_EPOCH_DAYS;
    let era = z.div_euclid(DAYS_PER_ERA);
    let doe = z.rem_euclid(DAYS_PER_ERA);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// ISO day of the week (1 = Monday) of a count of days since 1970-01-01 (a Thursday).
pub(super) const fn weekday_from_days(days: i64) -> u32 {
    (days + 3).rem_euclid(7) as u32 + 1
}

/// Parsing and formatting ISO8601.
impl Timestamp {
    /// Parses an ISO8601 / RFC3339 instant as Logstash accepts it in `@timestamp`
    /// (`2026-11-21T05:24:00.000Z`, `2026-11-21T05:24:00+01:00`, fraction up to nanoseconds,
    /// `T` or space between date and time; no zone means UTC).
    ///
    /// Accepted, after Logstash's lenient `Timestamp(String)` parser: `YYYY-MM-DD`, optionally
    /// followed by `T`/`t`/space and `HH:MM[:SS[.fraction]]` (`.` or `,`, 0 to 9 digits), then
    /// optionally `Z`, `UTC`/`GMT`/`UT`, and/or an offset `±HH`, `±HH:MM`, `±HHMM`,
    /// `±HH:MM:SS`, `±HHMMSS`. Zone names other than those (e.g. `Europe/Paris`) are rejected.
    pub fn parse_iso8601(s: &str) -> Option<Timestamp> {
        let mut c = Cursor {
            bytes: s.as_bytes(),
            pos: 0,
        };
        let year = c.digits(4)? as i32;
        c.expect(b'-')?;
        let month = c.digits(2)?;
        c.expect(b'-')?;
        let day = c.digits(2)?;
        let (hour, minute, second, nanos) = if c.eat_any(b"Tt ") {
            c.time()?
        } else {
            (0, 0, 0, 0)
        };
        let offset = c.zone()?;
        if !c.at_end() {
            return None;
        }
        Timestamp::from_civil(year, month, day, hour, minute, second, nanos)?
            .checked_add_secs(-offset)
    }

    /// Writes the instant the way Logstash's JSON does: UTC, `Z`, milliseconds always, more
    /// digits (micro, nano) only when present: `2026-11-21T05:24:00.000Z`.
    pub fn write_iso8601(self, buf: &mut Vec<u8>) {
        let mut tmp = [0u8; ISO8601_MAX_LEN];
        let len = self.encode_iso8601(&mut tmp);
        buf.extend_from_slice(&tmp[..len]);
    }

    /// [`Timestamp::write_iso8601`] appending to a `String`.
    pub fn push_iso8601(self, out: &mut String) {
        let mut tmp = [0u8; ISO8601_MAX_LEN];
        let len = self.encode_iso8601(&mut tmp);
        // Always ASCII, so this never takes the empty branch.
        out.push_str(std::str::from_utf8(&tmp[..len]).unwrap_or_default());
    }

    /// Fills `out` with the ISO8601 text and returns its length.
    fn encode_iso8601(self, out: &mut [u8; ISO8601_MAX_LEN]) -> usize {
        let secs = self.secs();
        let prefix = LAST_SECOND
            .try_with(|last| {
                let (cached, text) = last.get();
                if cached == secs {
                    return text;
                }
                let text = self.date_time_text();
                last.set((secs, text));
                text
            })
            // Only during thread teardown, when the cache is gone.
            .unwrap_or_else(|_| self.date_time_text());
        out[..SECOND_TEXT_LEN].copy_from_slice(&prefix);
        out[19] = b'.';
        let nanos = self.subsec_nanos();
        put3(&mut out[20..23], nanos / 1_000_000);
        let mut len = 23;
        if !nanos.is_multiple_of(1_000_000) {
            put3(&mut out[23..26], nanos / 1_000 % 1_000);
            len = 26;
            if !nanos.is_multiple_of(1_000) {
                put3(&mut out[26..29], nanos % 1_000);
                len = 29;
            }
        }
        out[len] = b'Z';
        len + 1
    }

    /// `YYYY-MM-DDTHH:MM:SS` of the second this instant falls in.
    fn date_time_text(self) -> [u8; SECOND_TEXT_LEN] {
        let (year, month, day, hour, minute, second, _) = self.civil();
        // The i64 range keeps the year within 1677..=2262: always four digits.
        let year = year.unsigned_abs() % 10_000;
        let mut out = *b"0000-00-00T00:00:00";
        put2(&mut out[0..2], year / 100);
        put2(&mut out[2..4], year % 100);
        put2(&mut out[5..7], month);
        put2(&mut out[8..10], day);
        put2(&mut out[11..13], hour);
        put2(&mut out[14..16], minute);
        put2(&mut out[17..19], second);
        out
    }
}

/// Length of `YYYY-MM-DDTHH:MM:SS`.
const SECOND_TEXT_LEN: usize = 19;

thread_local! {
    /// The last whole second formatted on this thread, and its `YYYY-MM-DDTHH:MM:SS`:
    /// consecutive events nearly always share their second, and the calendar conversion is
    /// most of the cost of writing a timestamp. `i64::MIN` is never a `secs()` value.
    static LAST_SECOND: Cell<(i64, [u8; SECOND_TEXT_LEN])> =
        const { Cell::new((i64::MIN, [0; SECOND_TEXT_LEN])) };
}

/// Two ASCII digits of `n` (< 100).
fn put2(out: &mut [u8], n: u32) {
    out[0] = b'0' + (n / 10 % 10) as u8;
    out[1] = b'0' + (n % 10) as u8;
}

/// Three ASCII digits of `n` (< 1000).
fn put3(out: &mut [u8], n: u32) {
    out[0] = b'0' + (n / 100 % 10) as u8;
    put2(&mut out[1..3], n % 100);
}

/// A position in the text being parsed by [`Timestamp::parse_iso8601`].
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn at_end(&self) -> bool {
        self.pos == self.bytes.len()
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn eat(&mut self, b: u8) -> bool {
        self.eat_any(&[b])
    }

    fn eat_any(&mut self, set: &[u8]) -> bool {
        match self.peek() {
            Some(b) if set.contains(&b) => {
                self.pos += 1;
                true
            }
            _ => false,
        }
    }

    fn expect(&mut self, b: u8) -> Option<()> {
        self.eat(b).then_some(())
    }

    fn eat_word(&mut self, word: &[u8]) -> bool {
        let end = self.pos + word.len();
        match self.bytes.get(self.pos..end) {
            Some(found) if found.eq_ignore_ascii_case(word) => {
                self.pos = end;
                true
            }
            _ => false,
        }
    }

    /// Exactly `n` ASCII digits (n <= 9, so the value fits).
    fn digits(&mut self, n: usize) -> Option<u32> {
        let end = self.pos + n;
        let run = self.bytes.get(self.pos..end)?;
        let mut value = 0u32;
        for &b in run {
            if !b.is_ascii_digit() {
                return None;
            }
            value = value * 10 + u32::from(b - b'0');
        }
        self.pos = end;
        Some(value)
    }

    /// `HH:MM[:SS[.fraction]]` as `(hour, minute, second, nanos)`; ranges are checked later.
    fn time(&mut self) -> Option<(u32, u32, u32, u32)> {
        let hour = self.digits(2)?;
        self.expect(b':')?;
        let minute = self.digits(2)?;
        if !self.eat(b':') {
            return Some((hour, minute, 0, 0));
        }
        let second = self.digits(2)?;
        let nanos = if self.eat_any(b".,") {
            self.fraction()?
        } else {
            0
        };
        Some((hour, minute, second, nanos))
    }

    /// Up to nine fraction digits, scaled to nanoseconds; more digits are rejected.
    fn fraction(&mut self) -> Option<u32> {
        let mut nanos = 0u32;
        let mut count = 0;
        while let Some(b) = self.peek().filter(u8::is_ascii_digit) {
            if count == 9 {
                return None;
            }
            nanos = nanos * 10 + u32::from(b - b'0');
            count += 1;
            self.pos += 1;
        }
        Some(nanos * 10u32.pow(9 - count))
    }

    /// The zone designator, as an offset east of UTC in seconds (0 when absent).
    fn zone(&mut self) -> Option<i64> {
        if self.eat_any(b"Zz") {
            return Some(0);
        }
        // `UTC` before `UT`: both are prefixes of the text being tried.
        let named = self.eat_word(b"UTC") || self.eat_word(b"GMT") || self.eat_word(b"UT");
        match self.peek() {
            Some(sign @ (b'+' | b'-')) => {
                self.pos += 1;
                let secs = self.offset()?;
                Some(if sign == b'-' { -secs } else { secs })
            }
            _ if named || self.at_end() => Some(0),
            _ => None,
        }
    }

    /// The digits of an offset after its sign: `HH`, `HH:MM`, `HHMM`, `HH:MM:SS`, `HHMMSS`.
    fn offset(&mut self) -> Option<i64> {
        let hours = self.digits(2)?;
        let colon = self.eat(b':');
        let has_minutes = colon || self.peek().is_some_and(|b| b.is_ascii_digit());
        let minutes = if has_minutes { self.digits(2)? } else { 0 };
        let has_seconds = has_minutes
            && if colon {
                self.eat(b':')
            } else {
                self.peek().is_some_and(|b| b.is_ascii_digit())
            };
        let seconds = if has_seconds { self.digits(2)? } else { 0 };
        if minutes >= 60 || seconds >= 60 {
            return None;
        }
        let total = i64::from(hours * 3600 + minutes * 60 + seconds);
        (total <= MAX_OFFSET_SECS).then_some(total)
    }
}

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut buf = [0u8; ISO8601_MAX_LEN];
        let len = self.encode_iso8601(&mut buf);
        f.write_str(std::str::from_utf8(&buf[..len]).map_err(|_| std::fmt::Error)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn now_is_stamped_to_the_millisecond() {
        let now = Timestamp::now();
        assert_eq!(now.nanos() % 1_000_000, 0);
        assert!(now > Timestamp::from_secs(1_700_000_000));
        assert_eq!(now.to_string().len(), "2026-11-21T05:24:00.000Z".len());
    }

    fn iso(ts: Timestamp) -> String {
        let mut buf = Vec::new();
        ts.write_iso8601(&mut buf);
        String::from_utf8(buf).unwrap()
    }

    fn parse(s: &str) -> Option<String> {
        Timestamp::parse_iso8601(s).map(iso)
    }

    #[test]
    fn writes_milliseconds_always_and_more_digits_only_when_present() {
        let base = Timestamp::from_civil(2026, 11, 21, 5, 24, 0, 0).unwrap();
        assert_eq!(iso(base), "2026-11-21T05:24:00.000Z");
        let n = base.nanos();
        assert_eq!(
            iso(Timestamp::from_nanos(n + 123_000_000)),
            "2026-11-21T05:24:00.123Z"
        );
        assert_eq!(
            iso(Timestamp::from_nanos(n + 123_456_000)),
            "2026-11-21T05:24:00.123456Z"
        );
        assert_eq!(
            iso(Timestamp::from_nanos(n + 1)),
            "2026-11-21T05:24:00.000000001Z"
        );
        assert_eq!(iso(Timestamp::from_secs(0)), "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn the_per_thread_second_cache_never_leaks_between_instants() {
        let a = Timestamp::from_civil(2026, 11, 21, 5, 24, 0, 0).unwrap();
        let b = Timestamp::from_nanos(a.nanos() + 1_000_000_001);
        for _ in 0..3 {
            assert_eq!(iso(a), "2026-11-21T05:24:00.000Z");
            assert_eq!(iso(a), "2026-11-21T05:24:00.000Z");
            assert_eq!(iso(b), "2026-11-21T05:24:01.000000001Z");
            assert_eq!(
                iso(Timestamp::from_nanos(-a.nanos())),
                "1913-02-10T18:36:00.000Z"
            );
        }
    }

    #[test]
    fn display_and_push_match_write() {
        let ts = Timestamp::from_nanos(1_790_000_000_123_456_789);
        let mut s = String::from(">");
        ts.push_iso8601(&mut s);
        assert_eq!(s, format!(">{ts}"));
        assert_eq!(ts.to_string(), iso(ts));
    }

    #[test]
    fn negative_instants_are_before_1970() {
        assert_eq!(
            iso(Timestamp::from_nanos(-1)),
            "1969-12-31T23:59:59.999999999Z"
        );
        assert_eq!(iso(Timestamp::from_millis(-1)), "1969-12-31T23:59:59.999Z");
        let moon = Timestamp::from_civil(1969, 7, 20, 20, 17, 40, 0).unwrap();
        assert_eq!(moon.secs(), -14_182_940);
        assert_eq!(iso(moon), "1969-07-20T20:17:40.000Z");
        assert_eq!(
            Timestamp::from_civil(1900, 3, 1, 0, 0, 0, 0)
                .unwrap()
                .secs(),
            -2_203_891_200
        );
    }

    #[test]
    fn extremes_of_the_i64_range_format() {
        assert_eq!(
            iso(Timestamp::from_nanos(i64::MIN)),
            "1677-09-21T00:12:43.145224192Z"
        );
        assert_eq!(
            iso(Timestamp::from_nanos(i64::MAX)),
            "2262-04-11T23:47:16.854775807Z"
        );
    }

    #[test]
    fn civil_round_trips_every_week_over_five_centuries() {
        for days in (-106_000..=106_000).step_by(7) {
            let ts = Timestamp::from_secs(days * SECS_PER_DAY + 3723);
            let (y, mo, d, h, mi, s, ns) = ts.civil();
            assert_eq!((h, mi, s, ns), (1, 2, 3, 0));
            assert_eq!(Timestamp::from_civil(y, mo, d, h, mi, s, ns), Some(ts));
        }
    }

    #[test]
    fn civil_and_iso_agree_with_chrono_on_random_instants() {
        use chrono::{Datelike, Timelike};
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for _ in 0..20_000 {
            let nanos: i64 = rng.gen();
            let ts = Timestamp::from_nanos(nanos);
            let c = chrono::DateTime::from_timestamp_nanos(nanos);
            let expected = (
                c.year(),
                c.month(),
                c.day(),
                c.hour(),
                c.minute(),
                c.second(),
                c.nanosecond(),
            );
            assert_eq!(ts.civil(), expected, "{nanos}");
            assert_eq!(ts.weekday(), c.weekday().number_from_monday());
            let text = c.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
            assert_eq!(Timestamp::parse_iso8601(&text), Some(ts), "{text}");
        }
    }

    #[test]
    fn both_civil_from_days_algorithms_agree() {
        for days in (-NEAR_DAYS..=NEAR_DAYS).step_by(13).chain(-1500..1500) {
            let (y, m, d) = civil_from_days_near(days);
            assert_eq!((y, m, d), civil_from_days_any(i64::from(days)), "{days}");
            assert_eq!(days_from_civil(y, m, d), i64::from(days));
        }
        assert_eq!(
            civil_from_days(i64::MAX / 2),
            civil_from_days_any(i64::MAX / 2)
        );
    }

    #[test]
    fn civil_knows_leap_years_and_weekdays() {
        let leap = Timestamp::from_civil(2024, 2, 29, 0, 0, 0, 0).unwrap();
        assert_eq!(leap.civil(), (2024, 2, 29, 0, 0, 0, 0));
        assert_eq!(Timestamp::from_civil(2023, 2, 29, 0, 0, 0, 0), None);
        assert_eq!(
            Timestamp::from_civil(2000, 2, 29, 0, 0, 0, 0).map(|t| t.weekday()),
            Some(2)
        );
        assert_eq!(Timestamp::from_civil(1900, 2, 29, 0, 0, 0, 0), None);
        // 2026-11-21 is a Saturday; 1970-01-01 a Thursday.
        assert_eq!(leap.weekday(), 4);
        assert_eq!(Timestamp::from_secs(0).weekday(), 4);
        assert_eq!(
            Timestamp::from_civil(2026, 11, 21, 0, 0, 0, 0)
                .unwrap()
                .weekday(),
            6
        );
        assert_eq!(Timestamp::from_secs(-1).weekday(), 3);
    }

    #[test]
    fn from_civil_rejects_out_of_range_fields() {
        assert!(Timestamp::from_civil(2026, 0, 1, 0, 0, 0, 0).is_none());
        assert!(Timestamp::from_civil(2026, 13, 1, 0, 0, 0, 0).is_none());
        assert!(Timestamp::from_civil(2026, 4, 31, 0, 0, 0, 0).is_none());
        assert!(Timestamp::from_civil(2026, 4, 0, 0, 0, 0, 0).is_none());
        assert!(Timestamp::from_civil(2026, 4, 1, 24, 0, 0, 0).is_none());
        assert!(Timestamp::from_civil(2026, 4, 1, 0, 60, 0, 0).is_none());
        assert!(Timestamp::from_civil(2026, 4, 1, 0, 0, 60, 0).is_none());
        assert!(Timestamp::from_civil(2026, 4, 1, 0, 0, 0, 1_000_000_000).is_none());
        assert!(Timestamp::from_civil(2263, 1, 1, 0, 0, 0, 0).is_none());
        assert!(Timestamp::from_civil(i32::MAX, 12, 31, 23, 59, 59, 0).is_none());
        assert!(Timestamp::from_civil(i32::MIN, 1, 1, 0, 0, 0, 0).is_none());
    }

    #[test]
    fn parses_the_forms_logstash_accepts() {
        let z = Some("2026-11-21T05:24:00.000Z".to_string());
        for s in [
            "2026-11-21T05:24:00.000Z",
            "2026-11-21T05:24:00Z",
            "2026-11-21T05:24Z",
            "2026-11-21T05:24:00",
            "2026-11-21 05:24:00",
            "2026-11-21t05:24:00z",
            "2026-11-21T05:24:00.Z",
            "2026-11-21T05:24:00,000Z",
            "2026-11-21T06:24:00+01:00",
            "2026-11-21T06:24:00+0100",
            "2026-11-21T06:24:00+01",
            "2026-11-21T00:24:00-05:00",
            "2026-11-21T05:24:00UTC",
            "2026-11-21T05:24:00GMT+00:00",
            "2026-11-21T06:24:00UTC+01:00",
        ] {
            assert_eq!(parse(s), z, "{s}");
        }
        assert_eq!(parse("2026-11-21"), Some("2026-11-21T00:00:00.000Z".into()));
        assert_eq!(
            parse("2026-11-21Z"),
            Some("2026-11-21T00:00:00.000Z".into())
        );
    }

    #[test]
    fn parses_fractions_of_any_length_up_to_nanoseconds() {
        assert_eq!(
            parse("2026-11-21T05:24:00.1Z"),
            Some("2026-11-21T05:24:00.100Z".into())
        );
        assert_eq!(
            parse("2026-11-21T05:24:00.1234Z"),
            Some("2026-11-21T05:24:00.123400Z".into())
        );
        assert_eq!(
            parse("2026-11-21T05:24:00.123456789Z"),
            Some("2026-11-21T05:24:00.123456789Z".into())
        );
        assert_eq!(parse("2026-11-21T05:24:00.1234567891Z"), None);
    }

    #[test]
    fn offsets_move_the_instant_across_days() {
        assert_eq!(
            parse("2026-01-01T00:30:00+01:00"),
            Some("2025-12-31T23:30:00.000Z".into())
        );
        assert_eq!(
            parse("1969-12-31T23:00:00-01:30:15"),
            Some("1970-01-01T00:30:15.000Z".into())
        );
        assert_eq!(
            parse("1969-12-31T20:00:00.5-0400"),
            Some("1970-01-01T00:00:00.500Z".into())
        );
    }

    #[test]
    fn rejects_garbage_and_out_of_range_values() {
        for s in [
            "",
            "not a date",
            "2026",
            "2026-11",
            "26-11-21",
            "2026-1-21",
            "2026/11/21",
            "2026-13-01",
            "2026-00-01",
            "2026-02-29",
            "2026-11-31",
            "2026-11-21T",
            "2026-11-21T05",
            "2026-11-21T24:00:00Z",
            "2026-11-21T05:60:00Z",
            "2026-11-21T05:24:60Z",
            "2026-11-21T05:24:00+19:00",
            "2026-11-21T05:24:00+01:60",
            "2026-11-21T05:24:00+1",
            "2026-11-21T05:24:00 Z",
            "2026-11-21T05:24:00Zjunk",
            "2026-11-21T05:24:00Europe/Paris",
            " 2026-11-21",
            "2026-11-21 ",
            "9999-12-31T23:59:59Z",
            "0000-01-01",
            "2026-11-2１",
        ] {
            assert_eq!(Timestamp::parse_iso8601(s), None, "{s:?}");
        }
    }

    #[test]
    fn parse_never_panics_on_random_iso_like_text() {
        use rand::seq::SliceRandom;
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        let mut accepted = 0;
        for _ in 0..20_000 {
            let mut text = format!(
                "{}-{:02}-{:02}",
                ["2026", "1969", "0000", "9999", "20x6"]
                    .choose(&mut rng)
                    .unwrap(),
                rng.gen_range(0..15),
                rng.gen_range(0..35)
            );
            text.push_str(["T", " ", "t", "", "X", "TT"].choose(&mut rng).unwrap());
            text.push_str(&format!(
                "{:02}:{:02}",
                rng.gen_range(0..26),
                rng.gen_range(0..62)
            ));
            if rng.gen_bool(0.7) {
                text.push_str(&format!(":{:02}", rng.gen_range(0..62)));
            }
            if rng.gen_bool(0.5) {
                text.push_str([".", ",", ":"].choose(&mut rng).unwrap());
                text.extend((0..rng.gen_range(0..12)).map(|_| rng.gen_range('0'..='9')));
            }
            let zones = [
                "", "Z", "z", "+01:00", "-0530", "+1", "UTC", "GMT+02", "+19:00", "Zx",
            ];
            text.push_str(zones.choose(&mut rng).unwrap());
            if let Some(ts) = Timestamp::parse_iso8601(&text) {
                accepted += 1;
                assert_eq!(
                    Timestamp::parse_iso8601(&ts.to_string()),
                    Some(ts),
                    "{text}"
                );
            }
        }
        assert!(accepted > 1_000, "{accepted}");
    }

    #[test]
    fn parse_never_panics_on_truncations_of_valid_text() {
        let full = "2026-11-21T05:24:00.123456789+01:30:15";
        for end in 0..=full.len() {
            let _ = Timestamp::parse_iso8601(&full[..end]);
        }
        assert!(Timestamp::parse_iso8601(full).is_some());
    }
}
