//! [`Value`] and [`Map`]: the dynamically typed contents of an event.

use super::{Text, Timestamp};

/// One field value. Mirrors what a Logstash event can hold.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Text),
    Timestamp(Timestamp),
    Array(Vec<Value>),
    Map(Map),
}

impl Value {
    /// The string, if this is a string value.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(t) => Some(t.as_str()),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&Map> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_map_mut(&mut self) -> Option<&mut Map> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    /// Logstash truthiness: false for null, `false`, the empty string, the string `"false"`, and
    /// empty arrays and maps; true otherwise.
    pub fn is_truthy(&self) -> bool {
        match self {
            Value::Null => false,
            Value::Bool(b) => *b,
            Value::Str(s) => !s.is_empty() && s.as_str() != "false",
            Value::Array(a) => !a.is_empty(),
            Value::Map(m) => !m.is_empty(),
            Value::Int(_) | Value::Float(_) | Value::Timestamp(_) => true,
        }
    }

    /// A short name of the type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Int(_) => "integer",
            Value::Float(_) => "float",
            Value::Str(_) => "string",
            Value::Timestamp(_) => "timestamp",
            Value::Array(_) => "array",
            Value::Map(_) => "hash",
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::Str(Text::new(s))
    }
}
impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::Str(Text::from_string(s))
    }
}
impl From<Text> for Value {
    fn from(s: Text) -> Value {
        Value::Str(s)
    }
}
impl From<i64> for Value {
    fn from(n: i64) -> Value {
        Value::Int(n)
    }
}
impl From<f64> for Value {
    fn from(n: f64) -> Value {
        Value::Float(n)
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}
impl From<Timestamp> for Value {
    fn from(t: Timestamp) -> Value {
        Value::Timestamp(t)
    }
}
impl From<Map> for Value {
    fn from(m: Map) -> Value {
        Value::Map(m)
    }
}
impl From<Vec<Value>> for Value {
    fn from(a: Vec<Value>) -> Value {
        Value::Array(a)
    }
}

/// A small ordered map from field name to value.
///
/// Events carry 5-30 fields, where a linear scan over a flat vector beats hashing; insertion
/// order is kept so output reads in the order fields were added.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Map {
    entries: Vec<(Text, Value)>,
}

impl Map {
    pub fn new() -> Map {
        Map::default()
    }

    pub fn with_capacity(n: usize) -> Map {
        Map {
            entries: Vec::with_capacity(n),
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn position(&self, key: &str) -> Option<usize> {
        self.entries.iter().position(|(k, _)| k.as_str() == key)
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.entries
            .iter()
            .find(|(k, _)| k.as_str() == key)
            .map(|(_, v)| v)
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        self.entries
            .iter_mut()
            .find(|(k, _)| k.as_str() == key)
            .map(|(_, v)| v)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.position(key).is_some()
    }

    /// Sets `key`, keeping its place if it exists; returns the previous value.
    pub fn insert(&mut self, key: Text, value: Value) -> Option<Value> {
        match self.position(&key) {
            Some(i) => Some(std::mem::replace(&mut self.entries[i].1, value)),
            None => {
                self.entries.push((key, value));
                None
            }
        }
    }

    /// Appends `key` without looking for it first; the caller knows it is absent (building a
    /// fresh event). A duplicate key would shadow nothing: lookups find the first one.
    pub fn push_new(&mut self, key: Text, value: Value) {
        debug_assert!(!self.contains_key(&key), "push_new of existing key {key}");
        self.entries.push((key, value));
    }

    /// The value at `key`, inserting `make()` first if absent.
    pub fn get_or_insert_with(&mut self, key: &str, make: impl FnOnce() -> Value) -> &mut Value {
        let i = match self.position(key) {
            Some(i) => i,
            None => {
                self.entries.push((Text::new(key), make()));
                self.entries.len() - 1
            }
        };
        &mut self.entries[i].1
    }

    /// Removes `key`, keeping the order of the others.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        self.position(key).map(|i| self.entries.remove(i).1)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&Text, &Value)> {
        self.entries.iter().map(|(k, v)| (k, v))
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&Text, &mut Value)> {
        self.entries.iter_mut().map(|(k, v)| (&*k, v))
    }

    pub fn keys(&self) -> impl Iterator<Item = &Text> {
        self.entries.iter().map(|(k, _)| k)
    }

    /// Renames `from` to `to` in place (keeping the position); replaces an existing `to`.
    pub fn rename(&mut self, from: &str, to: Text) -> bool {
        let Some(i) = self.position(from) else {
            return false;
        };
        if let Some(j) = self.position(&to) {
            if j != i {
                let (_, v) = self.entries.remove(i);
                let j = if j > i { j - 1 } else { j };
                self.entries[j].1 = v;
                return true;
            }
        }
        self.entries[i].0 = to;
        true
    }
}

impl FromIterator<(Text, Value)> for Map {
    fn from_iter<I: IntoIterator<Item = (Text, Value)>>(iter: I) -> Map {
        let mut map = Map::new();
        for (k, v) in iter {
            map.insert(k, v);
        }
        map
    }
}

impl IntoIterator for Map {
    type Item = (Text, Value);
    type IntoIter = std::vec::IntoIter<(Text, Value)>;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_replaces_in_place_and_keeps_order() {
        let mut m = Map::new();
        m.insert("a".into(), 1.into());
        m.insert("b".into(), 2.into());
        assert_eq!(m.insert("a".into(), 3.into()), Some(Value::Int(1)));
        let keys: Vec<&str> = m.keys().map(|k| k.as_str()).collect();
        assert_eq!(keys, ["a", "b"]);
        assert_eq!(m.get("a"), Some(&Value::Int(3)));
    }

    #[test]
    fn truthiness_follows_logstash() {
        assert!(!Value::Null.is_truthy());
        assert!(!Value::from("").is_truthy());
        assert!(!Value::from("false").is_truthy());
        assert!(Value::from("no").is_truthy());
        assert!(Value::Int(0).is_truthy());
        assert!(!Value::Array(vec![]).is_truthy());
    }

    #[test]
    fn rename_overwrites_existing_target() {
        let mut m = Map::new();
        m.insert("a".into(), 1.into());
        m.insert("b".into(), 2.into());
        assert!(m.rename("a", "b".into()));
        assert_eq!(m.len(), 1);
        assert_eq!(m.get("b"), Some(&Value::Int(1)));
    }
}
