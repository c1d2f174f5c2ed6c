//! Writes a parsed Oniguruma regex ([`Regex`]) out for the engines that run it:
//!
//! - [`pcre2`]: the exact translation PCRE2 runs. Every capturing group becomes a plain
//!   numbered group (group `i` of [`Regex::groups`] is PCRE2 group `i + 1`), everything else
//!   non-capturing; Ruby-only syntax is spelled the PCRE2 way. Compiled with PCRE2's UCP,
//!   DOTALL and MULTILINE options behind [`PCRE2_PREAMBLE`], it matches what Ruby matches.
//! - [`relaxed`]: a regex for the `regex` crate that matches *at least* what the exact
//!   regex matches (lookaround dropped, atomic groups and possessive repeats made plain,
//!   classes it cannot spell widened to any character). Its linear-time DFA can prove that a
//!   line does not match before the backtracking engine spends time on it.
//! - [`required_literals`]: strings every match contains, in order, for a cheaper proof still.

use std::collections::HashMap;
use std::fmt::Write as _;

use super::syntax::{Class, ClassItem, GroupKind, Look, Node, Perl, Regex, RepeatMode};

/// Put before [`pcre2`]'s output: Ruby's `\d`, `\s`, `\w` (and so `\b`) are ASCII-only while
/// its POSIX classes and `\p{..}` are Unicode, which is PCRE2's UCP mode with the ASCII
/// restrictions on.
pub const PCRE2_PREAMBLE: &str = "(?aD)(?aS)(?aW)";

/// The exact PCRE2 translation of `regex` (without [`PCRE2_PREAMBLE`]).
pub fn pcre2(regex: &Regex) -> String {
    let mut out = String::new();
    Pcre2Writer::new(&mut out, None).node(&regex.root);
    out
}

/// Groups shorter than this are not worth a subroutine call.
const MIN_SHARED_LEN: usize = 64;

/// Like [`pcre2`], but every group that occurs more than once (and captures nothing, and is
/// outside case-insensitive parts and lookbehinds) is written once, in a `(?(DEFINE)...)`
/// block at the end, and called with `(?&sN)` where it occurs. For regexes too large for
/// PCRE2's 64 KiB of compiled code (`%{COMBINEDAPACHELOG}` is about 8 KiB, its IPv6 part
/// most of it). Calls are not atomic in PCRE2 (since 10.30) and the block's groups are
/// numbered after every capture, so matching and capture numbers stay the same.
pub fn pcre2_shared(regex: &Regex) -> String {
    let mut counts = HashMap::new();
    count_groups(&regex.root, false, &mut counts);
    let mut shared = Shared {
        ids: counts
            .into_iter()
            .filter(|(text, n)| *n > 1 && text.len() >= MIN_SHARED_LEN)
            .map(|(text, _)| (text, None))
            .collect(),
        bodies: Vec::new(),
    };
    let mut out = String::new();
    Pcre2Writer::new(&mut out, Some(&mut shared)).node(&regex.root);
    if !shared.bodies.is_empty() {
        out.push_str("(?(DEFINE)");
        for (i, body) in shared.bodies.iter().enumerate() {
            let _ = write!(out, "(?<s{i}>{body})");
        }
        out.push(')');
    }
    out
}

/// The groups [`pcre2_shared`] may share, and how often each text occurs.
fn count_groups(node: &Node, blocked: bool, counts: &mut HashMap<String, usize>) {
    match node {
        Node::Group(GroupKind::NonCapture, inner) => {
            if !blocked && !captures_or_refers(inner) {
                *counts.entry(pcre2_text(node)).or_default() += 1;
            }
            count_groups(inner, blocked, counts);
        }
        Node::Group(GroupKind::LookBehind { .. }, inner) => count_groups(inner, true, counts),
        Node::CaseInsensitive(on, inner) => count_groups(inner, blocked || *on, counts),
        Node::Group(_, inner) | Node::Repeat { node: inner, .. } => {
            count_groups(inner, blocked, counts)
        }
        Node::Concat(items) | Node::Alt(items) => {
            items.iter().for_each(|n| count_groups(n, blocked, counts))
        }
        _ => {}
    }
}

/// Whether `node` holds a capture, a reference or `\K`, which a subroutine call would change.
fn captures_or_refers(node: &Node) -> bool {
    match node {
        Node::Group(GroupKind::Capture(_), _)
        | Node::Backref(_)
        | Node::Call(_)
        | Node::NamedReference { .. }
        | Node::Look(Look::Keep) => true,
        Node::Group(_, inner) | Node::CaseInsensitive(_, inner) => captures_or_refers(inner),
        Node::Repeat { node, .. } => captures_or_refers(node),
        Node::Concat(items) | Node::Alt(items) => items.iter().any(captures_or_refers),
        _ => false,
    }
}

fn pcre2_text(node: &Node) -> String {
    let mut out = String::new();
    Pcre2Writer::new(&mut out, None).node(node);
    out
}

/// The shared groups of [`pcre2_shared`]: text -> definition number once written.
struct Shared {
    ids: HashMap<String, Option<usize>>,
    bodies: Vec<String>,
}

/// A regex for the `regex` crate matching a superset of `regex`, or `None` when it uses
/// something (a backreference, a call) without such an equivalent.
pub fn relaxed(regex: &Regex) -> Option<String> {
    let mut out = String::new();
    RelaxedWriter { out: &mut out }.node(&regex.root)?;
    Some(out)
}

/// Strings that every match of `regex` contains, in this order and without overlapping.
/// Case-insensitive parts contribute nothing.
pub fn required_literals(regex: &Regex) -> Vec<String> {
    let mut pieces = vec![String::new()];
    literals(&regex.root, false, &mut pieces);
    pieces.retain(|p| !p.is_empty());
    pieces
}

/// Appends the literal pieces of `node`; an empty last piece means "after a gap".
fn literals(node: &Node, case_insensitive: bool, pieces: &mut Vec<String>) {
    let gap = |pieces: &mut Vec<String>| {
        if pieces.last().is_some_and(|p| !p.is_empty()) {
            pieces.push(String::new());
        }
    };
    match node {
        Node::Char(c) if !case_insensitive => {
            if let Some(last) = pieces.last_mut() {
                last.push(*c);
            }
        }
        Node::Concat(items) => {
            for item in items {
                literals(item, case_insensitive, pieces);
            }
        }
        Node::Group(GroupKind::Capture(_) | GroupKind::NonCapture | GroupKind::Atomic, inner) => {
            literals(inner, case_insensitive, pieces)
        }
        Node::CaseInsensitive(on, inner) => literals(inner, *on, pieces),
        Node::Repeat { node, min, .. } if *min >= 1 => {
            literals(node, case_insensitive, pieces);
            gap(pieces);
        }
        // Zero-width: the characters on either side are adjacent in the subject.
        Node::Empty | Node::Look(_) | Node::Group(GroupKind::LookAhead { .. }, _) => {}
        Node::Group(GroupKind::LookBehind { .. }, _) => {}
        _ => gap(pieces),
    }
}

struct Pcre2Writer<'a> {
    out: &'a mut String,
    shared: Option<&'a mut Shared>,
    /// Inside a case-insensitive part or a lookbehind: no shared groups here.
    blocked: bool,
}

impl<'a> Pcre2Writer<'a> {
    fn new(out: &'a mut String, shared: Option<&'a mut Shared>) -> Pcre2Writer<'a> {
        Pcre2Writer {
            out,
            shared,
            blocked: false,
        }
    }

    /// Writes a call of `node`'s shared definition (writing the definition first if new);
    /// false when `node` is not shared.
    fn call_shared(&mut self, node: &Node) -> bool {
        if self.blocked || self.shared.is_none() {
            return false;
        }
        let text = pcre2_text(node);
        let id = match self.shared.as_deref_mut().and_then(|s| s.ids.get(&text)) {
            None => return false,
            Some(Some(id)) => *id,
            Some(None) => {
                let Node::Group(_, inner) = node else {
                    return false;
                };
                let mut body = String::new();
                let mut writer = Pcre2Writer::new(&mut body, self.shared.as_deref_mut());
                writer.node(inner);
                let Some(shared) = self.shared.as_deref_mut() else {
                    return false;
                };
                shared.bodies.push(body);
                let id = shared.bodies.len() - 1;
                shared.ids.insert(text, Some(id));
                id
            }
        };
        let _ = write!(self.out, "(?&s{id})");
        true
    }

    fn node(&mut self, node: &Node) {
        if matches!(node, Node::Group(GroupKind::NonCapture, _)) && self.call_shared(node) {
            return;
        }
        match node {
            Node::Empty => {}
            Node::Char(c) => push_pcre2_char(self.out, *c),
            Node::Any { dotall: true } => self.out.push_str("(?s:.)"),
            Node::Any { dotall: false } => self.out.push_str("\\N"),
            Node::Class(class) => self.class(class),
            Node::Look(look) => self.out.push_str(match look {
                Look::LineStart => "^",
                Look::LineEnd => "$",
                Look::Start => "\\A",
                Look::End => "\\z",
                Look::EndBeforeNewline => "\\Z",
                Look::WordBoundary => "\\b",
                Look::NotWordBoundary => "\\B",
                Look::SearchStart => "\\G",
                Look::Keep => "\\K",
            }),
            Node::Group(kind @ GroupKind::LookBehind { .. }, inner) => {
                let blocked = std::mem::replace(&mut self.blocked, true);
                self.group(kind, inner);
                self.blocked = blocked;
            }
            Node::Group(kind, inner) => self.group(kind, inner),
            Node::CaseInsensitive(on, inner) => {
                self.out.push_str(if *on { "(?i:" } else { "(?-i:" });
                let blocked = self.blocked;
                self.blocked |= *on;
                self.node(inner);
                self.blocked = blocked;
                self.out.push(')');
            }
            Node::Concat(items) => items.iter().for_each(|n| self.node(n)),
            Node::Alt(branches) => {
                for (i, b) in branches.iter().enumerate() {
                    if i > 0 {
                        self.out.push('|');
                    }
                    self.node(b);
                }
            }
            Node::Repeat {
                node,
                min,
                max,
                mode,
            } => {
                self.atom(node);
                push_quantifier(self.out, *min, *max);
                match mode {
                    RepeatMode::Greedy => {}
                    RepeatMode::Lazy => self.out.push('?'),
                    RepeatMode::Possessive => self.out.push('+'),
                }
            }
            Node::Backref(indices) => {
                // Ruby tries the most recent group of a repeated name first.
                self.out.push_str("(?:");
                for (i, group) in indices.iter().rev().enumerate() {
                    if i > 0 {
                        self.out.push('|');
                    }
                    let _ = write!(self.out, "\\g{{{}}}", group + 1);
                }
                self.out.push(')');
            }
            Node::Call(group) => {
                let _ = write!(self.out, "(?{})", group + 1);
            }
            Node::NamedReference { .. } => self.out.push_str("(*FAIL)"),
            Node::LineBreak => self.out.push_str("\\R"),
            Node::Grapheme => self.out.push_str("\\X"),
        }
    }

    fn group(&mut self, kind: &GroupKind, inner: &Node) {
        self.out.push_str(match kind {
            GroupKind::Capture(_) => "(",
            GroupKind::NonCapture => "(?:",
            GroupKind::Atomic => "(?>",
            GroupKind::LookAhead { negated: false } => "(?=",
            GroupKind::LookAhead { negated: true } => "(?!",
            GroupKind::LookBehind { negated: false } => "(?<=",
            GroupKind::LookBehind { negated: true } => "(?<!",
        });
        self.node(inner);
        self.out.push(')');
    }

    /// `node` as something a quantifier can follow.
    fn atom(&mut self, node: &Node) {
        match node {
            Node::Char(_) | Node::Any { .. } | Node::Class(_) | Node::Group(..) => self.node(node),
            Node::Backref(i) if i.len() == 1 => self.node(node),
            _ => {
                self.out.push_str("(?:");
                self.node(node);
                self.out.push(')');
            }
        }
    }

    fn class(&mut self, class: &Class) {
        if let Some(flat) = flat_items(class) {
            if let [ClassItem::Perl(p, negated)] = flat.as_slice() {
                self.out
                    .push_str(perl_escape(*p, *negated != class.negated));
                return;
            }
            self.out.push('[');
            if class.negated {
                self.out.push('^');
            }
            for item in flat {
                push_pcre2_class_item(self.out, item);
            }
            self.out.push(']');
        } else {
            // Nested negations and `&&` have no PCRE2 class syntax: test the next character
            // with lookaheads, then take it.
            self.out.push_str("(?:");
            self.class_test(class);
            self.out.push_str("(?s:.))");
        }
    }

    /// A zero-width test that the next character is in `class`.
    fn class_test(&mut self, class: &Class) {
        if class.negated {
            self.out.push_str("(?!");
        }
        for operand in &class.operands {
            self.out.push_str("(?=");
            let (simple, complex): (Vec<&ClassItem>, Vec<&ClassItem>) =
                operand.iter().partition(|item| is_simple_item(item));
            if !simple.is_empty() {
                self.out.push('[');
                for item in &simple {
                    push_pcre2_class_item(self.out, item);
                }
                self.out.push(']');
            }
            for (i, item) in complex.into_iter().enumerate() {
                if i > 0 || !simple.is_empty() {
                    self.out.push('|');
                }
                self.class_item_matcher(item);
            }
            self.out.push(')');
        }
        if class.operands.is_empty() {
            self.out.push_str("(*FAIL)");
        }
        if class.negated {
            self.out.push(')');
        }
    }

    /// One character matched by a nested class or `\H`.
    fn class_item_matcher(&mut self, item: &ClassItem) {
        match item {
            ClassItem::Nested(inner) => {
                self.out.push_str("(?:");
                self.class_test(inner);
                self.out.push_str("(?s:.))");
            }
            _ => self.out.push_str("[^0-9a-fA-F]"),
        }
    }
}

/// Whether `item` can be written inside a PCRE2 bracket class as it is.
fn is_simple_item(item: &ClassItem) -> bool {
    !matches!(
        item,
        ClassItem::Nested(_) | ClassItem::Perl(Perl::Hex, true)
    )
}

/// The items of `class` as one flat union, when it has no intersection and no negation
/// inside (nested positive classes are unions and flatten).
fn flat_items(class: &Class) -> Option<Vec<&ClassItem>> {
    if class.operands.len() != 1 {
        return None;
    }
    let mut flat = Vec::new();
    for item in &class.operands[0] {
        match item {
            ClassItem::Nested(inner) if !inner.negated => flat.extend(flat_items(inner)?),
            ClassItem::Nested(_) | ClassItem::Perl(Perl::Hex, true) => return None,
            other => flat.push(other),
        }
    }
    Some(flat)
}

fn push_pcre2_class_item(out: &mut String, item: &ClassItem) {
    match item {
        ClassItem::Range(a, b) => {
            push_pcre2_class_char(out, *a);
            if a != b {
                out.push('-');
                push_pcre2_class_char(out, *b);
            }
        }
        ClassItem::Perl(Perl::Hex, _) => out.push_str("0-9a-fA-F"),
        ClassItem::Perl(p, negated) => out.push_str(perl_escape(*p, *negated)),
        ClassItem::Posix(name, negated) => {
            let _ = write!(out, "[:{}{name}:]", if *negated { "^" } else { "" });
        }
        ClassItem::Property(name, negated) => {
            let _ = write!(out, "\\{}{{{name}}}", if *negated { 'P' } else { 'p' });
        }
        // Only reached through `flat_items`, which flattens nested classes.
        ClassItem::Nested(_) => {}
    }
}

fn perl_escape(p: Perl, negated: bool) -> &'static str {
    match (p, negated) {
        (Perl::Digit, false) => "\\d",
        (Perl::Digit, true) => "\\D",
        (Perl::Word, false) => "\\w",
        (Perl::Word, true) => "\\W",
        (Perl::Space, false) => "\\s",
        (Perl::Space, true) => "\\S",
        (Perl::Hex, false) => "[0-9a-fA-F]",
        (Perl::Hex, true) => "[^0-9a-fA-F]",
    }
}

fn push_pcre2_char(out: &mut String, c: char) {
    if "\\^$.|?*+()[]{}".contains(c) {
        out.push('\\');
        out.push(c);
    } else if c.is_control() {
        let _ = write!(out, "\\x{{{:x}}}", c as u32);
    } else {
        out.push(c);
    }
}

fn push_pcre2_class_char(out: &mut String, c: char) {
    if "\\]^-[".contains(c) {
        out.push('\\');
        out.push(c);
    } else if c.is_control() {
        let _ = write!(out, "\\x{{{:x}}}", c as u32);
    } else {
        out.push(c);
    }
}

fn push_quantifier(out: &mut String, min: u32, max: Option<u32>) {
    let _ = match (min, max) {
        (0, None) => write!(out, "*"),
        (1, None) => write!(out, "+"),
        (0, Some(1)) => write!(out, "?"),
        (n, None) => write!(out, "{{{n},}}"),
        (n, Some(m)) if n == m => write!(out, "{{{n}}}"),
        (n, Some(m)) => write!(out, "{{{n},{m}}}"),
    };
}

struct RelaxedWriter<'a> {
    out: &'a mut String,
}

impl RelaxedWriter<'_> {
    fn node(&mut self, node: &Node) -> Option<()> {
        match node {
            Node::Empty => {}
            Node::Char(c) => push_relaxed_char(self.out, *c),
            Node::Any { dotall: true } => self.out.push_str("(?s:.)"),
            Node::Any { dotall: false } => self.out.push_str("[^\\n]"),
            Node::Class(class) => self.class(class),
            Node::Look(look) => self.out.push_str(match look {
                Look::LineStart => "(?m:^)",
                Look::LineEnd => "(?m:$)",
                Look::Start => "\\A",
                Look::End => "\\z",
                Look::WordBoundary => "(?-u:\\b)",
                Look::NotWordBoundary => "(?-u:\\B)",
                Look::EndBeforeNewline | Look::SearchStart | Look::Keep => "(?:)",
            }),
            Node::Group(GroupKind::LookAhead { .. } | GroupKind::LookBehind { .. }, _) => {
                self.out.push_str("(?:)")
            }
            Node::Group(_, inner) => {
                self.out.push_str("(?:");
                self.node(inner)?;
                self.out.push(')');
            }
            Node::CaseInsensitive(on, inner) => {
                self.out.push_str(if *on { "(?i:" } else { "(?-i:" });
                self.node(inner)?;
                self.out.push(')');
            }
            Node::Concat(items) => {
                for item in items {
                    self.node(item)?;
                }
            }
            Node::Alt(branches) => {
                for (i, b) in branches.iter().enumerate() {
                    if i > 0 {
                        self.out.push('|');
                    }
                    self.node(b)?;
                }
            }
            Node::Repeat { node, min, max, .. } => {
                self.out.push_str("(?:");
                self.node(node)?;
                self.out.push(')');
                push_quantifier(self.out, *min, *max);
            }
            Node::LineBreak => self
                .out
                .push_str("(?:\\r\\n|[\\n\\x0B\\x0C\\r\\x{85}\\x{2028}\\x{2029}])"),
            Node::Grapheme => self.out.push_str("(?s:.)+"),
            Node::Backref(_) | Node::Call(_) | Node::NamedReference { .. } => return None,
        }
        Some(())
    }

    fn class(&mut self, class: &Class) {
        if has_unicode_items(class) {
            // A superset of any one-character class.
            self.out.push_str("(?s:.)");
            return;
        }
        self.class_body(class);
    }

    fn class_body(&mut self, class: &Class) {
        self.out.push('[');
        if class.negated {
            self.out.push('^');
        }
        for (i, operand) in class.operands.iter().enumerate() {
            if i > 0 {
                self.out.push_str("&&");
            }
            if operand.is_empty() {
                self.out.push_str("[^\\x{0}-\\x{10FFFF}]");
            }
            for item in operand {
                match item {
                    ClassItem::Range(a, b) => {
                        push_relaxed_class_char(self.out, *a);
                        if a != b {
                            self.out.push('-');
                            push_relaxed_class_char(self.out, *b);
                        }
                    }
                    ClassItem::Perl(p, negated) => {
                        let set = match p {
                            Perl::Digit => "0-9",
                            Perl::Word => "0-9A-Za-z_",
                            Perl::Space => "\\t\\n\\x0B\\x0C\\r\\x20",
                            Perl::Hex => "0-9A-Fa-f",
                        };
                        if *negated {
                            let _ = write!(self.out, "[^{set}]");
                        } else {
                            self.out.push_str(set);
                        }
                    }
                    ClassItem::Nested(inner) => self.class_body(inner),
                    ClassItem::Posix(..) | ClassItem::Property(..) => {}
                }
            }
        }
        if class.operands.is_empty() {
            self.out.push_str("[^\\x{0}-\\x{10FFFF}]");
        }
        self.out.push(']');
    }
}

/// Whether `class` uses Unicode-defined sets (POSIX classes, properties) anywhere.
fn has_unicode_items(class: &Class) -> bool {
    class.operands.iter().flatten().any(|item| match item {
        ClassItem::Posix(..) | ClassItem::Property(..) => true,
        ClassItem::Nested(inner) => has_unicode_items(inner),
        _ => false,
    })
}

/// The `regex` crate's meta characters, in and out of classes. Other punctuation stays bare:
/// `\<` and `\>` are word-boundary assertions there.
const RELAXED_META: &str = "\\.+*?()|[]{}^$#&-~";

fn push_relaxed_char(out: &mut String, c: char) {
    if RELAXED_META.contains(c) {
        out.push('\\');
        out.push(c);
    } else if c.is_control() || c.is_whitespace() {
        let _ = write!(out, "\\x{{{:x}}}", c as u32);
    } else {
        out.push(c);
    }
}

fn push_relaxed_class_char(out: &mut String, c: char) {
    push_relaxed_char(out, c)
}

#[cfg(test)]
mod tests {
    use super::super::syntax::parse;
    use super::*;

    fn pcre(text: &str) -> String {
        pcre2(&parse(text).unwrap())
    }

    #[test]
    fn named_groups_become_numbered_and_plain_groups_stop_capturing() {
        assert_eq!(pcre("(?<NUMBER:n:int>\\d+)(a|b)"), "(\\d+)(?:a|b)");
        assert_eq!(pcre("(a)\\1"), "(a)(?:\\g{1})");
        assert_eq!(pcre("(a)(b)"), "(?:a)(?:b)", "nothing refers to them");
    }

    #[test]
    fn ruby_only_syntax_is_spelled_for_pcre2() {
        assert_eq!(pcre("\\h+"), "[0-9a-fA-F]+");
        assert_eq!(
            pcre("a{2}+"),
            "(?:a{2})+",
            "a repeated repetition, not possessive"
        );
        assert_eq!(pcre("a++"), "a++");
        assert_eq!(pcre(".?*"), "(?s:.)*", "Oniguruma reduces nested repeats");
        assert_eq!(pcre("(?<u>x)(?:[a-z]+)+"), "(x)[a-z]+");
        assert_eq!(pcre("(?<u>x)([a-z]+)*?"), "(x)(?:[a-z]+)??");
        assert_eq!(pcre("(?:a+?)+"), "(?:a+?)+", "left as it is");
        assert_eq!(pcre("(?:a*){2,5}"), "(?:a*){2}");
        assert_eq!(pcre("a{,3}x{"), "a{0,3}x\\{");
        assert_eq!(pcre("a(?i)b|c"), "a(?i:b|c)");
        assert_eq!(pcre("(?-m:.)"), "\\N");
        assert_eq!(pcre("[a-z[0-9]]"), "[a-z0-9]");
        assert_eq!(
            pcre("[a-z&&[^aeiou]]"),
            "(?:(?=[a-z])(?=(?:(?!(?=[aeiou]))(?s:.)))(?s:.))"
        );
        assert_eq!(pcre("[[:alnum:]_]"), "[[:alnum:]_]");
        assert_eq!(pcre("(?x) a b # comment\n c"), "abc");
    }

    #[test]
    fn repeated_groups_can_be_shared_as_subroutines() {
        let long = "(?:[a-z]+[0-9]+[a-z]+[0-9]+[a-z]+[0-9]+[a-z]+[0-9]+[a-z]+[0-9]+[a-z]+[0-9]+)";
        let regex = parse(&format!("(?<a>{long}) {long} (?i:{long})")).unwrap();
        let shared = pcre2_shared(&regex);
        let body = &long[3..long.len() - 1];
        assert_eq!(
            shared,
            format!("((?&s0)) (?&s0) (?i:(?:{body}))(?(DEFINE)(?<s0>{body}))")
        );
    }

    #[test]
    fn relaxed_regexes_drop_what_the_regex_crate_lacks() {
        let r = |t: &str| relaxed(&parse(t).unwrap());
        assert_eq!(
            r("(?<![0-9])(?>\\d+)(?![0-9])").as_deref(),
            Some("(?:)(?:(?:[0-9])+)(?:)")
        );
        assert_eq!(r("[[:alpha:]]\\h").as_deref(), Some("(?s:.)[0-9A-Fa-f]"));
        assert_eq!(r("(a)\\1"), None);
    }

    #[test]
    fn required_literals_are_the_fixed_text_in_order() {
        let lit = |t: &str| required_literals(&parse(t).unwrap());
        assert_eq!(lit("\\[(?<a>\\d+)\\] \"x\"(?:y)?z"), ["[", "] \"x\"", "z"]);
        assert_eq!(lit("(?i)abc|d"), Vec::<String>::new());
        assert_eq!(lit("ab+c"), ["ab", "c"]);
    }
}
