//! Building a [`Plan`] from the syntax tree.

use crate::config::options::EnvLookup;
use crate::config::{ast, Diagnostics};

use super::Plan;

/// Builds every plugin and compiles every condition of `config`, or returns every problem.
pub fn build(config: &ast::Config, env: &EnvLookup) -> Result<Plan, Diagnostics> {
    let _ = (config, env);
    todo!("plan/build.rs")
}
