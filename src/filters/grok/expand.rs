//! Grok expressions to regex text: `%{NAME}`, `%{NAME:field}`, `%{NAME:field:int}` and
//! `%{NAME=regex}` references replaced by their definitions, recursively.
//!
//! The result is Oniguruma regex text exactly as Logstash's grok (the `jls-grok` gem) builds
//! it: a reference with a field becomes `(?<NAME:field>definition)`, one without becomes
//! `(?:definition)` (or `(?<NAME>definition)` when `named_captures_only` is off). Group names
//! keep grok's `PATTERN:field:type` form; [`super::syntax`] turns them into fields.
//!
//! References are found the way grok's `PATTERN_RE` finds them: `%{`, a name of `[A-z0-9]`
//! characters, an optional `:field` of `[@\[\]A-z0-9_:.-]` characters, an optional
//! `=definition` with balanced braces, then anything up to the closing `}`. One deliberate
//! difference: a backslash in an inline definition escapes only the next character, where
//! grok's regex lets it swallow everything up to the last `}` of the pattern.

use std::collections::HashMap;

use super::patterns::PatternSet;
use crate::config::source::did_you_mean;

/// Expanded regexes larger than this are refused (nested definitions can grow exponentially).
const MAX_EXPANDED_LEN: usize = 8 << 20;

/// Why a grok expression could not be expanded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExpandError {
    #[error("unknown grok pattern \"{name}\" in \"{pattern}\"")]
    Unknown {
        name: String,
        pattern: String,
        suggestion: Option<String>,
    },
    #[error("grok pattern \"{name}\" refers to itself (in \"{pattern}\")")]
    Recursive { name: String, pattern: String },
    #[error("grok pattern \"{0}\" expands to more than 8 MiB of regex")]
    TooLarge(String),
}

impl ExpandError {
    /// A "did you mean" hint, when a known name is close to an unknown one.
    pub fn help(&self) -> Option<String> {
        match self {
            ExpandError::Unknown {
                suggestion: Some(s),
                ..
            } => Some(format!("did you mean \"{s}\"?")),
            _ => None,
        }
    }
}

/// Expands every `%{...}` reference of `pattern` against `set`.
pub fn expand(
    pattern: &str,
    set: &PatternSet,
    named_captures_only: bool,
) -> Result<String, ExpandError> {
    let mut expander = Expander {
        set,
        pattern,
        named_captures_only,
        inline: HashMap::new(),
        stack: Vec::new(),
        out: String::with_capacity(pattern.len() * 4),
    };
    expander.expand_text(pattern)?;
    Ok(expander.out)
}

/// One `%{...}` reference in a text.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Reference<'a> {
    pub start: usize,
    pub end: usize,
    pub pattern: &'a str,
    pub field: Option<&'a str>,
    pub definition: Option<&'a str>,
}

struct Expander<'a> {
    set: &'a PatternSet,
    /// The whole expression, for error messages.
    pattern: &'a str,
    named_captures_only: bool,
    /// `%{NAME=regex}` definitions seen so far; they apply to the rest of this expression.
    inline: HashMap<String, String>,
    /// Names being expanded, to refuse self-reference.
    stack: Vec<String>,
    out: String,
}

impl Expander<'_> {
    fn expand_text(&mut self, text: &str) -> Result<(), ExpandError> {
        let mut rest = 0;
        while let Some(r) = find_reference(text, rest) {
            self.out.push_str(&text[rest..r.start]);
            self.expand_reference(&r)?;
            rest = r.end;
        }
        self.out.push_str(&text[rest..]);
        if self.out.len() > MAX_EXPANDED_LEN {
            return Err(ExpandError::TooLarge(self.pattern.to_string()));
        }
        Ok(())
    }

    fn expand_reference(&mut self, r: &Reference) -> Result<(), ExpandError> {
        if let Some(definition) = r.definition {
            self.inline
                .insert(r.pattern.to_string(), definition.to_string());
        }
        let definition = self.definition(r.pattern)?;
        if self.stack.iter().any(|n| n == r.pattern) {
            return Err(ExpandError::Recursive {
                name: r.pattern.to_string(),
                pattern: self.pattern.to_string(),
            });
        }
        match r.field {
            Some(field) => {
                self.out.push_str("(?<");
                self.out.push_str(r.pattern);
                self.out.push(':');
                self.out.push_str(field);
                self.out.push('>');
            }
            None if !self.named_captures_only => {
                self.out.push_str("(?<");
                self.out.push_str(r.pattern);
                self.out.push('>');
            }
            None => self.out.push_str("(?:"),
        }
        self.stack.push(r.pattern.to_string());
        self.expand_text(&definition)?;
        self.stack.pop();
        self.out.push(')');
        Ok(())
    }

    fn definition(&self, name: &str) -> Result<String, ExpandError> {
        if let Some(d) = self.inline.get(name) {
            return Ok(d.clone());
        }
        match self.set.get(name) {
            Some(d) => Ok(d.to_string()),
            None => Err(ExpandError::Unknown {
                name: name.to_string(),
                pattern: self.pattern.to_string(),
                suggestion: did_you_mean(
                    name,
                    self.set
                        .names()
                        .chain(self.inline.keys().map(String::as_str)),
                )
                .map(str::to_string),
            }),
        }
    }
}

/// The first reference at or after byte `from`.
fn find_reference(text: &str, from: usize) -> Option<Reference<'_>> {
    let mut at = from;
    while let Some(i) = text[at..].find("%{") {
        let start = at + i;
        if let Some(r) = reference_at(text, start) {
            return Some(r);
        }
        at = start + 1;
    }
    None
}

/// Grok's `[A-z0-9]` (which includes `[ \ ] ^ _` and the backquote).
fn is_name_byte(b: u8) -> bool {
    b.is_ascii_digit() || (b'A'..=b'z').contains(&b)
}

/// Grok's `[@\[\]A-z0-9_:.-]`.
fn is_field_byte(b: u8) -> bool {
    is_name_byte(b) || matches!(b, b'@' | b':' | b'.' | b'-')
}

/// The reference starting with the `%{` at `start`, if one is well formed there.
pub(super) fn reference_at(text: &str, start: usize) -> Option<Reference<'_>> {
    let bytes = text.as_bytes();
    let name_start = start + 2;
    let mut i = name_start;
    while i < bytes.len() && is_name_byte(bytes[i]) {
        i += 1;
    }
    if i == name_start {
        return None;
    }
    let pattern = &text[name_start..i];
    let mut field = None;
    if bytes.get(i) == Some(&b':') {
        let mut j = i + 1;
        while j < bytes.len() && is_field_byte(bytes[j]) {
            j += 1;
        }
        if j > i + 1 {
            field = Some(&text[i + 1..j]);
            i = j;
        }
    }
    let mut definition = None;
    if bytes.get(i) == Some(&b'=') {
        if let Some(end) = definition_end(bytes, i + 1) {
            definition = Some(&text[i + 1..end]);
            i = end;
        }
    }
    let close = i + text[i..].find('}')?;
    Some(Reference {
        start,
        end: close + 1,
        pattern,
        field,
        definition,
    })
}

/// Where an inline definition starting at `from` ends: at the first `}` that closes no `{`
/// of the definition itself; a backslash escapes the next character.
fn definition_end(bytes: &[u8], from: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = from;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 1,
            b'{' => depth += 1,
            b'}' if depth == 0 => return (i > from).then_some(i),
            b'}' => depth -= 1,
            _ => {}
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::super::patterns::{bundled, PatternSet};
    use super::*;
    use crate::config::options::EcsCompatibility;

    fn set() -> PatternSet {
        let mut set = PatternSet::new(bundled(EcsCompatibility::Disabled).definitions);
        set.insert("A", "a%{B:b}");
        set.insert("B", "b+");
        set.insert("LOOP", "x%{LOOP2}");
        set.insert("LOOP2", "%{LOOP}");
        set
    }

    #[test]
    fn references_become_groups_named_as_grok_names_them() {
        let s = set();
        assert_eq!(
            expand("%{A:x} %{B}", &s, true).unwrap(),
            "(?<A:x>a(?<B:b>b+)) (?:b+)"
        );
        assert_eq!(expand("%{B}", &s, false).unwrap(), "(?<B>b+)");
        assert_eq!(
            expand("%{B:[a][b]:int}", &s, true).unwrap(),
            "(?<B:[a][b]:int>b+)"
        );
    }

    #[test]
    fn inline_definitions_apply_to_the_rest_of_the_pattern() {
        let s = set();
        assert_eq!(
            expand("%{FIZZLE=\\d+} %{FIZZLE:f}", &s, false).unwrap(),
            "(?<FIZZLE>\\d+) (?<FIZZLE:f>\\d+)"
        );
        assert_eq!(
            expand("%{X=a{2}}", &s, false).unwrap(),
            "(?<X>a{2})",
            "braces inside a definition are balanced"
        );
    }

    #[test]
    fn malformed_references_are_left_as_text_as_grok_does() {
        let s = set();
        assert_eq!(expand("%{ B} 100%{", &s, true).unwrap(), "%{ B} 100%{");
        // Anything between the name and the closing brace is ignored.
        assert_eq!(expand("%{B:f junk}", &s, true).unwrap(), "(?<B:f>b+)");
    }

    #[test]
    fn unknown_and_recursive_patterns_are_errors() {
        let s = set();
        let err = expand("%{WORDD:w}", &s, true).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown grok pattern \"WORDD\" in \"%{WORDD:w}\""
        );
        assert_eq!(err.help().as_deref(), Some("did you mean \"WORD\"?"));
        let err = expand("%{LOOP}", &s, true).unwrap_err();
        assert!(matches!(err, ExpandError::Recursive { .. }), "{err}");
    }
}
