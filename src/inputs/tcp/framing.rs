//! [`Framer`]: cutting a TCP byte stream into frames with bounded memory.
//!
//! Frames are LF-delimited, or - with [`FramerOptions::octet_counting`], detected per frame as
//! rsyslog's receiver does - octet-counted (`LEN SP MSG`, RFC 6587 3.4.1) when the frame
//! starts with digits followed by a space. A frame is a slice of the chunk it was read in;
//! only a frame spanning two reads is copied.
//!
//! A frame longer than `max_size` never costs more than `max_size` bytes: it is cut to its
//! first `max_size` bytes ([`Oversize::Truncate`], rsyslog's behaviour) or dropped
//! ([`Oversize::Drop`]); either way [`Framer::push`] reports it. A stream that ends mid-frame
//! gives the partial frame at [`Framer::finish`].

use bytes::{Bytes, BytesMut};

/// The most digits an octet count may have (a count beyond `max_size` truncates anyway).
const MAX_COUNT_DIGITS: usize = 10;

/// What to do with a frame longer than the limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Oversize {
    /// Keep its first `max_size` bytes.
    Truncate,
    /// Drop it.
    Drop,
}

/// How a [`Framer`] cuts.
#[derive(Clone, Copy, Debug)]
pub struct FramerOptions {
    /// Accept `LEN SP MSG` frames as well as LF-delimited ones.
    pub octet_counting: bool,
    /// Drop a trailing CR and NUL from LF-delimited frames, and skip empty frames (syslog).
    /// Without it a frame is the bytes before the LF, as Logstash's `line` codec cuts them.
    pub syslog_trim: bool,
    pub max_size: usize,
    pub oversize: Oversize,
}

/// Where the framer is in the stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Between frames.
    Idle,
    /// Reading the digits of what may be an octet count; `value` so far.
    Count { value: u64, digits: usize },
    /// Reading an octet-counted body: `remaining` bytes are still due.
    Octets { remaining: u64 },
    /// Reading an LF-delimited frame.
    Line,
}

/// A stream cutter; one per connection.
#[derive(Debug)]
pub struct Framer {
    options: FramerOptions,
    state: State,
    /// The bytes of the open frame that arrived in earlier chunks (at most `max_size`).
    partial: BytesMut,
    /// How many bytes of the open frame arrived in earlier chunks (`partial` stops growing at
    /// the limit, this does not).
    seen: u64,
}

impl Framer {
    pub fn new(options: FramerOptions) -> Framer {
        Framer {
            options,
            state: State::Idle,
            partial: BytesMut::new(),
            seen: 0,
        }
    }

    /// Calls `emit` with every frame `chunk` completes, in order; returns how many of them
    /// were over the limit.
    pub fn push(&mut self, chunk: Bytes, emit: &mut impl FnMut(Bytes)) -> u64 {
        let mut oversized = 0;
        let mut pos = 0;
        // Where the open frame's bytes in this chunk begin (0: it began in an earlier chunk).
        let mut seg = 0;
        while pos < chunk.len() {
            match self.state {
                State::Idle => {
                    if self.options.syslog_trim && matches!(chunk[pos], b'\n' | b'\r' | b'\0') {
                        pos += 1;
                        continue;
                    }
                    seg = pos;
                    self.state = if self.options.octet_counting && chunk[pos].is_ascii_digit() {
                        State::Count {
                            value: 0,
                            digits: 0,
                        }
                    } else {
                        State::Line
                    };
                }
                State::Count { value, digits } => {
                    pos = self.count(&chunk, pos, value, digits);
                    if matches!(self.state, State::Octets { .. }) {
                        seg = pos;
                    }
                }
                State::Octets { remaining } => {
                    let take = remaining.min((chunk.len() - pos) as u64);
                    pos += take as usize;
                    if take == remaining {
                        oversized += self.end_frame(&chunk, seg, pos, false, emit);
                    } else {
                        self.state = State::Octets {
                            remaining: remaining - take,
                        };
                    }
                }
                State::Line => match memchr::memchr(b'\n', &chunk[pos..]) {
                    Some(i) => {
                        let end = pos + i;
                        oversized += self.end_frame(&chunk, seg, end, true, emit);
                        pos = end + 1;
                    }
                    None => pos = chunk.len(),
                },
            }
        }
        if self.state != State::Idle {
            self.keep(&chunk[seg..]);
        }
        oversized
    }

    /// Reads octet-count digits from `pos`; at their end decides between an octet-counted
    /// frame (digits, then a space) and a line that starts with digits (which keeps them).
    /// Returns the new position.
    fn count(&mut self, chunk: &[u8], mut pos: usize, mut value: u64, mut digits: usize) -> usize {
        while pos < chunk.len() && chunk[pos].is_ascii_digit() && digits < MAX_COUNT_DIGITS {
            value = value * 10 + u64::from(chunk[pos] - b'0');
            digits += 1;
            pos += 1;
        }
        self.state = match chunk.get(pos) {
            None => State::Count { value, digits },
            Some(b' ') => {
                // The count is not part of the frame.
                self.partial.clear();
                self.seen = 0;
                pos += 1;
                State::Octets { remaining: value }
            }
            Some(_) => State::Line,
        };
        pos
    }

    /// Adds bytes of the open frame that may continue in the next chunk; past the limit they
    /// are only counted.
    fn keep(&mut self, bytes: &[u8]) {
        self.seen += bytes.len() as u64;
        let room = self.options.max_size.saturating_sub(self.partial.len());
        self.partial
            .extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    /// Ends the open frame, whose bytes in this chunk are `chunk[seg..end]`; emits it unless
    /// dropped. Returns 1 if it was over the limit.
    fn end_frame(
        &mut self,
        chunk: &Bytes,
        seg: usize,
        end: usize,
        line: bool,
        emit: &mut impl FnMut(Bytes),
    ) -> u64 {
        let max = self.options.max_size;
        let oversized = self.seen + (end - seg) as u64 > max as u64;
        let frame = if self.seen == 0 {
            chunk.slice(seg..seg + (end - seg).min(max))
        } else {
            self.keep(&chunk[seg..end]);
            self.partial.split().freeze()
        };
        self.seen = 0;
        self.state = State::Idle;
        self.deliver(frame, line, oversized, emit);
        u64::from(oversized)
    }

    fn deliver(&self, mut frame: Bytes, line: bool, oversized: bool, emit: &mut impl FnMut(Bytes)) {
        if oversized && self.options.oversize == Oversize::Drop {
            return;
        }
        if self.options.syslog_trim {
            if line {
                let kept = frame
                    .iter()
                    .rposition(|&b| !matches!(b, b'\r' | b'\0'))
                    .map_or(0, |i| i + 1);
                frame.truncate(kept);
            }
            if frame.is_empty() {
                return;
            }
        }
        emit(frame);
    }

    /// At end of stream: the frame still open, if any (a last line without LF, or the part of
    /// an octet-counted frame that arrived). Returns 1 if it was over the limit.
    pub fn finish(&mut self, emit: &mut impl FnMut(Bytes)) -> u64 {
        let state = std::mem::replace(&mut self.state, State::Idle);
        let seen = std::mem::take(&mut self.seen);
        if state == State::Idle || seen == 0 {
            self.partial.clear();
            return 0;
        }
        let frame = self.partial.split().freeze();
        let oversized = seen > self.options.max_size as u64;
        let line = !matches!(state, State::Octets { .. });
        self.deliver(frame, line, oversized, emit);
        u64::from(oversized)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(octet_counting: bool, max_size: usize, oversize: Oversize) -> FramerOptions {
        FramerOptions {
            octet_counting,
            syslog_trim: octet_counting,
            max_size,
            oversize,
        }
    }

    /// Frames of `chunks` cut at every possible split of their concatenation too.
    fn frames(options: FramerOptions, chunks: &[&[u8]]) -> (Vec<String>, u64) {
        let mut framer = Framer::new(options);
        let mut out = Vec::new();
        let mut emit = |f: Bytes| out.push(String::from_utf8_lossy(&f).into_owned());
        let mut oversized = 0;
        for chunk in chunks {
            oversized += framer.push(Bytes::copy_from_slice(chunk), &mut emit);
        }
        oversized += framer.finish(&mut emit);
        (out, oversized)
    }

    fn every_split(options: FramerOptions, stream: &[u8]) -> (Vec<String>, u64) {
        let whole = frames(options, &[stream]);
        for i in 0..=stream.len() {
            assert_eq!(
                frames(options, &[&stream[..i], &stream[i..]]),
                whole,
                "split at {i}"
            );
        }
        let bytes: Vec<&[u8]> = stream.chunks(1).collect();
        assert_eq!(frames(options, &bytes), whole, "byte by byte");
        whole
    }

    #[test]
    fn octet_counted_and_lf_frames_mix() {
        let stream =
            b"11 <13>1 - - x<13>Mar  1 00:00:00 h p: a\r\n5 hello\n\n2024-01-01T00:00:00Z h x\n12";
        let (out, oversized) = every_split(options(true, 1000, Oversize::Truncate), stream);
        assert_eq!(
            out,
            [
                "<13>1 - - x",
                "<13>Mar  1 00:00:00 h p: a",
                "hello",
                "2024-01-01T00:00:00Z h x",
                "12"
            ]
        );
        assert_eq!(oversized, 0);
    }

    #[test]
    fn oversized_frames_are_truncated_or_dropped() {
        let stream = b"abcdefgh\nabc\n10 0123456789";
        let truncate = every_split(options(true, 4, Oversize::Truncate), stream);
        assert_eq!(
            truncate,
            (vec!["abcd".into(), "abc".into(), "0123".into()], 2)
        );
        let stream = b"abcdefgh\nabc\r\nx";
        let drop = every_split(options(false, 4, Oversize::Drop), stream);
        assert_eq!(drop, (vec!["abc\r".into(), "x".into()], 1));
    }

    #[test]
    fn a_stream_ending_mid_frame_gives_what_arrived() {
        let (out, _) = frames(options(true, 100, Oversize::Truncate), &[b"10 abc"]);
        assert_eq!(out, ["abc"]);
    }

    #[test]
    fn line_mode_keeps_empty_lines_and_cr() {
        let (out, _) = every_split(options(false, 100, Oversize::Drop), b"a\r\n\nb");
        assert_eq!(out, ["a\r", "", "b"]);
    }
}
