//! The `json_lines` codec: one JSON document per delimited line (`delimiter`, default `"\n"`),
//! each decoded as the `json` codec decodes a chunk (blank lines give nothing, bad ones a
//! `_jsonparsefailure` event); a last line without delimiter is decoded at end of stream.
//! Encoding writes the event as compact JSON followed by the delimiter.

use std::sync::Arc;

use bytes::Bytes;

use crate::config::{Diagnostics, PluginArgs};
use crate::event::{json, Event, FieldPath, Timestamp};

use super::json::decode_document;
use super::line::Splitter;
use super::{Charset, Codec, Decoder};

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    #[serde(default)]
    charset: Charset,
    #[serde(default = "default_delimiter")]
    delimiter: String,
    /// Where each decoded object goes (see the `json` codec).
    #[serde(default)]
    target: Option<FieldPath>,
}

fn default_delimiter() -> String {
    "\n".to_string()
}

pub fn build(args: &PluginArgs) -> Result<Arc<dyn Codec>, Diagnostics> {
    let options: Options = args.options()?;
    if options.delimiter.is_empty() {
        return Err(args.error("delimiter", "json_lines: delimiter must not be empty"));
    }
    Ok(Arc::new(JsonLines {
        charset: options.charset,
        delimiter: Bytes::from(options.delimiter.into_bytes()),
        target: options.target.map(Arc::new),
    }))
}

/// The `json_lines` codec.
pub struct JsonLines {
    charset: Charset,
    delimiter: Bytes,
    target: Option<Arc<FieldPath>>,
}

impl Default for JsonLines {
    fn default() -> Self {
        JsonLines {
            charset: Charset::Utf8,
            delimiter: Bytes::from_static(b"\n"),
            target: None,
        }
    }
}

impl Codec for JsonLines {
    fn decoder(&self) -> Box<dyn Decoder> {
        Box::new(JsonLinesDecoder {
            splitter: Splitter::new(self.delimiter.clone()),
            charset: self.charset,
            target: self.target.clone(),
        })
    }

    fn encode(&self, event: &Event, buf: &mut Vec<u8>) {
        json::write_event(event, buf);
        buf.extend_from_slice(&self.delimiter);
    }
}

struct JsonLinesDecoder {
    splitter: Splitter,
    charset: Charset,
    target: Option<Arc<FieldPath>>,
}

impl Decoder for JsonLinesDecoder {
    fn decode(&mut self, chunk: Bytes, now: Timestamp, out: &mut Vec<Event>) {
        let (charset, target) = (self.charset, self.target.as_deref());
        self.splitter.split(chunk, |line| {
            decode_document(charset.text(line), target, now, out)
        });
    }

    fn decode_line(&mut self, line: Bytes, now: Timestamp, out: &mut Vec<Event>) {
        decode_document(self.charset.text(line), self.target.as_deref(), now, out);
    }

    fn flush(&mut self, now: Timestamp, out: &mut Vec<Event>) {
        if let Some(line) = self.splitter.finish() {
            decode_document(self.charset.text(line), self.target.as_deref(), now, out);
        }
    }
}
