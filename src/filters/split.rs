//! The `split` filter: turns one event into one event per line (or per array element).
//!
//! As logstash-filter-split does: a string `field` (default `message`) is split on `terminator`
//! (default `"\n"`; a single space splits on runs of whitespace, as Ruby's `String#split(" ")`);
//! an array field yields its elements. Each non-empty piece becomes a copy of the event with the
//! piece in `target` (default: `field` itself; without a target an array field is removed from
//! the copies first), and the common options apply to each copy. The original event is replaced
//! by its copies, which take its place in the batch, in order. A string without the terminator
//! leaves the event untouched; a field that is neither a string nor an array (or is missing) tags
//! the event `_split_type_failure`. As in Logstash, an empty string or array, or one made only of
//! empty pieces, yields no event at all.
//!
//! [`Split`] is the built filter; it overrides [`Filter::filter`] to insert events.

use serde::Deserialize;

use crate::config::{Diagnostics, PluginArgs};
use crate::event::{Event, FieldPath, Text, Value};

use super::{CommonOptions, Filter};

/// The tag for a field that cannot be split.
pub const TYPE_FAILURE_TAG: &str = "_split_type_failure";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SplitOptions {
    #[serde(default = "newline")]
    terminator: String,
    #[serde(default = "message")]
    field: String,
    #[serde(default)]
    target: Option<String>,
}

fn newline() -> String {
    "\n".to_string()
}

fn message() -> String {
    "message".to_string()
}

/// The built filter.
#[derive(Debug)]
pub struct Split {
    field: FieldPath,
    target: Option<FieldPath>,
    terminator: String,
}

pub fn build(args: &PluginArgs) -> Result<Box<dyn Filter>, Diagnostics> {
    let options: SplitOptions = args.options()?;
    let path = |option: &str, name: &str| {
        FieldPath::parse(name).map_err(|e| args.error(option, format!("split: {option}: {e}")))
    };
    let field = path("field", &options.field)?;
    let target = options
        .target
        .as_deref()
        .map(|t| path("target", t))
        .transpose()?;
    Ok(Box::new(Split {
        field,
        target,
        terminator: options.terminator,
    }))
}

/// What splitting one event gives.
enum Outcome {
    /// Nothing to split: the event stays as it is.
    Unchanged,
    /// The field cannot be split: the event is tagged and stays.
    Failed,
    /// The event is replaced by these (possibly none).
    Replaced(Vec<Event>),
}

impl Filter for Split {
    /// Splitting creates events, which only [`Filter::filter`] can do; on its own this checks the
    /// field and tags an unsplittable one, and reports success when the event would be split.
    fn apply(&self, event: &mut Event) -> bool {
        match self.split(event, &CommonOptions::default()) {
            Outcome::Failed => {
                event.add_tag(Text::from_static(TYPE_FAILURE_TAG));
                false
            }
            Outcome::Unchanged => false,
            Outcome::Replaced(_) => true,
        }
    }

    fn filter(&self, events: &mut Vec<Event>, common: &CommonOptions) {
        // Most batches hold nothing to split: only rebuild the batch from the first one that does.
        let mut i = 0;
        while i < events.len() {
            match self.split(&mut events[i], common) {
                Outcome::Unchanged => i += 1,
                Outcome::Failed => {
                    events[i].add_tag(Text::from_static(TYPE_FAILURE_TAG));
                    i += 1;
                }
                Outcome::Replaced(pieces) => {
                    let n = pieces.len();
                    events.splice(i..=i, pieces);
                    i += n;
                }
            }
        }
    }
}

impl Split {
    fn split(&self, event: &mut Event, common: &CommonOptions) -> Outcome {
        let target = self.target.as_ref().unwrap_or(&self.field);
        match event.get(&self.field) {
            Some(Value::Str(s)) => {
                let s = s.clone();
                let pieces = self.pieces(&s);
                if pieces.len() == 1 {
                    return Outcome::Unchanged;
                }
                let values = pieces
                    .into_iter()
                    .filter(|p| !p.is_empty())
                    .map(|p| Value::Str(s.substr(p)));
                Outcome::Replaced(copies(event, target, values, common))
            }
            Some(Value::Array(_)) => {
                let items = if self.target.is_none() {
                    match event.remove(&self.field) {
                        Some(Value::Array(items)) => items,
                        _ => Vec::new(),
                    }
                } else {
                    event
                        .get(&self.field)
                        .and_then(Value::as_array)
                        .map(<[Value]>::to_vec)
                        .unwrap_or_default()
                };
                let values = items.into_iter().filter(|v| match v {
                    Value::Null => false,
                    Value::Str(s) => !s.is_empty(),
                    _ => true,
                });
                Outcome::Replaced(copies(event, target, values, common))
            }
            _ => Outcome::Failed,
        }
    }

    /// Ruby's `String#split(terminator, -1)`: trailing empty pieces kept; a single space splits
    /// on whitespace runs, ignoring leading whitespace; an empty terminator splits characters.
    fn pieces<'s>(&self, s: &'s str) -> Vec<&'s str> {
        if s.is_empty() {
            return Vec::new();
        }
        match self.terminator.as_str() {
            " " => awk_split(s),
            "" => s
                .char_indices()
                .map(|(i, c)| &s[i..i + c.len_utf8()])
                .collect(),
            t if t.len() == 1 => {
                let b = t.as_bytes()[0];
                let mut out = Vec::new();
                let mut start = 0;
                for at in memchr::memchr_iter(b, s.as_bytes()) {
                    out.push(&s[start..at]);
                    start = at + 1;
                }
                out.push(&s[start..]);
                out
            }
            t => s.split(t).collect(),
        }
    }
}

/// Ruby's awk-style split: runs of ASCII whitespace separate pieces; leading whitespace is
/// skipped; trailing whitespace leaves one empty last piece.
fn awk_split(s: &str) -> Vec<&str> {
    let is_space = |c: char| matches!(c, ' ' | '\t' | '\n' | '\u{b}' | '\u{c}' | '\r' | '\0');
    let mut out: Vec<&str> = s.split(is_space).filter(|p| !p.is_empty()).collect();
    if s.ends_with(is_space) && !out.is_empty() {
        out.push("");
    }
    out
}

/// One copy of `event` per value, with the value at `target` and the common options applied.
fn copies(
    event: &Event,
    target: &FieldPath,
    values: impl Iterator<Item = Value>,
    common: &CommonOptions,
) -> Vec<Event> {
    values
        .map(|value| {
            let mut copy = event.clone();
            copy.insert(target, value);
            common.apply(&mut copy);
            copy
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(terminator: &str, s: &str) -> Vec<String> {
        let f = Split {
            field: FieldPath::top("message"),
            target: None,
            terminator: terminator.to_string(),
        };
        f.pieces(s).into_iter().map(str::to_string).collect()
    }

    #[test]
    fn pieces_follow_ruby_split_with_negative_limit() {
        assert_eq!(split("\n", "a\nb\n"), ["a", "b", ""]);
        assert_eq!(split("\n", "a"), ["a"]);
        assert!(split("\n", "").is_empty());
        assert_eq!(split(", ", "a, b,c"), ["a", "b,c"]);
        assert_eq!(split(" ", "  a \t b  "), ["a", "b", ""]);
        assert_eq!(split(" ", "a b"), ["a", "b"]);
        assert_eq!(split("", "añ"), ["a", "ñ"]);
    }
}
