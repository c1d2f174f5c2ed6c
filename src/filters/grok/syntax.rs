//! Oniguruma regex text (Ruby syntax, as Logstash's grok compiles it) parsed into a small
//! syntax tree, [`Regex`], that [`super::emit`] writes out for other engines.
//!
//! Parsing rather than rewriting text is what makes the translation exact: Ruby and PCRE2
//! disagree on details a textual rewrite would miss, such as `a{2}+` (a repeated repetition in
//! Ruby, a possessive one in PCRE2), `(?m)` (dot-all in Ruby), `\h` (a hex digit in Ruby,
//! horizontal space in PCRE2), an inline `(?i)` (which in Ruby spans the rest of the group
//! across `|`), nested classes (`[a-z[0-9]]`) and `&&` intersections, a bare `{`, a repeat of a
//! repeat (`.?*`), and group names such as `NUMBER:bytes:int` or `[source][ip]` that no other
//! engine accepts.
//!
//! Main types: [`Regex`] (the tree and its capture groups), [`Node`], [`Class`].

/// A parsed regex.
#[derive(Debug, Clone, PartialEq)]
pub struct Regex {
    pub root: Node,
    /// Every group that captures in Ruby's numbering, in order of its opening parenthesis:
    /// named groups, and unnamed ones only when the regex has no named group (Ruby stops
    /// unnamed groups capturing as soon as one group is named).
    pub groups: Vec<Group>,
}

/// A capturing group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// The name as written (`NUMBER:bytes:int`), `None` for an unnamed group.
    pub name: Option<String>,
}

/// One node of the tree.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Empty,
    Char(char),
    /// `.` (`dotall`: also matches `\n`, Ruby's MULTILINE), `\N` and `\O`.
    Any {
        dotall: bool,
    },
    Class(Class),
    Look(Look),
    Group(GroupKind, Box<Node>),
    /// `(?i)` / `(?-i)` and `(?i:...)`: case-insensitive matching on or off inside.
    CaseInsensitive(bool, Box<Node>),
    Concat(Vec<Node>),
    Alt(Vec<Node>),
    Repeat {
        node: Box<Node>,
        min: u32,
        max: Option<u32>,
        mode: RepeatMode,
    },
    /// A backreference to the capturing groups at these indices into [`Regex::groups`] (several
    /// for a name used more than once; Ruby tries the last one first).
    Backref(Vec<usize>),
    /// `\g<name>`: a call of the group at this index into [`Regex::groups`].
    Call(usize),
    /// `\k<name>` / `\g<name>` while parsing, before names are resolved.
    NamedReference {
        name: String,
        backref: bool,
    },
    /// `\R`: a line break.
    LineBreak,
    /// `\X`: an extended grapheme cluster.
    Grapheme,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RepeatMode {
    Greedy,
    Lazy,
    Possessive,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupKind {
    /// A capturing group: its index into [`Regex::groups`].
    Capture(usize),
    /// Written with parentheses but not capturing (`(?:...)`, or an unnamed group in a regex
    /// with named ones).
    NonCapture,
    Atomic,
    LookAhead {
        negated: bool,
    },
    LookBehind {
        negated: bool,
    },
}

/// Zero-width assertions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Look {
    /// `^`: start of a line (Ruby's `^` always is).
    LineStart,
    /// `$`: end of a line.
    LineEnd,
    /// `\A`
    Start,
    /// `\z`
    End,
    /// `\Z`: end, or before a final newline.
    EndBeforeNewline,
    /// `\b`
    WordBoundary,
    /// `\B`
    NotWordBoundary,
    /// `\G`: where the search started.
    SearchStart,
    /// `\K`: keep what matched so far out of the match.
    Keep,
}

/// A character class: `[...]`, `\d`, `\p{L}`, ... Matches one character.
#[derive(Debug, Clone, PartialEq)]
pub struct Class {
    pub negated: bool,
    /// The class is the intersection of these unions (`[a-z&&[^aeiou]]` has two); almost
    /// always one.
    pub operands: Vec<Vec<ClassItem>>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ClassItem {
    /// An inclusive range; a single character is a range of one.
    Range(char, char),
    /// `\d`, `\w`, `\s`, `\h` (ASCII in Ruby), negated for the upper-case forms.
    Perl(Perl, bool),
    /// `[:alpha:]` (Unicode in Ruby), negated for `[:^alpha:]`.
    Posix(String, bool),
    /// `\p{Name}`, negated for `\P{Name}` / `\p{^Name}`.
    Property(String, bool),
    Nested(Class),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Perl {
    Digit,
    Word,
    Space,
    Hex,
}

impl Class {
    fn single(item: ClassItem) -> Class {
        Class {
            negated: false,
            operands: vec![vec![item]],
        }
    }
}

/// Why a regex could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}{near}")]
pub struct SyntaxError {
    pub message: String,
    /// `` near `...` ``: the expanded regex up to where the problem was found; may be empty.
    pub near: String,
}

/// Parses `text` with Ruby's rules, as grok compiles it (`Regexp::MULTILINE`: `.` matches `\n`).
pub fn parse(text: &str) -> Result<Regex, SyntaxError> {
    let mut parser = Parser {
        chars: text.chars().collect(),
        pos: 0,
        groups: Vec::new(),
        has_named: false,
    };
    parser.has_named = parser.scan_for_named_groups();
    let flags = Flags {
        case_insensitive: false,
        dotall: true,
        extended: false,
    };
    let root = parser.alternation(flags)?;
    if parser.pos < parser.chars.len() {
        return Err(parser.error("unmatched close parenthesis"));
    }
    let mut groups = std::mem::take(&mut parser.groups);
    let mut root = root;
    resolve_references(&mut root, &groups)?;
    if !parser.has_named && !has_references(&root) {
        // Unnamed groups capture only for backreferences; without any they are plain groups.
        uncapture(&mut root);
        groups.clear();
    }
    reduce_nested_repeats(&mut root);
    Ok(Regex { root, groups })
}

/// Option flags in effect while parsing.
#[derive(Debug, Clone, Copy)]
struct Flags {
    case_insensitive: bool,
    dotall: bool,
    extended: bool,
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
    groups: Vec<Group>,
    has_named: bool,
}

impl Parser {
    fn error(&self, message: impl Into<String>) -> SyntaxError {
        let end = (self.pos + 1).min(self.chars.len());
        let start = end.saturating_sub(24);
        let context: String = self.chars[start..end].iter().collect();
        SyntaxError {
            message: message.into(),
            near: format!(" near `{context}`"),
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn peek_at(&self, offset: usize) -> Option<char> {
        self.chars.get(self.pos + offset).copied()
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn eat_str(&mut self, s: &str) -> bool {
        let n = s.chars().count();
        if self.chars.len() >= self.pos + n
            && s.chars()
                .eq(self.chars[self.pos..self.pos + n].iter().copied())
        {
            self.pos += n;
            true
        } else {
            false
        }
    }

    /// Whether the text has a named group (which decides whether unnamed groups capture). A
    /// quick scan: `(?<` or `(?'` not inside a class and not escaped, and not a lookbehind.
    fn scan_for_named_groups(&self) -> bool {
        let c = &self.chars;
        let mut i = 0;
        let mut class_depth = 0usize;
        while i < c.len() {
            match c[i] {
                '\\' => i += 1,
                '[' => class_depth += 1,
                ']' if class_depth > 0 => class_depth -= 1,
                '(' if class_depth == 0 && c.get(i + 1) == Some(&'?') => {
                    let next = c.get(i + 2).copied();
                    let after = c.get(i + 3).copied();
                    if next == Some('\'')
                        || (next == Some('<') && !matches!(after, Some('=') | Some('!')))
                        || (next == Some('P') && after == Some('<'))
                    {
                        return true;
                    }
                }
                _ => {}
            }
            i += 1;
        }
        false
    }

    fn alternation(&mut self, flags: Flags) -> Result<Node, SyntaxError> {
        let mut branches = vec![self.concat(flags)?];
        while self.eat('|') {
            branches.push(self.concat(flags)?);
        }
        Ok(if branches.len() == 1 {
            branches.pop().unwrap_or(Node::Empty)
        } else {
            Node::Alt(branches)
        })
    }

    fn concat(&mut self, flags: Flags) -> Result<Node, SyntaxError> {
        let mut items = Vec::new();
        loop {
            if flags.extended {
                self.skip_extended_space();
            }
            match self.peek() {
                None | Some('|') | Some(')') => break,
                _ => {}
            }
            if let Some(new_flags) = self.inline_flags(flags)? {
                // Ruby: `(?i)` applies to the rest of the enclosing group, `|` branches
                // included, so the rest parses as one alternation under the new flags.
                let rest = self.alternation(new_flags)?;
                items.push(scope_flags(flags, new_flags, rest));
                break;
            }
            let atom = self.atom(flags)?;
            let node = self.quantifiers(atom, flags)?;
            items.push(node);
        }
        Ok(match items.len() {
            0 => Node::Empty,
            1 => items.pop().unwrap_or(Node::Empty),
            _ => Node::Concat(items),
        })
    }

    fn skip_extended_space(&mut self) {
        loop {
            match self.peek() {
                Some(c) if c.is_whitespace() => self.pos += 1,
                Some('#') => {
                    while let Some(c) = self.peek() {
                        self.pos += 1;
                        if c == '\n' {
                            break;
                        }
                    }
                }
                _ => return,
            }
        }
    }

    /// `(?imx-imx)` (without a colon) at the current position: the new flags.
    fn inline_flags(&mut self, flags: Flags) -> Result<Option<Flags>, SyntaxError> {
        if self.peek() != Some('(') || self.peek_at(1) != Some('?') {
            return Ok(None);
        }
        let start = self.pos;
        self.pos += 2;
        match self.option_letters(flags)? {
            Some(new_flags) if self.eat(')') => Ok(Some(new_flags)),
            _ => {
                self.pos = start;
                Ok(None)
            }
        }
    }

    /// Reads `imx-imx` letters; `None` when the text is not an option group.
    fn option_letters(&mut self, flags: Flags) -> Result<Option<Flags>, SyntaxError> {
        let start = self.pos;
        let mut new = flags;
        let mut on = true;
        let mut any = false;
        while let Some(c) = self.peek() {
            match c {
                'i' => new.case_insensitive = on,
                'm' => new.dotall = on,
                'x' => new.extended = on,
                '-' if on => on = false,
                ')' | ':' if any => return Ok(Some(new)),
                _ => {
                    self.pos = start;
                    return Ok(None);
                }
            }
            any = true;
            self.pos += 1;
        }
        self.pos = start;
        Ok(None)
    }

    fn atom(&mut self, flags: Flags) -> Result<Node, SyntaxError> {
        let c = self.peek().ok_or_else(|| self.error("unexpected end"))?;
        self.pos += 1;
        Ok(match c {
            '(' => self.group(flags)?,
            '[' => Node::Class(self.class()?),
            '\\' => self.escape()?,
            '.' => Node::Any {
                dotall: flags.dotall,
            },
            '^' => Node::Look(Look::LineStart),
            '$' => Node::Look(Look::LineEnd),
            '*' | '+' | '?' => {
                self.pos -= 1;
                return Err(self.error("target of repeat operator is not specified"));
            }
            '{' if interval_at(&self.chars, self.pos - 1).is_some() => {
                self.pos -= 1;
                return Err(self.error("target of repeat operator is not specified"));
            }
            c => Node::Char(c),
        })
    }

    fn group(&mut self, flags: Flags) -> Result<Node, SyntaxError> {
        if !self.eat('?') {
            return self.capture_group(None, flags);
        }
        if self.eat('#') {
            while let Some(c) = self.peek() {
                self.pos += 1;
                if c == ')' {
                    return Ok(Node::Empty);
                }
            }
            return Err(self.error("end pattern in group"));
        }
        let kind = if self.eat(':') {
            GroupKind::NonCapture
        } else if self.eat('>') {
            GroupKind::Atomic
        } else if self.eat('=') {
            GroupKind::LookAhead { negated: false }
        } else if self.eat('!') {
            GroupKind::LookAhead { negated: true }
        } else if self.eat_str("<=") {
            GroupKind::LookBehind { negated: false }
        } else if self.eat_str("<!") {
            GroupKind::LookBehind { negated: true }
        } else if self.eat('<') || self.eat_str("P<") {
            let name = self.group_name('>')?;
            return self.capture_group(Some(name), flags);
        } else if self.eat('\'') {
            let name = self.group_name('\'')?;
            return self.capture_group(Some(name), flags);
        } else if let Some(new_flags) = self.option_letters(flags)? {
            // `(?i:...)`: `option_letters` stopped at the colon.
            if !self.eat(':') {
                return Err(self.error("invalid group option"));
            }
            let inner = self.group_body(new_flags)?;
            return Ok(scope_flags(flags, new_flags, inner));
        } else {
            return Err(self.error(match self.peek() {
                Some('~') => "the absent operator (?~...) is not supported",
                Some('(') => "conditional groups (?(...)...) are not supported",
                _ => "undefined group option",
            }));
        };
        let inner = self.group_body(flags)?;
        Ok(Node::Group(kind, Box::new(inner)))
    }

    fn group_body(&mut self, flags: Flags) -> Result<Node, SyntaxError> {
        let inner = self.alternation(flags)?;
        if !self.eat(')') {
            return Err(self.error("end pattern with unmatched parenthesis"));
        }
        Ok(inner)
    }

    fn capture_group(&mut self, name: Option<String>, flags: Flags) -> Result<Node, SyntaxError> {
        let captures = name.is_some() || !self.has_named;
        let index = self.groups.len();
        if captures {
            self.groups.push(Group { name });
        }
        let inner = self.group_body(flags)?;
        let kind = if captures {
            GroupKind::Capture(index)
        } else {
            GroupKind::NonCapture
        };
        Ok(Node::Group(kind, Box::new(inner)))
    }

    /// A group name up to `close`. Any characters are accepted (grok names groups
    /// `NUMBER:bytes:int` and `[source][ip]`).
    fn group_name(&mut self, close: char) -> Result<String, SyntaxError> {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if c == close {
                let name: String = self.chars[start..self.pos].iter().collect();
                self.pos += 1;
                if name.is_empty() {
                    return Err(self.error("group name is empty"));
                }
                return Ok(name);
            }
            self.pos += 1;
        }
        Err(self.error("invalid group name"))
    }

    fn quantifiers(&mut self, mut node: Node, flags: Flags) -> Result<Node, SyntaxError> {
        loop {
            if flags.extended {
                self.skip_extended_space();
            }
            let (min, max, short) = match self.peek() {
                Some('*') => (0, None, true),
                Some('+') => (1, None, true),
                Some('?') => (0, Some(1), true),
                Some('{') => match self.interval() {
                    Some((min, Some(max), _)) if max < min => {
                        return Err(self.error("upper bound must be greater than lower bound"))
                    }
                    Some((min, max, len)) => {
                        self.pos += len - 1;
                        (min, max, false)
                    }
                    None => return Ok(node),
                },
                _ => return Ok(node),
            };
            self.pos += 1;
            if matches!(node, Node::Look(_)) {
                return Err(self.error("target of repeat operator is invalid"));
            }
            // Ruby: `?` after any quantifier makes it lazy; `+` makes `*`, `+` and `?`
            // possessive, but after an interval it is another repetition.
            let mode = if self.eat('?') {
                RepeatMode::Lazy
            } else if short && self.eat('+') {
                RepeatMode::Possessive
            } else {
                RepeatMode::Greedy
            };
            node = Node::Repeat {
                node: Box::new(node),
                min,
                max,
                mode,
            };
        }
    }

    /// `{n}`, `{n,}`, `{n,m}` or `{,m}` at the current position: (min, max, length).
    fn interval(&self) -> Option<(u32, Option<u32>, usize)> {
        interval_at(&self.chars, self.pos)
    }

    fn escape(&mut self) -> Result<Node, SyntaxError> {
        let c = self
            .peek()
            .ok_or_else(|| self.error("end pattern at escape"))?;
        self.pos += 1;
        let perl = |p, negated| Node::Class(Class::single(ClassItem::Perl(p, negated)));
        Ok(match c {
            'd' => perl(Perl::Digit, false),
            'D' => perl(Perl::Digit, true),
            'w' => perl(Perl::Word, false),
            'W' => perl(Perl::Word, true),
            's' => perl(Perl::Space, false),
            'S' => perl(Perl::Space, true),
            'h' => perl(Perl::Hex, false),
            'H' => perl(Perl::Hex, true),
            'p' | 'P' => Node::Class(Class::single(self.property(c == 'P')?)),
            'b' => Node::Look(Look::WordBoundary),
            'B' => Node::Look(Look::NotWordBoundary),
            'A' => Node::Look(Look::Start),
            'z' => Node::Look(Look::End),
            'Z' => Node::Look(Look::EndBeforeNewline),
            'G' => Node::Look(Look::SearchStart),
            'K' => Node::Look(Look::Keep),
            'R' => Node::LineBreak,
            'X' => Node::Grapheme,
            'N' => Node::Any { dotall: false },
            'O' => Node::Any { dotall: true },
            'k' => self.named_reference(true)?,
            'g' => self.named_reference(false)?,
            '1'..='9' => {
                let mut n = c.to_digit(10).unwrap_or(0) as usize;
                while let Some(d) = self.peek().and_then(|d| d.to_digit(10)) {
                    n = n * 10 + d as usize;
                    self.pos += 1;
                }
                if self.has_named {
                    return Err(self.error("numbered backref/call is not allowed. (use name)"));
                }
                Node::Backref(vec![n - 1])
            }
            _ => {
                self.pos -= 1;
                Node::Char(self.char_escape(false)?)
            }
        })
    }

    /// `\k<name>` (backreference) or `\g<name>` (call); the name is resolved later.
    fn named_reference(&mut self, backref: bool) -> Result<Node, SyntaxError> {
        let close = if self.eat('<') {
            '>'
        } else if self.eat('\'') {
            '\''
        } else {
            return Err(self.error("invalid backref or call: expected a name in <...>"));
        };
        let name = self.group_name(close)?;
        Ok(match name.parse::<usize>() {
            Ok(n) if n > 0 && !self.has_named && backref => Node::Backref(vec![n - 1]),
            Ok(n) if n > 0 && !self.has_named => Node::Call(n - 1),
            Ok(_) => return Err(self.error("numbered backref/call is not allowed. (use name)")),
            Err(_) => Node::NamedReference { name, backref },
        })
    }

    /// `\p{Name}`, `\p{^Name}`, `\P{Name}` (the `p` or `P` already read).
    fn property(&mut self, upper: bool) -> Result<ClassItem, SyntaxError> {
        if !self.eat('{') {
            return Err(self.error("invalid character property name {"));
        }
        let negated = upper ^ self.eat('^');
        let start = self.pos;
        while let Some(c) = self.peek() {
            self.pos += 1;
            if c == '}' {
                let name: String = self.chars[start..self.pos - 1].iter().collect();
                if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    return Err(self.error(format!("invalid character property name {{{name}}}")));
                }
                return Ok(ClassItem::Property(name, negated));
            }
        }
        Err(self.error("invalid character property name"))
    }

    /// A character written as an escape (the backslash already read); `in_class` makes `\b`
    /// a backspace. Unknown escapes stand for the character itself, as in Ruby.
    fn char_escape(&mut self, in_class: bool) -> Result<char, SyntaxError> {
        let c = self
            .peek()
            .ok_or_else(|| self.error("end pattern at escape"))?;
        self.pos += 1;
        Ok(match c {
            't' => '\t',
            'n' => '\n',
            'r' => '\r',
            'f' => '\x0c',
            'v' => '\x0b',
            'a' => '\x07',
            'e' => '\x1b',
            'b' if in_class => '\x08',
            '0' => {
                let mut n = 0u32;
                for _ in 0..2 {
                    match self.peek().and_then(|d| d.to_digit(8)) {
                        Some(d) => {
                            n = n * 8 + d;
                            self.pos += 1;
                        }
                        None => break,
                    }
                }
                char::from_u32(n).unwrap_or('\0')
            }
            'x' => self.hex_escape()?,
            'u' => self.fixed_hex(4)?,
            'c' => {
                let x = self
                    .peek()
                    .ok_or_else(|| self.error("end pattern at control"))?;
                self.pos += 1;
                char::from_u32(x as u32 & 0x1f).unwrap_or('\0')
            }
            'C' | 'M' if self.peek() == Some('-') => {
                return Err(self.error("\\C- and \\M- escapes are not supported"))
            }
            other => other,
        })
    }

    fn hex_escape(&mut self) -> Result<char, SyntaxError> {
        if self.eat('{') {
            let start = self.pos;
            while self.peek().is_some_and(|c| c.is_ascii_hexdigit()) {
                self.pos += 1;
            }
            let digits: String = self.chars[start..self.pos].iter().collect();
            if !self.eat('}') || digits.is_empty() {
                return Err(self.error("invalid code point value"));
            }
            return u32::from_str_radix(&digits, 16)
                .ok()
                .and_then(char::from_u32)
                .ok_or_else(|| self.error("invalid code point value"));
        }
        let mut n = 0u32;
        let mut len = 0;
        while len < 2 {
            match self.peek().and_then(|d| d.to_digit(16)) {
                Some(d) => {
                    n = n * 16 + d;
                    self.pos += 1;
                    len += 1;
                }
                None => break,
            }
        }
        if len == 0 {
            return Err(self.error("invalid hex escape"));
        }
        // Ruby reads `\xHH` as a byte; above 0x7f that is half a UTF-8 sequence, which no
        // grok pattern means. Take it as the code point.
        char::from_u32(n).ok_or_else(|| self.error("invalid hex escape"))
    }

    fn fixed_hex(&mut self, len: usize) -> Result<char, SyntaxError> {
        if self.chars.len() < self.pos + len {
            return Err(self.error("invalid Unicode escape"));
        }
        let digits: String = self.chars[self.pos..self.pos + len].iter().collect();
        self.pos += len;
        u32::from_str_radix(&digits, 16)
            .ok()
            .and_then(char::from_u32)
            .ok_or_else(|| self.error("invalid Unicode escape"))
    }

    /// A bracket class; the `[` already read.
    fn class(&mut self) -> Result<Class, SyntaxError> {
        let negated = self.eat('^');
        let mut operands = vec![Vec::new()];
        let mut first = true;
        loop {
            let c = self
                .peek()
                .ok_or_else(|| self.error("premature end of char-class"))?;
            if c == ']' && !first {
                self.pos += 1;
                break;
            }
            first = false;
            if self.eat_str("&&") {
                operands.push(Vec::new());
                continue;
            }
            let item = self.class_item()?;
            if let Some(items) = operands.last_mut() {
                items.push(item);
            }
        }
        operands.retain(|o| !o.is_empty());
        Ok(Class { negated, operands })
    }

    fn class_item(&mut self) -> Result<ClassItem, SyntaxError> {
        if self.peek() == Some('[') {
            if let Some(posix) = self.posix_class() {
                return Ok(posix);
            }
            self.pos += 1;
            return Ok(ClassItem::Nested(self.class()?));
        }
        let start = match self.class_char()? {
            Ok(c) => c,
            Err(item) => return Ok(item),
        };
        // A range, unless the `-` is the class's last character.
        if self.peek() == Some('-') && !matches!(self.peek_at(1), Some(']') | None) {
            let save = self.pos;
            self.pos += 1;
            if self.peek() == Some('[') {
                self.pos = save;
                return Ok(ClassItem::Range(start, start));
            }
            match self.class_char()? {
                Ok(end) if end >= start => return Ok(ClassItem::Range(start, end)),
                Ok(_) => return Err(self.error("empty range in char class")),
                Err(_) => return Err(self.error("char-class value at end of range")),
            }
        }
        Ok(ClassItem::Range(start, start))
    }

    /// One class member: a character (`Ok`) or a class escape such as `\d` (`Err`).
    fn class_char(&mut self) -> Result<Result<char, ClassItem>, SyntaxError> {
        let c = self
            .peek()
            .ok_or_else(|| self.error("premature end of char-class"))?;
        self.pos += 1;
        if c != '\\' {
            return Ok(Ok(c));
        }
        let e = self
            .peek()
            .ok_or_else(|| self.error("premature end of char-class"))?;
        let perl = |p, negated| Ok(Err(ClassItem::Perl(p, negated)));
        match e {
            'd' | 'D' | 'w' | 'W' | 's' | 'S' | 'h' | 'H' => {
                self.pos += 1;
                let p = match e.to_ascii_lowercase() {
                    'd' => Perl::Digit,
                    'w' => Perl::Word,
                    's' => Perl::Space,
                    _ => Perl::Hex,
                };
                perl(p, e.is_ascii_uppercase())
            }
            'p' | 'P' => {
                self.pos += 1;
                Ok(Err(self.property(e == 'P')?))
            }
            _ => Ok(Ok(self.char_escape(true)?)),
        }
    }

    /// `[:name:]` or `[:^name:]` at the current position.
    fn posix_class(&mut self) -> Option<ClassItem> {
        let rest = &self.chars[self.pos..];
        if rest.get(1) != Some(&':') {
            return None;
        }
        let negated = rest.get(2) == Some(&'^');
        let name_start = if negated { 3 } else { 2 };
        let mut i = name_start;
        while rest.get(i).is_some_and(|c| c.is_ascii_lowercase()) {
            i += 1;
        }
        if i == name_start || rest.get(i) != Some(&':') || rest.get(i + 1) != Some(&']') {
            return None;
        }
        let name: String = rest[name_start..i].iter().collect();
        const KNOWN: &[&str] = &[
            "alnum", "alpha", "ascii", "blank", "cntrl", "digit", "graph", "lower", "print",
            "punct", "space", "upper", "word", "xdigit",
        ];
        if !KNOWN.contains(&name.as_str()) {
            return None;
        }
        self.pos += i + 2;
        Some(ClassItem::Posix(name, negated))
    }
}

/// `{n}`, `{n,}`, `{n,m}` or `{,m}` at `at`: (min, max, length in characters). An inverted
/// range is returned as it is, for the caller to refuse.
fn interval_at(chars: &[char], at: usize) -> Option<(u32, Option<u32>, usize)> {
    if chars.get(at) != Some(&'{') {
        return None;
    }
    let mut i = at + 1;
    let number = |i: &mut usize| -> Option<u32> {
        let start = *i;
        while chars.get(*i).is_some_and(|c| c.is_ascii_digit()) {
            *i += 1;
        }
        if *i == start {
            return None;
        }
        chars[start..*i].iter().collect::<String>().parse().ok()
    };
    let min = number(&mut i);
    let (min, max) = if chars.get(i) == Some(&',') {
        i += 1;
        let max = number(&mut i);
        if min.is_none() && max.is_none() {
            return None;
        }
        (min.unwrap_or(0), max)
    } else {
        let n = min?;
        (n, Some(n))
    };
    if chars.get(i) != Some(&'}') {
        return None;
    }
    Some((min, max, i + 1 - at))
}

/// Wraps `node` in a case-insensitivity scope when the flags change it.
fn scope_flags(outer: Flags, inner: Flags, node: Node) -> Node {
    if outer.case_insensitive == inner.case_insensitive {
        node
    } else {
        Node::CaseInsensitive(inner.case_insensitive, Box::new(node))
    }
}

/// Resolves `\k<name>` and `\g<name>` to group indices, and checks numbered references.
fn resolve_references(node: &mut Node, groups: &[Group]) -> Result<(), SyntaxError> {
    let error = |message: String| SyntaxError {
        near: String::new(),
        message,
    };
    match node {
        Node::NamedReference { name, backref } => {
            let indices: Vec<usize> = groups
                .iter()
                .enumerate()
                .filter(|(_, g)| g.name.as_deref() == Some(name.as_str()))
                .map(|(i, _)| i)
                .collect();
            *node = match (indices.as_slice(), *backref) {
                ([], _) => return Err(error(format!("undefined name <{name}> reference"))),
                (_, true) => Node::Backref(indices),
                ([i], false) => Node::Call(*i),
                (_, false) => return Err(error(format!("multiplex defined name <{name}> call"))),
            };
        }
        Node::Backref(indices) if indices.iter().any(|&i| i >= groups.len()) => {
            return Err(error("invalid backref number".to_string()))
        }
        Node::Call(i) if *i >= groups.len() => {
            return Err(error("invalid call number".to_string()))
        }
        Node::Group(_, inner) | Node::CaseInsensitive(_, inner) => {
            resolve_references(inner, groups)?
        }
        Node::Repeat { node: inner, .. } => resolve_references(inner, groups)?,
        Node::Concat(items) | Node::Alt(items) => {
            for item in items {
                resolve_references(item, groups)?;
            }
        }
        _ => {}
    }
    Ok(())
}

fn has_references(node: &Node) -> bool {
    match node {
        Node::Backref(_) | Node::Call(_) | Node::NamedReference { .. } => true,
        Node::Group(_, inner) | Node::CaseInsensitive(_, inner) => has_references(inner),
        Node::Repeat { node, .. } => has_references(node),
        Node::Concat(items) | Node::Alt(items) => items.iter().any(has_references),
        _ => false,
    }
}

fn uncapture(node: &mut Node) {
    match node {
        Node::Group(kind, inner) => {
            if matches!(kind, GroupKind::Capture(_)) {
                *kind = GroupKind::NonCapture;
            }
            uncapture(inner);
        }
        Node::CaseInsensitive(_, inner) | Node::Repeat { node: inner, .. } => uncapture(inner),
        Node::Concat(items) | Node::Alt(items) => items.iter_mut().for_each(uncapture),
        _ => {}
    }
}

/// What Ruby's regex parser (Onigmo, and Joni in Logstash) does with a repeat of a repeat
/// (`(?:a+)*`, `.?*`): its `ReduceTypeTable`, indexed by the inner then the outer quantifier among `?`, `*`, `+`,
/// `??`, `*?`, `+?`. Besides being Ruby's semantics, the reduced form keeps a backtracking
/// engine out of the exponential search `(?:[a-z]+)+` invites (logstash-patterns-core's
/// `URIPROTO` has one).
#[derive(Clone, Copy)]
enum Reduce {
    AsIs,
    /// The inner repeat alone.
    Inner,
    /// `X*`
    Star,
    /// `X*?`
    LazyStar,
    /// `X??`
    LazyOptional,
    /// `(?:X+)??`
    PlusLazyOptional,
}

const REDUCE_TABLE: [[Reduce; 6]; 6] = {
    use Reduce::*;
    [
        [Inner, Star, Star, LazyOptional, LazyStar, AsIs],
        [
            Inner,
            Inner,
            Inner,
            PlusLazyOptional,
            PlusLazyOptional,
            Inner,
        ],
        [Star, Star, Inner, AsIs, PlusLazyOptional, Inner],
        [Inner, LazyStar, LazyStar, Inner, LazyStar, LazyStar],
        [Inner, Inner, Inner, Inner, Inner, Inner],
        [AsIs, AsIs, AsIs, LazyStar, LazyStar, Inner],
    ]
};

/// The row or column of a quantifier in [`REDUCE_TABLE`].
fn popular(min: u32, max: Option<u32>, mode: RepeatMode) -> Option<usize> {
    let base = match mode {
        RepeatMode::Greedy => 0,
        RepeatMode::Lazy => 3,
        RepeatMode::Possessive => return None,
    };
    match (min, max) {
        (0, Some(1)) => Some(base),
        (0, None) => Some(base + 1),
        (1, None) => Some(base + 2),
        _ => None,
    }
}

/// Applies [`REDUCE_TABLE`] bottom-up, looking through non-capturing groups, plus
/// Oniguruma's `(?:a*){n,m}` => `(?:a*){n,n}` for greedy counted repeats.
fn reduce_nested_repeats(node: &mut Node) {
    match node {
        Node::Group(_, inner) | Node::CaseInsensitive(_, inner) => reduce_nested_repeats(inner),
        Node::Concat(items) | Node::Alt(items) => items.iter_mut().for_each(reduce_nested_repeats),
        Node::Repeat {
            node: inner,
            min,
            max,
            mode,
        } => {
            reduce_nested_repeats(inner);
            let Some((cmin, cmax, cmode)) = nested_repeat(inner) else {
                return;
            };
            let (Some(p), Some(c)) = (popular(*min, *max, *mode), popular(cmin, cmax, cmode))
            else {
                if matches!(popular(cmin, cmax, cmode), Some(1 | 2))
                    && *mode == RepeatMode::Greedy
                    && max.is_some_and(|m| m > 1)
                {
                    *max = Some(if *min == 0 { 1 } else { *min });
                }
                return;
            };
            let action = REDUCE_TABLE[c][p];
            if let Some(reduced) = apply_reduction(action, inner) {
                *node = reduced;
            }
        }
        _ => {}
    }
}

/// The quantifier of a repeat directly inside `node` (through non-capturing groups).
fn nested_repeat(node: &Node) -> Option<(u32, Option<u32>, RepeatMode)> {
    match node {
        Node::Group(GroupKind::NonCapture, inner) => nested_repeat(inner),
        Node::Repeat { min, max, mode, .. } => Some((*min, *max, *mode)),
        _ => None,
    }
}

/// Takes the target of the repeat inside `node` (through non-capturing groups).
fn take_repeat_target(node: &mut Node) -> Node {
    match node {
        Node::Group(GroupKind::NonCapture, inner) => take_repeat_target(inner),
        Node::Repeat { node: target, .. } => std::mem::replace(target, Node::Empty),
        other => std::mem::replace(other, Node::Empty),
    }
}

/// The node a reduction produces from the outer repeat's `inner` node.
fn apply_reduction(action: Reduce, inner: &mut Node) -> Option<Node> {
    let repeat = |node: Node, min, max, mode| Node::Repeat {
        node: Box::new(node),
        min,
        max,
        mode,
    };
    let (cmin, cmax, cmode) = nested_repeat(inner)?;
    Some(match action {
        Reduce::AsIs => return None,
        Reduce::Inner => repeat(take_repeat_target(inner), cmin, cmax, cmode),
        Reduce::Star => repeat(take_repeat_target(inner), 0, None, RepeatMode::Greedy),
        Reduce::LazyStar => repeat(take_repeat_target(inner), 0, None, RepeatMode::Lazy),
        Reduce::LazyOptional => repeat(take_repeat_target(inner), 0, Some(1), RepeatMode::Lazy),
        Reduce::PlusLazyOptional => {
            let plus = repeat(take_repeat_target(inner), 1, None, RepeatMode::Greedy);
            repeat(plus, 0, Some(1), RepeatMode::Lazy)
        }
    })
}
