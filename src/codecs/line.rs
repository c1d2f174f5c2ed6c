//! The `line` codec: one event per delimited line (`delimiter`, default `"\n"`).
//!
//! As in Logstash (whose tokenizer splits on the delimiter and nothing else), a `"\r"` before
//! the `"\n"` is kept in the message, an empty line is an event with an empty message, and a
//! last line without delimiter is emitted at end of stream. Encoding writes `format` (sprintf)
//! or Logstash's `Event#to_s` (`@timestamp host message`), then the delimiter.
//!
//! [`Splitter`] does the cutting for `line` and `json_lines`: lines are slices of the chunk
//! they were read in; only a line spanning two chunks is copied.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use memchr::memmem;

use crate::config::{Diagnostics, PluginArgs};
use crate::event::sprintf::Template;
use crate::event::{Event, Timestamp};

use super::{write_event_summary, write_template, Charset, Codec, Decoder};

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    #[serde(default)]
    format: Option<String>,
    #[serde(default = "default_delimiter")]
    delimiter: String,
    #[serde(default)]
    charset: Charset,
}

fn default_delimiter() -> String {
    "\n".to_string()
}

pub fn build(args: &PluginArgs) -> Result<Arc<dyn Codec>, Diagnostics> {
    let options: Options = args.options()?;
    if options.delimiter.is_empty() {
        return Err(args.error("delimiter", "line: delimiter must not be empty"));
    }
    let format = match options.format.as_deref().map(Template::parse) {
        Some(Ok(t)) => Some(t),
        Some(Err(e)) => return Err(args.error("format", format!("line: format: {e}"))),
        None => None,
    };
    Ok(Arc::new(Line {
        format,
        delimiter: Bytes::from(options.delimiter.into_bytes()),
        charset: options.charset,
    }))
}

/// The `line` codec.
pub struct Line {
    format: Option<Template>,
    delimiter: Bytes,
    charset: Charset,
}

impl Line {
    /// A `line` codec with the given delimiter (not empty) and no `format`.
    pub fn new(delimiter: &str) -> Line {
        let delimiter = if delimiter.is_empty() {
            "\n"
        } else {
            delimiter
        };
        Line {
            format: None,
            delimiter: Bytes::copy_from_slice(delimiter.as_bytes()),
            charset: Charset::Utf8,
        }
    }
}

impl Codec for Line {
    fn decoder(&self) -> Box<dyn Decoder> {
        Box::new(LineDecoder {
            splitter: Splitter::new(self.delimiter.clone()),
            charset: self.charset,
        })
    }

    fn encode(&self, event: &Event, buf: &mut Vec<u8>) {
        match &self.format {
            Some(format) => write_template(format, event, buf),
            None => write_event_summary(event, buf),
        }
        buf.extend_from_slice(&self.delimiter);
    }
}

struct LineDecoder {
    splitter: Splitter,
    charset: Charset,
}

impl Decoder for LineDecoder {
    fn decode(&mut self, chunk: Bytes, now: Timestamp, out: &mut Vec<Event>) {
        let charset = self.charset;
        self.splitter.split(chunk, |line| {
            out.push(Event::from_message(charset.text(line), now));
        });
    }

    fn decode_line(&mut self, line: Bytes, now: Timestamp, out: &mut Vec<Event>) {
        out.push(Event::from_message(self.charset.text(line), now));
    }

    fn flush(&mut self, now: Timestamp, out: &mut Vec<Event>) {
        if let Some(line) = self.splitter.finish() {
            out.push(Event::from_message(self.charset.text(line), now));
        }
    }
}

/// Cuts a stream of chunks into lines ending in a delimiter (which is not part of the line).
pub struct Splitter {
    delimiter: Bytes,
    /// Set for delimiters longer than one byte (one byte uses `memchr`).
    finder: Option<memmem::Finder<'static>>,
    /// The start of a line whose end has not been read yet.
    partial: BytesMut,
}

impl Splitter {
    /// `delimiter` must not be empty.
    pub fn new(delimiter: Bytes) -> Splitter {
        let finder =
            (delimiter.len() > 1).then(|| memmem::Finder::new(&delimiter[..]).into_owned());
        Splitter {
            delimiter,
            finder,
            partial: BytesMut::new(),
        }
    }

    /// The delimiter's length in bytes.
    pub fn delimiter_len(&self) -> usize {
        self.delimiter.len()
    }

    /// Bytes buffered for a line whose delimiter has not been read yet.
    pub fn pending(&self) -> usize {
        self.partial.len()
    }

    /// Forgets the buffered partial line.
    pub fn clear(&mut self) {
        self.partial.clear();
    }

    fn find(&self, haystack: &[u8]) -> Option<usize> {
        match &self.finder {
            Some(finder) => finder.find(haystack),
            None => memchr::memchr(self.delimiter[0], haystack),
        }
    }

    /// Calls `emit` with every line `chunk` completes, in order; keeps the unfinished rest.
    pub fn split(&mut self, chunk: Bytes, mut emit: impl FnMut(Bytes)) {
        let mut start = 0;
        if !self.partial.is_empty() {
            match self.complete_partial(&chunk) {
                Some((line, rest)) => {
                    emit(line);
                    start = rest;
                }
                None => return,
            }
        }
        let step = self.delimiter.len();
        while let Some(i) = self.find(&chunk[start..]) {
            emit(chunk.slice(start..start + i));
            start += i + step;
        }
        if start < chunk.len() {
            self.partial.extend_from_slice(&chunk[start..]);
        }
    }

    /// Ends the buffered line with the head of `chunk`: the line and where the rest of the
    /// chunk starts, or `None` when the chunk holds no delimiter (it is then buffered too).
    fn complete_partial(&mut self, chunk: &[u8]) -> Option<(Bytes, usize)> {
        let step = self.delimiter.len();
        if let Some(at) = self.delimiter_across(chunk) {
            let rest = step - (self.partial.len() - at);
            self.partial.truncate(at);
            return Some((self.partial.split().freeze(), rest));
        }
        match self.find(chunk) {
            Some(i) => {
                self.partial.extend_from_slice(&chunk[..i]);
                Some((self.partial.split().freeze(), i + step))
            }
            None => {
                self.partial.extend_from_slice(chunk);
                None
            }
        }
    }

    /// Where in the buffered bytes a delimiter starts that ends in `chunk`, the first such:
    /// a delimiter longer than one byte may be split between two reads.
    fn delimiter_across(&self, chunk: &[u8]) -> Option<usize> {
        let len = self.partial.len();
        let kept = (self.delimiter.len() - 1).min(len);
        (len - kept..len).find(|&at| {
            let (head, tail) = self.delimiter.split_at(len - at);
            self.partial[at..] == *head && chunk.starts_with(tail)
        })
    }

    /// Cuts the first `max` bytes off the buffered line once it has grown longer than `max`
    /// (for readers that bound line length; a line of exactly `max` bytes stays whole).
    pub fn take_overlong(&mut self, max: usize) -> Option<Bytes> {
        (self.partial.len() > max).then(|| self.partial.split_to(max).freeze())
    }

    /// At end of stream: the last line, if it did not end in a delimiter.
    pub fn finish(&mut self) -> Option<Bytes> {
        (!self.partial.is_empty()).then(|| self.partial.split().freeze())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split_all(delimiter: &str, chunks: &[&str]) -> Vec<String> {
        let mut splitter = Splitter::new(Bytes::copy_from_slice(delimiter.as_bytes()));
        let mut lines = Vec::new();
        for chunk in chunks {
            splitter.split(Bytes::copy_from_slice(chunk.as_bytes()), |l| {
                lines.push(String::from_utf8(l.to_vec()).unwrap())
            });
        }
        lines.extend(
            splitter
                .finish()
                .map(|l| String::from_utf8(l.to_vec()).unwrap()),
        );
        lines
    }

    #[test]
    fn lines_spanning_chunks_are_joined() {
        assert_eq!(
            split_all("\n", &["ab", "c\nd", "e\n\nf"]),
            ["abc", "de", "", "f"]
        );
    }

    #[test]
    fn multi_byte_delimiter_split_across_chunks() {
        assert_eq!(split_all("\r\n", &["a\r", "\nb\r\nc"]), ["a", "b", "c"]);
        assert_eq!(split_all("END", &["aE", "N", "Db"]), ["a", "b"]);
        assert_eq!(split_all("::", &["a:", "b::c"]), ["a:b", "c"]);
        assert_eq!(split_all("aa", &["xa", "ay"]), ["x", "y"]);
        // The first delimiter wins where two could start in the buffered bytes.
        assert_eq!(split_all("aaa", &["xaa", "aa"]), ["x", "a"]);
        // A partial delimiter that the next chunk does not finish stays in the line.
        assert_eq!(split_all("END", &["aEN", "xEND"]), ["aENx"]);
    }

    #[test]
    fn overlong_partial_lines_are_cut_at_the_maximum() {
        let mut splitter = Splitter::new(Bytes::from_static(b"\n"));
        splitter.split(Bytes::from_static(b"abcdefghij"), |_| unreachable!());
        assert_eq!(
            splitter.take_overlong(10),
            None,
            "exactly the maximum stays whole"
        );
        assert_eq!(splitter.take_overlong(4), Some(Bytes::from_static(b"abcd")));
        assert_eq!(splitter.pending(), 6);
        splitter.clear();
        assert_eq!(splitter.finish(), None);
    }

    #[test]
    fn lines_within_a_chunk_share_its_buffer() {
        let chunk = Bytes::from_static(b"first line\nsecond\n");
        let mut splitter = Splitter::new(Bytes::from_static(b"\n"));
        let mut ptrs = Vec::new();
        splitter.split(chunk.clone(), |l| ptrs.push(l.as_ptr() as usize));
        assert_eq!(
            ptrs,
            [chunk.as_ptr() as usize, chunk.as_ptr() as usize + 11]
        );
    }
}
