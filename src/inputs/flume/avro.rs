//! The Avro side of Flume's Avro RPC: the binary encoding this input reads and writes
//! ([`Reader`], the `write_*` helpers), the `AvroSourceProtocol` text and its MD5 (the server
//! hash), the handshake ([`HandshakeRequest`], [`Match`]) and the two messages
//! ([`read_call`]). Everything here works on one frame's payload; nothing here does I/O.
//!
//! Avro binary encoding: `int`/`long` are zig-zag varints; `string`/`bytes` are a long length
//! then the bytes; a map or array is blocks of `count` items (a negative count is followed by
//! the block's size in bytes), ended by a zero count; a union is the branch index, then the
//! value; an enum is its symbol index; `fixed16` is 16 raw bytes.

use bytes::Bytes;
use md5::{Digest, Md5};

use crate::event::{Map, Text, Value};

/// Flume's `AvroSourceProtocol` (flume-ng-sdk's `AvroSourceProtocol.avdl`), as JSON. Only its
/// MD5 matters to clients: they cache the server's protocol under it.
pub const PROTOCOL: &str = concat!(
    r#"{"protocol":"AvroSourceProtocol","namespace":"org.apache.flume.source.avro","#,
    r#""types":[{"type":"enum","name":"Status","symbols":["OK","FAILED","UNKNOWN"]},"#,
    r#"{"type":"record","name":"AvroFlumeEvent","fields":["#,
    r#"{"name":"headers","type":{"type":"map","values":"string"}},"#,
    r#"{"name":"body","type":"bytes"}]}],"#,
    r#""messages":{"append":{"request":[{"name":"event","type":"AvroFlumeEvent"}],"#,
    r#""response":"Status"},"#,
    r#""appendBatch":{"request":[{"name":"events","type":{"type":"array","items":"AvroFlumeEvent"}}],"#,
    r#""response":"Status"}}}"#
);

/// The MD5 of [`PROTOCOL`]: the server hash of the handshake.
pub fn protocol_hash() -> [u8; 16] {
    Md5::digest(PROTOCOL.as_bytes()).into()
}

/// Why a payload is not what the protocol says.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AvroError {
    #[error("the payload ends in the middle of a value")]
    Truncated,
    #[error("a varint longer than 10 bytes")]
    BadVarint,
    #[error("a negative length")]
    NegativeLength,
    #[error("union branch {0} does not exist")]
    BadUnion(i64),
}

/// Reads Avro values from one payload, cutting strings and bytes out of it without copying.
pub struct Reader {
    buf: Bytes,
    pos: usize,
}

impl Reader {
    pub fn new(buf: Bytes) -> Reader {
        Reader { buf, pos: 0 }
    }

    pub fn long(&mut self) -> Result<i64, AvroError> {
        let mut value: u64 = 0;
        for shift in (0..70).step_by(7) {
            let byte = *self.buf.get(self.pos).ok_or(AvroError::Truncated)?;
            self.pos += 1;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok((value >> 1) as i64 ^ -((value & 1) as i64));
            }
        }
        Err(AvroError::BadVarint)
    }

    /// `bytes` (or a `string`'s bytes), as a slice of the payload.
    pub fn bytes(&mut self) -> Result<Bytes, AvroError> {
        let len = usize::try_from(self.long()?).map_err(|_| AvroError::NegativeLength)?;
        self.take(len)
    }

    /// A `string`; invalid UTF-8 is replaced (as Java's decoder does), so one bad header
    /// cannot make Flume resend a batch forever.
    pub fn string(&mut self) -> Result<Text, AvroError> {
        let bytes = self.bytes()?;
        Ok(match Text::from_utf8(bytes.clone()) {
            Ok(text) => text,
            Err(_) => Text::from_string(String::from_utf8_lossy(&bytes).into_owned()),
        })
    }

    pub fn fixed16(&mut self) -> Result<[u8; 16], AvroError> {
        let bytes = self.take(16)?;
        let mut out = [0; 16];
        out.copy_from_slice(&bytes);
        Ok(out)
    }

    /// A union's branch index, checked against the number of branches.
    pub fn union(&mut self, branches: i64) -> Result<i64, AvroError> {
        match self.long()? {
            i if (0..branches).contains(&i) => Ok(i),
            i => Err(AvroError::BadUnion(i)),
        }
    }

    fn take(&mut self, len: usize) -> Result<Bytes, AvroError> {
        let end = self.pos.checked_add(len).ok_or(AvroError::Truncated)?;
        if end > self.buf.len() {
            return Err(AvroError::Truncated);
        }
        let out = self.buf.slice(self.pos..end);
        self.pos = end;
        Ok(out)
    }

    /// The item count of the next block of a map or array (0: the end); skips a negative
    /// count's block size.
    pub fn block_count(&mut self) -> Result<u64, AvroError> {
        let count = self.long()?;
        if count < 0 {
            self.long()?;
        }
        Ok(count.unsigned_abs())
    }

    /// Reads a `map<bytes>` (call metadata) without keeping it.
    pub fn skip_bytes_map(&mut self) -> Result<(), AvroError> {
        loop {
            let count = self.block_count()?;
            if count == 0 {
                return Ok(());
            }
            for _ in 0..count {
                self.bytes()?;
                self.bytes()?;
            }
        }
    }

    /// A `map<string>` as an event map of strings.
    pub fn string_map(&mut self) -> Result<Map, AvroError> {
        let mut map = Map::new();
        loop {
            let count = self.block_count()?;
            if count == 0 {
                return Ok(map);
            }
            for _ in 0..count {
                let key = self.string()?;
                let value = self.string()?;
                map.insert(key, Value::Str(value));
            }
        }
    }
}

/// A client's handshake: who it is and which server protocol it thinks it talks to.
#[derive(Debug, PartialEq, Eq)]
pub struct HandshakeRequest {
    pub client_hash: [u8; 16],
    /// The client's protocol text, sent after the server answered [`Match::None`].
    pub client_protocol: Option<Bytes>,
    pub server_hash: [u8; 16],
}

impl HandshakeRequest {
    pub fn read(r: &mut Reader) -> Result<HandshakeRequest, AvroError> {
        let client_hash = r.fixed16()?;
        let client_protocol = match r.union(2)? {
            0 => None,
            _ => Some(r.bytes()?),
        };
        let server_hash = r.fixed16()?;
        if r.union(2)? == 1 {
            r.skip_bytes_map()?;
        }
        Ok(HandshakeRequest {
            client_hash,
            client_protocol,
            server_hash,
        })
    }
}

/// The handshake's verdict (Avro's `HandshakeMatch`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Match {
    /// Both sides know each other's protocol.
    Both = 0,
    /// The server knows the client, but the client has the wrong server hash: the answer
    /// carries the server's protocol and hash.
    Client = 1,
    /// The server does not know the client's hash: the client must send its protocol.
    None = 2,
}

/// Writes a `HandshakeResponse`: the match, and (unless `Both`) the server's protocol and hash.
pub fn write_handshake_response(out: &mut Vec<u8>, verdict: Match, server_hash: &[u8; 16]) {
    write_long(out, verdict as i64);
    if verdict == Match::Both {
        out.extend_from_slice(&[0, 0]); // serverProtocol: null, serverHash: null
    } else {
        write_long(out, 1);
        write_bytes(out, PROTOCOL.as_bytes());
        write_long(out, 1);
        out.extend_from_slice(server_hash);
    }
    out.push(0); // meta: null
}

/// A call after the handshake.
pub enum Call {
    /// An empty message name: a handshake-only request, answered with the handshake alone.
    Ping,
    /// `append` or `appendBatch`: the events, in order.
    Append,
    /// A message this protocol does not have.
    Unknown(Text),
}

/// One `AvroFlumeEvent`: its headers and body.
pub struct FlumeEvent {
    pub headers: Map,
    pub body: Bytes,
}

fn read_event(r: &mut Reader) -> Result<FlumeEvent, AvroError> {
    let headers = r.string_map()?;
    let body = r.bytes()?;
    Ok(FlumeEvent { headers, body })
}

/// Reads a call (call metadata, message name, parameters), handing each event of `append`
/// and `appendBatch` to `each` as it is read.
pub fn read_call(r: &mut Reader, mut each: impl FnMut(FlumeEvent)) -> Result<Call, AvroError> {
    r.skip_bytes_map()?;
    let name = r.bytes()?;
    match &name[..] {
        b"" => Ok(Call::Ping),
        b"append" => {
            each(read_event(r)?);
            Ok(Call::Append)
        }
        b"appendBatch" => {
            loop {
                let count = r.block_count()?;
                if count == 0 {
                    break;
                }
                for _ in 0..count {
                    each(read_event(r)?);
                }
            }
            Ok(Call::Append)
        }
        _ => Ok(Call::Unknown(Text::from_string(
            String::from_utf8_lossy(&name).into_owned(),
        ))),
    }
}

/// The `Status` enum's symbols.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok = 0,
    Failed = 1,
}

/// The start of a successful call's response: empty metadata, `error = false` (the status
/// follows).
pub fn write_response_start(out: &mut Vec<u8>) {
    out.extend_from_slice(&[0, 0]);
}

pub fn write_status(out: &mut Vec<u8>, status: Status) {
    write_long(out, status as i64);
}

/// An error response: empty metadata, `error = true`, the system-error union's string branch.
pub fn write_error(out: &mut Vec<u8>, message: &str) {
    out.extend_from_slice(&[0, 1, 0]);
    write_bytes(out, message.as_bytes());
}

pub fn write_long(out: &mut Vec<u8>, value: i64) {
    let mut n = ((value << 1) ^ (value >> 63)) as u64;
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

pub fn write_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    write_long(out, bytes.len() as i64);
    out.extend_from_slice(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn longs(values: &[i64]) -> Vec<u8> {
        let mut out = Vec::new();
        for v in values {
            write_long(&mut out, *v);
        }
        out
    }

    #[test]
    fn longs_round_trip_in_zigzag() {
        let values = [0, -1, 1, 63, -64, 64, 1 << 40, i64::MIN, i64::MAX];
        let bytes = longs(&values);
        assert_eq!(&bytes[..5], &[0, 1, 2, 0x7e, 0x7f]);
        let mut r = Reader::new(Bytes::from(bytes));
        for v in values {
            assert_eq!(r.long(), Ok(v));
        }
        assert_eq!(r.long(), Err(AvroError::Truncated));
        let mut r = Reader::new(Bytes::from(vec![0xff; 11]));
        assert_eq!(r.long(), Err(AvroError::BadVarint));
    }

    #[test]
    fn bad_lengths_are_errors_not_panics() {
        let mut r = Reader::new(Bytes::from(longs(&[-3])));
        assert_eq!(r.bytes(), Err(AvroError::NegativeLength));
        let mut r = Reader::new(Bytes::from(longs(&[i64::MAX])));
        assert_eq!(r.bytes(), Err(AvroError::Truncated));
        let mut r = Reader::new(Bytes::from(longs(&[5])));
        assert_eq!(r.union(2), Err(AvroError::BadUnion(5)));
        let mut bad = Vec::new();
        write_bytes(&mut bad, b"caf\xe9");
        let mut r = Reader::new(Bytes::from(bad));
        assert_eq!(r.string().unwrap().as_str(), "caf\u{fffd}");
    }

    #[test]
    fn an_append_batch_call_yields_its_events() {
        let mut call = vec![0]; // no call metadata
        write_bytes(&mut call, b"appendBatch");
        write_long(&mut call, -2); // a block of 2 with its byte size
        write_long(&mut call, 0);
        for body in [&b"one"[..], b"two"] {
            write_long(&mut call, 1);
            write_bytes(&mut call, b"host");
            write_bytes(&mut call, b"web1");
            write_long(&mut call, 0);
            write_bytes(&mut call, body);
        }
        write_long(&mut call, 0);
        let mut bodies = Vec::new();
        let mut r = Reader::new(Bytes::from(call));
        let kind = read_call(&mut r, |e| {
            assert_eq!(e.headers.get("host").and_then(Value::as_str), Some("web1"));
            bodies.push(e.body);
        });
        assert!(matches!(kind, Ok(Call::Append)));
        assert_eq!(bodies, [&b"one"[..], b"two"]);
    }

    #[test]
    fn the_first_reply_of_a_known_client_is_minimal() {
        let mut out = Vec::new();
        write_handshake_response(&mut out, Match::Both, &protocol_hash());
        write_response_start(&mut out);
        write_status(&mut out, Status::Ok);
        assert_eq!(out, [0, 0, 0, 0, 0, 0, 0]);
        let mut none = Vec::new();
        write_handshake_response(&mut none, Match::None, &protocol_hash());
        assert_eq!(none[0], 4);
        assert!(none.ends_with(&[&protocol_hash()[..], &[0]].concat()));
    }
}
