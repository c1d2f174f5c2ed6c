//! [`Template`]: Logstash's sprintf format (`%{[a][b]}`, `%{+YYYY.MM.dd}`, `%{+%s}`,
//! `%{{java.time pattern}}`), parsed once at plan time into segments.

use super::{Event, Text};

/// Why a template could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("invalid field reference in `%{{{0}}}`")]
    BadField(String),
    #[error("invalid date pattern `{0}`: {1}")]
    BadDatePattern(String, String),
}

/// A parsed sprintf template.
#[derive(Clone, Debug)]
pub struct Template {
    source: String,
}

impl Template {
    pub fn parse(source: &str) -> Result<Template, TemplateError> {
        let _ = source;
        todo!("event/sprintf.rs: parse")
    }

    /// The text the template was parsed from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The fixed text, when the template has no `%{...}` (lets callers skip rendering).
    pub fn constant(&self) -> Option<&str> {
        todo!("event/sprintf.rs: constant")
    }

    /// Appends the rendering for `event` to `out`.
    pub fn render_into(&self, event: &Event, out: &mut String) {
        let _ = (event, out);
        todo!("event/sprintf.rs: render_into")
    }

    /// The rendering for `event`.
    pub fn render(&self, event: &Event) -> Text {
        let mut s = String::new();
        self.render_into(event, &mut s);
        Text::from_string(s)
    }
}
