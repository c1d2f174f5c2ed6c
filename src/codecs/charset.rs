//! [`Charset`]: the `charset` option of the text codecs, and how input bytes become a
//! [`Text`] (Logstash's `LogStash::Util::Charset#convert`).
//!
//! - UTF-8 (the default): valid input is kept as it is, sharing the read buffer. Invalid input
//!   is not replaced with U+FFFD: Logstash writes it the way Ruby's `String#inspect` does
//!   without the quotes (`a\xFFb`, and `"` becomes `\"`), so the bytes stay recoverable.
//! - ISO-8859-1, Windows-1252 and US-ASCII are converted to UTF-8; bytes they do not define
//!   become U+FFFD, as Ruby's `encode(..., invalid: :replace, undef: :replace)` does.

use bytes::Bytes;

use crate::event::Text;

/// A character set input bytes are read in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(try_from = "String")]
pub enum Charset {
    #[default]
    Utf8,
    Latin1,
    Windows1252,
    Ascii,
}

impl TryFrom<String> for Charset {
    type Error = String;

    fn try_from(name: String) -> Result<Charset, String> {
        match name.to_ascii_uppercase().as_str() {
            "UTF-8" | "CP65001" => Ok(Charset::Utf8),
            "ISO-8859-1" | "ISO8859-1" => Ok(Charset::Latin1),
            "WINDOWS-1252" | "CP1252" => Ok(Charset::Windows1252),
            "US-ASCII" | "ASCII" | "ANSI_X3.4-1968" | "646" => Ok(Charset::Ascii),
            _ => Err(format!(
                "unsupported charset \"{name}\" (supported: UTF-8, ISO-8859-1, Windows-1252, \
                 US-ASCII)"
            )),
        }
    }
}

impl Charset {
    /// The text of `bytes` in this charset; shares `bytes` when no conversion is needed.
    pub fn text(self, bytes: Bytes) -> Text {
        // Cloning a `Bytes` is a reference-count increment; it spares validating twice.
        if let Ok(text) = Text::from_utf8(bytes.clone()) {
            if self == Charset::Utf8 || bytes.is_ascii() {
                return text;
            }
        }
        match self {
            Charset::Utf8 => escaped(&bytes),
            other => Text::from_string(bytes.iter().map(|&b| other.char_of(b)).collect()),
        }
    }

    fn char_of(self, byte: u8) -> char {
        match (self, byte) {
            (_, 0..=0x7f) => byte as char,
            (Charset::Latin1, _) => byte as char,
            (Charset::Windows1252, 0x80..=0x9f) => WINDOWS_1252_HIGH[(byte - 0x80) as usize],
            (Charset::Windows1252, _) => byte as char,
            (Charset::Ascii | Charset::Utf8, _) => char::REPLACEMENT_CHARACTER,
        }
    }
}

/// Invalid UTF-8 as Logstash keeps it: Ruby's `inspect` without the surrounding quotes.
fn escaped(bytes: &[u8]) -> Text {
    let mut out = Vec::with_capacity(bytes.len() + 16);
    super::rubydebug::write_inspected(bytes, &mut out);
    // `write_inspected` copies only valid UTF-8 and writes ASCII escapes.
    String::from_utf8(out)
        .map(Text::from_string)
        .unwrap_or_default()
}

/// Windows-1252's 0x80..=0x9F; the five undefined bytes map to U+FFFD.
const WINDOWS_1252_HIGH: [char; 32] = [
    '\u{20AC}', '\u{FFFD}', '\u{201A}', '\u{0192}', '\u{201E}', '\u{2026}', '\u{2020}', '\u{2021}',
    '\u{02C6}', '\u{2030}', '\u{0160}', '\u{2039}', '\u{0152}', '\u{FFFD}', '\u{017D}', '\u{FFFD}',
    '\u{FFFD}', '\u{2018}', '\u{2019}', '\u{201C}', '\u{201D}', '\u{2022}', '\u{2013}', '\u{2014}',
    '\u{02DC}', '\u{2122}', '\u{0161}', '\u{203A}', '\u{0153}', '\u{FFFD}', '\u{017E}', '\u{0178}',
];

#[cfg(test)]
mod tests {
    use super::*;

    fn text(charset: Charset, bytes: &'static [u8]) -> String {
        charset.text(Bytes::from_static(bytes)).to_string()
    }

    #[test]
    fn utf8_invalid_bytes_are_escaped_like_ruby_inspect() {
        assert_eq!(text(Charset::Utf8, b"caf\xc3\xa9"), "café");
        assert_eq!(text(Charset::Utf8, b"a\xffb \"q\""), "a\\xFFb \\\"q\\\"");
    }

    #[test]
    fn single_byte_charsets_convert() {
        assert_eq!(text(Charset::Latin1, b"caf\xe9"), "café");
        assert_eq!(text(Charset::Windows1252, b"\x80 \x81"), "€ \u{FFFD}");
        assert_eq!(text(Charset::Ascii, b"a\xe9"), "a\u{FFFD}");
    }

    #[test]
    fn names_are_case_insensitive_and_unknown_ones_rejected() {
        assert_eq!(Charset::try_from("utf-8".to_string()), Ok(Charset::Utf8));
        assert_eq!(
            Charset::try_from("cp1252".to_string()),
            Ok(Charset::Windows1252)
        );
        assert!(Charset::try_from("EBCDIC".to_string())
            .unwrap_err()
            .contains("unsupported charset"));
    }
}
