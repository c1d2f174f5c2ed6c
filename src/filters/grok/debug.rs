//! The sandbox's grok debugger: for one grok filter and one event, which pattern of each
//! `match` list matched and what each capture took, or, when nothing matched, how far the
//! line matched, which is the question `_grokparsefailure` leaves users with.
//!
//! [`explain`] builds the filter with [`super::build_grok`] (the same pattern set, expansion
//! and PCRE2 matcher as the filter in a pipeline) and walks its fields and patterns the way
//! [`super::Grok`] does, recording what happens in an [`Explanation`]:
//! [`FieldExplanation`] per value grok reads, [`PatternExplanation`] per pattern tried,
//! [`CaptureExplanation`] per capture, [`PrefixExplanation`] for a pattern that did not match.
//!
//! How far a pattern matched: the pattern is cut into parts (`split_parts`): top-level
//! `%{...}` references, groups, character classes, escapes (each with its quantifier), runs
//! of literal characters and runs of spaces. A reference without a field to a definition
//! that is itself a sequence (`%{COMBINEDAPACHELOG}`) is replaced by its definition's parts,
//! so the answer names the `%{HTTPDATE:timestamp}` that failed rather than the whole log
//! format. Each prefix of the parts is compiled as a grok pattern of its own and searched
//! unanchored, as grok searches; the longest prefix that matches somewhere is reported with
//! where it matched and its captures. A pattern with a top-level alternation is one part.
//!
//! Offsets are in characters (Unicode scalar values) of the value, for highlighting in a
//! browser. An array field is explained element by element, one [`FieldExplanation`] each,
//! as the filter matches each element. What is not reproduced: `timeout_scope => event`'s
//! wall-clock budget (each pattern's step limit is).

use std::collections::HashSet;

use serde::Serialize;

use super::engine::{Matcher, MatcherScratch, Outcome};
use super::patterns::PatternSet;
use super::{
    build_grok, emit, expand, pattern_set, ruby_split_colon, ruby_to_s, syntax, Capture,
    CompileSettings, Convert, Grok, GrokOptions, GrokPattern, SourceField,
};
use crate::config::{Diagnostics, PluginArgs};
use crate::event::{Event, Text, Value};
use crate::filters::common;
use crate::filters::CommonOptions;

/// The most parts a pattern is cut into; the tail beyond is one part.
const MAX_PARTS: usize = 48;

/// How deep references are replaced by their definitions' parts.
const MAX_UNWRAP_DEPTH: usize = 8;

/// What one grok filter does with one event.
#[derive(Debug, Serialize)]
pub struct Explanation {
    pub break_on_match: bool,
    /// Whether the filter succeeds on the event (no `_grokparsefailure`).
    pub matched: bool,
    /// A pattern hit the step limit: the filter tags `_groktimeout` and stops.
    pub timed_out: bool,
    /// One entry per value grok reads, in the order it reads them.
    pub fields: Vec<FieldExplanation>,
}

/// One value of a `match` field and its patterns.
#[derive(Debug, Serialize)]
pub struct FieldExplanation {
    /// The field as written in `match`.
    pub field: String,
    /// The array index when the field holds an array (grok matches each element).
    pub element: Option<usize>,
    /// The text grok matches (a missing field is matched as "", like the filter does).
    pub value: String,
    pub present: bool,
    /// False when the filter does not get to this value: an earlier field matched with
    /// `break_on_match`, an earlier pattern timed out, or the field is an empty array.
    pub tried: bool,
    pub matched: bool,
    /// The index of the pattern that decides: the last one tried, when it matched.
    pub winner: Option<usize>,
    pub timed_out: bool,
    pub patterns: Vec<PatternExplanation>,
}

/// One pattern of a field's list.
#[derive(Debug, Serialize)]
pub struct PatternExplanation {
    /// As written in the config.
    pub pattern: String,
    /// False for patterns after the winner (`break_on_match`) or after a timeout.
    pub tried: bool,
    pub matched: bool,
    pub timed_out: bool,
    /// The captures of a match, in the order the filter stores them.
    pub captures: Vec<CaptureExplanation>,
    /// How far a pattern that did not match got.
    pub prefix: Option<PrefixExplanation>,
}

/// One capturing group that took part in a match.
#[derive(Debug, Serialize)]
pub struct CaptureExplanation {
    /// The capture's name as written (`client` in `%{IP:client}`).
    pub name: String,
    /// The pattern name (`IP`), for a `%{...}` capture.
    pub syntax: Option<String>,
    /// `int` or `float` when the filter converts the value.
    #[serde(rename = "type")]
    pub kind: Option<&'static str>,
    /// The field the value goes to (with `target`).
    pub field: String,
    pub value: String,
    /// Character offsets into the explained value.
    pub start: usize,
    pub end: usize,
    /// False for an empty capture the filter drops (no `keep_empty_captures`).
    pub stored: bool,
}

/// The longest leading run of a pattern's parts that matches somewhere in the value.
#[derive(Debug, Serialize)]
pub struct PrefixExplanation {
    pub parts: Vec<String>,
    /// How many leading parts match.
    pub matched_parts: usize,
    /// The first part that did not match (or whose prefix could not be tried).
    pub next_part: Option<String>,
    /// Character offsets of `matched_text` in the value.
    pub start: usize,
    pub end: usize,
    pub before: String,
    pub matched_text: String,
    pub after: String,
    pub captures: Vec<CaptureExplanation>,
    /// A prefix hit the step limit, so the search stopped there.
    pub timed_out: bool,
}

/// Explains what the grok filter built from `args` does with `event`. `args` may still hold
/// the options every filter shares (`add_tag`, `id`, ...); they are checked, not applied.
pub fn explain(args: &PluginArgs, event: &Event) -> Result<Explanation, Diagnostics> {
    let mut args = args.clone();
    let common_args = args.split_off(common::NAMES);
    let common = CommonOptions::build(&common_args);
    let grok = build_grok(&args);
    let (grok, _) = match (grok, common) {
        (Ok(g), Ok(c)) => (g, c),
        (Err(mut e), Err(c)) => {
            e.extend(c);
            return Err(e);
        }
        (Err(e), _) | (_, Err(e)) => return Err(e),
    };
    let options: GrokOptions = args.options()?;
    let ecs = options
        .ecs_compatibility
        .unwrap_or_else(|| args.ecs_compatibility());
    let debugger = Debugger {
        set: pattern_set(&args, &options, ecs)?,
        settings: CompileSettings::new(&options),
        grok,
    };
    Ok(debugger.explain(event))
}

/// The built filter and what its patterns were compiled against.
struct Debugger {
    grok: Grok,
    set: PatternSet,
    settings: CompileSettings,
}

/// One value grok reads from a field.
struct Input {
    element: Option<usize>,
    text: Text,
    present: bool,
    /// False for an empty array, which the filter does not match at all.
    runs: bool,
}

impl Debugger {
    /// Follows [`Grok::run`]: fields in order, stopping after a match with `break_on_match`
    /// and after a timeout (which fails the event).
    fn explain(&self, event: &Event) -> Explanation {
        let mut out = Explanation {
            break_on_match: self.grok.break_on_match,
            matched: false,
            timed_out: false,
            fields: Vec::new(),
        };
        for field in &self.grok.fields {
            let skipped = out.matched && self.grok.break_on_match;
            for input in inputs(event, field) {
                let explained = if skipped || out.timed_out || !input.runs {
                    self.untried(field, &input)
                } else {
                    self.explain_value(field, &input)
                };
                out.matched |= explained.matched;
                out.timed_out |= explained.timed_out;
                out.fields.push(explained);
            }
        }
        out.matched &= !out.timed_out;
        out
    }

    /// Follows [`Grok::match_value`]: the last pattern tried decides.
    fn explain_value(&self, field: &SourceField, input: &Input) -> FieldExplanation {
        let text = input.text.as_str();
        let mut explained = self.untried(field, input);
        explained.tried = true;
        let mut last_tried = None;
        for (position, pattern) in explained.patterns.iter_mut().enumerate() {
            let compiled = &self.grok.patterns[field.patterns[position]];
            let mut scratch = compiled.matcher.scratch();
            pattern.tried = true;
            last_tried = Some(position);
            match compiled.matcher.search_exact(&mut scratch, text) {
                Outcome::Match => {
                    pattern.matched = true;
                    let names = group_names(&compiled.source, &self.set, &self.settings);
                    pattern.captures = self.captures(&compiled.captures, &names, &scratch, text);
                }
                Outcome::NoMatch => pattern.prefix = Some(self.prefix(compiled, text)),
                Outcome::Limit => pattern.timed_out = true,
            }
            if pattern.timed_out || (pattern.matched && self.grok.break_on_match) {
                break;
            }
        }
        let last = last_tried.map(|i| &explained.patterns[i]);
        explained.timed_out = last.is_some_and(|p| p.timed_out);
        explained.matched = last.is_some_and(|p| p.matched);
        explained.winner = last_tried.filter(|_| explained.matched);
        explained
    }

    /// A value the filter does not match: every pattern listed, none tried.
    fn untried(&self, field: &SourceField, input: &Input) -> FieldExplanation {
        let patterns = field
            .patterns
            .iter()
            .map(|&i| PatternExplanation {
                pattern: self.grok.patterns[i].source.clone(),
                tried: false,
                matched: false,
                timed_out: false,
                captures: Vec::new(),
                prefix: None,
            })
            .collect();
        FieldExplanation {
            field: field.name.clone(),
            element: input.element,
            value: input.text.as_str().to_string(),
            present: input.present,
            tried: false,
            matched: false,
            winner: None,
            timed_out: false,
            patterns,
        }
    }

    /// The groups of the last match in `scratch`, in the filter's storing order.
    fn captures(
        &self,
        captures: &[Capture],
        names: &[Option<String>],
        scratch: &MatcherScratch,
        text: &str,
    ) -> Vec<CaptureExplanation> {
        captures
            .iter()
            .filter_map(|capture| {
                let (start, end) = scratch.group(capture.group)?;
                let value = text.get(start..end)?;
                let name = names.get(capture.group - 1).cloned().flatten();
                let split = name.as_deref().map(ruby_split_colon).unwrap_or_default();
                Some(CaptureExplanation {
                    name: match split.get(1).or(split.first()) {
                        Some(field) => field.to_string(),
                        None => capture.path.to_string(),
                    },
                    syntax: (split.len() > 1).then(|| split[0].to_string()),
                    kind: match capture.convert {
                        Convert::None => None,
                        Convert::Int => Some("int"),
                        Convert::Float => Some("float"),
                    },
                    field: capture.path.to_string(),
                    value: value.to_string(),
                    start: char_offset(text, start),
                    end: char_offset(text, end),
                    stored: !value.is_empty() || self.grok.keep_empty_captures,
                })
            })
            .collect()
    }

    /// How far `pattern` gets on `text`: the longest prefix of its parts that matches.
    fn prefix(&self, pattern: &GrokPattern, text: &str) -> PrefixExplanation {
        let parts = split_parts(&pattern.source, &self.set);
        let mut best: Option<(usize, Compiled, MatcherScratch)> = None;
        let mut timed_out = false;
        let mut prefix = String::new();
        // The whole pattern is known not to match; a prefix that does not compile (a part
        // boundary the splitter got wrong) is passed over.
        for (k, part) in parts.iter().enumerate().take(parts.len() - 1) {
            prefix.push_str(part);
            let Some(compiled) = compile_prefix(&prefix, &self.set, &self.settings) else {
                continue;
            };
            let mut scratch = compiled.matcher.scratch();
            match compiled.matcher.search_exact(&mut scratch, text) {
                Outcome::Match => best = Some((k + 1, compiled, scratch)),
                Outcome::NoMatch => break,
                Outcome::Limit => {
                    timed_out = true;
                    break;
                }
            }
        }
        let (matched_parts, (start, end), captures) = match &best {
            Some((k, compiled, scratch)) => (
                *k,
                scratch.group(0).unwrap_or((0, 0)),
                self.captures(&compiled.captures, &compiled.names, scratch, text),
            ),
            None => (0, (0, 0), Vec::new()),
        };
        let slice = |from: usize, to: usize| text.get(from..to).unwrap_or_default().to_string();
        PrefixExplanation {
            next_part: parts.get(matched_parts).cloned(),
            matched_parts,
            start: char_offset(text, start),
            end: char_offset(text, end),
            before: slice(0, start),
            matched_text: slice(start, end),
            after: slice(end, text.len()),
            captures,
            timed_out,
            parts,
        }
    }
}

/// The values grok reads from `field`, as [`Grok::match_field`] reads them.
fn inputs(event: &Event, field: &SourceField) -> Vec<Input> {
    let one = |text, present| Input {
        element: None,
        text,
        present,
        runs: true,
    };
    match event.get(&field.path) {
        Some(Value::Array(items)) if items.is_empty() => vec![Input {
            runs: false,
            ..one(Text::EMPTY, true)
        }],
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, item)| Input {
                element: Some(i),
                ..one(ruby_to_s(item), true)
            })
            .collect(),
        Some(value) => vec![one(ruby_to_s(value), true)],
        None => vec![one(Text::EMPTY, false)],
    }
}

/// The character offset of byte `at` of `text` (rounded down to a character boundary).
fn char_offset(text: &str, at: usize) -> usize {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    text[..at].chars().count()
}

/// A prefix of a pattern, compiled as the filter compiles a pattern but without the
/// prefilters (which never change a result).
struct Compiled {
    matcher: Matcher,
    captures: Vec<Capture>,
    /// PCRE2 group `g`'s grok name is `names[g - 1]`.
    names: Vec<Option<String>>,
}

fn compile_prefix(text: &str, set: &PatternSet, settings: &CompileSettings) -> Option<Compiled> {
    let expanded = expand::expand(text, set, settings.named_captures_only).ok()?;
    let regex = syntax::parse(&expanded).ok()?;
    let build = |pcre: String| {
        let pcre = format!("{}{pcre}", emit::PCRE2_PREAMBLE);
        Matcher::new(&pcre, settings.steps(), None, &[])
    };
    let matcher = match build(emit::pcre2(&regex)) {
        Err(e) if e.is_too_large() => build(emit::pcre2_shared(&regex)),
        other => other,
    }
    .ok()?;
    let captures = super::captures(&regex, settings).ok()?;
    Some(Compiled {
        matcher,
        captures,
        names: regex.groups.iter().map(|g| g.name.clone()).collect(),
    })
}

/// The grok names of a compiled pattern's groups (the filter keeps only their fields).
fn group_names(text: &str, set: &PatternSet, settings: &CompileSettings) -> Vec<Option<String>> {
    expand::expand(text, set, settings.named_captures_only)
        .ok()
        .and_then(|expanded| syntax::parse(&expanded).ok())
        .map(|regex| regex.groups.into_iter().map(|g| g.name).collect())
        .unwrap_or_default()
}

/// One part of a pattern being cut up.
#[derive(Debug)]
struct Part {
    text: String,
    kind: AtomKind,
    /// For a reference that may be replaced by its definition: the pattern name.
    unwrap: Option<String>,
    /// How many definitions deep the part comes from.
    depth: usize,
}

/// What one top-level atom of a pattern is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AtomKind {
    /// One ordinary character, not repeated (runs of them make one part).
    Literal,
    /// One whitespace character, not repeated (runs make one part).
    Space,
    /// A `%{...}` reference.
    Reference,
    /// A group, class, escape, anchor, or anything repeated.
    Other,
}

/// Cuts `pattern` into the parts its prefixes are made of; they concatenate to `pattern`.
fn split_parts(pattern: &str, set: &PatternSet) -> Vec<String> {
    let inline = inline_names(pattern);
    let mut parts = pieces(pattern, 0).unwrap_or_default();
    let mut i = 0;
    while i < parts.len() {
        let inner = unwrappable(&parts[i], set, &inline)
            .filter(|inner| parts.len() - 1 + inner.len() <= MAX_PARTS);
        match inner {
            // Looked at again: the definition's first part may unwrap further.
            Some(inner) => drop(parts.splice(i..=i, inner)),
            None => i += 1,
        }
    }
    let mut texts: Vec<String> = parts.into_iter().map(|p| p.text).collect();
    if texts.len() > MAX_PARTS {
        let tail = texts.split_off(MAX_PARTS - 1).concat();
        texts.push(tail);
    }
    if texts.is_empty() {
        texts.push(pattern.to_string());
    }
    texts
}

/// The parts of the definition a field-less reference stands for. Its `(?:...)` wrapper
/// only groups, so the definition's parts in its place match the same.
fn unwrappable(part: &Part, set: &PatternSet, inline: &HashSet<String>) -> Option<Vec<Part>> {
    let name = part.unwrap.as_deref()?;
    if part.depth >= MAX_UNWRAP_DEPTH || inline.contains(name) {
        return None;
    }
    let definition = set.get(name)?;
    // A definition without references (`MONTH`) reads better as its name than as regex.
    if !definition.contains("%{") {
        return None;
    }
    let inner = pieces(definition, part.depth + 1)?;
    match &inner[..] {
        // A definition that is one reference (`COMBINEDAPACHELOG %{HTTPD_COMBINEDLOG}`) is
        // worth replacing only when what it stands for unwraps.
        [only] => unwrappable(only, set, inline),
        _ => (inner.len() > 1).then_some(inner),
    }
}

/// Names given an inline definition (`%{NAME=regex}`) anywhere in `pattern`: their
/// references are never unwrapped from the set.
fn inline_names(pattern: &str) -> HashSet<String> {
    let mut names = HashSet::new();
    let mut at = 0;
    while let Some(i) = pattern[at..].find("%{") {
        let start = at + i;
        match reference_at(pattern, start) {
            Some(r) => {
                if r.definition.is_some() {
                    names.insert(r.pattern.to_string());
                }
                at = r.end;
            }
            None => at = start + 2,
        }
    }
    names
}

/// The parts of `text` before unwrapping: atoms, with runs of literal characters and of
/// spaces joined. `None` when `text` cannot be cut: a top-level alternation, an unclosed
/// group or class, or (for a definition) an option switch such as `(?i)` whose scope would
/// change outside the definition's group.
fn pieces(text: &str, depth: usize) -> Option<Vec<Part>> {
    let atoms = atoms(text)?;
    if depth > 0 && atoms.iter().any(|(a, _, _)| is_option_switch(a)) {
        return None;
    }
    let mut parts: Vec<Part> = Vec::new();
    for (atom, kind, unwrap) in atoms {
        let joins = matches!(kind, AtomKind::Literal | AtomKind::Space);
        match parts.last_mut() {
            Some(last) if joins && last.kind == kind => last.text.push_str(atom),
            _ => parts.push(Part {
                text: atom.to_string(),
                kind,
                unwrap: unwrap.map(str::to_string),
                depth,
            }),
        }
    }
    Some(parts)
}

/// `(?i)`, `(?-x)`, ...: an option switch that applies to the rest of its group.
fn is_option_switch(atom: &str) -> bool {
    atom.strip_prefix("(?")
        .and_then(|rest| rest.strip_suffix(')'))
        .is_some_and(|flags| !flags.is_empty() && flags.bytes().all(|b| b"imxadlu-".contains(&b)))
}

/// One atom: its text, kind, and for a bare reference the name it could unwrap to.
type Atom<'a> = (&'a str, AtomKind, Option<&'a str>);

/// The top-level atoms of `text`, each with its quantifier; `None` on a top-level `|` or an
/// unclosed group or class.
fn atoms(text: &str) -> Option<Vec<Atom<'_>>> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        let mut kind = AtomKind::Other;
        let mut unwrap = None;
        match bytes[i] {
            b'|' => return None,
            b'\\' => i = escape_end(text, i),
            b'[' => i = class_end(bytes, i)?,
            b'(' => i = group_end(text, i)?,
            b'%' if reference_at(text, i).is_some() => {
                let r = reference_at(text, i)?;
                kind = AtomKind::Reference;
                unwrap = (r.field.is_none() && r.definition.is_none()).then_some(r.pattern);
                i = r.end;
            }
            _ => {
                let c = text[i..].chars().next()?;
                i += c.len_utf8();
                kind = if c.is_whitespace() {
                    AtomKind::Space
                } else if "^$.)*+?".contains(c) {
                    AtomKind::Other
                } else {
                    AtomKind::Literal
                };
            }
        }
        let quantified = quantifier_end(bytes, i);
        if quantified > i {
            i = quantified;
            unwrap = None;
            if kind != AtomKind::Reference {
                kind = AtomKind::Other;
            }
        }
        out.push((&text[start..i], kind, unwrap));
    }
    Some(out)
}

/// The end of the quantifiers (`*`, `+`, `?`, `{n,m}`, lazy and possessive marks) at `i`.
fn quantifier_end(bytes: &[u8], mut i: usize) -> usize {
    loop {
        match bytes.get(i) {
            Some(b'*' | b'+' | b'?') => i += 1,
            Some(b'{') => match interval_end(bytes, i) {
                Some(end) => i = end,
                None => return i,
            },
            _ => return i,
        }
    }
}

/// The end of an interval `{n}`, `{n,}`, `{,m}`, `{n,m}` at `i`; `None` for a literal `{`.
fn interval_end(bytes: &[u8], i: usize) -> Option<usize> {
    let digits = |from: usize| {
        bytes[from..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count()
    };
    let mut j = i + 1;
    let low = digits(j);
    j += low;
    let mut high = 0;
    if bytes.get(j) == Some(&b',') {
        j += 1;
        high = digits(j);
        j += high;
    }
    (bytes.get(j) == Some(&b'}') && low + high > 0).then_some(j + 1)
}

/// The end of the escape sequence starting with the backslash at `i`.
fn escape_end(text: &str, i: usize) -> usize {
    let bytes = text.as_bytes();
    let Some(c) = text[i + 1..].chars().next() else {
        return bytes.len();
    };
    let j = i + 1 + c.len_utf8();
    let run = |max: usize, pred: fn(&u8) -> bool| {
        j + bytes[j..].iter().take(max).take_while(|b| pred(b)).count()
    };
    let closing = |delimiter: u8| match bytes[j + 1..].iter().position(|&b| b == delimiter) {
        Some(p) => j + 1 + p + 1,
        None => bytes.len(),
    };
    let next_char = |from: usize| from + text[from..].chars().next().map_or(0, char::len_utf8);
    match (c, bytes.get(j)) {
        ('x' | 'p' | 'P', Some(b'{')) => closing(b'}'),
        ('k' | 'g', Some(b'<')) => closing(b'>'),
        ('k' | 'g', Some(b'\'')) => closing(b'\''),
        ('x', _) => run(2, u8::is_ascii_hexdigit),
        ('u', _) => run(4, u8::is_ascii_hexdigit),
        ('0'..='9', _) => run(2, u8::is_ascii_digit),
        ('c', _) => next_char(j),
        ('C' | 'M', Some(b'-')) => next_char(j + 1),
        _ => j,
    }
}

/// The end of the character class starting at `start` (Ruby's classes nest).
fn class_end(bytes: &[u8], start: usize) -> Option<usize> {
    let mut i = start + 1;
    if bytes.get(i) == Some(&b'^') {
        i += 1;
    }
    if bytes.get(i) == Some(&b']') {
        i += 1;
    }
    let mut depth = 1usize;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 1,
            b'[' => depth += 1,
            b']' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// The end of the group opened at `start`, skipping escapes, classes and references.
fn group_end(text: &str, start: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut i = start;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => {
                i = escape_end(text, i);
                continue;
            }
            b'[' => {
                i = class_end(bytes, i)?;
                continue;
            }
            b'%' => {
                if let Some(r) = reference_at(text, i) {
                    i = r.end;
                    continue;
                }
            }
            b'(' => depth += 1,
            b')' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// The reference whose `%{` is at `start`, found by `expand`'s own rules (grok's
/// `PATTERN_RE`). Only where parts are cut depends on it: each prefix is still expanded by
/// `expand` itself.
fn reference_at(text: &str, start: usize) -> Option<expand::Reference<'_>> {
    if !text[start..].starts_with("%{") {
        return None;
    }
    expand::reference_at(text, start)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::options::EcsCompatibility;
    use crate::config::{ast, parse, ParseOptions, SourceMap};
    use crate::event::{FieldPath, Map, Timestamp};
    use crate::filters::Filter;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    /// The first plugin of `filter { PLUGIN }`.
    fn plugin(text: &str) -> ast::Plugin {
        let sources = SourceMap::single("test.conf", &format!("filter {{\n{text}\n}}"));
        let config = parse(&sources, ParseOptions::default())
            .unwrap_or_else(|d| panic!("{}", d.render(&sources)));
        match config.sections[0].body.first() {
            Some(ast::Statement::Plugin(p)) => p.clone(),
            other => panic!("no plugin: {other:?}"),
        }
    }

    /// Explains `grok { OPTIONS }` (legacy patterns) on `event`.
    fn explain_with(options: &str, event: &Event) -> Result<Explanation, Diagnostics> {
        let plugin = plugin(&format!("grok {{ {options} }}"));
        let args =
            PluginArgs::new(&plugin, &no_env).with_ecs_compatibility(EcsCompatibility::Disabled);
        explain(&args, event)
    }

    fn explained(options: &str, event: &Event) -> Explanation {
        explain_with(options, event).unwrap_or_else(|d| panic!("{d:?}"))
    }

    fn message(text: &str) -> Event {
        Event::from_message(Text::new(text), Timestamp::now())
    }

    fn capture<'e>(captures: &'e [CaptureExplanation], name: &str) -> &'e CaptureExplanation {
        captures
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("no capture {name} in {captures:?}"))
    }

    const APACHE: &str = r#"83.149.9.216 - - [17/May/2015:10:05:03 +0000] "GET /images/kibana-search.png HTTP/1.1" 200 203023 "http://semicomplete.com/" "Mozilla/5.0 (Macintosh)""#;

    #[test]
    fn a_matching_list_reports_the_winner_and_its_captures() {
        let x = explained(
            r#"match => { "message" => ["%{NUMBER:n} apples", "%{IP:client} %{WORD:verb}"] }
               add_tag => ["seen"] id => "g1""#,
            &message("1.2.3.4 GET /x"),
        );
        assert!(x.matched && x.break_on_match);
        let field = &x.fields[0];
        assert_eq!(
            (field.field.as_str(), field.value.as_str()),
            ("message", "1.2.3.4 GET /x")
        );
        assert!(field.present && field.matched);
        assert_eq!(field.winner, Some(1));
        let [first, second] = &field.patterns[..] else {
            panic!("{:?}", field.patterns)
        };
        assert!(first.tried && !first.matched && first.captures.is_empty());
        assert!(second.matched && second.prefix.is_none());
        let client = capture(&second.captures, "client");
        assert_eq!(client.value, "1.2.3.4");
        assert_eq!((client.start, client.end), (0, 7));
        assert_eq!(client.field, "[client]");
        assert_eq!(client.syntax.as_deref(), Some("IP"));
        let verb = capture(&second.captures, "verb");
        assert_eq!((verb.value.as_str(), verb.start, verb.end), ("GET", 8, 11));
        let prefix = first
            .prefix
            .as_ref()
            .expect("a prefix for the failed pattern");
        assert_eq!(prefix.parts, ["%{NUMBER:n}", " ", "apples"]);
        assert_eq!(prefix.matched_parts, 1);
        assert_eq!(prefix.next_part.as_deref(), Some(" "));
        assert_eq!(prefix.matched_text, "1.2");
        assert_eq!(prefix.after, ".3.4 GET /x");
    }

    #[test]
    fn the_json_has_the_documented_shape() {
        let x = explained(
            r#"match => { "message" => ["%{INT:n:int} x", "%{WORD:w}"] }"#,
            &message("12 y"),
        );
        let json = serde_json::to_value(&x).unwrap();
        let field = &json["fields"][0];
        assert_eq!(json["break_on_match"], true);
        assert_eq!(field["winner"], 1);
        assert_eq!(field["patterns"][0]["prefix"]["matched_parts"], 2);
        assert_eq!(field["patterns"][0]["prefix"]["next_part"], "x");
        assert_eq!(field["patterns"][0]["prefix"]["captures"][0]["type"], "int");
        assert_eq!(field["patterns"][1]["captures"][0]["value"], "12");
        assert_eq!(field["patterns"][1]["prefix"], serde_json::Value::Null);
    }

    #[test]
    fn without_break_on_match_every_pattern_runs_and_the_last_decides() {
        let line = message("alice 42");
        let options = |extra: &str| {
            format!(r#"match => {{ "message" => ["%{{WORD:name}}", "%{{INT:age}}"] }} {extra}"#)
        };
        let stop = explained(&options(""), &line);
        assert!(!stop.fields[0].patterns[1].tried, "break_on_match stops");
        let all = explained(&options("break_on_match => false"), &line);
        let field = &all.fields[0];
        assert!(!all.break_on_match && field.matched);
        assert!(field.patterns.iter().all(|p| p.tried && p.matched));
        assert_eq!(field.winner, Some(1));
        assert_eq!(field.patterns[1].captures[0].value, "42");

        let last_fails = explained(
            r#"match => { "message" => ["%{WORD:name}", "%{IP:ip}"] } break_on_match => false"#,
            &line,
        );
        let field = &last_fails.fields[0];
        assert!(field.patterns[0].matched && !field.patterns[1].matched);
        assert!(!field.matched && field.winner.is_none() && !last_fails.matched);
    }

    #[test]
    fn a_broken_apache_timestamp_is_found_inside_combinedapachelog() {
        let line = APACHE.replace("17/May/2015", "17/Xyz/2015");
        let x = explained(
            r#"match => { "message" => "%{COMBINEDAPACHELOG}" }"#,
            &message(&line),
        );
        assert!(!x.matched);
        let prefix = x.fields[0].patterns[0].prefix.as_ref().unwrap();
        assert_eq!(
            prefix.parts[..9],
            [
                "%{IPORHOST:clientip}",
                " ",
                "%{HTTPDUSER:ident}",
                " ",
                "%{HTTPDUSER:auth}",
                " ",
                "\\[",
                "%{HTTPDATE:timestamp}",
                "\\]"
            ]
        );
        let common = crate::filters::grok::patterns::bundled(EcsCompatibility::Disabled)
            .definitions["HTTPD_COMMONLOG"];
        assert_eq!(
            prefix.parts.concat(),
            format!("{common} %{{QS:referrer}} %{{QS:agent}}")
        );
        assert_eq!(prefix.matched_parts, 7);
        assert_eq!(prefix.next_part.as_deref(), Some("%{HTTPDATE:timestamp}"));
        assert_eq!(prefix.before, "");
        assert_eq!(prefix.matched_text, "83.149.9.216 - - [");
        assert!(prefix.after.starts_with("17/Xyz/2015"), "{}", prefix.after);
        assert_eq!(capture(&prefix.captures, "clientip").value, "83.149.9.216");

        let good = explained(
            r#"match => { "message" => "%{COMBINEDAPACHELOG}" }"#,
            &message(APACHE),
        );
        let captures = &good.fields[0].patterns[0].captures;
        assert_eq!(
            capture(captures, "timestamp").value,
            "17/May/2015:10:05:03 +0000"
        );
        assert_eq!(capture(captures, "bytes").value, "203023");
    }

    #[test]
    fn the_ecs_pattern_set_is_used_when_asked_for() {
        let line = APACHE.replace("\"GET", "GET");
        let x = explained(
            r#"match => { "message" => "%{COMBINEDAPACHELOG}" } ecs_compatibility => v8"#,
            &message(&line),
        );
        let prefix = x.fields[0].patterns[0].prefix.as_ref().unwrap();
        assert_eq!(prefix.parts[0], "%{IPORHOST:[source][address]}");
        assert_eq!(prefix.next_part.as_deref(), Some("\""));
        assert_eq!(
            capture(&prefix.captures, "[source][address]").field,
            "[source][address]"
        );
    }

    #[test]
    fn pattern_definitions_and_patterns_dir_are_honoured() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("mine"), "MYWORD [a-z]+\n").unwrap();
        let options = format!(
            r#"match => {{ "message" => "%{{PAIR}}" }}
               pattern_definitions => {{ "MYNUM" => "\d{{3}}" "PAIR" => "%{{MYNUM:code}}-%{{MYWORD:w}}" }}
               patterns_dir => ["{}"]"#,
            dir.path().display()
        );
        let good = explained(&options, &message("x 123-abc"));
        let captures = &good.fields[0].patterns[0].captures;
        let code = capture(captures, "code");
        assert_eq!((code.value.as_str(), code.start, code.end), ("123", 2, 5));
        assert_eq!(capture(captures, "w").value, "abc");

        let bad = explained(&options, &message("x 123-ABC"));
        let prefix = bad.fields[0].patterns[0].prefix.as_ref().unwrap();
        assert_eq!(prefix.parts, ["%{MYNUM:code}", "-", "%{MYWORD:w}"]);
        assert_eq!(prefix.matched_parts, 2);
        assert_eq!(prefix.next_part.as_deref(), Some("%{MYWORD:w}"));
        assert_eq!((prefix.start, prefix.end), (2, 6));
    }

    #[test]
    fn a_missing_field_is_matched_as_empty_text() {
        let x = explained(
            r#"match => { "nothere" => ["%{WORD:w}", "%{GREEDYDATA:rest}"] }"#,
            &message("hello"),
        );
        let field = &x.fields[0];
        assert!(!field.present && field.value.is_empty());
        let prefix = field.patterns[0].prefix.as_ref().unwrap();
        assert_eq!(prefix.matched_parts, 0);
        assert_eq!(prefix.next_part.as_deref(), Some("%{WORD:w}"));
        assert!(field.matched, "GREEDYDATA matches the empty text");
        let rest = capture(&field.patterns[1].captures, "rest");
        assert!(rest.value.is_empty() && !rest.stored);
    }

    #[test]
    fn offsets_count_characters_not_bytes() {
        let x = explained(
            r#"match => { "message" => ["%{INT:n}", "wörld %{WORD:w} !"] }
               break_on_match => false"#,
            &message("héllo wörld 42 ü"),
        );
        let patterns = &x.fields[0].patterns;
        let n = capture(&patterns[0].captures, "n");
        assert_eq!((n.start, n.end), (12, 14));
        let prefix = patterns[1].prefix.as_ref().unwrap();
        assert_eq!(prefix.parts, ["wörld", " ", "%{WORD:w}", " ", "!"]);
        assert_eq!(prefix.matched_parts, 4);
        assert_eq!((prefix.start, prefix.end), (6, 15));
        assert_eq!(prefix.before, "héllo ");
        assert_eq!(prefix.after, "ü");
    }

    #[test]
    fn arrays_are_explained_element_by_element() {
        let mut fields = Map::new();
        fields.insert(
            Text::new("message"),
            Value::Array(vec![Value::Str(Text::new("abc")), Value::Int(7)]),
        );
        let event = Event::from_fields(fields, Timestamp::now());
        let x = explained(r#"match => { "message" => "%{INT:n}" }"#, &event);
        let elements: Vec<_> = x.fields.iter().map(|f| (f.element, f.matched)).collect();
        assert_eq!(elements, [(Some(0), false), (Some(1), true)]);
        assert_eq!(x.fields[1].value, "7");
        assert!(x.matched);
    }

    #[test]
    fn break_on_match_skips_later_fields_and_a_timeout_stops_everything() {
        let mut event = message("abc");
        event.set_field(Text::new("other"), Value::Str(Text::new("def")));
        let x = explained(
            r#"match => { "message" => "%{WORD:a}" "other" => "%{WORD:b}" }"#,
            &event,
        );
        assert!(x.fields[0].matched && !x.fields[1].tried);

        let slow = format!("{}!", "a".repeat(40));
        let x = explained(
            r#"match => { "message" => ["^(a|aa)+$", "%{WORD:w}"] } timeout_millis => 1"#,
            &message(&slow),
        );
        let field = &x.fields[0];
        assert!(x.timed_out && !x.matched && field.timed_out, "{x:?}");
        assert!(field.patterns[0].timed_out && !field.patterns[1].tried);
    }

    #[test]
    fn bad_patterns_and_options_are_diagnostics() {
        let message_of = |options: &str| match explain_with(options, &message("x")) {
            Ok(x) => panic!("explained {x:?}"),
            Err(d) => d.0[0].message.clone(),
        };
        let unknown = message_of(r#"match => { "message" => "%{NOSUCH:x}" }"#);
        assert!(
            unknown.contains("unknown grok pattern \"NOSUCH\""),
            "{unknown}"
        );
        let regex = message_of(r#"match => { "message" => "(%{WORD:w}" }"#);
        assert!(regex.contains("invalid regex"), "{regex}");
        let option = message_of(r#"match => { "message" => "x" } brek_on_match => true"#);
        assert!(option.contains("brek_on_match"), "{option}");
        let common = message_of(r#"match => { "message" => "x" } add_field => { "[a" => "b" }"#);
        assert!(!common.is_empty());
    }

    /// The debugger's verdict and captures are the filter's, on real Apache lines, some
    /// broken.
    #[test]
    fn the_explanation_agrees_with_the_filter() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let corpus = root.join("../shared/corpus/access/apache/apache_logs");
        let text = std::fs::read_to_string(corpus).unwrap_or_else(|_| APACHE.to_string());
        let mut lines: Vec<String> = text.lines().take(20).map(str::to_string).collect();
        lines.push(APACHE.replace(" 200 ", " OK "));
        lines.push(APACHE.replace("[17", "17"));
        let options = r#"match => { "message" => ["%{COMMONAPACHELOG} %{QS:referrer} %{NUMBER:x}", "%{COMBINEDAPACHELOG}"] }"#;
        let plugin = plugin(&format!("grok {{ {options} }}"));
        let args =
            PluginArgs::new(&plugin, &no_env).with_ecs_compatibility(EcsCompatibility::Disabled);
        let grok = build_grok(&args).unwrap();
        let mut failures = 0;
        for line in &lines {
            let mut event = message(line);
            let matched = grok.apply(&mut event);
            let x = explain(&args, &message(line)).unwrap();
            assert_eq!(x.matched, matched, "{line}");
            failures += usize::from(!matched);
            let winner = x.fields[0].winner.map(|w| &x.fields[0].patterns[w]);
            let captures = winner.map_or(&[][..], |p| &p.captures[..]);
            for c in captures.iter().filter(|c| c.stored) {
                let stored = event.get(&FieldPath::parse(&c.field).unwrap());
                let stored = stored.and_then(Value::as_str);
                assert_eq!(stored, Some(c.value.as_str()), "{} in {line}", c.field);
            }
        }
        assert_eq!(failures, 2);
    }

    #[test]
    fn patterns_are_cut_where_prefixes_stay_meaningful() {
        let set = PatternSet::new(
            crate::filters::grok::patterns::bundled(EcsCompatibility::Disabled).definitions,
        );
        let cut = |p: &str| split_parts(p, &set);
        assert_eq!(
            cut(r"(?:%{WORD:a} )?\d+[ \]]* x{2,3}y %{INT}"),
            [
                r"(?:%{WORD:a} )?",
                r"\d+",
                r"[ \]]*",
                " ",
                "x{2,3}",
                "y",
                " ",
                "%{INT}"
            ]
        );
        assert_eq!(cut("%{WORD:a}|%{INT:b}"), ["%{WORD:a}|%{INT:b}"]);
        assert_eq!(cut(r"\x41b\p{Alpha}c"), [r"\x41", "b", r"\p{Alpha}", "c"]);
        assert_eq!(cut("a{x"), ["a{x"]);
        assert_eq!(cut("%{X=a{2}}%{X}"), ["%{X=a{2}}", "%{X}"]);
        // A field-less reference to a sequence unwraps; one to an alternation does not.
        assert_eq!(
            cut("%{HTTPDATE}")[..4],
            ["%{MONTHDAY}", "/", "%{MONTH}", "/"]
        );
        assert_eq!(cut("%{IP} x"), ["%{IP}", " ", "x"]);
        let long = "a ".repeat(100);
        let parts = cut(&long);
        assert_eq!(parts.len(), MAX_PARTS);
        assert_eq!(parts.concat(), long);
    }
}
