//! [`FieldPath`]: a parsed field reference such as `[request][headers][host]` or `message`.
//!
//! References are parsed once when the plan is built; looking one up on an event is then a walk
//! over a few keys with no parsing and no allocation.

use std::fmt;

use super::Text;

/// A parsed field reference.
///
/// `[@metadata][x]` paths address the event's metadata map (never emitted by outputs); all
/// others address its fields.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct FieldPath {
    metadata: bool,
    /// Keys below the root; empty for `[@metadata]` itself. Never empty otherwise.
    segments: Box<[Text]>,
}

/// Why a field reference could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("empty field reference")]
    Empty,
    #[error("invalid field reference `{0}`: expected `name` or `[name][name]...`")]
    Malformed(String),
}

impl FieldPath {
    /// Parses Logstash's field reference syntax: `[a][b]...` or a bare top-level name.
    pub fn parse(s: &str) -> Result<FieldPath, PathError> {
        if s.is_empty() {
            return Err(PathError::Empty);
        }
        let names: Vec<&str> = if s.starts_with('[') {
            Self::bracketed(s)?
        } else if s.contains(['[', ']']) {
            return Err(PathError::Malformed(s.to_string()));
        } else {
            vec![s]
        };
        Ok(Self::from_names(&names))
    }

    fn bracketed(s: &str) -> Result<Vec<&str>, PathError> {
        let mut names = Vec::new();
        let mut rest = s;
        while !rest.is_empty() {
            let inner = rest
                .strip_prefix('[')
                .and_then(|r| r.find(']').map(|end| (&r[..end], &r[end + 1..])));
            match inner {
                Some((name, tail)) if !name.is_empty() && !name.contains('[') => {
                    names.push(name);
                    rest = tail;
                }
                _ => return Err(PathError::Malformed(s.to_string())),
            }
        }
        Ok(names)
    }

    fn from_names(names: &[&str]) -> FieldPath {
        let metadata = names[0] == "@metadata";
        let keys = if metadata { &names[1..] } else { names };
        FieldPath {
            metadata,
            segments: keys.iter().map(|k| Text::new(k)).collect(),
        }
    }

    /// A top-level field.
    pub fn top(name: &str) -> FieldPath {
        Self::from_names(&[name])
    }

    pub fn is_metadata(&self) -> bool {
        self.metadata
    }

    /// The keys below the root (fields or metadata).
    pub fn segments(&self) -> &[Text] {
        &self.segments
    }

    /// True for a path with exactly one key below the root.
    pub fn is_top_level(&self) -> bool {
        self.segments.len() == 1
    }

    /// The last key, or `@metadata` for the metadata root.
    pub fn leaf(&self) -> &str {
        self.segments
            .last()
            .map(|t| t.as_str())
            .unwrap_or("@metadata")
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.metadata {
            f.write_str("[@metadata]")?;
        }
        for s in self.segments.iter() {
            write!(f, "[{s}]")?;
        }
        Ok(())
    }
}

/// Plugin options hold field references directly: `source => "[request][body]"`.
impl<'de> serde::Deserialize<'de> for FieldPath {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<FieldPath, D::Error> {
        let text = String::deserialize(deserializer)?;
        FieldPath::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl fmt::Debug for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FieldPath({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bare_and_bracketed_references() {
        assert_eq!(
            FieldPath::parse("message").unwrap().to_string(),
            "[message]"
        );
        let p = FieldPath::parse("[a][b][c]").unwrap();
        assert_eq!(p.segments().len(), 3);
        assert!(!p.is_metadata());
        let m = FieldPath::parse("[@metadata][x]").unwrap();
        assert!(m.is_metadata());
        assert_eq!(m.leaf(), "x");
        assert_eq!(FieldPath::parse("a.b").unwrap().leaf(), "a.b");
    }

    #[test]
    fn deserializes_from_a_string() {
        let p: FieldPath = serde_json::from_str(r#""[a][b]""#).unwrap();
        assert_eq!(p, FieldPath::parse("[a][b]").unwrap());
        let err = serde_json::from_str::<FieldPath>(r#""[a""#).unwrap_err();
        assert!(
            err.to_string().starts_with("invalid field reference `[a`"),
            "{err}"
        );
    }

    #[test]
    fn rejects_malformed_references() {
        for bad in ["", "[a", "[a]b", "a[b]", "[]", "[a][", "[[a]]"] {
            assert!(FieldPath::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }
}
