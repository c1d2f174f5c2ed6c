//! Codecs: bytes to events on the way in ([`Decoder`]), events to bytes on the way out
//! ([`Codec::encode`]). One file per codec, named after its Logstash name.

pub mod json;
pub mod json_lines;
pub mod line;
pub mod plain;
pub mod rubydebug;

use bytes::Bytes;

use crate::event::{Event, Timestamp};

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

    /// At end of stream: emits whatever is buffered (e.g. a last line without newline).
    fn flush(&mut self, now: Timestamp, out: &mut Vec<Event>);
}
