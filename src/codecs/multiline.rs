//! The `multiline` codec: joins lines into one event, as logstash-codec-multiline does (Java
//! stack traces, continued lines).
//!
//! Each line is matched against `pattern`; `negate => true` inverts the result. With
//! `what => previous` a matching line belongs to the event before it (a non-matching line
//! starts a new event, releasing the one gathered so far); with `what => next` a matching line
//! belongs to the event after it (a non-matching line ends the event). Events join their lines
//! with `"\n"`, get `multiline_tag` (`multiline`) when they have more than one line and, in ECS
//! mode, `[event][original]`. `@timestamp` is when the event was released.
//!
//! Limits: an event is released when it reaches `max_lines` lines (500) or `max_bytes` bytes
//! (10 MiB), tagged `multiline_codec_max_lines_reached` / `multiline_codec_max_bytes_reached`.
//! `auto_flush_interval` (seconds) releases the pending event after that long without new data:
//! the codec reports it through [`Decoder::idle_flush`] and the input calls `flush`.
//!
//! `pattern` may use grok references (`^%{TIMESTAMP_ISO8601} `), expanded against
//! logstash-patterns-core's legacy set plus the files of `patterns_dir`; the result runs on
//! PCRE2 (Oniguruma syntax that PCRE2 reads differently, such as `\h`, is not translated).
//!
//! What a chunk is: inputs that frame lines themselves (`file`) hand the codec one line per
//! call, without its newline; stream inputs (`stdin`, `tcp`) hand it raw reads. The `Decoder`
//! API does not say which, so a decoder starts out line-framed, as Logstash's codec always is
//! (a chunk without a newline is one whole line), and turns to stream framing for good at the
//! first chunk holding a newline: from then on chunks are split at newlines and the tail after
//! the last one waits for the next chunk (Logstash would cut a line there). A stream whose
//! first read holds no newline (a first line longer than one read) still has that read taken
//! as a line. Empty one-line chunks are ignored (Logstash drops them too); empty lines inside a
//! stream are lines.
//!
//! Deliberate difference: Logstash releases an event at `max_lines + 1` lines; here an event
//! never holds more than `max_lines`, and the limit tags mark only events the limit cut.

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};

use crate::config::options::EcsCompatibility;
use crate::config::{Diagnostics, PluginArgs};
use crate::event::{Event, FieldPath, Text, Timestamp, Value};
use crate::filters::grok::patterns::{self, PatternSet};

use super::{write_event_summary, Charset, Codec, Decoder};

/// Tag of events cut at `max_lines`.
pub const MAX_LINES_TAG: &str = "multiline_codec_max_lines_reached";
/// Tag of events cut at `max_bytes`.
pub const MAX_BYTES_TAG: &str = "multiline_codec_max_bytes_reached";

/// The longest `auto_flush_interval` (a year, in seconds).
const MAX_AUTO_FLUSH: f64 = 366.0 * 86_400.0;

/// Expanded patterns larger than this are refused (nested definitions can blow up).
const MAX_EXPANDED: usize = 1 << 20;

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    pattern: String,
    what: What,
    #[serde(default)]
    negate: bool,
    #[serde(default)]
    patterns_dir: Vec<String>,
    #[serde(default)]
    charset: Charset,
    #[serde(default)]
    multiline_tag: Option<String>,
    #[serde(default)]
    max_lines: Option<i64>,
    #[serde(default)]
    max_bytes: Option<String>,
    #[serde(default)]
    auto_flush_interval: Option<f64>,
    #[serde(default)]
    ecs_compatibility: Option<EcsCompatibility>,
}

/// Which event a matching line belongs to.
#[derive(serde::Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum What {
    Previous,
    Next,
}

pub fn build(args: &PluginArgs) -> Result<Arc<dyn Codec>, Diagnostics> {
    let options: Options = args.options()?;
    let mut set = PatternSet::new(patterns::bundled(EcsCompatibility::Disabled).definitions);
    patterns::pattern_files(&options.patterns_dir, "*")
        .and_then(|files| patterns::load_files(&mut set, &files))
        .map_err(|e| args.error("patterns_dir", format!("multiline: {e}")))?;
    let regex = compile(&options.pattern, &set)
        .map_err(|e| args.error("pattern", format!("multiline: {e}")))?;
    let max_bytes = match options.max_bytes.as_deref() {
        Some(text) => {
            parse_bytes(text).map_err(|e| args.error("max_bytes", format!("multiline: {e}")))?
        }
        None => 10 << 20,
    };
    let auto_flush =
        match options.auto_flush_interval {
            Some(s) if s > 0.0 && s <= MAX_AUTO_FLUSH => Some(Duration::from_secs_f64(s)),
            Some(_) => return Err(args.error(
                "auto_flush_interval",
                "multiline: auto_flush_interval must be a positive number of seconds (at most a \
                 year)",
            )),
            None => None,
        };
    let ecs = options
        .ecs_compatibility
        .unwrap_or_else(|| args.ecs_compatibility());
    Ok(Arc::new(Multiline(Arc::new(Settings {
        regex,
        negate: options.negate,
        what: options.what,
        charset: options.charset,
        tag: Some(options.multiline_tag.as_deref().unwrap_or("multiline"))
            .filter(|t| !t.is_empty())
            .map(Text::from),
        max_lines: options.max_lines.unwrap_or(500).max(1) as usize,
        max_bytes: max_bytes.max(1),
        auto_flush,
        original: ecs
            .is_ecs()
            .then(|| FieldPath::parse("[event][original]").expect("a valid field reference")),
    }))))
}

/// Expands grok references and compiles the pattern for PCRE2.
pub fn compile(pattern: &str, set: &PatternSet) -> Result<pcre2::bytes::Regex, String> {
    let mut expander = Expander {
        set,
        stack: Vec::new(),
        out: String::with_capacity(pattern.len() * 2),
    };
    expander.expand(pattern)?;
    // `(?J)`: definitions may repeat a group name, which Oniguruma allows.
    pcre2::bytes::RegexBuilder::new()
        .utf(true)
        .ucp(true)
        .jit_if_available(true)
        .build(&format!("(?J){}", expander.out))
        .map_err(|e| format!("invalid pattern \"{pattern}\": {e}"))
}

/// Replaces `%{NAME}`, `%{NAME:field}` and `%{NAME=regex}` with the definitions they name, as
/// non-capturing groups (the codec only needs to know whether a line matches).
struct Expander<'a> {
    set: &'a PatternSet,
    stack: Vec<String>,
    out: String,
}

impl Expander<'_> {
    fn expand(&mut self, text: &str) -> Result<(), String> {
        let mut rest = text;
        while let Some(at) = rest.find("%{") {
            self.out.push_str(&rest[..at]);
            let Some((name, definition, len)) = reference(&rest[at..]) else {
                self.out.push_str("%{");
                rest = &rest[at + 2..];
                continue;
            };
            self.substitute(name, definition)?;
            rest = &rest[at + len..];
        }
        self.out.push_str(rest);
        if self.out.len() > MAX_EXPANDED {
            return Err("the pattern expands to more than 1 MiB of regex".to_string());
        }
        Ok(())
    }

    fn substitute(&mut self, name: &str, inline: Option<&str>) -> Result<(), String> {
        let definition = match inline {
            Some(d) => d.to_string(),
            None => self
                .set
                .get(name)
                .ok_or_else(|| format!("unknown grok pattern \"{name}\""))?
                .to_string(),
        };
        if self.stack.iter().any(|n| n == name) {
            return Err(format!("grok pattern \"{name}\" refers to itself"));
        }
        self.stack.push(name.to_string());
        self.out.push_str("(?:");
        self.expand(&definition)?;
        self.out.push(')');
        self.stack.pop();
        Ok(())
    }
}

/// A `%{...}` reference at the start of `text`: its name, inline definition, and length.
fn reference(text: &str) -> Option<(&str, Option<&str>, usize)> {
    let body = &text[2..];
    let name_len = body
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(body.len());
    if name_len == 0 {
        return None;
    }
    let name = &body[..name_len];
    let after = &body[name_len..];
    if let Some(def) = after.strip_prefix('=') {
        // The definition ends at the `}` that balances the braces opened inside it.
        let mut depth = 0usize;
        for (i, c) in def.char_indices() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => {
                    return Some((name, Some(&def[..i]), 2 + name_len + 1 + i + 1))
                }
                '}' => depth -= 1,
                _ => {}
            }
        }
        return None;
    }
    let close = after.find('}')?;
    let field = &after[..close];
    if !(field.is_empty() || field.starts_with(':')) {
        return None;
    }
    Some((name, None, 2 + name_len + close + 1))
}

/// Logstash's `bytes` values: a number, optionally with a unit (`10 MiB`, `2 mb`, `512kb`).
pub fn parse_bytes(text: &str) -> Result<usize, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let value: f64 = text[..split]
        .parse()
        .map_err(|_| format!("\"{text}\" is not a size (e.g. 1024, \"10 MiB\")"))?;
    let unit = text[split..].trim().to_ascii_lowercase();
    let scale: f64 = match unit.as_str() {
        "" | "b" => 1.0,
        "kb" => 1e3,
        "mb" => 1e6,
        "gb" => 1e9,
        "tb" => 1e12,
        "kib" => 1024.0,
        "mib" => 1024.0 * 1024.0,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        "tib" => 1024.0f64.powi(4),
        _ => return Err(format!("unknown size unit \"{unit}\" in \"{text}\"")),
    };
    Ok((value * scale) as usize)
}

/// Built once, shared by every decoder.
struct Settings {
    regex: pcre2::bytes::Regex,
    negate: bool,
    what: What,
    charset: Charset,
    tag: Option<Text>,
    max_lines: usize,
    max_bytes: usize,
    auto_flush: Option<Duration>,
    /// `[event][original]` in ECS mode.
    original: Option<FieldPath>,
}

/// The `multiline` codec.
pub struct Multiline(Arc<Settings>);

impl Codec for Multiline {
    fn decoder(&self) -> Box<dyn Decoder> {
        Box::new(MultilineDecoder {
            settings: self.0.clone(),
            partial: BytesMut::new(),
            lines: Vec::new(),
            bytes: 0,
            streaming: false,
        })
    }

    fn encode(&self, event: &Event, buf: &mut Vec<u8>) {
        write_event_summary(event, buf);
    }
}

/// Why a pending event is released.
#[derive(Clone, Copy, Default)]
struct Cut {
    lines: bool,
    bytes: bool,
}

struct MultilineDecoder {
    settings: Arc<Settings>,
    /// A stream line whose newline has not arrived yet.
    partial: BytesMut,
    /// The pending event's lines.
    lines: Vec<Text>,
    /// Their total length.
    bytes: usize,
    /// A chunk with a newline has been seen: chunks are raw reads, not single lines.
    streaming: bool,
}

impl MultilineDecoder {
    fn line(&mut self, bytes: Bytes, now: Timestamp, out: &mut Vec<Event>) {
        let text = self.settings.charset.text(bytes);
        // A search that fails (PCRE2's match limit) counts as no match.
        let found = self
            .settings
            .regex
            .is_match(text.as_bytes())
            .unwrap_or(false);
        let matched = found != self.settings.negate;
        match self.settings.what {
            What::Previous => {
                if !matched {
                    self.release(now, out, Cut::default());
                } else if let Some(cut) = self.full() {
                    self.release(now, out, cut);
                }
                self.push(text);
            }
            What::Next => {
                self.push(text);
                if !matched {
                    self.release(now, out, Cut::default());
                } else if let Some(cut) = self.full() {
                    self.release(now, out, cut);
                }
            }
        }
    }

    fn push(&mut self, text: Text) {
        self.bytes += text.len();
        self.lines.push(text);
    }

    /// Which limit the pending event has reached, if any.
    fn full(&self) -> Option<Cut> {
        let cut = Cut {
            lines: self.lines.len() >= self.settings.max_lines,
            bytes: self.bytes >= self.settings.max_bytes,
        };
        (cut.lines || cut.bytes).then_some(cut)
    }

    /// Emits the pending event, if any.
    fn release(&mut self, now: Timestamp, out: &mut Vec<Event>, cut: Cut) {
        let count = self.lines.len();
        let message = match count {
            0 => return,
            1 => self.lines.pop().unwrap_or_default(),
            _ => {
                let mut joined = String::with_capacity(self.bytes + count - 1);
                for (i, line) in self.lines.drain(..).enumerate() {
                    if i > 0 {
                        joined.push('\n');
                    }
                    joined.push_str(&line);
                }
                Text::from_string(joined)
            }
        };
        self.lines.clear();
        self.bytes = 0;
        let mut event = Event::from_message(message.clone(), now);
        if let Some(original) = &self.settings.original {
            event.insert(original, Value::Str(message));
        }
        if let (Some(tag), true) = (&self.settings.tag, count > 1) {
            event.add_tag(tag.clone());
        }
        if cut.bytes {
            event.add_tag(Text::from_static(MAX_BYTES_TAG));
        }
        if cut.lines {
            event.add_tag(Text::from_static(MAX_LINES_TAG));
        }
        out.push(event);
    }

    /// Keeps a stream's unfinished line, releasing it as a line if it grows past `max_bytes`.
    fn keep_partial(&mut self, tail: &[u8], now: Timestamp, out: &mut Vec<Event>) {
        self.partial.extend_from_slice(tail);
        if self.partial.len() >= self.settings.max_bytes {
            let line = self.partial.split().freeze();
            self.line(line, now, out);
        }
    }
}

impl Decoder for MultilineDecoder {
    fn decode(&mut self, chunk: Bytes, now: Timestamp, out: &mut Vec<Event>) {
        let first = memchr::memchr(b'\n', &chunk);
        if !self.streaming {
            if first.is_none() {
                // One whole line, as line-framing inputs give them.
                if !chunk.is_empty() {
                    self.line(chunk, now, out);
                }
                return;
            }
            self.streaming = true;
        }
        let mut start = 0;
        if !self.partial.is_empty() {
            let Some(i) = first else {
                self.keep_partial(&chunk, now, out);
                return;
            };
            self.partial.extend_from_slice(&chunk[..i]);
            let line = self.partial.split().freeze();
            self.line(line, now, out);
            start = i + 1;
        }
        while let Some(i) = memchr::memchr(b'\n', &chunk[start..]) {
            self.line(chunk.slice(start..start + i), now, out);
            start += i + 1;
        }
        if start < chunk.len() {
            self.keep_partial(&chunk[start..], now, out);
        }
    }

    fn decode_line(&mut self, line: Bytes, now: Timestamp, out: &mut Vec<Event>) {
        self.line(line, now, out);
    }

    fn flush(&mut self, now: Timestamp, out: &mut Vec<Event>) {
        if !self.partial.is_empty() {
            let line = self.partial.split().freeze();
            self.line(line, now, out);
        }
        self.release(now, out, Cut::default());
    }

    fn idle_flush(&self) -> Option<Duration> {
        self.settings.auto_flush
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn legacy() -> PatternSet {
        PatternSet::new(patterns::bundled(EcsCompatibility::Disabled).definitions)
    }

    #[test]
    fn grok_references_expand_and_match() {
        let re = compile("^%{TIMESTAMP_ISO8601:ts} %{LOGLEVEL}", &legacy()).unwrap();
        assert!(re.is_match(b"2024-05-01T10:00:00.123Z ERROR boom").unwrap());
        assert!(!re
            .is_match(b"\tat com.example.Foo.bar(Foo.java:10)")
            .unwrap());
        let inline = compile("^%{DIGITS=\\d{2,}}x", &legacy()).unwrap();
        assert!(inline.is_match(b"123x").unwrap());
        assert!(!inline.is_match(b"1x").unwrap());
    }

    #[test]
    fn unknown_and_recursive_patterns_are_errors() {
        assert!(compile("%{NOPE}", &legacy())
            .unwrap_err()
            .contains("unknown grok pattern \"NOPE\""));
        let mut set = legacy();
        set.insert("LOOP", "a%{LOOP}");
        assert!(compile("%{LOOP}", &set)
            .unwrap_err()
            .contains("refers to itself"));
    }

    #[test]
    fn sizes_parse_like_logstash() {
        assert_eq!(parse_bytes("10 MiB"), Ok(10 << 20));
        assert_eq!(parse_bytes("2 mb"), Ok(2_000_000));
        assert_eq!(parse_bytes("512"), Ok(512));
        assert!(parse_bytes("lots").is_err());
    }
}
