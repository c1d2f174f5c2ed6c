//! The `json` filter: parses JSON text held in a field (`source`) into event fields.
//!
//! As logstash-filter-json does: the parsed value goes into `target` when set; without a target
//! it must be an object, whose keys become fields (keys are field references, so `"[a][b]"`
//! nests). An `@timestamp` key becomes the event's timestamp; one that is not an ISO8601 string
//! leaves the time at "now", goes to `_@timestamp` (as text) and tags the event
//! `_timestampparsefailure`. Invalid JSON, a non-object without target, a source that is not a
//! string, or a key that is not a valid field reference tags the event with `tag_on_failure`
//! (`_jsonparsefailure`) and leaves it otherwise unchanged; `skip_on_invalid_json` drops the tag
//! for invalid JSON. An empty (or all-whitespace) source parses to null, as JrJackson's does. A
//! missing source is no failure and no success.
//!
//! Parsing uses simd-json's tape: the field's bytes are copied into a per-thread, reused, padded
//! buffer (simd-json rewrites its input), parsed into a reused tape, and [`Value`]s are built
//! straight from the tape; long strings that needed no unescaping share the source field's
//! buffer instead of being copied. Whatever simd-json rejects is re-parsed with serde_json
//! ([`crate::event::json::parse_text`]), the reference for what is valid, which also covers
//! integers beyond 64 bits (simd-json refuses them; they become floats). Nesting is limited to
//! 128 levels, as in every other JSON parser of sluice.
//!
//! [`Json`] is the built filter; [`parse`] the parser; [`set_key`] sets a field the way
//! Logstash's `event.set(key)` does (kv and dissect use it too).

use std::cell::RefCell;

use serde::Deserialize;
use simd_json::{Buffers, Node, StaticNode, Tape};

use crate::config::options::{EcsCompatibility, OneOrMany};
use crate::config::{Diagnostics, PluginArgs};
use crate::event::json::parse_text;
use crate::event::ruby::write_ruby_string;
use crate::event::{Event, FieldPath, Map, PathError, Text, Timestamp, Value, INLINE_CAP};
use crate::filters::common::{failure_tags, note_untargeted_ecs};

use super::Filter;

/// Deepest nesting accepted, as serde_json's default.
const MAX_DEPTH: usize = 128;

/// Buffers grown for a document longer than this are dropped after it.
const RETAINED_INPUT: usize = 1 << 20;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonOptions {
    source: String,
    #[serde(default)]
    target: Option<String>,
    #[serde(default)]
    skip_on_invalid_json: bool,
    #[serde(default)]
    tag_on_failure: Option<OneOrMany<String>>,
    #[serde(default)]
    ecs_compatibility: Option<EcsCompatibility>,
}

/// The built filter.
#[derive(Debug)]
pub struct Json {
    source: FieldPath,
    target: Option<FieldPath>,
    skip_on_invalid_json: bool,
    tag_on_failure: Vec<Text>,
}

pub fn build(args: &PluginArgs) -> Result<Box<dyn Filter>, Diagnostics> {
    let options: JsonOptions = args.options()?;
    let path = |option: &str, name: &str| {
        FieldPath::parse(name).map_err(|e| args.error(option, format!("json: {option}: {e}")))
    };
    let source = path("source", &options.source)?;
    let target = options
        .target
        .as_deref()
        .map(|t| path("target", t))
        .transpose()?;
    let ecs = options
        .ecs_compatibility
        .unwrap_or_else(|| args.ecs_compatibility());
    note_untargeted_ecs("json", ecs, &source, target.is_some());
    Ok(Box::new(Json {
        source,
        target,
        skip_on_invalid_json: options.skip_on_invalid_json,
        tag_on_failure: failure_tags(options.tag_on_failure, "_jsonparsefailure"),
    }))
}

/// Why the filter failed on an event.
#[derive(Debug, thiserror::Error)]
enum JsonFilterError {
    #[error("the source field is a {0}, not a string")]
    NotText(&'static str),
    #[error("invalid JSON: {0}")]
    Invalid(String),
    #[error("parsed JSON is a {0}, not an object; set `target` to keep it")]
    NotAnObject(&'static str),
    #[error("key is not a valid field reference: {0}")]
    BadKey(PathError),
}

impl Filter for Json {
    fn apply(&self, event: &mut Event) -> bool {
        let text = match event.get(&self.source) {
            None | Some(Value::Null | Value::Bool(false)) => return false,
            Some(Value::Str(s)) => Ok(s.clone()),
            Some(other) => Err(JsonFilterError::NotText(other.type_name())),
        };
        let parsed = text.and_then(|t| parse(&t).map_err(JsonFilterError::Invalid));
        let result = match parsed {
            Ok(value) => self.store(event, value),
            Err(e) => Err(e),
        };
        match result {
            Ok(()) => true,
            Err(error) => {
                let invalid = matches!(
                    error,
                    JsonFilterError::Invalid(_) | JsonFilterError::NotText(_)
                );
                if !(invalid && self.skip_on_invalid_json) {
                    tracing::debug!(%error, source = %self.source, "json filter failed");
                    for tag in &self.tag_on_failure {
                        event.add_tag(tag.clone());
                    }
                }
                false
            }
        }
    }
}

impl Json {
    fn store(&self, event: &mut Event, value: Value) -> Result<(), JsonFilterError> {
        if let Some(target) = &self.target {
            event.insert(target, value);
            return Ok(());
        }
        let mut map = match value {
            Value::Map(map) => map,
            other => return Err(JsonFilterError::NotAnObject(other.type_name())),
        };
        let timestamp = map.remove("@timestamp");
        for (key, value) in map {
            set_key(event, key, value).map_err(JsonFilterError::BadKey)?;
        }
        match timestamp {
            None | Some(Value::Null | Value::Bool(false)) => {}
            Some(value) => set_timestamp(event, value),
        }
        Ok(())
    }
}

/// Logstash's `@timestamp` coercion: an ISO8601 string becomes the event's time; anything else
/// leaves "now", with the original text in `_@timestamp` and a `_timestampparsefailure` tag.
fn set_timestamp(event: &mut Event, value: Value) {
    let parsed = match &value {
        Value::Str(s) => Timestamp::parse_iso8601(s),
        Value::Timestamp(t) => Some(*t),
        _ => None,
    };
    match parsed {
        Some(ts) => event.set_timestamp(ts),
        None => {
            event.set_timestamp(Timestamp::now());
            event.add_tag(Text::from_static("_timestampparsefailure"));
            let original = match value {
                Value::Str(s) => s,
                other => {
                    let mut s = String::new();
                    let _ = write_ruby_string(&other, &mut s);
                    Text::from_string(s)
                }
            };
            event.set_field(Text::from_static("_@timestamp"), Value::Str(original));
        }
    }
}

/// Sets `key` the way Logstash's `event.set(key, value)` does: a key with brackets is a field
/// reference (`[a][b]` nests; a malformed one such as `a[b]` is an error), any other key is a
/// top-level field, even an empty one.
pub fn set_key(event: &mut Event, key: impl Into<Text>, value: Value) -> Result<(), PathError> {
    let key = key.into();
    if key.contains(['[', ']']) || key.as_str() == "@metadata" {
        let path = FieldPath::parse(&key)?;
        event.insert(&path, value);
    } else {
        event.set_field(key, value);
    }
    Ok(())
}

/// Parses JSON text into a [`Value`]: simd-json first, serde_json for what it rejects. Empty or
/// all-whitespace text is null. The error is serde_json's description.
pub fn parse(text: &Text) -> Result<Value, String> {
    if text
        .bytes()
        .all(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
    {
        return Ok(Value::Null);
    }
    match PARSER.with(|p| p.borrow_mut().parse(text)) {
        Some(value) => Ok(value),
        None => parse_text(text).map_err(|e| e.message().to_string()),
    }
}

thread_local! {
    static PARSER: RefCell<SimdParser> = RefCell::new(SimdParser::new());
}

/// One worker's reusable simd-json state: the padded copy of the input, simd-json's scratch
/// buffers and the tape, all kept between events so parsing allocates only the values it
/// builds.
struct SimdParser {
    input: Vec<u8>,
    buffers: Buffers,
    /// Always empty between calls; only its allocation is kept.
    tape: Tape<'static>,
}

impl SimdParser {
    fn new() -> SimdParser {
        SimdParser {
            input: Vec::with_capacity(4096),
            buffers: Buffers::with_max_depth(4096, MAX_DEPTH),
            tape: Tape(Vec::with_capacity(256)),
        }
    }

    /// The value, or `None` when simd-json rejects the text.
    fn parse(&mut self, text: &Text) -> Option<Value> {
        let SimdParser {
            input,
            buffers,
            tape: stored,
        } = self;
        let len = text.len();
        input.clear();
        input.extend_from_slice(text.as_bytes());
        input.resize(len + simd_json::INPUT_PADDING, 0);
        let base = input.as_ptr() as usize;
        let mut tape = std::mem::replace(stored, Tape(Vec::new())).reset();
        let parsed = simd_json::fill_tape_padded(input, len, buffers, &mut tape);
        let value = parsed.ok().map(|()| {
            let builder = Builder { text, base };
            let mut at = 0;
            builder.value(&tape.0, &mut at)
        });
        *stored = tape.reset();
        if len > RETAINED_INPUT {
            // Do not keep a huge document's buffers around for the usual small ones.
            *self = SimdParser::new();
        }
        value
    }
}

/// Builds values from a tape whose strings point into a copy of `text` starting at `base`.
struct Builder<'t> {
    text: &'t Text,
    base: usize,
}

impl Builder<'_> {
    /// The value whose node is at `*at`; moves `*at` past it.
    fn value(&self, nodes: &[Node<'_>], at: &mut usize) -> Value {
        let node = nodes[*at];
        *at += 1;
        match node {
            Node::String(s) => Value::Str(self.text(s)),
            Node::Static(s) => scalar(s),
            Node::Array { len, .. } => {
                let mut items = Vec::with_capacity(len);
                for _ in 0..len {
                    items.push(self.value(nodes, at));
                }
                Value::Array(items)
            }
            Node::Object { len, .. } => {
                let mut map = Map::with_capacity(len);
                // Small objects: comparing keys directly is cheaper than hashing them.
                let mut seen = (len > SMALL_OBJECT).then(|| KeyHashes::new(len));
                for _ in 0..len {
                    let key = match nodes[*at] {
                        Node::String(k) => self.text(k),
                        // simd-json's tape always has a string key here.
                        _ => Text::EMPTY,
                    };
                    *at += 1;
                    let value = self.value(nodes, at);
                    if seen.as_mut().is_some_and(|s| s.is_new(&key)) {
                        map.push_new(key, value);
                    } else {
                        // A repeated key keeps its first place and its last value.
                        map.insert(key, value);
                    }
                }
                Value::Map(map)
            }
        }
    }

    /// A string of the tape: a slice of the source when it is long and was copied unchanged
    /// (no escapes), else a copy.
    fn text(&self, s: &str) -> Text {
        if s.len() > INLINE_CAP {
            let offset = (s.as_ptr() as usize).wrapping_sub(self.base);
            let source = self.text.as_str();
            if let Some(same) = source.get(offset..offset + s.len()).filter(|o| *o == s) {
                return self.text.substr(same);
            }
        }
        Text::new(s)
    }
}

/// Objects with more keys than this track key hashes to find repeated keys.
const SMALL_OBJECT: usize = 8;

/// Hashes of the keys of one object so far, so that building a map need not compare every new
/// key with every earlier one: only a key whose hash was seen is looked up.
struct KeyHashes {
    inline: [u64; 32],
    len: usize,
    spill: Vec<u64>,
}

impl KeyHashes {
    fn new(keys: usize) -> KeyHashes {
        KeyHashes {
            inline: [0; 32],
            len: 0,
            spill: Vec::with_capacity(keys.saturating_sub(32)),
        }
    }

    /// Records `key`; false when a key with the same hash came before (maybe the same key).
    fn is_new(&mut self, key: &str) -> bool {
        let h = key_hash(key);
        let seen = &self.inline[..self.len.min(32)];
        if seen.contains(&h) || self.spill.contains(&h) {
            return false;
        }
        if self.len < 32 {
            self.inline[self.len] = h;
        } else {
            self.spill.push(h);
        }
        self.len += 1;
        true
    }
}

/// A fast non-cryptographic hash (FxHash's step, eight bytes at a time).
fn key_hash(s: &str) -> u64 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let mut h = s.len() as u64;
    for chunk in s.as_bytes().chunks(8) {
        let mut word = [0u8; 8];
        word[..chunk.len()].copy_from_slice(chunk);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(word)).wrapping_mul(K);
    }
    h
}

fn scalar(node: StaticNode) -> Value {
    match node {
        StaticNode::Null => Value::Null,
        StaticNode::Bool(b) => Value::Bool(b),
        StaticNode::I64(n) => Value::Int(n),
        StaticNode::U64(n) => i64::try_from(n).map_or(Value::Float(n as f64), Value::Int),
        StaticNode::F64(f) => Value::Float(f),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::json::parse_value;

    fn both(json: &str) -> Value {
        let text = Text::new(json);
        let simd = PARSER.with(|p| p.borrow_mut().parse(&text));
        let serde = parse_value(json.as_bytes()).ok();
        assert_eq!(simd, serde, "{json}");
        simd.unwrap_or(Value::Null)
    }

    #[test]
    fn simd_and_serde_agree() {
        for json in [
            r#"{"a":1,"b":[true,false,null],"c":{"d":-2.5e3,"e":"x\ny\u00e9"}}"#,
            r#"[1, 18446744073709551615, -9223372036854775808, 0.1, 1e308]"#,
            r#"{"a":1,"b":2,"a":3}"#,
            r#""just a string""#,
            "42",
            "null",
            r#"{"":""}"#,
            "{\"k\":\"\\ud83d\\ude00\"}",
        ] {
            both(json);
        }
        for bad in ["{", "[1,]", "{\"a\" 1}", "tru", "1 2", "\"\\x\""] {
            assert!(
                PARSER
                    .with(|p| p.borrow_mut().parse(&Text::new(bad)))
                    .is_none(),
                "{bad}"
            );
            assert!(parse(&Text::new(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn repeated_keys_in_small_and_large_objects() {
        let keys: Vec<String> = (0..40).map(|i| format!("\"key{i}\":{i}")).collect();
        let dups: Vec<String> = (0..40)
            .step_by(7)
            .map(|i| format!("\"key{i}\":-{}", i + 1))
            .collect();
        let all = format!("{{{},{}}}", keys.join(","), dups.join(","));
        let value = both(&all);
        let map = value.as_map().unwrap();
        assert_eq!(map.len(), 40);
        assert_eq!(map.get("key0"), Some(&Value::Int(-1)));
        assert_eq!(map.get("key1"), Some(&Value::Int(1)));
        assert_eq!(map.get("key35"), Some(&Value::Int(-36)));
        assert_eq!(map.keys().nth(35).map(|k| k.as_str()), Some("key35"));
        both(r#"{"a":1,"b":2,"a":3,"b":4,"c":5}"#);
        // Jackson (Logstash) reads -0 as the integer 0, as simd-json does; serde_json as -0.0.
        assert_eq!(
            parse(&Text::new("[-0]")).unwrap(),
            Value::Array(vec![Value::Int(0)])
        );
    }

    #[test]
    fn integers_beyond_64_bits_fall_back_to_serde() {
        assert_eq!(
            parse(&Text::new("[18446744073709551616]")).unwrap(),
            Value::Array(vec![Value::Float(18446744073709551616.0)])
        );
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = "[".repeat(100_000) + &"]".repeat(100_000);
        assert!(parse(&Text::from_string(deep)).is_err());
        let ok = "[".repeat(100) + &"]".repeat(100);
        assert!(parse(&Text::from_string(ok)).is_ok());
    }

    #[test]
    fn long_unescaped_strings_share_the_source_buffer() {
        let long = "y".repeat(80);
        let text = Text::from_string(format!(r#"{{"k":"{long}","e":"a\t{long}"}}"#));
        let value = parse(&text).unwrap();
        let map = value.as_map().unwrap();
        let shared = map.get("k").unwrap().as_str().unwrap();
        assert_eq!(shared, long);
        assert_eq!(shared.as_ptr() as usize, text.as_ptr() as usize + 6);
        assert_eq!(
            map.get("e").unwrap().as_str().unwrap(),
            format!("a\t{long}")
        );
    }

    #[test]
    fn a_huge_document_parses_and_its_buffers_are_not_kept() {
        let big = format!(r#"{{"k":"{}"}}"#, "z".repeat(2 << 20));
        let value = parse(&Text::from_string(big)).unwrap();
        assert_eq!(
            value
                .as_map()
                .unwrap()
                .get("k")
                .unwrap()
                .as_str()
                .unwrap()
                .len(),
            2 << 20
        );
        let kept = PARSER.with(|p| p.borrow().input.capacity());
        assert!(kept < RETAINED_INPUT, "{kept}");
        assert_eq!(
            parse(&Text::new(r#"{"a":1}"#)).unwrap(),
            parse_value(br#"{"a":1}"#).unwrap()
        );
    }

    #[test]
    fn blank_text_is_null() {
        assert_eq!(parse(&Text::new("")).unwrap(), Value::Null);
        assert_eq!(parse(&Text::new(" \n\t")).unwrap(), Value::Null);
    }
}
