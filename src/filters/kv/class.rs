//! [`CharClass`]: a Ruby character-class body as kv's character-set options take it
//! (`field_split => "&?"`, `trim_value => "<>\[\],"`), compiled for the Rust regex engines and,
//! when it can only hold ASCII characters, into a byte table for the scanners.

use std::borrow::Cow;

use regex::Regex;

/// Why a character-class option is invalid.
#[derive(Debug, Clone, thiserror::Error)]
#[error("`{body}` is not a valid character set: {message}")]
pub struct ClassError {
    body: String,
    message: String,
}

/// One character-set option.
#[derive(Debug, Clone)]
pub struct CharClass {
    /// The body translated to Rust regex syntax, ready to go between `[` and `]`.
    body: String,
    /// Membership of every ASCII byte, when the class cannot contain other characters.
    ascii: Option<[bool; 128]>,
    /// `[body]` on its own.
    one: Regex,
    /// Ruby's `^[body]+|[body]+$` (line anchors).
    ends: Regex,
}

impl CharClass {
    /// Compiles a class body written as in Ruby (`\t`, `\e`, `\]`, ranges).
    pub fn new(ruby_body: &str) -> Result<CharClass, ClassError> {
        let body = translate(ruby_body);
        let error = |e: regex::Error| ClassError {
            body: ruby_body.to_string(),
            message: crate::config::source::regex_error_summary(&e),
        };
        let one = Regex::new(&format!("[{body}]")).map_err(error)?;
        let ends = Regex::new(&format!("(?m)^[{body}]+|[{body}]+$")).map_err(error)?;
        let ascii = ascii_only(ruby_body).then(|| {
            let exact = Regex::new(&format!(r"\A[{body}]\z")).expect("compiled above");
            let mut table = [false; 128];
            for (b, member) in table.iter_mut().enumerate() {
                let c = char::from(b as u8);
                *member = exact.is_match(c.encode_utf8(&mut [0; 4]));
            }
            table
        });
        Ok(CharClass {
            body,
            ascii,
            one,
            ends,
        })
    }

    /// The body in Rust regex syntax, for building bigger regexes.
    pub fn body(&self) -> &str {
        &self.body
    }

    /// The byte table, when every member is ASCII.
    pub fn ascii(&self) -> Option<&[bool; 128]> {
        self.ascii.as_ref()
    }

    /// Ruby's `gsub(/^[C]+|[C]+$/, "")`: strips members from both ends of every line.
    pub fn trim<'s>(&self, s: &'s str) -> Cow<'s, str> {
        match &self.ascii {
            Some(table) if !s.contains('\n') => {
                Cow::Borrowed(s.trim_matches(|c: char| c.is_ascii() && table[c as usize]))
            }
            _ => self.ends.replace_all(s, ""),
        }
    }

    /// Ruby's `gsub(/[C]/, "")`: removes every member.
    pub fn remove<'s>(&self, s: &'s str) -> Cow<'s, str> {
        match &self.ascii {
            Some(table) => {
                let member = |c: char| c.is_ascii() && table[c as usize];
                if s.contains(member) {
                    Cow::Owned(s.chars().filter(|&c| !member(c)).collect())
                } else {
                    Cow::Borrowed(s)
                }
            }
            None => self.one.replace_all(s, ""),
        }
    }
}

/// Ruby class-body escapes the Rust regex syntax spells differently: `\e`, `\0`, and escaped
/// punctuation that Rust either rejects or reads as an assertion (`\<`, `\>`).
fn translate(ruby: &str) -> String {
    let mut out = String::with_capacity(ruby.len() + 4);
    let mut chars = ruby.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            None => out.push_str(r"\\"),
            Some('e') => out.push_str(r"\x1B"),
            Some('0') => out.push_str(r"\x00"),
            Some(p) if p.is_ascii_punctuation() => {
                if regex_syntax_is_meta(p) {
                    out.push('\\');
                }
                out.push(p);
            }
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
        }
    }
    out
}

fn regex_syntax_is_meta(c: char) -> bool {
    regex::escape(c.encode_utf8(&mut [0; 4])).len() > 1 || matches!(c, '&' | '~' | '-')
}

/// True when a class body can only match ASCII characters: ASCII text, not negated, no nested
/// classes, and no escapes standing for sets (`\s`, `\w`, `\p{..}`) or code points (`\x`, `\u`).
fn ascii_only(body: &str) -> bool {
    if !body.is_ascii() || body.starts_with('^') {
        return false;
    }
    let bytes = body.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => {
                let Some(&next) = bytes.get(i + 1) else {
                    return true;
                };
                if !(next.is_ascii_punctuation() || b"tnrfvae0".contains(&next)) {
                    return false;
                }
                i += 2;
            }
            b'[' => return false,
            _ => i += 1,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(body: &str) -> String {
        let class = CharClass::new(body).unwrap();
        let table = class.ascii().expect("ascii class");
        (0u8..128)
            .filter(|&b| table[usize::from(b)])
            .map(char::from)
            .collect()
    }

    #[test]
    fn ruby_class_bodies() {
        assert_eq!(members("&?"), "&?");
        assert_eq!(members(r"<>\[\],"), ",<>[]");
        assert_eq!(members(r"\t"), "\t");
        assert_eq!(members(r"\r\n"), "\n\r");
        assert_eq!(members("a-c"), "abc");
        assert_eq!(members(r"\<\>"), "<>");
        assert_eq!(members(r"\e"), "\u{1b}");
        assert_eq!(members(r"\|"), "|");
        assert!(CharClass::new(r"\s").unwrap().ascii().is_none());
        assert!(CharClass::new("^a").unwrap().ascii().is_none());
        assert!(CharClass::new("é").unwrap().ascii().is_none());
        assert!(CharClass::new("").is_err());
    }

    #[test]
    fn trim_and_remove() {
        let c = CharClass::new("<>,").unwrap();
        assert_eq!(c.trim("<a,b>,"), "a,b");
        assert_eq!(c.trim("<a>\n<b>"), "a\nb");
        assert_eq!(c.remove("<a,b>"), "ab");
        let s = CharClass::new(r"\s").unwrap();
        assert_eq!(s.trim(" a b\t"), "a b");
        assert_eq!(s.remove(" a b\t"), "ab");
    }
}
