//! The `json` codec: each chunk an input reads is one JSON document. An object is one event,
//! an array of objects one event per element, blank input none; anything else (invalid JSON, a
//! scalar, an array holding a non-object) becomes an event whose `message` is the text, tagged
//! `_jsonparsefailure`, as in Logstash. Encoding writes the event as compact JSON with no
//! delimiter.

use std::sync::Arc;

use bytes::Bytes;

use crate::config::{Diagnostics, PluginArgs};
use crate::event::{json, Event, Map, Text, Timestamp, Value};

use super::{Charset, Codec, Decoder};

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct Options {
    charset: Charset,
}

pub fn build(args: &PluginArgs) -> Result<Arc<dyn Codec>, Diagnostics> {
    let options: Options = args.options()?;
    Ok(Arc::new(Json {
        charset: options.charset,
    }))
}

/// The `json` codec.
#[derive(Debug, Default)]
pub struct Json {
    charset: Charset,
}

impl Codec for Json {
    fn decoder(&self) -> Box<dyn Decoder> {
        Box::new(DocumentDecoder {
            charset: self.charset,
        })
    }

    fn encode(&self, event: &Event, buf: &mut Vec<u8>) {
        json::write_event(event, buf);
    }
}

struct DocumentDecoder {
    charset: Charset,
}

impl Decoder for DocumentDecoder {
    fn decode(&mut self, chunk: Bytes, now: Timestamp, out: &mut Vec<Event>) {
        decode_document(self.charset.text(chunk), now, out);
    }

    fn flush(&mut self, _now: Timestamp, _out: &mut Vec<Event>) {}
}

/// The tag of an event whose text was not a JSON object or array of objects.
pub const PARSE_FAILURE_TAG: &str = "_jsonparsefailure";

/// Decodes one JSON document (Logstash's `Event.from_json`), pushing its events to `out`.
pub(crate) fn decode_document(text: Text, now: Timestamp, out: &mut Vec<Event>) {
    if text.trim().is_empty() {
        return;
    }
    match json::parse_text(&text) {
        Ok(Value::Map(fields)) => out.push(Event::from_fields(fields, now)),
        Ok(Value::Array(items)) if items.iter().all(|v| matches!(v, Value::Map(_))) => {
            out.extend(
                items
                    .into_iter()
                    .map(|v| Event::from_fields(into_map(v), now)),
            );
        }
        _ => out.push(parse_failure(text, now)),
    }
}

fn into_map(value: Value) -> Map {
    match value {
        Value::Map(m) => m,
        _ => Map::new(),
    }
}

fn parse_failure(text: Text, now: Timestamp) -> Event {
    let mut event = Event::from_message(text, now);
    event.add_tag(Text::from_static(PARSE_FAILURE_TAG));
    event
}
