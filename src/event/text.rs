//! [`Text`]: the immutable UTF-8 string every field name and string value is made of.
//!
//! Short strings (the usual grok capture: an IP, a status code, a verb) live inline, so creating
//! one costs no heap allocation. Longer ones share a slice of a reference-counted buffer
//! ([`bytes::Bytes`]), so a field cut out of the raw line points into the line's buffer instead of
//! copying it.

use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;

use bytes::Bytes;

/// Strings up to this many bytes are stored inline.
pub const INLINE_CAP: usize = 30;

/// An immutable, cheaply clonable UTF-8 string.
#[derive(Clone)]
pub struct Text(Repr);

#[derive(Clone)]
enum Repr {
    Static(&'static str),
    Inline {
        len: u8,
        buf: [u8; INLINE_CAP],
    },
    /// Invariant: the bytes are valid UTF-8.
    Shared(Bytes),
}

impl Text {
    /// The empty string.
    pub const EMPTY: Text = Text(Repr::Static(""));

    /// A string that lives for the whole program (field names known at compile time).
    pub const fn from_static(s: &'static str) -> Text {
        Text(Repr::Static(s))
    }

    /// Copies `s`: inline when short, otherwise into a new shared buffer.
    pub fn new(s: &str) -> Text {
        match Self::inline(s) {
            Some(t) => t,
            None => Text(Repr::Shared(Bytes::copy_from_slice(s.as_bytes()))),
        }
    }

    /// Takes ownership of `s` without copying it when it is too long to store inline.
    pub fn from_string(s: String) -> Text {
        match Self::inline(&s) {
            Some(t) => t,
            None => Text(Repr::Shared(Bytes::from(s))),
        }
    }

    /// Wraps a shared buffer, checking that it is UTF-8.
    pub fn from_utf8(bytes: Bytes) -> Result<Text, std::str::Utf8Error> {
        std::str::from_utf8(&bytes)?;
        Ok(Self::from_utf8_unchecked_bytes(bytes))
    }

    fn from_utf8_unchecked_bytes(bytes: Bytes) -> Text {
        if bytes.len() <= INLINE_CAP {
            // SAFETY: validated by every caller.
            let s = unsafe { std::str::from_utf8_unchecked(&bytes) };
            if let Some(t) = Self::inline(s) {
                return t;
            }
        }
        Text(Repr::Shared(bytes))
    }

    fn inline(s: &str) -> Option<Text> {
        if s.len() > INLINE_CAP {
            return None;
        }
        let mut buf = [0u8; INLINE_CAP];
        buf[..s.len()].copy_from_slice(s.as_bytes());
        Some(Text(Repr::Inline {
            len: s.len() as u8,
            buf,
        }))
    }

    /// A `Text` for `part`, which must be a substring of `self` (e.g. a regex capture taken from
    /// this string). Shares `self`'s buffer instead of copying when `part` is long.
    pub fn substr(&self, part: &str) -> Text {
        match &self.0 {
            Repr::Shared(bytes) if part.len() > INLINE_CAP => {
                let base = bytes.as_ptr() as usize;
                let start = part.as_ptr() as usize;
                if start >= base && start + part.len() <= base + bytes.len() {
                    let offset = start - base;
                    return Text(Repr::Shared(bytes.slice(offset..offset + part.len())));
                }
                Text::new(part)
            }
            _ => Text::new(part),
        }
    }

    /// The string.
    #[inline]
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Static(s) => s,
            // SAFETY: `buf[..len]` was copied from a `&str`.
            Repr::Inline { len, buf } => unsafe {
                std::str::from_utf8_unchecked(&buf[..*len as usize])
            },
            // SAFETY: invariant of `Repr::Shared`.
            Repr::Shared(b) => unsafe { std::str::from_utf8_unchecked(b) },
        }
    }
}

impl Default for Text {
    fn default() -> Self {
        Text::EMPTY
    }
}

impl Deref for Text {
    type Target = str;
    #[inline]
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Text {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for Text {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq for Text {
    fn eq(&self, other: &Text) -> bool {
        self.as_str() == other.as_str()
    }
}
impl Eq for Text {}

impl PartialEq<str> for Text {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}
impl PartialEq<&str> for Text {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialOrd for Text {
    fn partial_cmp(&self, other: &Text) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Text {
    fn cmp(&self, other: &Text) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl Hash for Text {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state)
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Text {
        Text::new(s)
    }
}

impl From<String> for Text {
    fn from(s: String) -> Text {
        Text::from_string(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_strings_are_inline_and_long_ones_shared() {
        assert!(matches!(Text::new("200").0, Repr::Inline { .. }));
        let long = "x".repeat(INLINE_CAP + 1);
        assert!(matches!(Text::new(&long).0, Repr::Shared(_)));
        assert_eq!(Text::new(&long).as_str(), long);
    }

    #[test]
    fn substr_shares_the_parent_buffer() {
        let line =
            Text::from_utf8(Bytes::from(format!("GET {} HTTP/1.1", "a".repeat(40)))).unwrap();
        let path = &line.as_str()[4..44];
        let part = line.substr(path);
        assert_eq!(part.as_str(), path);
        match (&line.0, &part.0) {
            (Repr::Shared(a), Repr::Shared(b)) => {
                assert_eq!(b.as_ptr() as usize, a.as_ptr() as usize + 4)
            }
            _ => panic!("expected shared buffers"),
        }
    }
}
