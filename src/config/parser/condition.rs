//! Conditions of `if` / `else if` and their operands.
//!
//! ```text
//! condition  = expression (cs ("and" | "or" | "xor" | "nand") cs expression)*
//! expression = "(" cs condition cs ")"
//!            | "!" cs "(" cs condition cs ")" | "!" cs selector
//!            | rvalue cs ("==" | "!=" | "<=" | ">=" | "<" | ">") cs rvalue
//!            | rvalue cs ("=~" | "!~") cs (regex | string)
//!            | rvalue cs ("in" | "not" cs "in") cs rvalue
//!            | rvalue
//! rvalue     = string | number | selector | array | regex
//! selector   = ("[" [^\[\],]+ "]")+
//! regex      = "/" ("\/" | [^/])* "/"
//! ```
//!
//! `and` binds tighter than `or`. Like Logstash, a chain of two or more operators that
//! involves `xor` or `nand` is rejected: their grouping must be written with parentheses.

use super::cursor::{is_name_byte, quote_shown};
use super::values::{classify_word, Word};
use super::Parser;
use crate::config::ast::{BoolOp, CompareOp, Expr, RValue};
use crate::config::source::{Diagnostic, Span, Spanned};

const COMPARE_OPS: [(&str, CompareOp); 6] = [
    ("==", CompareOp::Eq),
    ("!=", CompareOp::Ne),
    ("<=", CompareOp::Le),
    (">=", CompareOp::Ge),
    ("<", CompareOp::Lt),
    (">", CompareOp::Gt),
];

/// Operators from other languages, or mistyped, and what was probably meant. Checked before
/// [`COMPARE_OPS`], which would take a prefix of some (`===`, `<>`); a lone `=` is checked
/// after them.
const MISTYPED_OPS: [(&str, &str); 6] = [
    ("===", "=="),
    ("!==", "!="),
    ("=!", "!="),
    ("=<", "<="),
    ("=>", ">="),
    ("<>", "!="),
];

const BOOL_OPS: [(&str, BoolOp); 4] = [
    ("and", BoolOp::And),
    ("or", BoolOp::Or),
    ("xor", BoolOp::Xor),
    ("nand", BoolOp::Nand),
];

fn bool_op_name(op: BoolOp) -> &'static str {
    BOOL_OPS
        .iter()
        .find(|(_, o)| *o == op)
        .map_or("?", |(name, _)| name)
}

impl Parser<'_> {
    /// The condition after `if`; `None` after reporting an error.
    pub(super) fn condition_of_if(&mut self) -> Option<Spanned<Expr>> {
        self.condition("\"if\"")
    }

    /// `expression (boolean_operator expression)*`, with precedence applied.
    fn condition(&mut self, after: &str) -> Option<Spanned<Expr>> {
        let first = self.expression(after)?;
        let mut ops: Vec<Spanned<BoolOp>> = Vec::new();
        let mut operands = Vec::new();
        loop {
            let before = self.cur.pos;
            self.cur.skip_cs();
            let op_start = self.cur.pos;
            let Some(op) = self.bool_op() else {
                self.cur.pos = before;
                break;
            };
            ops.push(Spanned::new(op, self.span_from(op_start)));
            self.cur.skip_cs();
            operands.push(self.expression(&format!("\"{}\"", bool_op_name(op)))?);
        }
        self.check_xor_nand(&ops)?;
        let rest = ops.iter().map(|op| op.node).zip(operands).collect();
        Some(combine(first, rest))
    }

    fn bool_op(&mut self) -> Option<BoolOp> {
        BOOL_OPS
            .into_iter()
            .find(|(kw, _)| self.cur.eat_keyword(kw))
            .map(|(_, op)| op)
    }

    /// Rejects chains where `xor` or `nand` meets another operator without parentheses.
    fn check_xor_nand(&mut self, ops: &[Spanned<BoolOp>]) -> Option<()> {
        let odd = |op: BoolOp| matches!(op, BoolOp::Xor | BoolOp::Nand);
        let Some(clash) = ops
            .windows(2)
            .find(|pair| odd(pair[0].node) || odd(pair[1].node))
        else {
            return Some(());
        };
        let (a, b) = (bool_op_name(clash[0].node), bool_op_name(clash[1].node));
        let message = if a == b {
            format!("chaining \"{a}\" needs parentheses")
        } else {
            format!("mixing \"{a}\" with \"{b}\" needs parentheses")
        };
        let diag = Diagnostic::new(clash[1].span, message).with_help(
            "the grouping of \"xor\" and \"nand\" with other operators is not defined; \
             write (A xor B) and C",
        );
        self.report(diag);
        None
    }

    /// One operand of a boolean chain.
    fn expression(&mut self, after: &str) -> Option<Spanned<Expr>> {
        self.nested(|p| p.expression_inner(after))
    }

    fn expression_inner(&mut self, after: &str) -> Option<Spanned<Expr>> {
        let start = self.cur.pos;
        if self.cur.peek() == Some(b'(') {
            return self.parenthesized();
        }
        if self.cur.peek() == Some(b'!')
            && !self.cur.starts_with("!=")
            && !self.cur.starts_with("!~")
        {
            self.cur.pos += 1;
            self.cur.skip_cs();
            let inner = match self.cur.peek() {
                Some(b'(') => self.parenthesized()?,
                Some(b'[') if self.selector_end().is_some() => {
                    let sel = self.selector();
                    self.no_operator_after_negation()?;
                    let span = sel.span;
                    Spanned::new(Expr::Value(sel), span)
                }
                _ => {
                    self.expected("\"(\" or a field reference after \"!\"");
                    return None;
                }
            };
            return Some(Spanned::new(
                Expr::Not(Box::new(inner)),
                self.span_from(start),
            ));
        }
        self.comparison(after)
    }

    /// `( condition )`, the cursor at `(`; the span includes the parentheses.
    fn parenthesized(&mut self) -> Option<Spanned<Expr>> {
        let open = self.cur.pos;
        self.cur.pos += 1;
        self.cur.skip_cs();
        let inner = self.condition("\"(\"")?;
        self.cur.skip_cs();
        if !self.cur.eat_byte(b')') {
            let line = self.line_of(open);
            self.expected(&format!("\")\" to close the \"(\" at line {line}"));
            return None;
        }
        Some(Spanned::new(inner.node, self.span_from(open)))
    }

    /// `! [field] == x` negates only `[field]`, which is surely not what was meant.
    fn no_operator_after_negation(&mut self) -> Option<()> {
        let at = self.cur.after_cs();
        let probe = self.cur.pos;
        self.cur.pos = at;
        let operator = COMPARE_OPS.iter().any(|(s, _)| self.cur.starts_with(s))
            || self.cur.starts_with("=~")
            || self.cur.starts_with("!~")
            || self.cur.is_keyword_at(at, "in")
            || self.cur.is_keyword_at(at, "not");
        if !operator {
            self.cur.pos = probe;
            return Some(());
        }
        let diag = Diagnostic::new(
            self.token_span(),
            "\"!\" negates only the field reference before this operator",
        )
        .with_help("to negate the whole comparison, write !( ... )");
        self.report(diag);
        None
    }

    /// An rvalue, possibly followed by a comparison, match or `in` operator and its operand.
    fn comparison(&mut self, after: &str) -> Option<Spanned<Expr>> {
        let lhs = self.rvalue(&format!("a condition after {after}"))?;
        let before = self.cur.pos;
        self.cur.skip_cs();
        let op_start = self.cur.pos;
        if let Some((bad, good)) = MISTYPED_OPS
            .into_iter()
            .find(|(s, _)| self.cur.starts_with(s))
        {
            let span = Span::new(op_start, op_start + bad.len());
            let diag = Diagnostic::new(span, format!("unknown operator \"{bad}\""))
                .with_help(format!("did you mean \"{good}\"?"));
            self.report(diag);
            return None;
        }
        if let Some((text, op)) = COMPARE_OPS.into_iter().find(|(s, _)| self.cur.eat(s)) {
            self.cur.skip_cs();
            let rhs = self.rvalue(&format!("a value after \"{text}\""))?;
            let span = lhs.span.to(rhs.span);
            return Some(Spanned::new(Expr::Compare { op, lhs, rhs }, span));
        }
        for (text, negated) in [("=~", false), ("!~", true)] {
            if self.cur.eat(text) {
                self.cur.skip_cs();
                let pattern = self.pattern(text)?;
                let span = lhs.span.to(pattern.span);
                return Some(Spanned::new(
                    Expr::Match {
                        negated,
                        lhs,
                        pattern,
                    },
                    span,
                ));
            }
        }
        if let Some(negated) = self.in_operator() {
            self.cur.skip_cs();
            let what = if negated { "\"not in\"" } else { "\"in\"" };
            let haystack = self.rvalue(&format!("a value after {what}"))?;
            let span = lhs.span.to(haystack.span);
            return Some(Spanned::new(
                Expr::In {
                    negated,
                    needle: lhs,
                    haystack,
                },
                span,
            ));
        }
        if self.cur.starts_with("=") {
            let span = Span::new(op_start, op_start + 1);
            let diag =
                Diagnostic::new(span, "unknown operator \"=\"").with_help("did you mean \"==\"?");
            self.report(diag);
            return None;
        }
        self.cur.pos = before;
        let span = lhs.span;
        Some(Spanned::new(Expr::Value(lhs), span))
    }

    /// `in` -> `Some(false)`, `not in` -> `Some(true)`; a `not` without `in` is reported.
    fn in_operator(&mut self) -> Option<bool> {
        if self.cur.eat_keyword("in") {
            return Some(false);
        }
        let not_at = self.cur.pos;
        if !self.cur.eat_keyword("not") {
            return None;
        }
        self.cur.skip_cs();
        if self.cur.eat_keyword("in") {
            return Some(true);
        }
        self.expected("\"in\" after \"not\"");
        // Leave the cursor at `not` so the caller reports nothing more specific.
        self.cur.pos = not_at;
        None
    }

    /// The operand of `=~` / `!~`: a regex or a string.
    fn pattern(&mut self, op: &str) -> Option<Spanned<RValue>> {
        match self.cur.peek() {
            Some(b'/' | b'"' | b'\'') => self.rvalue("a pattern"),
            _ => {
                let diag = self.expected_diag(&format!("a /regex/ or a string after \"{op}\""));
                self.report(diag);
                None
            }
        }
    }

    /// An operand: string, number, selector, array or regex. `expected` completes "expected
    /// ..." when none is found.
    fn rvalue(&mut self, expected: &str) -> Option<Spanned<RValue>> {
        self.nested(|p| p.rvalue_inner(expected))
    }

    fn rvalue_inner(&mut self, expected: &str) -> Option<Spanned<RValue>> {
        match self.cur.peek() {
            Some(q @ (b'"' | b'\'')) => {
                let s = self.string_literal(q)?;
                Some(Spanned::new(RValue::String(s.node), s.span))
            }
            Some(b'/') => self.regex(),
            Some(b'[') if self.selector_end().is_some() => Some(self.selector()),
            Some(b'[') if self.unclosed_selector() => {
                let span = Span::new(self.cur.pos, self.cur.pos + 1);
                let diag = Diagnostic::new(span, "unclosed \"[\" of field reference")
                    .with_help("a field reference is written [name] or [outer][inner]");
                self.report(diag);
                None
            }
            Some(b'[') => self.rvalue_array(),
            Some(b) if is_name_byte(b) || b == b'.' => self.word_operand(expected),
            _ => {
                self.expected(expected);
                None
            }
        }
    }

    /// A word in a condition: a number, or an error (barewords are not operands).
    fn word_operand(&mut self, expected: &str) -> Option<Spanned<RValue>> {
        let span = self.cur.scan_token();
        let text = self.cur.slice(span);
        let shown = quote_shown(text);
        let diag = match classify_word(text) {
            Word::Number(n) => return Some(Spanned::new(RValue::Number(n), span)),
            _ if self.cur.peek_after_cs() == Some(b'(') => Diagnostic::new(
                span,
                format!("function calls are not supported in conditions: {shown}"),
            ),
            _ if text == "not" => {
                Diagnostic::new(span, format!("expected {expected}, found {shown}"))
                    .with_help("to negate, write !( ... ) or ![field]")
            }
            _ if ["and", "or", "xor", "nand", "in", "if", "else"].contains(&text) => {
                Diagnostic::new(span, format!("expected {expected}, found {shown}"))
            }
            _ if text.starts_with(|c: char| c == '-' || c.is_ascii_digit()) => {
                Diagnostic::new(span, format!("invalid number {shown}"))
            }
            _ => Diagnostic::new(span, format!("expected {expected}, found {shown}")).with_help(
                format!("quote a string (\"{text}\") or write a field reference ([{text}])"),
            ),
        };
        self.report(diag);
        None
    }

    /// The end of the selector (`[a][b]...`) at the cursor, if one stands there. An element may
    /// hold any character but `[`, `]`, `,` (and, here, a newline: a name never spans lines, and
    /// stopping there keeps a stray `[` from swallowing the rest of the config).
    fn selector_end(&self) -> Option<usize> {
        let bytes = self.cur.src().as_bytes();
        let mut pos = self.cur.pos;
        let mut elements = 0;
        while bytes.get(pos) == Some(&b'[') {
            let len = bytes[pos + 1..]
                .iter()
                .take_while(|b| !matches!(b, b'[' | b']' | b',' | b'\n'))
                .count();
            let close = pos + 1 + len;
            if len == 0 || bytes.get(close) != Some(&b']') {
                break;
            }
            pos = close + 1;
            elements += 1;
        }
        (elements > 0).then_some(pos)
    }

    /// Whether the `[` at the cursor starts what can only be a field reference missing its `]`:
    /// a name follows, and the line ends (or another `[` comes) before any `]` or `,`.
    fn unclosed_selector(&self) -> bool {
        let bytes = self.cur.src().as_bytes();
        let rest = &bytes[(self.cur.pos + 1).min(bytes.len())..];
        let starts_like_name = rest
            .iter()
            .find(|b| **b != b' ')
            .is_some_and(|b| is_name_byte(*b) || *b == b'@');
        let stop = rest
            .iter()
            .find(|b| matches!(b, b']' | b',' | b'[' | b'\n'));
        starts_like_name && matches!(stop, None | Some(b'[' | b'\n'))
    }

    fn selector(&mut self) -> Spanned<RValue> {
        let start = self.cur.pos;
        self.cur.pos = self.selector_end().unwrap_or(start);
        let span = self.span_from(start);
        Spanned::new(RValue::Selector(self.cur.slice(span).to_string()), span)
    }

    /// `[ rvalue, ... ]` in a condition.
    fn rvalue_array(&mut self) -> Option<Spanned<RValue>> {
        let start = self.cur.pos;
        self.cur.pos += 1;
        let mut items = Vec::new();
        self.cur.skip_cs();
        if !self.cur.eat_byte(b']') {
            loop {
                self.cur.skip_cs();
                items.push(self.rvalue("a value in the array")?);
                self.cur.skip_cs();
                if self.cur.eat_byte(b',') {
                    continue;
                }
                if self.cur.eat_byte(b']') {
                    break;
                }
                let line = self.line_of(start);
                self.expected(&format!(
                    "\",\" or \"]\" in the array opened at line {line}"
                ));
                return None;
            }
        }
        Some(Spanned::new(RValue::Array(items), self.span_from(start)))
    }

    /// `/.../`, the cursor at `/`; `\/` stands for `/`.
    fn regex(&mut self) -> Option<Spanned<RValue>> {
        let quoted = self.cur.scan_quoted(b'/');
        if !quoted.terminated {
            let start = quoted.span.start as usize;
            let diag = Diagnostic::new(Span::new(start, start + 1), "unterminated regex")
                .with_help("no closing \"/\" before the end of the config");
            self.report(diag);
            return None;
        }
        self.note_literal(quoted.span);
        let text = self.cur.slice(quoted.content).replace("\\/", "/");
        Some(Spanned::new(RValue::Regex(text), quoted.span))
    }
}

/// Applies precedence to `first` followed by `rest` (operator, operand): `and` before `or`, both
/// left-associative. `xor` / `nand` only reach here alone (see `check_xor_nand`).
fn combine(first: Spanned<Expr>, rest: Vec<(BoolOp, Spanned<Expr>)>) -> Spanned<Expr> {
    // `done` is the `or` chain before `term`, the `and` chain being built.
    let mut done: Option<Spanned<Expr>> = None;
    let mut term = first;
    for (op, rhs) in rest {
        if op == BoolOp::Or {
            let finished = std::mem::replace(&mut term, rhs);
            done = Some(match done {
                Some(lhs) => join(BoolOp::Or, lhs, finished),
                None => finished,
            });
        } else {
            term = join(op, term, rhs);
        }
    }
    match done {
        Some(lhs) => join(BoolOp::Or, lhs, term),
        None => term,
    }
}

fn join(op: BoolOp, lhs: Spanned<Expr>, rhs: Spanned<Expr>) -> Spanned<Expr> {
    let span = lhs.span.to(rhs.span);
    Spanned::new(
        Expr::Bool {
            op,
            lhs: Box::new(lhs),
            rhs: Box::new(rhs),
        },
        span,
    )
}
