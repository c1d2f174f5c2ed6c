//! RELP framing: [`FrameReader`] cuts [`Frame`]s out of the bytes a connection received, and
//! [`write_rsp`] / [`write_serverclose`] write what the server sends back.
//!
//! A frame is `TXNR SP COMMAND SP DATALEN [SP DATA] LF` (librelp's `doc/relp.md`): TXNR and
//! DATALEN are 1 to 9 digits, COMMAND 1 to 32 letters, and DATA is there only when DATALEN is
//! not 0. The reader checks the syntax as librelp's server does; the session checks the meaning
//! (transaction order, commands). DATA longer than the reader's maximum is truncated, as
//! imrelp's default `oversizeMode="truncate"` does: the first bytes are kept, the rest is
//! skipped as it arrives, so a huge DATALEN never makes the buffer grow past the maximum.

use bytes::{Buf, Bytes, BytesMut};

/// The most digits TXNR and DATALEN may have.
const MAX_DIGITS: usize = 9;
/// The longest command name.
const MAX_COMMAND: usize = 32;

/// A frame's command, as far as the server cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Open,
    Syslog,
    Close,
    /// Anything else (`rsp`, `starttls`, `abort`, a future command): the name as received.
    Other(Bytes),
}

/// One complete frame.
#[derive(Debug)]
pub struct Frame {
    pub txnr: u32,
    pub command: Command,
    /// DATA, sharing the receive buffer; at most the reader's maximum.
    pub data: Bytes,
    /// DATALEN as sent, when DATA was longer than the maximum and cut to it.
    pub truncated_from: Option<usize>,
}

/// Why bytes are not a RELP frame. Any of these ends the connection (RELP's error handling:
/// the peer that detects a framing problem closes the connection).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("the transaction number is not 1 to 9 digits followed by a space")]
    BadTxnr,
    #[error("the command is not 1 to 32 letters followed by a space")]
    BadCommand,
    #[error("DATALEN is not 1 to 9 digits followed by a space (or by LF when it is 0)")]
    BadDatalen,
    #[error("the frame does not end with LF after DATALEN bytes of data")]
    MissingTrailer,
}

/// Where a frame's parts are in the buffer, once its header is complete.
struct Header {
    txnr: u32,
    command: std::ops::Range<usize>,
    datalen: usize,
    /// Index of DATA's first byte (or of the trailer when DATALEN is 0).
    data_start: usize,
}

/// A frame whose DATA was too long: kept part read, the rest still to skip.
struct Oversized {
    frame: Frame,
    to_skip: usize,
}

/// Cuts frames out of a connection's receive buffer.
pub struct FrameReader {
    max_data: usize,
    oversized: Option<Oversized>,
}

impl FrameReader {
    /// A reader keeping at most `max_data` bytes of a frame's DATA.
    pub fn new(max_data: usize) -> FrameReader {
        FrameReader {
            max_data: max_data.max(1),
            oversized: None,
        }
    }

    /// The next complete frame, removed from `buf`; `None` when `buf` holds no complete frame
    /// yet (what it holds stays for the next call, after more bytes were appended).
    pub fn next(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, FrameError> {
        if self.oversized.is_some() {
            return self.skip_oversized(buf);
        }
        let Some(header) = parse_header(buf)? else {
            return Ok(None);
        };
        if header.datalen > self.max_data {
            return self.start_oversized(buf, header);
        }
        let end = header.data_start + header.datalen;
        if header.datalen == 0 {
            // parse_header saw the LF already: the frame ends right there.
            let frame = buf.split_to(header.data_start + 1).freeze();
            return Ok(Some(make_frame(&frame, &header, Bytes::new(), None)));
        }
        if buf.len() <= end {
            return Ok(None);
        }
        if buf[end] != b'\n' {
            return Err(FrameError::MissingTrailer);
        }
        let frame = buf.split_to(end + 1).freeze();
        let data = frame.slice(header.data_start..end);
        Ok(Some(make_frame(&frame, &header, data, None)))
    }

    /// True while part of a frame has been received and not yet returned.
    pub fn in_frame(&self, buf: &BytesMut) -> bool {
        self.oversized.is_some() || !buf.is_empty()
    }

    /// Keeps the first `max_data` bytes of DATA once they are all here, then skips the rest.
    fn start_oversized(
        &mut self,
        buf: &mut BytesMut,
        header: Header,
    ) -> Result<Option<Frame>, FrameError> {
        let keep_end = header.data_start + self.max_data;
        if buf.len() < keep_end {
            return Ok(None);
        }
        let frame = buf.split_to(keep_end).freeze();
        let data = frame.slice(header.data_start..);
        self.oversized = Some(Oversized {
            frame: make_frame(&frame, &header, data, Some(header.datalen)),
            to_skip: header.datalen - self.max_data,
        });
        self.skip_oversized(buf)
    }

    fn skip_oversized(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, FrameError> {
        let Some(state) = self.oversized.as_mut() else {
            return Ok(None);
        };
        let n = state.to_skip.min(buf.len());
        buf.advance(n);
        state.to_skip -= n;
        if state.to_skip > 0 || buf.is_empty() {
            return Ok(None);
        }
        if buf[0] != b'\n' {
            return Err(FrameError::MissingTrailer);
        }
        buf.advance(1);
        Ok(self.oversized.take().map(|o| o.frame))
    }
}

fn make_frame(frame: &Bytes, header: &Header, data: Bytes, truncated: Option<usize>) -> Frame {
    let name = &frame[header.command.clone()];
    let command = match name {
        b"syslog" => Command::Syslog,
        b"open" => Command::Open,
        b"close" => Command::Close,
        _ => Command::Other(frame.slice(header.command.clone())),
    };
    Frame {
        txnr: header.txnr,
        command,
        data,
        truncated_from: truncated,
    }
}

/// Reads `TXNR SP COMMAND SP DATALEN` and the byte after it; `None` if `buf` ends before.
fn parse_header(buf: &[u8]) -> Result<Option<Header>, FrameError> {
    let Some((txnr, mut i)) = number(buf, 0, FrameError::BadTxnr)? else {
        return Ok(None);
    };
    match buf.get(i) {
        None => return Ok(None),
        Some(b' ') => i += 1,
        Some(_) => return Err(FrameError::BadTxnr),
    }
    let start = i;
    while let Some(c) = buf.get(i) {
        if !c.is_ascii_alphabetic() {
            break;
        }
        i += 1;
        if i - start > MAX_COMMAND {
            return Err(FrameError::BadCommand);
        }
    }
    match buf.get(i) {
        None => return Ok(None),
        Some(b' ') if i > start => {}
        Some(_) => return Err(FrameError::BadCommand),
    }
    let command = start..i;
    let Some((datalen, i)) = number(buf, i + 1, FrameError::BadDatalen)? else {
        return Ok(None);
    };
    let header = |data_start| Header {
        txnr,
        command,
        datalen: datalen as usize,
        data_start,
    };
    match (buf.get(i), datalen) {
        (None, _) => Ok(None),
        (Some(b'\n'), 0) => Ok(Some(header(i))),
        (Some(b' '), 0) => Err(FrameError::MissingTrailer),
        (Some(b' '), _) => Ok(Some(header(i + 1))),
        (Some(_), _) => Err(FrameError::BadDatalen),
    }
}

/// The 1 to 9 digit number at `buf[start..]` and the index after it; `None` if `buf` ends
/// within it.
fn number(buf: &[u8], start: usize, error: FrameError) -> Result<Option<(u32, usize)>, FrameError> {
    let mut value: u32 = 0;
    let mut i = start;
    while let Some(c) = buf.get(i) {
        if !c.is_ascii_digit() {
            break;
        }
        if i - start == MAX_DIGITS {
            return Err(error);
        }
        value = value * 10 + u32::from(c - b'0');
        i += 1;
    }
    match buf.get(i) {
        None => Ok(None),
        Some(_) if i == start => Err(error),
        Some(_) => Ok(Some((value, i))),
    }
}

/// Appends `TXNR rsp DATALEN DATA LF`, DATA being `text`.
pub fn write_rsp(out: &mut Vec<u8>, txnr: u32, text: &[u8]) {
    let mut digits = itoa::Buffer::new();
    out.extend_from_slice(digits.format(txnr).as_bytes());
    out.extend_from_slice(b" rsp ");
    out.extend_from_slice(digits.format(text.len()).as_bytes());
    if !text.is_empty() {
        out.push(b' ');
        out.extend_from_slice(text);
    }
    out.push(b'\n');
}

/// Appends the `serverclose` hint (TXNR 0, no data): the server is closing the connection.
pub fn write_serverclose(out: &mut Vec<u8>) {
    out.extend_from_slice(b"0 serverclose 0\n");
}

/// The transaction number after `txnr`: RELP counts 1 to 999,999,999, then starts over at 1.
pub fn next_txnr(txnr: u32) -> u32 {
    if txnr >= 999_999_999 {
        1
    } else {
        txnr + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(input: &[u8], max: usize) -> (Vec<Frame>, Option<FrameError>, usize) {
        let mut reader = FrameReader::new(max);
        let mut buf = BytesMut::from(input);
        let mut out = Vec::new();
        loop {
            match reader.next(&mut buf) {
                Ok(Some(f)) => out.push(f),
                Ok(None) => return (out, None, buf.len()),
                Err(e) => return (out, Some(e), buf.len()),
            }
        }
    }

    #[test]
    fn reads_pipelined_frames_with_and_without_data() {
        let (got, err, left) = frames(b"1 open 3 a=1\n2 syslog 5 hello\n3 close 0\n4 sys", 100);
        assert_eq!(err, None);
        assert_eq!(left, 5, "the partial frame stays in the buffer");
        let summary: Vec<_> = got
            .iter()
            .map(|f| (f.txnr, f.command.clone(), f.data.clone()))
            .collect();
        assert_eq!(
            summary,
            [
                (1, Command::Open, Bytes::from_static(b"a=1")),
                (2, Command::Syslog, Bytes::from_static(b"hello")),
                (3, Command::Close, Bytes::new()),
            ]
        );
    }

    #[test]
    fn data_may_hold_spaces_newlines_and_any_byte() {
        let (got, err, _) = frames(b"7 syslog 6 a \n\xff\x00b\n", 100);
        assert_eq!(err, None);
        assert_eq!(&got[0].data[..], b"a \n\xff\x00b");
    }

    #[test]
    fn a_frame_split_anywhere_is_read_once_complete() {
        let wire = b"12 syslog 11 hello world\n";
        for cut in 0..wire.len() {
            let mut reader = FrameReader::new(100);
            let mut buf = BytesMut::from(&wire[..cut]);
            assert!(reader.next(&mut buf).unwrap().is_none(), "cut at {cut}");
            buf.extend_from_slice(&wire[cut..]);
            let frame = reader.next(&mut buf).unwrap().expect("complete");
            assert_eq!((frame.txnr, &frame.data[..]), (12, &b"hello world"[..]));
            assert!(buf.is_empty());
        }
    }

    #[test]
    fn malformed_headers_are_errors() {
        let cases: &[(&[u8], FrameError)] = &[
            (b"x syslog 1 a\n", FrameError::BadTxnr),
            (b" 1 syslog 1 a\n", FrameError::BadTxnr),
            (b"1234567890 syslog 1 a\n", FrameError::BadTxnr),
            (b"1-syslog 1 a\n", FrameError::BadTxnr),
            (b"1  1 a\n", FrameError::BadCommand),
            (b"1 sys1og 1 a\n", FrameError::BadCommand),
            (b"1 syslog x a\n", FrameError::BadDatalen),
            (b"1 syslog -1 a\n", FrameError::BadDatalen),
            (b"1 syslog 1234567890 a\n", FrameError::BadDatalen),
            (b"1 syslog 5\nhello\n", FrameError::BadDatalen),
            (b"1 syslog 2 abc\n", FrameError::MissingTrailer),
            (b"1 close 0 \n", FrameError::MissingTrailer),
        ];
        for (input, want) in cases {
            let mut with_more = input.to_vec();
            with_more.extend_from_slice(b"                                         ");
            let (got, err, _) = frames(&with_more, 100);
            assert!(got.is_empty(), "{:?}", String::from_utf8_lossy(input));
            assert_eq!(
                err.as_ref(),
                Some(want),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn an_overlong_command_is_an_error_before_its_end_arrives() {
        let long = format!("1 {}", "a".repeat(40));
        let (_, err, _) = frames(long.as_bytes(), 100);
        assert_eq!(err, Some(FrameError::BadCommand));
    }

    #[test]
    fn oversized_data_is_truncated_and_the_rest_skipped_in_pieces() {
        let mut wire = b"1 syslog 10 0123456789\n2 syslog 2 ok\n".to_vec();
        let mut reader = FrameReader::new(4);
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        // One byte at a time: the skipping must survive any split.
        for b in wire.drain(..) {
            buf.extend_from_slice(&[b]);
            while let Some(f) = reader.next(&mut buf).unwrap() {
                got.push(f);
            }
            assert!(buf.len() <= 20, "the skipped part is never buffered");
        }
        assert_eq!(got.len(), 2);
        assert_eq!(&got[0].data[..], b"0123");
        assert_eq!(got[0].truncated_from, Some(10));
        assert_eq!(
            (&got[1].data[..], got[1].truncated_from),
            (&b"ok"[..], None)
        );
    }

    #[test]
    fn oversized_data_must_still_end_with_lf() {
        let (_, err, _) = frames(b"1 syslog 10 0123456789X", 4);
        assert_eq!(err, Some(FrameError::MissingTrailer));
    }

    #[test]
    fn responses_are_framed() {
        let mut out = Vec::new();
        write_rsp(&mut out, 42, b"200 OK");
        write_rsp(&mut out, 43, b"");
        write_serverclose(&mut out);
        assert_eq!(out, b"42 rsp 6 200 OK\n43 rsp 0\n0 serverclose 0\n");
    }

    #[test]
    fn transaction_numbers_wrap_to_one() {
        assert_eq!(next_txnr(1), 2);
        assert_eq!(next_txnr(999_999_999), 1);
    }
}
