//! Test case files in logstash-filter-verifier's format, JSON or YAML, read into a [`TestFile`]
//! of [`Case`]s.
//!
//! ```yaml
//! codec: json_lines          # how input lines are decoded (default: line)
//! fields: {type: syslog}     # set on every input event; `[a][b]` keys address nested fields
//! ignore: ["[host][name]"]   # removed from actual events before comparing (@version always)
//! testcases:
//!   - description: a drop
//!     input: ["GET /healthz"]
//!     fields: {tenant: a}    # per case, over the file's fields
//!     expected: []           # no event comes out
//! ```
//!
//! The older form with `input` and `expected` at the top level is one more case, run first.
//! `input_plugin` is accepted and names the config input whose codec to use when `codec` is not
//! given; `export_metadata` adds `@metadata` to the compared events. `export_outputs` and
//! `expected_outputs` (LFV's daemon mode checks which outputs an event reached) are refused,
//! since only the filter section runs.

use std::path::Path;

use serde::{Deserialize, Deserializer};
use serde_json::Value as Json;

use crate::event::{json, FieldPath, Timestamp, Value};

/// A JSON object as read from a test file.
pub type JsonObject = serde_json::Map<String, Json>;

/// A test case file, checked and ready to run.
#[derive(Debug)]
pub struct TestFile {
    /// The `codec` text (`json_lines`, `line { delimiter => "|" }`), if given.
    pub codec: Option<String>,
    /// The `id` of the config input whose codec is used when `codec` is not given.
    pub input_plugin: Option<String>,
    /// Fields every input event gets.
    pub fields: Vec<(FieldPath, Value)>,
    /// Field references removed from actual and expected events before comparing; `@version`
    /// is always among them.
    pub ignore: Vec<FieldPath>,
    /// Whether `@metadata` is part of the compared events.
    pub export_metadata: bool,
    pub cases: Vec<Case>,
}

/// One test case: input lines and the events they must become.
#[derive(Debug)]
pub struct Case {
    pub description: Option<String>,
    /// Each a chunk for the codec; one trailing newline is dropped. No input at all means one
    /// event made of the fields only, as in LFV.
    pub input: Vec<String>,
    /// The case's own fields, set after the file's.
    pub fields: Vec<(FieldPath, Value)>,
    /// Expected events as JSON objects, `[a][b]` keys expanded into nested objects.
    pub expected: Vec<JsonObject>,
}

/// Why a test file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("cannot read: {0}")]
    Read(#[from] std::io::Error),
    /// Not JSON, or JSON of the wrong shape (an unknown key, a string where a list belongs).
    #[error("{0}")]
    Json(#[from] serde_json::Error),
    /// Not YAML, or YAML of the wrong shape.
    #[error("{0}")]
    Yaml(#[from] serde_yaml::Error),
    #[error("not a test file: the name must end in .json, .yaml or .yml")]
    Extension,
    #[error("{0}")]
    Invalid(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    codec: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    fields: JsonObject,
    #[serde(default, deserialize_with = "nullable")]
    ignore: Vec<String>,
    #[serde(default)]
    input_plugin: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    export_metadata: bool,
    #[serde(default, deserialize_with = "nullable")]
    export_outputs: bool,
    #[serde(default, deserialize_with = "nullable")]
    testcases: Vec<RawCase>,
    #[serde(default, deserialize_with = "nullable")]
    input: Vec<String>,
    #[serde(default, deserialize_with = "nullable")]
    expected: Vec<JsonObject>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCase {
    #[serde(default, deserialize_with = "nullable")]
    input: Vec<String>,
    #[serde(default, deserialize_with = "nullable")]
    fields: JsonObject,
    #[serde(default, deserialize_with = "nullable")]
    expected: Vec<JsonObject>,
    #[serde(default, deserialize_with = "nullable")]
    expected_outputs: Vec<String>,
    #[serde(default)]
    description: Option<String>,
}

/// `key:` with no value (null in YAML) reads as the default, as LFV's Go decoding does.
fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

impl TestFile {
    /// Reads and checks the file at `path`; its extension picks JSON or YAML.
    pub fn load(path: &Path) -> Result<TestFile, FileError> {
        let kind = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        if !is_test_extension(kind) {
            return Err(FileError::Extension);
        }
        let text = std::fs::read_to_string(path)?;
        if kind == "json" {
            Self::from_json(&text)
        } else {
            Self::from_yaml(&text)
        }
    }

    pub fn from_json(text: &str) -> Result<TestFile, FileError> {
        Self::from_raw(serde_json::from_str(text)?)
    }

    pub fn from_yaml(text: &str) -> Result<TestFile, FileError> {
        Self::from_raw(serde_yaml::from_str(text)?)
    }

    fn from_raw(raw: RawFile) -> Result<TestFile, FileError> {
        if raw.export_outputs {
            return Err(invalid(
                "export_outputs is not supported: sluice test runs only the filter section",
            ));
        }
        let mut ignore = vec![FieldPath::top("@version")];
        for name in &raw.ignore {
            let path =
                FieldPath::parse(name).map_err(|e| FileError::Invalid(format!("ignore: {e}")))?;
            ignore.push(path);
        }
        let mut cases = Vec::with_capacity(raw.testcases.len() + 1);
        if !raw.input.is_empty() || !raw.expected.is_empty() {
            cases.push(Case {
                description: None,
                input: raw.input,
                fields: Vec::new(),
                expected: raw.expected.into_iter().map(expand_brackets).collect(),
            });
        }
        for (i, case) in raw.testcases.into_iter().enumerate() {
            cases.push(Case::from_raw(case).map_err(|e| in_case(i, e))?);
        }
        Ok(TestFile {
            codec: raw.codec,
            input_plugin: raw.input_plugin,
            fields: event_fields(raw.fields).map_err(|e| invalid(format!("fields: {e}")))?,
            ignore,
            export_metadata: raw.export_metadata,
            cases,
        })
    }
}

impl Case {
    fn from_raw(raw: RawCase) -> Result<Case, String> {
        if !raw.expected_outputs.is_empty() {
            return Err(
                "expected_outputs is not supported: sluice test runs only the filter section"
                    .into(),
            );
        }
        Ok(Case {
            description: raw.description.filter(|d| !d.is_empty()),
            input: raw.input,
            fields: event_fields(raw.fields).map_err(|e| format!("fields: {e}"))?,
            expected: raw.expected.into_iter().map(expand_brackets).collect(),
        })
    }
}

/// True for the extensions test files may have.
pub fn is_test_extension(ext: &str) -> bool {
    matches!(ext, "json" | "yaml" | "yml")
}

fn invalid(message: impl Into<String>) -> FileError {
    FileError::Invalid(message.into())
}

fn in_case(index: usize, message: String) -> FileError {
    FileError::Invalid(format!("testcases[{index}]: {message}"))
}

/// `fields` as paths and event values. A string `@timestamp` becomes a timestamp, as an input
/// would make it.
pub(crate) fn event_fields(fields: JsonObject) -> Result<Vec<(FieldPath, Value)>, String> {
    fields
        .into_iter()
        .map(|(name, json)| {
            let path = FieldPath::parse(&name).map_err(|e| e.to_string())?;
            let value = event_value(&json)?;
            let value = match value {
                Value::Str(s) if path == FieldPath::top("@timestamp") => {
                    let ts = Timestamp::parse_iso8601(s.as_str())
                        .ok_or_else(|| format!("@timestamp {s:?} is not an ISO8601 time"))?;
                    Value::Timestamp(ts)
                }
                other => other,
            };
            Ok((path, value))
        })
        .collect()
}

fn event_value(json: &Json) -> Result<Value, String> {
    let text = serde_json::to_vec(json).map_err(|e| e.to_string())?;
    json::parse_value(&text).map_err(|e| e.to_string())
}

/// Expands `[a][b]` keys into nested objects (LFV does the same to expected events), at every
/// level.
pub fn expand_brackets(object: JsonObject) -> JsonObject {
    let mut out = JsonObject::new();
    for (key, value) in object {
        let value = match value {
            Json::Object(inner) => Json::Object(expand_brackets(inner)),
            other => other,
        };
        match bracket_keys(&key) {
            Some(keys) => insert_nested(&mut out, &keys, value),
            None => {
                out.insert(key, value);
            }
        }
    }
    out
}

/// The keys of a `[a][b]` reference, or `None` for a plain name.
fn bracket_keys(key: &str) -> Option<Vec<String>> {
    if !key.starts_with('[') {
        return None;
    }
    let path = FieldPath::parse(key).ok()?;
    if path.is_metadata() {
        let mut keys = vec!["@metadata".to_string()];
        keys.extend(path.segments().iter().map(|s| s.as_str().to_string()));
        return Some(keys);
    }
    Some(
        path.segments()
            .iter()
            .map(|s| s.as_str().to_string())
            .collect(),
    )
}

fn insert_nested(object: &mut JsonObject, keys: &[String], value: Json) {
    let Some((last, parents)) = keys.split_last() else {
        return;
    };
    let mut map = object;
    for key in parents {
        let slot = map
            .entry(key.clone())
            .or_insert_with(|| Json::Object(JsonObject::new()));
        if !slot.is_object() {
            *slot = Json::Object(JsonObject::new());
        }
        map = slot.as_object_mut().expect("just made an object");
    }
    map.insert(last.clone(), value);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_with_testcases_fields_and_ignore() {
        let file = TestFile::from_yaml(
            r#"
codec: json_lines
fields:
  type: syslog
  "[log][file][path]": /var/log/x
ignore: ["[host][name]"]
export_metadata: true
testcases:
  - description: first
    input: ["a", "b"]
    fields: {tenant: t1}
    expected:
      - message: a
        "[log][level]": info
  - input: ["c"]
    expected: []
"#,
        )
        .unwrap();
        assert_eq!(file.codec.as_deref(), Some("json_lines"));
        assert!(file.export_metadata);
        assert_eq!(file.fields.len(), 2);
        let nested = FieldPath::parse("[log][file][path]").unwrap();
        assert!(file
            .fields
            .iter()
            .any(|(path, value)| *path == nested && *value == Value::from("/var/log/x")));
        assert_eq!(
            file.ignore,
            [
                FieldPath::top("@version"),
                FieldPath::parse("[host][name]").unwrap()
            ]
        );
        assert_eq!(file.cases.len(), 2);
        let first = &file.cases[0];
        assert_eq!(first.description.as_deref(), Some("first"));
        assert_eq!(first.input, ["a", "b"]);
        assert_eq!(first.fields[0].1, Value::from("t1"));
        assert_eq!(
            Json::Object(first.expected[0].clone()),
            serde_json::json!({"message": "a", "log": {"level": "info"}})
        );
        assert!(file.cases[1].expected.is_empty());
    }

    #[test]
    fn the_older_top_level_form_is_a_first_case() {
        let file = TestFile::from_json(
            r#"{"input": ["x"], "expected": [{"message": "x"}],
                "testcases": [{"input": ["y"], "expected": [{"message": "y"}]}]}"#,
        )
        .unwrap();
        assert_eq!(file.cases.len(), 2);
        assert_eq!(file.cases[0].input, ["x"]);
        assert_eq!(file.cases[1].input, ["y"]);
        assert_eq!(file.codec, None);
    }

    #[test]
    fn null_lists_read_as_empty() {
        let file =
            TestFile::from_yaml("ignore:\ntestcases:\n  - input: [a]\n    expected:\n").unwrap();
        assert_eq!(file.ignore, [FieldPath::top("@version")]);
        assert!(file.cases[0].expected.is_empty());
    }

    #[test]
    fn timestamps_in_fields_become_timestamps() {
        let file = TestFile::from_json(r#"{"fields": {"@timestamp": "2024-01-02T03:04:05.000Z"}}"#)
            .unwrap();
        assert!(matches!(file.fields[0].1, Value::Timestamp(_)));
        let bad = TestFile::from_json(r#"{"fields": {"@timestamp": "yesterday"}}"#).unwrap_err();
        assert!(bad.to_string().contains("not an ISO8601 time"), "{bad}");
    }

    #[test]
    fn mistakes_are_named() {
        let cases = [
            (r#"{"testcase": []}"#, "unknown field `testcase`"),
            (r#"{"testcases": [{"inptu": []}]}"#, "unknown field `inptu`"),
            (r#"{"ignore": ["[a]b"]}"#, "ignore: invalid field reference"),
            (
                r#"{"testcases": [{"fields": {"a]": 1}}]}"#,
                "testcases[0]: fields:",
            ),
            (
                r#"{"export_outputs": true}"#,
                "export_outputs is not supported",
            ),
            (
                r#"{"testcases": [{"expected_outputs": ["es"]}]}"#,
                "testcases[0]: expected_outputs is not supported",
            ),
            (r#"{"testcases": [{"input": "x"}]}"#, "invalid type"),
        ];
        for (text, message) in cases {
            let err = TestFile::from_json(text).unwrap_err().to_string();
            assert!(err.contains(message), "{text}: {err}");
        }
        let yaml = TestFile::from_yaml("testcases:\n  - input: [a]\n    expectd: []\n")
            .unwrap_err()
            .to_string();
        assert!(yaml.contains("unknown field `expectd`"), "{yaml}");
        assert!(yaml.contains("line 3"), "{yaml}");
    }

    #[test]
    fn brackets_expand_at_every_level_and_merge() {
        let object = serde_json::json!({
            "[a][b]": 1,
            "[a][c]": 2,
            "d": {"[e][f]": 3},
            "[@metadata][m]": 4,
            "plain[": 5,
        });
        let Json::Object(object) = object else {
            unreachable!()
        };
        assert_eq!(
            Json::Object(expand_brackets(object)),
            serde_json::json!({
                "a": {"b": 1, "c": 2},
                "d": {"e": {"f": 3}},
                "@metadata": {"m": 4},
                "plain[": 5,
            })
        );
    }
}
