//! JSON for events: serialising straight into a byte buffer (no intermediate tree), and parsing
//! JSON text into [`Value`]s.
//!
//! Output matches Logstash's json codec: compact, fields in the event's order, `@metadata`
//! omitted, `@timestamp` as `"2026-11-21T05:24:00.000Z"`. Integers are written with `itoa`,
//! floats with `ryu` (`1.0`, `1e20`; NaN and infinities, which JSON cannot hold, as `null`).
//!
//! Parsing goes through serde_json's tokenizer with a visitor ([`ValueSeed`]) that builds
//! [`Value`]s and [`Map`]s directly, never a `serde_json::Value`. [`parse_text`] additionally
//! lets long strings share the input buffer instead of copying them.

use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};

use super::{Event, Map, Text, Value};

/// Why JSON text could not be parsed.
#[derive(Debug, thiserror::Error)]
#[error("invalid JSON: {0}")]
pub struct JsonError(String);

impl JsonError {
    /// serde_json's description, with line and column (`expected value at line 1 column 1`).
    pub fn message(&self) -> &str {
        &self.0
    }
}

impl From<serde_json::Error> for JsonError {
    fn from(e: serde_json::Error) -> JsonError {
        JsonError(e.to_string())
    }
}

/// Appends `event` as one compact JSON object (without `@metadata`).
pub fn write_event(event: &Event, buf: &mut Vec<u8>) {
    buf.push(b'{');
    let mut first = true;
    for (key, value) in event.fields().iter() {
        // Metadata lives in its own map; this only guards a field someone named `@metadata`.
        if key.as_str() == "@metadata" {
            continue;
        }
        if !first {
            buf.push(b',');
        }
        first = false;
        write_entry(key, value, buf);
    }
    buf.push(b'}');
}

/// Appends `value` as compact JSON.
pub fn write_value(value: &Value, buf: &mut Vec<u8>) {
    match value {
        Value::Null => buf.extend_from_slice(b"null"),
        Value::Bool(true) => buf.extend_from_slice(b"true"),
        Value::Bool(false) => buf.extend_from_slice(b"false"),
        Value::Int(n) => buf.extend_from_slice(itoa::Buffer::new().format(*n).as_bytes()),
        Value::Float(f) => write_float(*f, buf),
        Value::Str(s) => write_str(s, buf),
        Value::Timestamp(t) => {
            buf.push(b'"');
            t.write_iso8601(buf);
            buf.push(b'"');
        }
        Value::Array(items) => write_array(items, buf),
        Value::Map(map) => write_map(map, buf),
    }
}

/// Appends `map` as a compact JSON object, keys in the map's order.
pub fn write_map(map: &Map, buf: &mut Vec<u8>) {
    buf.push(b'{');
    for (i, (key, value)) in map.iter().enumerate() {
        if i > 0 {
            buf.push(b',');
        }
        write_entry(key, value, buf);
    }
    buf.push(b'}');
}

fn write_entry(key: &str, value: &Value, buf: &mut Vec<u8>) {
    write_str(key, buf);
    buf.push(b':');
    write_value(value, buf);
}

fn write_array(items: &[Value], buf: &mut Vec<u8>) {
    buf.push(b'[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            buf.push(b',');
        }
        write_value(item, buf);
    }
    buf.push(b']');
}

fn write_float(f: f64, buf: &mut Vec<u8>) {
    if f.is_finite() {
        buf.extend_from_slice(ryu::Buffer::new().format_finite(f).as_bytes());
    } else {
        buf.extend_from_slice(b"null");
    }
}

/// For each byte value: 0 when it is copied as is, otherwise the letter that follows the
/// backslash in its escape (`u` meaning `\u00XX`).
static ESCAPE: [u8; 256] = escape_table();

const fn escape_table() -> [u8; 256] {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = b'u';
        b += 1;
    }
    table[0x08] = b'b';
    table[0x09] = b't';
    table[0x0a] = b'n';
    table[0x0c] = b'f';
    table[0x0d] = b'r';
    table[b'"' as usize] = b'"';
    table[b'\\' as usize] = b'\\';
    table
}

/// Appends `s` as a JSON string literal, quotes included.
///
/// Only `"`, `\` and control characters are escaped; everything else, non-ASCII included, is
/// copied as is (valid, since `s` is UTF-8), in runs between escapes.
pub fn write_str(s: &str, buf: &mut Vec<u8>) {
    let bytes = s.as_bytes();
    buf.reserve(bytes.len() + 2);
    buf.push(b'"');
    let mut start = 0;
    loop {
        let at = next_escape(bytes, start);
        buf.extend_from_slice(&bytes[start..at]);
        let Some(&b) = bytes.get(at) else { break };
        write_escape(b, buf);
        start = at + 1;
    }
    buf.push(b'"');
}

fn write_escape(b: u8, buf: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    match ESCAPE[usize::from(b)] {
        b'u' => buf.extend_from_slice(&[
            b'\\',
            b'u',
            b'0',
            b'0',
            HEX[usize::from(b >> 4)],
            HEX[usize::from(b & 0xf)],
        ]),
        letter => buf.extend_from_slice(&[b'\\', letter]),
    }
}

/// The index of the first byte at or after `from` that needs escaping, or `bytes.len()`.
///
/// Field values are mostly long unescaped runs, and a per-byte table lookup would dominate
/// serialisation, so this compares 16 bytes per step with SSE2 (always present on x86_64).
#[cfg(target_arch = "x86_64")]
fn next_escape(bytes: &[u8], from: usize) -> usize {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_max_epu8, _mm_movemask_epi8, _mm_or_si128,
        _mm_set1_epi8,
    };
    let mut i = from;
    // SAFETY: SSE2 is part of the x86_64 baseline, so the intrinsics are always available; each
    // unaligned 16-byte load starts at `i` with `i + 16 <= bytes.len()`, inside the slice.
    unsafe {
        let quote = _mm_set1_epi8(b'"' as i8);
        let backslash = _mm_set1_epi8(b'\\' as i8);
        let last_control = _mm_set1_epi8(0x1f);
        while i + 16 <= bytes.len() {
            let v = _mm_loadu_si128(bytes.as_ptr().add(i).cast::<__m128i>());
            // Unsigned `v <= 0x1f` is `max(v, 0x1f) == 0x1f`.
            let control = _mm_cmpeq_epi8(_mm_max_epu8(v, last_control), last_control);
            let special = _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash));
            let mask = _mm_movemask_epi8(_mm_or_si128(control, special)) as u32;
            if mask != 0 {
                return i + mask.trailing_zeros() as usize;
            }
            i += 16;
        }
    }
    next_escape_swar(bytes, i)
}

#[cfg(not(target_arch = "x86_64"))]
fn next_escape(bytes: &[u8], from: usize) -> usize {
    next_escape_swar(bytes, from)
}

/// [`next_escape`] eight bytes per step in a `u64` (SWAR), then byte by byte.
fn next_escape_swar(bytes: &[u8], from: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let mut i = from;
    while let Some(chunk) = bytes.get(i..i + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let w = u64::from_le_bytes(word);
        // The classic "has a byte below n" test, for n = 0x20 and (after xor) for zero bytes.
        // Its only false positives sit above a true one, so the lowest flagged byte is exact.
        let control = w.wrapping_sub(ONES * 0x20) & !w;
        let quote = w ^ (ONES * u64::from(b'"'));
        let backslash = w ^ (ONES * u64::from(b'\\'));
        let found = (control
            | (quote.wrapping_sub(ONES) & !quote)
            | (backslash.wrapping_sub(ONES) & !backslash))
            & HIGHS;
        if found != 0 {
            return i + (found.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < bytes.len() && ESCAPE[usize::from(bytes[i])] == 0 {
        i += 1;
    }
    i
}

/// Parses one JSON text into a [`Value`] (objects become [`Value::Map`] in document order).
///
/// Integers that fit an `i64` become [`Value::Int`], all other numbers [`Value::Float`]. A
/// repeated key keeps its first position and its last value. Nesting deeper than 128 levels is
/// an error (serde_json's limit), so hostile input cannot overflow the stack.
pub fn parse_value(text: &[u8]) -> Result<Value, JsonError> {
    parse_with(text, ValueSeed { source: None })
}

/// [`parse_value`] for text held in a [`Text`]: long strings that need no unescaping become
/// slices of `text`'s buffer instead of copies.
pub fn parse_text(text: &Text) -> Result<Value, JsonError> {
    parse_with(text.as_bytes(), ValueSeed { source: Some(text) })
}

fn parse_with(bytes: &[u8], seed: ValueSeed<'_>) -> Result<Value, JsonError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = seed.deserialize(&mut de)?;
    de.end()?;
    Ok(value)
}

/// Builds a [`Value`] from any serde deserializer; strings borrowed from `source` share its
/// buffer.
#[derive(Clone, Copy)]
pub struct ValueSeed<'s> {
    source: Option<&'s Text>,
}

impl<'s> ValueSeed<'s> {
    /// A seed that copies every string.
    pub fn new() -> ValueSeed<'s> {
        ValueSeed { source: None }
    }

    fn text(self, s: &str) -> Text {
        match self.source {
            Some(source) => source.substr(s),
            None => Text::new(s),
        }
    }
}

impl Default for ValueSeed<'_> {
    fn default() -> Self {
        ValueSeed::new()
    }
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, de: D) -> Result<Value, D::Error> {
        de.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Value, E> {
        Ok(Value::Int(n))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Value, E> {
        Ok(i64::try_from(n).map_or(Value::Float(n as f64), Value::Int))
    }

    fn visit_f64<E>(self, f: f64) -> Result<Value, E> {
        Ok(Value::Float(f))
    }

    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Value, E> {
        Ok(Value::Str(self.text(s)))
    }

    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::Str(Text::new(s)))
    }

    fn visit_string<E>(self, s: String) -> Result<Value, E> {
        Ok(Value::Str(Text::from_string(s)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(item) = seq.next_element_seed(self)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut map = Map::with_capacity(access.size_hint().unwrap_or(0).min(64));
        while let Some(key) = access.next_key_seed(KeySeed(self))? {
            let value = access.next_value_seed(self)?;
            map.insert(key, value);
        }
        Ok(Value::Map(map))
    }
}

/// Deserializes an object key into a [`Text`].
struct KeySeed<'s>(ValueSeed<'s>);

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = Text;

    fn deserialize<D: de::Deserializer<'de>>(self, de: D) -> Result<Text, D::Error> {
        de.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = Text;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Text, E> {
        Ok(self.0.text(s))
    }

    fn visit_str<E>(self, s: &str) -> Result<Text, E> {
        Ok(Text::new(s))
    }

    fn visit_string<E>(self, s: String) -> Result<Text, E> {
        Ok(Text::from_string(s))
    }
}

/// `write_event` into a new `String`; for tests and diagnostics, not the hot path.
pub fn event_to_string(event: &Event) -> String {
    let mut buf = Vec::new();
    write_event(event, &mut buf);
    String::from_utf8(buf).expect("JSON output is UTF-8")
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    use super::*;
    use crate::event::Timestamp;

    fn json(value: &Value) -> String {
        let mut buf = Vec::new();
        write_value(value, &mut buf);
        String::from_utf8(buf).unwrap()
    }

    fn str_json(s: &str) -> String {
        let mut buf = Vec::new();
        write_str(s, &mut buf);
        String::from_utf8(buf).unwrap()
    }

    fn map(entries: &[(&str, Value)]) -> Map {
        entries
            .iter()
            .map(|(k, v)| (Text::new(k), v.clone()))
            .collect()
    }

    fn at_2026() -> Timestamp {
        Timestamp::from_civil(2026, 11, 21, 5, 24, 0, 0).unwrap()
    }

    #[test]
    fn event_is_written_like_logstash_json_codec() {
        let e = Event::from_message("hello".into(), at_2026());
        assert_eq!(
            event_to_string(&e),
            r#"{"@timestamp":"2026-11-21T05:24:00.000Z","@version":"1","message":"hello"}"#
        );
    }

    #[test]
    fn event_output_skips_metadata_and_keeps_field_order() {
        let mut e = Event::from_message("m".into(), at_2026());
        e.metadata_mut().insert("index".into(), "secret".into());
        e.set_field("@metadata".into(), "stray".into());
        e.set_field("z".into(), 1.into());
        e.set_field("a".into(), Value::Map(map(&[("b", 2.5.into())])));
        assert_eq!(
            event_to_string(&e),
            r#"{"@timestamp":"2026-11-21T05:24:00.000Z","@version":"1","message":"m","z":1,"a":{"b":2.5}}"#
        );
    }

    #[test]
    fn scalars_are_written_compactly() {
        assert_eq!(json(&Value::Null), "null");
        assert_eq!(json(&true.into()), "true");
        assert_eq!(json(&false.into()), "false");
        assert_eq!(json(&i64::MIN.into()), "-9223372036854775808");
        assert_eq!(json(&1.0.into()), "1.0");
        assert_eq!(json(&(-0.5).into()), "-0.5");
        assert_eq!(json(&1e20.into()), "1e20");
        assert_eq!(json(&f64::NAN.into()), "null");
        assert_eq!(json(&f64::INFINITY.into()), "null");
        assert_eq!(json(&f64::NEG_INFINITY.into()), "null");
        let ts = Timestamp::from_nanos(at_2026().nanos() + 1_500);
        assert_eq!(json(&ts.into()), r#""2026-11-21T05:24:00.000001500Z""#);
    }

    #[test]
    fn containers_nest() {
        let v = Value::Array(vec![
            Value::Array(vec![]),
            Value::Map(Map::new()),
            Value::Map(map(&[("k", Value::Array(vec![1.into(), "x".into()]))])),
        ]);
        assert_eq!(json(&v), r#"[[],{},{"k":[1,"x"]}]"#);
    }

    #[test]
    fn strings_escape_only_what_json_requires() {
        assert_eq!(str_json(""), r#""""#);
        assert_eq!(str_json("plain"), r#""plain""#);
        assert_eq!(
            str_json("a\"b\\c\n\r\t\u{8}\u{c}"),
            r#""a\"b\\c\n\r\t\b\f""#
        );
        assert_eq!(
            str_json("\u{0}\u{1}\u{1f}\u{7f}"),
            "\"\\u0000\\u0001\\u001f\u{7f}\""
        );
        assert_eq!(str_json("é€😀\u{2028}/"), "\"é€😀\u{2028}/\"");
        // Escapes on both sides of the 8-byte steps.
        assert_eq!(
            str_json("0123456\"89abcdef\\ghijklmn\n"),
            r#""0123456\"89abcdef\\ghijklmn\n""#
        );
    }

    #[test]
    fn every_byte_escape_agrees_with_serde_json() {
        for c in (0u32..0x80).filter_map(char::from_u32) {
            let s = format!("ab{c}cdefghij{c}");
            assert_eq!(str_json(&s), serde_json::to_string(&s).unwrap(), "{c:?}");
        }
    }

    #[test]
    fn escapes_are_found_at_every_offset() {
        for c in ['"', '\\', '\n', '\u{1}', '\u{1f}', ' ', '\u{7f}', 'é', '😀'] {
            for len in 0..40 {
                for at in 0..=len {
                    let mut s = "x".repeat(len);
                    s.insert(at, c);
                    assert_eq!(str_json(&s), serde_json::to_string(&s).unwrap(), "{s:?}");
                    let plain = ESCAPE[usize::from(s.as_bytes()[at])] == 0;
                    assert_eq!(
                        next_escape_swar(s.as_bytes(), 0),
                        if plain { s.len() } else { at }
                    );
                }
            }
        }
    }

    #[test]
    fn parses_objects_in_document_order() {
        let v = parse_value(br#" {"b": 1, "a": [true, null, "x"], "c": {"d": -2.5}} "#).unwrap();
        let expected = Value::Map(map(&[
            ("b", 1.into()),
            (
                "a",
                Value::Array(vec![true.into(), Value::Null, "x".into()]),
            ),
            ("c", Value::Map(map(&[("d", (-2.5).into())]))),
        ]));
        assert_eq!(v, expected);
    }

    #[test]
    fn numbers_become_int_when_they_fit_i64() {
        assert_eq!(
            parse_value(b"9223372036854775807").unwrap(),
            Value::Int(i64::MAX)
        );
        assert_eq!(
            parse_value(b"-9223372036854775808").unwrap(),
            Value::Int(i64::MIN)
        );
        assert_eq!(
            parse_value(b"9223372036854775808").unwrap(),
            Value::Float(9_223_372_036_854_775_808.0)
        );
        assert_eq!(
            parse_value(b"18446744073709551616").unwrap(),
            Value::Float(18_446_744_073_709_551_616.0)
        );
        assert_eq!(parse_value(b"1.0").unwrap(), Value::Float(1.0));
        assert_eq!(parse_value(b"1e2").unwrap(), Value::Float(100.0));
    }

    #[test]
    fn repeated_keys_keep_the_last_value() {
        let v = parse_value(br#"{"a":1,"b":2,"a":3}"#).unwrap();
        assert_eq!(v, Value::Map(map(&[("a", 3.into()), ("b", 2.into())])));
    }

    #[test]
    fn errors_carry_serde_json_position() {
        let e = parse_value(b"{\"a\":\n  tru}").unwrap_err();
        assert_eq!(e.message(), "expected ident at line 2 column 6");
        assert_eq!(
            e.to_string(),
            "invalid JSON: expected ident at line 2 column 6"
        );
        let trailing = parse_value(b"{} x").unwrap_err();
        assert_eq!(trailing.message(), "trailing characters at line 1 column 4");
        assert!(parse_value(b"").is_err());
        assert!(parse_value(b"\"\xff\"").is_err());
        assert!(parse_value(b"[1,]").is_err());
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = "[".repeat(100_000);
        let e = parse_value(deep.as_bytes()).unwrap_err();
        assert!(e.message().starts_with("recursion limit exceeded"), "{e}");
    }

    #[test]
    fn parse_text_shares_long_strings_with_the_input() {
        let long = "x".repeat(64);
        let text = Text::from_string(format!(r#"{{"k":"{long}","e":"a\n{long}"}}"#));
        let v = parse_text(&text).unwrap();
        let m = v.as_map().unwrap();
        let shared = m.get("k").unwrap().as_str().unwrap();
        assert_eq!(shared, long);
        let base = text.as_ptr() as usize;
        assert_eq!(shared.as_ptr() as usize, base + 6);
        assert_eq!(m.get("e").unwrap().as_str().unwrap(), format!("a\n{long}"));
    }

    /// A string mixing the characters JSON writers get wrong.
    fn tricky_string(rng: &mut StdRng) -> String {
        const POOL: &[char] = &[
            'a',
            'Z',
            '0',
            ' ',
            '"',
            '\\',
            '/',
            '\n',
            '\r',
            '\t',
            '\u{0}',
            '\u{8}',
            '\u{c}',
            '\u{1b}',
            '\u{1f}',
            '\u{7f}',
            'é',
            'ß',
            '€',
            '\u{2028}',
            '\u{feff}',
            '\u{ffff}',
            '😀',
            '\u{10ffff}',
            '\u{301}',
        ];
        let len = if rng.gen_bool(0.2) {
            rng.gen_range(30..120)
        } else {
            rng.gen_range(0..12)
        };
        (0..len)
            .map(|_| POOL[rng.gen_range(0..POOL.len())])
            .collect()
    }

    /// Floats whose shortest decimal form has at most 15 significant digits and a small
    /// exponent: serde_json parses those exactly. Longer ones can come back one ULP off unless
    /// serde_json's `float_roundtrip` feature is on.
    fn float(rng: &mut StdRng) -> f64 {
        match rng.gen_range(0..4) {
            0 => f64::from(rng.gen::<i32>()) / 100.0,
            1 => f64::from(rng.gen::<i16>()) * 1e15,
            2 => f64::from(rng.gen::<u16>()) / 1e4,
            _ => [0.1, -0.0, 1e-7, 0.5, 1e22, -123.456][rng.gen_range(0..6)],
        }
    }

    fn random_value(rng: &mut StdRng, depth: u32) -> Value {
        let kinds = if depth >= 4 { 5 } else { 7 };
        match rng.gen_range(0..kinds) {
            0 => Value::Null,
            1 => Value::Bool(rng.gen()),
            2 => Value::Int(rng.gen()),
            3 => Value::Float(float(rng)),
            4 => Value::from(tricky_string(rng)),
            5 => Value::Array(
                (0..rng.gen_range(0..5))
                    .map(|_| random_value(rng, depth + 1))
                    .collect(),
            ),
            _ => Value::Map(
                (0..rng.gen_range(0..5))
                    .map(|_| (Text::from(tricky_string(rng)), random_value(rng, depth + 1)))
                    .collect(),
            ),
        }
    }

    #[test]
    fn write_then_parse_round_trips_random_values() {
        let mut rng = StdRng::seed_from_u64(0x5eed);
        for _ in 0..3_000 {
            let value = random_value(&mut rng, 0);
            let mut buf = Vec::new();
            write_value(&value, &mut buf);
            assert_eq!(
                parse_value(&buf).unwrap(),
                value,
                "{}",
                String::from_utf8_lossy(&buf)
            );
            let text = Text::from_utf8(bytes::Bytes::from(buf)).unwrap();
            assert_eq!(parse_text(&text).unwrap(), value);
        }
    }

    #[test]
    fn written_strings_decode_to_the_original_with_serde_json() {
        let mut rng = StdRng::seed_from_u64(42);
        for _ in 0..3_000 {
            let s = tricky_string(&mut rng);
            let out = str_json(&s);
            assert_eq!(serde_json::from_str::<String>(&out).unwrap(), s);
        }
    }

    #[test]
    fn timestamps_round_trip_as_iso_strings() {
        let ts = Timestamp::from_nanos(-1);
        let mut e = Event::new(ts);
        e.set_field("n".into(), 3.into());
        let parsed = parse_value(event_to_string(&e).as_bytes()).unwrap();
        let rebuilt = Event::from_fields(parsed.as_map().unwrap().clone(), Timestamp::from_secs(0));
        assert_eq!(rebuilt.timestamp(), Some(ts));
        assert_eq!(rebuilt, e);
    }
}
