//! The translate dictionary: its entries, how a value is looked up in it (exact, key regexes,
//! or literal keys replaced inside the value), and how a dictionary file is read.
//!
//! A [`Dictionary`] is immutable once built; a refresh builds a new one and swaps it in (see
//! the parent module), so lookups never lock.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::event::json::parse_value;
use crate::event::ruby::write_ruby_string;
use crate::event::{Map, Text, Value};

/// How keys are matched, from `exact` and `regex`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatchMode {
    /// The whole value equals a key.
    Exact,
    /// The first key (in dictionary order) whose regex matches somewhere in the value.
    ExactRegex,
    /// Every occurrence of any key inside the value is replaced by its translation.
    Union,
}

/// The file formats, chosen by extension as Logstash does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileFormat {
    Yaml,
    Json,
    Csv,
}

impl FileFormat {
    /// `.yml`/`.yaml`, `.json` or `.csv`; anything else is not a dictionary file.
    pub fn of(path: &str) -> Option<FileFormat> {
        if path.ends_with(".yml") || path.ends_with(".yaml") {
            Some(FileFormat::Yaml)
        } else if path.ends_with(".json") {
            Some(FileFormat::Json)
        } else if path.ends_with(".csv") {
            Some(FileFormat::Csv)
        } else {
            None
        }
    }
}

/// Why a dictionary could not be built or read.
#[derive(Debug, thiserror::Error)]
pub enum DictionaryError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("the incoming YAML document exceeds the limit: {limit} code points (`yaml_dictionary_code_point_limit`)")]
    TooLarge { limit: u64 },
    #[error("the dictionary key `{key}` is not a valid regex: {message}")]
    BadKey { key: String, message: String },
    #[error("the dictionary's keys make a regex too large to build: {0}")]
    TooManyKeys(String),
}

/// Dictionary entries in Ruby hash order: a key updated in place keeps its position.
#[derive(Clone, Debug, Default)]
pub struct Entries {
    items: Vec<(Text, Value)>,
    index: HashMap<Text, usize>,
}

impl Entries {
    pub fn insert(&mut self, key: Text, value: Value) {
        match self.index.get(key.as_str()) {
            Some(&i) => self.items[i].1 = value,
            None => {
                self.index.insert(key.clone(), self.items.len());
                self.items.push((key, value));
            }
        }
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

/// A dictionary ready for lookups.
#[derive(Debug)]
pub struct Dictionary {
    entries: Entries,
    matcher: Matcher,
}

#[derive(Debug)]
enum Matcher {
    Exact,
    Regexes(KeyRegexes),
    /// `None` when the dictionary is empty (nothing ever matches).
    Union(Option<regex::Regex>),
}

/// The keys as regexes. A `RegexSet` finds the first matching key in one pass when every key
/// compiles with the `regex` crate; keys that need lookaround or backreferences fall back to
/// `fancy-regex`, tried one by one.
#[derive(Debug)]
struct KeyRegexes {
    set: Option<regex::RegexSet>,
    each: Vec<KeyRegex>,
}

#[derive(Debug)]
enum KeyRegex {
    Plain(regex::Regex),
    Fancy(Box<fancy_regex::Regex>),
}

impl KeyRegex {
    /// Ruby's `^` and `$` match at line boundaries, hence multi-line.
    fn compile(key: &str) -> Result<KeyRegex, DictionaryError> {
        match regex::RegexBuilder::new(key).multi_line(true).build() {
            Ok(re) => Ok(KeyRegex::Plain(re)),
            Err(plain) => fancy_regex::Regex::new(&format!("(?m){key}"))
                .map(|re| KeyRegex::Fancy(Box::new(re)))
                .map_err(|_| DictionaryError::BadKey {
                    key: key.to_string(),
                    message: crate::config::source::regex_error_summary(&plain),
                }),
        }
    }

    fn is_match(&self, text: &str) -> bool {
        match self {
            KeyRegex::Plain(re) => re.is_match(text),
            // A match that runs out of backtracking budget counts as no match.
            KeyRegex::Fancy(re) => re.is_match(text).unwrap_or(false),
        }
    }
}

/// The largest compiled form we allow for the key regexes.
const REGEX_SIZE_LIMIT: usize = 512 << 20;

impl Dictionary {
    pub fn new(entries: Entries, mode: MatchMode) -> Result<Dictionary, DictionaryError> {
        let matcher = match mode {
            MatchMode::Exact => Matcher::Exact,
            MatchMode::ExactRegex => Matcher::Regexes(key_regexes(&entries)?),
            MatchMode::Union => Matcher::Union(union_regex(&entries)?),
        };
        Ok(Dictionary { entries, matcher })
    }

    pub fn entries(&self) -> &Entries {
        &self.entries
    }

    /// The translation of `source`, if any.
    pub fn lookup(&self, source: &str) -> Option<Value> {
        match &self.matcher {
            Matcher::Exact => self
                .entries
                .index
                .get(source)
                .map(|&i| self.entries.items[i].1.clone()),
            Matcher::Regexes(keys) => {
                let i = match &keys.set {
                    Some(set) => set.matches(source).iter().next(),
                    None => keys.each.iter().position(|re| re.is_match(source)),
                }?;
                Some(self.entries.items[i].1.clone())
            }
            Matcher::Union(None) => None,
            Matcher::Union(Some(re)) => match self.replace_keys(re, source) {
                Cow::Owned(replaced) if replaced != source => {
                    Some(Value::Str(Text::from_string(replaced)))
                }
                _ => None,
            },
        }
    }

    /// Ruby's `source.gsub(Regexp.union(keys), dictionary)`: each key found is replaced by its
    /// value as text.
    fn replace_keys<'s>(&self, re: &regex::Regex, source: &'s str) -> Cow<'s, str> {
        re.replace_all(source, |caps: &regex::Captures| {
            let mut out = String::new();
            if let Some(&i) = self.entries.index.get(&caps[0]) {
                // Writing to a String cannot fail.
                let _ = write_ruby_string(&self.entries.items[i].1, &mut out);
            }
            out
        })
    }
}

fn key_regexes(entries: &Entries) -> Result<KeyRegexes, DictionaryError> {
    let each = entries
        .items
        .iter()
        .map(|(key, _)| KeyRegex::compile(key))
        .collect::<Result<Vec<_>, _>>()?;
    let all_plain = each.iter().all(|re| matches!(re, KeyRegex::Plain(_)));
    let set = if all_plain && !each.is_empty() {
        // A set too large to build is not an error: the keys are then tried one by one.
        regex::RegexSetBuilder::new(entries.items.iter().map(|(k, _)| k.as_str()))
            .multi_line(true)
            .size_limit(REGEX_SIZE_LIMIT)
            .build()
            .ok()
    } else {
        None
    };
    Ok(KeyRegexes { set, each })
}

/// `Regexp.union(keys)`: the keys as literals, tried in dictionary order at each position.
fn union_regex(entries: &Entries) -> Result<Option<regex::Regex>, DictionaryError> {
    if entries.is_empty() {
        return Ok(None);
    }
    let mut pattern = String::new();
    for (i, (key, _)) in entries.items.iter().enumerate() {
        if i > 0 {
            pattern.push('|');
        }
        pattern.push_str(&regex::escape(key));
    }
    regex::RegexBuilder::new(&pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map(Some)
        .map_err(|e| DictionaryError::TooManyKeys(e.to_string()))
}

/// Reads a dictionary file into `into` (new keys appended, existing keys updated).
pub fn read_file(
    path: &Path,
    format: FileFormat,
    yaml_code_point_limit: u64,
    into: &mut Entries,
) -> Result<(), DictionaryError> {
    let bytes = std::fs::read(path).map_err(|source| DictionaryError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    let parse_error = |message: String| DictionaryError::Parse {
        path: path.to_path_buf(),
        message,
    };
    match format {
        FileFormat::Yaml => read_yaml(bytes, yaml_code_point_limit, into).map_err(|e| match e {
            YamlError::TooLarge => DictionaryError::TooLarge {
                limit: yaml_code_point_limit,
            },
            YamlError::Parse(message) => parse_error(message),
        }),
        FileFormat::Json => read_json(bytes, into).map_err(parse_error),
        FileFormat::Csv => read_csv(bytes, into).map_err(parse_error),
    }
}

enum YamlError {
    TooLarge,
    Parse(String),
}

fn read_yaml(bytes: &[u8], limit: u64, into: &mut Entries) -> Result<(), YamlError> {
    let text = std::str::from_utf8(bytes).map_err(|e| YamlError::Parse(e.to_string()))?;
    if text.chars().count() as u64 > limit {
        return Err(YamlError::TooLarge);
    }
    let doc: serde_yaml::Value =
        serde_yaml::from_str(text).map_err(|e| YamlError::Parse(e.to_string()))?;
    match untag(doc) {
        serde_yaml::Value::Null => Ok(()),
        serde_yaml::Value::Mapping(map) => {
            for (key, value) in map {
                into.insert(yaml_key(key), yaml_value(value));
            }
            Ok(())
        }
        // `!!omap`: a list of one-entry maps.
        serde_yaml::Value::Sequence(pairs) => {
            for pair in pairs {
                let serde_yaml::Value::Mapping(map) = untag(pair) else {
                    return Err(YamlError::Parse(
                        "a YAML dictionary must be a mapping".into(),
                    ));
                };
                for (key, value) in map {
                    into.insert(yaml_key(key), yaml_value(value));
                }
            }
            Ok(())
        }
        _ => Err(YamlError::Parse(
            "a YAML dictionary must be a mapping".into(),
        )),
    }
}

/// Drops explicit tags (`!!map`, `!!omap`, `!!str`...): the value underneath is what counts.
fn untag(value: serde_yaml::Value) -> serde_yaml::Value {
    match value {
        serde_yaml::Value::Tagged(tagged) => untag(tagged.value),
        other => other,
    }
}

/// Keys are looked up as text, so a key written as a number or boolean is its text
/// (Logstash would keep it as a number, which no field value's text can ever equal).
fn yaml_key(key: serde_yaml::Value) -> Text {
    match untag(key) {
        serde_yaml::Value::String(s) => Text::from_string(s),
        serde_yaml::Value::Null => Text::EMPTY,
        serde_yaml::Value::Bool(b) => Text::new(if b { "true" } else { "false" }),
        serde_yaml::Value::Number(n) => Text::from_string(n.to_string()),
        other => {
            let mut out = String::new();
            let _ = write_ruby_string(&yaml_value(other), &mut out);
            Text::from_string(out)
        }
    }
}

fn yaml_value(value: serde_yaml::Value) -> Value {
    match untag(value) {
        serde_yaml::Value::Null => Value::Null,
        serde_yaml::Value::Bool(b) => Value::Bool(b),
        serde_yaml::Value::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        serde_yaml::Value::String(s) => Value::Str(Text::from_string(s)),
        serde_yaml::Value::Sequence(items) => {
            Value::Array(items.into_iter().map(yaml_value).collect())
        }
        serde_yaml::Value::Mapping(map) => {
            let mut out = Map::with_capacity(map.len());
            for (k, v) in map {
                out.insert(yaml_key(k), yaml_value(v));
            }
            Value::Map(out)
        }
        serde_yaml::Value::Tagged(_) => Value::Null,
    }
}

fn read_json(bytes: &[u8], into: &mut Entries) -> Result<(), String> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    match parse_value(bytes).map_err(|e| e.message().to_string())? {
        Value::Map(map) => {
            for (key, value) in map {
                into.insert(key, value);
            }
            Ok(())
        }
        other => Err(format!(
            "a JSON dictionary must be an object, not a {}",
            other.type_name()
        )),
    }
}

/// Two columns: the key, then its translation (missing: null); further columns are ignored.
fn read_csv(bytes: &[u8], into: &mut Entries) -> Result<(), String> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    for record in reader.records() {
        let record = record.map_err(|e| e.to_string())?;
        let Some(key) = record.get(0) else { continue };
        let value = record
            .get(1)
            .map_or(Value::Null, |v| Value::Str(Text::new(v)));
        into.insert(Text::new(key), value);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dict(pairs: &[(&str, &str)], mode: MatchMode) -> Dictionary {
        let mut entries = Entries::default();
        for (k, v) in pairs {
            entries.insert(Text::new(k), Value::from(*v));
        }
        Dictionary::new(entries, mode).unwrap()
    }

    #[test]
    fn union_prefers_the_earlier_key_at_the_same_position() {
        let d = dict(&[("ab", "1"), ("abc", "2"), ("d", "3")], MatchMode::Union);
        assert_eq!(d.lookup("abcd"), Some(Value::from("1c3")));
        assert_eq!(d.lookup("xyz"), None);
        // A replacement equal to the original counts as no match, as in Logstash.
        let d = dict(&[("a", "a")], MatchMode::Union);
        assert_eq!(d.lookup("a"), None);
    }

    #[test]
    fn key_regexes_pick_the_first_matching_key_with_or_without_a_set() {
        let plain = dict(&[("^2", "two"), ("0$", "zero")], MatchMode::ExactRegex);
        assert_eq!(plain.lookup("200"), Some(Value::from("two")));
        assert_eq!(plain.lookup("300"), Some(Value::from("zero")));
        // A lookahead needs fancy-regex, so no set is built.
        let fancy = dict(
            &[("^3(?=0)", "three"), ("0$", "zero")],
            MatchMode::ExactRegex,
        );
        assert_eq!(fancy.lookup("300"), Some(Value::from("three")));
        assert_eq!(fancy.lookup("310"), Some(Value::from("zero")));
    }

    #[test]
    fn merging_keeps_a_key_in_its_first_position() {
        let mut entries = Entries::default();
        entries.insert(Text::new("a"), Value::from(1i64));
        entries.insert(Text::new("b"), Value::from(2i64));
        entries.insert(Text::new("a"), Value::from(3i64));
        assert_eq!(entries.len(), 2);
        assert_eq!(entries.items[0], (Text::new("a"), Value::from(3i64)));
    }
}
