//! What the stand-in remembers: indices and their documents, templates, ILM policies.
//!
//! Sources are kept as the raw bytes of their bulk line (validated JSON), parsed only when a
//! test or a search asks. An index is created by its first write; if a composable template with
//! `data_stream` matches its name at that moment, it is a data stream.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};

use rand::RngCore;
use serde_json::Value;

/// A stored document.
pub(super) struct Doc {
    pub version: u64,
    pub seq_no: u64,
    pub source: Box<[u8]>,
}

/// One index or data stream.
pub(super) struct Index {
    pub docs: HashMap<Box<str>, Doc>,
    /// Documents written while sources are not stored.
    pub counted: usize,
    /// The next `_seq_no`.
    pub seq_no: u64,
    /// Versions of deleted ids: re-creating one continues its version, as ES's tombstones do.
    pub tombstones: HashMap<Box<str>, u64>,
    /// The backing index a data stream answers with; None for a plain index.
    pub backing: Option<String>,
    pub uuid: String,
}

impl Index {
    fn new(backing: Option<String>) -> Index {
        Index {
            docs: HashMap::new(),
            counted: 0,
            seq_no: 0,
            tombstones: HashMap::new(),
            backing,
            uuid: random_base64(16),
        }
    }

    pub fn count(&self) -> usize {
        self.docs.len() + self.counted
    }

    pub fn next_seq_no(&mut self) -> u64 {
        self.seq_no += 1;
        self.seq_no - 1
    }
}

/// The kinds of named objects the stand-in stores as given.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) enum Kind {
    IndexTemplate,
    LegacyTemplate,
    IlmPolicy,
}

/// Every index and named object.
pub(super) struct Store {
    pub indices: HashMap<String, Index>,
    named: BTreeMap<(Kind, String), Value>,
    pub store_sources: bool,
}

impl Store {
    pub fn new(store_sources: bool) -> Store {
        Store {
            indices: HashMap::new(),
            named: BTreeMap::new(),
            store_sources,
        }
    }

    pub fn clear(&mut self) {
        self.indices.clear();
        self.named.clear();
    }

    pub fn count(&self, index: &str) -> usize {
        self.indices.get(index).map_or(0, Index::count)
    }

    pub fn doc(&self, index: &str, id: &str) -> Option<Value> {
        let doc = self.indices.get(index)?.docs.get(id)?;
        serde_json::from_slice(&doc.source).ok()
    }

    pub fn docs(&self, index: &str) -> Vec<(String, Value)> {
        let Some(ix) = self.indices.get(index) else {
            return Vec::new();
        };
        let mut docs: Vec<_> = ix.docs.iter().collect();
        docs.sort_by_key(|(_, d)| d.seq_no);
        docs.into_iter()
            .map(|(id, d)| {
                let source = serde_json::from_slice(&d.source).unwrap_or(Value::Null);
                (id.to_string(), source)
            })
            .collect()
    }

    pub fn index_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.indices.keys().cloned().collect();
        names.sort();
        names
    }

    pub fn is_data_stream(&self, name: &str) -> bool {
        self.indices.get(name).is_some_and(|i| i.backing.is_some())
    }

    /// The index a write goes to, created (as a data stream when a template says so) if new.
    pub fn index_for_write(&mut self, name: &str) -> &mut Index {
        if !self.indices.contains_key(name) {
            let backing = self.data_stream_template(name).then(|| backing_index(name));
            self.indices.insert(name.to_string(), Index::new(backing));
        }
        self.indices.get_mut(name).expect("inserted above")
    }

    /// Creates an empty index; false when it exists.
    pub fn create_index(&mut self, name: &str) -> bool {
        if self.indices.contains_key(name) {
            return false;
        }
        self.index_for_write(name);
        true
    }

    /// Whether the highest-priority composable template matching `name` makes a data stream.
    fn data_stream_template(&self, name: &str) -> bool {
        let best = self
            .named
            .range((Kind::IndexTemplate, String::new())..(Kind::LegacyTemplate, String::new()))
            .map(|(_, t)| t)
            .filter(|t| template_matches(t, name))
            .max_by_key(|t| t.get("priority").and_then(Value::as_i64).unwrap_or(0));
        best.is_some_and(|t| t.get("data_stream").is_some_and(Value::is_object))
    }

    /// Every object of a kind whose name matches `pattern` (`*` wildcards, commas).
    pub fn named_matching(&self, kind: Kind, pattern: &str) -> Vec<(&str, &Value)> {
        self.named
            .iter()
            .filter(|((k, n), _)| *k == kind && pattern.split(',').any(|p| glob(p, n)))
            .map(|((_, n), v)| (n.as_str(), v))
            .collect()
    }

    pub fn put_named(&mut self, kind: Kind, name: &str, body: Value) {
        self.named.insert((kind, name.to_string()), body);
    }

    pub fn delete_named(&mut self, kind: Kind, name: &str) -> bool {
        self.named.remove(&(kind, name.to_string())).is_some()
    }

    pub fn templates(&self, kind: Kind) -> Vec<(String, Value)> {
        self.named
            .iter()
            .filter(|((k, _), _)| *k == kind)
            .map(|((_, n), v)| (n.clone(), v.clone()))
            .collect()
    }
}

fn template_matches(template: &Value, index: &str) -> bool {
    match template.get("index_patterns") {
        Some(Value::String(p)) => glob(p, index),
        Some(Value::Array(ps)) => ps.iter().filter_map(Value::as_str).any(|p| glob(p, index)),
        _ => false,
    }
}

/// `*`-wildcard match, as index patterns use.
pub(super) fn glob(pattern: &str, name: &str) -> bool {
    let Some((first, rest)) = pattern.split_once('*') else {
        return pattern == name;
    };
    let Some(mut tail) = name.strip_prefix(first) else {
        return false;
    };
    let mut parts: Vec<&str> = rest.split('*').collect();
    let last = parts.pop().unwrap_or("");
    for part in parts {
        match tail.find(part) {
            Some(at) => tail = &tail[at + part.len()..],
            None => return false,
        }
    }
    tail.len() >= last.len() && tail.ends_with(last)
}

/// `.ds-<name>-<yyyy.MM.dd>-000001`, the first backing index of a data stream created today.
fn backing_index(name: &str) -> String {
    format!(
        ".ds-{name}-{}-000001",
        chrono::Utc::now().format("%Y.%m.%d")
    )
}

const BASE64URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// `n` random bytes as unpadded base64url (cluster and index uuids).
pub(super) fn random_base64(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    rand::thread_rng().fill_bytes(&mut bytes);
    base64url(&bytes)
}

fn base64url(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 4 / 3 + 3);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(BASE64URL[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

/// Auto-generated `_id`s: 20 base64url characters, like ES's time-based ids (15 bytes: a
/// millisecond timestamp, a per-server random node part and a sequence number).
pub(super) struct IdGenerator {
    node: [u8; 5],
    seq: AtomicU64,
}

impl IdGenerator {
    pub fn new() -> IdGenerator {
        let mut node = [0u8; 5];
        rand::thread_rng().fill_bytes(&mut node);
        IdGenerator {
            node,
            seq: AtomicU64::new(rand::random::<u32>().into()),
        }
    }

    pub fn next(&self) -> String {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let millis = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let mut bytes = [0u8; 15];
        bytes[..6].copy_from_slice(&millis.to_be_bytes()[2..]);
        bytes[6..11].copy_from_slice(&self.node);
        bytes[11..].copy_from_slice(&(seq as u32).to_be_bytes());
        // Sequence first so ids sharing a millisecond differ early, as ES's do.
        bytes.rotate_left(11);
        base64url(&bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_matches_index_patterns() {
        assert!(glob("logs-*-*", "logs-app-default"));
        assert!(!glob("logs-*-*", "logs-app"));
        assert!(glob("*", "anything"));
        assert!(glob("a*b*a", "abba"));
        assert!(!glob("a*b*a", "ab"));
        assert!(glob("exact", "exact"));
    }

    #[test]
    fn ids_are_20_distinct_base64url_chars() {
        let g = IdGenerator::new();
        let (a, b) = (g.next(), g.next());
        assert_eq!(a.len(), 20);
        assert_ne!(a, b);
        assert!(a.bytes().all(|c| BASE64URL.contains(&c)));
    }

    #[test]
    fn data_stream_by_highest_priority_template() {
        let mut s = Store::new(true);
        let ds =
            serde_json::json!({"index_patterns": ["logs-*"], "data_stream": {}, "priority": 200});
        let plain = serde_json::json!({"index_patterns": ["logs-plain*"], "priority": 300});
        s.put_named(Kind::IndexTemplate, "ds", ds);
        s.put_named(Kind::IndexTemplate, "plain", plain);
        assert!(s.index_for_write("logs-app").backing.is_some());
        assert!(s.index_for_write("logs-plain-x").backing.is_none());
        assert!(s.index_for_write("other").backing.is_none());
    }
}
