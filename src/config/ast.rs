//! The syntax tree of a Logstash pipeline config (LSCL), as the parser produces it. Every node
//! carries the [`Span`] it came from so later stages can point at it.
//!
//! ```text
//! input  { stdin { codec => json } }
//! filter { if [type] == "nginx" { mutate { add_tag => ["web"] } } else { drop {} } }
//! output { stdout {} }
//! ```

use super::source::{Span, Spanned};

/// A whole config: its sections in source order (any order, repeated).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Config {
    pub sections: Vec<Section>,
}

impl Config {
    /// The config's filter sections only (what `sluice test`, the sandbox and release checks
    /// build: inputs and outputs are replaced there).
    pub fn only_filters(&self) -> Config {
        Config {
            sections: self
                .sections
                .iter()
                .filter(|s| s.kind == SectionKind::Filter)
                .cloned()
                .collect(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SectionKind {
    Input,
    Filter,
    Output,
}

impl SectionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SectionKind::Input => "input",
            SectionKind::Filter => "filter",
            SectionKind::Output => "output",
        }
    }
}

/// `input { ... }`, `filter { ... }` or `output { ... }`.
#[derive(Clone, Debug, PartialEq)]
pub struct Section {
    pub kind: SectionKind,
    /// The span of the keyword.
    pub kind_span: Span,
    pub body: Vec<Statement>,
    pub span: Span,
}

/// A plugin or a conditional.
#[derive(Clone, Debug, PartialEq)]
pub enum Statement {
    Plugin(Plugin),
    If(IfChain),
}

/// `name { attr => value ... }`.
#[derive(Clone, Debug, PartialEq)]
pub struct Plugin {
    /// The name without quotes (a quoted name is allowed).
    pub name: Spanned<String>,
    /// In source order, repeated names kept as they are (the plan merges them).
    pub attributes: Vec<Attribute>,
    /// From the name to the closing brace.
    pub span: Span,
}

/// `name => value`.
#[derive(Clone, Debug, PartialEq)]
pub struct Attribute {
    pub name: Spanned<String>,
    pub value: Spanned<Value>,
}

/// A plugin attribute's value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// The text between the quotes. Without `config.support_escapes` only `\"` / `\'` are
    /// special (they do not end the string) and the backslash is kept, as in Logstash; with it,
    /// `\n \r \t \\ \" \' \0` are replaced.
    String(String),
    Number(Number),
    /// An unquoted word such as `true`, `json` or `info`.
    Bareword(String),
    Array(Vec<Spanned<Value>>),
    /// Entries in source order; keys are numbers, barewords or strings, kept as text.
    Hash(Vec<HashEntry>),
    /// A plugin used as a value: `codec => json { charset => "UTF-8" }`.
    Plugin(Plugin),
}

impl Value {
    /// A short description for error messages: "string", "number", ...
    pub fn kind_name(&self) -> &'static str {
        match self {
            Value::String(_) => "string",
            Value::Number(_) => "number",
            Value::Bareword(_) => "bareword",
            Value::Array(_) => "array",
            Value::Hash(_) => "hash",
            Value::Plugin(_) => "plugin",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct HashEntry {
    pub key: Spanned<String>,
    pub value: Spanned<Value>,
}

/// `-?[0-9]+(\.[0-9]*)?`; integers stay exact.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Number {
    Int(i64),
    Float(f64),
}

/// `if (c) {..} else if (c) {..} else {..}`.
#[derive(Clone, Debug, PartialEq)]
pub struct IfChain {
    /// The `if` first, then each `else if`.
    pub branches: Vec<Branch>,
    /// The `else` body, if any.
    pub otherwise: Option<Vec<Statement>>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Branch {
    pub condition: Spanned<Expr>,
    pub body: Vec<Statement>,
}

/// A condition.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// `a and b`, `a or b`, `a xor b`, `a nand b`. Precedence is resolved by the parser: `and`
    /// binds tighter than `or`; chains mixing `xor`/`nand` with other operators without
    /// parentheses are rejected, as Logstash does.
    Bool {
        op: BoolOp,
        lhs: Box<Spanned<Expr>>,
        rhs: Box<Spanned<Expr>>,
    },
    /// `!( cond )` or `! [selector]`.
    Not(Box<Spanned<Expr>>),
    /// `rv == rv`, `rv < rv`, ...
    Compare {
        op: CompareOp,
        lhs: Spanned<RValue>,
        rhs: Spanned<RValue>,
    },
    /// `rv =~ /re/`, `rv !~ "re"`: `pattern` is an [`RValue::Regex`] or [`RValue::String`].
    Match {
        negated: bool,
        lhs: Spanned<RValue>,
        pattern: Spanned<RValue>,
    },
    /// `rv in rv`, `rv not in rv`.
    In {
        negated: bool,
        needle: Spanned<RValue>,
        haystack: Spanned<RValue>,
    },
    /// A bare rvalue, tested for truthiness.
    Value(Spanned<RValue>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BoolOp {
    And,
    Or,
    Xor,
    Nand,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
}

impl BoolOp {
    /// The operator as written in a config.
    pub fn as_str(self) -> &'static str {
        match self {
            BoolOp::And => "and",
            BoolOp::Or => "or",
            BoolOp::Xor => "xor",
            BoolOp::Nand => "nand",
        }
    }
}

impl CompareOp {
    /// The operator as written in a config.
    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "==",
            CompareOp::Ne => "!=",
            CompareOp::Lt => "<",
            CompareOp::Gt => ">",
            CompareOp::Le => "<=",
            CompareOp::Ge => ">=",
        }
    }
}

/// An operand in a condition.
#[derive(Clone, Debug, PartialEq)]
pub enum RValue {
    /// The text between the quotes (same escape rule as [`Value::String`]).
    String(String),
    Number(Number),
    /// A field reference as written: `[a][b]` (one or more bracketed names).
    Selector(String),
    Array(Vec<Spanned<RValue>>),
    /// The text between the slashes, `\/` turned into `/`.
    Regex(String),
}
