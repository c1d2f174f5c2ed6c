//! The `grok` filter: named regex patterns (`%{IP:client} %{WORD:verb}`) that cut fields out
//! of text, compatible with Logstash's logstash-filter-grok.
//!
//! Layout:
//! - `patterns`: the pattern sets (logstash-patterns-core's legacy and ecs-v1 sets,
//!   `patterns_dir` files, `pattern_definitions`);
//! - `expand`: `%{NAME:field:type}` references to Oniguruma regex text, as Logstash builds it;
//! - `syntax`: that regex text parsed with Ruby's rules;
//! - `emit`: the parsed regex written out for PCRE2 (exact) and the `regex` crate (prefilter);
//! - `engine`: [`engine::Matcher`], running a pattern with per-thread scratch and timeouts.
//!
//! [`GrokOptions`] is the config; [`Grok`] the built filter: per source field, a list of
//! [`GrokPattern`]s, each a matcher plus the captures it stores, in the order Logstash
//! stores them.
//!
//! Semantics kept from Logstash: the patterns of a field run in order and the first match
//! wins (`break_on_match`); with `break_on_match => false` every pattern runs and the *last*
//! one decides whether the field matched; a missing field is matched as an empty string, a
//! number or hash as its Ruby `to_s`, an array element by element; a capture of a group that
//! did not take part, or an empty one, is not stored unless `keep_empty_captures`; a capture
//! into a field that already holds a string makes an array (unless the field is listed in
//! `overwrite`), one into a field holding a number or hash is dropped; `:int` and `:float`
//! convert as Ruby's `to_i` / `to_f`. A timeout tags `_groktimeout` and stops the filter for
//! that event, without `_grokparsefailure` or the common options.
//!
//! Deliberate differences: a pattern stops after PCRE2's step limit, at most about 20 ms of
//! backtracking, even when `timeout_millis` is longer or 0 (see [`engine`]); a line the
//! prefilter proves cannot match fails at once where Logstash might time out on it; a
//! `patterns_dir` entry that matches no file is a build error rather than ignored; in an
//! inline `%{NAME=regex}` a backslash escapes one character (grok's own parser lets one
//! swallow the rest of the pattern).

pub mod debug;
mod emit;
pub mod engine;
mod expand;
pub mod patterns;
mod syntax;

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::config::ast;
use crate::config::options::{EcsCompatibility, OneOrMany, Pairs};
use crate::config::source::Span;
use crate::config::{Diagnostic, Diagnostics, PluginArgs};
use crate::event::ruby::write_ruby_string;
use crate::event::{Event, FieldPath, Text, Value};
use crate::filters::common::failure_tags;

use super::{CommonOptions, Filter};
use engine::{Matcher, MatcherScratch, Outcome};
use patterns::{PatternSet, PatternsDirError};

/// The options of `grok`, as written in the config.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct GrokOptions {
    /// field => pattern or list of patterns (also the old `[field, pattern, ...]` form).
    #[serde(rename = "match")]
    pub match_: Pairs<OneOrMany<String>>,
    pub patterns_dir: OneOrMany<String>,
    /// Which files of a `patterns_dir` directory to read (`*`).
    pub patterns_files_glob: Option<String>,
    /// name => regex, on top of the pattern files.
    pub pattern_definitions: Pairs<String>,
    pub break_on_match: Option<bool>,
    pub named_captures_only: Option<bool>,
    pub keep_empty_captures: Option<bool>,
    /// Fields a capture replaces instead of appending to.
    pub overwrite: OneOrMany<String>,
    /// Where captures go (`[target][field]`); the event's root by default.
    pub target: Option<String>,
    pub tag_on_failure: Option<OneOrMany<String>>,
    /// 0 or less: no timeout.
    pub timeout_millis: Option<f64>,
    pub timeout_scope: Option<TimeoutScope>,
    pub tag_on_timeout: Option<String>,
    pub ecs_compatibility: Option<EcsCompatibility>,
}

/// What `timeout_millis` bounds.
#[derive(Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum TimeoutScope {
    /// Each pattern's search.
    #[default]
    Pattern,
    /// All the patterns tried on one field value.
    Event,
}

/// The built filter.
#[derive(Debug)]
pub struct Grok {
    fields: Vec<SourceField>,
    /// Every field's patterns, flattened; [`SourceField::patterns`] indexes into it.
    patterns: Vec<GrokPattern>,
    break_on_match: bool,
    keep_empty_captures: bool,
    tag_on_failure: Vec<Text>,
    tag_on_timeout: Text,
    /// Set for `timeout_scope => event`: the budget for all patterns of one field value.
    event_timeout: Option<Duration>,
    /// Per-thread matcher state, reused across batches.
    scratch: Mutex<Vec<Scratch>>,
}

/// A field grok reads and the patterns tried on it, in order.
#[derive(Debug)]
struct SourceField {
    name: String,
    path: FieldPath,
    patterns: Vec<usize>,
}

/// One compiled pattern of the `match` option.
#[derive(Debug)]
pub struct GrokPattern {
    /// As written in the config.
    pub source: String,
    matcher: Matcher,
    /// In the order Logstash stores them: by capture name (first appearance), then by group.
    captures: Vec<Capture>,
    /// The top-level fields the captures write.
    keys: KeySet,
}

/// Where one capturing group goes.
#[derive(Debug)]
struct Capture {
    /// PCRE2 group number.
    group: usize,
    path: FieldPath,
    overwrite: bool,
    convert: Convert,
    /// The index of `path` in [`GrokPattern::keys`] when it is a top-level field.
    key: Option<usize>,
}

/// A pattern's top-level capture fields (at most 64), to find the ones an event lacks with
/// one pass over its fields: a capture into a field the event lacks is appended without
/// searching the event's fields for it.
#[derive(Debug, Default)]
struct KeySet {
    keys: Vec<Text>,
    /// Bit `n` is set when some key is `n` bytes long (keys of 64 bytes or more: bit 63).
    lengths: u64,
}

impl KeySet {
    const MAX: usize = 64;

    /// The index of `key`, added if new; `None` once the set is full.
    fn index(&mut self, key: &Text) -> Option<usize> {
        if let Some(i) = self.keys.iter().position(|k| k == key) {
            return Some(i);
        }
        if self.keys.len() == Self::MAX {
            return None;
        }
        self.lengths |= 1 << key.len().min(63);
        self.keys.push(key.clone());
        Some(self.keys.len() - 1)
    }

    /// Bit `i` set for each key `i` that `fields` holds.
    fn present_in(&self, fields: &crate::event::Map) -> u64 {
        let mut present = 0;
        for name in fields.keys() {
            if self.lengths & (1 << name.len().min(63)) == 0 {
                continue;
            }
            let name = name.as_str();
            let same = |k: &Text| k.len() == name.len() && k.as_str() == name;
            if let Some(i) = self.keys.iter().position(same) {
                present |= 1 << i;
            }
        }
        present
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Convert {
    None,
    Int,
    Float,
}

/// One worker's matcher state: one entry per [`GrokPattern`].
struct Scratch(Vec<MatcherScratch>);

impl std::fmt::Debug for Scratch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Scratch({} patterns)", self.0.len())
    }
}

/// The filter gave up on an event (`timeout_millis`).
struct Timeout;

pub fn build(args: &PluginArgs) -> Result<Box<dyn Filter>, Diagnostics> {
    Ok(Box::new(build_grok(args)?))
}

/// Builds the filter itself (for callers that want [`Grok`]'s own methods).
pub fn build_grok(args: &PluginArgs) -> Result<Grok, Diagnostics> {
    let options: GrokOptions = args.options()?;
    let ecs = options
        .ecs_compatibility
        .unwrap_or_else(|| args.ecs_compatibility());
    let set = pattern_set(args, &options, ecs)?;
    let settings = CompileSettings::new(&options);
    let (fields, patterns) = compile_match(args, &options.match_, &set, &settings)?;
    let event_scope = options.timeout_scope == Some(TimeoutScope::Event);
    Ok(Grok {
        fields,
        patterns,
        break_on_match: options.break_on_match.unwrap_or(true),
        keep_empty_captures: options.keep_empty_captures.unwrap_or(false),
        tag_on_failure: failure_tags(options.tag_on_failure, "_grokparsefailure"),
        tag_on_timeout: Text::from(options.tag_on_timeout.as_deref().unwrap_or("_groktimeout")),
        event_timeout: (event_scope && settings.timeout_millis > 0.0)
            .then(|| Duration::from_secs_f64(settings.timeout_millis / 1000.0)),
        scratch: Mutex::new(Vec::new()),
    })
}

/// Compiles `match`: the fields in config order (a field named twice keeps one entry, its
/// pattern lists joined) and every pattern. Reports every bad field and pattern.
fn compile_match(
    args: &PluginArgs,
    matches: &Pairs<OneOrMany<String>>,
    set: &PatternSet,
    settings: &CompileSettings,
) -> Result<(Vec<SourceField>, Vec<GrokPattern>), Diagnostics> {
    let mut errors = Diagnostics::default();
    let mut fields: Vec<SourceField> = Vec::new();
    let mut patterns = Vec::new();
    for (field, list) in &matches.0 {
        let index = match fields.iter().position(|f| &f.name == field) {
            Some(i) => i,
            None => match FieldPath::parse(field) {
                Ok(path) => {
                    fields.push(SourceField {
                        name: field.clone(),
                        path,
                        patterns: Vec::new(),
                    });
                    fields.len() - 1
                }
                Err(e) => {
                    errors.extend(args.error("match", format!("grok: match: {e}")));
                    continue;
                }
            },
        };
        for text in list {
            match compile(text, set, settings) {
                Ok(p) => {
                    fields[index].patterns.push(patterns.len());
                    patterns.push(p);
                }
                Err(e) => errors.push(pattern_diagnostic(args, text, e)),
            }
        }
    }
    if errors.is_empty() {
        Ok((fields, patterns))
    } else {
        Err(errors)
    }
}

/// The definitions this filter compiles against: built-in set, `patterns_dir` files, then
/// `pattern_definitions`, later ones winning.
fn pattern_set(
    args: &PluginArgs,
    options: &GrokOptions,
    ecs: EcsCompatibility,
) -> Result<PatternSet, Diagnostics> {
    let mut set = PatternSet::new(patterns::bundled(ecs).definitions);
    let glob = options.patterns_files_glob.as_deref().unwrap_or("*");
    patterns::pattern_files(&options.patterns_dir, glob)
        .and_then(|files| patterns::load_files(&mut set, &files))
        .map_err(|e: PatternsDirError| args.error("patterns_dir", format!("grok: {e}")))?;
    for (name, definition) in &options.pattern_definitions.0 {
        let definition = definition.strip_suffix('\n').unwrap_or(definition);
        set.insert(name, definition.strip_suffix('\r').unwrap_or(definition));
    }
    Ok(set)
}

/// The options that shape every compiled pattern.
struct CompileSettings {
    named_captures_only: bool,
    /// `[target]` as Logstash normalises it (`target => "grok"` means `[grok]`).
    target: Option<String>,
    overwrite: HashSet<String>,
    timeout_millis: f64,
}

impl CompileSettings {
    fn new(options: &GrokOptions) -> CompileSettings {
        let target = options.target.as_ref().map(|t| {
            if is_bracketed_reference(t) {
                t.clone()
            } else {
                format!("[{}]", t.trim())
            }
        });
        CompileSettings {
            named_captures_only: options.named_captures_only.unwrap_or(true),
            target,
            overwrite: options.overwrite.iter().cloned().collect(),
            timeout_millis: options.timeout_millis.unwrap_or(30_000.0),
        }
    }

    /// PCRE2's step limit for `timeout_millis` (see [`engine`]); no timeout still has
    /// PCRE2's own limit.
    fn steps(&self) -> u64 {
        if self.timeout_millis <= 0.0 {
            return engine::MAX_STEPS;
        }
        let steps = self.timeout_millis * engine::STEPS_PER_MILLI as f64;
        (steps as u64).clamp(1_000, engine::MAX_STEPS)
    }
}

/// Logstash's `/\[.*?\]/` test on `target`.
fn is_bracketed_reference(s: &str) -> bool {
    s.find('[').is_some_and(|open| s[open..].contains(']'))
}

/// Why one pattern of `match` could not be compiled.
#[derive(Debug, thiserror::Error)]
enum PatternError {
    #[error(transparent)]
    Expand(#[from] expand::ExpandError),
    #[error("grok: invalid regex in \"{pattern}\": {source}")]
    Syntax {
        pattern: String,
        source: syntax::SyntaxError,
    },
    #[error("grok: invalid regex in \"{pattern}\": {source}")]
    Engine {
        pattern: String,
        source: engine::CompileError,
    },
    #[error("grok: invalid field name \"{field}\" in \"{pattern}\": {source}")]
    Field {
        field: String,
        pattern: String,
        source: crate::event::PathError,
    },
}

fn compile(
    text: &str,
    set: &PatternSet,
    settings: &CompileSettings,
) -> Result<GrokPattern, PatternError> {
    let expanded = expand::expand(text, set, settings.named_captures_only)?;
    let regex = syntax::parse(&expanded).map_err(|source| PatternError::Syntax {
        pattern: text.to_string(),
        source,
    })?;
    let relaxed = emit::relaxed(&regex);
    let literals = emit::required_literals(&regex);
    let build = |pcre: String| {
        let pcre = format!("{}{pcre}", emit::PCRE2_PREAMBLE);
        Matcher::new(&pcre, settings.steps(), relaxed.as_deref(), &literals)
    };
    let matcher = match build(emit::pcre2(&regex)) {
        Err(e) if e.is_too_large() => build(emit::pcre2_shared(&regex)),
        other => other,
    }
    .map_err(|source| PatternError::Engine {
        pattern: text.to_string(),
        source,
    })?;
    let mut captures =
        captures(&regex, settings).map_err(|(field, source)| PatternError::Field {
            field,
            pattern: text.to_string(),
            source,
        })?;
    let mut keys = KeySet::default();
    for capture in &mut captures {
        if let ([key], false) = (capture.path.segments(), capture.path.is_metadata()) {
            capture.key = keys.index(key);
        }
    }
    Ok(GrokPattern {
        source: text.to_string(),
        matcher,
        captures,
        keys,
    })
}

/// The captures of `regex` in Logstash's order: distinct group names in order of first
/// appearance, each with all its groups. A name is grok's `PATTERN:field:type` (or a plain
/// `(?<field>...)`); as in Logstash, `field` defaults to `PATTERN` and only `int` and `float`
/// are types.
fn captures(
    regex: &syntax::Regex,
    settings: &CompileSettings,
) -> Result<Vec<Capture>, (String, crate::event::PathError)> {
    let mut names: Vec<&str> = Vec::new();
    for group in &regex.groups {
        if let Some(name) = group.name.as_deref() {
            if !names.contains(&name) {
                names.push(name);
            }
        }
    }
    let mut captures = Vec::new();
    for name in names {
        let parts = ruby_split_colon(name);
        let field = parts.get(1).or(parts.first()).copied().unwrap_or("");
        let convert = match parts.get(2).copied() {
            Some("int") => Convert::Int,
            Some("float") => Convert::Float,
            _ => Convert::None,
        };
        let path =
            capture_path(settings.target.as_deref(), field).map_err(|e| (field.to_string(), e))?;
        let overwrite = settings.overwrite.contains(field);
        for (i, group) in regex.groups.iter().enumerate() {
            if group.name.as_deref() == Some(name) {
                captures.push(Capture {
                    group: i + 1,
                    path: path.clone(),
                    overwrite,
                    convert,
                    key: None,
                });
            }
        }
    }
    Ok(captures)
}

/// Ruby's `name.split(":")`: trailing empty parts dropped.
fn ruby_split_colon(name: &str) -> Vec<&str> {
    let mut parts: Vec<&str> = name.split(':').collect();
    while parts.last().is_some_and(|p| p.is_empty()) {
        parts.pop();
    }
    parts
}

/// `field` under `target`: Logstash writes `"#{target}[#{field}]"`, so a bracketed field
/// (`[source][ip]`) nests under the target.
fn capture_path(target: Option<&str>, field: &str) -> Result<FieldPath, crate::event::PathError> {
    let field_path = FieldPath::parse(field)?;
    let Some(target) = target else {
        return Ok(field_path);
    };
    let mut text = FieldPath::parse(target)?.to_string();
    if field.starts_with('[') {
        text.push_str(field);
    } else {
        text.push('[');
        text.push_str(field);
        text.push(']');
    }
    FieldPath::parse(&text)
}

/// A diagnostic at the pattern's own string in the config when it can be found.
fn pattern_diagnostic(args: &PluginArgs, text: &str, error: PatternError) -> Diagnostic {
    let span = args
        .attribute("match")
        .and_then(|a| find_string(&a.value, text))
        .unwrap_or_else(|| args.span_of("match"));
    let help = match &error {
        PatternError::Expand(e) => e.help(),
        _ => None,
    };
    let message = match &error {
        PatternError::Expand(e) => format!("grok: {e}"),
        other => other.to_string(),
    };
    let diagnostic = Diagnostic::new(span, message);
    match help {
        Some(h) => diagnostic.with_help(h),
        None => diagnostic,
    }
}

/// The span of a string value equal to `text` inside `value`.
fn find_string(value: &crate::config::Spanned<ast::Value>, text: &str) -> Option<Span> {
    match &value.node {
        ast::Value::String(s) if s == text => Some(value.span),
        ast::Value::Array(items) => items.iter().find_map(|v| find_string(v, text)),
        ast::Value::Hash(entries) => entries.iter().find_map(|e| find_string(&e.value, text)),
        _ => None,
    }
}

impl Grok {
    /// The compiled patterns, in config order.
    pub fn patterns(&self) -> &[GrokPattern] {
        &self.patterns
    }

    fn take_scratch(&self) -> Scratch {
        let pooled = self.scratch.lock().unwrap_or_else(|e| e.into_inner()).pop();
        pooled
            .unwrap_or_else(|| Scratch(self.patterns.iter().map(|p| p.matcher.scratch()).collect()))
    }

    fn give_back(&self, scratch: Scratch) {
        self.scratch
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(scratch);
    }

    /// Groks one event; true when it matched.
    fn run(&self, event: &mut Event, scratch: &mut Scratch) -> bool {
        let mut matched = false;
        for field in &self.fields {
            match self.match_field(field, event, scratch) {
                Ok(true) => {
                    matched = true;
                    if self.break_on_match {
                        break;
                    }
                }
                Ok(false) => {}
                Err(Timeout) => {
                    event.add_tag(self.tag_on_timeout.clone());
                    return false;
                }
            }
        }
        if !matched {
            for tag in &self.tag_on_failure {
                event.add_tag(tag.clone());
            }
        }
        matched
    }

    fn match_field(
        &self,
        field: &SourceField,
        event: &mut Event,
        scratch: &mut Scratch,
    ) -> Result<bool, Timeout> {
        match event.get(&field.path) {
            Some(Value::Array(items)) => {
                let inputs: Vec<Text> = items.iter().map(ruby_to_s).collect();
                let mut success = false;
                for input in &inputs {
                    success |= self.match_value(field, input, event, scratch)?;
                }
                Ok(success)
            }
            value => {
                let input = value.map_or(Text::EMPTY, ruby_to_s);
                self.match_value(field, &input, event, scratch)
            }
        }
    }

    /// Tries `field`'s patterns on one value; the last pattern tried decides the result.
    fn match_value(
        &self,
        field: &SourceField,
        input: &Text,
        event: &mut Event,
        scratch: &mut Scratch,
    ) -> Result<bool, Timeout> {
        let started = self.event_timeout.map(|_| Instant::now());
        let mut matched = false;
        for &i in &field.patterns {
            let pattern = &self.patterns[i];
            let state = &mut scratch.0[i];
            match pattern.matcher.search(state, input) {
                Outcome::Match => {
                    matched = true;
                    self.store(pattern, state, input, event);
                }
                Outcome::NoMatch => matched = false,
                Outcome::Limit => {
                    log_timeout(pattern, field, input);
                    return Err(Timeout);
                }
            }
            if let (Some(started), Some(limit)) = (started, self.event_timeout) {
                if started.elapsed() > limit {
                    log_timeout(pattern, field, input);
                    return Err(Timeout);
                }
            }
            if matched && self.break_on_match {
                break;
            }
        }
        Ok(matched)
    }

    fn store(
        &self,
        pattern: &GrokPattern,
        state: &MatcherScratch,
        input: &Text,
        event: &mut Event,
    ) {
        let mut present = pattern.keys.present_in(event.fields());
        for capture in &pattern.captures {
            let part = state
                .group(capture.group)
                .and_then(|(start, end)| input.as_str().get(start..end));
            let value = match part {
                None => Value::Null,
                Some(s) => match capture.convert {
                    Convert::None => Value::Str(input.substr(s)),
                    Convert::Int => ruby_to_i(s),
                    Convert::Float => Value::Float(ruby_to_f(s)),
                },
            };
            let empty = match &value {
                Value::Null => true,
                Value::Str(s) => s.is_empty(),
                _ => false,
            };
            if empty && !self.keep_empty_captures {
                continue;
            }
            match capture.key {
                Some(i) if present & (1 << i) == 0 => {
                    present |= 1 << i;
                    event
                        .fields_mut()
                        .push_new(pattern.keys.keys[i].clone(), value);
                }
                _ => store_capture(event, capture, value),
            }
        }
    }
}

/// Logstash's `handle`: set, append to an array, or make an array of an existing string.
fn store_capture(event: &mut Event, capture: &Capture, value: Value) {
    let path = &capture.path;
    if let [key] = path.segments() {
        // One scan of the map instead of a lookup and then an insert.
        let root = if path.is_metadata() {
            event.metadata_mut()
        } else {
            event.fields_mut()
        };
        let slot = root.get_or_insert_with(key, || Value::Null);
        if capture.overwrite {
            *slot = value;
        } else {
            add_to(slot, value);
        }
        return;
    }
    if !capture.overwrite {
        if let Some(existing) = event.get_mut(path) {
            add_to(existing, value);
            return;
        }
    }
    event.insert(path, value);
}

/// Adds a capture to a field's current value, as Logstash's `handle` does without overwrite.
fn add_to(existing: &mut Value, value: Value) {
    match existing {
        Value::Null => *existing = value,
        Value::Array(items) => items.push(value),
        Value::Str(_) => {
            let old = std::mem::replace(existing, Value::Null);
            *existing = Value::Array(vec![old, value]);
        }
        // Logstash keeps a number, hash, ... and drops the capture.
        _ => {}
    }
}

fn log_timeout(pattern: &GrokPattern, field: &SourceField, input: &str) {
    let shown = match input.char_indices().nth(255) {
        None => input.to_string(),
        Some((cut, _)) => format!(
            "Value too large to output ({} bytes)! First 255 chars are: {}",
            input.len(),
            &input[..cut]
        ),
    };
    tracing::warn!(
        "Timeout executing grok '{}' against field '{}' with value '{}'!",
        pattern.source,
        field.name,
        shown
    );
}

/// A field value as the text grok matches: Ruby's `to_s` (strings as they are, `nil` empty).
fn ruby_to_s(value: &Value) -> Text {
    match value {
        Value::Str(s) => s.clone(),
        Value::Null => Text::EMPTY,
        other => {
            let mut s = String::new();
            let _ = write_ruby_string(other, &mut s);
            Text::from_string(s)
        }
    }
}

/// Ruby's `String#to_i`: leading whitespace, a sign, digits (single underscores between
/// them allowed); anything else ends the number; no digits is 0. Beyond 64 bits Ruby makes a
/// big integer; the nearest float stands in for it.
fn ruby_to_i(s: &str) -> Value {
    let (negative, digits) = ruby_number_prefix(s);
    let mut n: i64 = 0;
    for d in digits.bytes().filter(u8::is_ascii_digit) {
        match n
            .checked_mul(10)
            .and_then(|n| n.checked_add(i64::from(d - b'0')))
        {
            Some(v) => n = v,
            None => {
                let f: f64 = digits.replace('_', "").parse().unwrap_or(f64::MAX);
                return Value::Float(if negative { -f } else { f });
            }
        }
    }
    Value::Int(if negative { -n } else { n })
}

/// Skips Ruby's leading whitespace and sign; returns the sign and the digit run (with its
/// underscores).
fn ruby_number_prefix(s: &str) -> (bool, &str) {
    let s = s.trim_start_matches(|c: char| c.is_ascii_whitespace() || c == '\x0b');
    let (negative, s) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    (negative, &s[..digit_run(s)])
}

/// The length of the leading `digit(_?digit)*` run of `s`.
fn digit_run(s: &str) -> usize {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let digit = b[i].is_ascii_digit();
        let joining_underscore =
            b[i] == b'_' && i > 0 && b.get(i + 1).is_some_and(u8::is_ascii_digit);
        if !(digit || joining_underscore) {
            break;
        }
        i += 1;
    }
    i
}

/// Ruby's `String#to_f`: the longest prefix that reads as a decimal float (sign, digits,
/// fraction, exponent; underscores between digits); 0.0 when there is none.
fn ruby_to_f(s: &str) -> f64 {
    let s = s.trim_start_matches(|c: char| c.is_ascii_whitespace() || c == '\x0b');
    let b = s.as_bytes();
    let mut end = usize::from(matches!(b.first(), Some(b'-' | b'+')));
    let int_len = digit_run(&s[end..]);
    end += int_len;
    let mut mantissa_digits = int_len;
    if b.get(end) == Some(&b'.') {
        let frac = digit_run(&s[end + 1..]);
        if frac > 0 {
            end += 1 + frac;
            mantissa_digits += frac;
        }
    }
    if mantissa_digits == 0 {
        return 0.0;
    }
    if matches!(b.get(end), Some(b'e' | b'E')) {
        let mut e = end + 1;
        if matches!(b.get(e), Some(b'-' | b'+')) {
            e += 1;
        }
        let exp = digit_run(&s[e..]);
        if exp > 0 {
            end = e + exp;
        }
    }
    s[..end].replace('_', "").parse().unwrap_or(0.0)
}

impl Filter for Grok {
    fn apply(&self, event: &mut Event) -> bool {
        let mut scratch = self.take_scratch();
        let matched = self.run(event, &mut scratch);
        self.give_back(scratch);
        matched
    }

    fn filter(&self, events: &mut Vec<Event>, common: &CommonOptions) {
        let mut scratch = self.take_scratch();
        let mut matched = 0u64;
        for event in events.iter_mut() {
            if self.run(event, &mut scratch) {
                matched += 1;
                if !event.is_cancelled() {
                    common.apply(event);
                }
            }
        }
        self.give_back(scratch);
        // grok.matches / grok.failures: one add each per batch.
        let counters = crate::metrics::process::counters();
        crate::metrics::process::add(&counters.grok_matches, matched);
        let failed = events.len() as u64 - matched;
        crate::metrics::process::add(&counters.grok_failures, failed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> CompileSettings {
        CompileSettings::new(&GrokOptions::default())
    }

    #[test]
    fn every_legacy_pattern_compiles_and_most_get_a_dfa_prefilter() {
        let bundled = patterns::bundled(EcsCompatibility::Disabled);
        let set = PatternSet::new(bundled.definitions);
        let mut names: Vec<&str> = bundled.definitions.keys().copied().collect();
        names.sort_unstable();
        let mut without_dfa = Vec::new();
        for name in &names {
            let pattern = compile(&format!("%{{{name}}}"), &set, &settings())
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            if !pattern.matcher.has_dfa() {
                without_dfa.push(*name);
            }
        }
        assert!(
            without_dfa.is_empty(),
            "no DFA prefilter for {without_dfa:?}"
        );
    }

    /// The prefilters may only reject lines that do not match: checked for every legacy
    /// pattern against the compatibility cases' inputs (hundreds of formats) and corpus lines.
    #[test]
    fn prefilters_never_reject_a_matching_line() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let read = |p: &str| std::fs::read_to_string(root.join(p)).unwrap_or_default();
        let mut lines: Vec<String> = read("../shared/compat/grok_cases.jsonl")
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter_map(|c| c["input"].as_str().map(str::to_string))
            .collect();
        lines.extend(
            read("../shared/corpus/access/apache/apache_logs")
                .lines()
                .take(100)
                .map(str::to_string),
        );
        assert!(lines.len() > 400, "compatibility cases not found");
        let bundled = patterns::bundled(EcsCompatibility::Disabled);
        let set = PatternSet::new(bundled.definitions);
        let mut checked = 0;
        for name in bundled.definitions.keys() {
            let pattern = compile(&format!("%{{{name}}}"), &set, &settings()).unwrap();
            let mut scratch = pattern.matcher.scratch();
            for line in &lines {
                if pattern.matcher.search_exact(&mut scratch, line) == Outcome::Match {
                    checked += 1;
                    assert!(
                        pattern.matcher.may_match(line.as_bytes()),
                        "{name} on {line:?}"
                    );
                }
            }
        }
        assert!(checked > 1000, "only {checked} matches checked");
    }

    #[test]
    fn ruby_to_i_reads_the_leading_integer() {
        assert_eq!(ruby_to_i("400"), Value::Int(400));
        assert_eq!(ruby_to_i("  -12abc"), Value::Int(-12));
        assert_eq!(ruby_to_i("1_000"), Value::Int(1000));
        assert_eq!(ruby_to_i("1__0"), Value::Int(1));
        assert_eq!(ruby_to_i("12.9"), Value::Int(12));
        assert_eq!(ruby_to_i("abc"), Value::Int(0));
        assert_eq!(ruby_to_i(""), Value::Int(0));
        assert_eq!(ruby_to_i("99999999999999999999"), Value::Float(1e20));
    }

    #[test]
    fn ruby_to_f_reads_the_leading_float() {
        assert_eq!(ruby_to_f("454.33"), 454.33);
        assert_eq!(ruby_to_f("-1e3x"), -1000.0);
        assert_eq!(ruby_to_f(".5"), 0.5);
        assert_eq!(ruby_to_f("1."), 1.0);
        assert_eq!(ruby_to_f("1e"), 1.0);
        assert_eq!(ruby_to_f("7.3e-05"), 7.3e-05);
        assert_eq!(ruby_to_f("N/A"), 0.0);
        assert_eq!(ruby_to_f("-"), 0.0);
    }

    #[test]
    fn targets_and_bracketed_fields_nest() {
        let path = |t: Option<&str>, f: &str| capture_path(t, f).unwrap().to_string();
        assert_eq!(path(None, "clientip"), "[clientip]");
        assert_eq!(path(Some("[grok]"), "clientip"), "[grok][clientip]");
        assert_eq!(path(Some("[grok]"), "[source][ip]"), "[grok][source][ip]");
        assert_eq!(path(Some("[@metadata][grok]"), "x"), "[@metadata][grok][x]");
        assert!(capture_path(None, "a[b").is_err());
    }

    #[test]
    fn capture_names_split_like_ruby() {
        assert_eq!(ruby_split_colon("NUMBER:foo:int"), ["NUMBER", "foo", "int"]);
        assert_eq!(ruby_split_colon("foo"), ["foo"]);
        assert_eq!(ruby_split_colon("IP:[source][ip]:"), ["IP", "[source][ip]"]);
    }
}
