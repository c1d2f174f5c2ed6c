//! The `truncate` filter: cuts string fields down to at most `length_bytes` bytes.
//!
//! As logstash-filter-truncate does: `fields` names the fields (every top-level field when
//! absent); strings are cut, arrays have their string elements cut, hashes are walked
//! recursively; other values stay as they are. A cut never splits a UTF-8 character: it backs
//! off to the previous character boundary. The common options apply only when something was
//! actually cut.
//!
//! [`Truncate`] is the built filter.

use serde::Deserialize;

use crate::config::options::OneOrMany;
use crate::config::{Diagnostics, PluginArgs};
use crate::event::{Event, FieldPath, Text, Value};

use super::Filter;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TruncateOptions {
    #[serde(default)]
    fields: Option<OneOrMany<String>>,
    length_bytes: i64,
}

/// The built filter.
#[derive(Debug)]
pub struct Truncate {
    /// `None`: every top-level field.
    fields: Option<Vec<FieldPath>>,
    length: usize,
}

pub fn build(args: &PluginArgs) -> Result<Box<dyn Filter>, Diagnostics> {
    let options: TruncateOptions = args.options()?;
    let length = usize::try_from(options.length_bytes).map_err(|_| {
        args.error(
            "length_bytes",
            format!(
                "truncate: length_bytes must be 0 or more, got {}",
                options.length_bytes
            ),
        )
    })?;
    let fields = match options.fields {
        None => None,
        Some(names) => Some(
            names
                .iter()
                .map(|name| {
                    FieldPath::parse(name)
                        .map_err(|e| args.error("fields", format!("truncate: fields: {e}")))
                })
                .collect::<Result<Vec<_>, _>>()?,
        ),
    };
    Ok(Box::new(Truncate { fields, length }))
}

impl Filter for Truncate {
    fn apply(&self, event: &mut Event) -> bool {
        let mut truncated = false;
        match &self.fields {
            Some(paths) => {
                for path in paths {
                    if let Some(value) = event.get_mut(path) {
                        truncated |= truncate_value(value, self.length);
                    }
                }
            }
            None => {
                for (_, value) in event.fields_mut().iter_mut() {
                    truncated |= truncate_value(value, self.length);
                }
            }
        }
        truncated
    }
}

/// Cuts the strings in `value`; true when anything changed. An array has only its string
/// elements cut; hashes are walked at any depth, as Logstash's `Truncator` does.
fn truncate_value(value: &mut Value, length: usize) -> bool {
    match value {
        Value::Str(s) => truncate_str(s, length),
        Value::Array(items) => items.iter_mut().fold(false, |changed, item| match item {
            Value::Str(s) => truncate_str(s, length) | changed,
            _ => changed,
        }),
        Value::Map(map) => map
            .iter_mut()
            .fold(false, |changed, (_, v)| truncate_value(v, length) | changed),
        _ => false,
    }
}

fn truncate_str(s: &mut Text, length: usize) -> bool {
    match truncated(s, length) {
        Some(cut) => {
            *s = cut;
            true
        }
        None => false,
    }
}

/// `s` cut to at most `length` bytes on a character boundary, or `None` when it already fits.
pub fn truncated(s: &Text, length: usize) -> Option<Text> {
    if s.len() <= length {
        return None;
    }
    let mut end = length;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    Some(s.substr(&s[..end]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_on_character_boundaries() {
        let s = Text::new("aé€😀");
        assert_eq!(truncated(&s, 100), None);
        assert_eq!(truncated(&s, 10), None);
        assert_eq!(truncated(&s, 9).unwrap().as_str(), "aé€");
        assert_eq!(truncated(&s, 6).unwrap().as_str(), "aé€");
        assert_eq!(truncated(&s, 5).unwrap().as_str(), "aé");
        assert_eq!(truncated(&s, 2).unwrap().as_str(), "a");
        assert_eq!(truncated(&s, 1).unwrap().as_str(), "a");
        assert_eq!(truncated(&s, 0).unwrap().as_str(), "");
    }
}
