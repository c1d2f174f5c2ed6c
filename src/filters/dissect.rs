//! The `dissect` filter: splits a field on fixed delimiters, no regexes.
//!
//! `mapping` pairs a source field with a pattern such as `%{ts} %{+ts} %{src} %{} %{msg}`. The
//! pattern is compiled once into a [`Dissector`]: a list of fields, each with the delimiter before
//! and after it. Dissecting walks the value left to right, finding each field's next delimiter
//! with `memchr`/`memmem`; the last field takes the rest of the value. Field notation, as
//! logstash-filter-dissect's:
//! - `%{a}` sets `a`; `%{[a][b]}` sets a nested field;
//! - `%{}` and `%{?a}` skip the value (a named skip can feed an indirect field);
//! - `%{+a}` appends to `a` with the delimiter before it (or a space), `%{+a/2}` in that order;
//! - `%{&a}` sets the field named by the value of `a` (an event field, else a field of the
//!   pattern);
//! - `%{a->}` skips repeats of the delimiter after the field (padding).
//!
//! This reproduces the Java implementation's quirks, so that configs behave the same: a
//! delimiter found at the very start of the value leaves the field empty and the next search
//! starting over; text after the last field is not checked; adjacent fields (`%{a}%{b}`) never
//! match. An event whose pattern does not match, or whose source is empty, is tagged with
//! `tag_on_failure` (`_dissectfailure`) and left unchanged; a missing source field is skipped
//! silently. The common options apply once per pattern that matched.
//!
//! `convert_datatype` (field => `int` | `float`) runs after every mapping, matched or not; a value
//! that does not convert tags `_dataconversionuncoercible_<field>_<type>`, a missing one
//! `_dataconversionnullvalue_<field>_<type>`.
//!
//! [`Dissect`] is the built filter.

use std::ops::Range;

use memchr::memmem;
use serde::Deserialize;

use crate::config::options::{OneOrMany, Pairs};
use crate::config::{Diagnostics, PluginArgs};
use crate::event::ruby::write_ruby_string;
use crate::event::{Event, FieldPath, PathError, Text, Value};
use crate::filters::common::failure_tags;

use super::{CommonOptions, Filter};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DissectOptions {
    #[serde(default)]
    mapping: Pairs<String>,
    #[serde(default)]
    convert_datatype: Pairs<String>,
    #[serde(default)]
    tag_on_failure: Option<OneOrMany<String>>,
}

/// Why a dissect pattern is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DissectError {
    #[error("the pattern has no `%{{field}}`")]
    NoFields,
    #[error("field cannot prefix with both Append and Indirect Prefix ({0}): {1}")]
    MixedPrefixes(&'static str, String),
    #[error("field cannot be a prefix on its own without further text")]
    PrefixOnly,
    #[error("field cannot be a prefix and a suffix without a name section")]
    NoName,
    #[error("field `{0}`: {1}")]
    BadReference(String, PathError),
}

/// The built filter.
#[derive(Debug)]
pub struct Dissect {
    mappings: Vec<Mapping>,
    conversions: Vec<Conversion>,
    tag_on_failure: Vec<Text>,
}

#[derive(Debug)]
struct Mapping {
    source: FieldPath,
    dissector: Dissector,
}

/// A `convert_datatype` entry; `name` and `type_name` as written, for the failure tags.
#[derive(Debug)]
struct Conversion {
    field: FieldPath,
    name: String,
    to: NumberType,
    type_name: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NumberType {
    Int,
    Float,
}

pub fn build(args: &PluginArgs) -> Result<Box<dyn Filter>, Diagnostics> {
    let options: DissectOptions = args.options()?;
    let mut errors = Diagnostics::default();
    let mut mappings = Vec::with_capacity(options.mapping.0.len());
    for (source, pattern) in &options.mapping.0 {
        // Logstash ignores a mapping whose pattern is empty.
        if pattern.is_empty() {
            continue;
        }
        let source = FieldPath::parse(source)
            .map_err(|e| format!("dissect: mapping: {e}"))
            .and_then(|source| {
                let dissector = Dissector::new(pattern)
                    .map_err(|e| format!("dissect: mapping `{pattern}`: {e}"))?;
                Ok(Mapping { source, dissector })
            });
        match source {
            Ok(m) => mappings.push(m),
            Err(message) => errors.extend(args.error("mapping", message)),
        }
    }
    let mut conversions = Vec::with_capacity(options.convert_datatype.0.len());
    for (name, type_name) in &options.convert_datatype.0 {
        match conversion(name, type_name) {
            Ok(c) => conversions.push(c),
            Err(message) => errors.extend(args.error("convert_datatype", message)),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Box::new(Dissect {
        mappings,
        conversions,
        tag_on_failure: failure_tags(options.tag_on_failure, "_dissectfailure"),
    }))
}

fn conversion(name: &str, type_name: &str) -> Result<Conversion, String> {
    let field = FieldPath::parse(name).map_err(|e| format!("dissect: convert_datatype: {e}"))?;
    let to = match type_name.to_ascii_lowercase().as_str() {
        "int" => NumberType::Int,
        "float" => NumberType::Float,
        _ => {
            return Err(format!(
                "dissect: convert_datatype: datatype not supported: {type_name} (int or float)"
            ))
        }
    };
    Ok(Conversion {
        field,
        name: name.to_string(),
        to,
        type_name: type_name.to_string(),
    })
}

impl Filter for Dissect {
    fn apply(&self, event: &mut Event) -> bool {
        self.dissect_event(event) > 0
    }

    /// Logstash runs the common options once for each pattern that matched.
    fn filter(&self, events: &mut Vec<Event>, common: &CommonOptions) {
        for event in events.iter_mut() {
            for _ in 0..self.dissect_event(event) {
                common.apply(event);
            }
        }
    }
}

impl Dissect {
    /// Runs every mapping and then the conversions; returns how many mappings matched.
    fn dissect_event(&self, event: &mut Event) -> usize {
        let mut matched = 0;
        for mapping in &self.mappings {
            match self.dissect_mapping(mapping, event) {
                Ok(true) => matched += 1,
                Ok(false) => {}
                // As in Logstash, an error setting a field ends the whole filter for the event.
                Err(error) => {
                    tracing::debug!(%error, "dissect could not set a field");
                    self.tag_failure(event);
                    return matched;
                }
            }
        }
        for conversion in &self.conversions {
            conversion.apply(event);
        }
        matched
    }

    /// Ok(true) when the pattern matched and its fields were set.
    fn dissect_mapping(&self, mapping: &Mapping, event: &mut Event) -> Result<bool, PathError> {
        let source = match event.get(&mapping.source) {
            None => return Ok(false),
            Some(Value::Str(s)) => s.clone(),
            Some(other) => {
                let mut text = String::new();
                let _ = write_ruby_string(other, &mut text);
                Text::from_string(text)
            }
        };
        let d = &mapping.dissector;
        let found = with_slots(d.fields.len(), |slots| {
            if !d.dissect(&source, slots) {
                return Ok(false);
            }
            d.save(event, &source, slots).map(|()| true)
        })?;
        if !found {
            self.tag_failure(event);
        }
        Ok(found)
    }

    fn tag_failure(&self, event: &mut Event) {
        for tag in &self.tag_on_failure {
            event.add_tag(tag.clone());
        }
    }
}

/// Runs `f` with `n` value slots, on the stack for the usual pattern sizes.
fn with_slots<R>(n: usize, f: impl FnOnce(&mut [Range<usize>]) -> R) -> R {
    const STACK: usize = 32;
    if n <= STACK {
        let mut slots: [Range<usize>; STACK] = std::array::from_fn(|_| 0..0);
        f(&mut slots[..n])
    } else {
        f(&mut vec![0..0; n])
    }
}

/// A compiled dissect pattern.
#[derive(Debug)]
pub struct Dissector {
    /// Fields in pattern order; the last one takes the rest of the value.
    fields: Vec<DissectField>,
    /// `delimiters[i]` precedes field `i` and follows field `i - 1`.
    delimiters: Vec<Delimiter>,
    /// Indexes into `fields` in the order values are saved: normal fields, then appends by
    /// ordinal, then indirect fields (which may name a field set before them).
    save_order: Vec<usize>,
    /// Whether the pattern starts with a delimiter, which the value must start with.
    leading_delimiter: bool,
}

#[derive(Debug)]
struct DissectField {
    kind: Kind,
    /// The name as written (without prefix and suffix): indirect fields look names up by it.
    name: String,
    /// Where the value goes (not used by skip fields).
    path: FieldPath,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Skip,
    Normal,
    Append,
    Indirect,
}

#[derive(Debug)]
struct Delimiter {
    text: String,
    /// Skip repeats of this delimiter (the field before it had the `->` suffix).
    greedy: bool,
    finder: memmem::Finder<'static>,
}

impl Delimiter {
    fn new(text: &str) -> Delimiter {
        Delimiter {
            text: text.to_string(),
            greedy: false,
            finder: memmem::Finder::new(text.as_bytes()).into_owned(),
        }
    }

    fn len(&self) -> usize {
        self.text.len()
    }

    /// The first occurrence at or after `from`; an empty delimiter is never found.
    fn find(&self, hay: &[u8], from: usize) -> Option<usize> {
        let rest = hay.get(from..)?;
        match self.text.as_bytes() {
            [] => None,
            [b] => memchr::memchr(*b, rest).map(|i| from + i),
            _ => self.finder.find(rest).map(|i| from + i),
        }
    }
}

impl Dissector {
    /// Compiles `pattern`.
    pub fn new(pattern: &str) -> Result<Dissector, DissectError> {
        let (parts, trailing) = split_pattern(pattern);
        if parts.is_empty() {
            return Err(DissectError::NoFields);
        }
        let mut fields = Vec::with_capacity(parts.len() + 1);
        let mut delimiters = Vec::with_capacity(parts.len() + 1);
        let mut ranks = Vec::with_capacity(parts.len() + 1);
        for (delimiter, spec) in &parts {
            delimiters.push(Delimiter::new(delimiter));
            let (field, suffix) = parse_field(spec)?;
            ranks.push(rank(field.kind, suffix));
            fields.push(field);
        }
        if let Some(text) = trailing {
            // Text after the last field: an unnamed skip field takes whatever follows it.
            delimiters.push(Delimiter::new(text));
            fields.push(DissectField {
                kind: Kind::Skip,
                name: "auto_added_skip".to_string(),
                path: FieldPath::top("auto_added_skip"),
            });
            ranks.push(Rank {
                order: 0,
                padded: false,
            });
        }
        // `%{a->}`: the padding after field `i` is repeats of the delimiter before field `i + 1`.
        for (i, r) in ranks.iter().enumerate() {
            if let (true, Some(d)) = (r.padded, delimiters.get_mut(i + 1)) {
                d.greedy = true;
            }
        }
        let mut save_order: Vec<usize> = (0..fields.len())
            .filter(|&i| fields[i].kind != Kind::Skip)
            .collect();
        // Stable: equal ordinals keep pattern order.
        save_order.sort_by_key(|&i| ranks[i].order);
        Ok(Dissector {
            leading_delimiter: !delimiters[0].text.is_empty(),
            fields,
            delimiters,
            save_order,
        })
    }

    /// Finds each field's value in `source`, writing byte ranges into `slots` (one per field);
    /// false when a delimiter is missing.
    pub fn dissect(&self, source: &str, slots: &mut [Range<usize>]) -> bool {
        let hay = source.as_bytes();
        if hay.is_empty() {
            return false;
        }
        let last = self.fields.len() - 1;
        let mut left = 0;
        for (i, slot) in slots.iter_mut().enumerate().take(last) {
            let Some(start) = self.skip_previous(i, hay, &mut left) else {
                return false;
            };
            let next = &self.delimiters[i + 1];
            let Some(pos) = next.find(hay, left) else {
                return false;
            };
            // Java's quirk: a delimiter at position 0 leaves the field empty and `left` where
            // it was, so the next field searches from the start again.
            if pos > 0 {
                *slot = start..pos;
                left = pos + next.len();
            } else {
                *slot = start..start;
            }
        }
        let Some(start) = self.skip_previous(last, hay, &mut left) else {
            return false;
        };
        slots[last] = start..hay.len();
        true
    }

    /// Moves `left` past the delimiter before field `i` where the pattern requires it (the
    /// leading delimiter; repeats of a greedy one); returns where the field's value starts.
    fn skip_previous(&self, i: usize, hay: &[u8], left: &mut usize) -> Option<usize> {
        let prev = &self.delimiters[i];
        // "Found at `left`" (Java searches on from `left`) is "starts at `left`"; an empty
        // delimiter is never found.
        let at = |pos: usize| !prev.text.is_empty() && hay[pos..].starts_with(prev.text.as_bytes());
        if prev.greedy {
            while at(*left) {
                *left += prev.len();
            }
        } else if *left == 0 && self.leading_delimiter {
            if !at(0) {
                return None;
            }
            *left = prev.len();
        }
        Some(*left)
    }

    /// Sets the found values on `event`, in save order.
    fn save(
        &self,
        event: &mut Event,
        source: &Text,
        slots: &[Range<usize>],
    ) -> Result<(), PathError> {
        let value = |i: usize| -> &str { source.get(slots[i].clone()).unwrap_or("") };
        for &i in &self.save_order {
            let field = &self.fields[i];
            match field.kind {
                Kind::Skip => {}
                Kind::Normal => {
                    event.insert(&field.path, Value::Str(source.substr(value(i))));
                }
                Kind::Append => {
                    let joined = match event.get(&field.path) {
                        Some(old) => {
                            let mut s = String::new();
                            let _ = write_ruby_string(old, &mut s);
                            s.push_str(self.join_text(i));
                            s.push_str(value(i));
                            Text::from_string(s)
                        }
                        None => source.substr(value(i)),
                    };
                    event.insert(&field.path, Value::Str(joined));
                }
                Kind::Indirect => {
                    let key = match event.get(&field.path) {
                        Some(v) => {
                            let mut s = String::new();
                            let _ = write_ruby_string(v, &mut s);
                            s
                        }
                        None => self
                            .other_named(&field.name, i)
                            .map_or_else(String::new, |j| value(j).to_string()),
                    };
                    if !key.is_empty() {
                        let v = Value::Str(source.substr(value(i)));
                        super::json::set_key(event, key, v)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// What an append field puts before its value: the delimiter before it, or a space.
    fn join_text(&self, i: usize) -> &str {
        match self.delimiters[i].text.as_str() {
            "" => " ",
            d => d,
        }
    }

    /// The first other field of the pattern with this name (skip fields included).
    fn other_named(&self, name: &str, not: usize) -> Option<usize> {
        (0..self.fields.len()).find(|&j| j != not && self.fields[j].name == name)
    }
}

/// Splits a pattern into (delimiter before, field text) pairs and the text after the last field
/// (Logstash: `(.*?)%\{([^}]*?)}` repeatedly, then `[^}]+$`).
fn split_pattern(pattern: &str) -> (Vec<(&str, &str)>, Option<&str>) {
    let mut parts = Vec::new();
    let mut pos = 0;
    while let Some(open) = pattern[pos..].find("%{").map(|i| pos + i) {
        let Some(close) = pattern[open + 2..].find('}').map(|i| open + 2 + i) else {
            break;
        };
        parts.push((&pattern[pos..open], &pattern[open + 2..close]));
        pos = close + 1;
    }
    let tail = &pattern[pattern.rfind('}').map_or(0, |i| i + 1)..];
    let trailing = (!parts.is_empty() && !tail.is_empty()).then_some(tail);
    (parts, trailing)
}

/// Reads a field's text (`?a`, `+a/2`, `&a`, `a->`) into its kind, name and target.
fn parse_field(spec: &str) -> Result<(DissectField, &str), DissectError> {
    let (kind, rest) = if spec.is_empty() || spec.starts_with('?') {
        (Kind::Skip, spec.get(1..).unwrap_or(""))
    } else if spec.starts_with("+&") {
        return Err(DissectError::MixedPrefixes("+&", spec.to_string()));
    } else if spec.starts_with("&+") {
        return Err(DissectError::MixedPrefixes("&+", spec.to_string()));
    } else if let Some(rest) = spec.strip_prefix('+') {
        (Kind::Append, rest)
    } else if let Some(rest) = spec.strip_prefix('&') {
        (Kind::Indirect, rest)
    } else {
        (Kind::Normal, spec)
    };
    if matches!(kind, Kind::Append | Kind::Indirect) && rest.is_empty() {
        return Err(DissectError::PrefixOnly);
    }
    let (name, suffix) = name_and_suffix(rest);
    if matches!(kind, Kind::Append | Kind::Indirect) && name.is_empty() {
        return Err(DissectError::NoName);
    }
    let path = if kind == Kind::Skip {
        FieldPath::top(name)
    } else {
        field_path(name).map_err(|e| DissectError::BadReference(name.to_string(), e))?
    };
    Ok((
        DissectField {
            kind,
            name: name.to_string(),
            path,
        },
        suffix,
    ))
}

/// A field name as Logstash's field references read it: bracketed names are paths, any other
/// name (even empty) is a top-level field.
fn field_path(name: &str) -> Result<FieldPath, PathError> {
    if name.contains(['[', ']']) {
        FieldPath::parse(name)
    } else {
        Ok(FieldPath::top(name))
    }
}

/// Splits `s` into name and suffix (`/N`, `->`, `/N->`, `->/N`, N one or two digits): the
/// shortest non-empty name followed by a valid suffix, or all suffix when `s` is one.
fn name_and_suffix(s: &str) -> (&str, &str) {
    if is_suffix(s) {
        return ("", s);
    }
    // Java's `.` stops at line breaks: such a name is taken whole.
    if s.contains(['\n', '\r', '\u{85}', '\u{2028}', '\u{2029}']) {
        return (s, "");
    }
    for (i, _) in s.char_indices().skip(1) {
        if is_suffix(&s[i..]) {
            return (&s[..i], &s[i..]);
        }
    }
    (s, "")
}

fn is_suffix(s: &str) -> bool {
    fn ordinal(s: &str) -> bool {
        s.strip_prefix('/')
            .is_some_and(|d| (1..=2).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()))
    }
    s.is_empty()
        || s == "->"
        || ordinal(s)
        || s.strip_suffix("->").is_some_and(ordinal)
        || s.strip_prefix("->").is_some_and(ordinal)
}

/// Where a field goes in the save order, and whether padding follows it.
#[derive(Clone, Copy, Debug)]
struct Rank {
    order: u32,
    padded: bool,
}

fn rank(kind: Kind, suffix: &str) -> Rank {
    let order = match kind {
        Kind::Skip => 0,
        Kind::Normal => 1,
        Kind::Append => {
            let digits: String = suffix
                .chars()
                .skip_while(|c| !c.is_ascii_digit())
                .take_while(char::is_ascii_digit)
                .collect();
            100 + digits.parse::<u32>().unwrap_or(0)
        }
        Kind::Indirect => 1000,
    };
    Rank {
        order,
        padded: suffix.contains("->"),
    }
}

impl Conversion {
    fn apply(&self, event: &mut Event) {
        let converted = match event.get(&self.field) {
            None | Some(Value::Null) => Err("_dataconversionnullvalue"),
            Some(value) => convert(value, self.to).ok_or("_dataconversionuncoercible"),
        };
        match converted {
            Ok(value) => {
                event.insert(&self.field, value);
            }
            Err(prefix) => {
                let tag = format!("{prefix}_{}_{}", self.name, self.type_name);
                tracing::debug!(field = %self.name, tag, "dissect: datatype conversion failed");
                event.add_tag(Text::from_string(tag));
            }
        }
    }
}

/// Java's `new BigDecimal(String.valueOf(value))`, then `toBigInteger()` for `int`. Integers too
/// big for 64 bits become floats.
fn convert(value: &Value, to: NumberType) -> Option<Value> {
    let text = match value {
        Value::Int(n) => {
            return Some(match to {
                NumberType::Int => Value::Int(*n),
                NumberType::Float => Value::Float(*n as f64),
            })
        }
        Value::Float(f) => {
            return Some(match to {
                NumberType::Int => int_from_f64(f.trunc()),
                NumberType::Float => Value::Float(*f),
            })
        }
        Value::Str(s) => s.as_str(),
        _ => return None,
    };
    if !is_big_decimal(text) {
        return None;
    }
    let float: f64 = text.parse().ok()?;
    Some(match to {
        NumberType::Float => Value::Float(float),
        NumberType::Int => {
            let plain_integer = text
                .trim_start_matches(['+', '-'])
                .bytes()
                .all(|b| b.is_ascii_digit());
            match plain_integer.then(|| text.parse::<i64>().ok()).flatten() {
                Some(n) => Value::Int(n),
                None => int_from_f64(float.trunc()),
            }
        }
    })
}

fn int_from_f64(f: f64) -> Value {
    if f >= i64::MIN as f64 && f < i64::MAX as f64 {
        Value::Int(f as i64)
    } else {
        Value::Float(f)
    }
}

/// Java's `BigDecimal(String)` syntax: `[+-]digits[.digits][e[+-]digits]`, with digits on at
/// least one side of the point.
fn is_big_decimal(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'+' | b'-')));
    let digits = |i: &mut usize| {
        let start = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i - start
    };
    let mut mantissa = digits(&mut i);
    if b.get(i) == Some(&b'.') {
        i += 1;
        mantissa += digits(&mut i);
    }
    if mantissa == 0 {
        return false;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pattern: &str, text: &str) -> Option<Vec<(String, String)>> {
        let d = Dissector::new(pattern).unwrap();
        let mut slots = vec![0..0; d.fields.len()];
        d.dissect(text, &mut slots).then(|| {
            d.fields
                .iter()
                .zip(&slots)
                .map(|(f, r)| (f.name.clone(), text[r.clone()].to_string()))
                .collect()
        })
    }

    #[test]
    fn names_and_suffixes() {
        assert_eq!(name_and_suffix("a->"), ("a", "->"));
        assert_eq!(name_and_suffix("a/2"), ("a", "/2"));
        assert_eq!(name_and_suffix("ab/12->"), ("ab", "/12->"));
        assert_eq!(name_and_suffix("a->/3"), ("a", "->/3"));
        assert_eq!(name_and_suffix("a/123"), ("a/123", ""));
        assert_eq!(name_and_suffix("->"), ("", "->"));
        assert_eq!(name_and_suffix(""), ("", ""));
        assert_eq!(name_and_suffix("/2"), ("", "/2"));
    }

    #[test]
    fn pattern_parts_and_trailing_text() {
        let (parts, trailing) = split_pattern("{%{a}}{%{b}}%{rest}");
        assert_eq!(parts, [("{", "a"), ("}{", "b"), ("}", "rest")]);
        assert_eq!(trailing, None);
        let (parts, trailing) = split_pattern("/var/%{key}/log");
        assert_eq!(parts, [("/var/", "key")]);
        assert_eq!(trailing, Some("/log"));
        assert_eq!(split_pattern("no fields").0, []);
        assert_eq!(split_pattern("%{a} %{b").1, Some(" %{b"));
    }

    #[test]
    fn delimiter_at_the_start_leaves_the_field_empty_and_the_search_in_place() {
        assert_eq!(
            fields("%{a} %{b}", " x"),
            Some(vec![("a".into(), "".into()), ("b".into(), " x".into())])
        );
    }

    #[test]
    fn leading_delimiter_must_start_the_value() {
        assert!(fields("[%{a}] %{b}", "x[1] 2").is_none());
        assert!(fields("[%{a}] %{b}", "[1] 2").is_some());
    }

    #[test]
    fn big_decimal_syntax() {
        for ok in ["1", "-1", "+1.5", ".5", "5.", "1e5", "1E-5", "00012"] {
            assert!(is_big_decimal(ok), "{ok}");
        }
        for bad in [
            "", ".", "e5", "1e", "1.5.5", " 1", "NaN", "inf", "0x10", "1_000",
        ] {
            assert!(!is_big_decimal(bad), "{bad}");
        }
        assert_eq!(
            convert(&"12.7".into(), NumberType::Int),
            Some(Value::Int(12))
        );
        assert_eq!(
            convert(&"-1e2".into(), NumberType::Int),
            Some(Value::Int(-100))
        );
        assert_eq!(
            convert(&"95.43".into(), NumberType::Float),
            Some(Value::Float(95.43))
        );
        assert_eq!(convert(&Value::Bool(true), NumberType::Int), None);
    }
}
