//! The `prune` filter: removes top-level fields by name or by value.
//!
//! As logstash-filter-prune does, on the event's top-level fields (`@timestamp` and `@version`
//! included, `@metadata` never):
//! - `whitelist_names`: fields whose name matches none of these regexes are removed;
//! - `blacklist_names` (default `%\{[^}]+\}`, names left with an unresolved sprintf reference):
//!   fields whose name matches one of them are removed;
//! - `whitelist_values` / `blacklist_values` (field => regex): a string field whose value does not
//!   match / matches is removed; an array field loses the elements that do not match / match, and
//!   is removed when none would be left;
//! - `interpolate`: the names and regexes are sprintf templates rendered per event (the compiled
//!   regexes are cached per worker thread).
//!
//! Regexes are unanchored searches with Ruby's line anchors (`^`/`$` at line ends), compiled once
//! at build time unless `interpolate` is set. The common options always apply.
//!
//! [`Prune`] is the built filter.

use std::cell::RefCell;
use std::collections::HashMap;

use fancy_regex::{Regex, RegexBuilder};
use serde::Deserialize;

use crate::config::options::{OneOrMany, Pairs};
use crate::config::{Diagnostics, PluginArgs};
use crate::event::ruby::write_ruby_string;
use crate::event::sprintf::Template;
use crate::event::{Event, Map, Text, Value};

use super::Filter;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PruneOptions {
    #[serde(default)]
    interpolate: bool,
    #[serde(default)]
    whitelist_names: OneOrMany<String>,
    #[serde(default = "default_blacklist")]
    blacklist_names: OneOrMany<String>,
    #[serde(default)]
    whitelist_values: Pairs<String>,
    #[serde(default)]
    blacklist_values: Pairs<String>,
}

fn default_blacklist() -> Vec<String> {
    vec![r"%\{[^}]+\}".to_string()]
}

/// A regex, compiled once or rendered and compiled per event.
#[derive(Debug)]
enum Pattern {
    Fixed(Regex),
    Interpolated(Template),
}

/// A field name, fixed or rendered per event.
#[derive(Debug)]
enum Key {
    Fixed(String),
    Interpolated(Template),
}

/// A `*_values` entry.
#[derive(Debug)]
struct ValueRule {
    key: Key,
    pattern: Pattern,
}

/// The built filter.
#[derive(Debug)]
pub struct Prune {
    /// Empty: no whitelist.
    whitelist_names: Vec<Pattern>,
    blacklist_names: Vec<Pattern>,
    whitelist_values: Vec<ValueRule>,
    blacklist_values: Vec<ValueRule>,
}

pub fn build(args: &PluginArgs) -> Result<Box<dyn Filter>, Diagnostics> {
    let options: PruneOptions = args.options()?;
    let mut errors = Diagnostics::default();
    let mut names = |option: &str, list: &[String]| -> Vec<Pattern> {
        if options.interpolate {
            list.iter()
                .filter_map(|s| template(args, option, s, &mut errors))
                .map(Pattern::Interpolated)
                .collect()
        } else if list.is_empty() {
            Vec::new()
        } else {
            // One alternation, as Logstash's `Regexp.union`: one search per field name.
            let union = list
                .iter()
                .map(|p| format!("(?:{p})"))
                .collect::<Vec<_>>()
                .join("|");
            let checked = list
                .iter()
                .all(|p| regex(args, option, p, &mut errors).is_some());
            match checked.then(|| compile(&union).ok()).flatten() {
                Some(re) => vec![Pattern::Fixed(re)],
                None => Vec::new(),
            }
        }
    };
    let whitelist_names = names("whitelist_names", &options.whitelist_names);
    let blacklist_names = names("blacklist_names", &options.blacklist_names);
    let mut rules = |option: &str, pairs: &Pairs<String>| -> Vec<ValueRule> {
        let mut out = Vec::with_capacity(pairs.0.len());
        for (key, value) in &pairs.0 {
            let rule = if options.interpolate {
                let key = template(args, option, key, &mut errors).map(Key::Interpolated);
                let pattern = template(args, option, value, &mut errors).map(Pattern::Interpolated);
                key.zip(pattern)
            } else {
                regex(args, option, value, &mut errors)
                    .map(|re| (Key::Fixed(key.clone()), Pattern::Fixed(re)))
            };
            out.extend(rule.map(|(key, pattern)| ValueRule { key, pattern }));
        }
        out
    };
    let whitelist_values = rules("whitelist_values", &options.whitelist_values);
    let blacklist_values = rules("blacklist_values", &options.blacklist_values);
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Box::new(Prune {
        whitelist_names,
        blacklist_names,
        whitelist_values,
        blacklist_values,
    }))
}

fn template(
    args: &PluginArgs,
    option: &str,
    source: &str,
    errors: &mut Diagnostics,
) -> Option<Template> {
    Template::parse(source)
        .map_err(|e| errors.extend(args.error(option, format!("prune: {option}: {e}"))))
        .ok()
}

fn regex(args: &PluginArgs, option: &str, source: &str, errors: &mut Diagnostics) -> Option<Regex> {
    compile(source)
        .map_err(|e| {
            errors.extend(args.error(
                option,
                format!("prune: {option}: `{source}` is not a valid regex: {e}"),
            ))
        })
        .ok()
}

/// Ruby regexes: `^` and `$` match at line boundaries.
fn compile(source: &str) -> Result<Regex, fancy_regex::Error> {
    RegexBuilder::new(source)
        .multi_line(true)
        .oniguruma_mode(true)
        .build()
}

impl Filter for Prune {
    fn apply(&self, event: &mut Event) -> bool {
        let plan = self.plan(event);
        for removal in plan {
            match removal {
                Removal::Field(name) => {
                    event.fields_mut().remove(&name);
                }
                Removal::Elements(name, kept) => {
                    if event.get_field(&name).is_some() {
                        event.set_field(name, Value::Array(kept));
                    }
                }
            }
        }
        true
    }
}

/// What to remove from one event, decided on the event as it was before any removal.
enum Removal {
    Field(Text),
    /// The field keeps these elements of its array.
    Elements(Text, Vec<Value>),
}

impl Prune {
    fn plan(&self, event: &Event) -> Vec<Removal> {
        let fields = event.fields();
        let mut plan = Vec::new();
        if !self.whitelist_names.is_empty() {
            for key in fields.keys() {
                if !any_matches(&self.whitelist_names, event, key) {
                    plan.push(Removal::Field(key.clone()));
                }
            }
        }
        if !self.blacklist_names.is_empty() {
            for key in fields.keys() {
                if any_matches(&self.blacklist_names, event, key) {
                    plan.push(Removal::Field(key.clone()));
                }
            }
        }
        for rule in &self.whitelist_values {
            rule.decide(event, fields, false, &mut plan);
        }
        for rule in &self.blacklist_values {
            rule.decide(event, fields, true, &mut plan);
        }
        // A field removed whole stays removed, whatever else was decided for it.
        let removed: Vec<Text> = plan
            .iter()
            .filter_map(|r| match r {
                Removal::Field(name) => Some(name.clone()),
                Removal::Elements(..) => None,
            })
            .collect();
        plan.retain(|r| match r {
            Removal::Elements(name, _) => !removed.contains(name),
            Removal::Field(_) => true,
        });
        plan
    }
}

impl ValueRule {
    /// Adds to `plan` what this rule removes: with `remove_matching`, the values that match
    /// (blacklist); otherwise those that do not (whitelist).
    fn decide(&self, event: &Event, fields: &Map, remove_matching: bool, plan: &mut Vec<Removal>) {
        let key_text;
        let key = match &self.key {
            Key::Fixed(k) => k.as_str(),
            Key::Interpolated(t) => {
                key_text = t.render(event);
                key_text.as_str()
            }
        };
        let Some(value) = fields.get(key).filter(|v| v.is_truthy_for_ruby()) else {
            return;
        };
        let doomed = |v: &Value| match matches(&self.pattern, event, v) {
            Some(matched) => matched == remove_matching,
            None => false,
        };
        match value {
            Value::Array(items) => {
                let removed = items.iter().filter(|v| doomed(v)).count();
                if removed == items.len() {
                    plan.push(Removal::Field(Text::new(key)));
                } else if removed > 0 {
                    let kept = items.iter().filter(|v| !doomed(v)).cloned().collect();
                    plan.push(Removal::Elements(Text::new(key), kept));
                }
            }
            other => {
                if doomed(other) {
                    plan.push(Removal::Field(Text::new(key)));
                }
            }
        }
    }
}

/// Ruby truthiness (only `nil` and `false` are false), which is what Logstash tests here.
trait RubyTruthy {
    fn is_truthy_for_ruby(&self) -> bool;
}

impl RubyTruthy for Value {
    fn is_truthy_for_ruby(&self) -> bool {
        !matches!(self, Value::Null | Value::Bool(false))
    }
}

/// Whether `value` matches `pattern`; `None` for values a regex cannot be applied to (hashes,
/// nulls), which are never removed by value.
fn matches(pattern: &Pattern, event: &Event, value: &Value) -> Option<bool> {
    let mut text = String::new();
    let s = match value {
        Value::Str(s) => s.as_str(),
        Value::Map(_) | Value::Null | Value::Array(_) => return None,
        scalar => {
            let _ = write_ruby_string(scalar, &mut text);
            &text
        }
    };
    Some(pattern_matches(pattern, event, s))
}

fn any_matches(patterns: &[Pattern], event: &Event, text: &str) -> bool {
    patterns.iter().any(|p| pattern_matches(p, event, text))
}

fn pattern_matches(pattern: &Pattern, event: &Event, text: &str) -> bool {
    match pattern {
        Pattern::Fixed(re) => re.is_match(text).unwrap_or(false),
        Pattern::Interpolated(t) => t.with_rendered(event, |source| cached_match(source, text)),
    }
}

/// Most interpolated patterns render to the same few strings, so each worker keeps what it
/// compiled; a pattern that does not compile never matches.
fn cached_match(source: &str, text: &str) -> bool {
    const MAX_CACHED: usize = 1024;
    thread_local! {
        static CACHE: RefCell<HashMap<String, Option<Regex>>> = RefCell::new(HashMap::new());
    }
    CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        if !cache.contains_key(source) {
            if cache.len() >= MAX_CACHED {
                cache.clear();
            }
            let compiled = compile(source)
                .map_err(|e| tracing::debug!(pattern = source, error = %e, "prune: invalid regex"))
                .ok();
            cache.insert(source.to_string(), compiled);
        }
        cache
            .get(source)
            .and_then(Option::as_ref)
            .is_some_and(|re| re.is_match(text).unwrap_or(false))
    })
}
