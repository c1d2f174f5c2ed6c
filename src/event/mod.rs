//! The event model: what flows through a pipeline.
//!
//! An [`Event`] is a [`Map`] of fields plus a separate metadata map, with Logstash's special
//! fields: `@timestamp` (a [`Timestamp`]), `@version` (`"1"`), `tags`, `type`, `message` and
//! `@metadata` (never emitted by outputs). Values are [`Value`]s whose strings are [`Text`]s:
//! inline when short, a shared slice of the raw input buffer when long, so building an event from
//! a line copies the line at most once.
//!
//! Field references are parsed once into [`FieldPath`]s; sprintf templates into
//! [`sprintf::Template`]s. Events travel in [`Batch`]es, which carry the [`AckToken`]s that tell
//! an input when its events have been delivered.
//!
//! Layout:
//! - `text`: [`Text`], the string type;
//! - `value`: [`Value`] and [`Map`];
//! - `timestamp`: [`Timestamp`], formatting and parsing ISO8601;
//! - `path`: [`FieldPath`];
//! - `json`: serialising events straight into a byte buffer, and parsing JSON into values;
//! - `sprintf`: `%{[field]}` / `%{+YYYY.MM.dd}` templates;
//! - `batch`: [`Batch`], [`AckToken`];
//! - `ruby`: values printed as Logstash's Ruby code prints them (`123.0`, `{"k"=>1}`);
//! - `decimal`: float digits for writers that mimic Java's or Ruby's float printing.

mod batch;
pub mod decimal;
pub mod json;
mod path;
pub mod ruby;
pub mod sprintf;
mod text;
mod timestamp;
mod value;

pub use batch::{AckStatus, AckToken, Acknowledge, Batch};
pub use path::{FieldPath, PathError};
pub use text::{Text, INLINE_CAP};
pub use timestamp::Timestamp;
pub use value::{Map, Value};

/// Field names with a meaning of their own.
pub mod names {
    use super::Text;
    pub const TIMESTAMP: Text = Text::from_static("@timestamp");
    pub const VERSION: Text = Text::from_static("@version");
    pub const MESSAGE: Text = Text::from_static("message");
    pub const TAGS: Text = Text::from_static("tags");
    pub const TYPE: Text = Text::from_static("type");
    pub const HOST: Text = Text::from_static("host");
}

const VERSION_ONE: Text = Text::from_static("1");

/// One log event.
#[derive(Clone, Debug, Default)]
pub struct Event {
    fields: Map,
    metadata: Map,
    cancelled: bool,
    /// The event's place in its batch while a branch splits the batch (see
    /// [`Event::batch_position`]); not part of the event's data.
    position: u32,
}

/// Two events are equal when their data is: fields, metadata and whether they are dropped.
impl PartialEq for Event {
    fn eq(&self, other: &Event) -> bool {
        self.fields == other.fields
            && self.metadata == other.metadata
            && self.cancelled == other.cancelled
    }
}

impl Event {
    /// An event with only `@timestamp` and `@version`.
    pub fn new(timestamp: Timestamp) -> Event {
        let mut fields = Map::with_capacity(8);
        fields.push_new(names::TIMESTAMP, Value::Timestamp(timestamp));
        fields.push_new(names::VERSION, Value::Str(VERSION_ONE));
        Event {
            fields,
            metadata: Map::new(),
            cancelled: false,
            position: 0,
        }
    }

    /// The usual event made by an input: `@timestamp`, `@version` and `message`.
    pub fn from_message(message: Text, timestamp: Timestamp) -> Event {
        let mut event = Event::new(timestamp);
        event.fields.push_new(names::MESSAGE, Value::Str(message));
        event
    }

    /// An event whose fields are `fields` exactly (e.g. decoded JSON); `@version` is added if
    /// absent and `@timestamp` set to `now` if absent. A string `@timestamp` that is not ISO8601
    /// is moved to `_@timestamp` and the event tagged `_timestampparsefailure`, as in Logstash.
    pub fn from_fields(mut fields: Map, now: Timestamp) -> Event {
        let mut failed = false;
        match fields.get("@timestamp") {
            None => {
                fields.insert(names::TIMESTAMP, Value::Timestamp(now));
            }
            Some(Value::Timestamp(_)) => {}
            Some(Value::Str(s)) => match Timestamp::parse_iso8601(s) {
                Some(ts) => {
                    fields.insert(names::TIMESTAMP, Value::Timestamp(ts));
                }
                None => failed = true,
            },
            Some(_) => failed = true,
        }
        if failed {
            let original = fields.remove("@timestamp").unwrap_or(Value::Null);
            fields.insert(Text::from_static("_@timestamp"), original);
            fields.insert(names::TIMESTAMP, Value::Timestamp(now));
        }
        if !fields.contains_key("@version") {
            fields.insert(names::VERSION, Value::Str(VERSION_ONE));
        }
        let mut event = Event {
            fields,
            metadata: Map::new(),
            cancelled: false,
            position: 0,
        };
        if failed {
            event.add_tag(Text::from_static("_timestampparsefailure"));
        }
        event
    }

    pub fn fields(&self) -> &Map {
        &self.fields
    }

    pub fn fields_mut(&mut self) -> &mut Map {
        &mut self.fields
    }

    pub fn metadata(&self) -> &Map {
        &self.metadata
    }

    pub fn metadata_mut(&mut self) -> &mut Map {
        &mut self.metadata
    }

    fn root(&self, path: &FieldPath) -> &Map {
        if path.is_metadata() {
            &self.metadata
        } else {
            &self.fields
        }
    }

    fn root_mut(&mut self, path: &FieldPath) -> &mut Map {
        if path.is_metadata() {
            &mut self.metadata
        } else {
            &mut self.fields
        }
    }

    /// The value at `path`, if present.
    pub fn get(&self, path: &FieldPath) -> Option<&Value> {
        let (first, rest) = path.segments().split_first()?;
        let mut value = self.root(path).get(first)?;
        for key in rest {
            value = child(value, key)?;
        }
        Some(value)
    }

    pub fn get_mut(&mut self, path: &FieldPath) -> Option<&mut Value> {
        let (first, rest) = path.segments().split_first()?;
        let mut value = self.root_mut(path).get_mut(first)?;
        for key in rest {
            value = child_mut(value, key)?;
        }
        Some(value)
    }

    /// A top-level field by name.
    pub fn get_field(&self, name: &str) -> Option<&Value> {
        self.fields.get(name)
    }

    /// Sets a top-level field.
    pub fn set_field(&mut self, name: Text, value: Value) -> Option<Value> {
        self.fields.insert(name, value)
    }

    /// Sets the value at `path`, creating intermediate maps (and replacing non-map values on the
    /// way, as Logstash does). Returns the previous value. Setting `[@metadata]` itself replaces
    /// the metadata map when `value` is a map and is ignored otherwise.
    pub fn insert(&mut self, path: &FieldPath, value: Value) -> Option<Value> {
        let Some((last, parents)) = path.segments().split_last() else {
            if let Value::Map(m) = value {
                return Some(Value::Map(std::mem::replace(&mut self.metadata, m)));
            }
            return None;
        };
        let mut map = self.root_mut(path);
        let mut parents = parents.iter();
        while let Some(key) = parents.next() {
            let slot = map.get_or_insert_with(key, || Value::Map(Map::new()));
            let slot = match descend_arrays(slot, &mut parents, last) {
                Ok(slot) => slot,
                Err(element) => return Some(std::mem::replace(element, value)),
            };
            if !matches!(slot, Value::Map(_)) {
                *slot = Value::Map(Map::new());
            }
            map = slot.as_map_mut().expect("just made a map");
        }
        map.insert(last.clone(), value)
    }

    /// Adds `value` at `path` as Logstash's `add_field` does: a new field is set; an existing one
    /// becomes (or grows) an array.
    pub fn add_value(&mut self, path: &FieldPath, value: Value) {
        match self.get_mut(path) {
            Some(Value::Array(items)) => items.push(value),
            Some(existing) => {
                let old = std::mem::replace(existing, Value::Null);
                *existing = Value::Array(vec![old, value]);
            }
            None => {
                self.insert(path, value);
            }
        }
    }

    /// Removes the value at `path`, returning it.
    pub fn remove(&mut self, path: &FieldPath) -> Option<Value> {
        let (last, parents) = path.segments().split_last()?;
        let (first, middle) = match parents.split_first() {
            Some(split) => split,
            None => return self.root_mut(path).remove(last),
        };
        let mut parent = self.root_mut(path).get_mut(first)?;
        for key in middle {
            parent = child_mut(parent, key)?;
        }
        match parent {
            Value::Map(m) => m.remove(last),
            Value::Array(a) => {
                let i = array_index(a.len(), last)?;
                Some(a.remove(i))
            }
            _ => None,
        }
    }

    pub fn contains(&self, path: &FieldPath) -> bool {
        self.get(path).is_some()
    }

    /// `@timestamp`, when it holds a timestamp.
    pub fn timestamp(&self) -> Option<Timestamp> {
        match self.fields.get("@timestamp") {
            Some(Value::Timestamp(t)) => Some(*t),
            _ => None,
        }
    }

    pub fn set_timestamp(&mut self, ts: Timestamp) {
        self.fields.insert(names::TIMESTAMP, Value::Timestamp(ts));
    }

    /// The `message` field as a string, if it is one.
    pub fn message(&self) -> Option<&str> {
        self.fields.get("message").and_then(Value::as_str)
    }

    /// True when `tags` holds `tag` (as a list or a single string).
    pub fn has_tag(&self, tag: &str) -> bool {
        match self.fields.get("tags") {
            Some(Value::Array(a)) => a.iter().any(|v| v.as_str() == Some(tag)),
            Some(Value::Str(s)) => s.as_str() == tag,
            _ => false,
        }
    }

    /// Adds `tag` to `tags` unless present; a single-string `tags` becomes a list.
    pub fn add_tag(&mut self, tag: Text) {
        let tags = self
            .fields
            .get_or_insert_with("tags", || Value::Array(Vec::with_capacity(1)));
        match tags {
            Value::Array(a) => {
                if !a.iter().any(|v| v.as_str() == Some(tag.as_str())) {
                    a.push(Value::Str(tag));
                }
            }
            other => {
                let old = std::mem::replace(other, Value::Null);
                if old.as_str() == Some(tag.as_str()) {
                    *other = Value::Array(vec![old]);
                } else {
                    *other = Value::Array(vec![old, Value::Str(tag)]);
                }
            }
        }
    }

    /// Removes `tag` from `tags`.
    pub fn remove_tag(&mut self, tag: &str) {
        match self.fields.get_mut("tags") {
            Some(Value::Array(a)) => a.retain(|v| v.as_str() != Some(tag)),
            Some(Value::Str(s)) if s.as_str() == tag => {
                self.fields.insert(names::TAGS, Value::Array(Vec::new()));
            }
            _ => {}
        }
    }

    /// Marks the event as dropped; the pipeline discards it after the current filter.
    pub fn cancel(&mut self) {
        self.cancelled = true;
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancelled
    }

    /// Where the event stood in its batch when a conditional split the batch; copied to events
    /// cloned from it. Lets the filter graph put the batch back in its original order.
    pub fn batch_position(&self) -> u32 {
        self.position
    }

    pub fn set_batch_position(&mut self, position: u32) {
        self.position = position;
    }
}

/// Resolves a path segment as an array index, as Logstash does for `[list][0]` and `[list][-1]`.
fn array_index(len: usize, key: &str) -> Option<usize> {
    let i: i64 = key.parse().ok()?;
    let i = if i < 0 { len as i64 + i } else { i };
    (0..len as i64).contains(&i).then_some(i as usize)
}

/// Walks from `slot` through array elements named by index segments (`[list][0]`), so that
/// inserting below an existing array element updates it instead of replacing the array. Returns
/// `Err(element)` when the path's last segment indexes an existing element.
fn descend_arrays<'v>(
    mut slot: &'v mut Value,
    parents: &mut std::slice::Iter<'_, Text>,
    last: &Text,
) -> Result<&'v mut Value, &'v mut Value> {
    loop {
        let index = match &*slot {
            Value::Array(a) => array_index(a.len(), parents.as_slice().first().unwrap_or(last)),
            _ => None,
        };
        let Some(i) = index else {
            return Ok(slot);
        };
        let Value::Array(a) = slot else {
            return Ok(slot);
        };
        if parents.next().is_none() {
            return Err(&mut a[i]);
        }
        slot = &mut a[i];
    }
}

/// The value under `key` in a map, or at index `key` in an array.
fn child<'v>(value: &'v Value, key: &str) -> Option<&'v Value> {
    match value {
        Value::Map(m) => m.get(key),
        Value::Array(a) => a.get(array_index(a.len(), key)?),
        _ => None,
    }
}

fn child_mut<'v>(value: &'v mut Value, key: &str) -> Option<&'v mut Value> {
    match value {
        Value::Map(m) => m.get_mut(key),
        Value::Array(a) => {
            let i = array_index(a.len(), key)?;
            a.get_mut(i)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn array_elements_are_addressed_by_index() {
        let mut e = Event::new(Timestamp::from_secs(0));
        e.set_field(
            "list".into(),
            Value::Array(vec!["a".into(), "b".into(), "c".into()]),
        );
        assert_eq!(e.get(&path("[list][0]")), Some(&Value::from("a")));
        assert_eq!(e.get(&path("[list][-1]")), Some(&Value::from("c")));
        assert!(e.get(&path("[list][3]")).is_none());
        *e.get_mut(&path("[list][1]")).unwrap() = "B".into();
        assert_eq!(e.remove(&path("[list][1]")), Some(Value::from("B")));
        assert_eq!(e.get(&path("[list][1]")), Some(&Value::from("c")));
        assert_eq!(
            e.insert(&path("[list][0]"), "A".into()),
            Some(Value::from("a"))
        );
        assert_eq!(e.get(&path("[list][0]")), Some(&Value::from("A")));
    }

    fn path(s: &str) -> FieldPath {
        FieldPath::parse(s).unwrap()
    }

    #[test]
    fn new_event_has_logstash_special_fields_in_order() {
        let e = Event::from_message("hi".into(), Timestamp::from_secs(0));
        let keys: Vec<&str> = e.fields().keys().map(|k| k.as_str()).collect();
        assert_eq!(keys, ["@timestamp", "@version", "message"]);
        assert_eq!(e.message(), Some("hi"));
    }

    #[test]
    fn nested_insert_get_remove() {
        let mut e = Event::new(Timestamp::from_secs(0));
        e.insert(&path("[a][b][c]"), 1.into());
        assert_eq!(e.get(&path("[a][b][c]")), Some(&Value::Int(1)));
        assert!(e.get(&path("[a][x]")).is_none());
        assert_eq!(e.remove(&path("[a][b][c]")), Some(Value::Int(1)));
        assert!(e.get(&path("[a][b]")).unwrap().as_map().unwrap().is_empty());
    }

    #[test]
    fn insert_through_a_scalar_replaces_it() {
        let mut e = Event::new(Timestamp::from_secs(0));
        e.set_field("a".into(), "s".into());
        e.insert(&path("[a][b]"), 2.into());
        assert_eq!(e.get(&path("[a][b]")), Some(&Value::Int(2)));
    }

    #[test]
    fn metadata_is_separate_from_fields() {
        let mut e = Event::new(Timestamp::from_secs(0));
        e.insert(&path("[@metadata][index]"), "x".into());
        assert!(e.get_field("@metadata").is_none());
        assert_eq!(e.metadata().get("index"), Some(&Value::from("x")));
    }

    #[test]
    fn tags_add_once_and_remove() {
        let mut e = Event::new(Timestamp::from_secs(0));
        e.add_tag("a".into());
        e.add_tag("a".into());
        e.add_tag("b".into());
        assert_eq!(
            e.get_field("tags"),
            Some(&Value::Array(vec!["a".into(), "b".into()]))
        );
        e.remove_tag("a");
        assert!(!e.has_tag("a") && e.has_tag("b"));
    }

    #[test]
    fn from_fields_moves_a_bad_timestamp_aside() {
        let mut m = Map::new();
        m.insert("@timestamp".into(), "not a date".into());
        let e = Event::from_fields(m, Timestamp::from_secs(5));
        assert_eq!(e.timestamp(), Some(Timestamp::from_secs(5)));
        assert_eq!(e.get_field("_@timestamp"), Some(&Value::from("not a date")));
        assert!(e.has_tag("_timestampparsefailure"));
    }
}
