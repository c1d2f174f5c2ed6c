//! Comparing the events a case produced with the ones it expects, and showing the difference.
//!
//! Both sides become canonical JSON (keys sorted; a float with an integral value written as an
//! integer, as LFV's Go decoding reads both `3` and `3.0` as the same number) with the ignored
//! fields removed: the file's `ignore` list, `@version` always, and `@timestamp` wherever the
//! expected event does not list it (an input stamps events with the wall clock, so a test can
//! only assert a timestamp a filter set). Events are compared in order; a difference is shown
//! as a unified diff of pretty-printed JSON ([`render_diff`]), coloured by [`Style`].

use std::fmt::Write as _;
use std::io::IsTerminal;

use serde_json::Value as Json;
use similar::{ChangeTag, TextDiff};

use crate::event::{json, Event, FieldPath};

use super::case_file::{JsonObject, TestFile};

/// How a case's output differs from what it expects.
#[derive(Debug, PartialEq, Eq)]
pub struct Mismatch {
    /// `expected 1 event, got 2`, `event 2 of 3 differs`.
    pub reason: String,
    /// Pretty JSON of the expected side (an event, or the whole list when counts differ).
    pub expected: String,
    pub actual: String,
}

/// Compares `actual` with `expected` event by event; empty when they match.
pub fn compare_case(file: &TestFile, expected: &[JsonObject], actual: &[Event]) -> Vec<Mismatch> {
    let any_timestamp = expected.iter().any(|e| e.contains_key("@timestamp"));
    let actual: Vec<Json> = actual
        .iter()
        .enumerate()
        .map(|(i, event)| {
            let counterpart = expected.get(i);
            let keep_timestamp =
                counterpart.map_or(any_timestamp, |e| e.contains_key("@timestamp"));
            comparable(
                actual_json(event, file.export_metadata),
                file,
                keep_timestamp,
            )
        })
        .collect();
    let expected: Vec<Json> = expected
        .iter()
        .map(|e| comparable(e.clone(), file, true))
        .collect();
    if expected.len() != actual.len() {
        return vec![Mismatch {
            reason: format!("expected {}, got {}", events(expected.len()), actual.len()),
            expected: pretty(&Json::Array(expected)),
            actual: pretty(&Json::Array(actual)),
        }];
    }
    let total = expected.len();
    expected
        .iter()
        .zip(&actual)
        .enumerate()
        .filter(|(_, (e, a))| e != a)
        .map(|(i, (e, a))| Mismatch {
            reason: format!("event {} of {total} differs", i + 1),
            expected: pretty(e),
            actual: pretty(a),
        })
        .collect()
}

fn events(n: usize) -> String {
    if n == 1 {
        "1 event".to_string()
    } else {
        format!("{n} events")
    }
}

/// The event's fields as JSON, as an output would write them, plus `@metadata` when exported
/// and not empty.
fn actual_json(event: &Event, export_metadata: bool) -> JsonObject {
    let mut buf = Vec::with_capacity(256);
    json::write_event(event, &mut buf);
    let mut object = match serde_json::from_slice(&buf) {
        Ok(Json::Object(object)) => object,
        _ => JsonObject::new(),
    };
    if export_metadata && !event.metadata().is_empty() {
        buf.clear();
        json::write_map(event.metadata(), &mut buf);
        if let Ok(metadata) = serde_json::from_slice(&buf) {
            object.insert("@metadata".to_string(), metadata);
        }
    }
    object
}

/// `object` without its ignored fields, in canonical form.
fn comparable(mut object: JsonObject, file: &TestFile, keep_timestamp: bool) -> Json {
    for path in &file.ignore {
        remove_path(&mut object, path);
    }
    if !keep_timestamp {
        object.remove("@timestamp");
    }
    canonical(Json::Object(object))
}

fn remove_path(object: &mut JsonObject, path: &FieldPath) {
    let keys = path.segments().iter().map(|s| s.as_str());
    let mut keys: Vec<&str> = if path.is_metadata() {
        std::iter::once("@metadata").chain(keys).collect()
    } else {
        keys.collect()
    };
    let Some(last) = keys.pop() else {
        return;
    };
    let mut map = object;
    for key in keys {
        match map.get_mut(key) {
            Some(Json::Object(inner)) => map = inner,
            _ => return,
        }
    }
    map.remove(last);
}

/// Keys sorted at every level; floats with an integral value as integers.
fn canonical(value: Json) -> Json {
    match value {
        Json::Object(object) => {
            let mut entries: Vec<(String, Json)> = object.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Json::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k, canonical(v)))
                    .collect(),
            )
        }
        Json::Array(items) => Json::Array(items.into_iter().map(canonical).collect()),
        Json::Number(n) => Json::Number(integral(&n).unwrap_or(n)),
        other => other,
    }
}

/// `n` as an integer when it is a float with an integral value that converts exactly.
fn integral(n: &serde_json::Number) -> Option<serde_json::Number> {
    if !n.is_f64() {
        return None;
    }
    let f = n.as_f64()?;
    // Below 2^53 every integral float converts to i64 exactly.
    let exact = f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0;
    exact.then(|| serde_json::Number::from(f as i64))
}

fn pretty(value: &Json) -> String {
    let mut text = serde_json::to_string_pretty(value).unwrap_or_default();
    text.push('\n');
    text
}

/// Whether output gets ANSI colours: only on a terminal, and never when `NO_COLOR` is set to
/// something (<https://no-color.org>).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Style {
    pub color: bool,
}

impl Style {
    /// Colour when stdout is a terminal and `NO_COLOR` is unset or empty.
    pub fn detect() -> Style {
        Style::choose(
            std::env::var_os("NO_COLOR").as_deref(),
            std::io::stdout().is_terminal(),
        )
    }

    /// The rule [`Style::detect`] applies, given `NO_COLOR`'s value and whether stdout is a
    /// terminal.
    pub fn choose(no_color: Option<&std::ffi::OsStr>, terminal: bool) -> Style {
        let no_color = no_color.is_some_and(|v| !v.is_empty());
        Style {
            color: terminal && !no_color,
        }
    }

    pub fn red(self, text: &str) -> String {
        self.paint("31", text)
    }

    pub fn green(self, text: &str) -> String {
        self.paint("32", text)
    }

    pub fn cyan(self, text: &str) -> String {
        self.paint("36", text)
    }

    pub fn bold_red(self, text: &str) -> String {
        self.paint("1;31", text)
    }

    pub fn dim(self, text: &str) -> String {
        self.paint("2", text)
    }

    fn paint(self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
}

/// A unified diff (`--- expected`, `+++ actual`, hunks with 3 lines of context) of two texts.
pub fn render_diff(expected: &str, actual: &str, style: Style) -> String {
    let diff = TextDiff::from_lines(expected, actual);
    let mut out = String::new();
    out.push_str(&style.red("--- expected"));
    out.push('\n');
    out.push_str(&style.green("+++ actual"));
    out.push('\n');
    let unified = diff.unified_diff();
    for hunk in unified.iter_hunks() {
        let _ = writeln!(out, "{}", style.cyan(&hunk.header().to_string()));
        for change in hunk.iter_changes() {
            let line = format!("{}{}", change.tag(), change.value().trim_end_matches('\n'));
            let line = match change.tag() {
                ChangeTag::Delete => style.red(&line),
                ChangeTag::Insert => style.green(&line),
                ChangeTag::Equal => line,
            };
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Text, Timestamp, Value};

    fn file(ignore: &[&str], export_metadata: bool) -> TestFile {
        let mut paths = vec![FieldPath::top("@version")];
        paths.extend(ignore.iter().map(|p| FieldPath::parse(p).unwrap()));
        TestFile {
            codec: None,
            input_plugin: None,
            fields: Vec::new(),
            ignore: paths,
            export_metadata,
            cases: Vec::new(),
        }
    }

    fn object(value: Json) -> JsonObject {
        match value {
            Json::Object(o) => o,
            _ => panic!("not an object"),
        }
    }

    fn event(message: &str) -> Event {
        Event::from_message(Text::new(message), Timestamp::from_secs(1_700_000_000))
    }

    #[test]
    fn equal_events_match_without_version_and_unlisted_timestamp() {
        let expected = [object(serde_json::json!({"message": "a"}))];
        assert!(compare_case(&file(&[], false), &expected, &[event("a")]).is_empty());
    }

    #[test]
    fn a_listed_timestamp_is_compared() {
        let f = file(&[], false);
        let right = [object(
            serde_json::json!({"message": "a", "@timestamp": "2023-11-14T22:13:20.000Z"}),
        )];
        assert!(compare_case(&f, &right, &[event("a")]).is_empty());
        let wrong = [object(
            serde_json::json!({"message": "a", "@timestamp": "2023-11-14T22:13:21.000Z"}),
        )];
        let mismatch = compare_case(&f, &wrong, &[event("a")]);
        assert_eq!(mismatch.len(), 1);
        assert_eq!(mismatch[0].reason, "event 1 of 1 differs");
        assert!(mismatch[0].actual.contains("22:13:20.000Z"));
    }

    #[test]
    fn ignored_fields_leave_both_sides_nested_ones_too() {
        let mut actual = event("a");
        actual.insert(
            &FieldPath::parse("[host][name]").unwrap(),
            Value::from("h1"),
        );
        actual.insert(
            &FieldPath::parse("[host][ip]").unwrap(),
            Value::from("1.2.3.4"),
        );
        let expected = [object(serde_json::json!({
            "message": "a",
            "host": {"ip": "1.2.3.4", "name": "other"},
        }))];
        assert!(compare_case(&file(&["[host][name]"], false), &expected, &[actual]).is_empty());
    }

    #[test]
    fn integral_floats_equal_integers_but_other_numbers_do_not() {
        let mut actual = event("a");
        actual.set_field(Text::new("n"), Value::Float(3.0));
        let f = file(&[], false);
        let three = [object(serde_json::json!({"message": "a", "n": 3}))];
        assert!(compare_case(&f, &three, std::slice::from_ref(&actual)).is_empty());
        let string = [object(serde_json::json!({"message": "a", "n": "3"}))];
        assert_eq!(compare_case(&f, &string, &[actual]).len(), 1);
    }

    #[test]
    fn count_mismatches_show_both_lists() {
        let f = file(&[], false);
        let mismatch = compare_case(&f, &[], &[event("a")]);
        assert_eq!(mismatch.len(), 1);
        assert_eq!(mismatch[0].reason, "expected 0 events, got 1");
        assert_eq!(mismatch[0].expected, "[]\n");
        assert!(mismatch[0].actual.contains("\"message\": \"a\""));
        assert!(!mismatch[0].actual.contains("@timestamp"));
    }

    #[test]
    fn metadata_is_compared_only_when_exported() {
        let mut actual = event("a");
        actual.insert(
            &FieldPath::parse("[@metadata][k]").unwrap(),
            Value::from("v"),
        );
        let expected = [object(
            serde_json::json!({"message": "a", "@metadata": {"k": "v"}}),
        )];
        let exported = file(&[], true);
        assert!(compare_case(&exported, &expected, std::slice::from_ref(&actual)).is_empty());
        assert_eq!(
            compare_case(&file(&[], false), &expected, &[actual]).len(),
            1
        );
    }

    #[test]
    fn diffs_are_unified_and_coloured_only_on_request() {
        let expected = "{\n  \"a\": 1,\n  \"b\": 2\n}\n";
        let actual = "{\n  \"a\": 1,\n  \"b\": 3\n}\n";
        let plain = render_diff(expected, actual, Style { color: false });
        assert_eq!(
            plain,
            "--- expected\n+++ actual\n@@ -1,4 +1,4 @@\n {\n   \"a\": 1,\n-  \"b\": 2\n+  \"b\": 3\n }\n"
        );
        let coloured = render_diff(expected, actual, Style { color: true });
        assert!(coloured.contains("\x1b[31m-  \"b\": 2\x1b[0m"));
        assert!(coloured.contains("\x1b[32m+  \"b\": 3\x1b[0m"));
    }

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        use std::ffi::OsStr;
        assert!(Style::choose(None, true).color);
        assert!(Style::choose(Some(OsStr::new("")), true).color);
        assert!(!Style::choose(Some(OsStr::new("1")), true).color);
        assert!(!Style::choose(None, false).color);
        assert_eq!(Style { color: false }.red("x"), "x");
    }

    #[test]
    fn canonical_sorts_keys_at_every_level() {
        let value = serde_json::json!({"b": {"d": 1, "c": 2.0}, "a": [1.5]});
        assert_eq!(
            serde_json::to_string(&canonical(value)).unwrap(),
            r#"{"a":[1.5],"b":{"c":2,"d":1}}"#
        );
    }
}
