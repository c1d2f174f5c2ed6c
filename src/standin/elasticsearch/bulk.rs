//! `_bulk`: parsing as Elasticsearch's `BulkRequestParser` does, validation as
//! `BulkRequest.validate` does, applying items to the store (and the fault script), and writing
//! the answer by hand, `filter_path` included, without building a JSON tree per item.
//!
//! ```text
//! {"index":{"_index":"logs","_id":"1"}}\n      action/metadata line
//! {"message":"hello"}\n                         source line (none for delete)
//! {"delete":{"_index":"logs","_id":"2"}}\n
//! ```

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{json, Value};

use super::faults::{ItemFault, ItemMatcher};
use super::filter_path::{FilterPath, Keep};
use super::responses::{error_object, es_error, push_json_str, push_u64, Reply};
use super::store::{Doc, Index, Store};
use super::{EsVersion, Shared};

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
                    return Err(super::responses::illegal_argument(
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
        None => Err(super::responses::illegal_argument(
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

/// The metadata of one action line.
#[derive(Default)]
struct Meta<'a> {
    index: Option<Cow<'a, str>>,
    id: Option<Cow<'a, str>>,
    op_type: Option<Cow<'a, str>>,
    versioned: bool,
    require_alias: Option<bool>,
}

/// Parses `{"<action>":{<metadata>}}` with ES's checks and messages.
fn parse_action_line(
    line: &[u8],
    number: usize,
    version: EsVersion,
) -> Result<(Cow<'_, str>, Meta<'_>), Reply> {
    let mut problem = None;
    let mut de = serde_json::Deserializer::from_slice(line);
    let seed = ActionSeed {
        line: number,
        version,
        problem: &mut problem,
    };
    // Trailing data after the object is ignored (ES only logs a deprecation).
    let parsed = seed.deserialize(&mut de);
    if let Some(reason) = problem {
        return Err(super::responses::illegal_argument(&reason));
    }
    parsed.map_err(|e| json_error(&e, number, version))
}

/// A string borrowed from the input when it has no escapes.
struct Text<'a>(Cow<'a, str>);

impl<'de> de::Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Borrowed(s)))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(s.to_string())))
            }
        }
        d.deserialize_str(V)
    }
}

/// A metadata value as ES's token stream sees it.
enum Token<'a> {
    Text(Cow<'a, str>),
    Bool(bool),
    Null,
    StartArray,
    StartObject,
}

impl Token<'_> {
    fn name(&self) -> &'static str {
        match self {
            Token::Text(_) => "VALUE_STRING",
            Token::Bool(_) => "VALUE_BOOLEAN",
            Token::Null => "VALUE_NULL",
            Token::StartArray => "START_ARRAY",
            Token::StartObject => "START_OBJECT",
        }
    }
}

struct TokenSeed;

impl<'de> DeserializeSeed<'de> for TokenSeed {
    type Value = Token<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Token<'de>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for TokenSeed {
    type Value = Token<'de>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Token<'de>, E> {
        Ok(Token::Text(Cow::Borrowed(s)))
    }
    fn visit_str<E>(self, s: &str) -> Result<Token<'de>, E> {
        Ok(Token::Text(Cow::Owned(s.to_string())))
    }
    // Numbers read as text, as Jackson's `parser.text()` does.
    fn visit_u64<E>(self, n: u64) -> Result<Token<'de>, E> {
        Ok(Token::Text(Cow::Owned(n.to_string())))
    }
    fn visit_i64<E>(self, n: i64) -> Result<Token<'de>, E> {
        Ok(Token::Text(Cow::Owned(n.to_string())))
    }
    fn visit_f64<E>(self, n: f64) -> Result<Token<'de>, E> {
        Ok(Token::Text(Cow::Owned(n.to_string())))
    }
    fn visit_bool<E>(self, b: bool) -> Result<Token<'de>, E> {
        Ok(Token::Bool(b))
    }
    fn visit_unit<E>(self) -> Result<Token<'de>, E> {
        Ok(Token::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Token<'de>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Token::StartArray)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Token<'de>, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Token::StartObject)
    }
}

/// The whole action line; ES's complaint, if any, goes to `problem`.
struct ActionSeed<'p> {
    line: usize,
    version: EsVersion,
    problem: &'p mut Option<String>,
}

impl ActionSeed<'_> {
    fn fail<T, E: de::Error>(self, reason: String) -> Result<T, E> {
        *self.problem = Some(reason);
        Err(E::custom("rejected"))
    }

    fn expected<T, E: de::Error>(self, expected: &str, found: &str) -> Result<T, E> {
        let reason = format!(
            "Malformed action/metadata line [{}], expected {expected} but found [{found}]",
            self.line
        );
        self.fail(reason)
    }
}

impl<'de> DeserializeSeed<'de> for ActionSeed<'_> {
    type Value = (Cow<'de, str>, Meta<'de>);
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

macro_rules! not_an_object {
    ($($method:ident($($arg:ty)?) => $token:literal),*) => {$(
        fn $method<E: de::Error>(self $(, _: $arg)?) -> Result<Self::Value, E> {
            self.expected("START_OBJECT", $token)
        }
    )*};
}

impl<'de> Visitor<'de> for ActionSeed<'_> {
    type Value = (Cow<'de, str>, Meta<'de>);
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an action object")
    }
    not_an_object!(visit_str(&str) => "VALUE_STRING", visit_u64(u64) => "VALUE_NUMBER",
        visit_i64(i64) => "VALUE_NUMBER", visit_f64(f64) => "VALUE_NUMBER",
        visit_bool(bool) => "VALUE_BOOLEAN", visit_unit() => "VALUE_NULL");
    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
        self.expected("START_OBJECT", "START_ARRAY")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let Some(Text(action)) = map.next_key::<Text<'de>>()? else {
            return self.expected("FIELD_NAME", "END_OBJECT");
        };
        let meta = match map.next_value_seed(TokenOrMeta {
            line: self.line,
            version: self.version,
            problem: &mut *self.problem,
        })? {
            Ok(meta) => meta,
            Err(token) => {
                return self.expected("START_OBJECT or END_OBJECT", token);
            }
        };
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok((action, meta))
    }
}

/// The value of the action key: metadata, or the name of the wrong token found instead.
struct TokenOrMeta<'p> {
    line: usize,
    version: EsVersion,
    problem: &'p mut Option<String>,
}

impl<'de> DeserializeSeed<'de> for TokenOrMeta<'_> {
    type Value = Result<Meta<'de>, &'static str>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for TokenOrMeta<'_> {
    type Value = Result<Meta<'de>, &'static str>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("action metadata")
    }
    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(Err("VALUE_STRING"))
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Err("VALUE_NUMBER"))
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Err("VALUE_NUMBER"))
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Err("VALUE_NUMBER"))
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Err("VALUE_BOOLEAN"))
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Err("VALUE_NULL"))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Err("START_ARRAY"))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut meta = Meta::default();
        while let Some(Text(key)) = map.next_key::<Text<'de>>()? {
            let token = map.next_value_seed(TokenSeed)?;
            if let Err(reason) = set_meta(&mut meta, &key, token, self.line, self.version) {
                *self.problem = Some(reason);
                return Err(de::Error::custom("rejected"));
            }
        }
        Ok(Ok(meta))
    }
}

/// Applies one metadata entry, or says why ES would reject the line.
fn set_meta<'a>(
    meta: &mut Meta<'a>,
    key: &str,
    token: Token<'a>,
    line: usize,
    version: EsVersion,
) -> Result<(), String> {
    let simple = match &token {
        Token::Null => return Ok(()),
        Token::StartObject if key == "_source" || key == "dynamic_templates" => return Ok(()),
        Token::StartArray | Token::StartObject => {
            return Err(format!(
                "Malformed action/metadata line [{line}], expected a simple value for field [{key}] but found [{}]",
                token.name()
            ))
        }
        Token::Text(t) => t.clone(),
        Token::Bool(b) => Cow::Borrowed(if *b { "true" } else { "false" }),
    };
    match key {
        "_index" => meta.index = Some(simple),
        "_id" => meta.id = Some(simple),
        "op_type" => meta.op_type = Some(simple),
        "version" | "version_type" => meta.versioned = true,
        "require_alias" => meta.require_alias = Some(simple == "true"),
        "_type" if version.major < 8 => {}
        "routing" | "if_seq_no" | "if_primary_term" | "retry_on_conflict" | "pipeline"
        | "_source" => {}
        "require_data_stream" | "list_executed_pipelines"
            if version >= EsVersion::new(8, 13, 0) => {}
        _ => {
            return Err(format!(
                "Action/metadata line [{line}] contains an unknown parameter [{key}]"
            ))
        }
    }
    Ok(())
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

/// What happened to one item.
pub(super) struct Outcome {
    /// The `_id` generated for an item without one.
    auto_id: Option<String>,
    /// The backing index a data stream write landed in.
    backing: Option<Arc<str>>,
    /// Whether the `_id` is reported (false: failed before an id was assigned: `"_id":null`).
    has_id: bool,
    result: Result<Written, Failure>,
}

struct Written {
    result: &'static str,
    status: u16,
    version: u64,
    seq_no: u64,
}

struct Failure {
    status: u16,
    error: Value,
}

impl Outcome {
    pub fn failed(&self) -> bool {
        self.result.is_err()
    }
}

/// Applies every item in order, under one lock of the fault script and one of the store.
pub(super) fn apply(shared: &Shared, items: &[Item<'_>]) -> Vec<Outcome> {
    let mut faults = shared.faults.item_matcher();
    let mut store = shared.store();
    let version = shared.config.version;
    items
        .iter()
        .map(|item| {
            let mut outcome = Outcome {
                auto_id: None,
                backing: None,
                has_id: true,
                result: Err(Failure {
                    status: 500,
                    error: Value::Null,
                }),
            };
            let result = apply_one(&mut store, &mut faults, shared, item, &mut outcome, version);
            outcome.result = result;
            outcome
        })
        .collect()
}

fn apply_one(
    store: &mut Store,
    faults: &mut ItemMatcher<'_>,
    shared: &Shared,
    item: &Item<'_>,
    outcome: &mut Outcome,
    version: EsVersion,
) -> Result<Written, Failure> {
    let name = item
        .index
        .as_deref()
        .expect("validated: every item has an index");
    if item.id.is_none() && item.action != Action::Delete && item.action != Action::Update {
        outcome.auto_id = Some(shared.ids.next());
    }
    let id = outcome
        .auto_id
        .as_deref()
        .or(item.id.as_deref())
        .unwrap_or("");
    if let Some(fault) = faults.next(item.source) {
        return Err(injected(fault, store, name, id, version));
    }
    let early = |outcome: &mut Outcome, f: Failure| {
        outcome.has_id = item.id.is_some();
        Err(f)
    };
    if let Some(reason) = invalid_index_name(name) {
        let extra = json!({"index_uuid": "_na_", "index": name});
        return early(
            outcome,
            failure(400, "invalid_index_name_exception", &reason, extra),
        );
    }
    if item.require_alias {
        let reason = format!("no such index [{name}] and [require_alias] request flag is [true] and [{name}] is not an alias");
        let extra = json!({"index_uuid": "_na_", "index": name});
        return early(
            outcome,
            failure(404, "index_not_found_exception", &reason, extra),
        );
    }
    if item.action == Action::Delete && !store.indices.contains_key(name) {
        let reason = format!("no such index [{name}]");
        let extra = json!({"resource.type": "index_expression", "resource.id": name, "index_uuid": "_na_", "index": name});
        return early(
            outcome,
            failure(404, "index_not_found_exception", &reason, extra),
        );
    }
    let store_sources = store.store_sources;
    let index = store.index_for_write(name);
    if let Some(backing) = &index.backing {
        if !item.create {
            let reason = "only write ops with an op_type of create are allowed in data streams";
            return early(
                outcome,
                failure(400, "illegal_argument_exception", reason, Value::Null),
            );
        }
        outcome.backing = Some(Arc::from(backing.as_str()));
    }
    let shown = outcome.backing.as_deref().unwrap_or(name);
    if let Some(reason) = &item.bad_source {
        return Err(parsing_failure(version, reason));
    }
    if index.backing.is_some() && !has_timestamp(item.source) {
        return Err(parsing_failure(
            version,
            "data stream timestamp field [@timestamp] is missing",
        ));
    }
    if !store_sources {
        return Ok(count_only(index, item));
    }
    match item.action {
        Action::Index | Action::Create => write_doc(index, item, id, shown),
        Action::Delete => Ok(delete_doc(index, id)),
        Action::Update => update_doc(index, item, id, shown, version),
    }
}

fn failure(status: u16, kind: &str, reason: &str, extra: Value) -> Failure {
    Failure {
        status,
        error: error_object(kind, reason, extra),
    }
}

fn shard_extra(index: &Index, shown: &str) -> Value {
    json!({"index_uuid": index.uuid, "shard": "0", "index": shown})
}

/// A source that does not parse: `mapper_parsing_exception`, or its 8.8+ name.
fn parsing_failure(version: EsVersion, reason: &str) -> Failure {
    if version.document_parsing_exception() {
        failure(
            400,
            "document_parsing_exception",
            &format!("[1:1] {reason}"),
            Value::Null,
        )
    } else {
        failure(400, "mapper_parsing_exception", reason, Value::Null)
    }
}

fn has_timestamp(source: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Map<String, Value>>(source)
        .is_ok_and(|m| m.contains_key("@timestamp"))
}

/// An injected failure, shaped like the real one.
fn injected(fault: ItemFault, store: &Store, name: &str, id: &str, version: EsVersion) -> Failure {
    let uuid = store.indices.get(name).map_or("_na_", |i| i.uuid.as_str());
    let shard = json!({"index_uuid": uuid, "shard": "0", "index": name});
    match fault {
        ItemFault::MapperParsing => {
            let reason = format!("failed to parse field [message] of type [date] in document with id '{id}'. Preview of field's value: 'standin'");
            let caused = json!({"caused_by": {"type": "illegal_argument_exception", "reason": "failed to parse date field [standin] with format [strict_date_optional_time||epoch_millis]"}});
            if version.document_parsing_exception() {
                failure(400, "document_parsing_exception", &format!("[1:12] {reason}"), caused)
            } else {
                failure(400, "mapper_parsing_exception", &reason, caused)
            }
        }
        ItemFault::IndexNotFound => failure(
            404,
            "index_not_found_exception",
            &format!("no such index [{name}]"),
            json!({"resource.type": "index_expression", "resource.id": name, "index_uuid": "_na_", "index": name}),
        ),
        ItemFault::VersionConflict => failure(
            409,
            "version_conflict_engine_exception",
            &format!("[{id}]: version conflict, document already exists (current version [1])"),
            shard,
        ),
        ItemFault::Rejected => failure(
            429,
            "es_rejected_execution_exception",
            &format!("rejected execution of primary operation [shard_detail=[{name}][0][P], shard_batch_size=1, shard_operation_bytes=512] on EsThreadPoolExecutor[name = standin/write, queue capacity = 10000, task execution EWMA = 1ms]"),
            Value::Null,
        ),
        ItemFault::Internal => failure(500, "illegal_state_exception", "injected by the stand-in", Value::Null),
        ItemFault::Unavailable => failure(
            503,
            "unavailable_shards_exception",
            &format!("[{name}][0] primary shard is not active Timeout: [1m], request: [BulkShardRequest [[{name}][0]] containing [1] requests]"),
            Value::Null,
        ),
    }
}

/// `MetadataCreateIndexService`'s name checks, in its order; the reason when invalid.
fn invalid_index_name(name: &str) -> Option<String> {
    let bad = |why: &str| Some(format!("Invalid index name [{name}], {why}"));
    if name.contains(['\\', '/', '*', '?', '"', '<', '>', '|', ' ', ',']) {
        return bad("must not contain the following characters [ , \", *, \\, <, |, ,, >, /, ?]");
    }
    if name.contains('#') {
        return bad("must not contain '#'");
    }
    if name.contains(':') {
        return bad("must not contain ':'");
    }
    if name.starts_with(['_', '-', '+']) {
        return bad("must not start with '_', '-', or '+'");
    }
    if name.chars().any(char::is_uppercase) {
        return bad("must be lowercase");
    }
    if name == "." || name == ".." {
        return bad("must not be '.' or '..'");
    }
    if name.len() > 255 {
        return bad(&format!("index name is too long, ({} > 255)", name.len()));
    }
    None
}

fn count_only(index: &mut Index, item: &Item<'_>) -> Written {
    let seq_no = index.next_seq_no();
    let (result, status) = match item.action {
        Action::Delete => ("not_found", 404),
        _ => {
            index.counted += 1;
            ("created", 201)
        }
    };
    Written {
        result,
        status,
        version: 1,
        seq_no,
    }
}

fn write_doc(
    index: &mut Index,
    item: &Item<'_>,
    id: &str,
    shown: &str,
) -> Result<Written, Failure> {
    let existing = index.docs.get(id).map(|d| d.version);
    if let (Some(current), true) = (existing, item.create) {
        // No `[_doc]` prefix in 7.x either: ES PR #37490 removed it before 7.0.
        let reason = format!(
            "[{id}]: version conflict, document already exists (current version [{current}])"
        );
        return Err(failure(
            409,
            "version_conflict_engine_exception",
            &reason,
            shard_extra(index, shown),
        ));
    }
    let seq_no = index.next_seq_no();
    let (doc_version, result, status) = match existing {
        Some(v) => (v + 1, "updated", 200),
        None => (
            index.tombstones.remove(id).map_or(1, |v| v + 1),
            "created",
            201,
        ),
    };
    index.docs.insert(
        id.into(),
        Doc {
            version: doc_version,
            seq_no,
            source: item.source.into(),
        },
    );
    Ok(Written {
        result,
        status,
        version: doc_version,
        seq_no,
    })
}

fn delete_doc(index: &mut Index, id: &str) -> Written {
    let seq_no = index.next_seq_no();
    let (version, result, status) = match index.docs.remove(id) {
        Some(doc) => (doc.version + 1, "deleted", 200),
        None => (
            index.tombstones.get(id).map_or(1, |v| v + 1),
            "not_found",
            404,
        ),
    };
    index.tombstones.insert(id.into(), version);
    Written {
        result,
        status,
        version,
        seq_no,
    }
}

fn update_doc(
    index: &mut Index,
    item: &Item<'_>,
    id: &str,
    shown: &str,
    version: EsVersion,
) -> Result<Written, Failure> {
    let update = item
        .update
        .as_deref()
        .expect("update items carry their body");
    if update.script {
        return Err(failure(
            400,
            "illegal_argument_exception",
            "the stand-in does not run update scripts",
            Value::Null,
        ));
    }
    let Some(doc) = index.docs.get(id) else {
        let inserted = match (&update.upsert, update.doc_as_upsert) {
            (Some(upsert), _) => upsert,
            (None, true) => update.doc.as_ref().expect("validated: doc or script"),
            (None, false) => {
                let reason = match version.major {
                    7 => format!("[_doc][{id}]: document missing"),
                    _ => format!("[{id}]: document missing"),
                };
                return Err(failure(
                    404,
                    "document_missing_exception",
                    &reason,
                    shard_extra(index, shown),
                ));
            }
        };
        let seq_no = index.next_seq_no();
        let doc_version = index.tombstones.remove(id).map_or(1, |v| v + 1);
        let source = serde_json::to_vec(inserted)
            .expect("a Value serializes")
            .into();
        index.docs.insert(
            id.into(),
            Doc {
                version: doc_version,
                seq_no,
                source,
            },
        );
        return Ok(Written {
            result: "created",
            status: 201,
            version: doc_version,
            seq_no,
        });
    };
    let mut merged: Value = serde_json::from_slice(&doc.source).unwrap_or(Value::Null);
    let before = merged.clone();
    merge(
        &mut merged,
        update.doc.as_ref().expect("validated: doc or script"),
    );
    if update.detect_noop && merged == before {
        return Ok(Written {
            result: "noop",
            status: 200,
            version: doc.version,
            seq_no: doc.seq_no,
        });
    }
    let doc_version = doc.version + 1;
    let seq_no = index.next_seq_no();
    let source = serde_json::to_vec(&merged)
        .expect("a Value serializes")
        .into();
    index.docs.insert(
        id.into(),
        Doc {
            version: doc_version,
            seq_no,
            source,
        },
    );
    Ok(Written {
        result: "updated",
        status: 200,
        version: doc_version,
        seq_no,
    })
}

/// A partial-document update: objects merge key by key, anything else replaces.
fn merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                match t.get_mut(k) {
                    Some(existing) if existing.is_object() && v.is_object() => merge(existing, v),
                    _ => {
                        t.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}

/// The fields of an item answer, in ES's order.
const FIELDS: [&str; 10] = [
    "_index",
    "_type",
    "_id",
    "_version",
    "result",
    "_shards",
    "_seq_no",
    "_primary_term",
    "status",
    "error",
];

/// `filter_path`'s verdict on every part of a bulk answer, worked out once per request.
struct Mask<'f> {
    filter: Option<&'f FilterPath>,
    took: Keep,
    errors: Keep,
    items: Keep,
    actions: [Keep; 4],
    fields: [[Keep; FIELDS.len()]; 4],
}

impl<'f> Mask<'f> {
    fn new(filter: Option<&'f FilterPath>) -> Mask<'f> {
        let Some(fp) = filter else {
            return Mask {
                filter,
                took: Keep::All,
                errors: Keep::All,
                items: Keep::All,
                actions: [Keep::All; 4],
                fields: [[Keep::All; FIELDS.len()]; 4],
            };
        };
        let mut mask = Mask {
            filter,
            took: fp.keep(&["took"]),
            errors: fp.keep(&["errors"]),
            items: fp.keep(&["items"]),
            actions: [Keep::None; 4],
            fields: [[Keep::None; FIELDS.len()]; 4],
        };
        for (a, action) in Action::ALL.iter().enumerate() {
            mask.actions[a] = fp.keep(&["items", action.name()]);
            for (f, field) in FIELDS.iter().enumerate() {
                mask.fields[a][f] = fp.keep(&["items", action.name(), field]);
            }
        }
        mask
    }
}

/// Writes `{"took":..,"errors":..,"items":[..]}`, compact, `filter_path` applied.
pub(super) fn write_response(
    took: u64,
    items: &[Item<'_>],
    outcomes: &[Outcome],
    version: EsVersion,
    filter: Option<&FilterPath>,
) -> String {
    let mask = Mask::new(filter);
    let errors = outcomes.iter().any(Outcome::failed);
    let mut out = String::with_capacity(40 + items.len() * 190);
    out.push('{');
    let mut obj = ObjWriter::default();
    if mask.took != Keep::None {
        obj.key(&mut out, "took");
        push_u64(&mut out, took);
    }
    if mask.errors != Keep::None {
        obj.key(&mut out, "errors");
        out.push_str(if errors { "true" } else { "false" });
    }
    if mask.items != Keep::None {
        let rollback = out.len();
        obj.key(&mut out, "items");
        out.push('[');
        let mut any = false;
        for (item, outcome) in items.iter().zip(outcomes) {
            let at = out.len();
            if any {
                out.push(',');
            }
            if write_item(&mut out, item, outcome, &mask, version) {
                any = true;
            } else {
                out.truncate(at);
            }
        }
        out.push(']');
        if !any && mask.items == Keep::Some {
            out.truncate(rollback);
        }
    }
    out.push('}');
    out
}

/// Comma bookkeeping for hand-written objects.
#[derive(Default)]
struct ObjWriter {
    started: bool,
}

impl ObjWriter {
    fn key(&mut self, out: &mut String, key: &str) {
        if self.started {
            out.push(',');
        }
        self.started = true;
        out.push('"');
        out.push_str(key);
        out.push_str("\":");
    }
}

/// Writes one `{"<action>":{..}}`; false when the filter left nothing of it.
fn write_item(
    out: &mut String,
    item: &Item<'_>,
    outcome: &Outcome,
    mask: &Mask<'_>,
    version: EsVersion,
) -> bool {
    let a = item.action as usize;
    if mask.actions[a] == Keep::None {
        return false;
    }
    let start = out.len();
    out.push_str("{\"");
    out.push_str(item.action.name());
    out.push_str("\":{");
    let mut obj = ObjWriter::default();
    let index = outcome
        .backing
        .as_deref()
        .or(item.index.as_deref())
        .unwrap_or("");
    let id = outcome
        .auto_id
        .as_deref()
        .or(item.id.as_deref())
        .filter(|_| outcome.has_id);
    for (f, field) in FIELDS.iter().enumerate() {
        let keep = mask.fields[a][f];
        if keep == Keep::None {
            continue;
        }
        write_field(
            out, &mut obj, field, keep, index, id, outcome, mask, item, version,
        );
    }
    if !obj.started && mask.actions[a] == Keep::Some {
        out.truncate(start);
        return false;
    }
    out.push_str("}}");
    true
}

#[allow(clippy::too_many_arguments)]
fn write_field(
    out: &mut String,
    obj: &mut ObjWriter,
    field: &str,
    keep: Keep,
    index: &str,
    id: Option<&str>,
    outcome: &Outcome,
    mask: &Mask<'_>,
    item: &Item<'_>,
    version: EsVersion,
) {
    let nested = |value: Value, out: &mut String, obj: &mut ObjWriter| {
        let kept = match (keep, mask.filter) {
            (Keep::Some, Some(fp)) => {
                fp.filter(&value, &mut vec!["items", item.action.name(), field])
            }
            _ => Some(value),
        };
        if let Some(v) = kept {
            obj.key(out, field);
            out.push_str(&v.to_string());
        }
    };
    match (field, &outcome.result) {
        ("_index", _) => {
            obj.key(out, field);
            push_json_str(out, index);
        }
        ("_type", _) if version.has_types() => {
            obj.key(out, field);
            out.push_str("\"_doc\"");
        }
        ("_id", _) => {
            obj.key(out, field);
            match id {
                Some(id) => push_json_str(out, id),
                None => out.push_str("null"),
            }
        }
        ("_version", Ok(w)) => {
            obj.key(out, field);
            push_u64(out, w.version);
        }
        ("result", Ok(w)) => {
            obj.key(out, field);
            push_json_str(out, w.result);
        }
        ("_shards", Ok(w)) => {
            let shards = if w.result == "noop" {
                json!({"total": 0, "successful": 0, "failed": 0})
            } else {
                json!({"total": 2, "successful": 1, "failed": 0})
            };
            if keep == Keep::All {
                obj.key(out, field);
                out.push_str(&shards.to_string());
            } else {
                nested(shards, out, obj);
            }
        }
        ("_seq_no", Ok(w)) => {
            obj.key(out, field);
            push_u64(out, w.seq_no);
        }
        ("_primary_term", Ok(_)) => {
            obj.key(out, field);
            out.push('1');
        }
        ("status", Ok(Written { status, .. }) | Err(Failure { status, .. })) => {
            obj.key(out, field);
            push_u64(out, u64::from(*status));
        }
        ("error", Err(f)) => nested(f.error.clone(), out, obj),
        _ => {}
    }
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
            let err = parse(body, &defaults()).err().expect("must fail");
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

    #[test]
    fn index_names() {
        assert_eq!(
            invalid_index_name("Logs").unwrap(),
            "Invalid index name [Logs], must be lowercase"
        );
        assert!(invalid_index_name("_x").is_some());
        assert!(invalid_index_name("logs-2024.01.01").is_none());
    }

    #[test]
    fn merge_is_deep() {
        let mut v = json!({"a": {"b": 1, "c": 2}, "d": 1});
        merge(&mut v, &json!({"a": {"b": 3}, "e": 4}));
        assert_eq!(v, json!({"a": {"b": 3, "c": 2}, "d": 1, "e": 4}));
    }
}
