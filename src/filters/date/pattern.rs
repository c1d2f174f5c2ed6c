//! Joda-Time date patterns (`dd/MMM/yyyy:HH:mm:ss Z`) compiled for parsing: [`Pattern`].
//!
//! A pattern is compiled once into a list of [`Token`]s with Joda's rules
//! (`DateTimeFormat.forPattern`): runs of one letter are fields, `'quoted'` text and other
//! characters are literals, matched ignoring case. Numbers read up to their field's width
//! (`dd` reads "7" or "07"; `yyyy` up to 9 digits unless a number follows it directly), text
//! fields take the longest name that matches, `Z`/`ZZ` read any offset form and `ZZZ` a zone
//! id. Reading a value then walks the tokens over the bytes of the text without allocating;
//! the whole text must be consumed. [`Parsed::resolve`] turns the fields into a date.
//!
//! The formats that cover most logs (`dd/MMM/yyyy:HH:mm:ss Z`, `MMM dd HH:mm:ss`,
//! `MMM  d HH:mm:ss`) also get a fixed-position fast path ([`Fast`]) for their usual shape;
//! any other shape falls through to the tokens, so results never depend on which path ran.

use chrono_tz::Tz;

use crate::event::sprintf::joda_literal;
use crate::event::Timestamp;

use super::fields::{Field, Now, Parsed};
use super::locale::{Locale, NameTable, TextKind};
use super::zone::{parse_offset, Local, Zone};

/// Why a pattern does not compile.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PatternError {
    #[error("illegal pattern component `{0}` (put literal text in single quotes: 'T')")]
    IllegalComponent(String),
    #[error("time zone names (`{0}`) cannot be parsed; use Z (offset), ZZ or ZZZ (zone id)")]
    LongZoneName(String),
    #[error("the pattern is empty")]
    Empty,
}

/// One compiled piece of a pattern.
#[derive(Clone, Debug)]
enum Token {
    /// Text that must appear, compared ignoring case.
    Literal(Box<str>),
    /// Up to `max` digits (at least one); `signed` allows a leading `+` or `-`.
    Number {
        field: Field,
        max: usize,
        signed: bool,
    },
    /// `yy`: two digits read in the century around `pivot`; `lenient` also takes other
    /// lengths literally (Joda, when no number follows).
    TwoDigitYear {
        field: Field,
        pivot: i32,
        lenient: bool,
    },
    /// `S...`: up to `max` digits of a fraction of a second, kept to the millisecond.
    Fraction { max: usize },
    /// A name: month, weekday, AM/PM or era.
    Text { field: Field, table: NameTable },
    /// `Z`, `ZZ`: `Z` or an offset.
    Offset,
    /// `ZZZ`: a zone id such as `Europe/Paris`.
    ZoneId,
    /// `z`, `zz`, `zzz`: the few short names Joda parses (`UTC`, `EST`, `PDT`, ...).
    ZoneName,
}

/// A compiled date pattern.
#[derive(Clone, Debug)]
pub struct Pattern {
    tokens: Box<[Token]>,
    /// The pattern text mentions `y` or `Y` (Logstash's test; even inside quotes). Without a
    /// year, the year is guessed from the date and the clock.
    has_year: bool,
    /// The pattern text mentions `Z`. A year-less pattern without one ignores a zone read from
    /// the text (Logstash parses it as a local date-time).
    has_zone: bool,
    fast: Option<Fast>,
}

/// The usual shapes of the most common formats, read at fixed positions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fast {
    /// `dd/MMM/yyyy:HH:mm:ss Z` on `25/Mar/2013:20:33:56 +0000` (web server logs).
    Apache,
    /// `MMM dd HH:mm:ss` on `Mar 05 20:33:56` (syslog).
    Syslog,
    /// `MMM  d HH:mm:ss` on `Mar  5 20:33:56` (syslog, space-padded day).
    SyslogPadded,
}

impl Pattern {
    /// Compiles `pattern` for `locale`. `now_year` sets the window two-digit years fall in
    /// (Joda: from 80 years before to 20 years after the year the pattern was made).
    pub fn compile(pattern: &str, locale: Locale, now_year: i32) -> Result<Pattern, PatternError> {
        if pattern.is_empty() {
            return Err(PatternError::Empty);
        }
        let pieces = split(pattern);
        let mut tokens = Vec::with_capacity(pieces.len());
        for (i, piece) in pieces.iter().enumerate() {
            let next_is_number = pieces.get(i + 1).is_some_and(Piece::is_numeric);
            tokens.push(token(piece, locale, now_year, next_is_number)?);
        }
        let fast = match (pattern, locale) {
            ("dd/MMM/yyyy:HH:mm:ss Z", Locale::English) => Some(Fast::Apache),
            ("MMM dd HH:mm:ss", Locale::English) => Some(Fast::Syslog),
            ("MMM  d HH:mm:ss", Locale::English) => Some(Fast::SyslogPadded),
            _ => None,
        };
        Ok(Pattern {
            tokens: tokens.into(),
            has_year: pattern.contains(['y', 'Y']),
            has_zone: pattern.contains('Z'),
            fast,
        })
    }

    /// True when the pattern reads month, weekday, AM/PM or era names (so needs a locale).
    pub fn reads_names(&self) -> bool {
        self.tokens.iter().any(|t| matches!(t, Token::Text { .. }))
    }

    /// The instant `text` stands for, reading local times in `zone`; `now` supplies the year
    /// when the pattern has none.
    pub fn parse(&self, text: &str, zone: Zone, now: Now) -> Option<Timestamp> {
        let (local, parsed_zone) = match self.fast.and_then(|f| f.read(text.as_bytes(), now)) {
            Some(found) => found,
            None => self.read(text, now)?,
        };
        self.finish(local, parsed_zone, zone, now)
    }

    /// [`Pattern::parse`] without the fast path, for checking that both agree.
    #[cfg(test)]
    fn parse_slow(&self, text: &str, zone: Zone, now: Now) -> Option<Timestamp> {
        let (local, parsed_zone) = self.read(text, now)?;
        self.finish(local, parsed_zone, zone, now)
    }

    /// Reads `text` with the tokens: the local date-time and the zone the text named.
    fn read(&self, text: &str, now: Now) -> Option<(Local, Option<Zone>)> {
        let parsed = self.scan(text)?;
        Some((parsed.resolve(now.year)?, parsed.zone))
    }

    /// Guesses a missing year, then applies the zone.
    fn finish(
        &self,
        mut local: Local,
        parsed_zone: Option<Zone>,
        zone: Zone,
        now: Now,
    ) -> Option<Timestamp> {
        let zone = if self.has_year || self.has_zone {
            parsed_zone.unwrap_or(zone)
        } else {
            zone
        };
        if !self.has_year {
            // Joda's `withYear`: the month and day stay, February 29th becomes the 28th.
            local.year = now.guess_year(local.month);
            local.day = local
                .day
                .min(Timestamp::days_in_month(local.year, local.month));
        }
        zone.to_instant(&local)
    }

    /// Walks the tokens over `text`; every byte must be read.
    fn scan(&self, text: &str) -> Option<Parsed> {
        let bytes = text.as_bytes();
        let mut parsed = Parsed::default();
        let mut pos = 0;
        for token in self.tokens.iter() {
            pos = read_token(token, text, bytes, pos, &mut parsed)?;
        }
        (pos == bytes.len()).then_some(parsed)
    }
}

/// Reads one token at `pos`; returns the position after it.
fn read_token(
    token: &Token,
    text: &str,
    bytes: &[u8],
    pos: usize,
    parsed: &mut Parsed,
) -> Option<usize> {
    let rest = &bytes[pos..];
    match token {
        Token::Literal(literal) => Some(pos + starts_with_ignore_case(&text[pos..], literal)?),
        &Token::Number { field, max, signed } => {
            let (value, len) = read_number(rest, max, signed)?;
            parsed.set(field, value);
            Some(pos + len)
        }
        &Token::TwoDigitYear {
            field,
            pivot,
            lenient,
        } => {
            let (value, len) = read_two_digit_year(rest, pivot, lenient)?;
            parsed.set(field, value);
            Some(pos + len)
        }
        &Token::Fraction { max } => {
            let (millis, len) = read_fraction(rest, max, 1000)?;
            parsed.set(Field::Millis, millis);
            Some(pos + len)
        }
        Token::Text { field, table } => {
            let (value, len) = table.matches(rest)?;
            parsed.set(*field, i64::from(value));
            Some(pos + len)
        }
        Token::Offset => {
            let (offset, len) = read_offset(rest)?;
            parsed.zone = Some(Zone::Fixed(offset));
            Some(pos + len)
        }
        Token::ZoneId => {
            let (tz, len) = read_zone_id(&text[pos..])?;
            parsed.zone = Some(tz);
            Some(pos + len)
        }
        Token::ZoneName => {
            let (zone, len) = read_zone_name(rest)?;
            parsed.zone = Some(zone);
            Some(pos + len)
        }
    }
}

/// `Z` (any case) for UTC, or an offset.
pub fn read_offset(text: &[u8]) -> Option<(i64, usize)> {
    match text.first() {
        Some(b'Z' | b'z') => Some((0, 1)),
        _ => parse_offset(text),
    }
}

/// Joda's number parser: up to `max` digits, at least one; a sign (when `signed`) does not
/// count towards `max` and must be followed by a digit. Values must fit Java's `int`.
pub fn read_number(text: &[u8], max: usize, signed: bool) -> Option<(i64, usize)> {
    let (negative, start) = match text.first() {
        Some(&sign @ (b'-' | b'+')) if signed && max > 1 => {
            if !text.get(1).is_some_and(u8::is_ascii_digit) {
                return None;
            }
            (sign == b'-', 1)
        }
        _ => (false, 0),
    };
    let digits = text[start..]
        .iter()
        .take(max)
        .take_while(|b| b.is_ascii_digit())
        .count();
    if digits == 0 {
        return None;
    }
    let mut value: i64 = 0;
    for &b in &text[start..start + digits] {
        value = value * 10 + i64::from(b - b'0');
        if value > i64::from(i32::MAX) + 1 {
            return None;
        }
    }
    let value = if negative { -value } else { value };
    i32::try_from(value).ok()?;
    Some((value, start + digits))
}

/// Joda's two-digit year: exactly two digits land in the 100 years starting 50 before
/// `pivot`; when `lenient`, any other count of digits (or a sign) is a year as written.
fn read_two_digit_year(text: &[u8], pivot: i32, lenient: bool) -> Option<(i64, usize)> {
    if lenient {
        let signed = matches!(text.first(), Some(b'-' | b'+'));
        let start = usize::from(signed);
        let digits = text[start..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        if signed || digits != 2 {
            // Joda reads every digit here; `read_number` fails past Java's `int`.
            return read_number(text, usize::MAX, true);
        }
    }
    let two = text.get(..2)?;
    if !two.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let year = i64::from((two[0] - b'0') * 10 + (two[1] - b'0'));
    let low = i64::from(pivot) - 50;
    let t = if low >= 0 {
        low % 100
    } else {
        99 + (low + 1) % 100
    };
    let century_fix = if year < t { 100 } else { 0 };
    Some((year + low + century_fix - t, 2))
}

/// Joda's fraction parser: up to `max` digits (at least one) of a fraction of a unit of
/// `unit_millis`, in whole milliseconds (digits past the millisecond count for nothing).
pub fn read_fraction(text: &[u8], max: usize, unit_millis: i64) -> Option<(i64, usize)> {
    let digits = text
        .iter()
        .take(max)
        .take_while(|b| b.is_ascii_digit())
        .count();
    if digits == 0 {
        return None;
    }
    let mut value = 0i64;
    let mut scale = unit_millis * 10;
    for &b in &text[..digits] {
        scale /= 10;
        value += i64::from(b - b'0') * scale;
    }
    Some((value / 10, digits))
}

/// `ZZZ`: the longest zone id the text starts with.
fn read_zone_id(text: &str) -> Option<(Zone, usize)> {
    let run = text
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'-' | b'+'))
        .count();
    (1..=run)
        .rev()
        .find_map(|end| Some((Zone::Named(text[..end].parse::<Tz>().ok()?), end)))
}

/// The short zone names Joda parses for `z`, and the zones they stand for.
const ZONE_NAMES: [(&str, Option<Tz>); 11] = [
    ("UTC", None),
    ("UT", None),
    ("GMT", None),
    ("EST", Some(Tz::America__New_York)),
    ("EDT", Some(Tz::America__New_York)),
    ("CST", Some(Tz::America__Chicago)),
    ("CDT", Some(Tz::America__Chicago)),
    ("MST", Some(Tz::America__Denver)),
    ("MDT", Some(Tz::America__Denver)),
    ("PST", Some(Tz::America__Los_Angeles)),
    ("PDT", Some(Tz::America__Los_Angeles)),
];

/// `z`: one of [`ZONE_NAMES`], case-sensitive, longest first (`UTC` before `UT`).
fn read_zone_name(text: &[u8]) -> Option<(Zone, usize)> {
    ZONE_NAMES
        .iter()
        .find(|(name, _)| text.starts_with(name.as_bytes()))
        .map(|&(name, tz)| (tz.map_or(Zone::UTC, Zone::Named), name.len()))
}

/// The length of `literal` at the start of `text`, compared as Joda does (a character
/// matches its upper or lower case).
fn starts_with_ignore_case(text: &str, literal: &str) -> Option<usize> {
    if literal.is_ascii() {
        let found = text.as_bytes().get(..literal.len())?;
        return found
            .eq_ignore_ascii_case(literal.as_bytes())
            .then_some(literal.len());
    }
    let mut len = 0;
    let mut chars = text.chars();
    for want in literal.chars() {
        let got = chars.next()?;
        let same = got == want
            || got.to_uppercase().eq(want.to_uppercase())
            || got.to_lowercase().eq(want.to_lowercase());
        if !same {
            return None;
        }
        len += got.len_utf8();
    }
    Some(len)
}

/// A piece of pattern text before it becomes a token.
#[derive(Debug, PartialEq, Eq)]
enum Piece {
    /// A run of one pattern letter: the letter and how many times.
    Letters(char, usize),
    Literal(String),
}

impl Piece {
    /// Joda's `isNumericToken`: a field read as digits.
    fn is_numeric(&self) -> bool {
        match *self {
            Piece::Letters(c, n) => "cCxyYdhHmsSeDFwWkK".contains(c) || (c == 'M' && n <= 2),
            Piece::Literal(_) => false,
        }
    }
}

/// Splits a pattern as Joda's `parseToken` does: a run of one ASCII letter is a field;
/// anything else up to the next unquoted letter is literal text, where `'...'` quotes letters
/// and `''` is a quote.
fn split(pattern: &str) -> Vec<Piece> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut pieces = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_ascii_alphabetic() {
            let n = chars[i..].iter().take_while(|&&d| d == c).count();
            pieces.push(Piece::Letters(c, n));
            i += n;
            continue;
        }
        let (text, end) = joda_literal(&chars, i);
        pieces.push(Piece::Literal(text));
        i = end;
    }
    pieces
}

/// The token for one piece (Joda's `parsePatternTo`).
fn token(
    piece: &Piece,
    locale: Locale,
    now_year: i32,
    next_is_number: bool,
) -> Result<Token, PatternError> {
    use Field::*;
    let (c, n) = match piece {
        Piece::Literal(text) => return Ok(Token::Literal(text.as_str().into())),
        &Piece::Letters(c, n) => (c, n),
    };
    let number = |field, max: usize| Token::Number {
        field,
        max: max.max(n),
        signed: false,
    };
    let text = |field, kind| Token::Text {
        field,
        table: locale.table(kind),
    };
    Ok(match c {
        'G' => text(Era, TextKind::Era),
        'C' => number(Century, n),
        'y' | 'Y' | 'x' if n == 2 => Token::TwoDigitYear {
            field: if c == 'x' { Weekyear } else { Year },
            pivot: now_year - 30,
            lenient: !next_is_number,
        },
        'y' | 'Y' | 'x' => Token::Number {
            field: match c {
                'y' => Year,
                'Y' => YearOfEra,
                _ => Weekyear,
            },
            max: if next_is_number { n } else { n.max(9) },
            signed: c != 'Y',
        },
        'M' if n >= 3 => text(Month, TextKind::Month),
        'M' => number(Month, 2),
        'd' => number(DayOfMonth, 2),
        'a' => text(Halfday, TextKind::Halfday),
        'h' => number(ClockhourOfHalfday, 2),
        'H' => number(HourOfDay, 2),
        'k' => number(ClockhourOfDay, 2),
        'K' => number(HourOfHalfday, 2),
        'm' => number(Minute, 2),
        's' => number(Second, 2),
        'S' => Token::Fraction { max: n },
        'e' => number(DayOfWeek, 1),
        'E' => text(DayOfWeek, TextKind::DayOfWeek),
        'D' => number(DayOfYear, 3),
        'w' => number(Week, 2),
        'z' if n >= 4 => return Err(PatternError::LongZoneName("z".repeat(n))),
        'z' => Token::ZoneName,
        'Z' if n <= 2 => Token::Offset,
        'Z' => Token::ZoneId,
        _ => return Err(PatternError::IllegalComponent(c.to_string().repeat(n))),
    })
}

impl Fast {
    /// Reads the usual shape of this format; `None` for any other shape (the tokens decide).
    fn read(self, text: &[u8], now: Now) -> Option<(Local, Option<Zone>)> {
        match self {
            Fast::Apache => read_apache(text),
            Fast::Syslog | Fast::SyslogPadded => read_syslog(text, self, now),
        }
    }
}

/// `25/Mar/2013:20:33:56 +0000`.
fn read_apache(t: &[u8]) -> Option<(Local, Option<Zone>)> {
    if t.len() != 26 || t[2] != b'/' || t[6] != b'/' || t[11] != b':' || t[20] != b' ' {
        return None;
    }
    let day = digits2(t, 0)?;
    let month = english_month(&t[3..6])?;
    let year = digits2(t, 7)? * 100 + digits2(t, 9)?;
    let (hour, minute, second) = hms(t, 12)?;
    let (offset, len) = parse_offset(&t[21..])?;
    if len != 5 {
        return None;
    }
    let local = checked_local(year as i32, month, day, hour, minute, second)?;
    Some((local, Some(Zone::Fixed(offset))))
}

/// `Mar 05 20:33:56` or, padded, `Mar  5 20:33:56`.
fn read_syslog(t: &[u8], shape: Fast, now: Now) -> Option<(Local, Option<Zone>)> {
    if t.len() != 15 || t[3] != b' ' || t[6] != b' ' {
        return None;
    }
    let month = english_month(&t[..3])?;
    let day = match shape {
        Fast::SyslogPadded if t[4] == b' ' => digit(t[5])?,
        Fast::Syslog => digits2(t, 4)?,
        _ => return None,
    };
    let (hour, minute, second) = hms(t, 7)?;
    Some((
        checked_local(now.year, month, day, hour, minute, second)?,
        None,
    ))
}

/// A local date-time if every field is in range, as the token path checks them.
fn checked_local(
    year: i32,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
) -> Option<Local> {
    let valid = day >= 1
        && day <= Timestamp::days_in_month(year, month)
        && hour < 24
        && minute < 60
        && second < 60;
    valid.then_some(Local {
        year,
        month,
        day,
        hour,
        minute,
        second,
        millis: 0,
    })
}

/// `HH:mm:ss` at `at`.
fn hms(t: &[u8], at: usize) -> Option<(u32, u32, u32)> {
    if t[at + 2] != b':' || t[at + 5] != b':' {
        return None;
    }
    Some((digits2(t, at)?, digits2(t, at + 3)?, digits2(t, at + 6)?))
}

fn digit(b: u8) -> Option<u32> {
    b.is_ascii_digit().then(|| u32::from(b - b'0'))
}

fn digits2(t: &[u8], at: usize) -> Option<u32> {
    Some(digit(t[at])? * 10 + digit(t[at + 1])?)
}

/// An English three-letter month as Joda accepts it: `Mar`, `mar` or `MAR`.
fn english_month(name: &[u8]) -> Option<u32> {
    const MONTHS: [&[u8; 3]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    let index = MONTHS.iter().position(|m| m.eq_ignore_ascii_case(name))?;
    // Title case, lower case or upper case; nothing mixed.
    let rest_lower = name[1..].iter().all(u8::is_ascii_lowercase);
    let all_upper = name.iter().all(u8::is_ascii_uppercase);
    (rest_lower || all_upper).then_some(index as u32 + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Now = Now {
        year: 2026,
        month: 6,
    };

    fn compile(pattern: &str) -> Pattern {
        Pattern::compile(pattern, Locale::English, 2026).unwrap()
    }

    fn parse(pattern: &str, text: &str) -> Option<String> {
        compile(pattern)
            .parse(text, Zone::UTC, NOW)
            .map(|t| t.to_string())
    }

    #[test]
    fn splits_patterns_like_joda() {
        use Piece::*;
        assert_eq!(
            split("yyyy-MM-dd'T'HH"),
            [
                Letters('y', 4),
                Literal("-".into()),
                Letters('M', 2),
                Literal("-".into()),
                Letters('d', 2),
                Literal("T".into()),
                Letters('H', 2)
            ]
        );
        assert_eq!(
            split("h 'o''clock' a"),
            [
                Letters('h', 1),
                Literal(" o'clock ".into()),
                Letters('a', 1)
            ]
        );
        assert_eq!(split("''"), [Literal("'".into())]);
        assert_eq!(split("'open"), [Literal("open".into())]);
    }

    #[test]
    fn rejects_letters_joda_does_not_know() {
        let err = Pattern::compile("yyyy-MM-ddTHH", Locale::English, 2026).unwrap_err();
        assert_eq!(err, PatternError::IllegalComponent("T".into()));
        assert!(Pattern::compile("HH:mm zzzz", Locale::English, 2026).is_err());
        assert!(Pattern::compile("HH:mm zzz", Locale::English, 2026).is_ok());
        assert_eq!(
            Pattern::compile("", Locale::English, 2026).unwrap_err(),
            PatternError::Empty
        );
    }

    #[test]
    fn numbers_read_up_to_their_width() {
        assert_eq!(
            parse("yyyy-M-d H:m:s", "2013-4-7 9:5:3"),
            Some("2013-04-07T09:05:03.000Z".into())
        );
        assert_eq!(
            parse("yyyy-MM-dd", "2013-4-7"),
            Some("2013-04-07T00:00:00.000Z".into())
        );
        assert_eq!(parse("dd", "123"), None);
        // A year runs on unless a number follows it.
        assert_eq!(
            parse("yyyyMMdd", "20130407"),
            Some("2013-04-07T00:00:00.000Z".into())
        );
        assert_eq!(parse("yyyy-MM", "020130-04"), None);
    }

    #[test]
    fn two_digit_years_fall_in_the_window_around_now() {
        // Made in 2026: 1946..2045.
        assert_eq!(parse("yy-MM-dd", "15-01-02").unwrap()[..4], *"2015");
        assert_eq!(parse("yy-MM-dd", "45-01-02").unwrap()[..4], *"2045");
        assert_eq!(parse("yy-MM-dd", "46-01-02").unwrap()[..4], *"1946");
        // Lenient: other lengths are taken as written.
        assert_eq!(parse("yy-MM-dd", "2015-01-02").unwrap()[..4], *"2015");
        // Not lenient when a number follows.
        assert_eq!(parse("yyMMdd", "150102").unwrap()[..10], *"2015-01-02");
    }

    #[test]
    fn fractions_keep_milliseconds() {
        assert_eq!(
            parse("HH:mm:ss.SSS", "10:00:00.123").unwrap()[11..],
            *"10:00:00.123Z"
        );
        assert_eq!(
            parse("HH:mm:ss.S", "10:00:00.5").unwrap()[11..],
            *"10:00:00.500Z"
        );
        assert_eq!(
            parse("HH:mm:ss.SSSSSS", "10:00:00.123456").unwrap()[11..],
            *"10:00:00.123Z"
        );
        assert_eq!(parse("HH:mm:ss.SSS", "10:00:00.1234"), None);
    }

    #[test]
    fn literals_ignore_case() {
        assert_eq!(
            parse("yyyy-MM-dd'T'HH:mm:ss", "2013-04-07t10:00:00"),
            Some("2013-04-07T10:00:00.000Z".into())
        );
        assert_eq!(
            parse("'day' dd 'of' MMMM yyyy", "DAY 07 OF APRIL 2013"),
            Some("2013-04-07T00:00:00.000Z".into())
        );
    }

    #[test]
    fn zones_from_the_text() {
        assert_eq!(
            parse("yyyy-MM-dd HH:mm Z", "2013-04-07 10:00 -0700"),
            Some("2013-04-07T17:00:00.000Z".into())
        );
        assert_eq!(
            parse("yyyy-MM-dd HH:mm ZZ", "2013-04-07 10:00 +05:30"),
            Some("2013-04-07T04:30:00.000Z".into())
        );
        assert_eq!(
            parse("yyyy-MM-dd HH:mm Z", "2013-04-07 10:00 Z"),
            Some("2013-04-07T10:00:00.000Z".into())
        );
        assert_eq!(
            parse(
                "yyyy-MM-dd HH:mm ZZZ",
                "2013-04-07 10:00 America/Los_Angeles"
            ),
            Some("2013-04-07T17:00:00.000Z".into())
        );
        assert_eq!(
            parse("yyyy-MM-dd HH:mm ZZZ", "2013-04-07 10:00 Mars/Base"),
            None
        );
        // EST names New York's zone, daylight saving time included.
        assert_eq!(
            parse("yyyy-MM-dd HH:mm z", "2013-07-07 10:00 EST"),
            Some("2013-07-07T14:00:00.000Z".into())
        );
        assert_eq!(
            parse("yyyy-MM-dd HH:mm z", "2013-07-07 10:00 UTC"),
            Some("2013-07-07T10:00:00.000Z".into())
        );
    }

    #[test]
    fn a_year_less_pattern_without_z_ignores_a_zone_name() {
        assert_eq!(
            parse("MMM dd HH:mm z", "Jul 07 10:00 EST"),
            Some("2026-07-07T10:00:00.000Z".into())
        );
        assert_eq!(
            parse("MMM dd HH:mm Z", "Jul 07 10:00 -0400"),
            Some("2026-07-07T14:00:00.000Z".into())
        );
    }

    #[test]
    fn text_fields() {
        assert_eq!(
            parse(
                "EEE, dd MMM yyyy HH:mm:ss Z",
                "Sun, 07 Apr 2013 10:00:00 +0000"
            ),
            Some("2013-04-07T10:00:00.000Z".into())
        );
        assert_eq!(
            parse("EEEE MMMM d yyyy h:mm a", "Sunday April 7 2013 3:05 PM"),
            Some("2013-04-07T15:05:00.000Z".into())
        );
        assert_eq!(
            parse("MMM d yyyy hh:mm a", "apr 7 2013 12:05 am"),
            Some("2013-04-07T00:05:00.000Z".into())
        );
        assert_eq!(parse("MMM d yyyy", "Avr 7 2013"), None);
        assert_eq!(
            parse("dd MMM yyyy G", "15 Mar 0044 BC"),
            None,
            "out of the timestamp range"
        );
    }

    #[test]
    fn the_whole_text_must_be_read() {
        assert_eq!(parse("yyyy-MM-dd", "2013-04-07 "), None);
        assert_eq!(parse("yyyy-MM-dd", " 2013-04-07"), None);
        assert_eq!(parse("yyyy-MM-dd", "2013-04"), None);
        assert_eq!(parse("yyyy/MM/dd", "2013/Apr/21"), None);
    }

    #[test]
    fn syslog_day_padding_needs_the_matching_pattern() {
        assert_eq!(
            parse("MMM  d HH:mm:ss", "Apr  7 09:32:01"),
            Some("2026-04-07T09:32:01.000Z".into())
        );
        assert_eq!(parse("MMM dd HH:mm:ss", "Apr  7 09:32:01"), None);
        assert_eq!(
            parse("MMM dd HH:mm:ss", "Apr 7 09:32:01"),
            Some("2026-04-07T09:32:01.000Z".into())
        );
    }

    /// Random near-misses of the fast shapes: the fast path and the tokens must agree.
    #[test]
    fn fast_paths_agree_with_the_tokens() {
        use rand::seq::SliceRandom;
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        let samples = [
            ("dd/MMM/yyyy:HH:mm:ss Z", "25/Mar/2013:20:33:56 +0000"),
            ("MMM dd HH:mm:ss", "Mar 05 20:33:56"),
            ("MMM  d HH:mm:ss", "Mar  5 20:33:56"),
        ];
        let alphabet = b"0123456789 /:+-ZzMmAaRrJjUuNnFfEeBbDdCc";
        let nows = [
            NOW,
            Now {
                year: 2024,
                month: 1,
            },
            Now {
                year: 2023,
                month: 12,
            },
        ];
        let mut fast_hits = 0;
        for (pattern, sample) in samples {
            let compiled = compile(pattern);
            assert!(compiled.fast.is_some());
            for _ in 0..20_000 {
                let mut text = sample.as_bytes().to_vec();
                for _ in 0..rng.gen_range(0..3) {
                    let i = rng.gen_range(0..text.len());
                    text[i] = *alphabet.choose(&mut rng).unwrap();
                }
                let text = String::from_utf8(text).unwrap();
                let now = *nows.choose(&mut rng).unwrap();
                let fast = compiled.parse(&text, Zone::UTC, now);
                let slow = compiled.parse_slow(&text, Zone::UTC, now);
                assert_eq!(fast, slow, "{pattern} on {text:?}");
                fast_hits += usize::from(
                    compiled
                        .fast
                        .and_then(|f| f.read(text.as_bytes(), now))
                        .is_some(),
                );
            }
        }
        assert!(fast_hits > 5_000, "{fast_hits}");
    }

    #[test]
    fn number_reader_follows_joda() {
        assert_eq!(read_number(b"123", 2, false), Some((12, 2)));
        assert_eq!(read_number(b"-12", 4, true), Some((-12, 3)));
        assert_eq!(read_number(b"+12", 4, true), Some((12, 3)));
        assert_eq!(read_number(b"-12", 4, false), None);
        assert_eq!(read_number(b"-x", 4, true), None);
        assert_eq!(read_number(b"x", 4, false), None);
        assert_eq!(read_number(b"99999999999", 11, false), None);
    }

    #[test]
    fn fraction_reader_truncates_to_milliseconds() {
        assert_eq!(read_fraction(b"5", 9, 1000), Some((500, 1)));
        assert_eq!(read_fraction(b"123456789", 9, 1000), Some((123, 9)));
        assert_eq!(read_fraction(b"999", 9, 1000), Some((999, 3)));
        assert_eq!(read_fraction(b"5", 9, 3_600_000), Some((1_800_000, 1)));
        assert_eq!(read_fraction(b"", 9, 1000), None);
    }
}
