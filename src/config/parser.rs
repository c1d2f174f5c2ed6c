//! The LSCL parser: config text -> [`ast::Config`], or every syntax error found, each at a span.
//!
//! A hand-written recursive-descent parser over the bytes of the [`SourceMap`]'s text, following
//! Logstash's `lscl_grammar.treetop`. [`parse`] is the entry point; the grammar is split by
//! level:
//!
//! - `cursor`: `Cursor`, byte-level scanning (blanks and comments, words, quoted strings,
//!   balanced skipping) and token descriptions for messages;
//! - `blocks`: sections, statements, plugins and attributes, if/else chains;
//! - `values`: attribute values (strings, numbers, barewords, arrays, hashes, plugins);
//! - `condition`: conditions and their operands (selectors, regexes, ...).
//!
//! # Errors and recovery
//!
//! Every error is recorded and parsing goes on, so one run reports every independent problem.
//! After an error the parser resumes at a nearby safe point (the end of the plugin, the body of
//! an `if`, the next section header, or simply as if the missing `=>` or `,` were there) and
//! stays *quiet* (drops further errors) until it has parsed a whole attribute, closed a block or
//! reached a section header: what follows an error right away is usually a consequence of it,
//! and so is whatever is missing at the end of the text. A few
//! heuristics turn confusing consequences into the real cause: an attribute-like line where a
//! plugin should be means an extra `}`; a plugin-like line where an attribute should be, at the
//! plugin's own indentation, means a missing `}`; a `}` indented like an outer block names the
//! block that lacks its `}`; an error right after a string spanning lines suggests a missing
//! quote.
//!
//! # Compatibility notes
//!
//! - The grammar is Logstash's, with three deliberate differences: `and` binds tighter than
//!   `or` in every chain (Logstash's shunting-yard mis-groups `a and b and c or d` as
//!   `a and ((b and c) or d)`); a field reference never spans lines; and unknown escapes under
//!   `support_escapes` keep their backslash (`"\d"` stays `\d`).
//! - As in Logstash, `[a] in ["x"]` compares with the *field* `["x"]` (a selector wins over a
//!   one-element array), repeated hash keys are an error, and a chain of two or more boolean
//!   operators involving `xor` or `nand` must be parenthesized.

mod blocks;
mod condition;
mod cursor;
mod values;

use super::ast;
use super::source::{Diagnostic, Diagnostics, SourceMap, Span};
use cursor::Cursor;

/// Parser settings.
#[derive(Clone, Copy, Debug, Default)]
pub struct ParseOptions {
    /// Logstash's `config.support_escapes`: process `\n \r \t \\ \" \' \0` in strings.
    pub support_escapes: bool,
}

/// Parses the whole text of `sources`.
///
/// Returns every syntax error (in source order) when there is any; the AST is only returned
/// for a config without errors.
pub fn parse(sources: &SourceMap, options: ParseOptions) -> Result<ast::Config, Diagnostics> {
    let mut parser = Parser::new(sources, options);
    let config = parser.config();
    if parser.diags.is_empty() {
        Ok(config)
    } else {
        parser.diags.0.sort_by_key(|d| (d.span.start, d.span.end));
        Err(parser.diags)
    }
}

/// How deeply arrays, hashes, plugins, conditionals and parentheses may nest. Real configs stay
/// far below; the limit keeps hostile input from overflowing the stack.
const MAX_DEPTH: usize = 100;

/// A `{` (or `[`) that is open, for "unclosed" messages and indentation checks.
#[derive(Clone, Debug)]
struct OpenBlock {
    /// What it opens, for messages: `plugin "grok"`, `section "filter"`, `hash`, ...
    what: String,
    /// The opening bracket's offset.
    opener: usize,
    /// The offset of the block's first token (its name or keyword), for indentation checks.
    start: usize,
}

/// A `}` that closed `block` while indented less than the line `block` starts on: the sign
/// that `block`'s own `}` is missing and this one belonged to an outer block.
#[derive(Clone, Debug)]
struct MisalignedClose {
    block: OpenBlock,
    close: usize,
}

/// The parse state shared by every grammar rule.
struct Parser<'a> {
    cur: Cursor<'a>,
    sources: &'a SourceMap,
    options: ParseOptions,
    diags: Diagnostics,
    /// Set once an error is reported, cleared at the next safe point; while set, new errors are
    /// dropped as likely consequences of the first.
    quiet: bool,
    /// Current nesting, bounded by [`MAX_DEPTH`].
    depth: usize,
    /// Brackets open around the current position, innermost last.
    open: Vec<OpenBlock>,
    /// The offset of the last `}` consumed, for "is this `}` extra?" hints.
    last_close: Option<usize>,
    /// The last plugin closed, in case an attribute after it shows it was closed too early.
    last_plugin: Option<OpenBlock>,
    /// The `}` that closed the last section, when indented like a plugin's `}`.
    early_section_close: Option<usize>,
    /// The latest string or regex that spanned several lines.
    multiline_literal: Option<Span>,
    /// The first misaligned `}` in the current section.
    misaligned: Option<MisalignedClose>,
}

impl<'a> Parser<'a> {
    fn new(sources: &'a SourceMap, options: ParseOptions) -> Parser<'a> {
        Parser {
            cur: Cursor::new(sources.text()),
            sources,
            options,
            diags: Diagnostics::default(),
            quiet: false,
            depth: 0,
            open: Vec::new(),
            last_close: None,
            last_plugin: None,
            early_section_close: None,
            multiline_literal: None,
            misaligned: None,
        }
    }

    /// Records `diag` unless an earlier error's consequences are still being skipped.
    fn report(&mut self, mut diag: Diagnostic) {
        if !self.quiet {
            if diag.help.is_none() {
                diag.help = self.missing_quote_hint(diag.span.start as usize);
            }
            self.diags.push(diag);
        }
        self.quiet = true;
    }

    /// An error whose position follows, on the same line, the end of a literal spanning lines
    /// is most often caused by a missing closing quote earlier.
    fn missing_quote_hint(&self, at: usize) -> Option<String> {
        let lit = self.multiline_literal?;
        let end = lit.end as usize;
        if at < end || !self.cur.same_line(end, at) {
            return None;
        }
        Some(format!(
            "the string opened at line {} runs on to line {}; is a closing quote missing?",
            self.line_of(lit.start as usize),
            self.line_of(end)
        ))
    }

    /// Reports "expected X, found Y" at the token at the current position.
    fn expected(&mut self, what: &str) {
        let diag = self.expected_diag(what);
        self.report(diag);
    }

    /// "expected X, found Y" at the token found, or, when that token is on a later line, just
    /// after the previous one: where the missing piece goes.
    fn expected_diag(&self, what: &str) -> Diagnostic {
        let pos = self.cur.pos;
        let found = self.cur.describe_at(pos);
        let span = match self.cur.end_of_previous_line(pos) {
            Some(end) => Span::new(end, end),
            None => self.token_span(),
        };
        Diagnostic::new(span, format!("expected {what}, found {found}"))
    }

    /// The span of the token at the current position (one byte wide at least, for the caret).
    fn token_span(&self) -> Span {
        self.cur.token_span_at(self.cur.pos)
    }

    /// A safe point: the text since the last error parsed cleanly. Not at the end of the text:
    /// what is missing there is a consequence of the earlier error.
    fn sync(&mut self) {
        if !self.cur.at_eof() {
            self.quiet = false;
        }
    }

    /// The 1-based line (within its file) of `pos`.
    fn line_of(&self, pos: usize) -> usize {
        self.sources.locate(pos as u32).line
    }

    fn span_from(&self, start: usize) -> Span {
        Span::new(start, self.cur.pos)
    }

    /// Runs `f` one nesting level deeper; past [`MAX_DEPTH`] reports and skips to the end.
    fn nested<T>(&mut self, f: impl FnOnce(&mut Self) -> Option<T>) -> Option<T> {
        if self.depth >= MAX_DEPTH {
            let span = self.token_span();
            self.report(Diagnostic::new(
                span,
                format!("nesting is too deep (more than {MAX_DEPTH} levels)"),
            ));
            // Nothing sensible can follow: give up on the rest of the text.
            self.cur.pos = self.cur.src().len();
            return None;
        }
        self.depth += 1;
        let out = f(self);
        self.depth -= 1;
        out
    }

    /// At a block's end: consumes `}` and returns `Some(true)`; at the end of the text or at a
    /// section header reports the innermost open block as unclosed and returns `Some(false)`;
    /// otherwise `None`. Expects blanks already skipped.
    fn block_end(&mut self) -> Option<bool> {
        match self.cur.peek() {
            Some(b'}') => {
                self.note_close();
                self.cur.pos += 1;
                self.sync();
                Some(true)
            }
            None => {
                self.report_unclosed(None);
                Some(false)
            }
            Some(_) => {
                let header = self.cur.section_header_at(self.cur.pos)?;
                self.report_unclosed(Some(header));
                Some(false)
            }
        }
    }

    /// Records a `}` (at the current position) closing the innermost block.
    fn note_close(&mut self) {
        let pos = self.cur.pos;
        self.last_close = Some(pos);
        let Some(block) = self.open.last() else {
            return;
        };
        let misaligned = self.misaligned.is_none()
            && self.cur.is_first_on_line(pos)
            && self.cur.indent_of_line(pos) < self.cur.indent_of_line(block.start);
        if misaligned {
            self.misaligned = Some(MisalignedClose {
                block: block.clone(),
                close: pos,
            });
        }
    }

    /// Reports the innermost open block as missing its `}` (found the end of the text, or the
    /// section header `header`). A misaligned `}` inside it names the likelier culprit.
    fn report_unclosed(&mut self, header: Option<Span>) {
        let Some(block) = self.open.last().cloned() else {
            return;
        };
        let close_char = if self.cur.src().as_bytes().get(block.opener) == Some(&b'[') {
            ']'
        } else {
            '}'
        };
        let culprit = self
            .misaligned
            .as_ref()
            .filter(|m| m.close > block.opener)
            .cloned();
        let (target, help) = match culprit {
            Some(m) => {
                let help = format!(
                    "the \"}}\" at line {} closes it, but is indented like an outer block's; \
                     add the missing \"}}\"",
                    self.line_of(m.close),
                );
                (m.block, help)
            }
            None => {
                let help = match header {
                    Some(h) => format!(
                        "section \"{}\" at line {} starts here, so a \"{close_char}\" is \
                         missing before it",
                        self.cur.slice(h),
                        self.line_of(h.start as usize)
                    ),
                    None => format!("the config ends before its \"{close_char}\""),
                };
                (block, help)
            }
        };
        let open_char = if close_char == ']' { '[' } else { '{' };
        let diag = Diagnostic::new(
            Span::new(target.opener, target.opener + 1),
            format!("unclosed \"{open_char}\" of {}", target.what),
        )
        .with_help(help);
        self.report(diag);
    }

    /// Runs `f` with a block (opened at `opener`, starting at `start`) on the open stack.
    fn in_block<T>(
        &mut self,
        what: String,
        start: usize,
        opener: usize,
        f: impl FnOnce(&mut Self) -> T,
    ) -> T {
        self.open.push(OpenBlock {
            what,
            opener,
            start,
        });
        let out = f(self);
        self.open.pop();
        out
    }
}

/// Replaces the escapes of `config.support_escapes`. A backslash before any other character is
/// kept with it, so regex escapes such as `\d` survive.
fn unescape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some('0') => out.push('\0'),
            Some(c @ ('\\' | '"' | '\'')) => out.push(c),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unescape_replaces_only_the_listed_escapes() {
        assert_eq!(
            unescape(r#"a\nb\tc\rd\\e\"f\'g\0h"#),
            "a\nb\tc\rd\\e\"f'g\0h"
        );
        assert_eq!(unescape(r"\d+\.\w"), r"\d+\.\w");
        assert_eq!(unescape("end\\"), "end\\");
    }
}
