//! [`Condition`]: a conditional expression compiled once at plan time into a tree of typed nodes
//! (field paths parsed, regexes compiled, literals converted) that evaluates against an event
//! without allocating.

use crate::config::options::EnvLookup;
use crate::config::{ast, Diagnostics, Spanned};
use crate::event::Event;

/// A compiled condition.
#[derive(Debug)]
pub struct Condition {}

impl Condition {
    /// Compiles `expr`; `${VAR}` in string literals is substituted from `env`. Errors (bad field
    /// reference, invalid regex, ...) point at the offending operand.
    pub fn compile(expr: &Spanned<ast::Expr>, env: &EnvLookup) -> Result<Condition, Diagnostics> {
        let _ = (expr, env);
        todo!("plan/condition.rs: compile")
    }

    /// Evaluates against `event`.
    pub fn eval(&self, event: &Event) -> bool {
        let _ = event;
        todo!("plan/condition.rs: eval")
    }
}
