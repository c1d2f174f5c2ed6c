//! Avro's Netty framing (`NettyTransportCodec`): a frame is `i32 serial, i32 nbuffers`, then
//! `nbuffers` times `i32 length, bytes`, all big-endian; the buffers' boundaries mean nothing,
//! their concatenation is the payload. The reply to a frame carries its serial.
//!
//! [`FrameReader`] cuts frames out of a read buffer incrementally (a frame of many small buffers
//! arriving in pieces is scanned once), refusing negative counts and lengths and frames over
//! the input's `max_frame_size` before anything is allocated for them.

use bytes::{Buf, Bytes, BytesMut};

/// Why the byte stream is not Netty-framed Avro.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FrameError {
    #[error("negative buffer count {0}")]
    BadCount(i32),
    #[error("negative buffer length {0}")]
    BadLength(i32),
    #[error("frame larger than max_frame_size ({0} bytes)")]
    TooLarge(usize),
}

/// One frame: its serial and its payload.
#[derive(Debug, PartialEq, Eq)]
pub struct Frame {
    pub serial: i32,
    pub payload: Bytes,
}

/// How far the frame at the front of the buffer was scanned.
#[derive(Clone, Copy)]
struct Scan {
    serial: i32,
    buffers: u32,
    /// Buffers whose length and bytes are in the buffer.
    done: u32,
    /// Where the next buffer's length starts.
    pos: usize,
    /// Payload bytes so far, plus 4 per buffer header (so empty buffers count too).
    size: usize,
}

pub struct FrameReader {
    max_frame_size: usize,
    scan: Option<Scan>,
}

impl FrameReader {
    pub fn new(max_frame_size: usize) -> FrameReader {
        FrameReader {
            max_frame_size,
            scan: None,
        }
    }

    /// True when part of a frame is buffered.
    pub fn in_frame(&self, buf: &BytesMut) -> bool {
        self.scan.is_some() || !buf.is_empty()
    }

    /// The next complete frame, taken out of `buf`; `None` until one is complete.
    pub fn next(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, FrameError> {
        let mut scan = match self.scan {
            Some(scan) => scan,
            None if buf.len() < 8 => return Ok(None),
            None => {
                let count = be_i32(&buf[4..8]);
                let buffers = u32::try_from(count).map_err(|_| FrameError::BadCount(count))?;
                Scan {
                    serial: be_i32(&buf[..4]),
                    buffers,
                    done: 0,
                    pos: 8,
                    size: 0,
                }
            }
        };
        while scan.done < scan.buffers {
            if buf.len() < scan.pos + 4 {
                break;
            }
            let len = be_i32(&buf[scan.pos..scan.pos + 4]);
            let len = usize::try_from(len).map_err(|_| FrameError::BadLength(len))?;
            let size = scan.size + 4 + len;
            if size > self.max_frame_size {
                return Err(FrameError::TooLarge(self.max_frame_size));
            }
            if buf.len() < scan.pos + 4 + len {
                break;
            }
            scan.size = size;
            scan.pos += 4 + len;
            scan.done += 1;
        }
        if scan.done < scan.buffers {
            self.scan = Some(scan);
            return Ok(None);
        }
        self.scan = None;
        let frame = buf.split_to(scan.pos).freeze();
        Ok(Some(Frame {
            serial: scan.serial,
            payload: concatenate(frame, scan.buffers, scan.size),
        }))
    }
}

/// The payload of a complete frame: its one buffer as is, or its buffers copied together.
fn concatenate(mut frame: Bytes, buffers: u32, size: usize) -> Bytes {
    frame.advance(8);
    if buffers == 1 {
        frame.advance(4);
        return frame;
    }
    let mut payload = BytesMut::with_capacity(size - 4 * buffers as usize);
    while frame.has_remaining() {
        let len = frame.get_i32() as usize;
        payload.extend_from_slice(&frame[..len]);
        frame.advance(len);
    }
    payload.freeze()
}

fn be_i32(bytes: &[u8]) -> i32 {
    i32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
}

/// Appends a one-buffer frame to `out` whose payload is `parts` joined.
pub fn write_frame(out: &mut Vec<u8>, serial: i32, parts: &[&[u8]]) {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    out.extend_from_slice(&serial.to_be_bytes());
    out.extend_from_slice(&1i32.to_be_bytes());
    out.extend_from_slice(&(len as i32).to_be_bytes());
    for part in parts {
        out.extend_from_slice(part);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(serial: i32, buffers: &[&[u8]]) -> Vec<u8> {
        let mut out = serial.to_be_bytes().to_vec();
        out.extend_from_slice(&(buffers.len() as i32).to_be_bytes());
        for b in buffers {
            out.extend_from_slice(&(b.len() as i32).to_be_bytes());
            out.extend_from_slice(b);
        }
        out
    }

    #[test]
    fn buffers_are_concatenated_whatever_the_read_sizes() {
        let mut bytes = frame(7, &[b"ab", b"", b"cde"]);
        bytes.extend(frame(8, &[b"x"]));
        for step in [1, 3, bytes.len()] {
            let mut reader = FrameReader::new(1024);
            let mut buf = BytesMut::new();
            let mut frames = Vec::new();
            for chunk in bytes.chunks(step) {
                buf.extend_from_slice(chunk);
                while let Some(f) = reader.next(&mut buf).unwrap() {
                    frames.push(f);
                }
            }
            assert_eq!(frames.len(), 2, "step {step}");
            assert_eq!(
                (frames[0].serial, &frames[0].payload[..]),
                (7, &b"abcde"[..])
            );
            assert_eq!((frames[1].serial, &frames[1].payload[..]), (8, &b"x"[..]));
            assert!(!reader.in_frame(&buf));
        }
    }

    #[test]
    fn bad_counts_lengths_and_sizes_are_refused_early() {
        let mut reader = FrameReader::new(100);
        let mut buf = BytesMut::from(&frame(1, &[])[..4]);
        buf.extend_from_slice(&(-1i32).to_be_bytes());
        assert_eq!(reader.next(&mut buf), Err(FrameError::BadCount(-1)));

        let mut buf = BytesMut::from(&[0, 0, 0, 1, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xfe][..]);
        let mut reader = FrameReader::new(100);
        assert_eq!(reader.next(&mut buf), Err(FrameError::BadLength(-2)));

        // The length alone says the frame is too large: refused before its bytes come.
        let mut buf = BytesMut::from(&[0, 0, 0, 1, 0, 0, 0, 1, 0x7f, 0xff, 0xff, 0xff][..]);
        let mut reader = FrameReader::new(100);
        assert_eq!(reader.next(&mut buf), Err(FrameError::TooLarge(100)));

        // Many empty buffers count too.
        let mut buf = BytesMut::from(&frame(1, &[&b""[..]; 30])[..]);
        let mut reader = FrameReader::new(100);
        assert_eq!(reader.next(&mut buf), Err(FrameError::TooLarge(100)));
    }

    #[test]
    fn written_frames_read_back() {
        let mut out = Vec::new();
        write_frame(&mut out, -5, &[b"rep", b"ly"]);
        let mut buf = BytesMut::from(&out[..]);
        let f = FrameReader::new(64).next(&mut buf).unwrap().unwrap();
        assert_eq!((f.serial, &f.payload[..]), (-5, &b"reply"[..]));
    }
}
