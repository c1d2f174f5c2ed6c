//! Config text to syntax tree: the first step of sluice's one-way flow
//! (config text -> [`ast::Config`] -> validated [`crate::plan::Plan`] -> running pipeline).
//!
//! - `source`: [`SourceMap`] (the concatenated files), [`Span`], [`Diagnostic`] and rendering
//!   of `path:line:col: message` with a caret;
//! - `ast`: the syntax tree, every node spanned;
//! - `parser`: LSCL text -> [`ast::Config`], collecting every syntax error;
//! - `options`: a plugin's attributes -> its typed options struct, with Logstash's loading rules
//!   (repeated attributes, `${VAR}`, coercions) and spanned errors.

pub mod ast;
pub mod duration;
pub mod options;
pub mod parser;
pub mod source;

pub use options::PluginArgs;
pub use parser::{parse, ParseOptions};
pub use source::{Diagnostic, Diagnostics, SourceMap, Span, Spanned};
