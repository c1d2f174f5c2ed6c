//! Codecs: bytes to events on the way in ([`Decoder`]), events to bytes on the way out
//! ([`Codec::encode`]). One file per codec, named after its Logstash name.
//!
//! Shared pieces:
//! - `charset`: [`Charset`], Logstash's `charset` option, turning input bytes into text;
//! - `line`'s [`line::Splitter`]: cutting a byte stream into delimited lines without copying
//!   them (used by `line` and `json_lines`);
//! - `rubydebug`'s Ruby `inspect` string escaping (also used for invalid UTF-8 input, as
//!   Logstash does);
//! - [`write_template`] and [`write_event_summary`]: the text `plain` and `line` encode.

pub mod charset;
pub mod flume;
pub mod json;
pub mod json_lines;
pub mod line;
pub mod multiline;
pub mod plain;
pub mod rubydebug;

use std::cell::RefCell;
use std::fmt;

use bytes::Bytes;

pub use charset::Charset;

use crate::event::ruby::write_ruby_string;
use crate::event::sprintf::Template;
use crate::event::{Event, Timestamp, Value};

/// A codec plugin, built once and shared.
pub trait Codec: Send + Sync {
    /// A fresh decoder for one stream (decoders keep partial lines between chunks).
    fn decoder(&self) -> Box<dyn Decoder>;

    /// Appends the encoding of `event` to `buf`.
    fn encode(&self, event: &Event, buf: &mut Vec<u8>);
}

/// Turns a stream of byte chunks into events.
pub trait Decoder: Send {
    /// Decodes `chunk`, pushing complete events to `out`; `now` is their default `@timestamp`.
    fn decode(&mut self, chunk: Bytes, now: Timestamp, out: &mut Vec<Event>);

    /// Decodes one whole line, its delimiter already removed, from an input that frames lines
    /// itself (`file`). Line-oriented codecs take it as one line rather than wait for a newline
    /// that never comes; the others decode it as a chunk.
    fn decode_line(&mut self, line: Bytes, now: Timestamp, out: &mut Vec<Event>) {
        self.decode(line, now, out);
    }

    /// At end of stream: emits whatever is buffered (e.g. a last line without newline).
    fn flush(&mut self, now: Timestamp, out: &mut Vec<Event>);

    /// How long a stream may stay quiet before the input should call [`Decoder::flush`] although
    /// the stream has not ended (multiline's `auto_flush_interval`); `None`: only at its end.
    fn idle_flush(&self) -> Option<std::time::Duration> {
        None
    }
}

/// `fmt::Write` into a byte buffer, for the formatting helpers that write to `fmt::Write`.
pub(crate) struct ByteWriter<'a>(pub &'a mut Vec<u8>);

impl fmt::Write for ByteWriter<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

thread_local! {
    /// Rendering scratch for [`write_template`]: templates render into a `String`, encoders
    /// write bytes, and an encoder holds no per-thread state of its own.
    static SCRATCH: RefCell<String> = RefCell::new(String::with_capacity(256));
}

/// Appends `template` rendered for `event` (the `format` option of `plain` and `line`).
pub fn write_template(template: &Template, event: &Event, buf: &mut Vec<u8>) {
    if let Some(text) = template.constant() {
        buf.extend_from_slice(text.as_bytes());
        return;
    }
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut scratch) => {
            scratch.clear();
            template.render_into(event, &mut scratch);
            buf.extend_from_slice(scratch.as_bytes());
        }
        Err(_) => {
            let mut scratch = String::new();
            template.render_into(event, &mut scratch);
            buf.extend_from_slice(scratch.as_bytes());
        }
    });
}

/// Appends what Logstash's `Event#to_s` gives, which `plain` and `line` encode when no
/// `format` is set: `@timestamp host message`, with a missing `host` or `message` written as
/// the literal `%{host}` / `%{message}`.
pub fn write_event_summary(event: &Event, buf: &mut Vec<u8>) {
    if let Some(ts) = event.timestamp() {
        ts.write_iso8601(buf);
        buf.push(b' ');
    }
    write_field_or_placeholder(event, "host", b"%{host}", buf);
    buf.push(b' ');
    write_field_or_placeholder(event, "message", b"%{message}", buf);
}

fn write_field_or_placeholder(event: &Event, name: &str, placeholder: &[u8], buf: &mut Vec<u8>) {
    match event.get_field(name) {
        None | Some(Value::Null) => buf.extend_from_slice(placeholder),
        Some(Value::Str(s)) => buf.extend_from_slice(s.as_bytes()),
        Some(other) => {
            // Writing to a Vec cannot fail.
            let _ = write_ruby_string(other, &mut ByteWriter(buf));
        }
    }
}
