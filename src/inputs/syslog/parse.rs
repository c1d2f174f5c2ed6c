//! The syslog line parser: [`parse`] reads one message, RFC 3164 (BSD) or RFC 5424, into a
//! [`Syslog`] of slices of the line, by hand (no regex): one pass, no allocation.
//!
//! What it accepts, and how it relates to the grok pattern Logstash's syslog input uses
//! (`<%{POSINT:priority}>%{SYSLOGLINE}`):
//!
//! ```text
//! RFC 3164:  [<PRI>] TIMESTAMP [HOST] [PROG[\[PID\]]: ]MESSAGE
//!            TIMESTAMP = "Mmm dd hh:mm:ss[.fff]"  or  ISO8601 / RFC 3339 ("2024-03-01T12:00:00.123456+01:00")
//! RFC 5424:  <PRI>VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID SP SD [SP MSG]
//! ```
//!
//! - Lines Logstash's pattern parses get the same fields: one space after the timestamp, a
//!   host of hostname characters, then `PROG:` or `PROG[PID]:` followed by a space, then the
//!   message after exactly one more space (so a message keeps any further leading spaces). A
//!   word without the colon is not a program (rsyslog would call it the tag; Logstash does not).
//! - Some lines Logstash rejects are read as rsyslog reads them: no `<PRI>` (priority 13, as
//!   RFC 3164 section 4.3.3 says a relay assumes), `<0>`, upper-case months (`AUG`), spaces
//!   before the timestamp, a year inside it (`Mar 7 2008 19:06:53`) or a colon after it,
//!   hosts with `_` (Logstash's ECS pattern makes such a line all message), no host at all
//!   (`Mar 1 12:00:00 sshd[1]: x`), a line that ends after the timestamp, and RFC 5424.
//! - A lone last word after the timestamp is the message, not a host (as Logstash's ECS
//!   pattern reads it; rsyslog calls it the host).
//! - The message is everything after the header, embedded newlines included (Logstash's
//!   `GREEDYDATA` stops at the first one); a trailing LF, CR or NUL is not part of it.
//! - RFC 5424: `-` (NILVALUE) fields are absent, structured data is kept as its text
//!   (brackets, quotes and `\]` escapes respected when finding its end), a UTF-8 BOM at the
//!   start of MSG is dropped.
//!
//! Timestamps: a zone in the text wins; otherwise the [`ZoneClock`]'s zone applies. A year-less
//! BSD timestamp takes the year Logstash's date filter guesses (this year; last year for a
//! December date read in January, next year for a January date read in December). Fractions
//! are kept to the millisecond, as the date filter keeps them. A date that does not exist
//! (`Feb 30`, hour 24) leaves [`Syslog::time`] `None`: the line still parses, the caller tags
//! the event `_dateparsefailure` as Logstash's date filter would.

use chrono::{LocalResult, Offset, TimeZone};

use crate::event::Timestamp;
use crate::filters::date::Zone;

/// The longest `<PRI>` value read: three digits (RFC 3164 and 5424 both say 1 to 3).
const MAX_PRI_DIGITS: usize = 3;
/// The UTF-8 byte order mark RFC 5424 allows at the start of MSG.
const BOM: &str = "\u{FEFF}";
const NANOS_PER_MILLI: u32 = 1_000_000;

/// Which RFC a line followed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Rfc3164,
    Rfc5424,
}

/// One parsed syslog message: slices of the line it was read from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Syslog<'a> {
    pub format: Format,
    /// The `<PRI>` value; `None` when the line had none (a relay assumes 13).
    pub priority: Option<u16>,
    /// The timestamp as written (RFC 5424's NILVALUE: `None`).
    pub timestamp: Option<&'a str>,
    /// True when `timestamp` is ISO8601 rather than BSD `Mmm dd hh:mm:ss` (Logstash's legacy
    /// fields tell them apart: `timestamp8601`).
    pub timestamp_is_iso: bool,
    /// The instant the timestamp stands for; `None` when there is no timestamp or its date
    /// does not exist.
    pub time: Option<Timestamp>,
    pub hostname: Option<&'a str>,
    /// The program (RFC 3164 tag without `[pid]:`; RFC 5424 APP-NAME).
    pub program: Option<&'a str>,
    /// The process id (RFC 3164 `[pid]`; RFC 5424 PROCID, which may be any printable text).
    pub pid: Option<&'a str>,
    /// RFC 5424 VERSION.
    pub version: Option<&'a str>,
    /// RFC 5424 MSGID.
    pub msgid: Option<&'a str>,
    /// RFC 5424 STRUCTURED-DATA, as written (`[id k="v"][id2 ...]`).
    pub structured_data: Option<&'a str>,
    pub message: &'a str,
}

/// Converts local times to instants in one zone, and knows the date for guessing missing
/// years. One per connection or worker: it caches the last zone offset it looked up.
#[derive(Debug)]
pub struct ZoneClock {
    zone: Zone,
    /// The current UTC year and month (for year-less timestamps).
    year: i32,
    month: u32,
    /// `(local minute, UTC minus local in seconds)` of the last named-zone lookup; offsets
    /// change on minute boundaries, and consecutive lines mostly share their minute.
    cache: Option<(i64, Option<i64>)>,
}

impl ZoneClock {
    /// A clock reading local times in `zone`, guessing years from `now`.
    pub fn new(zone: Zone, now: Timestamp) -> ZoneClock {
        let mut clock = ZoneClock {
            zone,
            year: 1970,
            month: 1,
            cache: None,
        };
        clock.set_now(now);
        clock
    }

    /// Moves the date used for year guessing (call once per read, not per line).
    pub fn set_now(&mut self, now: Timestamp) {
        let (year, month, ..) = now.civil();
        self.year = year;
        self.month = month;
    }

    /// Logstash's date filter's guess for a date read without a year.
    fn guess_year(&self, month: u32) -> i32 {
        match (month, self.month) {
            (12, 1) => self.year - 1,
            (1, 12) => self.year + 1,
            _ => self.year,
        }
    }

    /// The instant of local time `t` (with its own offset, when it had one).
    fn instant(&mut self, t: &LocalTime) -> Option<Timestamp> {
        let local = Timestamp::from_civil(t.year, t.month, t.day, t.hour, t.minute, t.second, 0)?;
        let utc_minus_local = match (t.offset, self.zone) {
            (Some(offset), _) => -i64::from(offset),
            (None, Zone::Fixed(millis)) => -millis / 1000,
            (None, Zone::Named(tz)) => self.named_offset(tz, local.secs())?,
        };
        local
            .checked_add_secs(utc_minus_local)
            .map(|ts| Timestamp::from_nanos(ts.nanos() + i64::from(t.millis * NANOS_PER_MILLI)))
    }

    /// UTC minus local time in `tz` at local second `local`; `None` in a daylight-saving gap
    /// (Joda rejects those times; an overlap takes the earlier instant, as Joda does).
    fn named_offset(&mut self, tz: chrono_tz::Tz, local: i64) -> Option<i64> {
        let minute = local.div_euclid(60);
        if let Some((cached, offset)) = self.cache {
            if cached == minute {
                return offset;
            }
        }
        let naive = chrono::DateTime::from_timestamp(minute * 60, 0)?.naive_utc();
        let offset = match tz.offset_from_local_datetime(&naive) {
            LocalResult::Single(o) | LocalResult::Ambiguous(o, _) => {
                Some(-i64::from(o.fix().local_minus_utc()))
            }
            LocalResult::None => None,
        };
        self.cache = Some((minute, offset));
        offset
    }
}

/// A date and time as written, before its zone is applied.
#[derive(Clone, Copy, Debug, Default)]
struct LocalTime {
    year: i32,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    millis: u32,
    /// Seconds east of UTC, when the text named an offset.
    offset: Option<i32>,
}

/// Parses one syslog line (RFC 5424 first, then RFC 3164); `None` when it is neither.
pub fn parse<'a>(line: &'a str, clock: &mut ZoneClock) -> Option<Syslog<'a>> {
    let line = line.trim_end_matches(['\n', '\r', '\0']);
    let mut cur = Cursor::new(line);
    let priority = match cur.peek() {
        Some(b'<') => Some(cur.priority()?),
        _ => None,
    };
    let header = cur.pos;
    if let Some(priority) = priority {
        if let Some(parsed) = rfc5424(line, header, priority, clock) {
            return Some(parsed);
        }
    }
    rfc3164(line, header, priority, clock)
}

/// RFC 5424 after `<PRI>`; `None` when the line does not follow it.
fn rfc5424<'a>(
    line: &'a str,
    start: usize,
    priority: u16,
    clock: &mut ZoneClock,
) -> Option<Syslog<'a>> {
    let mut cur = Cursor::at(line, start);
    let version = cur.version()?;
    cur.spaces()?;
    let timestamp = cur.nil_or_token();
    let time = match timestamp {
        Some(text) => {
            let (local, len) = iso8601(text.as_bytes(), b'T')?;
            if len != text.len() {
                return None;
            }
            clock.instant(&local)
        }
        None => None,
    };
    cur.spaces()?;
    let hostname = cur.nil_or_token();
    cur.spaces()?;
    let program = cur.nil_or_token();
    cur.spaces()?;
    let pid = cur.nil_or_token();
    cur.spaces()?;
    let msgid = cur.nil_or_token();
    let mut structured_data = None;
    if !cur.at_end() {
        cur.spaces()?;
        structured_data = cur.structured_data()?;
    }
    let message = cur.message_after_space();
    Some(Syslog {
        format: Format::Rfc5424,
        priority: Some(priority),
        timestamp,
        timestamp_is_iso: true,
        time,
        hostname,
        program,
        pid,
        version: Some(version),
        msgid,
        structured_data,
        message: message.strip_prefix(BOM).unwrap_or(message),
    })
}

/// RFC 3164 (with the leniency described in the module docs) from `start`.
fn rfc3164<'a>(
    line: &'a str,
    start: usize,
    priority: Option<u16>,
    clock: &mut ZoneClock,
) -> Option<Syslog<'a>> {
    let mut cur = Cursor::at(line, start);
    cur.skip_spaces();
    let ts_start = cur.pos;
    let (local, iso) = match bsd_timestamp(&mut cur, clock) {
        Some(local) => (local, false),
        None => {
            let (local, len) = iso8601(&line.as_bytes()[ts_start..], b' ')?;
            cur.pos += len;
            (local, true)
        }
    };
    let timestamp = &line[ts_start..cur.pos];
    // rsyslog accepts a colon after the time (`19:06:53:`).
    if cur.peek() == Some(b':') && matches!(cur.peek_at(1), None | Some(b' ')) {
        cur.pos += 1;
    }
    let mut parsed = Syslog {
        format: Format::Rfc3164,
        priority,
        timestamp: Some(timestamp),
        timestamp_is_iso: iso,
        time: clock.instant(&local),
        hostname: None,
        program: None,
        pid: None,
        version: None,
        msgid: None,
        structured_data: None,
        message: "",
    };
    if cur.at_end() {
        return Some(parsed);
    }
    if cur.peek() != Some(b' ') {
        return None;
    }
    cur.pos += 1;
    let word = cur.word();
    // A last word is the message, not a host (as Logstash's ECS pattern reads it).
    if is_hostname(word) && cur.peek_at(word.len()) == Some(b' ') {
        parsed.hostname = Some(word);
        cur.pos += word.len() + 1;
    }
    let word = cur.word();
    if let Some((program, pid)) = program_tag(word) {
        if cur.peek_at(word.len()) == Some(b' ') {
            parsed.program = Some(program);
            parsed.pid = pid;
            cur.pos += word.len() + 1;
        }
    }
    parsed.message = cur.rest();
    Some(parsed)
}

/// `Mmm dd [yyyy ]hh:mm:ss[.fff]`, the month in any case; `None` (cursor unmoved) otherwise.
fn bsd_timestamp(cur: &mut Cursor, clock: &ZoneClock) -> Option<LocalTime> {
    let mut c = cur.clone();
    let month = month_number(c.take(3)?)?;
    if c.skip_spaces() == 0 {
        return None;
    }
    let (day, _) = c.number(1, 2)?;
    c.eat(b' ')?;
    let mut year = None;
    if c.peek_at(4) == Some(b' ') {
        let (y, _) = c.number(4, 4)?;
        c.eat(b' ')?;
        year = Some(y as i32);
    }
    let (hour, _) = c.number(1, 2)?;
    c.eat(b':')?;
    let (minute, _) = c.number(2, 2)?;
    c.eat(b':')?;
    let (second, _) = c.number(2, 2)?;
    let millis = c.fraction(b".,")?;
    if c.peek().is_some_and(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    *cur = c;
    Some(LocalTime {
        year: year.unwrap_or_else(|| clock.guess_year(month)),
        month,
        day,
        hour,
        minute,
        second,
        millis,
        offset: None,
    })
}

/// ISO8601 / RFC 3339 at the start of `text`: `yyyy-mm-dd`, `T` (or `separator`), `hh:mm`,
/// optional `:ss` and fraction, optional `Z` or `±hh[:]mm`. Returns the time and its length.
fn iso8601(text: &[u8], separator: u8) -> Option<(LocalTime, usize)> {
    let mut c = Cursor {
        s: text,
        pos: 0,
        text: "",
    };
    let (year, _) = c.number(4, 4)?;
    c.eat(b'-')?;
    let (month, _) = c.number(2, 2)?;
    c.eat(b'-')?;
    let (day, _) = c.number(2, 2)?;
    match c.peek()? {
        b'T' | b't' => c.pos += 1,
        b if b == separator => c.pos += 1,
        _ => return None,
    }
    let (hour, _) = c.number(2, 2)?;
    c.eat(b':')?;
    let (minute, _) = c.number(2, 2)?;
    let mut second = 0;
    let mut millis = 0;
    if c.peek() == Some(b':') {
        c.pos += 1;
        second = c.number(2, 2)?.0;
        millis = c.fraction(b".,")?;
    }
    let offset = match c.peek() {
        Some(b'Z' | b'z') => {
            c.pos += 1;
            Some(0)
        }
        Some(sign @ (b'+' | b'-')) => {
            c.pos += 1;
            let (h, _) = c.number(2, 2)?;
            if c.peek() == Some(b':') {
                c.pos += 1;
            }
            let (m, _) = c.number(2, 2)?;
            if h > 23 || m > 59 {
                return None;
            }
            let secs = (h * 3600 + m * 60) as i32;
            Some(if sign == b'-' { -secs } else { secs })
        }
        _ => None,
    };
    if c.peek().is_some_and(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    let time = LocalTime {
        year: year as i32,
        month,
        day,
        hour,
        minute,
        second,
        millis,
        offset,
    };
    Some((time, c.pos))
}

/// 1-12 for an English month abbreviation in any case.
fn month_number(name: &[u8]) -> Option<u32> {
    let lower = [
        name[0].to_ascii_lowercase(),
        name[1].to_ascii_lowercase(),
        name[2].to_ascii_lowercase(),
    ];
    let month = match &lower {
        b"jan" => 1,
        b"feb" => 2,
        b"mar" => 3,
        b"apr" => 4,
        b"may" => 5,
        b"jun" => 6,
        b"jul" => 7,
        b"aug" => 8,
        b"sep" => 9,
        b"oct" => 10,
        b"nov" => 11,
        b"dec" => 12,
        _ => return None,
    };
    Some(month)
}

/// True for a word that can be the host of an RFC 3164 header: a name or address of
/// letters, digits, `.`, `-`, `_`, `:` and `%` (IPv6 zones), starting with a letter, digit or
/// `:`, and not ending in `:` (that is a program tag).
fn is_hostname(word: &str) -> bool {
    let bytes = word.as_bytes();
    let Some((&first, _)) = bytes.split_first() else {
        return false;
    };
    (first.is_ascii_alphanumeric() || first == b':')
        && !word.ends_with(':')
        && bytes
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':' | b'%'))
}

/// `PROG:` or `PROG[PID]:` (grok's `%{SYSLOGPROG}:`): the program and pid. PROG is printable
/// ASCII without brackets; PID is digits.
fn program_tag(word: &str) -> Option<(&str, Option<&str>)> {
    let body = word.strip_suffix(':')?;
    let (program, pid) = match body.strip_suffix(']') {
        Some(head) => {
            let open = head.rfind('[')?;
            let pid = &head[open + 1..];
            if pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            (&head[..open], Some(pid))
        }
        None => (body, None),
    };
    let valid = !program.is_empty()
        && program
            .bytes()
            .all(|b| (0x21..=0x7e).contains(&b) && b != b'[' && b != b']');
    valid.then_some((program, pid))
}

/// A position in the line being parsed.
#[derive(Clone)]
struct Cursor<'a> {
    s: &'a [u8],
    pos: usize,
    /// The line as text, for returning slices (empty when only bytes are read).
    text: &'a str,
}

impl<'a> Cursor<'a> {
    fn new(text: &'a str) -> Cursor<'a> {
        Cursor::at(text, 0)
    }

    fn at(text: &'a str, pos: usize) -> Cursor<'a> {
        Cursor {
            s: text.as_bytes(),
            pos,
            text,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn peek_at(&self, ahead: usize) -> Option<u8> {
        self.s.get(self.pos + ahead).copied()
    }

    fn at_end(&self) -> bool {
        self.pos >= self.s.len()
    }

    fn eat(&mut self, b: u8) -> Option<()> {
        (self.peek()? == b).then(|| self.pos += 1)
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let bytes = self.s.get(self.pos..self.pos + n)?;
        self.pos += n;
        Some(bytes)
    }

    /// Skips spaces; returns how many.
    fn skip_spaces(&mut self) -> usize {
        let n = self.s[self.pos..]
            .iter()
            .take_while(|&&b| b == b' ')
            .count();
        self.pos += n;
        n
    }

    /// One or more spaces (RFC 5424 says one; Logstash's pattern takes several).
    fn spaces(&mut self) -> Option<()> {
        (self.skip_spaces() > 0).then_some(())
    }

    /// A decimal number of `min..=max` digits; its value and length.
    fn number(&mut self, min: usize, max: usize) -> Option<(u32, usize)> {
        let digits = self.s[self.pos..]
            .iter()
            .take(max)
            .take_while(|b| b.is_ascii_digit())
            .count();
        if digits < min {
            return None;
        }
        let value = self.s[self.pos..self.pos + digits]
            .iter()
            .fold(0u32, |n, &b| n * 10 + u32::from(b - b'0'));
        self.pos += digits;
        Some((value, digits))
    }

    /// An optional fraction of a second after one of `separators`, as milliseconds (digits
    /// past the third are read and dropped). `None` for a separator without digits.
    fn fraction(&mut self, separators: &[u8]) -> Option<u32> {
        match self.peek() {
            Some(b) if separators.contains(&b) => {}
            _ => return Some(0),
        }
        let start = self.pos + 1;
        let digits = self.s[start..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        if digits == 0 {
            return None;
        }
        let millis = self.s[start..start + digits.min(3)]
            .iter()
            .fold(0u32, |n, &b| n * 10 + u32::from(b - b'0'));
        self.pos = start + digits;
        Some(millis * 10u32.pow(3 - digits.min(3) as u32))
    }

    /// `<PRI>`: 1 to 3 digits.
    fn priority(&mut self) -> Option<u16> {
        self.eat(b'<')?;
        let (value, _) = self.number(1, MAX_PRI_DIGITS)?;
        self.eat(b'>')?;
        Some(value as u16)
    }

    /// RFC 5424 VERSION (1 to 3 digits, not starting with 0) followed by a space.
    fn version(&mut self) -> Option<&'a str> {
        let start = self.pos;
        if !matches!(self.peek(), Some(b'1'..=b'9')) {
            return None;
        }
        self.number(1, 3)?;
        (self.peek() == Some(b' ')).then(|| &self.text[start..self.pos])
    }

    /// The text up to the next space or the end, without moving.
    fn word(&self) -> &'a str {
        let len = memchr::memchr(b' ', &self.s[self.pos..]).unwrap_or(self.s.len() - self.pos);
        &self.text[self.pos..self.pos + len]
    }

    /// An RFC 5424 header field: `None` for the NILVALUE `-`.
    fn nil_or_token(&mut self) -> Option<&'a str> {
        let word = self.word();
        self.pos += word.len();
        (word != "-").then_some(word)
    }

    /// RFC 5424 STRUCTURED-DATA: `-` (`Some(None)`) or one or more `[...]` elements, whose
    /// quoted values may hold `]` and `\"`. `None` when an element is not closed.
    fn structured_data(&mut self) -> Option<Option<&'a str>> {
        if self.peek() == Some(b'-') && matches!(self.peek_at(1), None | Some(b' ')) {
            self.pos += 1;
            return Some(None);
        }
        let start = self.pos;
        while self.peek() == Some(b'[') {
            self.pos = sd_element_end(self.s, self.pos)?;
        }
        if self.pos == start {
            return None;
        }
        Some(Some(&self.text[start..self.pos]))
    }

    /// The rest of the line after one separating space (all of it when none follows).
    fn message_after_space(&self) -> &'a str {
        let rest = &self.text[self.pos.min(self.text.len())..];
        rest.strip_prefix(' ').unwrap_or(rest)
    }

    fn rest(&self) -> &'a str {
        &self.text[self.pos.min(self.text.len())..]
    }
}

/// The position after the SD-ELEMENT that starts with `[` at `start`.
fn sd_element_end(s: &[u8], start: usize) -> Option<usize> {
    let mut i = start + 1;
    let mut quoted = false;
    while let Some(&b) = s.get(i) {
        match b {
            b'\\' if quoted => i += 1,
            b'"' => quoted = !quoted,
            b']' if !quoted => return Some(i + 1),
            _ => {}
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2024-06-15, UTC.
    fn clock() -> ZoneClock {
        ZoneClock::new(Zone::UTC, Timestamp::from_secs(1_718_409_600))
    }

    fn iso(ts: Option<Timestamp>) -> String {
        let mut s = String::new();
        ts.expect("a time").push_iso8601(&mut s);
        s
    }

    #[test]
    fn rfc3164_with_host_program_and_pid() {
        let line = "<38>Mar 27 19:06:53 source_server sshd(pam_unix)[12750]: session opened";
        let p = parse(line, &mut clock()).unwrap();
        assert_eq!(p.priority, Some(38));
        assert_eq!(p.timestamp, Some("Mar 27 19:06:53"));
        assert_eq!(iso(p.time), "2024-03-27T19:06:53.000Z");
        assert_eq!(p.hostname, Some("source_server"));
        assert_eq!(p.program, Some("sshd(pam_unix)"));
        assert_eq!(p.pid, Some("12750"));
        assert_eq!(p.message, "session opened");
    }

    #[test]
    fn a_word_without_colon_is_message_not_program() {
        let p = parse("<6>Feb 18 16:01:59 serverX -- MARK --", &mut clock()).unwrap();
        assert_eq!(p.hostname, Some("serverX"));
        assert_eq!(p.program, None);
        assert_eq!(p.message, "-- MARK --");
    }

    #[test]
    fn only_one_space_is_consumed_before_the_message() {
        let p = parse("<13>Feb  1 00:00:00 host prog:  two", &mut clock()).unwrap();
        assert_eq!(p.message, " two");
        let p = parse("<13>Feb  1 00:00:00 host  prog: x", &mut clock()).unwrap();
        assert_eq!((p.program, p.message), (None, " prog: x"));
    }

    #[test]
    fn iso_timestamps_with_and_without_zone() {
        let p = parse(
            "<14>2024-03-01T12:00:00.123456+01:00 web nginx: hi",
            &mut clock(),
        )
        .unwrap();
        assert!(p.timestamp_is_iso);
        assert_eq!(iso(p.time), "2024-03-01T11:00:00.123Z");
        let mut paris = ZoneClock::new(
            Zone::parse("Europe/Paris").unwrap(),
            Timestamp::from_secs(1_718_409_600),
        );
        let p = parse("<14>2024-07-01T12:00:00 web nginx: hi", &mut paris).unwrap();
        assert_eq!(iso(p.time), "2024-07-01T10:00:00.000Z");
        let p = parse("<14>Jan  1 12:00:00 web nginx: hi", &mut paris).unwrap();
        assert_eq!(iso(p.time), "2024-01-01T11:00:00.000Z");
    }

    #[test]
    fn years_are_guessed_across_new_year() {
        let january = Timestamp::from_secs(1_704_153_600); // 2024-01-02
        let p = parse(
            "<13>Dec 31 23:59:59 h p: x",
            &mut ZoneClock::new(Zone::UTC, january),
        );
        assert_eq!(iso(p.unwrap().time), "2023-12-31T23:59:59.000Z");
        let december = Timestamp::from_secs(1_735_603_200); // 2024-12-31
        let p = parse(
            "<13>Jan  1 00:00:01 h p: x",
            &mut ZoneClock::new(Zone::UTC, december),
        );
        assert_eq!(iso(p.unwrap().time), "2025-01-01T00:00:01.000Z");
    }

    #[test]
    fn impossible_dates_parse_without_time() {
        let p = parse("<13>Feb 30 10:00:00 h p: x", &mut clock()).unwrap();
        assert_eq!((p.time, p.hostname), (None, Some("h")));
    }

    #[test]
    fn rfc5424_full_and_nil() {
        let line = "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 \
                    [exampleSDID@32473 iut=\"3\" eventSource=\"App]\\\"x\"][p@1 a=\"b\"] \u{FEFF}An entry";
        let p = parse(line, &mut clock()).unwrap();
        assert_eq!(p.format, Format::Rfc5424);
        assert_eq!(p.priority, Some(165));
        assert_eq!(p.version, Some("1"));
        assert_eq!(iso(p.time), "2003-10-11T22:14:15.003Z");
        assert_eq!(p.hostname, Some("mymachine.example.com"));
        assert_eq!(p.program, Some("evntslog"));
        assert_eq!(p.pid, None);
        assert_eq!(p.msgid, Some("ID47"));
        assert_eq!(
            p.structured_data,
            Some("[exampleSDID@32473 iut=\"3\" eventSource=\"App]\\\"x\"][p@1 a=\"b\"]")
        );
        assert_eq!(p.message, "An entry");
        let p = parse("<13>1 - - - - - -", &mut clock()).unwrap();
        assert_eq!(
            (
                p.timestamp,
                p.hostname,
                p.program,
                p.structured_data,
                p.message
            ),
            (None, None, None, None, "")
        );
    }

    #[test]
    fn not_syslog() {
        for line in [
            "hello world",
            "<13>",
            "<13 Feb  1 00:00:00 h p: x",
            "<1234>Feb  1 00:00:00 h p: x",
            "<13>1 2003-10-11T22:14:15Z host app - id [unclosed",
            "<13>Feb  1 00:00:00x",
            "",
        ] {
            assert_eq!(parse(line, &mut clock()), None, "{line:?}");
        }
    }
}
