//! [`Cursor`]: a position in the config text plus the byte-level scanning the grammar needs
//! (whitespace and comments, words, quoted strings, balanced skipping) and the descriptions of
//! "what was found" used in error messages.
//!
//! LSCL is scanned without a separate token stream because what a character means depends on
//! where it stands (`[a]` is a selector in a condition but an array in a plugin attribute, `/`
//! starts a regex only in a condition), so each grammar rule scans the bytes it expects.

use crate::config::source::Span;

/// A read position in the concatenated config text.
///
/// Invariant: `pos` is always on a UTF-8 character boundary (every scan stops at an ASCII byte
/// or advances by whole characters), so slicing `src` at it never panics.
pub(super) struct Cursor<'a> {
    src: &'a str,
    bytes: &'a [u8],
    pub pos: usize,
}

/// What ended a quoted string or regex scan.
pub(super) struct Quoted {
    /// The text between the delimiters.
    pub content: Span,
    /// The whole literal, delimiters included.
    pub span: Span,
    /// False when the end of the text came before the closing delimiter.
    pub terminated: bool,
}

/// `[A-Za-z0-9_]`: the characters of barewords and keywords.
pub(super) fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// `[A-Za-z0-9_-]`: the characters of plugin and attribute names.
pub(super) fn is_name_byte(b: u8) -> bool {
    is_word_byte(b) || b == b'-'
}

/// The characters scanned as one "word-like" token: names, barewords and numbers, plus `.` so
/// that `1.2.3` or `foo.bar` are reported whole rather than cut at the dot.
fn is_token_byte(b: u8) -> bool {
    is_name_byte(b) || b == b'.'
}

/// Longest token text quoted in a message before it is cut with "...".
const MAX_SHOWN: usize = 30;

impl<'a> Cursor<'a> {
    pub fn new(src: &'a str) -> Cursor<'a> {
        Cursor {
            src,
            bytes: src.as_bytes(),
            pos: 0,
        }
    }

    pub fn src(&self) -> &'a str {
        self.src
    }

    pub fn at_eof(&self) -> bool {
        self.pos >= self.bytes.len()
    }

    pub fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    pub fn starts_with(&self, s: &str) -> bool {
        self.bytes
            .get(self.pos..)
            .is_some_and(|rest| rest.starts_with(s.as_bytes()))
    }

    /// Consumes `s` if the text continues with it.
    pub fn eat(&mut self, s: &str) -> bool {
        let found = self.starts_with(s);
        if found {
            self.pos += s.len();
        }
        found
    }

    /// Consumes `b` if it is the next byte.
    pub fn eat_byte(&mut self, b: u8) -> bool {
        let found = self.peek() == Some(b);
        if found {
            self.pos += 1;
        }
        found
    }

    /// Advances over one whole character (nothing at the end).
    pub fn bump_char(&mut self) {
        if let Some(c) = self.src.get(self.pos..).and_then(|s| s.chars().next()) {
            self.pos += c.len_utf8();
        }
    }

    /// Consumes `[A-Za-z0-9_]+` when it is exactly `kw` (not a prefix of a longer word).
    pub fn eat_keyword(&mut self, kw: &str) -> bool {
        let found = self.is_keyword_at(self.pos, kw);
        if found {
            self.pos += kw.len();
        }
        found
    }

    /// Whether the word at `pos` is exactly `kw`.
    pub fn is_keyword_at(&self, pos: usize, kw: &str) -> bool {
        let end = pos + kw.len();
        self.bytes.get(pos..end).is_some_and(|w| w == kw.as_bytes())
            && !self.bytes.get(end).copied().is_some_and(is_word_byte)
    }

    /// Skips whitespace (` \t\r\n`, and a byte-order mark) and `#` comments: LSCL's `cs` rule.
    pub fn skip_cs(&mut self) {
        loop {
            match self.peek() {
                Some(b' ' | b'\t' | b'\r' | b'\n') => self.pos += 1,
                Some(b'#') => {
                    self.pos = memchr::memchr(b'\n', &self.bytes[self.pos..])
                        .map_or(self.bytes.len(), |i| self.pos + i);
                }
                Some(0xEF) if self.starts_with("\u{feff}") => self.pos += 3,
                _ => return,
            }
        }
    }

    /// The position after skipping whitespace and comments from here, without moving.
    pub fn after_cs(&self) -> usize {
        let mut probe = Cursor {
            src: self.src,
            bytes: self.bytes,
            pos: self.pos,
        };
        probe.skip_cs();
        probe.pos
    }

    /// The byte at the next non-blank position, without moving.
    pub fn peek_after_cs(&self) -> Option<u8> {
        self.bytes.get(self.after_cs()).copied()
    }

    /// Scans `[A-Za-z0-9_.-]+` from here; an empty span when none.
    pub fn scan_token(&mut self) -> Span {
        let start = self.pos;
        self.pos = self.token_end(start);
        Span::new(start, self.pos)
    }

    fn token_end(&self, start: usize) -> usize {
        let len = self.bytes[start.min(self.bytes.len())..]
            .iter()
            .take_while(|b| is_token_byte(**b))
            .count();
        start + len
    }

    /// Scans a quoted string or regex whose opening `delim` is the next byte. `\` followed by
    /// `delim` does not end it; every other byte, newlines included, is content (LSCL strings
    /// may span lines).
    pub fn scan_quoted(&mut self, delim: u8) -> Quoted {
        let start = self.pos;
        self.pos += 1;
        loop {
            let rest = &self.bytes[self.pos..];
            let Some(i) = memchr::memchr2(delim, b'\\', rest) else {
                self.pos = self.bytes.len();
                return Quoted {
                    content: Span::new(start + 1, self.pos),
                    span: Span::new(start, self.pos),
                    terminated: false,
                };
            };
            let at = self.pos + i;
            if self.bytes[at] == delim {
                self.pos = at + 1;
                return Quoted {
                    content: Span::new(start + 1, at),
                    span: Span::new(start, self.pos),
                    terminated: true,
                };
            }
            // A backslash escapes only the delimiter; any other backslash is plain content.
            let escapes_delim = self.bytes.get(at + 1) == Some(&delim);
            self.pos = at + if escapes_delim { 2 } else { 1 };
        }
    }

    pub fn slice(&self, span: Span) -> &'a str {
        self.src
            .get(span.start as usize..span.end as usize)
            .unwrap_or("")
    }

    /// The span of the token at `pos` (which should be past any whitespace): a word, a
    /// string, a two-character operator or one character. Empty at the end of the text.
    pub fn token_span_at(&self, pos: usize) -> Span {
        let Some(&b) = self.bytes.get(pos) else {
            return Span::new(pos, pos);
        };
        let end = if is_token_byte(b) {
            self.token_end(pos)
        } else if b == b'"' || b == b'\'' {
            let mut probe = Cursor {
                src: self.src,
                bytes: self.bytes,
                pos,
            };
            probe.scan_quoted(b).span.end as usize
        } else if self.bytes.get(pos..pos + 2).is_some_and(is_operator_pair) {
            pos + 2
        } else {
            pos + self.src[pos..].chars().next().map_or(1, char::len_utf8)
        };
        Span::new(pos, end)
    }

    /// Describes the token at `pos` for "found ..." in messages: `end of file`, `string "x"`,
    /// or the token itself in quotes.
    pub fn describe_at(&self, pos: usize) -> String {
        let span = self.token_span_at(pos);
        match self.bytes.get(pos) {
            None => "end of file".to_string(),
            Some(b'"' | b'\'') => {
                let text = self.slice(span);
                let inner = text.get(1..text.len().saturating_sub(1)).unwrap_or("");
                format!("string {}", quote_shown(inner))
            }
            Some(_) => quote_shown(self.slice(span)),
        }
    }

    /// Start of the line holding `pos`.
    pub fn line_start(&self, pos: usize) -> usize {
        let pos = pos.min(self.bytes.len());
        memchr::memrchr(b'\n', &self.bytes[..pos]).map_or(0, |i| i + 1)
    }

    /// Whether only spaces and tabs stand between the line start and `pos`.
    pub fn is_first_on_line(&self, pos: usize) -> bool {
        let start = self.line_start(pos);
        self.bytes[start..pos.min(self.bytes.len())]
            .iter()
            .all(|b| *b == b' ' || *b == b'\t')
    }

    /// How far the line holding `pos` is indented (spaces and tabs, one column each).
    pub fn indent_of_line(&self, pos: usize) -> usize {
        let start = self.line_start(pos);
        self.bytes[start..]
            .iter()
            .take_while(|b| **b == b' ' || **b == b'\t')
            .count()
    }

    /// The column (0-based, in bytes) of `pos` on its line.
    pub fn column(&self, pos: usize) -> usize {
        pos.min(self.bytes.len()) - self.line_start(pos)
    }

    /// When only blanks (at least one newline among them) stand between the previous token and
    /// `pos`, the end of that token. `None` when a comment ends the previous line, where the
    /// token's end cannot be found reliably by looking backwards.
    pub fn end_of_previous_line(&self, pos: usize) -> Option<usize> {
        let pos = pos.min(self.bytes.len());
        let blanks = self.bytes[..pos]
            .iter()
            .rev()
            .take_while(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
            .count();
        let end = pos - blanks;
        let crossed_line = self.bytes[end..pos].contains(&b'\n');
        let line = &self.bytes[self.line_start(end)..end];
        (crossed_line && end > 0 && !line.contains(&b'#')).then_some(end)
    }

    /// The end of the run of non-blank, non-structural bytes at `pos` (the extent of an unquoted
    /// value such as `/var/log/*.log`); `pos` itself when none.
    pub fn unquoted_run_end(&self, pos: usize) -> usize {
        let len = self.bytes[pos.min(self.bytes.len())..]
            .iter()
            .take_while(|b| is_text_byte(**b))
            .count();
        pos + len
    }

    /// Whether `a` and `b` lie on the same line.
    pub fn same_line(&self, a: usize, b: usize) -> bool {
        let (lo, hi) = (a.min(b), a.max(b).min(self.bytes.len()));
        lo >= hi || memchr::memchr(b'\n', &self.bytes[lo..hi]).is_none()
    }

    /// Skips balanced `{ }` groups (strings and comments respected) until an unmatched `}`
    /// (left in place), a section header (`input {`, ...) or the end. Used to resume after an
    /// error at the end of the enclosing block.
    pub fn skip_to_block_end(&mut self) {
        let mut depth = 0usize;
        loop {
            self.skip_cs();
            match self.peek() {
                None => return,
                Some(b'}') if depth == 0 => return,
                Some(b'}') => {
                    depth -= 1;
                    self.pos += 1;
                }
                Some(b'{') => {
                    depth += 1;
                    self.pos += 1;
                }
                Some(q @ (b'"' | b'\'')) => {
                    self.scan_quoted(q);
                }
                Some(b) if is_token_byte(b) => {
                    if self.section_header_at(self.pos).is_some() {
                        return;
                    }
                    self.scan_token();
                }
                Some(_) => self.bump_char(),
            }
        }
    }

    /// Skips one token, or a whole balanced `{ }` / `[ ]` / `( )` group when at an opener.
    pub fn skip_token_or_group(&mut self) {
        match self.peek() {
            None => {}
            Some(q @ (b'"' | b'\'')) => {
                self.scan_quoted(q);
            }
            Some(open @ (b'{' | b'[' | b'(')) => self.skip_group(open),
            Some(b) if is_token_byte(b) => {
                self.scan_token();
            }
            Some(_) => self.bump_char(),
        }
    }

    /// Skips from an opening bracket to its partner (or the end), over strings and comments.
    fn skip_group(&mut self, open: u8) {
        let close = match open {
            b'{' => b'}',
            b'[' => b']',
            _ => b')',
        };
        let mut depth = 0usize;
        loop {
            self.skip_cs();
            match self.peek() {
                None => return,
                Some(b) if b == open => {
                    depth += 1;
                    self.pos += 1;
                }
                Some(b) if b == close => {
                    self.pos += 1;
                    depth -= 1;
                    if depth == 0 {
                        return;
                    }
                }
                Some(q @ (b'"' | b'\'')) => {
                    self.scan_quoted(q);
                }
                Some(_) => self.bump_char(),
            }
        }
    }

    /// If a section header (`input`, `filter` or `output`, then `{`) starts at `pos`, the span
    /// of its keyword. Such a header inside a block means a `}` is missing before it.
    pub fn section_header_at(&self, pos: usize) -> Option<Span> {
        let kw = ["input", "filter", "output"]
            .into_iter()
            .find(|kw| self.is_keyword_at(pos, kw))?;
        let probe = Cursor {
            src: self.src,
            bytes: self.bytes,
            pos: pos + kw.len(),
        };
        (probe.peek_after_cs() == Some(b'{')).then(|| Span::new(pos, pos + kw.len()))
    }
}

/// A byte that may belong to an unquoted text run: neither blank nor LSCL structure.
pub(super) fn is_text_byte(b: u8) -> bool {
    !matches!(
        b,
        b' ' | b'\t'
            | b'\r'
            | b'\n'
            | b'{'
            | b'}'
            | b'['
            | b']'
            | b'('
            | b')'
            | b','
            | b'#'
            | b'"'
            | b'\''
            | b';'
    )
}

fn is_operator_pair(pair: &[u8]) -> bool {
    matches!(
        pair,
        b"=>" | b"==" | b"!=" | b"<=" | b">=" | b"=~" | b"!~" | b"&&" | b"||"
    )
}

/// `text` in double quotes, cut to [`MAX_SHOWN`] characters.
pub(super) fn quote_shown(text: &str) -> String {
    let mut chars = text.chars();
    let shown: String = chars.by_ref().take(MAX_SHOWN).collect();
    let more = if chars.next().is_some() { "..." } else { "" };
    format!("\"{}{more}\"", shown.escape_debug())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skips_whitespace_and_comments() {
        let mut c = Cursor::new("  # one\r\n\t# two\n  x");
        c.skip_cs();
        assert_eq!(c.peek(), Some(b'x'));
    }

    #[test]
    fn a_backslash_escapes_only_the_delimiter() {
        let text = r#""a\"b\\" c""#;
        let mut c = Cursor::new(text);
        let q = c.scan_quoted(b'"');
        assert!(q.terminated);
        assert_eq!(c.slice(q.content), r#"a\"b\\" c"#);
    }

    #[test]
    fn an_unterminated_string_runs_to_the_end() {
        let mut c = Cursor::new("'abc");
        let q = c.scan_quoted(b'\'');
        assert!(!q.terminated);
        assert_eq!(c.pos, 4);
    }

    #[test]
    fn describes_tokens() {
        let c = Cursor::new(r#"=> "abc" date{ é"#);
        assert_eq!(c.describe_at(0), "\"=>\"");
        assert_eq!(c.describe_at(3), "string \"abc\"");
        assert_eq!(c.describe_at(9), "\"date\"");
        assert_eq!(c.describe_at(13), "\"{\"");
        assert_eq!(c.describe_at(15), "\"é\"");
        assert_eq!(c.describe_at(c.src().len()), "end of file");
    }

    #[test]
    fn finds_section_headers() {
        let c = Cursor::new("output # c\n {");
        assert_eq!(c.section_header_at(0), Some(Span::new(0, 6)));
        assert_eq!(Cursor::new("outputs {").section_header_at(0), None);
        assert_eq!(Cursor::new("output => 1").section_header_at(0), None);
    }
}
