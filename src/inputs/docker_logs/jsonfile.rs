//! Reading one line of Docker's `json-file` log driver: [`LineParser::parse`] turns
//! `{"log":"...\n","stream":"stdout","time":"2024-05-01T10:00:00.123456789Z"}` (plus an optional
//! `"attrs":{...}` object) into an [`Entry`].
//!
//! The fast path is a hand-written scanner for that shape: it finds the three (or four) values
//! by their keys, in any order, and takes the `log` text as a slice of the line's shared buffer
//! when it holds no escape other than the final `\n` (the usual case), so a line costs no heap
//! allocation of its own. A `log` with escapes is unescaped into one new buffer. Anything the
//! scanner does not expect (other keys, escaped keys, non-string values) goes to a serde_json
//! fallback, which accepts any valid JSON object with a string `log`.
//!
//! `time` is RFC 3339 with up to nine fraction digits, in UTC (Docker writes `Z`). Consecutive
//! lines usually fall in the same second, so the date-and-time part of the last one parsed is
//! cached and only the fraction is read for the next (`TimeCache`).

use std::ops::Range;

use bytes::Bytes;

use crate::event::Timestamp;

/// Which output of the container a line came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamName {
    Stdout,
    Stderr,
    /// No `stream` key.
    Missing,
    /// Another value (Docker writes only the two above).
    Other,
}

/// One json-file line, read.
#[derive(Debug)]
pub struct Entry {
    /// `log` unescaped, without its trailing newline.
    pub message: Bytes,
    /// `log` ended with a newline. Docker cuts lines longer than 16 KiB into pieces; all but
    /// the last lack the newline.
    pub complete: bool,
    pub stream: StreamName,
    /// The `stream` value when it is [`StreamName::Other`].
    pub other_stream: Option<String>,
    /// `time`: `None` when absent; `Some(None)` when present but not RFC 3339.
    pub time: Option<Option<Timestamp>>,
    /// The `attrs` object as JSON text, when present.
    pub attrs: Option<Bytes>,
}

/// Parses json-file lines; holds the caches that make it cheap.
#[derive(Default)]
pub struct LineParser {
    times: TimeCache,
}

/// Where the scanner found the values of one line.
#[derive(Default)]
struct Spans {
    log: Option<StrSpan>,
    stream: Option<StrSpan>,
    time: Option<StrSpan>,
    attrs: Option<Range<usize>>,
}

/// A JSON string's contents (between the quotes) and what escapes it holds.
#[derive(Clone)]
struct StrSpan {
    range: Range<usize>,
    /// Where its first backslash is, if any.
    first_escape: Option<usize>,
}

impl LineParser {
    pub fn new() -> LineParser {
        LineParser::default()
    }

    /// Reads `line`; `None` when it is not a json-file line (not JSON, or no string `log`).
    pub fn parse(&mut self, line: &Bytes) -> Option<Entry> {
        match scan(line) {
            Some(spans) => self.entry_of(line, spans),
            None => self.slow(line),
        }
    }

    fn entry_of(&mut self, line: &Bytes, spans: Spans) -> Option<Entry> {
        let log = spans.log?;
        let (message, complete) = log_text(line, &log)?;
        let (stream, other_stream) = match &spans.stream {
            None => (StreamName::Missing, None),
            Some(s) => stream_of(&line[s.range.clone()], s.first_escape.is_some())?,
        };
        let time = match &spans.time {
            None => None,
            Some(t) if t.first_escape.is_some() => Some(None),
            Some(t) => Some(self.times.parse(&line[t.range.clone()])),
        };
        Some(Entry {
            message,
            complete,
            stream,
            other_stream,
            time,
            attrs: spans.attrs.map(|r| line.slice(r)),
        })
    }

    /// The serde_json fallback, for lines the scanner does not read.
    fn slow(&mut self, line: &Bytes) -> Option<Entry> {
        #[derive(serde::Deserialize)]
        struct Raw {
            log: String,
            #[serde(default)]
            stream: Option<String>,
            #[serde(default)]
            time: Option<serde_json::Value>,
            #[serde(default)]
            attrs: Option<serde_json::Value>,
        }
        let raw: Raw = serde_json::from_slice(line).ok()?;
        let mut log = raw.log;
        let complete = log.ends_with('\n');
        if complete {
            log.pop();
        }
        let (stream, other_stream) = match raw.stream.as_deref() {
            None => (StreamName::Missing, None),
            Some("stdout") => (StreamName::Stdout, None),
            Some("stderr") => (StreamName::Stderr, None),
            Some(other) => (StreamName::Other, Some(other.to_string())),
        };
        let time = raw.time.map(|t| match t {
            serde_json::Value::String(s) => self.times.parse(s.as_bytes()),
            _ => None,
        });
        let attrs = raw
            .attrs
            .filter(serde_json::Value::is_object)
            .and_then(|a| serde_json::to_vec(&a).ok())
            .map(Bytes::from);
        Some(Entry {
            message: Bytes::from(log.into_bytes()),
            complete,
            stream,
            other_stream,
            time,
            attrs,
        })
    }
}

fn stream_of(raw: &[u8], escaped: bool) -> Option<(StreamName, Option<String>)> {
    Some(match raw {
        b"stdout" => (StreamName::Stdout, None),
        b"stderr" => (StreamName::Stderr, None),
        _ => {
            let text = if escaped {
                String::from_utf8(unescape(raw)?).ok()?
            } else {
                std::str::from_utf8(raw).ok()?.to_string()
            };
            match text.as_str() {
                "stdout" => (StreamName::Stdout, None),
                "stderr" => (StreamName::Stderr, None),
                _ => (StreamName::Other, Some(text)),
            }
        }
    })
}

/// The `log` text without its final newline, and whether it had one. Shares `line` when the
/// only escape is that newline.
fn log_text(line: &Bytes, log: &StrSpan) -> Option<(Bytes, bool)> {
    let raw = &line[log.range.clone()];
    let Some(first) = log.first_escape else {
        return Some((line.slice(log.range.clone()), false));
    };
    let complete = ends_with_newline_escape(raw);
    let body = if complete {
        log.range.start..log.range.end - 2
    } else {
        log.range.clone()
    };
    if log.range.start + first >= body.end {
        return Some((line.slice(body), complete));
    }
    let text = unescape(&line[body])?;
    Some((Bytes::from(text), complete))
}

/// Whether a JSON string's raw contents end in the escape `\n` (an odd run of backslashes
/// before the final `n`; `\\n` is a backslash and an `n`).
fn ends_with_newline_escape(raw: &[u8]) -> bool {
    let Some(head) = raw.strip_suffix(b"n") else {
        return false;
    };
    let slashes = head.iter().rev().take_while(|&&b| b == b'\\').count();
    slashes % 2 == 1
}

/// Finds the values of a json-file line. `None`: a shape it does not read (the caller falls
/// back to serde_json, which also decides whether the line is JSON at all).
fn scan(line: &[u8]) -> Option<Spans> {
    let mut spans = Spans::default();
    let mut i = skip_ws(line, 0);
    if line.get(i) != Some(&b'{') {
        return None;
    }
    i = skip_ws(line, i + 1);
    if line.get(i) == Some(&b'}') {
        return None;
    }
    loop {
        let key = string_at(line, i)?;
        if key.first_escape.is_some() {
            return None;
        }
        i = skip_ws(line, key.range.end + 1);
        if line.get(i) != Some(&b':') {
            return None;
        }
        i = skip_ws(line, i + 1);
        match &line[key.range.clone()] {
            b"log" => {
                let s = string_at(line, i)?;
                i = s.range.end + 1;
                spans.log = Some(s);
            }
            b"stream" => {
                let s = string_at(line, i)?;
                i = s.range.end + 1;
                spans.stream = Some(s);
            }
            b"time" => {
                let s = string_at(line, i)?;
                i = s.range.end + 1;
                spans.time = Some(s);
            }
            b"attrs" => {
                let end = object_end(line, i)?;
                spans.attrs = Some(i..end);
                i = end;
            }
            _ => return None,
        }
        i = skip_ws(line, i);
        match line.get(i) {
            Some(b',') => i = skip_ws(line, i + 1),
            Some(b'}') => break,
            _ => return None,
        }
    }
    // Only whitespace may follow the object.
    (skip_ws(line, i + 1) == line.len()).then_some(spans)
}

fn skip_ws(line: &[u8], mut i: usize) -> usize {
    while matches!(line.get(i), Some(b' ' | b'\t' | b'\r' | b'\n')) {
        i += 1;
    }
    i
}

/// The JSON string starting with the quote at `i`: its contents' range (the closing quote is
/// at `range.end`). Raw control characters, which JSON forbids, are let through: checking
/// every byte would cost more than they are worth.
fn string_at(line: &[u8], i: usize) -> Option<StrSpan> {
    if line.get(i) != Some(&b'"') {
        return None;
    }
    let start = i + 1;
    let mut j = start;
    let mut first_escape = None;
    loop {
        let k = j + memchr::memchr2(b'"', b'\\', &line[j..])?;
        if line[k] == b'"' {
            return Some(StrSpan {
                range: start..k,
                first_escape,
            });
        }
        first_escape.get_or_insert(k - start);
        // The escaped character is checked when unescaping; here it is only stepped over.
        j = k + 2;
        if j > line.len() {
            return None;
        }
    }
}

/// The end (exclusive) of the JSON object starting at `i`, strings inside it skipped whole.
/// Its contents are checked later by serde_json, if they are ever read.
fn object_end(line: &[u8], i: usize) -> Option<usize> {
    if line.get(i) != Some(&b'{') {
        return None;
    }
    let mut depth = 0usize;
    let mut j = i;
    while j < line.len() {
        match line[j] {
            b'"' => {
                j = string_at(line, j)?.range.end;
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth -= 1;
                if depth == 0 {
                    return Some(j + 1);
                }
            }
            _ => {}
        }
        j += 1;
    }
    None
}

/// Decodes JSON escapes (`\n`, `\"`, `\u00e9`, surrogate pairs). A lone surrogate becomes
/// U+FFFD, as Go's decoder makes it; `None` for an invalid escape.
pub fn unescape(raw: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let Some(k) = memchr::memchr(b'\\', &raw[i..]).map(|k| i + k) else {
            out.extend_from_slice(&raw[i..]);
            break;
        };
        out.extend_from_slice(&raw[i..k]);
        let c = *raw.get(k + 1)?;
        i = k + 2;
        let simple = match c {
            b'"' => b'"',
            b'\\' => b'\\',
            b'/' => b'/',
            b'b' => 0x08,
            b'f' => 0x0c,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'u' => {
                let (ch, used) = unicode_escape(&raw[k..])?;
                let mut buf = [0u8; 4];
                out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                i = k + used;
                continue;
            }
            _ => return None,
        };
        out.push(simple);
    }
    Some(out)
}

/// The character of the `\uXXXX` escape (or surrogate pair) at the start of `raw`, and how
/// many bytes it took.
fn unicode_escape(raw: &[u8]) -> Option<(char, usize)> {
    let high = hex4(raw.get(2..6)?)?;
    if !(0xD800..0xDC00).contains(&high) {
        let ch = char::from_u32(u32::from(high)).unwrap_or(char::REPLACEMENT_CHARACTER);
        return Some((ch, 6));
    }
    let low = match raw.get(6..12) {
        Some([b'\\', b'u', rest @ ..]) => hex4(rest).filter(|l| (0xDC00..0xE000).contains(l)),
        _ => None,
    };
    match low {
        Some(low) => {
            let code = 0x10000 + ((u32::from(high) - 0xD800) << 10) + (u32::from(low) - 0xDC00);
            Some((
                char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER),
                12,
            ))
        }
        None => Some((char::REPLACEMENT_CHARACTER, 6)),
    }
}

fn hex4(digits: &[u8]) -> Option<u16> {
    let mut value = 0u16;
    for &d in digits.get(..4)? {
        value = value << 4 | (d as char).to_digit(16)? as u16;
    }
    Some(value)
}

/// The length of `YYYY-MM-DDTHH:MM:SS`.
const SECOND_PREFIX: usize = 19;

/// The last second parsed, so lines of the same second only read their fraction.
#[derive(Default)]
struct TimeCache {
    prefix: [u8; SECOND_PREFIX],
    /// Seconds since the epoch of `prefix` (as UTC); `None` until one is cached.
    secs: Option<i64>,
}

impl TimeCache {
    /// An RFC 3339 instant; `None` when `raw` is not one.
    fn parse(&mut self, raw: &[u8]) -> Option<Timestamp> {
        if let (Some(secs), Some(head)) = (self.secs, raw.get(..SECOND_PREFIX)) {
            if head == self.prefix {
                if let Some(nanos) = utc_fraction(&raw[SECOND_PREFIX..]) {
                    return Some(at(secs, nanos));
                }
            }
        }
        let ts = Timestamp::parse_iso8601(std::str::from_utf8(raw).ok()?)?;
        // Cache only what the fast path reads back exactly: a second in UTC (`Z`).
        if raw.len() > SECOND_PREFIX && utc_fraction(&raw[SECOND_PREFIX..]).is_some() {
            self.prefix.copy_from_slice(&raw[..SECOND_PREFIX]);
            self.secs = Some(ts.secs());
        }
        Some(ts)
    }
}

fn at(secs: i64, nanos: u32) -> Timestamp {
    Timestamp::from_nanos(secs * 1_000_000_000 + i64::from(nanos))
}

/// The nanoseconds of a `Z` or `.fffffffffZ` tail (1 to 9 digits); `None` for anything else.
fn utc_fraction(tail: &[u8]) -> Option<u32> {
    match tail {
        [b'Z'] => Some(0),
        [b'.', digits @ .., b'Z'] if (1..=9).contains(&digits.len()) => {
            let mut nanos = 0u32;
            for &d in digits {
                if !d.is_ascii_digit() {
                    return None;
                }
                nanos = nanos * 10 + u32::from(d - b'0');
            }
            Some(nanos * 10u32.pow(9 - digits.len() as u32))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Option<Entry> {
        LineParser::new().parse(&Bytes::copy_from_slice(text.as_bytes()))
    }

    #[test]
    fn the_usual_line_shares_the_buffer() {
        let line = Bytes::from_static(
            br#"{"log":"hello world\n","stream":"stderr","time":"2024-05-01T10:00:00.123456789Z"}"#,
        );
        let e = LineParser::new().parse(&line).unwrap();
        assert_eq!(&e.message[..], b"hello world");
        assert!(e.complete);
        assert_eq!(e.stream, StreamName::Stderr);
        assert_eq!(
            e.message.as_ptr() as usize,
            line.as_ptr() as usize + 8,
            "the message is a slice of the line"
        );
        let ts = e.time.unwrap().unwrap();
        assert_eq!(
            ts,
            Timestamp::parse_iso8601("2024-05-01T10:00:00.123456789Z").unwrap()
        );
    }

    #[test]
    fn escapes_are_decoded() {
        let e = parse(
            r#"{"log":"a \"q\" \\ \u003cb\u003e \u00e9 \ud83d\ude00 \ud800 tab\tend\n","stream":"stdout","time":"2024-05-01T10:00:00Z"}"#,
        )
        .unwrap();
        assert_eq!(
            std::str::from_utf8(&e.message).unwrap(),
            "a \"q\" \\ <b> é 😀 \u{fffd} tab\tend"
        );
        assert!(e.complete);
    }

    #[test]
    fn partial_pieces_and_backslash_n_are_told_apart() {
        let piece =
            parse(r#"{"log":"abc","stream":"stdout","time":"2024-05-01T10:00:00Z"}"#).unwrap();
        assert!(!piece.complete);
        assert_eq!(&piece.message[..], b"abc");
        // A literal backslash followed by `n` is not a newline.
        let literal =
            parse(r#"{"log":"path C:\\n","stream":"stdout","time":"2024-05-01T10:00:00Z"}"#)
                .unwrap();
        assert!(!literal.complete);
        assert_eq!(&literal.message[..], b"path C:\\n");
        let both =
            parse(r#"{"log":"C:\\\n","stream":"stdout","time":"2024-05-01T10:00:00Z"}"#).unwrap();
        assert!(both.complete);
        assert_eq!(&both.message[..], b"C:\\");
    }

    #[test]
    fn attrs_other_orders_and_spacing() {
        let e = parse(
            r#"{"log":"x\n","stream":"stdout","attrs":{"tag":"a}\"b","n":{"k":[1,2]}},"time":"2024-05-01T10:00:00.5Z"}"#,
        )
        .unwrap();
        assert_eq!(&e.attrs.unwrap()[..], br#"{"tag":"a}\"b","n":{"k":[1,2]}}"#);
        assert_eq!(e.time.unwrap().unwrap().subsec_nanos(), 500_000_000);
        let spaced = parse(r#" { "time" : "2024-05-01T10:00:00Z" , "log" : "y\n" } "#).unwrap();
        assert_eq!(&spaced.message[..], b"y");
        assert_eq!(spaced.stream, StreamName::Missing);
        // Unknown keys and escaped keys take the serde_json path.
        let other = parse(r#"{"log":"z\n","extra":7,"\u0073tream":"stderr"}"#).unwrap();
        assert_eq!(&other.message[..], b"z");
        assert_eq!(other.stream, StreamName::Stderr);
    }

    #[test]
    fn not_json_file_lines() {
        for bad in [
            "",
            "plain text",
            "{}",
            r#"{"log":5}"#,
            r#"{"stream":"stdout"}"#,
            r#"{"log":"x\n""#,
            r#"{"log":"x\n"} trailing"#,
            r#"{"log":"bad \q escape"}"#,
            "[1,2]",
        ] {
            assert!(parse(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn times_bad_and_cached() {
        let bad = parse(r#"{"log":"x\n","time":"yesterday"}"#).unwrap();
        assert_eq!(bad.time, Some(None));
        let mut p = LineParser::new();
        let line = |t: &str| Bytes::from(format!(r#"{{"log":"x\n","time":"{t}"}}"#));
        for t in [
            "2024-05-01T10:00:00.1Z",
            "2024-05-01T10:00:00.000000002Z",
            "2024-05-01T10:00:00Z",
            "2024-05-01T10:00:01.25Z",
            "2024-05-01T12:00:01.25+02:00",
            "2024-05-01T10:00:01.2500Z",
        ] {
            let got = p.parse(&line(t)).unwrap().time.unwrap().unwrap();
            assert_eq!(got, Timestamp::parse_iso8601(t).unwrap(), "{t}");
        }
    }
}
