//! `filter_path`: which parts of a response to keep.
//!
//! ```text
//! filter_path=errors,items.*.error,items.*.status    keep these (dotted, `*` inside a name)
//! filter_path=hits.**._id                             `**`: any number of levels
//! filter_path=-took                                   leading `-`: drop this
//! ```
//! Arrays do not add a level: `items.*.status` reaches into every element of `items`. Objects
//! and array elements with nothing kept are dropped; an answer with nothing kept is `{}`.

use serde_json::{Map, Value};

#[derive(Clone, Debug, PartialEq, Eq)]
enum Seg {
    /// A field name, possibly with `*` wildcards.
    Name(String),
    /// `**`: zero or more levels.
    AnyDepth,
}

/// How much of the subtree at a path to keep.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Keep {
    /// Nothing.
    None,
    /// Some descendants, maybe: look deeper.
    Some,
    /// All of it.
    All,
}

/// A parsed `filter_path` parameter.
#[derive(Clone, Debug, Default)]
pub(super) struct FilterPath {
    includes: Vec<Vec<Seg>>,
    excludes: Vec<Vec<Seg>>,
}

impl FilterPath {
    /// Parses the parameter; None when it keeps everything (empty).
    pub fn parse(param: &str) -> Option<FilterPath> {
        let mut fp = FilterPath::default();
        for pattern in param.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (list, pattern) = match pattern.strip_prefix('-') {
                Some(p) => (&mut fp.excludes, p),
                None => (&mut fp.includes, pattern),
            };
            let segs = pattern
                .split('.')
                .map(|s| match s {
                    "**" => Seg::AnyDepth,
                    s => Seg::Name(s.to_string()),
                })
                .collect();
            list.push(segs);
        }
        (!fp.includes.is_empty() || !fp.excludes.is_empty()).then_some(fp)
    }

    /// How much of the value at `path` to keep.
    pub fn keep(&self, path: &[&str]) -> Keep {
        let include = if self.includes.is_empty() {
            Keep::All
        } else {
            self.includes
                .iter()
                .map(|p| matches(p, path))
                .max()
                .unwrap_or(Keep::None)
        };
        let exclude = self
            .excludes
            .iter()
            .map(|p| matches(p, path))
            .max()
            .unwrap_or(Keep::None);
        match (include, exclude) {
            (_, Keep::All) | (Keep::None, _) => Keep::None,
            (Keep::All, Keep::None) => Keep::All,
            _ => Keep::Some,
        }
    }

    /// Filters a whole answer.
    pub fn apply(&self, value: &Value) -> Value {
        let mut path = Vec::new();
        self.filter(value, &mut path)
            .unwrap_or_else(|| Value::Object(Map::new()))
    }

    /// The kept part of `value`, which sits at `path` and was judged [`Keep::Some`].
    pub fn filter<'a>(&self, value: &'a Value, path: &mut Vec<&'a str>) -> Option<Value> {
        match value {
            Value::Object(map) => {
                let mut out = Map::new();
                for (k, v) in map {
                    path.push(k);
                    let kept = match self.keep(path) {
                        Keep::All => Some(v.clone()),
                        Keep::Some => self.filter(v, path),
                        Keep::None => None,
                    };
                    path.pop();
                    if let Some(v) = kept {
                        out.insert(k.clone(), v);
                    }
                }
                (!out.is_empty() || path.is_empty()).then_some(Value::Object(out))
            }
            Value::Array(items) => {
                let out: Vec<Value> = items.iter().filter_map(|v| self.filter(v, path)).collect();
                (!out.is_empty()).then_some(Value::Array(out))
            }
            _ => None,
        }
    }
}

/// How a pattern relates to a path: matched by it or a prefix of it (All), could match below
/// it (Some), or neither.
fn matches(pattern: &[Seg], path: &[&str]) -> Keep {
    let Some((seg, rest)) = pattern.split_first() else {
        return Keep::All;
    };
    let Some((name, below)) = path.split_first() else {
        return if pattern.iter().all(|s| *s == Seg::AnyDepth) {
            Keep::All
        } else {
            Keep::Some
        };
    };
    match seg {
        Seg::AnyDepth => matches(rest, path).max(matches(pattern, below)),
        Seg::Name(glob) if super::store::glob(glob, name) => matches(rest, below),
        Seg::Name(_) => Keep::None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn filtered(fp: &str, v: Value) -> Value {
        FilterPath::parse(fp).unwrap().apply(&v)
    }

    #[test]
    fn logstash_bulk_pattern_keeps_errors_and_statuses() {
        let v = json!({"took":3,"errors":true,"items":[
            {"index":{"_index":"a","_id":"1","status":201,"result":"created"}},
            {"create":{"_index":"a","_id":"2","status":409,"error":{"type":"x","reason":"y"}}}]});
        assert_eq!(
            filtered("errors,items.*.error,items.*.status", v),
            json!({"errors":true,"items":[{"index":{"status":201}},
                {"create":{"status":409,"error":{"type":"x","reason":"y"}}}]})
        );
    }

    #[test]
    fn only_errors_drops_successful_items() {
        let v = json!({"items":[{"index":{"status":201}},{"index":{"status":400,"error":{"type":"t"}}}]});
        assert_eq!(
            filtered("items.*.error", v.clone()),
            json!({"items":[{"index":{"error":{"type":"t"}}}]})
        );
        assert_eq!(filtered("nothing", v), json!({}));
    }

    #[test]
    fn any_depth_and_exclusions() {
        let v = json!({"hits":{"hits":[{"_id":"1","_source":{"a":1}}]},"took":1});
        assert_eq!(
            filtered("**._id", v.clone()),
            json!({"hits":{"hits":[{"_id":"1"}]}})
        );
        assert_eq!(
            filtered("-took,-hits.hits._source", v),
            json!({"hits":{"hits":[{"_id":"1"}]}})
        );
    }
}
