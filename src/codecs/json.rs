//! The `json` codec: each chunk an input reads is one JSON document. An object is one event,
//! an array of objects one event per element, blank input none; anything else (invalid JSON, a
//! scalar, an array holding a non-object) becomes an event whose `message` is the text, tagged
//! `_jsonparsefailure`, as in Logstash. With `target`, the decoded object is put under that
//! field instead of becoming the event's top level. Encoding writes the event as compact JSON with no
//! delimiter.

use std::sync::Arc;

use bytes::Bytes;

use crate::config::{Diagnostics, PluginArgs};
use crate::event::{json, Event, FieldPath, Map, Text, Timestamp, Value};

use super::{Charset, Codec, Decoder};

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct Options {
    charset: Charset,
    /// Where the decoded object goes; its top-level fields become the event's when unset.
    target: Option<FieldPath>,
}

pub fn build(args: &PluginArgs) -> Result<Arc<dyn Codec>, Diagnostics> {
    let options: Options = args.options()?;
    Ok(Arc::new(Json {
        charset: options.charset,
        target: options.target.map(Arc::new),
    }))
}

/// The `json` codec.
#[derive(Debug, Default)]
pub struct Json {
    charset: Charset,
    target: Option<Arc<FieldPath>>,
}

impl Codec for Json {
    fn decoder(&self) -> Box<dyn Decoder> {
        Box::new(DocumentDecoder {
            charset: self.charset,
            target: self.target.clone(),
        })
    }

    fn encode(&self, event: &Event, buf: &mut Vec<u8>) {
        json::write_event(event, buf);
    }
}

struct DocumentDecoder {
    charset: Charset,
    target: Option<Arc<FieldPath>>,
}

impl Decoder for DocumentDecoder {
    fn decode(&mut self, chunk: Bytes, now: Timestamp, out: &mut Vec<Event>) {
        decode_document(self.charset.text(chunk), self.target.as_deref(), now, out);
    }

    fn flush(&mut self, _now: Timestamp, _out: &mut Vec<Event>) {}
}

/// The tag of an event whose text was not a JSON object or array of objects.
pub const PARSE_FAILURE_TAG: &str = "_jsonparsefailure";

/// Decodes one JSON document (Logstash's `Event.from_json`), pushing its events to `out`: the
/// object's fields become the event's, or, with a `target`, the object is put there in an
/// otherwise fresh event.
pub(crate) fn decode_document(
    text: Text,
    target: Option<&FieldPath>,
    now: Timestamp,
    out: &mut Vec<Event>,
) {
    if text.trim().is_empty() {
        return;
    }
    let event = |fields: Map| match target {
        None => Event::from_fields(fields, now),
        Some(target) => {
            let mut event = Event::new(now);
            event.insert(target, Value::Map(fields));
            event
        }
    };
    match json::parse_text(&text) {
        Ok(Value::Map(fields)) => out.push(event(fields)),
        Ok(Value::Array(items)) if items.iter().all(|v| matches!(v, Value::Map(_))) => {
            out.extend(items.into_iter().map(|v| event(into_map(v))));
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
