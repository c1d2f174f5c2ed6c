//! Events and values as the page gets them: JSON exactly as the Elasticsearch output writes
//! it ([`write_event`]), so what the page shows is what would be indexed.

use serde_json::value::RawValue;

use crate::event::json::{write_event, write_map, write_value};
use crate::event::{Event, Value};

/// The document the Elasticsearch output would index for `event`, its field order kept.
pub fn document(event: &Event) -> Box<RawValue> {
    let mut buf = Vec::new();
    write_event(event, &mut buf);
    let text = String::from_utf8(buf)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
    RawValue::from_string(text)
        .unwrap_or_else(|_| RawValue::from_string("{}".into()).expect("valid JSON"))
}

/// The document as a JSON value (object keys in serde_json's order).
pub fn document_value(event: &Event) -> serde_json::Value {
    let mut buf = Vec::new();
    write_event(event, &mut buf);
    parse(&buf)
}

/// The event's `@metadata`, which the document leaves out.
pub fn metadata(event: &Event) -> serde_json::Value {
    let mut buf = Vec::new();
    write_map(event.metadata(), &mut buf);
    parse(&buf)
}

/// One value as JSON.
pub fn value(value: &Value) -> serde_json::Value {
    let mut buf = Vec::new();
    write_value(value, &mut buf);
    parse(&buf)
}

fn parse(json: &[u8]) -> serde_json::Value {
    serde_json::from_slice(json).unwrap_or(serde_json::Value::Null)
}
