//! [`Template`]: Logstash's sprintf format (`%{[a][b]}`, `%{+YYYY.MM.dd}`, `%{+%s}`,
//! `%{{java.time pattern}}`), parsed once at plan time into segments.
//!
//! Parsing follows Logstash's `StringInterpolation.java` scan exactly: each `%{` is closed by
//! the next `}`; `%{{...}}` is a java.time pattern (`%{{TIME_NOW}}` the current time), `%{+%s}`
//! epoch seconds, `%{+...}` a Joda pattern, anything else a field reference. Rendering a field
//! writes strings as-is, numbers as Java prints them (`1.0`, `1.0E20`), timestamps in ISO8601,
//! arrays joined with `,` and maps as JSON; a missing field (or a missing `@timestamp` for a date
//! format) leaves the `%{...}` text in place.
//!
//! Date patterns are compiled once into a [`DateFormat`] (a list of tokens) and always render
//! `@timestamp` in UTC. Rendering computes the civil date once per event and only appends to the
//! caller's `String`. Names are English (Logstash's usual `en_US` JVM locale); java.time's
//! localized week fields (`Y`, `w`, `W`, `e`, `c`) follow `en_US` too: weeks start on Sunday and
//! week 1 is the one containing January 1st. Joda's `x`/`w` are ISO weeks.

use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt;
use std::ops::Range;

use serde::de::{self, Deserialize, Deserializer};

use super::decimal::Decimal;
use super::timestamp::{civil_from_days, days_from_civil, weekday_from_days};
use super::{json, Event, FieldPath, Text, Timestamp, Value};

/// Why a template could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("invalid field reference in `%{{{0}}}`")]
    BadField(String),
    #[error("invalid date pattern `{0}`: {1}")]
    BadDatePattern(String, String),
}

/// A parsed sprintf template.
#[derive(Clone, Debug)]
pub struct Template {
    source: String,
    segments: Box<[Segment]>,
    /// The whole text when there is no `%{...}`, ready to hand out without rendering.
    constant: Option<Text>,
}

/// One piece of a template. Ranges index `Template::source`; `raw` is the whole `%{...}`
/// reference, written back when there is nothing to render.
#[derive(Clone, Debug)]
enum Segment {
    Literal(Range<usize>),
    Field {
        path: FieldPath,
        raw: Range<usize>,
    },
    EpochSeconds {
        raw: Range<usize>,
    },
    Date {
        format: DateFormat,
        raw: Range<usize>,
    },
    /// `%{{TIME_NOW}}`: the time of rendering, not the event's.
    Now,
}

impl Template {
    pub fn parse(source: &str) -> Result<Template, TemplateError> {
        let mut segments = Vec::new();
        let mut pos = 0;
        while let Some(open) = find_from(source, "%{", pos) {
            let Some(close) = find_from(source, "}", open) else {
                break;
            };
            if open > pos {
                segments.push(Segment::Literal(pos..open));
            }
            let (segment, end) = Self::reference(source, open, close)?;
            segments.push(segment);
            pos = end;
        }
        if pos < source.len() {
            segments.push(Segment::Literal(pos..source.len()));
        }
        let constant = segments
            .iter()
            .all(|s| matches!(s, Segment::Literal(_)))
            .then(|| Text::new(source));
        Ok(Template {
            source: source.to_string(),
            segments: segments.into(),
            constant,
        })
    }

    /// The segment for the reference opening at `open` whose first `}` is at `close`, and the
    /// position after it.
    fn reference(
        source: &str,
        open: usize,
        close: usize,
    ) -> Result<(Segment, usize), TemplateError> {
        let inner = &source[open + 2..close];
        // Logstash tests `regionMatches("+%s")` over the inner length, so `%{}`, `%{+}` and
        // `%{+%}` are epoch seconds too.
        if "+%s".starts_with(inner) {
            return Ok((
                Segment::EpochSeconds {
                    raw: open..close + 1,
                },
                close + 1,
            ));
        }
        if inner.starts_with('{') && source[close + 1..].starts_with('}') {
            let pattern = &inner[1..];
            let segment = if pattern == "TIME_NOW" {
                Segment::Now
            } else {
                Segment::Date {
                    format: DateFormat::java(pattern)?,
                    raw: open..close + 2,
                }
            };
            return Ok((segment, close + 2));
        }
        let raw = open..close + 1;
        let segment = match inner.strip_prefix('+') {
            Some(pattern) => Segment::Date {
                format: DateFormat::joda(pattern)?,
                raw,
            },
            None => Segment::Field {
                path: FieldPath::parse(inner)
                    .map_err(|_| TemplateError::BadField(inner.to_string()))?,
                raw,
            },
        };
        Ok((segment, close + 1))
    }

    /// The text the template was parsed from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The fixed text, when the template has no `%{...}` (lets callers skip rendering).
    pub fn constant(&self) -> Option<&str> {
        self.constant.as_deref()
    }

    /// The field, when the template is exactly one `%{field}` reference (lets callers take the
    /// value itself rather than its text).
    pub fn field_path(&self) -> Option<&FieldPath> {
        match &*self.segments {
            [Segment::Field { path, .. }] => Some(path),
            _ => None,
        }
    }

    /// Appends the rendering for `event` to `out`.
    pub fn render_into(&self, event: &Event, out: &mut String) {
        for segment in self.segments.iter() {
            match segment {
                Segment::Literal(range) => out.push_str(&self.source[range.clone()]),
                Segment::Field { path, raw } => match event.get(path) {
                    Some(value) if !matches!(value, Value::Null) => push_value(value, out),
                    _ => out.push_str(&self.source[raw.clone()]),
                },
                Segment::EpochSeconds { raw } => match event.timestamp() {
                    Some(ts) => out.push_str(itoa::Buffer::new().format(ts.secs())),
                    None => out.push_str(&self.source[raw.clone()]),
                },
                Segment::Date { format, raw } => match event.timestamp() {
                    Some(ts) => format.format(ts, out),
                    None => out.push_str(&self.source[raw.clone()]),
                },
                Segment::Now => {
                    // Logstash's clock has microsecond resolution.
                    let now = Timestamp::now().nanos();
                    Timestamp::from_nanos(now - now % 1_000).push_iso8601(out);
                }
            }
        }
    }

    /// The rendering for `event`.
    pub fn render(&self, event: &Event) -> Text {
        match &self.constant {
            Some(text) => text.clone(),
            None => self.with_rendered(event, Text::new),
        }
    }

    /// Renders into the thread's scratch buffer and hands the text to `f`, so that rendering
    /// allocates nothing beyond what `f` keeps.
    pub fn with_rendered<R>(&self, event: &Event, f: impl FnOnce(&str) -> R) -> R {
        if let Some(text) = &self.constant {
            return f(text);
        }
        SCRATCH.with(|cell| match cell.try_borrow_mut() {
            Ok(mut buf) => {
                buf.clear();
                self.render_into(event, &mut buf);
                f(&buf)
            }
            // Only reachable if `f` itself renders; fall back to a fresh buffer.
            Err(_) => {
                let mut buf = String::new();
                self.render_into(event, &mut buf);
                f(&buf)
            }
        })
    }
}

thread_local! {
    /// Rendering scratch, reused by [`Template::with_rendered`].
    static SCRATCH: RefCell<String> = RefCell::new(String::with_capacity(256));
}

/// A field reference option that may contain `%{...}` (`remove_field => "%{kind}_raw"`).
#[derive(Debug, Clone)]
pub enum FieldRef {
    /// Parsed once at build time.
    Fixed(FieldPath),
    /// Rendered, then parsed, per event.
    Dynamic(Template),
}

impl FieldRef {
    pub fn parse(source: &str) -> Result<FieldRef, String> {
        let template = Template::parse(source).map_err(|e| e.to_string())?;
        match template.constant() {
            Some(text) => FieldPath::parse(text)
                .map(FieldRef::Fixed)
                .map_err(|e| e.to_string()),
            None => Ok(FieldRef::Dynamic(template)),
        }
    }

    /// The path for `event`; `None` when a dynamic reference renders to an invalid one.
    pub fn resolve(&self, event: &Event) -> Option<Cow<'_, FieldPath>> {
        match self {
            FieldRef::Fixed(path) => Some(Cow::Borrowed(path)),
            FieldRef::Dynamic(template) => template
                .with_rendered(event, |s| FieldPath::parse(s).ok())
                .map(Cow::Owned),
        }
    }
}

impl PartialEq for Template {
    fn eq(&self, other: &Template) -> bool {
        self.source == other.source
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// Plugin options hold templates directly: `path => "/var/log/%{type}.log"`.
impl<'de> Deserialize<'de> for Template {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Template, D::Error> {
        let source = String::deserialize(deserializer)?;
        Template::parse(&source).map_err(de::Error::custom)
    }
}

fn find_from(haystack: &str, needle: &str, from: usize) -> Option<usize> {
    haystack
        .get(from..)
        .and_then(|rest| rest.find(needle))
        .map(|i| from + i)
}

/// Appends a field value as Logstash's `toString` shows it.
fn push_value(value: &Value, out: &mut String) {
    match value {
        Value::Null => {}
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(n) => out.push_str(itoa::Buffer::new().format(*n)),
        Value::Float(f) => push_java_double(*f, out),
        Value::Str(s) => out.push_str(s),
        Value::Timestamp(ts) => ts.push_iso8601(out),
        Value::Array(items) => push_joined(items, out),
        Value::Map(_) => push_json(value, out),
    }
}

/// Arrays join with `,`, flattening nested arrays; null elements are empty (Logstash's
/// `KeyNode.join`).
fn push_joined(items: &[Value], out: &mut String) {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_value(item, out);
    }
}

fn push_json(value: &Value, out: &mut String) {
    // Reuses `out`'s allocation: the JSON writer only appends whole UTF-8 sequences, so the
    // check below always succeeds.
    let mut bytes = std::mem::take(out).into_bytes();
    json::write_value(value, &mut bytes);
    *out = String::from_utf8(bytes)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
}

/// Appends `f` as Java's `Double.toString` does (`1.0`, `0.001`, `1.0E-4`, `1.2345E7`): plain
/// decimal for magnitudes in [1e-3, 1e7), computerized scientific notation otherwise.
pub fn push_java_double(f: f64, out: &mut String) {
    if f.is_nan() {
        return out.push_str("NaN");
    }
    if f.is_infinite() {
        return out.push_str(if f > 0.0 { "Infinity" } else { "-Infinity" });
    }
    if f.is_sign_negative() {
        out.push('-');
    }
    if f == 0.0 {
        return out.push_str("0.0");
    }
    let (digits, point) = Decimal::of(f);
    let digits = digits.as_str();
    if (1e-3..1e7).contains(&f.abs()) {
        push_plain(digits, point, out);
    } else {
        out.push_str(&digits[..1]);
        out.push('.');
        out.push_str(if digits.len() > 1 { &digits[1..] } else { "0" });
        out.push('E');
        out.push_str(itoa::Buffer::new().format(point - 1));
    }
}

fn push_plain(digits: &str, point: i32, out: &mut String) {
    if point <= 0 {
        out.push_str("0.");
        push_repeated('0', point.unsigned_abs() as usize, out);
        out.push_str(digits);
    } else if point as usize >= digits.len() {
        out.push_str(digits);
        push_repeated('0', point as usize - digits.len(), out);
        out.push_str(".0");
    } else {
        let (int, frac) = digits.split_at(point as usize);
        out.push_str(int);
        out.push('.');
        out.push_str(frac);
    }
}

fn push_repeated(c: char, n: usize, out: &mut String) {
    for _ in 0..n {
        out.push(c);
    }
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// Indexed by ISO day of the week - 1.
const DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// A compiled date pattern, Joda or java.time, rendering instants in UTC.
#[derive(Clone, Debug)]
pub struct DateFormat {
    tokens: Box<[Token]>,
}

#[derive(Clone, Debug)]
enum Token {
    Literal(Box<str>),
    /// Zero-padded to `width` digits.
    Number {
        field: Field,
        width: u8,
    },
    /// The last two digits (`yy`).
    TwoDigits(Field),
    /// The first `digits` digits of the fraction of a second; Joda sees only milliseconds.
    Fraction {
        digits: u8,
        millis_only: bool,
    },
    Text(TextField),
}

#[derive(Clone, Copy, Debug)]
enum Field {
    Year,
    IsoWeekYear,
    UsWeekYear,
    Month,
    Quarter,
    Day,
    DayOfYear,
    IsoWeek,
    UsWeek,
    UsWeekOfMonth,
    IsoDayOfWeek,
    UsDayOfWeek,
    Hour,
    ClockHourOfHalfDay,
    HourOfHalfDay,
    ClockHourOfDay,
    Minute,
    Second,
    CenturyOfEra,
    MilliOfDay,
    NanoOfSecond,
    NanoOfDay,
}

#[derive(Clone, Copy, Debug)]
enum TextField {
    MonthFull,
    MonthShort,
    MonthNarrow,
    DayFull,
    DayShort,
    DayNarrow,
    HalfDay,
    QuarterFull,
    QuarterShort,
}

/// Longest run of one numeric pattern letter accepted (java.time's limit for values).
const MAX_WIDTH: usize = 19;

impl DateFormat {
    /// Compiles a Joda-Time pattern (`DateTimeFormat.forPattern`), as in `%{+YYYY.MM.dd}`.
    pub fn joda(pattern: &str) -> Result<DateFormat, TemplateError> {
        let bad = |why: String| TemplateError::BadDatePattern(pattern.to_string(), why);
        let chars: Vec<char> = pattern.chars().collect();
        let mut tokens = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            if chars[i].is_ascii_alphabetic() {
                let count = run_length(&chars, i);
                tokens.push(joda_token(chars[i], count).map_err(bad)?);
                i += count;
            } else {
                let (text, next) = joda_literal(&chars, i);
                tokens.push(Token::Literal(text.into()));
                i = next;
            }
        }
        Ok(DateFormat {
            tokens: tokens.into(),
        })
    }

    /// Compiles a java.time pattern (`DateTimeFormatter.ofPattern`), as in `%{{yyyy-MM-dd}}`.
    pub fn java(pattern: &str) -> Result<DateFormat, TemplateError> {
        let bad = |why: String| TemplateError::BadDatePattern(pattern.to_string(), why);
        let chars: Vec<char> = pattern.chars().collect();
        let mut tokens = Vec::new();
        let mut optional_depth = 0usize;
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if c.is_ascii_alphabetic() {
                let count = run_length(&chars, i);
                tokens.push(java_token(c, count).map_err(bad)?);
                i += count;
                continue;
            }
            match c {
                '\'' => {
                    let (text, next) = java_quoted(&chars, i).map_err(bad)?;
                    tokens.push(Token::Literal(text.into()));
                    i = next;
                    continue;
                }
                // Optional sections always print when formatting: every field is available.
                '[' => optional_depth += 1,
                ']' => {
                    optional_depth = optional_depth.checked_sub(1).ok_or_else(|| {
                        bad("Pattern invalid as it contains ] without previous [".into())
                    })?
                }
                '{' | '}' | '#' => {
                    return Err(bad(format!("Pattern includes reserved character: '{c}'")))
                }
                _ => tokens.push(Token::Literal(c.to_string().into())),
            }
            i += 1;
        }
        Ok(DateFormat {
            tokens: tokens.into(),
        })
    }

    /// Appends `ts` formatted in UTC to `out`.
    pub fn format(&self, ts: Timestamp, out: &mut String) {
        let date = Civil::of(ts);
        for token in self.tokens.iter() {
            match *token {
                Token::Literal(ref text) => out.push_str(text),
                Token::Number { field, width } => push_padded(date.get(field), width, out),
                Token::TwoDigits(field) => push_padded(date.get(field).rem_euclid(100), 2, out),
                Token::Fraction {
                    digits,
                    millis_only,
                } => push_fraction(date.nanos, digits, millis_only, out),
                Token::Text(field) => out.push_str(date.text(field)),
            }
        }
    }
}

fn run_length(chars: &[char], start: usize) -> usize {
    chars[start..]
        .iter()
        .take_while(|&&c| c == chars[start])
        .count()
}

fn number(field: Field, count: usize) -> Result<Token, String> {
    if count > MAX_WIDTH {
        return Err(format!("Too many pattern letters: {count}"));
    }
    Ok(Token::Number {
        field,
        width: count as u8,
    })
}

fn literal(text: &str) -> Token {
    Token::Literal(text.into())
}

/// One Joda pattern letter repeated `count` times (Joda's `DateTimeFormat.parsePatternTo`).
fn joda_token(c: char, count: usize) -> Result<Token, String> {
    use Field::*;
    Ok(match c {
        // Years before 1 AD are outside what an i64 of nanoseconds can hold.
        'G' => literal("AD"),
        'C' => number(CenturyOfEra, count)?,
        'x' if count == 2 => Token::TwoDigits(IsoWeekYear),
        'x' => number(IsoWeekYear, count)?,
        'y' | 'Y' if count == 2 => Token::TwoDigits(Year),
        'y' | 'Y' => number(Year, count)?,
        'M' if count >= 4 => Token::Text(TextField::MonthFull),
        'M' if count == 3 => Token::Text(TextField::MonthShort),
        'M' => number(Month, count)?,
        'd' => number(Day, count)?,
        'a' => Token::Text(TextField::HalfDay),
        'h' => number(ClockHourOfHalfDay, count)?,
        'H' => number(Hour, count)?,
        'k' => number(ClockHourOfDay, count)?,
        'K' => number(HourOfHalfDay, count)?,
        'm' => number(Minute, count)?,
        's' => number(Second, count)?,
        'S' if count > MAX_WIDTH => return Err(format!("Too many pattern letters: {count}")),
        'S' => Token::Fraction {
            digits: count as u8,
            millis_only: true,
        },
        'e' => number(IsoDayOfWeek, count)?,
        'E' if count >= 4 => Token::Text(TextField::DayFull),
        'E' => Token::Text(TextField::DayShort),
        'D' => number(DayOfYear, count)?,
        'w' => number(IsoWeek, count)?,
        'z' if count >= 4 => literal("Coordinated Universal Time"),
        'z' => literal("UTC"),
        'Z' if count == 1 => literal("+0000"),
        'Z' if count == 2 => literal("+00:00"),
        'Z' => literal("UTC"),
        _ => {
            let token: String = std::iter::repeat_n(c, count).collect();
            return Err(format!("Illegal pattern component: {token}"));
        }
    })
}

/// Literal text from `start` up to the next unquoted letter; `''` is a quote, and an
/// unterminated quote runs to the end (as Joda reads it).
pub fn joda_literal(chars: &[char], start: usize) -> (String, usize) {
    let mut text = String::new();
    let mut quoted = false;
    let mut i = start;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            if chars.get(i + 1) == Some(&'\'') {
                text.push('\'');
                i += 1;
            } else {
                quoted = !quoted;
            }
        } else if !quoted && c.is_ascii_alphabetic() {
            break;
        } else {
            text.push(c);
        }
        i += 1;
    }
    (text, i)
}

/// A quoted literal starting at `start` (a `'`): `''` alone is a quote, `''` inside is a quote.
fn java_quoted(chars: &[char], start: usize) -> Result<(String, usize), String> {
    let mut text = String::new();
    let mut i = start + 1;
    loop {
        match chars.get(i) {
            None => return Err("Pattern ends with an incomplete string literal".into()),
            Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                text.push('\'');
                i += 2;
            }
            Some('\'') => break,
            Some(&c) => {
                text.push(c);
                i += 1;
            }
        }
    }
    if i == start + 1 {
        text.push('\'');
    }
    Ok((text, i + 1))
}

/// One java.time pattern letter repeated `count` times (`DateTimeFormatterBuilder`'s rules).
fn java_token(c: char, count: usize) -> Result<Token, String> {
    use Field::*;
    use TextField::*;
    let too_many = || Err(format!("Too many pattern letters: {c}"));
    Ok(match (c, count) {
        ('G', 1..=3) => literal("AD"),
        ('G', 4) => literal("Anno Domini"),
        ('G', 5) => literal("A"),
        ('u' | 'y', 2) => Token::TwoDigits(Year),
        ('u' | 'y', _) => number(Year, count)?,
        ('Y', 2) => Token::TwoDigits(UsWeekYear),
        ('Y', _) => number(UsWeekYear, count)?,
        ('M' | 'L', 1 | 2) => number(Month, count)?,
        ('M' | 'L', 3) => Token::Text(MonthShort),
        ('M' | 'L', 4) => Token::Text(MonthFull),
        ('M' | 'L', 5) => Token::Text(MonthNarrow),
        ('Q' | 'q', 1 | 2) => number(Quarter, count)?,
        ('Q' | 'q', 3) => Token::Text(QuarterShort),
        ('Q' | 'q', 4) => Token::Text(QuarterFull),
        ('Q' | 'q', 5) => number(Quarter, 1)?,
        ('w', 1 | 2) => number(UsWeek, count)?,
        ('W', 1) => number(UsWeekOfMonth, 1)?,
        ('E', 1..=3) | ('e' | 'c', 3) => Token::Text(DayShort),
        ('E' | 'e' | 'c', 4) => Token::Text(DayFull),
        ('E' | 'e' | 'c', 5) => Token::Text(DayNarrow),
        ('e', 1 | 2) | ('c', 1) => number(UsDayOfWeek, count)?,
        ('c', 2) => return Err("Invalid pattern \"cc\"".into()),
        ('a', 1) => Token::Text(HalfDay),
        ('d', 1 | 2) => number(Day, count)?,
        ('h', 1 | 2) => number(ClockHourOfHalfDay, count)?,
        ('K', 1 | 2) => number(HourOfHalfDay, count)?,
        ('k', 1 | 2) => number(ClockHourOfDay, count)?,
        ('H', 1 | 2) => number(Hour, count)?,
        ('m', 1 | 2) => number(Minute, count)?,
        ('s', 1 | 2) => number(Second, count)?,
        ('D', 1..=3) => number(DayOfYear, count)?,
        ('S', 1..=9) => Token::Fraction {
            digits: count as u8,
            millis_only: false,
        },
        ('A', _) => number(MilliOfDay, count)?,
        ('n', _) => number(NanoOfSecond, count)?,
        ('N', _) => number(NanoOfDay, count)?,
        // The zone is always UTC, which java.time names by its offset id, `Z`.
        ('V', 2) | ('z', 1..=4) | ('X', 1..=5) | ('Z', 5) => literal("Z"),
        ('V', _) => return Err("Pattern letter count must be 2: V".into()),
        ('O', 1 | 4) | ('Z', 4) => literal("GMT"),
        ('O', _) => return Err("Pattern letter count must be 1 or 4: O".into()),
        ('x', 1) => literal("+00"),
        ('x', 2 | 4) | ('Z', 1..=3) => literal("+0000"),
        ('x', 3 | 5) => literal("+00:00"),
        ('G' | 'M' | 'L' | 'Q' | 'q' | 'w' | 'W' | 'E' | 'e' | 'c' | 'a', _) => too_many()?,
        ('d' | 'h' | 'K' | 'k' | 'H' | 'm' | 's' | 'D' | 'S' | 'z' | 'X' | 'x' | 'Z', _) => {
            too_many()?
        }
        ('p', _) => return Err("padding (`p`) is not supported".into()),
        _ => return Err(format!("Unknown pattern letter: {c}")),
    })
}

fn push_padded(value: i64, width: u8, out: &mut String) {
    if value < 0 {
        out.push('-');
    }
    let mut buf = itoa::Buffer::new();
    let digits = buf.format(value.unsigned_abs());
    push_repeated('0', usize::from(width).saturating_sub(digits.len()), out);
    out.push_str(digits);
}

fn push_fraction(nanos: u32, digits: u8, millis_only: bool, out: &mut String) {
    let (value, available) = if millis_only {
        (nanos / 1_000_000, 3)
    } else {
        (nanos, 9)
    };
    let mut buf = itoa::Buffer::new();
    let text = buf.format(value);
    let shown = usize::from(digits).min(available);
    // `value` zero-padded to `available` digits, of which the first `shown` are written.
    let zeros = available - text.len();
    push_repeated('0', shown.min(zeros), out);
    if shown > zeros {
        out.push_str(&text[..shown - zeros]);
    }
    push_repeated('0', usize::from(digits) - shown, out);
}

/// The calendar fields of one instant, in UTC.
struct Civil {
    days: i64,
    year: i64,
    month: u32,
    day: u32,
    /// Seconds into the day.
    second_of_day: u32,
    nanos: u32,
}

impl Civil {
    fn of(ts: Timestamp) -> Civil {
        let days = ts.days_since_epoch();
        let (year, month, day) = civil_from_days(days);
        Civil {
            days,
            year,
            month,
            day,
            second_of_day: (ts.secs() - days * 86_400) as u32,
            nanos: ts.subsec_nanos(),
        }
    }

    fn get(&self, field: Field) -> i64 {
        let hour = i64::from(self.second_of_day / 3600);
        match field {
            Field::Year => self.year,
            Field::IsoWeekYear => self.iso_week().0,
            Field::UsWeekYear => self.us_week().0,
            Field::Month => i64::from(self.month),
            Field::Quarter => i64::from((self.month - 1) / 3 + 1),
            Field::Day => i64::from(self.day),
            Field::DayOfYear => self.day_of_year(),
            Field::IsoWeek => self.iso_week().1,
            Field::UsWeek => self.us_week().1,
            Field::UsWeekOfMonth => {
                let first = self.days - i64::from(self.day) + 1;
                (i64::from(self.day) - 1 + sunday_based(first)) / 7 + 1
            }
            Field::IsoDayOfWeek => i64::from(weekday_from_days(self.days)),
            Field::UsDayOfWeek => sunday_based(self.days) + 1,
            Field::Hour => hour,
            Field::ClockHourOfHalfDay => (hour + 11) % 12 + 1,
            Field::HourOfHalfDay => hour % 12,
            Field::ClockHourOfDay => (hour + 23) % 24 + 1,
            Field::Minute => i64::from(self.second_of_day / 60 % 60),
            Field::Second => i64::from(self.second_of_day % 60),
            Field::CenturyOfEra => self.year / 100,
            Field::MilliOfDay => {
                i64::from(self.second_of_day) * 1_000 + i64::from(self.nanos / 1_000_000)
            }
            Field::NanoOfSecond => i64::from(self.nanos),
            Field::NanoOfDay => {
                i64::from(self.second_of_day) * 1_000_000_000 + i64::from(self.nanos)
            }
        }
    }

    fn text(&self, field: TextField) -> &'static str {
        let month = MONTHS[(self.month as usize - 1) % 12];
        let day = DAYS[(weekday_from_days(self.days) as usize - 1) % 7];
        match field {
            TextField::MonthFull => month,
            TextField::MonthShort => &month[..3],
            TextField::MonthNarrow => &month[..1],
            TextField::DayFull => day,
            TextField::DayShort => &day[..3],
            TextField::DayNarrow => &day[..1],
            TextField::HalfDay if self.second_of_day < 12 * 3600 => "AM",
            TextField::HalfDay => "PM",
            TextField::QuarterFull => ["1st quarter", "2nd quarter", "3rd quarter", "4th quarter"]
                [(self.month as usize - 1) / 3 % 4],
            TextField::QuarterShort => ["Q1", "Q2", "Q3", "Q4"][(self.month as usize - 1) / 3 % 4],
        }
    }

    fn day_of_year(&self) -> i64 {
        self.days - days_from_civil(self.year, 1, 1) + 1
    }

    /// ISO-8601 week-based year and week: weeks start on Monday; week 1 holds the year's first
    /// Thursday.
    fn iso_week(&self) -> (i64, i64) {
        let weekday = i64::from(weekday_from_days(self.days));
        let week = (self.day_of_year() - weekday + 10) / 7;
        if week < 1 {
            (self.year - 1, iso_weeks_in(self.year - 1))
        } else if week > iso_weeks_in(self.year) {
            (self.year + 1, 1)
        } else {
            (self.year, week)
        }
    }

    /// `en_US` week-based year and week: weeks start on Sunday; week 1 holds January 1st.
    fn us_week(&self) -> (i64, i64) {
        let next_jan1 = days_from_civil(self.year + 1, 1, 1);
        if next_jan1 - self.days <= 6 - sunday_based(self.days) {
            return (self.year + 1, 1);
        }
        let jan1 = days_from_civil(self.year, 1, 1);
        (self.year, (self.days - jan1 + sunday_based(jan1)) / 7 + 1)
    }
}

/// Day of the week counted from Sunday = 0.
fn sunday_based(days: i64) -> i64 {
    i64::from(weekday_from_days(days) % 7)
}

fn iso_weeks_in(year: i64) -> i64 {
    let jan1 = weekday_from_days(days_from_civil(year, 1, 1));
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    if jan1 == 4 || (leap && jan1 == 3) {
        53
    } else {
        52
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Map;

    fn ts(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32, ns: u32) -> Timestamp {
        Timestamp::from_civil(y, mo, d, h, mi, s, ns).unwrap()
    }

    /// The event of Logstash's own `StringInterpolationTest`.
    fn logstash_test_event() -> Event {
        let mut e = Event::new(ts(2015, 10, 1, 0, 0, 0, 0));
        e.set_field("bar".into(), "foo".into());
        e.set_field("awesome".into(), "logstash".into());
        let mut j = Map::new();
        j.insert("k1".into(), "v".into());
        e.set_field("j".into(), Value::Map(j));
        e
    }

    fn render(template: &str, event: &Event) -> String {
        Template::parse(template).unwrap().render(event).to_string()
    }

    fn joda(pattern: &str, at: Timestamp) -> String {
        let mut s = String::new();
        DateFormat::joda(pattern).unwrap().format(at, &mut s);
        s
    }

    fn java(pattern: &str, at: Timestamp) -> String {
        let mut s = String::new();
        DateFormat::java(pattern).unwrap().format(at, &mut s);
        s
    }

    #[test]
    fn logstash_string_interpolation_cases() {
        let e = logstash_test_event();
        for (template, expected) in [
            ("/full/path/awesome", "/full/path/awesome"),
            ("/full/%{bar}/awesome", "/full/foo/awesome"),
            ("/full/%{bar}/%{awesome}", "/full/foo/logstash"),
            ("/full/%{do-not-exist}", "/full/%{do-not-exist}"),
            ("/full/%{+YYYY}", "/full/2015"),
            ("/full/%{+YYYY}/weeee/%{bar}", "/full/2015/weeee/foo"),
            (
                "/full/%{{YYYY-DDD}}/weeee/%{bar}",
                "/full/2015-274/weeee/foo",
            ),
            ("/full/%{+YYY/web", "/full/%{+YYY/web"),
            ("%{+YYYY}", "2015"),
            ("%{{YYYY-'W'ww}}", "2015-W40"),
            ("%{[j][k1]}", "v"),
            ("%{+%ss}", "%00"),
            ("%{+%s}", "1443657600"),
            ("%{j}", r#"{"k1":"v"}"#),
        ] {
            assert_eq!(render(template, &e), expected, "{template}");
        }
    }

    #[test]
    fn values_render_as_logstash_prints_them() {
        let mut e = logstash_test_event();
        e.set_field(
            "list".into(),
            Value::Array(vec![
                "Hello".into(),
                "world".into(),
                Value::Array(vec![1.into(), 2.5.into()]),
                Value::Null,
                true.into(),
            ]),
        );
        e.set_field("int".into(), (-42).into());
        e.set_field("float".into(), 1.0.into());
        e.set_field("null".into(), Value::Null);
        e.set_field("at".into(), ts(2026, 11, 21, 5, 24, 0, 0).into());
        assert_eq!(render("%{list}", &e), "Hello,world,1,2.5,,true");
        assert_eq!(render("%{int} %{float} %{null}", &e), "-42 1.0 %{null}");
        assert_eq!(render("%{at}", &e), "2026-11-21T05:24:00.000Z");
        assert_eq!(render("%{[@timestamp]}", &e), "2015-10-01T00:00:00.000Z");
    }

    #[test]
    fn metadata_fields_render() {
        let mut e = logstash_test_event();
        e.insert(
            &FieldPath::parse("[@metadata][index]").unwrap(),
            "idx".into(),
        );
        assert_eq!(render("logs-%{[@metadata][index]}", &e), "logs-idx");
    }

    #[test]
    fn missing_timestamp_leaves_date_references_as_text() {
        let mut e = logstash_test_event();
        e.fields_mut().remove("@timestamp");
        let t = "a %{+YYYY} %{{yyyy}} %{+%s} %{bar}";
        assert_eq!(render(t, &e), "a %{+YYYY} %{{yyyy}} %{+%s} foo");
    }

    #[test]
    fn constant_and_field_path_describe_the_template() {
        assert_eq!(Template::parse("plain").unwrap().constant(), Some("plain"));
        assert_eq!(Template::parse("").unwrap().constant(), Some(""));
        assert_eq!(Template::parse("%{+YY").unwrap().constant(), Some("%{+YY"));
        assert_eq!(Template::parse("a%{b}").unwrap().constant(), None);
        let t = Template::parse("%{[a][b]}").unwrap();
        assert_eq!(t.field_path().map(|p| p.to_string()), Some("[a][b]".into()));
        assert!(Template::parse("x%{a}").unwrap().field_path().is_none());
        assert!(Template::parse("%{+YYYY}").unwrap().field_path().is_none());
    }

    #[test]
    fn parse_errors_name_the_reference() {
        assert_eq!(
            Template::parse("%{[a}").unwrap_err(),
            TemplateError::BadField("[a".into())
        );
        let err = Template::parse("x-%{+YYYY.qq}").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid date pattern `YYYY.qq`: Illegal pattern component: qq"
        );
        assert!(matches!(
            Template::parse("%{{yyyy-MM-dd t}}"),
            Err(TemplateError::BadDatePattern(p, _)) if p == "yyyy-MM-dd t"
        ));
    }

    #[test]
    fn logstash_scan_quirks_are_kept() {
        let e = logstash_test_event();
        // `%{}` and `%{+}` match Logstash's `regionMatches("+%s")`.
        assert_eq!(render("%{}|%{+}", &e), "1443657600|1443657600");
        // `%{{x}` has no `}}`: a field named `{x`.
        assert_eq!(render("%{{x}", &e), "%{{x}");
        assert_eq!(render("%{bar}}", &e), "foo}");
        assert_eq!(render("}%{", &e), "}%{");
    }

    #[test]
    fn time_now_renders_the_current_time() {
        let t = Template::parse("%{{TIME_NOW}}").unwrap();
        assert!(t.constant().is_none());
        let before = Timestamp::now().nanos() / 1_000 * 1_000;
        let text = t.render(&Event::default());
        let at = Timestamp::parse_iso8601(&text).unwrap();
        assert!(
            at.nanos() >= before && at.nanos() <= Timestamp::now().nanos(),
            "{text}"
        );
    }

    #[test]
    fn deserializes_from_a_string_with_template_errors() {
        let t: Template = serde_json::from_str(r#""logs-%{type}""#).unwrap();
        assert_eq!(t.source(), "logs-%{type}");
        let err = serde_json::from_str::<Template>(r#""%{+ii}""#).unwrap_err();
        assert!(
            err.to_string().starts_with("invalid date pattern `ii`"),
            "{err}"
        );
    }

    #[test]
    fn java_doubles() {
        for (f, expected) in [
            (1.0, "1.0"),
            (-2.5, "-2.5"),
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (0.001, "0.001"),
            (0.0001, "1.0E-4"),
            (1.5e-7, "1.5E-7"),
            (9_999_999.0, "9999999.0"),
            (10_000_000.0, "1.0E7"),
            (123_456_789.0, "1.23456789E8"),
            (1e100, "1.0E100"),
            (0.1 + 0.2, "0.30000000000000004"),
            (100.0, "100.0"),
            (1234.5678, "1234.5678"),
            (f64::NAN, "NaN"),
            (f64::NEG_INFINITY, "-Infinity"),
        ] {
            let mut s = String::new();
            push_java_double(f, &mut s);
            assert_eq!(s, expected, "{f:e}");
        }
    }

    #[test]
    fn joda_tokens() {
        // A Saturday afternoon, with nanoseconds Joda cannot see.
        let t = ts(2026, 11, 21, 17, 4, 9, 123_456_789);
        for (pattern, expected) in [
            ("YYYY.MM.dd", "2026.11.21"),
            ("yyyy-MM-dd'T'HH:mm:ss.SSSZ", "2026-11-21T17:04:09.123+0000"),
            ("yy y yyy yyyyy", "26 2026 2026 02026"),
            ("M MM MMM MMMM", "11 11 Nov November"),
            ("d dd D DDD", "21 21 325 325"),
            ("H HH h hh k K a", "17 17 5 05 17 5 PM"),
            ("m mm s ss", "4 04 9 09"),
            ("S SS SSS SSSSSS", "1 12 123 123000"),
            ("E EEE EEEE e", "Sat Sat Saturday 6"),
            ("x xx xxxx w ww", "2026 26 2026 47 47"),
            (
                "Z ZZ ZZZ z zzzz",
                "+0000 +00:00 UTC UTC Coordinated Universal Time",
            ),
            ("G C CC", "AD 20 20"),
            ("'quoted' ''x''", "quoted '2026'"),
            ("'it''s' HH", "it's 17"),
            ("%ss", "%09"),
            ("", ""),
        ] {
            assert_eq!(joda(pattern, t), expected, "{pattern}");
        }
    }

    #[test]
    fn joda_rejects_unknown_letters() {
        for bad in ["YYYY.qq", "u", "VV", "X", "yyyy-MM-dd bb"] {
            assert!(
                matches!(
                    DateFormat::joda(bad),
                    Err(TemplateError::BadDatePattern(..))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn java_tokens() {
        let t = ts(2026, 11, 21, 0, 4, 9, 123_456_789);
        for (pattern, expected) in [
            ("yyyy-MM-dd", "2026-11-21"),
            ("uuuu uu u", "2026 26 2026"),
            ("M MM MMM MMMM MMMMM LLL", "11 11 Nov November N Nov"),
            ("d dd D DD DDD", "21 21 325 325 325"),
            ("H HH h hh k kk K KK a", "0 00 12 12 24 24 0 00 AM"),
            ("m s S SSS SSSSSS SSSSSSSSS", "4 9 1 123 123456 123456789"),
            ("n A N", "123456789 249123 249123456789"),
            ("E EEE EEEE EEEEE e c eee", "Sat Sat Saturday S 7 7 Sat"),
            ("Q QQ QQQ QQQQ", "4 04 Q4 4th quarter"),
            ("G GGGG GGGGG", "AD Anno Domini A"),
            ("VV z zzzz O OOOO", "Z Z Z GMT GMT"),
            (
                "X XXX x xx xxx Z ZZZZ ZZZZZ",
                "Z Z +00 +0000 +00:00 +0000 GMT Z",
            ),
            ("'W'ww W", "W47 3"),
            ("[yyyy]['x']", "2026x"),
            ("'' 'o''clock'", "' o'clock"),
        ] {
            assert_eq!(java(pattern, t), expected, "{pattern}");
        }
    }

    #[test]
    fn java_rejects_what_java_time_rejects() {
        for bad in [
            "t",
            "yyyy-MM-dd HHH",
            "aa",
            "SSSSSSSSSS",
            "V",
            "'open",
            "yyyy]",
            "{",
            "#",
            "cc",
            "p",
            "OO",
        ] {
            assert!(
                matches!(
                    DateFormat::java(bad),
                    Err(TemplateError::BadDatePattern(..))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn iso_weeks_cross_year_boundaries() {
        // 2021-01-03 (Sunday) is in ISO week 53 of 2020; 2024-12-30 (Monday) in week 1 of 2025.
        assert_eq!(joda("xxxx-ww e", ts(2021, 1, 3, 0, 0, 0, 0)), "2020-53 7");
        assert_eq!(joda("xxxx-ww e", ts(2021, 1, 4, 0, 0, 0, 0)), "2021-01 1");
        assert_eq!(joda("xxxx-ww", ts(2024, 12, 30, 0, 0, 0, 0)), "2025-01");
        assert_eq!(joda("xxxx-ww", ts(2026, 1, 1, 0, 0, 0, 0)), "2026-01");
        assert_eq!(joda("xxxx-ww", ts(2027, 1, 1, 0, 0, 0, 0)), "2026-53");
    }

    #[test]
    fn us_weeks_start_on_sunday_and_hold_january_first() {
        // 2021-08-11: ISO week 32, en_US week 33.
        assert_eq!(java("YYYY-ww", ts(2021, 8, 11, 0, 0, 0, 0)), "2021-33");
        // 2020-12-27 (Sunday) starts the week holding 2021-01-01.
        assert_eq!(java("YYYY-ww e", ts(2020, 12, 27, 0, 0, 0, 0)), "2021-01 1");
        assert_eq!(java("YYYY-ww e", ts(2020, 12, 26, 0, 0, 0, 0)), "2020-52 7");
        assert_eq!(java("YYYY-ww W", ts(2026, 1, 1, 0, 0, 0, 0)), "2026-01 1");
        assert_eq!(java("W", ts(2026, 11, 1, 0, 0, 0, 0)), "1");
        assert_eq!(java("W", ts(2026, 11, 30, 0, 0, 0, 0)), "5");
        assert_eq!(java("W", ts(2026, 8, 31, 0, 0, 0, 0)), "6");
    }

    #[test]
    fn dates_before_1970_render() {
        let t = ts(1969, 12, 31, 23, 59, 59, 999_000_000);
        assert_eq!(
            joda("yyyy-MM-dd HH:mm:ss.SSS EEE", t),
            "1969-12-31 23:59:59.999 Wed"
        );
        let e = Event::new(t);
        assert_eq!(render("%{+%s}", &e), "-1");
    }

    #[test]
    fn random_templates_parse_or_fail_without_panicking() {
        use rand::{Rng, SeedableRng};
        const POOL: &[char] = &[
            '%', '{', '}', '[', ']', '+', '\'', 'y', 'Y', 'M', 'd', 'H', 's', 'S', 'x', 'w', 'e',
            'E', 'a', 'Z', 'z', 'V', 'q', '.', '-', ' ', 'é', '@',
        ];
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let event = logstash_test_event();
        let mut parsed = 0;
        for _ in 0..20_000 {
            let len = rng.gen_range(0..16);
            let text: String = (0..len)
                .map(|_| POOL[rng.gen_range(0..POOL.len())])
                .collect();
            if let Ok(t) = Template::parse(&text) {
                parsed += 1;
                let mut out = String::new();
                t.render_into(&event, &mut out);
                if t.constant().is_some() {
                    assert_eq!(out, text);
                }
            }
        }
        assert!(parsed > 1_000, "{parsed}");
    }

    #[test]
    fn dates_agree_with_chrono_on_random_instants() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        let pattern = DateFormat::java("uuuu-MM-dd HH:mm:ss.SSSSSSSSS DDD EEE a hh").unwrap();
        let iso = DateFormat::joda("xxxx ww").unwrap();
        for _ in 0..5_000 {
            let nanos: i64 = rng.gen();
            let at = Timestamp::from_nanos(nanos);
            let c = chrono::DateTime::from_timestamp_nanos(nanos);
            let mut s = String::new();
            pattern.format(at, &mut s);
            assert_eq!(s, c.format("%Y-%m-%d %H:%M:%S.%f %j %a %p %I").to_string());
            s.clear();
            iso.format(at, &mut s);
            assert_eq!(s, c.format("%G %V").to_string());
        }
    }
}
