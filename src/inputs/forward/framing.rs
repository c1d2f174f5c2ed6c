//! Cutting a connection's byte stream into frames ([`Framer`]).
//!
//! The first byte decides the connection's encoding, as fluentd's `in_forward` does: `{` or
//! `[` means JSON, anything else msgpack. Frames are cut off the front of the read buffer as
//! [`Bytes`] sharing its allocation, so the events read from them can share it too. Both
//! scanners resume where they stopped, so a frame arriving in many reads is scanned once.

use bytes::{Bytes, BytesMut};

use super::msgpack::{MsgpackError, Scan, Scanner};

/// The most the buffer grows ahead of data a frame declares but has not sent yet.
const MAX_RESERVE: usize = 1024 * 1024;

/// How deep JSON frames may nest (serde_json refuses deeper ones anyway).
const JSON_MAX_DEPTH: u32 = 128;

#[derive(Debug, thiserror::Error)]
pub enum FramingError {
    #[error(transparent)]
    Msgpack(#[from] MsgpackError),
    #[error("a JSON frame longer than max_message_size ({0} bytes)")]
    JsonTooLarge(usize),
    #[error("JSON nests deeper than {JSON_MAX_DEPTH} levels")]
    JsonTooDeep,
    #[error("a JSON frame must start with [ or {{; got byte 0x{0:02x}")]
    JsonStart(u8),
    #[error("the connection closed inside a frame ({0} bytes unread)")]
    Truncated(usize),
}

/// A complete frame.
#[derive(Debug)]
pub enum Frame {
    Msgpack(Bytes),
    /// Raw JSON text (UTF-8 not yet checked).
    Json(Bytes),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Msgpack,
    Json,
}

/// A connection's read buffer and the scan of its next frame.
pub struct Framer {
    pub buf: BytesMut,
    mode: Option<Mode>,
    msgpack: Scanner,
    json: JsonScanner,
    max: usize,
}

impl Framer {
    pub fn new(capacity: usize, max: usize) -> Framer {
        Framer {
            buf: BytesMut::with_capacity(capacity),
            mode: None,
            msgpack: Scanner::default(),
            json: JsonScanner::default(),
            max,
        }
    }

    /// The connection's encoding, once its first byte has come.
    pub fn mode(&self) -> Option<Mode> {
        self.mode
    }

    /// The next complete frame in the buffer, if there is one. When there is not, the buffer
    /// is grown towards what the incomplete frame still needs.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, FramingError> {
        let Some(&first) = self.buf.first() else {
            return Ok(None);
        };
        let mode = *self.mode.get_or_insert(if first == b'{' || first == b'[' {
            Mode::Json
        } else {
            Mode::Msgpack
        });
        let scan = match mode {
            Mode::Msgpack => self.msgpack.scan(&self.buf, self.max)?,
            Mode::Json => self.json.scan(&self.buf, self.max)?,
        };
        match scan {
            Scan::Complete(n) => {
                self.msgpack.reset();
                self.json = JsonScanner::default();
                let frame = self.buf.split_to(n).freeze();
                Ok(Some(match mode {
                    Mode::Msgpack => Frame::Msgpack(frame),
                    Mode::Json => Frame::Json(frame),
                }))
            }
            Scan::Incomplete { need } => {
                // Room for what the frame declares, but not all at once: a header alone must
                // not make us allocate max_message_size. The buffer grows as data comes.
                self.buf.reserve(need.min(MAX_RESERVE));
                Ok(None)
            }
        }
    }

    /// At the end of the stream: an error if part of a frame is left (whitespace between JSON
    /// frames is not a frame).
    pub fn finish(&self) -> Result<(), FramingError> {
        let left = match self.mode {
            Some(Mode::Json) => self.buf.iter().filter(|b| !b.is_ascii_whitespace()).count(),
            _ => self.buf.len(),
        };
        if left > 0 {
            return Err(FramingError::Truncated(self.buf.len()));
        }
        Ok(())
    }
}

/// Finds the end of one JSON array or object by counting brackets outside strings; the parser
/// checks the rest.
#[derive(Debug, Default)]
struct JsonScanner {
    pos: usize,
    depth: u32,
    in_string: bool,
    escaped: bool,
}

impl JsonScanner {
    fn scan(&mut self, buf: &[u8], max: usize) -> Result<Scan, FramingError> {
        while self.pos < buf.len() {
            if self.pos >= max {
                return Err(FramingError::JsonTooLarge(max));
            }
            let b = buf[self.pos];
            self.pos += 1;
            if self.in_string {
                if self.escaped {
                    self.escaped = false;
                } else if b == b'\\' {
                    self.escaped = true;
                } else if b == b'"' {
                    self.in_string = false;
                }
                continue;
            }
            match b {
                b'"' if self.depth > 0 => self.in_string = true,
                b'[' | b'{' => {
                    self.depth += 1;
                    if self.depth > JSON_MAX_DEPTH {
                        return Err(FramingError::JsonTooDeep);
                    }
                }
                b']' | b'}' if self.depth > 0 => {
                    self.depth -= 1;
                    if self.depth == 0 {
                        return Ok(Scan::Complete(self.pos));
                    }
                }
                b if self.depth == 0 && !b.is_ascii_whitespace() => {
                    return Err(FramingError::JsonStart(b))
                }
                _ => {}
            }
        }
        Ok(Scan::Incomplete { need: 1 })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(input: &[&[u8]]) -> Result<Vec<Frame>, FramingError> {
        let mut framer = Framer::new(16, 1 << 20);
        let mut out = Vec::new();
        for chunk in input {
            framer.buf.extend_from_slice(chunk);
            while let Some(frame) = framer.next_frame()? {
                out.push(frame);
            }
        }
        framer.finish()?;
        Ok(out)
    }

    #[test]
    fn json_frames_across_reads() {
        let out = frames(&[b"[\"t\", 1, {\"a\": \"]\\\"[\"}]\n  [\"u\"", b", 2, {}]\n"]).unwrap();
        assert_eq!(out.len(), 2);
        let Frame::Json(second) = &out[1] else {
            panic!()
        };
        assert_eq!(&second[..], b"\n  [\"u\", 2, {}]");
    }

    #[test]
    fn msgpack_frames_and_truncation() {
        let out = frames(&[b"\x92\xa1t\x90\x92", b"\xa1u\x90"]).unwrap();
        assert_eq!(out.len(), 2);
        assert!(matches!(
            frames(&[b"\x92\xa1t"]),
            Err(FramingError::Truncated(3))
        ));
        assert!(matches!(
            frames(&[b"[1] x"]),
            Err(FramingError::JsonStart(b'x'))
        ));
    }
}
