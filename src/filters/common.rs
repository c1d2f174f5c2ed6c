//! The options every filter shares: `add_field`, `add_tag`, `remove_field`, `remove_tag` (all
//! sprintf), applied on success in that order; `id`, `enable_metric`, `periodic_flush` are
//! accepted here too.
//!
//! Also the small building blocks filters share for reading and rendering their own options:
//! - [`Pairs`]: a hash option read in config order (`{ "a" => "b" }` or `["a", "b"]`);
//! - [`FieldRef`]: a field reference that may contain `%{...}` (resolved per event);
//! - [`TextTemplate`]: a sprintf template whose constant form is kept ready, so rendering a
//!   constant costs a clone of a [`Text`];
//! - [`write_ruby_float`], [`write_ruby_string`], [`StackStr`]: Logstash's (Ruby's) way of
//!   turning values into text, writable into a stack buffer.

use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};

use crate::config::options::OneOrMany;
use crate::config::{Diagnostics, PluginArgs};
use crate::event::decimal::Decimal;
use crate::event::sprintf::Template;
use crate::event::{Event, FieldPath, Text, Value};

/// The names of the shared options, split off before a filter reads its own.
pub const NAMES: &[&str] = &[
    "add_field",
    "add_tag",
    "remove_field",
    "remove_tag",
    "id",
    "enable_metric",
    "periodic_flush",
];

/// The shared options as written in the config.
#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawOptions {
    add_field: Pairs<OneOrMany<String>>,
    add_tag: Vec<String>,
    remove_field: Vec<String>,
    remove_tag: Vec<String>,
    id: Option<String>,
    enable_metric: Option<bool>,
    periodic_flush: Option<bool>,
}

/// Built form of the shared options.
#[derive(Debug, Default)]
pub struct CommonOptions {
    pub id: Option<String>,
    /// Accepted for compatibility; sluice always counts events per plugin.
    pub enable_metric: bool,
    /// Accepted for compatibility; no filter here needs periodic flushing.
    pub periodic_flush: bool,
    add_field: Vec<(FieldRef, Vec<TextTemplate>)>,
    remove_field: Vec<FieldRef>,
    add_tag: Vec<TextTemplate>,
    remove_tag: Vec<TextTemplate>,
}

impl CommonOptions {
    /// Reads the shared options from `args` (already split off with [`NAMES`]).
    pub fn build(args: &PluginArgs) -> Result<CommonOptions, Diagnostics> {
        let raw: RawOptions = args.options()?;
        let mut errors = Diagnostics::default();
        let mut options = CommonOptions {
            id: raw.id,
            enable_metric: raw.enable_metric.unwrap_or(true),
            periodic_flush: raw.periodic_flush.unwrap_or(false),
            ..CommonOptions::default()
        };
        for (key, values) in raw.add_field.0 {
            let field = collect(&mut errors, FieldRef::parse(&key), args, "add_field");
            let values: Vec<TextTemplate> = values
                .iter()
                .filter_map(|v| collect(&mut errors, TextTemplate::parse(v), args, "add_field"))
                .collect();
            if let Some(field) = field {
                options.add_field.push((field, values));
            }
        }
        for name in &raw.remove_field {
            let parsed = FieldRef::parse(name);
            options
                .remove_field
                .extend(collect(&mut errors, parsed, args, "remove_field"));
        }
        for (option, raw_tags, out) in [
            ("add_tag", &raw.add_tag, &mut options.add_tag),
            ("remove_tag", &raw.remove_tag, &mut options.remove_tag),
        ] {
            for tag in raw_tags {
                out.extend(collect(&mut errors, TextTemplate::parse(tag), args, option));
            }
        }
        if errors.is_empty() {
            Ok(options)
        } else {
            Err(errors)
        }
    }

    /// True when applying would change nothing (lets a filter skip the call).
    pub fn is_empty(&self) -> bool {
        self.add_field.is_empty()
            && self.remove_field.is_empty()
            && self.add_tag.is_empty()
            && self.remove_tag.is_empty()
    }

    /// Applies the options to an event the filter handled successfully.
    pub fn apply(&self, event: &mut Event) {
        for (field, values) in &self.add_field {
            let Some(path) = field.resolve(event) else {
                continue;
            };
            for value in values {
                let value = value.render(event);
                event.add_value(&path, Value::Str(value));
            }
        }
        for field in &self.remove_field {
            if let Some(path) = field.resolve(event) {
                event.remove(&path);
            }
        }
        for tag in &self.add_tag {
            let tag = tag.render(event);
            event.add_tag(tag);
        }
        for tag in &self.remove_tag {
            let tag = tag.render(event);
            event.remove_tag(&tag);
        }
    }
}

/// Records `result`'s error (if any) as a diagnostic at option `option`.
fn collect<T>(
    errors: &mut Diagnostics,
    result: Result<T, String>,
    args: &PluginArgs,
    option: &str,
) -> Option<T> {
    result
        .map_err(|message| errors.extend(args.error(option, format!("{option}: {message}"))))
        .ok()
}

/// A hash option in config order: `{ "a" => "b" "c" => "d" }`, or the array form
/// `["a", "b", "c", "d"]` Logstash also accepts. Repeated keys are kept (Logstash merges
/// repeated hash options by concatenating them).
#[derive(Debug, Clone, PartialEq)]
pub struct Pairs<V>(pub Vec<(String, V)>);

impl<V> Default for Pairs<V> {
    fn default() -> Self {
        Pairs(Vec::new())
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for Pairs<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PairsVisitor<V>(PhantomData<V>);

        impl<'de, V: Deserialize<'de>> Visitor<'de> for PairsVisitor<V> {
            type Value = Pairs<V>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a hash")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Pairs<V>, A::Error> {
                let mut pairs = Vec::with_capacity(map.size_hint().unwrap_or(0));
                while let Some((k, v)) = map.next_entry::<String, V>()? {
                    pairs.push((k, v));
                }
                Ok(Pairs(pairs))
            }
        }

        deserializer.deserialize_map(PairsVisitor(PhantomData))
    }
}

thread_local! {
    /// Rendering scratch, reused so that rendering a template allocates only for the result.
    static SCRATCH: RefCell<String> = RefCell::new(String::with_capacity(256));
}

/// Renders `template` into the thread's scratch buffer and hands the text to `f`.
fn with_rendered<R>(template: &Template, event: &Event, f: impl FnOnce(&str) -> R) -> R {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => {
            buf.clear();
            template.render_into(event, &mut buf);
            f(&buf)
        }
        // Only reachable if `f` itself renders; fall back to a fresh buffer.
        Err(_) => {
            let mut buf = String::new();
            template.render_into(event, &mut buf);
            f(&buf)
        }
    })
}

/// A sprintf template for a value, with its constant form ready when it has no `%{...}`.
#[derive(Debug, Clone)]
pub struct TextTemplate {
    template: Template,
    constant: Option<Text>,
}

impl TextTemplate {
    pub fn parse(source: &str) -> Result<TextTemplate, String> {
        let template = Template::parse(source).map_err(|e| e.to_string())?;
        let constant = template.constant().map(Text::new);
        Ok(TextTemplate { template, constant })
    }

    /// The fixed text, when there is no `%{...}`.
    pub fn constant(&self) -> Option<&Text> {
        self.constant.as_ref()
    }

    pub fn source(&self) -> &str {
        self.template.source()
    }

    /// The text for `event`.
    pub fn render(&self, event: &Event) -> Text {
        match &self.constant {
            Some(text) => text.clone(),
            None => with_rendered(&self.template, event, Text::new),
        }
    }

    /// Renders into `out` (appending).
    pub fn render_into(&self, event: &Event, out: &mut String) {
        match &self.constant {
            Some(text) => out.push_str(text),
            None => self.template.render_into(event, out),
        }
    }
}

/// A field reference option that may contain `%{...}` (`remove_field => "%{kind}_raw"`).
#[derive(Debug, Clone)]
pub enum FieldRef {
    /// Parsed once at build time.
    Fixed(FieldPath),
    /// Rendered, then parsed, per event.
    Dynamic(Template),
}

impl FieldRef {
    pub fn parse(source: &str) -> Result<FieldRef, String> {
        let template = Template::parse(source).map_err(|e| e.to_string())?;
        match template.constant() {
            Some(text) => FieldPath::parse(text)
                .map(FieldRef::Fixed)
                .map_err(|e| e.to_string()),
            None => Ok(FieldRef::Dynamic(template)),
        }
    }

    /// The path for `event`; `None` when a dynamic reference renders to an invalid one.
    pub fn resolve(&self, event: &Event) -> Option<Cow<'_, FieldPath>> {
        match self {
            FieldRef::Fixed(path) => Some(Cow::Borrowed(path)),
            FieldRef::Dynamic(template) => {
                with_rendered(template, event, |s| FieldPath::parse(s).ok()).map(Cow::Owned)
            }
        }
    }
}

/// A string in a fixed-size stack buffer, for formatting numbers on the hot path without
/// allocating. Writing past the capacity fails with [`fmt::Error`].
pub struct StackStr<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> StackStr<N> {
    pub fn new() -> Self {
        StackStr {
            buf: [0; N],
            len: 0,
        }
    }

    pub fn as_str(&self) -> &str {
        // Only whole `&str`s are ever copied in, so the prefix is valid UTF-8.
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }
}

impl<const N: usize> Default for StackStr<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> fmt::Write for StackStr<N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        if end > N {
            return Err(fmt::Error);
        }
        self.buf[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Writes `f` the way Ruby's `Float#to_s` does (what Logstash shows for a float turned into a
/// string): shortest round-trip digits, always a fraction (`123.0`), plain notation for
/// magnitudes in [1e-4, 1e16) and `1.0e+16` / `1.0e-05` outside it.
pub fn write_ruby_float<W: fmt::Write>(f: f64, out: &mut W) -> fmt::Result {
    if f.is_nan() {
        return out.write_str("NaN");
    }
    if f.is_infinite() {
        return out.write_str(if f > 0.0 { "Infinity" } else { "-Infinity" });
    }
    if f.is_sign_negative() {
        out.write_char('-')?;
    }
    if f == 0.0 {
        return out.write_str("0.0");
    }
    let (digits, decpt) = Decimal::of(f);
    let digits = digits.as_str();
    if decpt > 0 && decpt <= 16 {
        let decpt = decpt as usize;
        if digits.len() > decpt {
            out.write_str(&digits[..decpt])?;
            out.write_char('.')?;
            out.write_str(&digits[decpt..])
        } else {
            out.write_str(digits)?;
            for _ in digits.len()..decpt {
                out.write_char('0')?;
            }
            out.write_str(".0")
        }
    } else if decpt <= 0 && decpt > -4 {
        out.write_str("0.")?;
        for _ in 0..-decpt {
            out.write_char('0')?;
        }
        out.write_str(digits)
    } else {
        out.write_str(&digits[..1])?;
        out.write_char('.')?;
        out.write_str(if digits.len() > 1 { &digits[1..] } else { "0" })?;
        write!(out, "e{:+03}", decpt - 1)
    }
}

/// Writes `value` the way Ruby's `to_s` does for a Logstash field value: strings as they are,
/// numbers in Ruby's notation, `nil` as nothing, arrays and hashes in Ruby's `inspect` form.
pub fn write_ruby_string<W: fmt::Write>(value: &Value, out: &mut W) -> fmt::Result {
    match value {
        Value::Str(s) => out.write_str(s),
        Value::Null => Ok(()),
        Value::Array(_) | Value::Map(_) => write_ruby_inspect(value, out),
        other => write_ruby_scalar(other, out),
    }
}

/// Numbers, booleans and timestamps as Ruby prints them.
fn write_ruby_scalar<W: fmt::Write>(value: &Value, out: &mut W) -> fmt::Result {
    match value {
        Value::Bool(b) => out.write_str(if *b { "true" } else { "false" }),
        Value::Int(n) => out.write_str(itoa::Buffer::new().format(*n)),
        Value::Float(f) => write_ruby_float(*f, out),
        Value::Timestamp(t) => write!(out, "{t}"),
        Value::Str(s) => out.write_str(s),
        Value::Null | Value::Array(_) | Value::Map(_) => write_ruby_inspect(value, out),
    }
}

/// Ruby's `inspect`: `["a", 1, nil]`, `{"k"=>"v"}`.
fn write_ruby_inspect<W: fmt::Write>(value: &Value, out: &mut W) -> fmt::Result {
    match value {
        Value::Null => out.write_str("nil"),
        Value::Str(s) => write!(out, "{:?}", s.as_str()),
        Value::Array(items) => {
            out.write_char('[')?;
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.write_str(", ")?;
                }
                write_ruby_inspect(item, out)?;
            }
            out.write_char(']')
        }
        Value::Map(map) => {
            out.write_char('{')?;
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.write_str(", ")?;
                }
                write!(out, "{:?}=>", k.as_str())?;
                write_ruby_inspect(v, out)?;
            }
            out.write_char('}')
        }
        other => write_ruby_scalar(other, out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ruby(f: f64) -> String {
        let mut s = String::new();
        write_ruby_float(f, &mut s).unwrap();
        s
    }

    #[test]
    fn floats_print_as_ruby_prints_them() {
        assert_eq!(ruby(123.0), "123.0");
        assert_eq!(ruby(123.45), "123.45");
        assert_eq!(ruby(-1.5), "-1.5");
        assert_eq!(ruby(16777217.0), "16777217.0");
        assert_eq!(ruby(2147483648.0), "2147483648.0");
        assert_eq!(ruby(1e15), "1000000000000000.0");
        assert_eq!(ruby(1e16), "1.0e+16");
        assert_eq!(ruby(1.5e300), "1.5e+300");
        assert_eq!(ruby(0.0001), "0.0001");
        assert_eq!(ruby(0.00001), "1.0e-05");
        assert_eq!(ruby(0.01), "0.01");
        assert_eq!(ruby(0.0), "0.0");
        assert_eq!(ruby(f64::NAN), "NaN");
        assert_eq!(ruby(f64::NEG_INFINITY), "-Infinity");
    }

    #[test]
    fn stack_str_formats_without_the_heap_and_refuses_overflow() {
        let mut s = StackStr::<8>::new();
        write_ruby_float(2.5, &mut s).unwrap();
        assert_eq!(s.as_str(), "2.5");
        let mut tiny = StackStr::<2>::new();
        assert!(write_ruby_float(123.0, &mut tiny).is_err());
    }

    #[test]
    fn values_print_as_ruby_to_s() {
        let mut map = crate::event::Map::new();
        map.insert("k".into(), Value::Int(1));
        let v = Value::Array(vec!["a".into(), Value::Null, Value::Map(map)]);
        let mut s = String::new();
        write_ruby_string(&v, &mut s).unwrap();
        assert_eq!(s, r#"["a", nil, {"k"=>1}]"#);
        s.clear();
        write_ruby_string(&Value::Bool(true), &mut s).unwrap();
        assert_eq!(s, "true");
    }
}
