//! The `kv` filter: parses `key=value` pairs out of a field (`source`, default `message`).
//!
//! As logstash-filter-kv does:
//! - `field_split` (default `" "`) and `value_split` (default `"="`) are sets of characters
//!   (Ruby character-class bodies); `field_split_pattern` / `value_split_pattern` are regexes;
//! - values may be quoted with `"..."` or `'...'`, and with `include_brackets` (default true)
//!   with `(...)`, `[...]` or `<...>`; the quotes are dropped;
//! - `whitespace => lenient` (default) allows spaces around the value separator;
//! - keys are trimmed (`trim_key`), stripped (`remove_char_key`), case-changed
//!   (`transform_key`), filtered (`include_keys`, `exclude_keys`, sprintf) and prefixed
//!   (`prefix`, sprintf); values likewise (`trim_value`, `remove_char_value`,
//!   `transform_value`); `recursive` parses values again into hashes;
//! - a repeated key collects its values into an array (`allow_duplicate_values => false` drops
//!   a value already present); empty values are skipped unless `allow_empty_values`;
//! - the pairs, after `default_keys`, go into `target` or (keys read as field references) to the
//!   top level; nothing found means no success;
//! - a scan that runs past `timeout_millis` tags `tag_on_timeout` (`_kv_filter_timeout`); a key
//!   that cannot be set tags `tag_on_failure` (`_kv_filter_error`). Either leaves the event
//!   otherwise unchanged.
//!
//! Scanning ([`scan`]) is linear for the character-set options (a byte scanner, or the `regex`
//! crate for texts with escapes), so only the `*_pattern` options, which need backtracking, are
//! timed.
//!
//! [`Kv`] is the built filter; [`class::CharClass`] reads the character-set options.

pub mod class;
pub mod scan;

use std::borrow::Cow;
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::config::options::{EcsCompatibility, OneOrMany, Pairs};
use crate::config::{Diagnostics, PluginArgs};
use crate::event::sprintf::Template;
use crate::event::{Event, FieldPath, Map, PathError, Text, Value};
use crate::filters::common::{failure_tags, note_untargeted_ecs};

use self::class::CharClass;
use self::scan::{ScanError, ScanOptions, Scanner};
use super::Filter;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KvOptions {
    #[serde(default)]
    trim_value: Option<String>,
    #[serde(default)]
    trim_key: Option<String>,
    #[serde(default)]
    remove_char_value: Option<String>,
    #[serde(default)]
    remove_char_key: Option<String>,
    #[serde(default)]
    transform_value: Option<Transform>,
    #[serde(default)]
    transform_key: Option<Transform>,
    #[serde(default = "space")]
    field_split: String,
    #[serde(default)]
    field_split_pattern: Option<String>,
    #[serde(default = "equals")]
    value_split: String,
    #[serde(default)]
    value_split_pattern: Option<String>,
    #[serde(default)]
    prefix: String,
    #[serde(default = "message")]
    source: String,
    #[serde(default)]
    target: Option<String>,
    #[serde(default)]
    include_keys: OneOrMany<String>,
    #[serde(default)]
    exclude_keys: OneOrMany<String>,
    #[serde(default)]
    default_keys: Pairs<String>,
    #[serde(default = "yes")]
    allow_duplicate_values: bool,
    #[serde(default)]
    allow_empty_values: bool,
    #[serde(default = "yes")]
    include_brackets: bool,
    #[serde(default)]
    recursive: bool,
    #[serde(default)]
    whitespace: Whitespace,
    #[serde(default = "thirty_seconds")]
    timeout_millis: u64,
    #[serde(default = "timeout_tag")]
    tag_on_timeout: String,
    #[serde(default)]
    tag_on_failure: Option<OneOrMany<String>>,
    #[serde(default)]
    ecs_compatibility: Option<EcsCompatibility>,
}

fn space() -> String {
    " ".to_string()
}
fn equals() -> String {
    "=".to_string()
}
fn message() -> String {
    "message".to_string()
}
fn yes() -> bool {
    true
}
fn thirty_seconds() -> u64 {
    30_000
}
fn timeout_tag() -> String {
    "_kv_filter_timeout".to_string()
}

/// `transform_key` / `transform_value`.
#[derive(Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Transform {
    Lowercase,
    Uppercase,
    Capitalize,
}

/// `whitespace`.
#[derive(Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Whitespace {
    #[default]
    Lenient,
    Strict,
}

/// The built filter.
#[derive(Debug)]
pub struct Kv {
    source: FieldPath,
    target: Option<FieldPath>,
    scanner: Scanner,
    keys: Side,
    values: Side,
    prefix: Template,
    include_keys: KeyList,
    exclude_keys: KeyList,
    default_keys: Vec<(Text, Text)>,
    allow_duplicate_values: bool,
    allow_empty_values: bool,
    recursive: bool,
    timeout: Option<Duration>,
    tag_on_timeout: Text,
    tag_on_failure: Vec<Text>,
}

/// How keys (or values) are cleaned up, in Logstash's order: trim, remove, transform.
#[derive(Debug, Default)]
struct Side {
    trim: Option<CharClass>,
    remove: Option<CharClass>,
    transform: Option<Transform>,
}

/// Why the filter failed on an event.
#[derive(Debug, thiserror::Error)]
enum KvError {
    #[error(transparent)]
    Scan(#[from] ScanError),
    #[error("key is not a valid field reference: {0}")]
    Key(#[from] PathError),
}

pub fn build(args: &PluginArgs) -> Result<Box<dyn Filter>, Diagnostics> {
    let o: KvOptions = args.options()?;
    if o.value_split.is_empty() {
        return Err(args.error("value_split", "kv: value_split must be a non-empty string"));
    }
    for (option, pattern) in [
        ("field_split_pattern", &o.field_split_pattern),
        ("value_split_pattern", &o.value_split_pattern),
    ] {
        if pattern.as_deref() == Some("") {
            return Err(args.error(option, format!("kv: {option} must be a non-empty string")));
        }
    }
    let mut b = Builder {
        args,
        errors: Diagnostics::default(),
    };
    let source = b.path("source", &o.source);
    let target = o.target.as_deref().map(|t| b.path("target", t));
    let keys = Side {
        trim: b.class("trim_key", o.trim_key.as_deref()),
        remove: b.class("remove_char_key", o.remove_char_key.as_deref()),
        transform: o.transform_key,
    };
    let values = Side {
        trim: b.class("trim_value", o.trim_value.as_deref()),
        remove: b.class("remove_char_value", o.remove_char_value.as_deref()),
        transform: o.transform_value,
    };
    let scanner = b.scanner(&o);
    let prefix = b.template("prefix", &o.prefix);
    let include_keys = b.templates("include_keys", &o.include_keys);
    let exclude_keys = b.templates("exclude_keys", &o.exclude_keys);
    let (Some(source), Some(scanner), Some(prefix), true) =
        (source, scanner, prefix, b.errors.is_empty())
    else {
        return Err(b.errors);
    };
    let target = match target {
        Some(None) => return Err(b.errors),
        Some(Some(t)) => Some(t),
        None => None,
    };
    let ecs = o
        .ecs_compatibility
        .unwrap_or_else(|| args.ecs_compatibility());
    note_untargeted_ecs("kv", ecs, &source, target.is_some());
    Ok(Box::new(Kv {
        source,
        target,
        scanner,
        keys,
        values,
        prefix,
        include_keys,
        exclude_keys,
        default_keys: o
            .default_keys
            .0
            .iter()
            .map(|(k, v)| (Text::new(k), Text::new(v)))
            .collect(),
        allow_duplicate_values: o.allow_duplicate_values,
        allow_empty_values: o.allow_empty_values,
        recursive: o.recursive,
        timeout: (o.timeout_millis > 0).then(|| Duration::from_millis(o.timeout_millis)),
        tag_on_timeout: Text::new(&o.tag_on_timeout),
        tag_on_failure: failure_tags(o.tag_on_failure, "_kv_filter_error"),
    }))
}

/// Collects diagnostics while reading the options.
struct Builder<'a, 'b> {
    args: &'a PluginArgs<'b>,
    errors: Diagnostics,
}

impl Builder<'_, '_> {
    fn fail(&mut self, option: &str, message: impl std::fmt::Display) {
        let d = self.args.error(option, format!("kv: {option}: {message}"));
        self.errors.extend(d);
    }

    fn path(&mut self, option: &str, name: &str) -> Option<FieldPath> {
        FieldPath::parse(name)
            .map_err(|e| self.fail(option, e))
            .ok()
    }

    fn class(&mut self, option: &str, body: Option<&str>) -> Option<CharClass> {
        CharClass::new(body?).map_err(|e| self.fail(option, e)).ok()
    }

    fn template(&mut self, option: &str, source: &str) -> Option<Template> {
        Template::parse(source)
            .map_err(|e| self.fail(option, e))
            .ok()
    }

    /// The templates, or the fixed texts when none has a `%{...}` reference.
    fn templates(&mut self, option: &str, sources: &[String]) -> KeyList {
        let templates: Vec<Template> = sources
            .iter()
            .filter_map(|s| self.template(option, s))
            .collect();
        match templates
            .iter()
            .map(Template::constant)
            .collect::<Option<Vec<_>>>()
        {
            Some(fixed) => KeyList::Fixed(fixed.into_iter().map(Text::new).collect()),
            None => KeyList::Rendered(templates),
        }
    }

    fn scanner(&mut self, o: &KvOptions) -> Option<Scanner> {
        let field_split = self.class("field_split", Some(&o.field_split));
        let value_split = self.class("value_split", Some(&o.value_split));
        let options = ScanOptions {
            field_split: field_split.as_ref()?,
            value_split: value_split.as_ref()?,
            field_split_pattern: o.field_split_pattern.as_deref(),
            value_split_pattern: o.value_split_pattern.as_deref(),
            lenient: o.whitespace == Whitespace::Lenient,
            brackets: o.include_brackets,
        };
        Scanner::new(&options)
            .map_err(|e| {
                let option = if o.field_split_pattern.is_some() {
                    "field_split_pattern"
                } else if o.value_split_pattern.is_some() {
                    "value_split_pattern"
                } else {
                    "field_split"
                };
                self.fail(option, format!("invalid regex: {e}"))
            })
            .ok()
    }
}

/// `include_keys` / `exclude_keys`: fixed at build time, or rendered per event.
#[derive(Debug)]
enum KeyList {
    Fixed(Vec<Text>),
    Rendered(Vec<Template>),
}

impl KeyList {
    fn for_event(&self, event: &Event) -> Cow<'_, [Text]> {
        match self {
            KeyList::Fixed(keys) => Cow::Borrowed(keys),
            KeyList::Rendered(templates) => {
                Cow::Owned(templates.iter().map(|t| t.render(event)).collect())
            }
        }
    }
}

/// Per-event settings: rendered key filters and prefix, and the scan deadline.
struct Context<'a> {
    include: Cow<'a, [Text]>,
    exclude: Cow<'a, [Text]>,
    prefix: Text,
    deadline: Option<Instant>,
}

impl Filter for Kv {
    fn apply(&self, event: &mut Event) -> bool {
        match self.run(event) {
            Ok(matched) => matched,
            Err(KvError::Scan(ScanError::Timeout)) => {
                tracing::warn!(source = %self.source, "kv: timeout reached; the event is tagged");
                event.add_tag(self.tag_on_timeout.clone());
                false
            }
            Err(KvError::Scan(ScanError::Runaway(e))) if self.timeout.is_some() => {
                tracing::warn!(source = %self.source, error = %e, "kv: the scan gave up; the event is tagged as timed out");
                event.add_tag(self.tag_on_timeout.clone());
                false
            }
            Err(error) => {
                tracing::debug!(%error, "kv failed");
                for tag in &self.tag_on_failure {
                    event.add_tag(tag.clone());
                }
                false
            }
        }
    }
}

impl Kv {
    /// Parses and stores the pairs; true when there was anything to store.
    fn run(&self, event: &mut Event) -> Result<bool, KvError> {
        let mut found = Map::new();
        let source = event.get(&self.source).cloned();
        if let Some(source) = &source {
            let ctx = self.context(event);
            match source {
                Value::Str(text) => self.parse(text, &ctx, &mut found)?,
                Value::Array(items) => {
                    for item in items {
                        if let Value::Str(text) = item {
                            self.parse(text, &ctx, &mut found)?;
                        }
                    }
                }
                Value::Null => {}
                other => tracing::debug!(
                    kind = other.type_name(),
                    "kv: the source is neither a string nor an array"
                ),
            }
        }
        let found = self.with_defaults(found);
        if found.is_empty() {
            return Ok(false);
        }
        match &self.target {
            Some(target) => {
                event.insert(target, Value::Map(found));
            }
            None => {
                for (key, value) in found {
                    super::json::set_key(event, key, value)?;
                }
            }
        }
        Ok(true)
    }

    fn context(&self, event: &Event) -> Context<'_> {
        // Only the `*_pattern` scanners can run away; the others are never timed.
        let timed = matches!(self.scanner, Scanner::Patterns { .. });
        Context {
            include: self.include_keys.for_event(event),
            exclude: self.exclude_keys.for_event(event),
            prefix: self.prefix.render(event),
            deadline: self.timeout.filter(|_| timed).map(|t| Instant::now() + t),
        }
    }

    /// `default_keys` first, overridden in place by what was found.
    fn with_defaults(&self, found: Map) -> Map {
        if self.default_keys.is_empty() {
            return found;
        }
        let mut all: Map = self
            .default_keys
            .iter()
            .map(|(k, v)| (k.clone(), Value::Str(v.clone())))
            .collect();
        for (k, v) in found {
            all.insert(k, v);
        }
        all
    }

    /// Adds the pairs of `text` to `out`.
    fn parse(&self, text: &Text, ctx: &Context, out: &mut Map) -> Result<(), KvError> {
        if !self.scanner.has_value_split(text) {
            return Ok(());
        }
        self.scanner.scan(text, ctx.deadline, |key, value| {
            self.add_pair(text, key, value.unwrap_or(""), ctx, out)
        })
    }

    fn add_pair(
        &self,
        text: &Text,
        key: &str,
        value: &str,
        ctx: &Context,
        out: &mut Map,
    ) -> Result<(), KvError> {
        if value.is_empty() && !self.allow_empty_values {
            return Ok(());
        }
        let key = self.keys.clean(key);
        if !ctx.include.is_empty() && !ctx.include.iter().any(|k| k.as_str() == key) {
            return Ok(());
        }
        if ctx.exclude.iter().any(|k| k.as_str() == key) {
            return Ok(());
        }
        let key = if ctx.prefix.is_empty() {
            shared(text, key)
        } else {
            let mut prefixed = String::with_capacity(ctx.prefix.len() + key.len());
            prefixed.push_str(&ctx.prefix);
            prefixed.push_str(&key);
            Text::from_string(prefixed)
        };
        let value = shared(text, self.values.clean(value));
        if !self.allow_duplicate_values && out.get(&key).is_some_and(|v| includes(v, &value)) {
            return Ok(());
        }
        let mut value = Value::Str(value);
        if self.recursive {
            if let Value::Str(inner_text) = &value {
                let mut inner = Map::new();
                self.parse(&inner_text.clone(), ctx, &mut inner)?;
                if !inner.is_empty() {
                    value = Value::Map(inner);
                }
            }
        }
        match out.get_mut(&key) {
            Some(Value::Array(items)) => items.push(value),
            Some(existing) => {
                let first = std::mem::replace(existing, Value::Null);
                *existing = Value::Array(vec![first, value]);
            }
            None => out.push_new(key, value),
        }
        Ok(())
    }
}

/// A `Text` for `part`: a slice of `text`'s buffer when `part` is an unchanged piece of it.
fn shared(text: &Text, part: Cow<'_, str>) -> Text {
    match part {
        Cow::Borrowed(s) => text.substr(s),
        Cow::Owned(s) => Text::from_string(s),
    }
}

/// Ruby's `include?` on what a key already holds: substring of a string, element of an array,
/// key of a hash.
fn includes(existing: &Value, value: &str) -> bool {
    match existing {
        Value::Str(s) => s.contains(value),
        Value::Array(items) => items.iter().any(|v| v.as_str() == Some(value)),
        Value::Map(m) => m.contains_key(value),
        _ => false,
    }
}

impl Side {
    fn clean<'s>(&self, s: &'s str) -> Cow<'s, str> {
        let mut s = Cow::Borrowed(s);
        if let Some(trim) = &self.trim {
            s = reborrow(s, |x| trim.trim(x));
        }
        if let Some(remove) = &self.remove {
            s = reborrow(s, |x| remove.remove(x));
        }
        if let Some(t) = self.transform {
            s = Cow::Owned(transform(&s, t));
        }
        s
    }
}

/// Applies a borrowing edit to a `Cow`, keeping the borrow when neither side copied.
fn reborrow<'s>(s: Cow<'s, str>, f: impl for<'x> Fn(&'x str) -> Cow<'x, str>) -> Cow<'s, str> {
    match s {
        Cow::Borrowed(b) => f(b),
        Cow::Owned(o) => Cow::Owned(f(&o).into_owned()),
    }
}

/// Ruby's `downcase`, `upcase`, `capitalize`.
fn transform(s: &str, t: Transform) -> String {
    match t {
        Transform::Lowercase => s.to_lowercase(),
        Transform::Uppercase => s.to_uppercase(),
        Transform::Capitalize => {
            let mut chars = s.chars();
            match chars.next() {
                Some(first) => first
                    .to_uppercase()
                    .chain(chars.as_str().to_lowercase().chars())
                    .collect(),
                None => String::new(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transforms_follow_ruby() {
        assert_eq!(
            transform("hEllo wOrld", Transform::Capitalize),
            "Hello world"
        );
        assert_eq!(transform("ÉCOLE", Transform::Lowercase), "école");
        assert_eq!(transform("straße", Transform::Uppercase), "STRASSE");
        assert_eq!(transform("", Transform::Capitalize), "");
    }

    #[test]
    fn duplicate_checks_use_ruby_include() {
        assert!(includes(&Value::from("abc"), "b"));
        assert!(!includes(&Value::from("abc"), "x"));
        assert!(includes(&Value::Array(vec!["a".into(), "b".into()]), "b"));
        assert!(!includes(&Value::Array(vec!["ab".into()]), "b"));
    }
}
