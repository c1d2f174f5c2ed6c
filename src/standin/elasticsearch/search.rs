//! A small query engine for `_search` and `_count` over stored sources.
//!
//! Knows `match_all`, `term`, `terms`, `match`, `match_phrase`, `exists`, `range` and `bool`.
//! There are no mappings: `term` compares JSON values (a `.keyword` suffix is ignored), `match`
//! compares lowercase words, `range` compares numbers as numbers and strings as text.

use std::cmp::Ordering;

use serde_json::{Map, Value};

/// A compiled query.
#[derive(Debug)]
pub(super) enum Query {
    All,
    Term {
        field: String,
        values: Vec<Value>,
    },
    Match {
        field: String,
        text: String,
        phrase: bool,
    },
    Exists(String),
    Range {
        field: String,
        bounds: Vec<(Ordering, bool, Value)>,
    },
    Bool {
        must: Vec<Query>,
        should: Vec<Query>,
        must_not: Vec<Query>,
    },
}

/// A query ES would reject: `parsing_exception` with this reason.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(super) struct QueryError(pub String);

fn field_and_arg(body: &Value, query: &str) -> Result<(String, Value), QueryError> {
    let map = body.as_object().filter(|m| m.len() == 1).ok_or_else(|| {
        QueryError(format!(
            "[{query}] query doesn't support multiple fields, found none or more than one"
        ))
    })?;
    let (field, arg) = map.iter().next().expect("one entry");
    let field = field.strip_suffix(".keyword").unwrap_or(field);
    Ok((field.to_string(), arg.clone()))
}

/// `{"value": x}`/`{"query": x}` or `x` itself.
fn unwrap_arg(arg: Value, key: &str) -> Value {
    match arg {
        Value::Object(mut m) if m.contains_key(key) => m.remove(key).unwrap_or(Value::Null),
        other => other,
    }
}

impl Query {
    /// Compiles a `query` object (None: match everything).
    pub fn parse(query: Option<&Value>) -> Result<Query, QueryError> {
        let Some(query) = query else {
            return Ok(Query::All);
        };
        let map = query.as_object().filter(|m| m.len() == 1).ok_or_else(|| {
            QueryError("[_na] query malformed, must start with start_object".into())
        })?;
        let (kind, body) = map.iter().next().expect("one entry");
        Ok(match kind.as_str() {
            "match_all" => Query::All,
            "term" => {
                let (field, arg) = field_and_arg(body, kind)?;
                Query::Term {
                    field,
                    values: vec![unwrap_arg(arg, "value")],
                }
            }
            "terms" => {
                let (field, arg) = field_and_arg(body, kind)?;
                let values = arg.as_array().cloned().ok_or_else(|| {
                    QueryError(format!("[terms] query does not support [{field}]"))
                })?;
                Query::Term { field, values }
            }
            "match" | "match_phrase" => {
                let (field, arg) = field_and_arg(body, kind)?;
                let text = match unwrap_arg(arg, "query") {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                Query::Match {
                    field,
                    text: text.to_lowercase(),
                    phrase: kind == "match_phrase",
                }
            }
            "exists" => {
                let field = body
                    .get("field")
                    .and_then(Value::as_str)
                    .ok_or_else(|| QueryError("[exists] must be provided with a [field]".into()))?;
                Query::Exists(field.to_string())
            }
            "range" => {
                let (field, arg) = field_and_arg(body, kind)?;
                Query::Range {
                    field,
                    bounds: range_bounds(&arg),
                }
            }
            "bool" => parse_bool(body)?,
            other => return Err(QueryError(format!("unknown query [{other}]"))),
        })
    }

    /// Whether a source matches.
    pub fn matches(&self, doc: &Value) -> bool {
        match self {
            Query::All => true,
            Query::Term { field, values } => values_at(doc, field)
                .iter()
                .any(|v| values.iter().any(|t| same(v, t))),
            Query::Match {
                field,
                text,
                phrase,
            } => values_at(doc, field)
                .iter()
                .any(|v| text_matches(v, text, *phrase)),
            Query::Exists(field) => values_at(doc, field).iter().any(|v| !v.is_null()),
            Query::Range { field, bounds } => values_at(doc, field).iter().any(|v| {
                bounds
                    .iter()
                    .all(|(want, or_equal, bound)| match compare(v, bound) {
                        Some(Ordering::Equal) => *or_equal,
                        Some(o) => o == *want,
                        None => false,
                    })
            }),
            Query::Bool {
                must,
                should,
                must_not,
            } => {
                must.iter().all(|q| q.matches(doc))
                    && !must_not.iter().any(|q| q.matches(doc))
                    && (should.is_empty()
                        || !must.is_empty()
                        || should.iter().any(|q| q.matches(doc)))
            }
        }
    }
}

fn range_bounds(arg: &Value) -> Vec<(Ordering, bool, Value)> {
    let Some(map) = arg.as_object() else {
        return Vec::new();
    };
    map.iter()
        .filter_map(|(k, v)| {
            let (want, or_equal) = match k.as_str() {
                "gt" => (Ordering::Greater, false),
                "gte" => (Ordering::Greater, true),
                "lt" => (Ordering::Less, false),
                "lte" => (Ordering::Less, true),
                _ => return None,
            };
            Some((want, or_equal, v.clone()))
        })
        .collect()
}

fn parse_bool(body: &Value) -> Result<Query, QueryError> {
    let clauses = |key: &str| -> Result<Vec<Query>, QueryError> {
        match body.get(key) {
            None => Ok(Vec::new()),
            Some(Value::Array(qs)) => qs.iter().map(|q| Query::parse(Some(q))).collect(),
            Some(q) => Ok(vec![Query::parse(Some(q))?]),
        }
    };
    let mut must = clauses("must")?;
    must.extend(clauses("filter")?);
    Ok(Query::Bool {
        must,
        should: clauses("should")?,
        must_not: clauses("must_not")?,
    })
}

/// Every value at a dotted path; arrays are flattened, and a literal dotted key also counts.
pub(super) fn values_at<'a>(doc: &'a Value, path: &str) -> Vec<&'a Value> {
    let mut out = Vec::new();
    collect(doc, path, &mut out);
    out
}

fn collect<'a>(v: &'a Value, path: &str, out: &mut Vec<&'a Value>) {
    match v {
        Value::Array(items) => items.iter().for_each(|i| collect(i, path, out)),
        Value::Object(map) => {
            if let Some(found) = map.get(path) {
                flatten(found, out);
            }
            let mut at = 0;
            while let Some(dot) = path[at..].find('.') {
                let (head, rest) = (&path[..at + dot], &path[at + dot + 1..]);
                if let Some(inner) = map.get(head) {
                    collect(inner, rest, out);
                }
                at += dot + 1;
            }
        }
        _ => {}
    }
}

fn flatten<'a>(v: &'a Value, out: &mut Vec<&'a Value>) {
    match v {
        Value::Array(items) => items.iter().for_each(|i| flatten(i, out)),
        other => out.push(other),
    }
}

/// Equality across JSON types, as a keyword or numeric field would see it.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::String(x), Value::String(y)) => x == y,
        (Value::Number(n), Value::String(s)) | (Value::String(s), Value::Number(n)) => {
            s.parse::<f64>().ok() == n.as_f64()
        }
        (Value::Bool(x), Value::String(s)) | (Value::String(s), Value::Bool(x)) => {
            s == if *x { "true" } else { "false" }
        }
        _ => a == b,
    }
}

fn words(s: &str) -> impl Iterator<Item = &str> {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
}

fn text_matches(v: &Value, query: &str, phrase: bool) -> bool {
    let text = match v {
        Value::String(s) => s.to_lowercase(),
        other => other.to_string(),
    };
    if phrase {
        let text: Vec<&str> = words(&text).collect();
        let want: Vec<&str> = words(query).collect();
        return want.is_empty() || text.windows(want.len()).any(|w| w == want.as_slice());
    }
    words(query).any(|q| words(&text).any(|w| w == q))
}

/// Order of two values of comparable types.
pub(super) fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64()?.partial_cmp(&y.as_f64()?),
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

/// One `sort` clause: field and whether descending.
pub(super) fn sort_clauses(sort: Option<&Value>) -> Vec<(String, bool)> {
    let clause = |v: &Value| -> Option<(String, bool)> {
        match v {
            Value::String(f) => Some((f.clone(), false)),
            Value::Object(m) => {
                let (f, order) = m.iter().next()?;
                let order = order.get("order").unwrap_or(order);
                Some((f.clone(), order.as_str() == Some("desc")))
            }
            _ => None,
        }
    };
    match sort {
        None => Vec::new(),
        Some(Value::Array(items)) => items.iter().filter_map(clause).collect(),
        Some(one) => clause(one).into_iter().collect(),
    }
}

/// The first value at `field`, for sorting; missing sorts last.
pub(super) fn sort_key<'a>(doc: &'a Value, field: &str) -> Option<&'a Value> {
    let field = field.strip_suffix(".keyword").unwrap_or(field);
    values_at(doc, field).into_iter().next()
}

/// A map with one entry, for building hits.
pub(super) fn one(key: &str, value: Value) -> Value {
    let mut m = Map::new();
    m.insert(key.into(), value);
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn q(v: Value) -> Query {
        Query::parse(Some(&v)).unwrap()
    }

    #[test]
    fn term_match_and_dotted_fields() {
        let doc = json!({"host": {"name": "web-1"}, "log.level": "ERROR", "message": "Disk is Full", "n": 3});
        assert!(q(json!({"term": {"host.name": "web-1"}})).matches(&doc));
        assert!(q(json!({"term": {"log.level.keyword": {"value": "ERROR"}}})).matches(&doc));
        assert!(!q(json!({"term": {"host.name": "web"}})).matches(&doc));
        assert!(q(json!({"match": {"message": "full"}})).matches(&doc));
        assert!(q(json!({"match_phrase": {"message": "is full"}})).matches(&doc));
        assert!(q(json!({"term": {"n": "3"}})).matches(&doc));
        assert!(q(json!({"range": {"n": {"gt": 2, "lte": 3}}})).matches(&doc));
        assert!(q(
            json!({"bool": {"must": [{"exists": {"field": "n"}}], "must_not": {"term": {"n": 4}}}})
        )
        .matches(&doc));
    }

    #[test]
    fn unknown_query_is_an_error() {
        assert_eq!(
            Query::parse(Some(&json!({"fuzzy_thing": {}})))
                .unwrap_err()
                .0,
            "unknown query [fuzzy_thing]"
        );
    }
}
