//! Attribute values: strings, numbers, barewords, arrays, hashes and plugins used as values.
//!
//! ```text
//! value     = plugin | bareword | string | number | array | hash
//! bareword  = [A-Za-z_] [A-Za-z0-9_]+
//! number    = "-"? [0-9]+ ("." [0-9]*)?
//! array     = "[" cs (value (cs "," cs value)*)? cs "]"
//! hash      = "{" cs (entry (cs entry)*)? cs "}"
//! entry     = (number | bareword | string) cs "=>" cs value
//! ```

use super::cursor::{is_name_byte, is_text_byte, is_word_byte, quote_shown};
use super::{unescape, Parser};
use crate::config::ast::{HashEntry, Number, Value};
use crate::config::source::{Diagnostic, Span, Spanned};

/// What a word-like token (`[A-Za-z0-9_.-]+`) is as a value.
pub(super) enum Word {
    Number(Number),
    Bareword,
    /// Matches neither form; the message says why.
    Invalid(&'static str),
}

/// Classifies `text` by LSCL's number and bareword rules.
pub(super) fn classify_word(text: &str) -> Word {
    if is_number(text) {
        return match parse_number(text) {
            Some(n) => Word::Number(n),
            None => Word::Invalid("is out of range for a 64-bit integer"),
        };
    }
    let bytes = text.as_bytes();
    let bareword = bytes.len() >= 2
        && (bytes[0].is_ascii_alphabetic() || bytes[0] == b'_')
        && bytes.iter().all(|b| is_word_byte(*b));
    if bareword {
        Word::Bareword
    } else if bytes.len() == 1 && is_word_byte(bytes[0]) {
        Word::Invalid("is too short for a bareword (two characters at least)")
    } else {
        Word::Invalid("is neither a number nor a bareword")
    }
}

/// `-?[0-9]+(\.[0-9]*)?`.
fn is_number(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    let (int, frac) = match digits.split_once('.') {
        Some((int, frac)) => (int, Some(frac)),
        None => (digits, None),
    };
    !int.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.is_none_or(|f| f.bytes().all(|b| b.is_ascii_digit()))
}

/// Integers stay exact; `None` when an integer does not fit in an `i64`.
fn parse_number(text: &str) -> Option<Number> {
    if text.contains('.') {
        text.parse().ok().map(Number::Float)
    } else {
        text.parse().ok().map(Number::Int)
    }
}

impl Parser<'_> {
    /// A value, the cursor at its first byte. `expected` completes "expected ..., found ..."
    /// when there is none (e.g. `a value after "match =>"`). `None` after reporting an error.
    pub(super) fn value(&mut self, expected: &str) -> Option<Spanned<Value>> {
        self.nested(|p| p.value_inner(expected))
    }

    fn value_inner(&mut self, expected: &str) -> Option<Spanned<Value>> {
        match self.cur.peek() {
            Some(q @ (b'"' | b'\'')) => {
                let s = self.string_literal(q)?;
                if self.cur.peek_after_cs() == Some(b'{') {
                    self.cur.skip_cs();
                    return self.plugin_value(s);
                }
                Some(Spanned::new(Value::String(s.node), s.span))
            }
            Some(b'[') => Some(self.array()),
            Some(b'{') => Some(self.hash()),
            Some(b) if is_name_byte(b) || b == b'.' => Some(self.word_value()),
            Some(b) if is_text_byte(b) && b != b'=' => {
                let start = self.cur.pos;
                Some(self.unquoted_text(start))
            }
            _ => {
                self.expected(expected);
                None
            }
        }
    }

    /// Text that needed quotes (`/var/log/*.log`, `foo:bar`) from `start`: reported as one
    /// invalid value and returned as a bareword so parsing goes on.
    fn unquoted_text(&mut self, start: usize) -> Spanned<Value> {
        self.cur.pos = self.cur.unquoted_run_end(start).max(start + 1);
        let span = self.span_from(start);
        let text = self.cur.slice(span);
        let shown = quote_shown(text);
        let help = if text.contains(['\u{201c}', '\u{201d}', '\u{2018}', '\u{2019}']) {
            "replace the typographic quotes with plain \" or '".to_string()
        } else {
            format!("quote it to make it a string: {shown}")
        };
        let diag = Diagnostic::new(span, format!("invalid value {shown}: text must be quoted"))
            .with_help(help);
        self.report(diag);
        Spanned::new(Value::Bareword(text.to_string()), span)
    }

    /// A plugin used as a value (`codec => json { ... }`), the cursor at its `{`.
    fn plugin_value(&mut self, name: Spanned<String>) -> Option<Spanned<Value>> {
        let plugin = self.plugin_body(name)?;
        let span = plugin.span;
        Some(Spanned::new(Value::Plugin(plugin), span))
    }

    /// A number, a bareword, or a plugin name followed by its body. Invalid words are reported
    /// and returned as barewords so parsing goes on.
    fn word_value(&mut self) -> Spanned<Value> {
        let span = self.cur.scan_token();
        if self.cur.peek().is_some_and(is_text_byte) {
            return self.unquoted_text(span.start as usize);
        }
        let text = self.cur.slice(span);
        if self.cur.peek_after_cs() == Some(b'{') && text.bytes().all(is_name_byte) {
            self.cur.skip_cs();
            let name = Spanned::new(text.to_string(), span);
            if let Some(plugin) = self.plugin_value(name) {
                return plugin;
            }
        }
        let value = match classify_word(text) {
            Word::Number(n) => Value::Number(n),
            Word::Bareword => Value::Bareword(text.to_string()),
            Word::Invalid(why) => {
                let shown = quote_shown(text);
                let diag = Diagnostic::new(span, format!("invalid value {shown}: it {why}"))
                    .with_help(format!("quote it to make it a string: {shown}"));
                self.report(diag);
                Value::Bareword(text.to_string())
            }
        };
        Spanned::new(value, span)
    }

    /// A quoted string, the cursor at the quote `q`: its text (escapes processed when enabled)
    /// and the span of the whole literal. An unterminated one is reported and yields `None`.
    pub(super) fn string_literal(&mut self, q: u8) -> Option<Spanned<String>> {
        let quoted = self.cur.scan_quoted(q);
        if !quoted.terminated {
            let start = quoted.span.start as usize;
            let diag = Diagnostic::new(Span::new(start, start + 1), "unterminated string")
                .with_help(format!(
                    "no closing {} before the end of the config",
                    if q == b'"' { "'\"'" } else { "\"'\"" }
                ));
            self.report(diag);
            return None;
        }
        self.note_literal(quoted.span);
        let raw = self.cur.slice(quoted.content);
        let text = if self.options.support_escapes {
            unescape(raw)
        } else {
            raw.to_string()
        };
        Some(Spanned::new(text, quoted.span))
    }

    /// Remembers a literal that spans lines, for the missing-quote hint.
    pub(super) fn note_literal(&mut self, span: Span) {
        if !self.cur.same_line(span.start as usize, span.end as usize) {
            self.multiline_literal = Some(span);
        }
    }

    /// `[ value, ... ]`, the cursor at `[`. Errors are reported and the array is returned with
    /// what could be read.
    fn array(&mut self) -> Spanned<Value> {
        let start = self.cur.pos;
        self.cur.pos += 1;
        let items = self.in_block("array".to_string(), start, start, |p| p.array_items());
        Spanned::new(Value::Array(items), self.span_from(start))
    }

    fn array_items(&mut self) -> Vec<Spanned<Value>> {
        let mut items = Vec::new();
        self.cur.skip_cs();
        if self.cur.eat_byte(b']') {
            return items;
        }
        loop {
            self.cur.skip_cs();
            if self.array_interrupted() {
                return items;
            }
            if self.cur.peek() == Some(b']') && !items.is_empty() {
                let diag = Diagnostic::new(self.token_span(), "expected a value after \",\"")
                    .with_help("remove the trailing \",\"");
                self.report(diag);
                self.cur.pos += 1;
                return items;
            }
            match self.value("a value in the array") {
                Some(v) => items.push(v),
                None => self.cur.skip_token_or_group(),
            }
            self.cur.skip_cs();
            if self.cur.eat_byte(b',') {
                continue;
            }
            if self.cur.eat_byte(b']') || self.array_interrupted() {
                return items;
            }
            let diag = self
                .expected_diag("\",\" or \"]\" in array")
                .with_help("array elements are separated by \",\"");
            self.report(diag);
            // Go on as if the comma were there, unless nothing value-like follows.
            if !matches!(self.cur.peek(), Some(b'"' | b'\'' | b'[' | b'{'))
                && !self.cur.peek().is_some_and(is_name_byte)
            {
                self.cur.skip_token_or_group();
            }
        }
    }

    /// At the end of the text, a section header or a `}` inside an array: its `]` is missing.
    /// Reports that (the `}` is left for the enclosing block) and returns true.
    fn array_interrupted(&mut self) -> bool {
        if self.cur.peek() == Some(b'}') {
            let diag = Diagnostic::new(self.token_span(), "expected \"]\" to close the array")
                .with_help(format!(
                    "the array opened at line {} is not closed before this \"}}\"",
                    self.line_of(self.open.last().map_or(0, |b| b.opener))
                ));
            self.report(diag);
            return true;
        }
        self.block_end().is_some()
    }

    /// `{ key => value ... }`, the cursor at `{`.
    fn hash(&mut self) -> Spanned<Value> {
        let start = self.cur.pos;
        self.cur.pos += 1;
        let entries = self.in_block("hash".to_string(), start, start, |p| p.hash_entries());
        Spanned::new(Value::Hash(entries), self.span_from(start))
    }

    fn hash_entries(&mut self) -> Vec<HashEntry> {
        let mut entries: Vec<HashEntry> = Vec::new();
        loop {
            self.cur.skip_cs();
            if self.cur.eat_byte(b'}') {
                return entries;
            }
            if self.block_end().is_some() {
                return entries;
            }
            if let Some(b',' | b';') = self.cur.peek() {
                let span = self.token_span();
                let sep = self.cur.slice(span).to_string();
                let diag = Diagnostic::new(span, format!("unexpected \"{sep}\" in hash"))
                    .with_help("hash entries are separated by whitespace only, not commas");
                self.report(diag);
                self.cur.pos += 1;
                continue;
            }
            let Some(key) = self.hash_key() else {
                self.cur.skip_to_block_end();
                continue;
            };
            if let Some(entry) = self.hash_entry_value(key) {
                self.check_duplicate_key(&entries, &entry.key);
                entries.push(entry);
            }
        }
    }

    /// A key: number, bareword or string. Invalid words are reported and used as they are.
    fn hash_key(&mut self) -> Option<Spanned<String>> {
        match self.cur.peek() {
            Some(q @ (b'"' | b'\'')) => self.string_literal(q),
            Some(b) if is_name_byte(b) || b == b'.' => {
                let span = self.cur.scan_token();
                let text = self.cur.slice(span);
                if let Word::Invalid(why) = classify_word(text) {
                    let shown = quote_shown(text);
                    let diag = Diagnostic::new(span, format!("invalid hash key {shown}: it {why}"))
                        .with_help(format!("quote it: {shown}"));
                    self.report(diag);
                }
                Some(Spanned::new(text.to_string(), span))
            }
            _ => {
                self.expected("a hash key or \"}\"");
                None
            }
        }
    }

    /// `cs "=>" cs value` after a hash key.
    fn hash_entry_value(&mut self, key: Spanned<String>) -> Option<HashEntry> {
        let key_end = self.cur.pos;
        self.cur.skip_cs();
        if !self.cur.eat("=>") {
            let shown = quote_shown(&key.node);
            let mut diag = self.expected_diag(&format!("\"=>\" after hash key {shown}"));
            let substitute = [":", "==", "=", "->"]
                .into_iter()
                .find(|s| self.cur.starts_with(s));
            let value_here = matches!(self.cur.peek(), Some(b'"' | b'\'' | b'[' | b'{'))
                && self.cur.same_line(key_end, self.cur.pos);
            if let Some(s) = substitute {
                diag = diag.with_help(format!("write {shown} => value, not \"{s}\""));
                self.report(diag);
                self.cur.pos += s.len();
            } else if value_here {
                self.report(diag);
            } else {
                self.report(diag);
                self.cur.skip_to_block_end();
                return None;
            }
        }
        self.cur.skip_cs();
        let value = self.value(&format!("a value after \"{} =>\"", key.node))?;
        Some(HashEntry { key, value })
    }

    /// Logstash rejects a hash that repeats a key.
    fn check_duplicate_key(&mut self, entries: &[HashEntry], key: &Spanned<String>) {
        if let Some(first) = entries.iter().find(|e| e.key.node == key.node) {
            let line = self.line_of(first.key.span.start as usize);
            let diag = Diagnostic::new(
                key.span,
                format!("duplicate key {} in hash", quote_shown(&key.node)),
            )
            .with_help(format!("first given at line {line}"));
            self.report(diag);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_numbers_and_barewords() {
        assert!(matches!(
            classify_word("-12"),
            Word::Number(Number::Int(-12))
        ));
        assert!(matches!(classify_word("1."), Word::Number(Number::Float(f)) if f == 1.0));
        assert!(matches!(classify_word("0.25"), Word::Number(Number::Float(f)) if f == 0.25));
        assert!(matches!(classify_word("_x1"), Word::Bareword));
        assert!(matches!(classify_word("x"), Word::Invalid(_)));
        assert!(matches!(classify_word("1.2.3"), Word::Invalid(_)));
        assert!(matches!(classify_word("foo-bar"), Word::Invalid(_)));
        assert!(matches!(classify_word(".5"), Word::Invalid(_)));
        assert!(matches!(
            classify_word("99999999999999999999"),
            Word::Invalid(_)
        ));
    }
}
