//! The `fingerprint` filter: a consistent hash of one or more fields, stored in `target`.
//!
//! Methods, as in logstash-filter-fingerprint: `SHA1` (default), `SHA256`, `SHA384`, `SHA512`
//! and `MD5` (HMAC when `key` is set; hex, or base64 with `base64encode`), `MURMUR3` (32-bit,
//! an integer result), `MURMUR3_128` (seed 2, hex or base64), `IPV4_NETWORK` (the address
//! masked to `key` bits), `UUID` (random) and `PUNCTUATION` (only the punctuation and symbol
//! characters of the field).
//!
//! What is hashed follows Logstash's canonical form: a string as is, a number or timestamp as
//! Ruby prints it (integers go to MurmurHash as 64-bit integers, or 32-bit ones for
//! `MURMUR3_128` when they fit), a hash as `k|v|k|v` sorted by key, an array as `v|v`. With
//! `concatenate_sources` the sorted sources become `|name|value|name|value|`; with
//! `concatenate_all_fields` every field (not `@metadata`) does. Without either, each source
//! present overwrites `target` in turn, and an array source gives an array of fingerprints.
//!
//! The default target is `fingerprint`, or `[event][hash]` in ECS mode.
//!
//! [`FingerprintOptions`] is the config; [`Fingerprint`] the built filter.

use std::fmt::Write as _;
use std::marker::PhantomData;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::LazyLock;

use base64::Engine as _;
use hmac::{EagerHash, Hmac, KeyInit, Mac};
use serde::Deserialize;
use sha2::Digest;

use crate::config::options::{EcsCompatibility, OneOrMany};
use crate::config::{Diagnostics, PluginArgs};
use crate::event::ruby::write_ruby_string;
use crate::event::{Event, FieldPath, Map, Text, Value};

use super::Filter;

/// The options of `fingerprint`, as written in the config.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FingerprintOptions {
    /// The field(s) to fingerprint.
    #[serde(default = "default_source")]
    pub source: OneOrMany<String>,
    /// Where the fingerprint goes (default depends on `ecs_compatibility`).
    #[serde(default)]
    pub target: Option<String>,
    /// The HMAC key, or the prefix length for `IPV4_NETWORK`.
    #[serde(default)]
    pub key: Option<String>,
    #[serde(default)]
    pub base64encode: bool,
    #[serde(default)]
    pub method: Method,
    #[serde(default)]
    pub concatenate_sources: bool,
    #[serde(default)]
    pub concatenate_all_fields: bool,
    #[serde(default)]
    pub ecs_compatibility: Option<EcsCompatibility>,
}

fn default_source() -> Vec<String> {
    vec!["message".to_string()]
}

/// The fingerprint methods, spelled as in Logstash.
#[derive(Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Method {
    #[default]
    #[serde(rename = "SHA1")]
    Sha1,
    #[serde(rename = "SHA256")]
    Sha256,
    #[serde(rename = "SHA384")]
    Sha384,
    #[serde(rename = "SHA512")]
    Sha512,
    #[serde(rename = "MD5")]
    Md5,
    #[serde(rename = "MURMUR3")]
    Murmur3,
    #[serde(rename = "MURMUR3_128")]
    Murmur3_128,
    #[serde(rename = "IPV4_NETWORK")]
    Ipv4Network,
    #[serde(rename = "UUID")]
    Uuid,
    #[serde(rename = "PUNCTUATION")]
    Punctuation,
}

/// Why an event could not be fingerprinted.
#[derive(Debug, thiserror::Error)]
pub enum FingerprintError {
    #[error("IPV4_NETWORK: `{0}` is not an IP address")]
    NotAnAddress(String),
    #[error("IPV4_NETWORK: a prefix of {0} bits does not fit an IPv4 address")]
    PrefixTooLong(u8),
    #[error("PUNCTUATION: the field is a {0}, not a string")]
    NotAString(&'static str),
}

/// The built filter.
pub struct Fingerprint {
    sources: Vec<Source>,
    target: FieldPath,
    mode: Mode,
    hash: HashFn,
    warned: AtomicBool,
}

/// A source field, with its name as written (concatenation puts the name in the hashed text).
struct Source {
    name: String,
    path: FieldPath,
}

/// Which fields are hashed and how the results are stored.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    /// Each source in turn; an array gives an array of fingerprints.
    EachSource,
    ConcatenateSources,
    ConcatenateAllFields,
    /// A random UUID, whatever the event holds.
    Uuid,
    /// The punctuation of each source (in sorted order) in turn.
    Punctuation,
}

/// How one canonical value becomes a fingerprint.
enum HashFn {
    Crypto {
        hasher: Box<dyn CryptoHash>,
        base64: bool,
    },
    Murmur3,
    Murmur3_128 {
        base64: bool,
    },
    Ipv4Network {
        prefix: u8,
    },
    /// `UUID` and `PUNCTUATION` do not hash values.
    None,
}

pub fn build(args: &PluginArgs) -> Result<Box<dyn Filter>, Diagnostics> {
    let options: FingerprintOptions = args.options()?;
    let ecs = options
        .ecs_compatibility
        .unwrap_or_else(|| args.ecs_compatibility());
    let target_name = options.target.as_deref().unwrap_or(if ecs.is_ecs() {
        "[event][hash]"
    } else {
        "fingerprint"
    });
    let target = FieldPath::parse(target_name)
        .map_err(|e| args.error("target", format!("fingerprint: target: {e}")))?;
    let mut sources = Vec::with_capacity(options.source.len());
    for name in &options.source {
        let path = FieldPath::parse(name)
            .map_err(|e| args.error("source", format!("fingerprint: source: {e}")))?;
        sources.push(Source {
            name: name.clone(),
            path,
        });
    }
    let mode = match options.method {
        Method::Uuid => Mode::Uuid,
        Method::Punctuation => Mode::Punctuation,
        _ if options.concatenate_all_fields => Mode::ConcatenateAllFields,
        _ if options.concatenate_sources => Mode::ConcatenateSources,
        _ => Mode::EachSource,
    };
    if matches!(mode, Mode::ConcatenateSources | Mode::Punctuation) {
        // Logstash walks `source.sort` in these modes.
        sources.sort_by(|a, b| a.name.cmp(&b.name));
    }
    let hash = hash_fn(args, &options)?;
    Ok(Box::new(Fingerprint {
        sources,
        target,
        mode,
        hash,
        warned: AtomicBool::new(false),
    }))
}

fn hash_fn(args: &PluginArgs, options: &FingerprintOptions) -> Result<HashFn, Diagnostics> {
    let key = options.key.as_deref().map(str::as_bytes);
    let crypto = |hasher: Box<dyn CryptoHash>| HashFn::Crypto {
        hasher,
        base64: options.base64encode,
    };
    Ok(match options.method {
        Method::Sha1 => crypto(crypto_hash::<sha1::Sha1>(key)),
        Method::Sha256 => crypto(crypto_hash::<sha2::Sha256>(key)),
        Method::Sha384 => crypto(crypto_hash::<sha2::Sha384>(key)),
        Method::Sha512 => crypto(crypto_hash::<sha2::Sha512>(key)),
        Method::Md5 => crypto(crypto_hash::<md5::Md5>(key)),
        Method::Murmur3 => HashFn::Murmur3,
        Method::Murmur3_128 => HashFn::Murmur3_128 {
            base64: options.base64encode,
        },
        Method::Ipv4Network => HashFn::Ipv4Network {
            prefix: ipv4_prefix(args, options.key.as_deref())?,
        },
        Method::Uuid | Method::Punctuation => HashFn::None,
    })
}

/// The prefix length `IPV4_NETWORK` needs in `key`.
fn ipv4_prefix(args: &PluginArgs, key: Option<&str>) -> Result<u8, Diagnostics> {
    let Some(key) = key else {
        return Err(args.error(
            "method",
            "fingerprint: IPV4_NETWORK needs `key`: the subnet prefix length, e.g. key => \"24\"",
        ));
    };
    key.trim()
        .parse::<u8>()
        .ok()
        .filter(|bits| *bits <= 128)
        .ok_or_else(|| {
            args.error(
                "key",
                format!("fingerprint: with IPV4_NETWORK, key must be a prefix length (0-32 for IPv4, up to 128 for IPv6), not `{key}`"),
            )
        })
}

/// A cryptographic digest, keyed (HMAC) or not. Writes the digest into `out`, returns its
/// length.
trait CryptoHash: Send + Sync {
    fn hash(&self, data: &[u8], out: &mut [u8; 64]) -> usize;
}

struct Plain<D>(PhantomData<fn() -> D>);

impl<D: Digest> CryptoHash for Plain<D> {
    fn hash(&self, data: &[u8], out: &mut [u8; 64]) -> usize {
        let digest = D::digest(data);
        out[..digest.len()].copy_from_slice(&digest);
        digest.len()
    }
}

/// An HMAC whose key schedule is computed once; each event hashes with a copy.
struct Keyed<D: EagerHash>(Hmac<D>);

impl<D: EagerHash> CryptoHash for Keyed<D>
where
    Hmac<D>: Mac + Clone + Send + Sync,
{
    fn hash(&self, data: &[u8], out: &mut [u8; 64]) -> usize {
        let mut mac = self.0.clone();
        mac.update(data);
        let digest = mac.finalize().into_bytes();
        out[..digest.len()].copy_from_slice(&digest);
        digest.len()
    }
}

fn crypto_hash<D>(key: Option<&[u8]>) -> Box<dyn CryptoHash>
where
    D: Digest + EagerHash + 'static,
    Hmac<D>: Mac + KeyInit + Clone + Send + Sync,
{
    // HMAC takes keys of any length, so `new_from_slice` cannot fail here.
    match key.and_then(|k| <Hmac<D> as KeyInit>::new_from_slice(k).ok()) {
        Some(mac) => Box::new(Keyed(mac)),
        None => Box::new(Plain::<D>(PhantomData)),
    }
}

impl Filter for Fingerprint {
    fn apply(&self, event: &mut Event) -> bool {
        let result = match self.mode {
            Mode::Uuid => {
                let id = uuid::Uuid::new_v4();
                let mut buf = uuid::Uuid::encode_buffer();
                let text = Text::new(id.hyphenated().encode_lower(&mut buf));
                event.insert(&self.target, Value::Str(text));
                Ok(())
            }
            Mode::Punctuation => self.punctuation(event),
            Mode::EachSource => self.each_source(event),
            Mode::ConcatenateSources => {
                let mut text = String::new();
                for source in &self.sources {
                    push_pair(&mut text, &source.name, event.get(&source.path));
                }
                self.store_concatenated(event, text)
            }
            Mode::ConcatenateAllFields => {
                let text = concatenate_fields(event.fields());
                self.store_concatenated(event, text)
            }
        };
        match result {
            Ok(()) => true,
            Err(error) => {
                self.report(&error);
                false
            }
        }
    }
}

impl Fingerprint {
    fn each_source(&self, event: &mut Event) -> Result<(), FingerprintError> {
        let mut scratch = String::new();
        for source in &self.sources {
            let fingerprint = match event.get(&source.path) {
                None => continue,
                Some(Value::Array(items)) => Value::Array(
                    items
                        .iter()
                        .map(|item| self.fingerprint(item, &mut scratch))
                        .collect::<Result<_, _>>()?,
                ),
                Some(value) => self.fingerprint(value, &mut scratch)?,
            };
            event.insert(&self.target, fingerprint);
        }
        Ok(())
    }

    fn store_concatenated(
        &self,
        event: &mut Event,
        mut text: String,
    ) -> Result<(), FingerprintError> {
        text.push('|');
        let fingerprint = self.fingerprint_str(&text)?;
        event.insert(&self.target, fingerprint);
        Ok(())
    }

    fn punctuation(&self, event: &mut Event) -> Result<(), FingerprintError> {
        for source in &self.sources {
            let punctuation = match event.get(&source.path) {
                None => continue,
                Some(Value::Str(s)) => punctuation_of(s),
                Some(other) => return Err(FingerprintError::NotAString(other.type_name())),
            };
            event.insert(&self.target, Value::Str(punctuation));
        }
        Ok(())
    }

    /// The fingerprint of one value in its canonical form.
    fn fingerprint(&self, value: &Value, scratch: &mut String) -> Result<Value, FingerprintError> {
        match (value, &self.hash) {
            (Value::Str(s), _) => self.fingerprint_str(s),
            (Value::Int(n), HashFn::Murmur3) => {
                Ok(Value::Int(i64::from(murmur3_32(&n.to_le_bytes()))))
            }
            (Value::Int(n), HashFn::Murmur3_128 { base64 }) => {
                // Logstash hashes integers that fit 32 bits as 4 bytes, others as 8.
                let digest = match i32::try_from(*n) {
                    Ok(small) => murmur3_128(&small.to_le_bytes()),
                    Err(_) => murmur3_128(&n.to_le_bytes()),
                };
                Ok(Value::Str(encode(&digest, *base64)))
            }
            _ => {
                scratch.clear();
                push_canonical(value, scratch);
                self.fingerprint_str(scratch)
            }
        }
    }

    fn fingerprint_str(&self, data: &str) -> Result<Value, FingerprintError> {
        Ok(match &self.hash {
            HashFn::Crypto { hasher, base64 } => {
                let mut out = [0u8; 64];
                let len = hasher.hash(data.as_bytes(), &mut out);
                Value::Str(encode(&out[..len], *base64))
            }
            HashFn::Murmur3 => Value::Int(i64::from(murmur3_32(data.as_bytes()))),
            HashFn::Murmur3_128 { base64 } => {
                Value::Str(encode(&murmur3_128(data.as_bytes()), *base64))
            }
            HashFn::Ipv4Network { prefix } => Value::Str(network_of(data, *prefix)?),
            HashFn::None => Value::Str(Text::new(data)),
        })
    }

    #[cold]
    fn report(&self, error: &FingerprintError) {
        // Bad data tends to repeat: warn once, then only at debug level.
        if self.warned.swap(true, Ordering::Relaxed) {
            tracing::debug!(%error, "fingerprint failed");
        } else {
            tracing::warn!(%error, "fingerprint failed; the event passes on without a fingerprint (later failures are logged at debug level)");
        }
    }
}

/// Appends `|name|value` as Logstash's concatenation does (a missing field is empty).
fn push_pair(out: &mut String, name: &str, value: Option<&Value>) {
    out.push('|');
    out.push_str(name);
    out.push('|');
    if let Some(value) = value {
        push_canonical(value, out);
    }
}

/// `|k|v` for every field, sorted by name, nested hashes sorted too.
fn concatenate_fields(fields: &Map) -> String {
    let mut entries: Vec<(&Text, &Value)> = fields.iter().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    let mut out = String::new();
    for (name, value) in entries {
        push_pair(&mut out, name, Some(value));
    }
    out
}

/// Logstash's canonical text of a value: hashes as `k|v|...` sorted by key, arrays as
/// `v|v|...`, scalars as Ruby's `to_s`.
fn push_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Map(map) => {
            let mut entries: Vec<(&Text, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push('|');
                }
                out.push_str(key);
                out.push('|');
                push_canonical(item, out);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push('|');
                }
                push_canonical(item, out);
            }
        }
        scalar => {
            // Writing to a String cannot fail.
            let _ = write_ruby_string(scalar, out);
        }
    }
}

/// Lower-case hex, or standard base64 with padding.
fn encode(bytes: &[u8], base64: bool) -> Text {
    if base64 {
        return Text::from_string(base64::engine::general_purpose::STANDARD.encode(bytes));
    }
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    Text::from_string(out)
}

fn murmur3_32(data: &[u8]) -> u32 {
    // Reading from a slice cannot fail.
    murmur3::murmur3_32(&mut &data[..], 0).unwrap_or_default()
}

/// MurmurHash3 x64 128-bit with Logstash's seed (2), as the 16 digest bytes.
fn murmur3_128(data: &[u8]) -> [u8; 16] {
    murmur3::murmur3_x64_128(&mut &data[..], 2)
        .unwrap_or_default()
        .to_le_bytes()
}

/// `IPAddr.new(text).mask(prefix).to_s`: the network address of `text` (which may carry its
/// own `/len`, the shorter prefix winning).
fn network_of(text: &str, prefix: u8) -> Result<Text, FingerprintError> {
    let bad = || FingerprintError::NotAnAddress(text.to_string());
    let (addr, own_prefix) = match text.split_once('/') {
        Some((addr, len)) => (addr, Some(len.parse::<u8>().map_err(|_| bad())?)),
        None => (text, None),
    };
    let addr: IpAddr = addr.parse().map_err(|_| bad())?;
    let bits = own_prefix.map_or(prefix, |own| own.min(prefix));
    let masked = match addr {
        IpAddr::V4(v4) => {
            if bits > 32 {
                return Err(FingerprintError::PrefixTooLong(bits));
            }
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            IpAddr::from((u32::from(v4) & mask).to_be_bytes())
        }
        IpAddr::V6(v6) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            IpAddr::from((u128::from(v6) & mask).to_be_bytes())
        }
    };
    let mut out = String::new();
    let _ = write!(out, "{masked}");
    Ok(Text::from_string(out))
}

/// Only the characters in Unicode's punctuation (P) and symbol (S) categories, as Logstash's
/// `gsub(/[^[\p{P}\p{S}]]/, '')`.
fn punctuation_of(s: &str) -> Text {
    if s.is_ascii() {
        // Every ASCII punctuation character is in P or S, and no other ASCII character is.
        let kept: String = s.chars().filter(char::is_ascii_punctuation).collect();
        return Text::from_string(kept);
    }
    static OTHER: LazyLock<regex::Regex> =
        LazyLock::new(|| regex::Regex::new(r"[^\p{P}\p{S}]+").expect("a valid regex"));
    Text::from_string(OTHER.replace_all(s, "").into_owned())
}
