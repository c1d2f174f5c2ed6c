//! Plugin options: turning a plugin's attributes into its typed, documented options struct.
//!
//! Each plugin declares `#[derive(Deserialize)] #[serde(deny_unknown_fields)] struct Options`
//! and calls [`PluginArgs::options`]. The deserializer here reads the AST directly, so every
//! error carries the span of the attribute or value at fault, and an unknown option comes with
//! the closest known name as a suggestion. It also applies Logstash's loading rules:
//!
//! - repeated attributes merge (hashes merge, arrays concatenate, repeated scalars become an
//!   array);
//! - `${VAR}` and `${VAR:default}` in strings are replaced from the environment;
//! - a scalar where a list is expected is a one-element list, and a one-element list where a
//!   scalar is expected is its element;
//! - an array of even length where a hash is expected is read as key, value pairs;
//! - `"true"`/`"false"` strings are booleans, numeric strings are numbers, and numbers and
//!   barewords are strings where a string is expected.

use std::fmt;

use std::marker::PhantomData;

use serde::de::{
    self, Deserialize, DeserializeOwned, DeserializeSeed, Deserializer, Error as _,
    IntoDeserializer, MapAccess, SeqAccess, Visitor,
};

use super::ast::{self, Attribute, Number, Value};
use super::source::{did_you_mean, Diagnostic, Diagnostics, Span, Spanned};

/// Looks up environment variables for `${VAR}`; the process environment unless a test swaps it.
pub type EnvLookup = dyn Fn(&str) -> Option<String> + Send + Sync;

/// Logstash's `ecs_compatibility`: which field names plugins use (and, for grok, which pattern
/// set). The pipeline-wide `pipeline.ecs_compatibility` is the default for every plugin.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EcsCompatibility {
    /// Legacy field names and patterns.
    Disabled,
    V1,
    /// Logstash 8's default.
    #[default]
    V8,
}

impl EcsCompatibility {
    /// True for the ECS modes (`v1`, `v8`).
    pub fn is_ecs(self) -> bool {
        self != EcsCompatibility::Disabled
    }
}

/// One plugin's attributes, merged, ready to be read as an options struct.
#[derive(Clone)]
pub struct PluginArgs<'a> {
    plugin: &'a ast::Plugin,
    attributes: Vec<Attribute>,
    env: &'a EnvLookup,
    ecs_compatibility: EcsCompatibility,
    plugin_id: Option<String>,
    dead_letter_queue: Option<std::sync::Arc<crate::dlq::DeadLetterQueue>>,
    data_path: Option<std::path::PathBuf>,
}

impl<'a> PluginArgs<'a> {
    /// Merges `plugin`'s repeated attributes.
    pub fn new(plugin: &'a ast::Plugin, env: &'a EnvLookup) -> PluginArgs<'a> {
        PluginArgs {
            plugin,
            attributes: merge_repeated(&plugin.attributes),
            env,
            ecs_compatibility: EcsCompatibility::default(),
            plugin_id: None,
            dead_letter_queue: None,
            data_path: None,
        }
    }

    /// Sets `path.data` (`None`: the default).
    pub fn with_data_path(mut self, path: Option<std::path::PathBuf>) -> PluginArgs<'a> {
        self.data_path = path;
        self
    }

    /// `path.data`: where a plugin keeps state across restarts (e.g. sincedbs under
    /// `plugins/inputs/file`).
    pub fn data_path(&self) -> std::path::PathBuf {
        self.data_path
            .clone()
            .unwrap_or_else(|| crate::settings::DEFAULT_DATA_PATH.into())
    }

    /// Sets the id the plan gave the plugin (its `id` option or a generated one).
    pub fn with_plugin_id(mut self, id: &str) -> PluginArgs<'a> {
        self.plugin_id = Some(id.to_string());
        self
    }

    /// The plugin's id in the plan; its name until the plan has given it one.
    pub fn plugin_id(&self) -> &str {
        self.plugin_id.as_deref().unwrap_or(&self.plugin.name.node)
    }

    /// Hands outputs the pipeline's dead letter queue (`None`: disabled).
    pub fn with_dead_letter_queue(
        mut self,
        queue: Option<std::sync::Arc<crate::dlq::DeadLetterQueue>>,
    ) -> PluginArgs<'a> {
        self.dead_letter_queue = queue;
        self
    }

    /// The pipeline's dead letter queue, when enabled.
    pub fn dead_letter_queue(&self) -> Option<std::sync::Arc<crate::dlq::DeadLetterQueue>> {
        self.dead_letter_queue.clone()
    }

    /// Sets the pipeline-wide ECS mode, the default for the plugin's own `ecs_compatibility`.
    pub fn with_ecs_compatibility(mut self, ecs: EcsCompatibility) -> PluginArgs<'a> {
        self.ecs_compatibility = ecs;
        self
    }

    /// The pipeline-wide ECS mode (a plugin's `ecs_compatibility` option overrides it).
    pub fn ecs_compatibility(&self) -> EcsCompatibility {
        self.ecs_compatibility
    }

    pub fn name(&self) -> &str {
        &self.plugin.name.node
    }

    /// The span of the plugin's name, for errors about the plugin as a whole.
    pub fn name_span(&self) -> Span {
        self.plugin.name.span
    }

    /// The span of attribute `name`'s value, or of the plugin name when absent.
    pub fn span_of(&self, name: &str) -> Span {
        self.attribute(name)
            .map(|a| a.value.span)
            .unwrap_or(self.plugin.name.span)
    }

    /// A diagnostic pointing at attribute `name` (or at the plugin when absent).
    pub fn error(&self, name: &str, message: impl Into<String>) -> Diagnostics {
        Diagnostic::new(self.span_of(name), message).into()
    }

    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes.iter().find(|a| a.name.node == name)
    }

    /// Splits off the attributes named in `names` (e.g. the options every filter shares) into
    /// their own args, leaving the rest here.
    pub fn split_off(&mut self, names: &[&str]) -> PluginArgs<'a> {
        let (taken, kept) = std::mem::take(&mut self.attributes)
            .into_iter()
            .partition(|a| names.contains(&a.name.node.as_str()));
        self.attributes = kept;
        PluginArgs {
            plugin: self.plugin,
            attributes: taken,
            env: self.env,
            ecs_compatibility: self.ecs_compatibility,
            plugin_id: self.plugin_id.clone(),
            dead_letter_queue: self.dead_letter_queue.clone(),
            data_path: self.data_path.clone(),
        }
    }

    /// Removes and returns attribute `name`.
    pub fn take(&mut self, name: &str) -> Option<Attribute> {
        let i = self.attributes.iter().position(|a| a.name.node == name)?;
        Some(self.attributes.remove(i))
    }

    /// Reads the attributes as `T`. Errors point at the offending attribute or value.
    pub fn options<T: DeserializeOwned>(&self) -> Result<T, Diagnostics> {
        let de = AttributesDeserializer {
            attributes: &self.attributes,
            env: self.env,
        };
        T::deserialize(de).map_err(|e| {
            let span = e.span.unwrap_or(self.plugin.name.span);
            let mut d = Diagnostic::new(span, format!("{}: {}", self.name(), e.message));
            if let Some(help) = e.help {
                d = d.with_help(help);
            }
            d.into()
        })
    }

    /// Reads one attribute value as `T` (for values a plan handles itself, like `codec`).
    pub fn value_as<T: DeserializeOwned>(
        value: &Spanned<Value>,
        env: &EnvLookup,
    ) -> Result<T, Diagnostics> {
        T::deserialize(ValueDeserializer { value, env })
            .map_err(|e| Diagnostic::new(e.span.unwrap_or(value.span), e.message).into())
    }

    pub fn env(&self) -> &'a EnvLookup {
        self.env
    }
}

/// Logstash's merge of repeated attributes: hashes merge, arrays concatenate, other repeats
/// collect into an array. The merged attribute keeps the first one's position.
fn merge_repeated(attributes: &[Attribute]) -> Vec<Attribute> {
    let mut merged: Vec<Attribute> = Vec::with_capacity(attributes.len());
    for attr in attributes {
        let Some(prev) = merged.iter_mut().find(|a| a.name.node == attr.name.node) else {
            merged.push(attr.clone());
            continue;
        };
        let span = prev.value.span.to(attr.value.span);
        let old = std::mem::replace(&mut prev.value.node, Value::Array(Vec::new()));
        prev.value.node = match (old, attr.value.node.clone()) {
            (Value::Hash(mut a), Value::Hash(b)) => {
                a.extend(b);
                Value::Hash(a)
            }
            (Value::Array(mut a), Value::Array(b)) => {
                a.extend(b);
                Value::Array(a)
            }
            (Value::Array(mut a), other) => {
                a.push(Spanned::new(other, attr.value.span));
                Value::Array(a)
            }
            (first, second) => Value::Array(vec![
                Spanned::new(first, prev.value.span),
                Spanned::new(second, attr.value.span),
            ]),
        };
        prev.value.span = span;
    }
    merged
}

/// Replaces `${VAR}` and `${VAR:default}` in `s`.
pub fn substitute_env(s: &str, env: &EnvLookup) -> Result<String, String> {
    if !s.contains("${") {
        return Ok(s.to_string());
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            return Ok(out);
        };
        let inner = &after[..end];
        let (name, default) = match inner.split_once(':') {
            Some((n, d)) => (n, Some(d)),
            None => (inner, None),
        };
        match env(name).or_else(|| default.map(str::to_string)) {
            Some(v) => out.push_str(&v),
            None => {
                return Err(format!(
                    "cannot evaluate `${{{inner}}}`: environment variable `{name}` is not set and has no default"
                ))
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The process environment.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// A deserialization error, with the span of the value at fault once known.
#[derive(Debug)]
pub struct OptionError {
    message: String,
    help: Option<String>,
    span: Option<Span>,
}

impl OptionError {
    fn at(mut self, span: Span) -> OptionError {
        self.span.get_or_insert(span);
        self
    }
}

impl fmt::Display for OptionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for OptionError {}

impl de::Error for OptionError {
    fn custom<T: fmt::Display>(msg: T) -> OptionError {
        OptionError {
            message: msg.to_string(),
            help: None,
            span: None,
        }
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> OptionError {
        OptionError {
            message: format!("unknown option \"{field}\""),
            help: did_you_mean(field, expected.iter().copied())
                .map(|s| format!("did you mean \"{s}\"?")),
            span: None,
        }
    }

    fn missing_field(field: &'static str) -> OptionError {
        OptionError::custom(format!("missing required option \"{field}\""))
    }
}

/// The attributes of one plugin, read as a map.
struct AttributesDeserializer<'a> {
    attributes: &'a [Attribute],
    env: &'a EnvLookup,
}

impl<'de, 'a> de::Deserializer<'de> for AttributesDeserializer<'a> {
    type Error = OptionError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, OptionError> {
        visitor.visit_map(EntriesAccess {
            entries: self
                .attributes
                .iter()
                .map(|a| (&a.name, &a.value))
                .collect(),
            next: 0,
            env: self.env,
        })
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

/// Key/value pairs (attributes or hash entries) as a serde map.
struct EntriesAccess<'a> {
    entries: Vec<(&'a Spanned<String>, &'a Spanned<Value>)>,
    next: usize,
    env: &'a EnvLookup,
}

impl<'de, 'a> MapAccess<'de> for EntriesAccess<'a> {
    type Error = OptionError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, OptionError> {
        let Some((key, _)) = self.entries.get(self.next) else {
            return Ok(None);
        };
        let key_de: de::value::StrDeserializer<'_, OptionError> =
            key.node.as_str().into_deserializer();
        seed.deserialize(key_de)
            .map(Some)
            .map_err(|e| e.at(key.span))
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, OptionError> {
        let (_, value) = self.entries[self.next];
        self.next += 1;
        seed.deserialize(ValueDeserializer {
            value,
            env: self.env,
        })
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len() - self.next)
    }
}

/// Array elements (or, for even-length arrays read as a hash, pairs of them).
struct SeqValues<'a> {
    items: std::slice::Iter<'a, Spanned<Value>>,
    env: &'a EnvLookup,
}

impl<'de, 'a> SeqAccess<'de> for SeqValues<'a> {
    type Error = OptionError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, OptionError> {
        match self.items.next() {
            Some(value) => seed
                .deserialize(ValueDeserializer {
                    value,
                    env: self.env,
                })
                .map(Some),
            None => Ok(None),
        }
    }
}

/// An array of even length read as `[k1, v1, k2, v2]`.
struct PairsAccess<'a> {
    items: &'a [Spanned<Value>],
    next: usize,
    env: &'a EnvLookup,
}

impl<'de, 'a> MapAccess<'de> for PairsAccess<'a> {
    type Error = OptionError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, OptionError> {
        match self.items.get(self.next) {
            Some(value) => seed
                .deserialize(ValueDeserializer {
                    value,
                    env: self.env,
                })
                .map(Some),
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, OptionError> {
        let value = &self.items[self.next + 1];
        self.next += 2;
        seed.deserialize(ValueDeserializer {
            value,
            env: self.env,
        })
    }
}

/// One attribute value.
struct ValueDeserializer<'a> {
    value: &'a Spanned<Value>,
    env: &'a EnvLookup,
}

impl<'a> ValueDeserializer<'a> {
    fn string(&self) -> Result<Option<String>, OptionError> {
        match &self.value.node {
            Value::String(s) => substitute_env(s, self.env)
                .map(Some)
                .map_err(OptionError::custom),
            Value::Bareword(s) => Ok(Some(s.clone())),
            Value::Number(Number::Int(n)) => Ok(Some(n.to_string())),
            Value::Number(Number::Float(n)) => Ok(Some(n.to_string())),
            _ => Ok(None),
        }
    }

    /// A one-element array, where a scalar is expected, stands for its element.
    fn single(&self) -> Option<ValueDeserializer<'a>> {
        match &self.value.node {
            Value::Array(items) if items.len() == 1 => Some(ValueDeserializer {
                value: &items[0],
                env: self.env,
            }),
            _ => None,
        }
    }

    fn invalid(&self, expected: &str) -> OptionError {
        let got = match &self.value.node {
            Value::String(s) => format!("string \"{s}\""),
            Value::Bareword(s) => format!("bareword `{s}`"),
            other => other.kind_name().to_string(),
        };
        OptionError::custom(format!("expected {expected}, got {got}")).at(self.value.span)
    }

    fn number(&self) -> Result<Number, OptionError> {
        if let Some(inner) = self.single() {
            return inner.number();
        }
        match &self.value.node {
            Value::Number(n) => Ok(*n),
            Value::String(_) | Value::Bareword(_) => {
                let s = self.string()?.unwrap_or_default();
                let s = s.trim();
                s.parse::<i64>()
                    .map(Number::Int)
                    .or_else(|_| s.parse::<f64>().map(Number::Float))
                    .map_err(|_| self.invalid("a number"))
            }
            _ => Err(self.invalid("a number")),
        }
    }
}

macro_rules! deserialize_int {
    ($($method:ident => $visit:ident: $ty:ty),*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, OptionError> {
            let span = self.value.span;
            let n = match self.number()? {
                Number::Int(n) => n,
                Number::Float(f) if f.fract() == 0.0 => f as i64,
                Number::Float(_) => return Err(self.invalid("an integer")),
            };
            let n = <$ty>::try_from(n).map_err(|_| OptionError::custom(format!("{n} is out of range")).at(span))?;
            visitor.$visit(n).map_err(|e: OptionError| e.at(span))
        }
    )*};
}

impl<'de, 'a> de::Deserializer<'de> for ValueDeserializer<'a> {
    type Error = OptionError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, OptionError> {
        let span = self.value.span;
        let result = match &self.value.node {
            Value::String(_) | Value::Bareword(_) => {
                visitor.visit_string(self.string()?.unwrap_or_default())
            }
            Value::Number(Number::Int(n)) => visitor.visit_i64(*n),
            Value::Number(Number::Float(n)) => visitor.visit_f64(*n),
            Value::Array(items) => visitor.visit_seq(SeqValues {
                items: items.iter(),
                env: self.env,
            }),
            Value::Hash(entries) => visitor.visit_map(EntriesAccess {
                entries: entries.iter().map(|e| (&e.key, &e.value)).collect(),
                next: 0,
                env: self.env,
            }),
            Value::Plugin(p) => {
                return Err(OptionError::custom(format!(
                    "a plugin (`{}`) is not allowed here",
                    p.name.node
                ))
                .at(span))
            }
        };
        result.map_err(|e| e.at(span))
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, OptionError> {
        if let Some(inner) = self.single() {
            return inner.deserialize_bool(visitor);
        }
        let span = self.value.span;
        match self.string()?.as_deref() {
            Some("true") => visitor.visit_bool(true),
            Some("false") => visitor.visit_bool(false),
            _ => Err(self.invalid("true or false")),
        }
        .map_err(|e| e.at(span))
    }

    deserialize_int!(
        deserialize_i8 => visit_i8: i8, deserialize_i16 => visit_i16: i16,
        deserialize_i32 => visit_i32: i32, deserialize_i64 => visit_i64: i64,
        deserialize_u8 => visit_u8: u8, deserialize_u16 => visit_u16: u16,
        deserialize_u32 => visit_u32: u32, deserialize_u64 => visit_u64: u64
    );

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, OptionError> {
        let span = self.value.span;
        let n = match self.number()? {
            Number::Int(n) => n as f64,
            Number::Float(f) => f,
        };
        visitor.visit_f64(n).map_err(|e: OptionError| e.at(span))
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, OptionError> {
        self.deserialize_f64(visitor)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, OptionError> {
        if let Some(inner) = self.single() {
            return inner.deserialize_string(visitor);
        }
        let span = self.value.span;
        match self.string()? {
            Some(s) => visitor.visit_string(s).map_err(|e: OptionError| e.at(span)),
            None => Err(self.invalid("a string")),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, OptionError> {
        self.deserialize_string(visitor)
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, OptionError> {
        self.deserialize_string(visitor)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, OptionError> {
        self.deserialize_string(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, OptionError> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, OptionError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, OptionError> {
        let span = self.value.span;
        match &self.value.node {
            Value::Array(items) => visitor.visit_seq(SeqValues {
                items: items.iter(),
                env: self.env,
            }),
            _ => visitor.visit_seq(SeqValues {
                items: std::slice::from_ref(self.value).iter(),
                env: self.env,
            }),
        }
        .map_err(|e| e.at(span))
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, OptionError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, OptionError> {
        let span = self.value.span;
        match &self.value.node {
            Value::Hash(entries) => visitor.visit_map(EntriesAccess {
                entries: entries.iter().map(|e| (&e.key, &e.value)).collect(),
                next: 0,
                env: self.env,
            }),
            Value::Array(items) if items.len() % 2 == 0 => visitor.visit_map(PairsAccess {
                items,
                next: 0,
                env: self.env,
            }),
            _ => return Err(self.invalid("a hash")),
        }
        .map_err(|e| e.at(span))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, OptionError> {
        self.deserialize_map(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, OptionError> {
        if let Some(inner) = self.single() {
            return inner.deserialize_enum(_name, _variants, visitor);
        }
        let span = self.value.span;
        match self.string()? {
            Some(s) => {
                visitor
                    .visit_enum(s.clone().into_deserializer())
                    .map_err(|e: OptionError| {
                        let e = match did_you_mean(&s, _variants.iter().copied()) {
                            Some(v) if e.help.is_none() => OptionError {
                                help: Some(format!("did you mean \"{v}\"?")),
                                ..e
                            },
                            _ => e,
                        };
                        e.at(span)
                    })
            }
            None => Err(self.invalid(&format!("one of {}", _variants.join(", ")))),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, OptionError> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        i128 u128 bytes byte_buf unit unit_struct tuple_struct
    }
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

/// An option that takes one value or a list (`tags => "a"` or `tags => ["a", "b"]`).
pub type OneOrMany<T> = Vec<T>;

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    fn attr(name: &str, value: Value) -> Attribute {
        Attribute {
            name: Spanned::new(name.into(), Span::new(0, name.len())),
            value: Spanned::new(value, Span::new(10, 20)),
        }
    }

    fn plugin(attrs: Vec<Attribute>) -> ast::Plugin {
        ast::Plugin {
            name: Spanned::new("p".into(), Span::new(0, 1)),
            attributes: attrs,
            span: Span::new(0, 30),
        }
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn s(v: &str) -> Spanned<Value> {
        Spanned::new(Value::String(v.into()), Span::new(10, 20))
    }

    #[derive(Deserialize, Debug, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Opts {
        #[serde(default)]
        count: Option<u64>,
        #[serde(default)]
        flag: bool,
        #[serde(default)]
        tags: Vec<String>,
        #[serde(default)]
        fields: Vec<(String, String)>,
        #[serde(default)]
        rename: std::collections::BTreeMap<String, String>,
    }

    #[test]
    fn reads_typed_options_with_logstash_coercions() {
        let p = plugin(vec![
            attr("count", Value::String("5".into())),
            attr("flag", Value::Bareword("true".into())),
            attr("tags", Value::String("one".into())),
            attr("rename", Value::Array(vec![s("a"), s("b")])),
        ]);
        let env = no_env;
        let o: Opts = PluginArgs::new(&p, &env).options().unwrap();
        assert_eq!(o.count, Some(5));
        assert!(o.flag);
        assert_eq!(o.tags, ["one"]);
        assert_eq!(o.rename.get("a").map(String::as_str), Some("b"));
    }

    #[test]
    fn unknown_options_get_a_suggestion_and_the_key_span() {
        let p = plugin(vec![attr("cuont", Value::Number(Number::Int(1)))]);
        let env = no_env;
        let err = PluginArgs::new(&p, &env).options::<Opts>().unwrap_err();
        let d = &err.0[0];
        assert!(
            d.message.contains("unknown option \"cuont\""),
            "{}",
            d.message
        );
        assert_eq!(d.help.as_deref(), Some("did you mean \"count\"?"));
        assert_eq!(d.span, Span::new(0, 5));
    }

    #[test]
    fn type_errors_point_at_the_value() {
        let p = plugin(vec![attr("count", Value::String("many".into()))]);
        let env = no_env;
        let err = PluginArgs::new(&p, &env).options::<Opts>().unwrap_err();
        assert_eq!(err.0[0].span, Span::new(10, 20));
        assert!(
            err.0[0].message.contains("expected a number"),
            "{}",
            err.0[0].message
        );
    }

    #[test]
    fn repeated_attributes_merge() {
        let p = plugin(vec![
            attr("tags", Value::Array(vec![s("a")])),
            attr("tags", Value::Array(vec![s("b")])),
            attr("count", Value::Number(Number::Int(1))),
        ]);
        let env = no_env;
        let args = PluginArgs::new(&p, &env);
        match &args.attribute("tags").unwrap().value.node {
            Value::Array(items) => assert_eq!(items.len(), 2),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn env_substitution() {
        let env = |name: &str| (name == "HOME_DIR").then(|| "/home/x".to_string());
        assert_eq!(substitute_env("${HOME_DIR}/a", &env).unwrap(), "/home/x/a");
        assert_eq!(substitute_env("${NOPE:dflt}", &env).unwrap(), "dflt");
        assert!(substitute_env("${NOPE}", &env)
            .unwrap_err()
            .contains("NOPE"));
    }
}
