//! The `json_lines` codec: one JSON document per delimited line (`delimiter`, default `"\n"`),
//! each decoded as the `json` codec decodes a chunk (blank lines give nothing, bad ones a
//! `_jsonparsefailure` event); a last line without delimiter is decoded at end of stream.
//! Encoding writes the event as compact JSON followed by the delimiter.

use std::sync::Arc;

use bytes::Bytes;

use crate::config::{Diagnostics, PluginArgs};
use crate::event::{json, Event, Timestamp};

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
    }))
}

/// The `json_lines` codec.
pub struct JsonLines {
    charset: Charset,
    delimiter: Bytes,
}

impl Default for JsonLines {
    fn default() -> Self {
        JsonLines {
            charset: Charset::Utf8,
            delimiter: Bytes::from_static(b"\n"),
        }
    }
}

impl Codec for JsonLines {
    fn decoder(&self) -> Box<dyn Decoder> {
        Box::new(JsonLinesDecoder {
            splitter: Splitter::new(self.delimiter.clone()),
            charset: self.charset,
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
}

impl Decoder for JsonLinesDecoder {
    fn decode(&mut self, chunk: Bytes, now: Timestamp, out: &mut Vec<Event>) {
        let charset = self.charset;
        self.splitter
            .split(chunk, |line| decode_document(charset.text(line), now, out));
    }

    fn flush(&mut self, now: Timestamp, out: &mut Vec<Event>) {
        if let Some(line) = self.splitter.finish() {
            decode_document(self.charset.text(line), now, out);
        }
    }
}
