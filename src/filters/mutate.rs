//! The `mutate` filter: renames, replaces, converts and edits fields.
//!
//! Operations run in Logstash's fixed order, whatever order the config lists them in: coerce,
//! rename, update, replace, convert, gsub, uppercase, capitalize, lowercase, strip, split, join,
//! merge, copy. An operation that fails (a string that is not a number for `convert`, a
//! non-string in an array for `strip`, a `%{...}` regex that does not compile) stops the rest,
//! tags the event with `tag_on_failure` (`_mutate_error`) and skips the common options, as
//! Logstash does.
//!
//! [`MutateOptions`] is the config; [`Mutate`] the built filter, a list of [`Op`]s.

use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, Ordering};

use regex::{Captures, Regex, RegexBuilder, Replacer};
use serde::Deserialize;

use crate::config::options::OneOrMany;
use crate::config::source::regex_error_summary;
use crate::config::{Diagnostics, PluginArgs};
use crate::event::sprintf::Template;
use crate::event::{Event, FieldPath, Text, Value, INLINE_CAP};

use super::Filter;
use crate::config::options::Pairs;
use crate::event::ruby::{write_ruby_string, StackStr};
use crate::event::sprintf::FieldRef;

/// The options of `mutate`, as written in the config.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct MutateOptions {
    /// field => default value (sprintf), set when the field exists and is null.
    pub coerce: Pairs<String>,
    /// old field => new field (both sprintf).
    pub rename: Pairs<String>,
    /// field => value (sprintf), only when the field exists.
    pub update: Pairs<String>,
    /// field => value (sprintf), always.
    pub replace: Pairs<String>,
    /// field => type.
    pub convert: Pairs<ConvertType>,
    /// [field, regex, replacement] triples, flattened.
    pub gsub: Vec<String>,
    pub uppercase: Vec<String>,
    pub capitalize: Vec<String>,
    pub lowercase: Vec<String>,
    pub strip: Vec<String>,
    /// field => separator.
    pub split: Pairs<String>,
    /// field => separator.
    pub join: Pairs<String>,
    /// destination field => source field(s).
    pub merge: Pairs<OneOrMany<String>>,
    /// source field => destination field.
    pub copy: Pairs<String>,
    pub tag_on_failure: Option<String>,
}

/// The target types of `convert`.
#[derive(Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ConvertType {
    Integer,
    Float,
    /// `1.234,5` style: dots group thousands, the comma is the decimal point.
    IntegerEu,
    FloatEu,
    String,
    Boolean,
}

/// The built filter.
#[derive(Debug)]
pub struct Mutate {
    ops: Vec<Op>,
    tag_on_failure: Text,
    warned: AtomicBool,
}

/// One operation, in the order it runs.
#[derive(Debug)]
pub enum Op {
    Coerce(FieldPath, Template),
    Rename(FieldRef, FieldRef),
    Update(FieldPath, Template),
    Replace(FieldPath, Template),
    Convert(FieldPath, ConvertType),
    Gsub(Gsub),
    Uppercase(FieldPath),
    Capitalize(FieldPath),
    Lowercase(FieldPath),
    Strip(FieldPath),
    Split(FieldPath, String),
    Join(FieldPath, String),
    Merge(FieldPath, Vec<FieldPath>),
    Copy(FieldPath, FieldPath),
}

/// Why an operation failed on an event.
#[derive(Debug, thiserror::Error)]
pub enum MutateError {
    #[error("convert: cannot convert {found} \"{text}\" to {target}")]
    Convert {
        found: &'static str,
        text: String,
        target: &'static str,
    },
    #[error("strip: cannot strip a {0}, only strings")]
    StripNonString(&'static str),
    #[error("gsub: the pattern `{0}` is not a valid regex: {1}")]
    Regex(String, String),
}

pub fn build(args: &PluginArgs) -> Result<Box<dyn Filter>, Diagnostics> {
    let options: MutateOptions = args.options()?;
    let mut b = Builder {
        args,
        errors: Diagnostics::default(),
        ops: Vec::new(),
    };
    b.build_ops(options.coerce.0, "coerce", |b, k, v| {
        Some(Op::Coerce(b.path("coerce", &k)?, b.template("coerce", &v)?))
    });
    b.build_ops(options.rename.0, "rename", |b, k, v| {
        Some(Op::Rename(
            b.field_ref("rename", &k)?,
            b.field_ref("rename", &v)?,
        ))
    });
    b.build_ops(options.update.0, "update", |b, k, v| {
        Some(Op::Update(b.path("update", &k)?, b.template("update", &v)?))
    });
    b.build_ops(options.replace.0, "replace", |b, k, v| {
        Some(Op::Replace(
            b.path("replace", &k)?,
            b.template("replace", &v)?,
        ))
    });
    b.build_ops(options.convert.0, "convert", |b, k, v| {
        Some(Op::Convert(b.path("convert", &k)?, v))
    });
    b.build_gsub(&options.gsub);
    for (name, fields, make) in [
        (
            "uppercase",
            &options.uppercase,
            Op::Uppercase as fn(FieldPath) -> Op,
        ),
        ("capitalize", &options.capitalize, Op::Capitalize),
        ("lowercase", &options.lowercase, Op::Lowercase),
        ("strip", &options.strip, Op::Strip),
    ] {
        for field in fields {
            if let Some(path) = b.path(name, field) {
                b.ops.push(make(path));
            }
        }
    }
    b.build_ops(options.split.0, "split", |b, k, v| {
        Some(Op::Split(b.path("split", &k)?, v))
    });
    b.build_ops(options.join.0, "join", |b, k, v| {
        Some(Op::Join(b.path("join", &k)?, v))
    });
    b.build_ops(options.merge.0, "merge", |b, k, v| {
        let dest = b.path("merge", &k);
        let sources: Option<Vec<FieldPath>> = v.iter().map(|s| b.path("merge", s)).collect();
        Some(Op::Merge(dest?, sources?))
    });
    b.build_ops(options.copy.0, "copy", |b, k, v| {
        Some(Op::Copy(b.path("copy", &k)?, b.path("copy", &v)?))
    });
    if !b.errors.is_empty() {
        return Err(b.errors);
    }
    let tag = options.tag_on_failure.as_deref().unwrap_or("_mutate_error");
    Ok(Box::new(Mutate {
        ops: b.ops,
        tag_on_failure: Text::new(tag),
        warned: AtomicBool::new(false),
    }))
}

/// Collects ops and diagnostics while reading the options.
struct Builder<'a, 'b> {
    args: &'a PluginArgs<'b>,
    errors: Diagnostics,
    ops: Vec<Op>,
}

impl Builder<'_, '_> {
    fn build_ops<V>(
        &mut self,
        pairs: Vec<(String, V)>,
        _option: &str,
        mut make: impl FnMut(&mut Self, String, V) -> Option<Op>,
    ) {
        for (k, v) in pairs {
            if let Some(op) = make(self, k, v) {
                self.ops.push(op);
            }
        }
    }

    fn fail(&mut self, option: &str, message: impl std::fmt::Display) {
        let message = format!("mutate: {option}: {message}");
        self.errors.extend(self.args.error(option, message));
    }

    /// A [`MutateError`] already names its operation (it is also logged at run time).
    fn fail_with(&mut self, option: &str, error: MutateError) {
        self.errors
            .extend(self.args.error(option, format!("mutate: {error}")));
    }

    fn path(&mut self, option: &str, field: &str) -> Option<FieldPath> {
        FieldPath::parse(field)
            .map_err(|e| self.fail(option, e))
            .ok()
    }

    fn field_ref(&mut self, option: &str, field: &str) -> Option<FieldRef> {
        FieldRef::parse(field)
            .map_err(|e| self.fail(option, e))
            .ok()
    }

    fn template(&mut self, option: &str, source: &str) -> Option<Template> {
        Template::parse(source)
            .map_err(|e| self.fail(option, e))
            .ok()
    }

    fn build_gsub(&mut self, flat: &[String]) {
        if !flat.len().is_multiple_of(3) {
            self.fail(
                "gsub",
                format!(
                    "expected [field, regex, replacement] triples, got {} values",
                    flat.len()
                ),
            );
            return;
        }
        for triple in flat.chunks(3) {
            if let Some(g) = self.gsub(&triple[0], &triple[1], &triple[2]) {
                self.ops.push(Op::Gsub(g));
            }
        }
    }

    fn gsub(&mut self, field: &str, needle: &str, replacement: &str) -> Option<Gsub> {
        let field = self.path("gsub", field);
        // As in Logstash, a needle with `%{` is rendered per event, anything else is a regex.
        let needle = if needle.contains("%{") {
            Template::parse(needle)
                .map(Needle::Dynamic)
                .map_err(|e| self.fail("gsub", e.to_string()))
                .ok()
        } else {
            gsub_regex(needle)
                .map(Needle::Fixed)
                .map_err(|e| self.fail_with("gsub", e))
                .ok()
        };
        let replacement = match self.template("gsub", replacement)? {
            t if t.constant().is_some() => {
                Replacement::Fixed(RubySub::parse(t.constant().unwrap_or("")))
            }
            t => Replacement::Dynamic(t),
        };
        Some(Gsub {
            field: field?,
            needle: needle?,
            replacement,
        })
    }
}

/// Compiles a gsub pattern. Ruby's `^` and `$` match at line boundaries, hence multi-line.
fn gsub_regex(pattern: &str) -> Result<Regex, MutateError> {
    RegexBuilder::new(pattern)
        .multi_line(true)
        .build()
        .map_err(|e| MutateError::Regex(pattern.to_string(), regex_error_summary(&e)))
}

impl Filter for Mutate {
    fn apply(&self, event: &mut Event) -> bool {
        for op in &self.ops {
            if let Err(error) = op.apply(event) {
                self.report(&error);
                event.add_tag(self.tag_on_failure.clone());
                return false;
            }
        }
        true
    }
}

impl Mutate {
    /// The operations, in the order they run.
    pub fn ops(&self) -> &[Op] {
        &self.ops
    }

    #[cold]
    fn report(&self, error: &MutateError) {
        // Bad data tends to repeat: warn once, then only at debug level.
        if self.warned.swap(true, Ordering::Relaxed) {
            tracing::debug!(%error, "mutate failed");
        } else {
            tracing::warn!(%error, tag = %self.tag_on_failure, "mutate failed; the event is tagged (later failures are logged at debug level)");
        }
    }
}

impl Op {
    fn apply(&self, event: &mut Event) -> Result<(), MutateError> {
        match self {
            Op::Coerce(path, default) => {
                if matches!(event.get(path), Some(Value::Null)) {
                    let value = default.render(event);
                    event.insert(path, Value::Str(value));
                }
            }
            Op::Rename(from, to) => rename(event, from, to),
            Op::Update(path, value) => {
                if event.contains(path) {
                    let value = value.render(event);
                    event.insert(path, Value::Str(value));
                }
            }
            Op::Replace(path, value) => {
                let value = value.render(event);
                event.insert(path, Value::Str(value));
            }
            Op::Convert(path, to) => convert_field(event, path, *to)?,
            Op::Gsub(g) => g.apply(event)?,
            Op::Uppercase(path) => map_strings(event, path, upper),
            Op::Capitalize(path) => map_strings(event, path, capitalize),
            Op::Lowercase(path) => map_strings(event, path, lower),
            Op::Strip(path) => strip(event, path)?,
            Op::Split(path, separator) => {
                if let Some(v @ Value::Str(_)) = event.get_mut(path) {
                    if let Value::Str(s) = std::mem::replace(v, Value::Null) {
                        *v = Value::Array(split(&s, separator));
                    }
                }
            }
            Op::Join(path, separator) => {
                if let Some(v @ Value::Array(_)) = event.get_mut(path) {
                    if let Value::Array(items) = v {
                        let mut out = String::new();
                        join_into(items, separator, &mut out);
                        *v = Value::Str(Text::from_string(out));
                    }
                }
            }
            Op::Merge(dest, sources) => merge(event, dest, sources),
            Op::Copy(src, dest) => {
                if let Some(value) = event.get(src).filter(|v| !matches!(v, Value::Null)) {
                    let value = value.clone();
                    event.insert(dest, value);
                }
            }
        }
        Ok(())
    }
}

fn rename(event: &mut Event, from: &FieldRef, to: &FieldRef) {
    let (Some(from), Some(to)) = (from.resolve(event), to.resolve(event)) else {
        return;
    };
    if let Some(value) = event.remove(&from) {
        event.insert(&to, value);
    }
}

/// Logstash's merge: two hashes merge (the source's keys win); otherwise both sides are made
/// arrays (a missing side is empty) and concatenated. A hash with a non-hash is skipped.
fn merge(event: &mut Event, dest: &FieldPath, sources: &[FieldPath]) {
    for src in sources {
        let added = event.get(src).cloned();
        let dest_is_map = matches!(event.get(dest), Some(Value::Map(_)));
        let added_is_map = matches!(added, Some(Value::Map(_)));
        if dest_is_map != added_is_map {
            tracing::debug!(%dest, %src, "mutate merge: cannot merge a hash with a non-hash");
            continue;
        }
        match (event.get_mut(dest), added) {
            (Some(Value::Map(into)), Some(Value::Map(from))) => {
                for (k, v) in from {
                    into.insert(k, v);
                }
            }
            (Some(existing), added) => {
                let mut items = match std::mem::replace(existing, Value::Null) {
                    Value::Array(items) => items,
                    Value::Null => Vec::new(),
                    other => vec![other],
                };
                push_all(&mut items, added);
                *existing = Value::Array(items);
            }
            (None, added) => {
                let mut items = Vec::new();
                push_all(&mut items, added);
                event.insert(dest, Value::Array(items));
            }
        }
    }
}

/// Ruby's `Array(value)` appended to `items`: nil adds nothing, an array its elements.
fn push_all(items: &mut Vec<Value>, value: Option<Value>) {
    match value {
        None | Some(Value::Null) => {}
        Some(Value::Array(more)) => items.extend(more),
        Some(other) => items.push(other),
    }
}

/// Ruby's `String#split(sep)`: a single space splits on runs of whitespace ignoring leading
/// whitespace; an empty separator splits into characters; trailing empty strings are dropped.
fn split(s: &Text, separator: &str) -> Vec<Value> {
    let piece = |p: &str| Value::Str(s.substr(p));
    let mut parts: Vec<Value> = if separator == " " {
        s.split(is_ruby_space)
            .filter(|p| !p.is_empty())
            .map(piece)
            .collect()
    } else if separator.is_empty() {
        s.char_indices()
            .map(|(i, c)| piece(&s[i..i + c.len_utf8()]))
            .collect()
    } else {
        s.split(separator).map(piece).collect()
    };
    while parts.last().and_then(Value::as_str) == Some("") {
        parts.pop();
    }
    parts
}

fn is_ruby_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r')
}

/// Ruby's `Array#join`: elements as `to_s`, nested arrays joined recursively, nil as "".
fn join_into(items: &[Value], separator: &str, out: &mut String) {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(separator);
        }
        match item {
            Value::Array(inner) => join_into(inner, separator, out),
            other => {
                let _ = write_ruby_string(other, out);
            }
        }
    }
}

/// Applies `f` to the string at `path`, or to each string of the array there; `f` returns
/// `None` when the string is unchanged.
fn map_strings(event: &mut Event, path: &FieldPath, f: fn(&Text) -> Option<Text>) {
    match event.get_mut(path) {
        Some(Value::Str(s)) => {
            if let Some(new) = f(s) {
                *s = new;
            }
        }
        Some(Value::Array(items)) => {
            for item in items {
                if let Value::Str(s) = item {
                    if let Some(new) = f(s) {
                        *s = new;
                    }
                }
            }
        }
        _ => {}
    }
}

/// An ASCII case change without touching the heap for short strings.
fn ascii_case(s: &str, to_upper: bool) -> Text {
    let change = |b: u8| {
        if to_upper {
            b.to_ascii_uppercase()
        } else {
            b.to_ascii_lowercase()
        }
    };
    if s.len() <= INLINE_CAP {
        let mut buf = [0u8; INLINE_CAP];
        for (dst, b) in buf.iter_mut().zip(s.bytes()) {
            *dst = change(b);
        }
        // ASCII in, ASCII out.
        Text::new(std::str::from_utf8(&buf[..s.len()]).unwrap_or_default())
    } else {
        Text::from_string(s.bytes().map(|b| change(b) as char).collect())
    }
}

fn upper(s: &Text) -> Option<Text> {
    if s.is_ascii() {
        return s
            .bytes()
            .any(|b| b.is_ascii_lowercase())
            .then(|| ascii_case(s, true));
    }
    let up = s.to_uppercase();
    (up != s.as_str()).then(|| Text::from_string(up))
}

fn lower(s: &Text) -> Option<Text> {
    if s.is_ascii() {
        return s
            .bytes()
            .any(|b| b.is_ascii_uppercase())
            .then(|| ascii_case(s, false));
    }
    let low = s.to_lowercase();
    (low != s.as_str()).then(|| Text::from_string(low))
}

/// Ruby's `capitalize`: the first character upper case, the rest lower case.
fn capitalize(s: &Text) -> Option<Text> {
    let mut chars = s.chars();
    let first = chars.next()?;
    let mut out = String::with_capacity(s.len());
    out.extend(first.to_uppercase());
    out.extend(chars.flat_map(char::to_lowercase));
    (out != s.as_str()).then(|| Text::from_string(out))
}

/// Ruby's `strip`: whitespace and NUL at both ends. Strings in an array must all be strings.
fn strip(event: &mut Event, path: &FieldPath) -> Result<(), MutateError> {
    fn strip_text(s: &mut Text) {
        let trimmed = s.trim_matches(|c| c == '\0' || is_ruby_space(c));
        if trimmed.len() != s.len() {
            *s = s.substr(trimmed);
        }
    }
    match event.get_mut(path) {
        Some(Value::Str(s)) => strip_text(s),
        Some(Value::Array(items)) => {
            if let Some(bad) = items.iter().find(|v| !matches!(v, Value::Str(_))) {
                return Err(MutateError::StripNonString(bad.type_name()));
            }
            for item in items {
                if let Value::Str(s) = item {
                    strip_text(s);
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// One `gsub` triple.
#[derive(Debug)]
pub struct Gsub {
    field: FieldPath,
    needle: Needle,
    replacement: Replacement,
}

#[derive(Debug)]
enum Needle {
    Fixed(Regex),
    /// Contains `%{...}`: rendered and compiled per event.
    Dynamic(Template),
}

#[derive(Debug)]
enum Replacement {
    Fixed(RubySub),
    Dynamic(Template),
}

impl Gsub {
    fn apply(&self, event: &mut Event) -> Result<(), MutateError> {
        if !matches!(
            event.get(&self.field),
            Some(Value::Str(_) | Value::Array(_))
        ) {
            return Ok(());
        }
        let dynamic_regex;
        let regex = match &self.needle {
            Needle::Fixed(regex) => regex,
            Needle::Dynamic(template) => {
                let mut source = String::new();
                template.render_into(event, &mut source);
                dynamic_regex = gsub_regex(&source)?;
                &dynamic_regex
            }
        };
        let dynamic_sub;
        let sub = match &self.replacement {
            Replacement::Fixed(sub) => sub,
            Replacement::Dynamic(template) => {
                dynamic_sub = RubySub::parse(&template.render(event));
                &dynamic_sub
            }
        };
        let replace = |s: &mut Text| {
            if let Cow::Owned(new) = regex.replace_all(s, sub) {
                *s = Text::from_string(new);
            }
        };
        match event.get_mut(&self.field) {
            Some(Value::Str(s)) => replace(s),
            Some(Value::Array(items)) => {
                for item in items {
                    if let Value::Str(s) = item {
                        replace(s);
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// A replacement string in Ruby's `gsub` syntax: `\1`..`\9` and `\0` / `\&` for groups,
/// `\k<name>` for named groups, `\+` for the last group, `\\` for a backslash.
#[derive(Debug, Clone, PartialEq)]
pub struct RubySub {
    parts: Vec<SubPart>,
    /// The whole replacement when it has no group references (lets the regex skip captures).
    literal: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
enum SubPart {
    Literal(String),
    Group(usize),
    Named(String),
    LastGroup,
}

impl RubySub {
    pub fn parse(s: &str) -> RubySub {
        let mut parts = Vec::new();
        let mut lit = String::new();
        let mut rest = s;
        while let Some(i) = rest.find('\\') {
            lit.push_str(&rest[..i]);
            let after = &rest[i + 1..];
            let mut chars = after.chars();
            let (part, used) = match chars.next() {
                Some(d @ '0'..='9') => (Some(SubPart::Group(d as usize - '0' as usize)), 1),
                Some('&') => (Some(SubPart::Group(0)), 1),
                Some('+') => (Some(SubPart::LastGroup), 1),
                Some('\\') => {
                    lit.push('\\');
                    (None, 1)
                }
                Some('k') => match after[1..]
                    .strip_prefix('<')
                    .and_then(|r| r.find('>').map(|end| &r[..end]))
                {
                    Some(name) if !name.is_empty() => {
                        (Some(SubPart::Named(name.to_string())), name.len() + 3)
                    }
                    _ => {
                        lit.push('\\');
                        (None, 0)
                    }
                },
                _ => {
                    lit.push('\\');
                    (None, 0)
                }
            };
            if let Some(part) = part {
                if !lit.is_empty() {
                    parts.push(SubPart::Literal(std::mem::take(&mut lit)));
                }
                parts.push(part);
            }
            rest = &after[used..];
        }
        lit.push_str(rest);
        let literal = parts.is_empty().then(|| lit.clone());
        if !lit.is_empty() {
            parts.push(SubPart::Literal(lit));
        }
        RubySub { parts, literal }
    }
}

impl Replacer for &RubySub {
    fn replace_append(&mut self, caps: &Captures<'_>, dst: &mut String) {
        for part in &self.parts {
            let text = match part {
                SubPart::Literal(s) => Some(s.as_str()),
                SubPart::Group(i) => caps.get(*i).map(|m| m.as_str()),
                SubPart::Named(name) => caps.name(name).map(|m| m.as_str()),
                SubPart::LastGroup => (1..caps.len())
                    .rev()
                    .find_map(|i| caps.get(i))
                    .map(|m| m.as_str()),
            };
            dst.push_str(text.unwrap_or(""));
        }
    }

    fn no_expansion(&mut self) -> Option<Cow<'_, str>> {
        self.literal.as_deref().map(Cow::Borrowed)
    }
}

fn convert_field(event: &mut Event, path: &FieldPath, to: ConvertType) -> Result<(), MutateError> {
    match event.get_mut(path) {
        None | Some(Value::Null) | Some(Value::Map(_)) => {}
        Some(Value::Array(items)) => {
            // All or nothing: a failing element leaves the array as it was.
            let mut converted = Vec::with_capacity(items.len());
            for item in items.iter() {
                converted.push(match item {
                    Value::Null => None,
                    other => convert(other, to)?,
                });
            }
            for (item, new) in items.iter_mut().zip(converted) {
                if let Some(new) = new {
                    *item = new;
                }
            }
        }
        Some(value) => {
            if let Some(new) = convert(value, to)? {
                *value = new;
            }
        }
    }
    Ok(())
}

/// Converts one value; `Ok(None)` leaves it as it is.
pub fn convert(value: &Value, to: ConvertType) -> Result<Option<Value>, MutateError> {
    match to {
        ConvertType::Integer => to_integer(value, false).map(Some),
        ConvertType::IntegerEu => to_integer(value, true).map(Some),
        ConvertType::Float => to_float(value, false).map(Some),
        ConvertType::FloatEu => to_float(value, true).map(Some),
        ConvertType::String => Ok(to_string(value)),
        ConvertType::Boolean => Ok(to_boolean(value)),
    }
}

fn convert_error(value: &Value, target: &'static str) -> MutateError {
    let mut text = String::new();
    let _ = write_ruby_string(value, &mut text);
    MutateError::Convert {
        found: value.type_name(),
        text,
        target,
    }
}

/// Prepares a numeric string as Logstash does: strip, drop `,` grouping, lower-case (and for
/// the `_eu` types first swap `,` and `.`). Borrows when nothing changes.
fn normalize_number(s: &str, eu: bool) -> Cow<'_, str> {
    let s = s.trim_matches(|c| c == '\0' || is_ruby_space(c));
    let needs_work = s
        .bytes()
        .any(|b| b == b',' || b.is_ascii_uppercase() || (eu && b == b'.'));
    if !needs_work {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let c = match c {
            ',' if eu => '.',
            '.' if eu => ',',
            other => other,
        };
        if c != ',' {
            out.push(c.to_ascii_lowercase());
        }
    }
    Cow::Owned(out)
}

fn to_integer(value: &Value, eu: bool) -> Result<Value, MutateError> {
    let n = match value {
        Value::Int(n) => Some(*n),
        Value::Bool(b) => Some(*b as i64),
        Value::Float(f) => float_to_int(*f),
        Value::Str(s) => parse_integer(&normalize_number(s, eu)),
        _ => None,
    };
    n.map(Value::Int)
        .ok_or_else(|| convert_error(value, "integer"))
}

fn to_float(value: &Value, eu: bool) -> Result<Value, MutateError> {
    let f = match value {
        Value::Float(f) => Some(*f),
        Value::Int(n) => Some(*n as f64),
        Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
        Value::Str(s) => parse_float(&normalize_number(s, eu)),
        _ => None,
    };
    f.map(Value::Float)
        .ok_or_else(|| convert_error(value, "float"))
}

/// The floats that convert to an `i64` without overflow (NaN is outside every range).
pub(crate) const I64_RANGE: std::ops::Range<f64> =
    -9.223_372_036_854_776e18..9.223_372_036_854_776e18;

/// Ruby's `Integer(float)`: truncation; NaN, infinities and out-of-range values fail.
fn float_to_int(f: f64) -> Option<i64> {
    let t = f.trunc();
    I64_RANGE.contains(&t).then_some(t as i64)
}

/// Logstash's integer parsing of a normalised string: hexadecimal (`0x7b`, or a hex float
/// `0x1.edcdp6` truncated), else a decimal (`123`, `123.45`, `1.2e+02`) truncated toward zero,
/// exactly (as Ruby's BigDecimal does, so `9.007199254740993e+15` stays exact).
fn parse_integer(s: &str) -> Option<i64> {
    let (negative, unsigned) = split_sign(s);
    if let Some(hex) = unsigned.strip_prefix("0x") {
        if !hex.contains('.') {
            let n = i64::from_str_radix(hex, 16)
                .ok()
                .filter(|_| !hex.starts_with(['+', '-']))?;
            return Some(if negative { -n } else { n });
        }
        return float_to_int(parse_hex_float(hex)? * if negative { -1.0 } else { 1.0 });
    }
    parse_decimal_truncated(negative, unsigned)
}

fn split_sign(s: &str) -> (bool, &str) {
    match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    }
}

/// `digits[.digits][e[+-]digits]` truncated to an integer with exact decimal arithmetic.
fn parse_decimal_truncated(negative: bool, s: &str) -> Option<i64> {
    let (mantissa, exponent) = match s.split_once('e') {
        Some((m, e)) => (m, parse_exponent(e)?),
        None => (s, 0),
    };
    let (int_digits, frac_digits) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let all_digits = |d: &str| d.bytes().all(|b| b.is_ascii_digit());
    if int_digits.len() + frac_digits.len() == 0
        || !all_digits(int_digits)
        || !all_digits(frac_digits)
    {
        return None;
    }
    // Digits before the decimal point once the exponent is applied.
    let point = int_digits.len() as i64 + exponent;
    let mut n: i128 = 0;
    let mut taken = 0i64;
    for b in int_digits.bytes().chain(frac_digits.bytes()) {
        if taken >= point {
            break;
        }
        n = n.checked_mul(10)?.checked_add(i128::from(b - b'0'))?;
        taken += 1;
    }
    if n != 0 {
        while taken < point {
            n = n.checked_mul(10)?;
            taken += 1;
        }
    }
    let n = if negative { -n } else { n };
    i64::try_from(n).ok()
}

fn parse_exponent(e: &str) -> Option<i64> {
    let (negative, digits) = split_sign(e);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: i64 = digits.parse().ok().filter(|n| *n < 100_000)?;
    Some(if negative { -n } else { n })
}

/// Ruby's `Float()` on a normalised string: decimal (`1.5`, `1e3`, `-2.0e-3`, no bare `1.`),
/// or hexadecimal (`0x7b`, `0x1.8p+1`). Words like `inf` or `nan` are not numbers.
fn parse_float(s: &str) -> Option<f64> {
    let (negative, unsigned) = split_sign(s);
    let sign = if negative { -1.0 } else { 1.0 };
    if let Some(hex) = unsigned.strip_prefix("0x") {
        return parse_hex_float(hex).map(|f| f * sign);
    }
    let (mantissa, exponent) = match unsigned.split_once('e') {
        Some((m, e)) => (m, Some(e)),
        None => (unsigned, None),
    };
    let (int_digits, frac_digits) = match mantissa.split_once('.') {
        // Ruby rejects a trailing decimal point (`1.`).
        Some((_, "")) => return None,
        Some((i, f)) => (i, f),
        None => (mantissa, ""),
    };
    let digits_ok = |d: &str| d.bytes().all(|b| b.is_ascii_digit());
    let exponent_ok = exponent.is_none_or(|e| parse_exponent(e).is_some());
    if int_digits.len() + frac_digits.len() == 0
        || !digits_ok(int_digits)
        || !digits_ok(frac_digits)
        || !exponent_ok
    {
        return None;
    }
    unsigned.parse::<f64>().ok().map(|f| f * sign)
}

/// Hex digits with an optional fraction and binary exponent: `1.edcdp6` (after `0x`).
fn parse_hex_float(s: &str) -> Option<f64> {
    let (mantissa, exponent) = match s.split_once('p') {
        Some((m, e)) => (m, parse_exponent(e)?),
        None => (s, 0),
    };
    let (int_digits, frac_digits) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int_digits.is_empty() && frac_digits.is_empty() {
        return None;
    }
    let mut value = 0.0f64;
    for c in int_digits.chars().chain(frac_digits.chars()) {
        value = value * 16.0 + f64::from(c.to_digit(16)?);
    }
    let scale = exponent - 4 * frac_digits.len() as i64;
    Some(value * 2f64.powi(scale.clamp(-2000, 2000) as i32))
}

/// Ruby's `to_s` as a new string value; `None` for strings (already strings).
fn to_string(value: &Value) -> Option<Value> {
    match value {
        Value::Str(_) => None,
        Value::Int(n) => Some(Value::Str(Text::new(itoa::Buffer::new().format(*n)))),
        Value::Bool(b) => Some(Value::Str(Text::from_static(if *b {
            "true"
        } else {
            "false"
        }))),
        other => {
            let mut small = StackStr::<64>::new();
            if write_ruby_string(other, &mut small).is_ok() {
                return Some(Value::Str(Text::new(small.as_str())));
            }
            let mut s = String::new();
            let _ = write_ruby_string(other, &mut s);
            Some(Value::Str(Text::from_string(s)))
        }
    }
}

/// Logstash's boolean conversion of `value.to_s`: `true t yes y 1 1.0` (any case) are true,
/// `false f no n 0 0.0` and the empty string false; anything else is left alone.
fn to_boolean(value: &Value) -> Option<Value> {
    if matches!(value, Value::Array(_) | Value::Map(_) | Value::Null) {
        return None;
    }
    let mut text = StackStr::<64>::new();
    let s = match value {
        Value::Str(s) => s.as_str(),
        other => {
            write_ruby_string(other, &mut text).ok()?;
            text.as_str()
        }
    };
    let is_any = |words: &[&str]| words.iter().any(|w| s.eq_ignore_ascii_case(w));
    // In Logstash's regex `1.0` the dot matches any character.
    let one_any_zero = |first: u8| {
        s.len() == 3 && s.as_bytes()[0] == first && s.as_bytes()[2] == b'0' && s.is_char_boundary(2)
    };
    if is_any(&["true", "t", "yes", "y", "1"]) || one_any_zero(b'1') {
        Some(Value::Bool(true))
    } else if s.is_empty() || is_any(&["false", "f", "no", "n", "0"]) || one_any_zero(b'0') {
        Some(Value::Bool(false))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int(s: &str) -> Option<i64> {
        parse_integer(&normalize_number(s, false))
    }

    fn float(s: &str) -> Option<f64> {
        parse_float(&normalize_number(s, false))
    }

    #[test]
    fn integers_parse_as_logstash_8_14_does() {
        assert_eq!(int("123"), Some(123));
        assert_eq!(int(" 1,234 "), Some(1234));
        assert_eq!(int("123.45"), Some(123));
        assert_eq!(int("-123.45"), Some(-123));
        assert_eq!(int("1.230000e+02"), Some(123));
        assert_eq!(int("9.007199254740993e+15"), Some(9007199254740993));
        assert_eq!(int("0x7b"), Some(123));
        assert_eq!(int("0X7B"), Some(123));
        assert_eq!(int("0x1.edcdp6"), Some(123));
        assert_eq!(int("-0x1.edcdp6"), Some(-123));
        assert_eq!(int("1e-3"), Some(0));
        assert_eq!(int("9223372036854775807"), Some(i64::MAX));
        for bad in [
            "",
            "abc",
            "12abc",
            "1.2.3",
            "9223372036854775808",
            "1e99",
            "0x",
            "e5",
        ] {
            assert_eq!(int(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn floats_parse_as_ruby_float_does() {
        assert_eq!(float("3,141.5926"), Some(3141.5926));
        assert_eq!(float("1.234500e+02"), Some(123.45));
        assert_eq!(float("-0x1.edcdp6"), Some(-123.4501953125));
        assert_eq!(float("0x1.8p+1"), Some(3.0));
        assert_eq!(float("0x7b"), Some(123.0));
        assert_eq!(float(".5"), Some(0.5));
        for bad in ["", "inf", "nan", "1.", "abc", "1e", "--1"] {
            assert_eq!(float(bad), None, "{bad:?}");
        }
        assert_eq!(
            parse_float(&normalize_number("1.234.567,8", true)),
            Some(1234567.8)
        );
    }

    #[test]
    fn ruby_replacement_syntax() {
        let sub = RubySub::parse(r"<\1|\k<word>|\0|\\|\q>");
        let re = Regex::new(r"(?<word>\w+)").unwrap();
        assert_eq!(re.replace_all("ab", &sub), r"<ab|ab|ab|\|\q>");
        assert_eq!(RubySub::parse("plain").literal.as_deref(), Some("plain"));
        assert_eq!(RubySub::parse(r"a\\b").literal.as_deref(), Some(r"a\b"));
    }

    #[test]
    fn ruby_split_rules() {
        let strs = |v: Vec<Value>| -> Vec<String> {
            v.iter().map(|x| x.as_str().unwrap().to_string()).collect()
        };
        assert_eq!(strs(split(&"a,b,,".into(), ",")), ["a", "b"]);
        assert_eq!(strs(split(&",a".into(), ",")), ["", "a"]);
        assert_eq!(strs(split(&"  a  b ".into(), " ")), ["a", "b"]);
        assert_eq!(strs(split(&"ab".into(), "")), ["a", "b"]);
        assert!(split(&"".into(), ",").is_empty());
    }
}
