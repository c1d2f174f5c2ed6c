//! Finding the key/value pairs in a text, exactly as logstash-filter-kv's scan regex does.
//!
//! Logstash builds one regex, `KEY VALUE_SPLIT VALUE? (FIELD_SPLIT | $)`, and scans the text
//! with it. [`Scanner`] compiles the same regex (the `regex` crate for the character-set options,
//! fancy-regex when a `*_pattern` option brings in lookahead) and, for the usual character-set
//! case, also a byte scanner ([`ByteScanner`]) that finds the same pairs with table lookups and
//! `memchr`. The byte scanner handles every text without a backslash; texts with one (escaped
//! delimiters) go to the regex, whose backtracking decides where escapes end.

use std::time::Instant;

use super::class::CharClass;

/// How the pairs are separated, as configured.
pub struct ScanOptions<'a> {
    pub field_split: &'a CharClass,
    pub value_split: &'a CharClass,
    pub field_split_pattern: Option<&'a str>,
    pub value_split_pattern: Option<&'a str>,
    /// `whitespace => lenient`: spaces around the value separator are allowed.
    pub lenient: bool,
    /// `include_brackets`: `(..)`, `[..]`, `<..>` quote values like `".."` and `'..'`.
    pub brackets: bool,
}

/// Why scanning stopped early.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("scanning took longer than timeout_millis")]
    Timeout,
    #[error("the kv regex gave up: {0}")]
    Runaway(String),
}

/// A compiled scanner.
#[derive(Debug)]
pub enum Scanner {
    /// `field_split` and `value_split` character sets.
    Classes {
        regex: regex::Regex,
        value_split: regex::Regex,
        fast: Option<Box<ByteScanner>>,
    },
    /// A `field_split_pattern` or `value_split_pattern`.
    Patterns {
        regex: fancy_regex::Regex,
        value_split: fancy_regex::Regex,
    },
}

impl Scanner {
    /// Builds the scan regex as Logstash's `register` does.
    pub fn new(o: &ScanOptions) -> Result<Scanner, String> {
        let (f, v) = (o.field_split.body(), o.value_split.body());
        let quoted = |open: &str, close: &str, close_class: &str| {
            format!(r"{open}((?:\\.|[^{close_class}])+)?{close}")
        };
        let mut values = vec![quoted("\"", "\"", "\""), quoted("'", "'", "'")];
        if o.brackets {
            values.push(quoted(r"\(", r"\)", r"\)"));
            values.push(quoted(r"\[", r"\]", r"\]"));
            values.push(quoted("<", ">", ">"));
        }
        if o.field_split_pattern.is_none() && o.value_split_pattern.is_none() {
            let split = if o.lenient {
                format!(" *[{v}] *")
            } else {
                format!("[{v}]")
            };
            values.push(format!(r"((?:\\.|[^{f}])+)"));
            let source = format!(
                r"(?m)((?:\\.|[^{v}{f}])+)(?:{split})(?:{})?(?:[{f}]|$)",
                values.join("|")
            );
            let regex = regex::Regex::new(&source).map_err(|e| e.to_string())?;
            let value_split = regex::Regex::new(&split).map_err(|e| e.to_string())?;
            let fast = ByteScanner::new(o).map(Box::new);
            return Ok(Scanner::Classes {
                regex,
                value_split,
                fast,
            });
        }
        let field = match o.field_split_pattern {
            Some(p) => format!("(?:{p})"),
            None => format!("[{f}]"),
        };
        let split = match o.value_split_pattern {
            Some(p) => format!("(?:{p})"),
            None => format!("[{v}]"),
        };
        let split = if o.lenient {
            format!("(?: *{split} *)")
        } else {
            split
        };
        values.push(match o.field_split_pattern {
            Some(_) => format!(r"((?:(?!{field})(?:\\.|.))+)"),
            None => format!(r"((?:\\.|[^{f}])+)"),
        });
        let source = format!(
            r"(?m)((?:(?!{split}|{field})(?:\\.|.))+){split}(?:{})?(?:{field}|$)",
            values.join("|")
        );
        let build = |s: &str| {
            fancy_regex::RegexBuilder::new(s)
                .oniguruma_mode(true)
                .build()
                .map_err(|e| e.to_string())
        };
        Ok(Scanner::Patterns {
            regex: build(&source)?,
            value_split: build(&split)?,
        })
    }

    /// Logstash's short cut: a text without a value separator has no pairs.
    pub fn has_value_split(&self, text: &str) -> bool {
        match self {
            Scanner::Classes {
                fast: Some(fast), ..
            } => text.bytes().any(|b| fast.value[usize::from(b)]),
            Scanner::Classes { value_split, .. } => value_split.is_match(text),
            Scanner::Patterns { value_split, .. } => value_split.is_match(text).unwrap_or(true),
        }
    }

    /// Calls `pair(key, value)` for each pair in order; a value is `None` when the separator is
    /// followed by nothing (or an empty quoted string). Stops at the first error `pair` returns.
    pub fn scan<'s, E: From<ScanError>>(
        &self,
        text: &'s str,
        deadline: Option<Instant>,
        mut pair: impl FnMut(&'s str, Option<&'s str>) -> Result<(), E>,
    ) -> Result<(), E> {
        match self {
            Scanner::Classes {
                fast: Some(fast), ..
            } if memchr::memchr(b'\\', text.as_bytes()).is_none() => fast.scan(text, &mut pair),
            Scanner::Classes { regex, .. } => {
                let mut locations = regex.capture_locations();
                let mut pos = 0;
                while pos <= text.len() {
                    let Some(m) = regex.captures_read_at(&mut locations, text, pos) else {
                        break;
                    };
                    let (key, value) = groups(text, |i| locations.get(i), locations.len());
                    pair(key, value)?;
                    pos = next_start(text, m.start(), m.end());
                }
                Ok(())
            }
            Scanner::Patterns { regex, .. } => {
                let mut pos = 0;
                while pos <= text.len() {
                    let caps = match regex.captures_from_pos(text, pos) {
                        Ok(Some(caps)) => caps,
                        Ok(None) => break,
                        Err(e) => return Err(ScanError::Runaway(e.to_string()).into()),
                    };
                    let whole = caps.get(0).map_or(pos..pos, |m| m.range());
                    let (key, value) = groups(
                        text,
                        |i| caps.get(i).map(|m| (m.start(), m.end())),
                        caps.len(),
                    );
                    pair(key, value)?;
                    if deadline.is_some_and(|d| Instant::now() > d) {
                        return Err(ScanError::Timeout.into());
                    }
                    pos = next_start(text, whole.start, whole.end);
                }
                Ok(())
            }
        }
    }
}

/// Group 1 is the key; the value is the first other group that took part (Ruby's
/// `value_candidates.compact.first`).
fn groups(
    text: &str,
    get: impl Fn(usize) -> Option<(usize, usize)>,
    len: usize,
) -> (&str, Option<&str>) {
    let key = get(1).map_or("", |(s, e)| &text[s..e]);
    let value = (2..len).find_map(|i| get(i).map(|(s, e)| &text[s..e]));
    (key, value)
}

/// Where the scan continues after a match (one character further after an empty one).
fn next_start(text: &str, start: usize, end: usize) -> usize {
    if end > start {
        return end;
    }
    end + text[end..].chars().next().map_or(1, char::len_utf8)
}

/// The scan regex as a byte scanner, for separators made of ASCII characters.
#[derive(Debug)]
pub struct ByteScanner {
    value: [bool; 256],
    field: [bool; 256],
    /// What ends a key: value or field separators.
    key_stop: Stop,
    /// What ends an unquoted value: field separators.
    value_stop: Stop,
    lenient: bool,
    brackets: bool,
}

/// A byte set with a `memchr` fast path for one to three bytes.
#[derive(Debug)]
struct Stop {
    table: [bool; 256],
    few: Vec<u8>,
}

impl Stop {
    fn new(table: [bool; 256]) -> Stop {
        let few: Vec<u8> = (0..=255u8).filter(|&b| table[usize::from(b)]).collect();
        Stop { table, few }
    }

    /// The first member at or after `from`, or `hay.len()`.
    fn find(&self, hay: &[u8], from: usize) -> usize {
        let rest = &hay[from..];
        let found = match *self.few.as_slice() {
            [] => None,
            [a] => memchr::memchr(a, rest),
            [a, b] => memchr::memchr2(a, b, rest),
            [a, b, c] => memchr::memchr3(a, b, c, rest),
            _ => rest.iter().position(|&b| self.table[usize::from(b)]),
        };
        found.map_or(hay.len(), |i| from + i)
    }
}

impl ByteScanner {
    /// `None` unless both separators are sets of ASCII characters and Logstash's key class
    /// (the two bodies written one after the other) is exactly their union.
    fn new(o: &ScanOptions) -> Option<ByteScanner> {
        let widen = |t: &[bool; 128]| {
            let mut wide = [false; 256];
            wide[..128].copy_from_slice(t);
            wide
        };
        let value = widen(o.value_split.ascii()?);
        let field = widen(o.field_split.ascii()?);
        let both = format!("{}{}", o.value_split.body(), o.field_split.body());
        let joined = CharClass::new(&both).ok()?;
        let joined = widen(joined.ascii()?);
        let union: Vec<bool> = (0..256).map(|b| value[b] || field[b]).collect();
        if joined[..] != union[..] {
            return None;
        }
        Some(ByteScanner {
            value,
            field,
            key_stop: Stop::new(joined),
            value_stop: Stop::new(field),
            lenient: o.lenient,
            brackets: o.brackets,
        })
    }

    /// The pairs of a text without backslashes; see the module docs for the regex it mirrors.
    fn scan<'s, E>(
        &self,
        text: &'s str,
        pair: &mut impl FnMut(&'s str, Option<&'s str>) -> Result<(), E>,
    ) -> Result<(), E> {
        let b = text.as_bytes();
        let n = b.len();
        let mut p = 0;
        while p < n {
            // KEY: the longest run of bytes that separate nothing. Separators are ASCII, so
            // every position found here is a character boundary.
            let k = self.key_stop.find(b, p);
            if k == p {
                p += 1;
                continue;
            }
            let Some(v) = self.after_value_split(b, k) else {
                p = k;
                continue;
            };
            let (value, next) = self.value(b, v);
            pair(&text[p..k], value.map(|r| &text[r]))?;
            p = next;
        }
        Ok(())
    }

    /// Where the value starts when a value separator follows the key ending at `k`.
    fn after_value_split(&self, b: &[u8], k: usize) -> Option<usize> {
        let n = b.len();
        let mut s = k;
        if self.lenient {
            while s < n && b[s] == b' ' {
                s += 1;
            }
        }
        let mut v = if s < n && self.value[usize::from(b[s])] {
            s + 1
        } else if self.lenient && s > k && self.value[usize::from(b' ')] {
            // ` *[V] *` with a space in V: the last space is the separator.
            s
        } else {
            return None;
        };
        if self.lenient {
            while v < n && b[v] == b' ' {
                v += 1;
            }
        }
        Some(v)
    }

    /// The value starting at `v` (`None` when absent or empty-quoted) and where scanning goes on.
    fn value(&self, b: &[u8], v: usize) -> (Option<std::ops::Range<usize>>, usize) {
        if let Some(close) = b.get(v).and_then(|&c| self.closing(c)) {
            if let Some(q) = memchr::memchr(close, &b[v + 1..]).map(|i| v + 1 + i) {
                if let Some(next) = self.end(b, q + 1) {
                    return ((q > v + 1).then_some(v + 1..q), next);
                }
            }
        }
        let e = self.value_stop.find(b, v);
        let next = if e < b.len() { e + 1 } else { e };
        ((e > v).then_some(v..e), next)
    }

    /// The closing quote of a value opening with `c`.
    fn closing(&self, c: u8) -> Option<u8> {
        match c {
            b'"' | b'\'' => Some(c),
            b'(' if self.brackets => Some(b')'),
            b'[' if self.brackets => Some(b']'),
            b'<' if self.brackets => Some(b'>'),
            _ => None,
        }
    }

    /// `(?:[F]|$)` at `at`: where scanning continues, or `None` when neither matches.
    fn end(&self, b: &[u8], at: usize) -> Option<usize> {
        match b.get(at) {
            None => Some(at),
            Some(&c) if self.field[usize::from(c)] => Some(at + 1),
            Some(b'\n') => Some(at),
            Some(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    use super::*;

    fn scanner(field: &str, value: &str, lenient: bool, brackets: bool) -> Scanner {
        let field = CharClass::new(field).unwrap();
        let value = CharClass::new(value).unwrap();
        Scanner::new(&ScanOptions {
            field_split: &field,
            value_split: &value,
            field_split_pattern: None,
            value_split_pattern: None,
            lenient,
            brackets,
        })
        .unwrap()
    }

    type Pairs = Vec<(String, Option<String>)>;

    fn collect(scanner: &Scanner, text: &str, force_regex: bool) -> Pairs {
        let mut out = Vec::new();
        let mut push = |k: &str, v: Option<&str>| -> Result<(), ScanError> {
            out.push((k.to_string(), v.map(str::to_string)));
            Ok(())
        };
        match scanner {
            Scanner::Classes { regex, fast, .. } if force_regex => {
                let plain = Scanner::Classes {
                    regex: regex.clone(),
                    value_split: regex.clone(),
                    fast: None,
                };
                let _ = fast;
                plain.scan(text, None, push).unwrap();
            }
            _ => scanner.scan(text, None, &mut push).unwrap(),
        }
        out
    }

    #[test]
    fn byte_scanner_is_used_for_ascii_separators() {
        assert!(matches!(
            scanner(" ", "=", true, true),
            Scanner::Classes { fast: Some(_), .. }
        ));
        assert!(matches!(
            scanner(r"\s", "=", true, true),
            Scanner::Classes { fast: None, .. }
        ));
        // Logstash's key class is the two bodies joined: "a-" then "z" reads as a range.
        assert!(matches!(
            scanner("z", "a-", true, true),
            Scanner::Classes { fast: None, .. }
        ));
    }

    #[test]
    fn byte_scanner_agrees_with_the_regex_on_random_texts() {
        const ALPHABET: &[&str] = &[
            "a", "b", "k", "=", "=", " ", " ", "\"", "'", "(", ")", "[", "]", "<", ">", "\n", "&",
            ":", "é", "\t",
        ];
        let mut rng = StdRng::seed_from_u64(7);
        let configs = [
            (" ", "=", true, true),
            (" ", "=", false, true),
            (" ", "=", true, false),
            ("&", "=", true, true),
            ("&", "=", false, false),
            ("& ", "=:", true, true),
            (r"\n", " ", true, true),
            ("&", " ", true, true),
            (" ", " =", true, true),
        ];
        for (field, value, lenient, brackets) in configs {
            let s = scanner(field, value, lenient, brackets);
            assert!(matches!(s, Scanner::Classes { fast: Some(_), .. }));
            for _ in 0..4000 {
                let len = rng.gen_range(0..24);
                let text: String = (0..len)
                    .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())])
                    .collect();
                assert_eq!(
                    collect(&s, &text, false),
                    collect(&s, &text, true),
                    "{text:?} with field {field:?} value {value:?} lenient {lenient}"
                );
            }
        }
    }
}
