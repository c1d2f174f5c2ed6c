//! Answers in Elasticsearch's shapes: the error envelope, simple errors, and the pieces the
//! hand-written bulk answer is made of.

use serde_json::{json, Map, Value};

/// An answer before the common headers, `filter_path` and compression are applied.
#[derive(Debug)]
pub(super) struct Reply {
    pub status: u16,
    pub body: Body,
    pub headers: Vec<(&'static str, String)>,
    /// For `_bulk`: how many items were parsed.
    pub items: usize,
}

/// A reply body.
#[derive(Debug)]
pub(super) enum Body {
    /// JSON that `filter_path` may cut.
    Json(Value),
    /// JSON text already filtered (the bulk answer, written by hand for speed).
    Text(String),
    /// No body at all (HEAD, 413).
    Empty,
}

impl Reply {
    pub fn json(status: u16, body: Value) -> Reply {
        Reply {
            status,
            body: Body::Json(body),
            headers: Vec::new(),
            items: 0,
        }
    }

    pub fn empty(status: u16) -> Reply {
        Reply {
            status,
            body: Body::Empty,
            headers: Vec::new(),
            items: 0,
        }
    }

    pub fn ok(body: Value) -> Reply {
        Reply::json(200, body)
    }

    pub fn acknowledged() -> Reply {
        Reply::ok(json!({"acknowledged": true}))
    }
}

/// ES's error envelope: `{"error":{"root_cause":[..],"type","reason",..},"status":N}`. `extra`
/// fields (e.g. `index`) go into the cause and the root cause alike.
pub(super) fn es_error(status: u16, kind: &str, reason: &str, extra: Value) -> Reply {
    let cause = error_object(kind, reason, extra);
    Reply::json(
        status,
        json!({"error": with_root_cause(cause), "status": status}),
    )
}

/// An error object: `{"type","reason",..extra}`.
pub(super) fn error_object(kind: &str, reason: &str, extra: Value) -> Value {
    let mut cause = Map::new();
    cause.insert("type".into(), kind.into());
    cause.insert("reason".into(), reason.into());
    if let Value::Object(extra) = extra {
        cause.extend(extra);
    }
    Value::Object(cause)
}

/// `cause` with `root_cause` (the innermost `caused_by`) first, as ES writes it.
fn with_root_cause(cause: Value) -> Value {
    let mut root = &cause;
    while let Some(inner) = root.get("caused_by") {
        root = inner;
    }
    let mut root = root.clone();
    if let Value::Object(m) = &mut root {
        m.remove("caused_by");
    }
    let mut out = Map::new();
    out.insert("root_cause".into(), json!([root]));
    if let Value::Object(m) = cause {
        out.extend(m);
    }
    Value::Object(out)
}

/// `{"error":"<message>","status":N}`: the shape of REST-layer errors (406, 405, no handler).
pub(super) fn simple_error(status: u16, message: &str) -> Reply {
    Reply::json(status, json!({"error": message, "status": status}))
}

/// 400 `illegal_argument_exception`.
pub(super) fn illegal_argument(reason: &str) -> Reply {
    es_error(400, "illegal_argument_exception", reason, Value::Null)
}

/// 404 `index_not_found_exception` for a read.
pub(super) fn index_not_found(index: &str) -> Reply {
    es_error(
        404,
        "index_not_found_exception",
        &format!("no such index [{index}]"),
        json!({"resource.type": "index_or_alias", "resource.id": index,
               "index_uuid": "_na_", "index": index}),
    )
}

/// Appends `s` as a JSON string.
pub(super) fn push_json_str(out: &mut String, s: &str) {
    let plain = s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\');
    if plain {
        out.push('"');
        out.push_str(s);
        out.push('"');
    } else {
        out.push_str(&Value::from(s).to_string());
    }
}

/// Appends an unsigned number.
pub(super) fn push_u64(out: &mut String, n: u64) {
    let mut buf = [0u8; 20];
    let mut at = buf.len();
    let mut n = n;
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.push_str(std::str::from_utf8(&buf[at..]).expect("ascii digits"));
}

/// Lucene's `LevenshteinDistance` similarity (1 - distance / longer length), which ES uses to
/// suggest parameter names above 0.5.
pub(super) fn similarity(a: &str, b: &str) -> f32 {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let longer = a.len().max(b.len());
    if longer == 0 {
        return 1.0;
    }
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    1.0 - prev[b.len()] as f32 / longer as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_envelope_has_root_cause_without_caused_by() {
        let r = es_error(
            400,
            "mapper_parsing_exception",
            "failed",
            json!({"caused_by": {"type": "json_parse_exception", "reason": "bad"}}),
        );
        let Body::Json(v) = r.body else {
            panic!("json expected")
        };
        assert_eq!(
            v["error"]["root_cause"][0],
            json!({"type":"json_parse_exception","reason":"bad"})
        );
        assert_eq!(v["error"]["type"], "mapper_parsing_exception");
        assert_eq!(v["status"], 400);
    }

    #[test]
    fn json_strings_and_numbers() {
        let mut s = String::new();
        push_json_str(&mut s, "a\"b");
        push_u64(&mut s, 0);
        push_u64(&mut s, 1234567890);
        assert_eq!(s, r#""a\"b"01234567890"#);
    }

    #[test]
    fn similarity_as_lucene() {
        assert!(similarity("pipelin", "pipeline") > 0.5);
        assert!(similarity("foo", "pipeline") < 0.5);
    }
}
