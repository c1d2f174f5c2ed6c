//! The block structure of a config: sections, their statements (plugins and if/else chains),
//! plugin bodies and attributes, with the recovery rules for misplaced or missing braces.
//!
//! ```text
//! config    = (cs section)* cs
//! section   = ("input" | "filter" | "output") cs "{" cs (statement cs)* "}"
//! statement = if_chain | plugin
//! plugin    = name cs "{" cs (attribute cs)* "}"
//! attribute = name cs "=>" cs value
//! if_chain  = "if" cs condition cs block (cs "else" cs "if" cs condition cs block)*
//!             (cs "else" cs block)?
//! ```

use super::cursor::{is_name_byte, quote_shown};
use super::Parser;
use crate::config::ast::{
    Attribute, Branch, Config, Expr, IfChain, Number, Plugin, RValue, Section, SectionKind,
    Statement,
};
use crate::config::source::{did_you_mean, Diagnostic, Span, Spanned};

const SECTIONS: [&str; 3] = ["input", "filter", "output"];

/// How the body of an `if` / `else if` is named in messages (and recognised on the stack).
const IF_BLOCK: &str = "\"if\" block";

/// How parsing one attribute ended.
enum AttrOutcome {
    Parsed(Attribute),
    /// An error was reported and the rest of the plugin body skipped or resumed.
    Skipped,
    /// A new plugin started where an attribute should be: the plugin's `}` is missing and the
    /// plugin ends here (the position is left at the new plugin).
    PluginEnded,
}

/// What to do after a missing `=>`.
enum ArrowFix {
    /// Read the value as if the arrow were there (the cursor stands before it).
    ValueFollows,
    /// The rest of the plugin body was skipped.
    Skipped,
    /// The plugin ends here (see [`AttrOutcome::PluginEnded`]).
    PluginEnded,
}

impl Parser<'_> {
    /// `config = (cs section)* cs`.
    pub(super) fn config(&mut self) -> Config {
        let mut sections = Vec::new();
        loop {
            self.cur.skip_cs();
            if self.cur.at_eof() {
                return Config { sections };
            }
            if let Some(section) = self.section() {
                sections.push(section);
            }
        }
    }

    /// One top-level item: a section, or whatever stands there instead (reported and skipped).
    fn section(&mut self) -> Option<Section> {
        let start = self.cur.pos;
        match self.cur.peek() {
            Some(b'}') => {
                self.stray_top_level_close();
                return None;
            }
            Some(b) if is_name_byte(b) => {}
            _ => {
                self.expected("a section (input, filter or output)");
                self.cur.skip_token_or_group();
                return None;
            }
        }
        let word = self.cur.scan_token();
        let text = self.cur.slice(word);
        let kind = match text {
            "input" => SectionKind::Input,
            "filter" => SectionKind::Filter,
            "output" => SectionKind::Output,
            _ => return self.unknown_section(word),
        };
        self.misaligned = None;
        self.early_section_close = None;
        let body = self.section_body(kind, word)?;
        self.note_section_close(word.start as usize);
        self.sync();
        Some(Section {
            kind,
            kind_span: word,
            body,
            span: self.span_from(start),
        })
    }

    /// After a section keyword: `cs "{" statements "}"`.
    fn section_body(&mut self, kind: SectionKind, word: Span) -> Option<Vec<Statement>> {
        self.cur.skip_cs();
        if self.cur.peek() != Some(b'{') {
            let diag = self.expected_diag(&format!("\"{{\" after section \"{}\"", kind.as_str()));
            self.report(diag);
            // Resume as if the brace were there unless nothing here looks like a body.
            if self.cur.at_eof() || self.cur.peek() == Some(b'}') {
                return None;
            }
            let what = format!("section \"{}\"", kind.as_str());
            let start = word.start as usize;
            let opener = word.start as usize;
            return Some(self.in_block(what, start, opener, |p| p.statements()));
        }
        let opener = self.cur.pos;
        self.cur.pos += 1;
        self.sync();
        let what = format!("section \"{}\"", kind.as_str());
        Some(self.in_block(what, word.start as usize, opener, |p| p.statements()))
    }

    /// Remembers the `}` that just closed the section starting at `start` if it is indented
    /// deeper than the section: probably meant for a plugin, closing the section too early.
    fn note_section_close(&mut self, start: usize) {
        let Some(close) = self.last_close.filter(|c| c + 1 == self.cur.pos) else {
            return;
        };
        if self.cur.is_first_on_line(close)
            && self.cur.indent_of_line(close) > self.cur.indent_of_line(start)
        {
            self.early_section_close = Some(close);
        }
    }

    /// A word at the top level that is not a section keyword.
    fn unknown_section(&mut self, word: Span) -> Option<Section> {
        let text = self.cur.slice(word);
        let followed_by_brace = self.cur.peek_after_cs() == Some(b'{');
        if let Some(guess) = did_you_mean(text, SECTIONS) {
            let diag = Diagnostic::new(word, format!("unknown section {}", quote_shown(text)))
                .with_help(format!("did you mean \"{guess}\"?"));
            self.report(diag);
            if followed_by_brace {
                // Parse the body anyway (and drop it) so errors inside are reported too.
                let kind = match guess {
                    "input" => SectionKind::Input,
                    "filter" => SectionKind::Filter,
                    _ => SectionKind::Output,
                };
                self.sync();
                self.section_body(kind, word);
            }
            return None;
        }
        let mut diag = Diagnostic::new(
            word,
            format!(
                "expected a section (input, filter or output), found {}",
                quote_shown(text)
            ),
        );
        if let Some(close) = self.early_section_close.filter(|_| followed_by_brace) {
            diag = diag.with_help(format!(
                "is the \"}}\" at line {} extra? it closes the section before",
                self.line_of(close)
            ));
        } else if text == "if" {
            diag = diag.with_help("conditionals go inside a section, e.g. filter { if ... { } }");
        } else if followed_by_brace {
            diag = diag.with_help(format!(
                "plugins go inside a section, e.g. filter {{ {text} {{ ... }} }}"
            ));
        }
        self.report(diag);
        self.cur.skip_cs();
        if followed_by_brace {
            self.cur.skip_token_or_group();
        }
        None
    }

    /// A `}` at the top level.
    fn stray_top_level_close(&mut self) {
        let span = self.token_span();
        self.report(
            Diagnostic::new(span, "unexpected \"}\"")
                .with_help("no \"{\" is open here; is this \"}\" extra?"),
        );
        self.cur.pos += 1;
    }

    /// `(statement cs)* "}"`: the body of a section or a branch, up to and including its `}`.
    fn statements(&mut self) -> Vec<Statement> {
        let mut body = Vec::new();
        loop {
            self.cur.skip_cs();
            if self.block_end().is_some() || self.else_closes_if_block() {
                return body;
            }
            if let Some(statement) = self.statement() {
                body.push(statement);
            }
        }
    }

    /// `else` starting a line, inside an if block and indented no deeper than its `if`: the
    /// block's `}` is missing. Reports that; the if chain then goes on with the `else`.
    fn else_closes_if_block(&mut self) -> bool {
        let pos = self.cur.pos;
        let Some(block) = self.open.last() else {
            return false;
        };
        let missing_close = block.what == IF_BLOCK
            && self.cur.is_keyword_at(pos, "else")
            && self.cur.is_first_on_line(pos)
            && self.cur.column(pos) <= self.cur.column(block.start);
        if missing_close {
            let diag = Diagnostic::new(
                Span::new(block.opener, block.opener + 1),
                format!("unclosed \"{{\" of {IF_BLOCK}"),
            )
            .with_help(format!(
                "the \"else\" at line {} follows it; add a \"}}\" before the \"else\"",
                self.line_of(pos)
            ));
            self.report(diag);
        }
        missing_close
    }

    /// A plugin or an if/else chain (or an error, after which at least one byte is consumed).
    fn statement(&mut self) -> Option<Statement> {
        if self.cur.is_keyword_at(self.cur.pos, "if") {
            return self.if_chain().map(Statement::If);
        }
        if self.cur.is_keyword_at(self.cur.pos, "else") {
            return self.orphan_else();
        }
        match self.cur.peek() {
            Some(b'"' | b'\'') => {}
            Some(b) if is_name_byte(b) => {}
            _ => {
                self.expected("a plugin or \"if\"");
                self.cur.skip_token_or_group();
                return None;
            }
        }
        let name = self.plugin_name()?;
        self.cur.skip_cs();
        if self.cur.peek() == Some(b'{') {
            return self.plugin_body(name).map(Statement::Plugin);
        }
        self.plugin_without_body(name);
        None
    }

    /// A plugin name: `[A-Za-z0-9_-]+` or a quoted string.
    pub(super) fn plugin_name(&mut self) -> Option<Spanned<String>> {
        let name = self.name()?;
        if name.node.is_empty() {
            let diag = Diagnostic::new(name.span, "a plugin name cannot be empty");
            self.report(diag);
        }
        Some(name)
    }

    /// A name (plugin or attribute): `[A-Za-z0-9_-]+` or a quoted string. Names with other
    /// characters are reported but returned, so parsing goes on.
    fn name(&mut self) -> Option<Spanned<String>> {
        if let Some(q @ (b'"' | b'\'')) = self.cur.peek() {
            return self.string_literal(q);
        }
        let span = self.cur.scan_token();
        let text = self.cur.slice(span);
        if !text.bytes().all(is_name_byte) {
            let diag = Diagnostic::new(span, format!("invalid name {}", quote_shown(text)))
                .with_help(format!(
                    "names are letters, digits, \"_\" and \"-\"; quote it: {}",
                    quote_shown(text)
                ));
            self.report(diag);
        }
        Some(Spanned::new(text.to_string(), span))
    }

    /// A name not followed by `{` where a plugin was expected.
    fn plugin_without_body(&mut self, name: Spanned<String>) {
        let pos = self.cur.pos;
        if self.cur.starts_with("=>") {
            self.attribute_outside_plugin(name);
            return;
        }
        let mut diag = self.expected_diag(&format!(
            "\"{{\" after plugin name {}",
            quote_shown(&name.node)
        ));
        if matches!(name.node.as_str(), "elsif" | "elseif" | "elif") {
            diag = diag.with_help("did you mean \"else if\"?");
            self.report(diag);
            // Parse the condition and body so the rest of the section stays in step.
            self.branch(name.span.start as usize);
            return;
        }
        if self.cur.peek() == Some(b'}') {
            diag = diag.with_help(format!(
                "a plugin without options is written {} {{}}",
                name.node
            ));
        }
        self.report(diag);
        if self.looks_like_attribute(pos) {
            // `grok match => ...`: the `{` is missing; read the attributes as the body.
            let what = format!("plugin {}", quote_shown(&name.node));
            let start = name.span.start as usize;
            self.in_block(what, start, start, |p| p.attributes());
        }
    }

    /// An attribute where a plugin was expected. Indented deeper than the plugin before it, it
    /// means a `}` closed that plugin too early: the rest of its body is read up to the `}`
    /// meant for it, so the enclosing block stays in step.
    fn attribute_outside_plugin(&mut self, name: Spanned<String>) {
        let start = name.span.start as usize;
        let early_close = self
            .last_close
            .zip(self.last_plugin.clone())
            .filter(|(_, plugin)| self.cur.column(start) > self.cur.column(plugin.start));
        let mut diag = Diagnostic::new(
            name.span,
            format!(
                "found attribute {} where a plugin was expected",
                quote_shown(&name.node)
            ),
        );
        match early_close {
            Some((close, plugin)) => {
                diag = diag.with_help(format!(
                    "is the \"}}\" at line {} extra? it closes {}",
                    self.line_of(close),
                    plugin.what
                ));
                self.report(diag);
                self.cur.pos = start;
                self.in_block(plugin.what, plugin.start, plugin.opener, |p| p.attributes());
            }
            None => {
                diag = diag.with_help("attributes go inside a plugin's braces: name { ... }");
                self.report(diag);
                self.cur.pos += 2;
                self.cur.skip_cs();
                self.value("a value after \"=>\"");
            }
        }
    }

    /// Whether a name followed by `=>` starts at `pos`.
    fn looks_like_attribute(&self, pos: usize) -> bool {
        let src = self.cur.src().as_bytes();
        let end = pos + src[pos..].iter().take_while(|b| is_name_byte(**b)).count();
        if end == pos {
            return false;
        }
        let mut probe = super::cursor::Cursor::new(self.cur.src());
        probe.pos = end;
        probe.skip_cs();
        probe.starts_with("=>")
    }

    /// `"{" cs (attribute cs)* "}"` after a plugin name (the cursor is at the `{`).
    pub(super) fn plugin_body(&mut self, name: Spanned<String>) -> Option<Plugin> {
        self.nested(|p| {
            let opener = p.cur.pos;
            p.cur.pos += 1;
            let what = format!("plugin {}", quote_shown(&name.node));
            let start = name.span.start as usize;
            let block = super::OpenBlock {
                what,
                opener,
                start,
            };
            let (attributes, closed) =
                p.in_block(block.what.clone(), start, opener, |p| p.attributes());
            if closed {
                p.last_plugin = Some(block);
            }
            Some(Plugin {
                span: Span::new(start, p.cur.pos),
                name,
                attributes,
            })
        })
    }

    /// The attributes of a plugin body, up to and including its `}`; whether the `}` was found.
    fn attributes(&mut self) -> (Vec<Attribute>, bool) {
        let mut attributes = Vec::new();
        loop {
            self.cur.skip_cs();
            if let Some(closed) = self.block_end() {
                return (attributes, closed);
            }
            match self.attribute() {
                AttrOutcome::Parsed(attr) => {
                    attributes.push(attr);
                    self.sync();
                }
                AttrOutcome::Skipped => {}
                AttrOutcome::PluginEnded => return (attributes, false),
            }
        }
    }

    /// `name cs "=>" cs value`, or an error and a resumption point.
    fn attribute(&mut self) -> AttrOutcome {
        let start = self.cur.pos;
        match self.cur.peek() {
            Some(b'"' | b'\'') => {}
            Some(b) if is_name_byte(b) => {}
            Some(b',' | b';') => {
                let span = self.token_span();
                let sep = self.cur.slice(span).to_string();
                self.report(
                    Diagnostic::new(span, format!("unexpected \"{sep}\""))
                        .with_help("attributes are separated by whitespace only"),
                );
                self.cur.pos += 1;
                return AttrOutcome::Skipped;
            }
            _ => {
                self.expected("an attribute name or \"}\"");
                self.cur.skip_to_block_end();
                return AttrOutcome::Skipped;
            }
        }
        let Some(name) = self.name() else {
            return AttrOutcome::Skipped;
        };
        self.cur.skip_cs();
        if !self.cur.eat("=>") {
            match self.missing_arrow(&name, start) {
                ArrowFix::ValueFollows => {}
                ArrowFix::Skipped => return AttrOutcome::Skipped,
                ArrowFix::PluginEnded => return AttrOutcome::PluginEnded,
            }
        }
        self.cur.skip_cs();
        match self.value(&format!("a value after \"{} =>\"", name.node)) {
            Some(value) => AttrOutcome::Parsed(Attribute { name, value }),
            None => {
                self.cur.skip_to_block_end();
                AttrOutcome::Skipped
            }
        }
    }

    /// No `=>` after attribute `name` (which starts at `start`): reports it and says how to go
    /// on. A `:`, `=` or `->` in its place is taken as the arrow; a value on the same line is
    /// read as if the arrow were there; otherwise the rest of the plugin is skipped.
    fn missing_arrow(&mut self, name: &Spanned<String>, start: usize) -> ArrowFix {
        let pos = self.cur.pos;
        let is_if = name.node == "if" || name.node == "else";
        if is_if || self.cur.peek() == Some(b'{') {
            if self.new_plugin_at(start) {
                return ArrowFix::PluginEnded;
            }
            if is_if {
                let diag = Diagnostic::new(
                    name.span,
                    "conditionals go between plugins, not inside a plugin",
                );
                self.report(diag);
                self.cur.skip_to_block_end();
                return ArrowFix::Skipped;
            }
        }
        let shown = quote_shown(&name.node);
        let mut diag = self.expected_diag(&format!("\"=>\" after attribute name {shown}"));
        let substitute = [":", "==", "=", "->"]
            .into_iter()
            .find(|s| self.cur.starts_with(s));
        if let Some(s) = substitute {
            diag = diag.with_help(format!("write {} => value, not \"{s}\"", name.node));
            self.report(diag);
            self.cur.pos += s.len();
            return ArrowFix::ValueFollows;
        }
        self.report(diag);
        let value_follows = match self.cur.peek() {
            Some(b'"' | b'\'' | b'[' | b'{') => true,
            Some(b) => is_name_byte(b),
            None => false,
        };
        if value_follows && self.cur.same_line(start, pos) {
            return ArrowFix::ValueFollows;
        }
        self.cur.skip_to_block_end();
        ArrowFix::Skipped
    }

    /// Where an attribute should be, `name {` (or `if`) at the start of a line, indented no
    /// deeper than the current plugin, is the next plugin: the current one lacks its `}`.
    /// Reports that and rewinds to `start`.
    fn new_plugin_at(&mut self, start: usize) -> bool {
        let Some(block) = self.open.last().cloned() else {
            return false;
        };
        let is_next_plugin = self.cur.is_first_on_line(start)
            && self.cur.column(start) <= self.cur.column(block.start);
        if !is_next_plugin {
            return false;
        }
        let found = self.cur.describe_at(start);
        let diag = Diagnostic::new(
            Span::new(block.opener, block.opener + 1),
            format!("unclosed \"{{\" of {}", block.what),
        )
        .with_help(format!(
            "{found} at line {} looks like the next plugin; add a \"}}\" before it",
            self.line_of(start)
        ));
        self.report(diag);
        self.cur.pos = start;
        true
    }

    /// `if cond { .. } (else if cond { .. })* (else { .. })?`, the cursor at `if`.
    fn if_chain(&mut self) -> Option<IfChain> {
        self.nested(|p| {
            let start = p.cur.pos;
            p.cur.pos += "if".len();
            let mut branches = vec![p.branch(start)];
            let mut otherwise = None;
            loop {
                let before = p.cur.pos;
                p.cur.skip_cs();
                let else_at = p.cur.pos;
                if !p.cur.eat_keyword("else") {
                    p.cur.pos = before;
                    break;
                }
                p.cur.skip_cs();
                if p.cur.eat_keyword("if") {
                    branches.push(p.branch(else_at));
                    continue;
                }
                otherwise = Some(p.else_body());
                break;
            }
            Some(IfChain {
                branches,
                otherwise,
                span: p.span_from(start),
            })
        })
    }

    /// After `else`: `{ statements }`.
    fn else_body(&mut self) -> Vec<Statement> {
        if self.cur.peek() != Some(b'{') {
            self.expected("\"if\" or \"{\" after \"else\"");
            if !self.skip_to_body() {
                return Vec::new();
            }
        }
        let else_at = self.cur.pos;
        self.block("\"else\" block".to_string(), else_at)
    }

    /// The condition and body of the `if` (or `else if`) at `start`, the cursor after `if`.
    fn branch(&mut self, start: usize) -> Branch {
        self.cur.skip_cs();
        let cond_start = self.cur.pos;
        let condition = self.condition_of_if();
        self.cur.skip_cs();
        if self.cur.peek() != Some(b'{') {
            if condition.is_some() {
                self.missing_body_brace();
            }
            if !self.skip_to_body() {
                return Branch {
                    condition: placeholder_condition(cond_start),
                    body: Vec::new(),
                };
            }
        }
        // The body's braces are intact whatever was wrong with the condition: check it afresh.
        self.sync();
        let body = self.block(IF_BLOCK.to_string(), start);
        Branch {
            condition: condition.unwrap_or_else(|| placeholder_condition(cond_start)),
            body,
        }
    }

    /// `{ statements }` of a branch, the cursor at the `{`; `start` is its `if`/`else`.
    fn block(&mut self, what: String, start: usize) -> Vec<Statement> {
        let opener = self.cur.pos;
        self.cur.pos += 1;
        self.nested(|p| Some(p.in_block(what, start, opener, |p| p.statements())))
            .unwrap_or_default()
    }

    /// Skips what follows a bad condition up to the `{` of the body; false when a `}`, a
    /// section header or the end comes first.
    fn skip_to_body(&mut self) -> bool {
        loop {
            self.cur.skip_cs();
            match self.cur.peek() {
                Some(b'{') => return true,
                None | Some(b'}') => return false,
                Some(_) if self.cur.section_header_at(self.cur.pos).is_some() => return false,
                Some(_) => self.cur.skip_token_or_group(),
            }
        }
    }

    /// After a complete condition something other than `{`: name the usual culprits.
    fn missing_body_brace(&mut self) {
        let mut diag = self.expected_diag("\"{\" after the condition");
        let found = self.cur.slice(self.token_span());
        let help = match found {
            "&&" => Some("write \"and\" instead of \"&&\"".to_string()),
            "||" => Some("write \"or\" instead of \"||\"".to_string()),
            "AND" | "And" | "OR" | "Or" | "XOR" | "NAND" | "NOT" | "Not" | "IN" => Some(format!(
                "operators are lowercase: \"{}\"",
                found.to_ascii_lowercase()
            )),
            "then" | "do" => Some("the body follows the condition directly: if ... {".into()),
            _ => None,
        };
        if let Some(help) = help {
            diag = diag.with_help(help);
        }
        self.report(diag);
    }

    /// `else` with no `if` before it: reported, then parsed as a branch to stay in step.
    fn orphan_else(&mut self) -> Option<Statement> {
        let start = self.cur.pos;
        let span = Span::new(start, start + 4);
        let mut diag = Diagnostic::new(span, "\"else\" without an \"if\" before it");
        if let Some(close) = self.last_close {
            diag = diag.with_help(format!(
                "\"else\" must follow the \"}}\" of an if block; is the \"}}\" at line {} \
                 extra or misplaced?",
                self.line_of(close)
            ));
        }
        self.report(diag);
        self.cur.pos += 4;
        self.cur.skip_cs();
        if self.cur.eat_keyword("if") {
            self.branch(start);
        } else {
            self.else_body();
        }
        None
    }
}

/// A stand-in condition for a branch whose condition failed to parse (never returned to the
/// caller: a config with errors yields no AST).
fn placeholder_condition(at: usize) -> Spanned<Expr> {
    let span = Span::new(at, at);
    Spanned::new(
        Expr::Value(Spanned::new(RValue::Number(Number::Int(0)), span)),
        span,
    )
}
