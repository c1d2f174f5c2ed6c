//! The LSCL parser: config text -> [`ast::Config`], or every syntax error found, each at a span.

use super::ast;
use super::source::{Diagnostics, SourceMap};

/// Parser settings.
#[derive(Clone, Copy, Debug, Default)]
pub struct ParseOptions {
    /// Logstash's `config.support_escapes`: process `\n \r \t \\ \" \' \0` in strings.
    pub support_escapes: bool,
}

/// Parses the whole text of `sources`.
pub fn parse(sources: &SourceMap, options: ParseOptions) -> Result<ast::Config, Diagnostics> {
    let _ = (sources, options);
    todo!("config/parser.rs: parse")
}
