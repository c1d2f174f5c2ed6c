//! `_bulk`: parsing as Elasticsearch's `BulkRequestParser` does ([`parse`], the action line in
//! `action_line`) and validation as `BulkRequest.validate` does ([`validate`]); `apply` runs the
//! items against the store and the fault script, `response` writes the answer by hand,
//! `filter_path` included, without building a JSON tree per item.
//!
//! ```text
//! {"index":{"_index":"logs","_id":"1"}}\n      action/metadata line
//! {"message":"hello"}\n                         source line (none for delete)
//! {"delete":{"_index":"logs","_id":"2"}}\n
//! ```

mod action_line;
mod apply;
mod response;

use std::borrow::Cow;

use serde::de::IgnoredAny;
use serde_json::Value;

use super::responses::{es_error, illegal_argument, Reply};
use super::EsVersion;
use action_line::parse_action_line;

pub(super) use apply::apply;
pub(super) use response::write_response;

/// A bulk action.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Action {
    Index,
    Create,
    Update,
    Delete,
}

impl Action {
    const ALL: [Action; 4] = [
        Action::Index,
        Action::Create,
        Action::Update,
        Action::Delete,
    ];

    fn name(self) -> &'static str {
        match self {
            Action::Index => "index",
            Action::Create => "create",
            Action::Update => "update",
            Action::Delete => "delete",
        }
    }

    fn from_name(name: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.name() == name)
    }
}

/// An update line's body.
#[derive(Debug, Default)]
pub(super) struct UpdateBody {
    doc: Option<Value>,
    upsert: Option<Value>,
    doc_as_upsert: bool,
    script: bool,
    detect_noop: bool,
}

/// One parsed item; strings borrow from the body where JSON allows.
#[derive(Debug)]
pub(super) struct Item<'a> {
    action: Action,
    index: Option<Cow<'a, str>>,
    id: Option<Cow<'a, str>>,
    /// `create`, or `index` with `op_type: create`.
    create: bool,
    require_alias: bool,
    /// The source line, `\r` trimmed (empty for delete; the body for update).
    source: &'a [u8],
    /// Why the source cannot be indexed (a per-item 400), found before taking any lock.
    bad_source: Option<String>,
    update: Option<Box<UpdateBody>>,
}

/// What the request line set for every item.
pub(super) struct Defaults<'a> {
    pub index: Option<&'a str>,
    pub require_alias: bool,
    pub version: EsVersion,
}

/// Parses a whole body; an `Err` is the whole-request answer.
pub(super) fn parse<'a>(body: &'a [u8], defaults: &Defaults<'a>) -> Result<Vec<Item<'a>>, Reply> {
    let mut items = Vec::with_capacity(memchr::memchr_iter(b'\n', body).count() / 2 + 1);
    let mut from = 0;
    let mut line = 0;
    while let Some(end) = next_line_end(body, from)? {
        line += 1;
        let action_line = &body[from..end];
        from = end + 1;
        if action_line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let (name, meta) = parse_action_line(action_line, line, defaults.version)?;
        let action = Action::from_name(&name);
        let mut item = Item {
            action: action.unwrap_or(Action::Index),
            index: meta.index.or_else(|| defaults.index.map(Cow::Borrowed)),
            id: meta.id,
            create: action == Some(Action::Create) || meta.op_type.as_deref() == Some("create"),
            require_alias: meta.require_alias.unwrap_or(defaults.require_alias),
            source: &[],
            bad_source: None,
            update: None,
        };
        if action == Some(Action::Delete) {
            items.push(item);
            continue;
        }
        // An action without its source line at the very end is dropped, as ES drops it.
        let Some(end) = next_line_end(body, from)? else {
            break;
        };
        line += 1;
        item.source = trim_cr(&body[from..end]);
        from = end + 1;
        match action {
            Some(Action::Update) => {
                if meta.versioned {
                    return Err(illegal_argument(
                        "Update requests do not support versioning. Please use `if_seq_no` and `if_primary_term` instead",
                    ));
                }
                item.update = Some(Box::new(parse_update(item.source, line, defaults.version)?));
            }
            Some(_) => item.bad_source = check_source(item.source),
            // ES skips unknown actions with their source line (with a deprecation warning).
            None => continue,
        }
        items.push(item);
    }
    Ok(items)
}

/// The end of the line starting at `from`; None at the end of the body.
fn next_line_end(body: &[u8], from: usize) -> Result<Option<usize>, Reply> {
    match memchr::memchr(b'\n', &body[from..]) {
        Some(at) => Ok(Some(from + at)),
        None if from == body.len() => Ok(None),
        None => Err(illegal_argument(
            "The bulk request must be terminated by a newline [\\n]",
        )),
    }
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Why a source cannot be indexed, if it cannot.
fn check_source(source: &[u8]) -> Option<String> {
    let first = source.iter().find(|b| !b.is_ascii_whitespace());
    match first {
        None => Some("failed to parse, document is empty".into()),
        Some(b'{') => serde_json::from_slice::<IgnoredAny>(source)
            .err()
            .map(|e| format!("failed to parse: {}", json_message(&e))),
        Some(_) => Some("failed to parse".into()),
    }
}

/// serde_json's message without its " at line L column C" tail.
fn json_message(e: &serde_json::Error) -> String {
    let s = e.to_string();
    match s.find(" at line ") {
        Some(at) => s[..at].to_string(),
        None => s,
    }
}

/// The whole-request error for malformed JSON in an action or update line.
fn json_error(e: &serde_json::Error, line: usize, version: EsVersion) -> Reply {
    let kind = if version.major >= 8 {
        "x_content_parse_exception"
    } else {
        "json_parse_exception"
    };
    let reason = format!("[{line}:{}] {}", e.column(), json_message(e));
    es_error(400, kind, &reason, Value::Null)
}

fn parse_update(body: &[u8], line: usize, version: EsVersion) -> Result<UpdateBody, Reply> {
    let value: Value = serde_json::from_slice(body).map_err(|e| json_error(&e, line, version))?;
    let Value::Object(fields) = value else {
        return Err(es_error(
            400,
            "x_content_parse_exception",
            &format!("[{line}:1] [UpdateRequest] Expected START_OBJECT but was: VALUE"),
            Value::Null,
        ));
    };
    let mut update = UpdateBody {
        detect_noop: true,
        ..UpdateBody::default()
    };
    for (key, v) in fields {
        match key.as_str() {
            "doc" => update.doc = Some(v),
            "upsert" => update.upsert = Some(v),
            "doc_as_upsert" => update.doc_as_upsert = v.as_bool().unwrap_or(false),
            "detect_noop" => update.detect_noop = v.as_bool().unwrap_or(true),
            "script" => update.script = true,
            "scripted_upsert" | "_source" | "if_seq_no" | "if_primary_term" => {}
            other => {
                let reason = format!("[{line}:2] [UpdateRequest] unknown field [{other}]");
                return Err(es_error(
                    400,
                    "x_content_parse_exception",
                    &reason,
                    Value::Null,
                ));
            }
        }
    }
    Ok(update)
}

/// `BulkRequest.validate`: every problem of every item, as one 400.
pub(super) fn validate(items: &[Item<'_>]) -> Result<(), Reply> {
    let mut problems = Vec::new();
    if items.is_empty() {
        problems.push("no requests added".to_string());
    }
    for item in items {
        if item.index.is_none() {
            problems.push("index is missing".into());
        }
        let needs_id = matches!(item.action, Action::Update | Action::Delete);
        if needs_id && item.id.is_none() {
            problems.push("id is missing".into());
        }
        if let Some(id) = item.id.as_deref().filter(|id| id.len() > 512) {
            problems.push(format!(
                "id [{id}] is too long, must be no longer than 512 bytes but was: {}",
                id.len()
            ));
        }
        if let Some(u) = &item.update {
            if u.doc.is_none() && !u.script {
                problems.push("script or doc is missing".into());
            }
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    let mut reason = String::from("Validation Failed: ");
    for (n, p) in problems.iter().enumerate() {
        reason.push_str(&format!("{}: {p};", n + 1));
    }
    Err(es_error(
        400,
        "action_request_validation_exception",
        &reason,
        Value::Null,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> Defaults<'static> {
        Defaults {
            index: None,
            require_alias: false,
            version: EsVersion::V8,
        }
    }

    fn reason(reply: Reply) -> String {
        match reply.body {
            super::super::responses::Body::Json(v) => {
                v["error"]["reason"].as_str().unwrap_or("").to_string()
            }
            _ => String::new(),
        }
    }

    #[test]
    fn parses_actions_crlf_and_delete_without_source() {
        let body = b"{\"index\":{\"_index\":\"a\",\"_id\":\"1\"}}\r\n{\"x\":1}\r\n\n{\"delete\":{\"_index\":\"a\",\"_id\":\"2\"}}\n{\"create\":{\"_index\":\"b\"}}\n{\"y\":\"\\u0041\"}\n";
        let items = parse(body, &defaults()).unwrap();
        assert_eq!(items.len(), 3);
        assert_eq!(items[0].source, b"{\"x\":1}");
        assert_eq!(items[1].action, Action::Delete);
        assert!(items[2].create && items[2].id.is_none());
        assert!(items.iter().all(|i| i.bad_source.is_none()));
    }

    #[test]
    fn es_messages_for_bad_lines() {
        let cases: [(&[u8], &str); 6] = [
            (b"{\"index\":{}}\n{}", "The bulk request must be terminated by a newline [\\n]"),
            (b"{\"index\":{\"_foo\":1}}\n{}\n", "Action/metadata line [1] contains an unknown parameter [_foo]"),
            (b"{\"delete\":{\"_index\":\"a\",\"_id\":\"1\"}}\n{\"index\":{\"_type\":\"t\"}}\n{}\n", "Action/metadata line [2] contains an unknown parameter [_type]"),
            (b"[1]\n", "Malformed action/metadata line [1], expected START_OBJECT but found [START_ARRAY]"),
            (b"{}\n", "Malformed action/metadata line [1], expected FIELD_NAME but found [END_OBJECT]"),
            (b"{\"index\":{\"_id\":[1]}}\n{}\n", "Malformed action/metadata line [1], expected a simple value for field [_id] but found [START_ARRAY]"),
        ];
        for (body, expected) in cases {
            let err = parse(body, &defaults()).expect_err("must fail");
            assert_eq!(reason(err), expected);
        }
    }

    #[test]
    fn seven_accepts_type_and_null_metadata_is_ignored() {
        let d = Defaults {
            version: EsVersion::V7,
            ..defaults()
        };
        let items = parse(
            b"{\"index\":{\"_type\":\"_doc\",\"bogus\":null,\"_index\":\"a\"}}\n{}\n",
            &d,
        )
        .unwrap();
        assert_eq!(items[0].index.as_deref(), Some("a"));
    }

    #[test]
    fn trailing_action_without_source_is_dropped_and_validation_joins_problems() {
        let items = parse(
            b"{\"index\":{}}\n{}\n{\"update\":{}}\n{\"doc\":{}}\n{\"index\":{}}\n",
            &defaults(),
        )
        .unwrap();
        assert_eq!(items.len(), 2);
        let err = validate(&items).err().unwrap();
        assert_eq!(
            reason(err),
            "Validation Failed: 1: index is missing;2: index is missing;3: id is missing;"
        );
    }
}
