//! The validated plan: every plugin built, every pattern and condition compiled, ready to run.
//! Nothing downstream of the plan reads config text again.
//!
//! - `build`: [`ast::Config`](crate::config::ast::Config) -> [`Plan`], collecting every problem
//!   as a spanned diagnostic (unknown plugin or option, wrong type, bad regex, ...);
//! - `condition`: [`Condition`], a conditional compiled to a tree that evaluates without
//!   allocating;
//! - `filter_graph`: running a batch through the filter section's plugins and branches, and
//!   optionally counting how many events reached each of them ([`Coverage`]);
//! - `output_graph`: deciding which outputs get which events of a batch;
//! - `trace`: one event through the filters, step by step, for the sandbox ([`trace::Trace`]).

pub mod build;
pub mod condition;
pub mod filter_graph;
pub mod output_graph;
pub mod trace;

pub use build::{build, build_with, BuildSettings};
pub use condition::Condition;
pub use filter_graph::{ArmCoverage, BranchCoverage, Coverage, NodeCoverage};

use crate::filters::{CommonOptions, Filter};
use crate::inputs::Input;
use crate::outputs::Output;

/// A runnable pipeline description.
pub struct Plan {
    pub inputs: Vec<InputPlan>,
    pub filters: FilterGraph,
    pub outputs: Vec<OutputPlan>,
    /// Which events go to which of `outputs`.
    pub output_routes: OutputGraph,
}

/// One built input.
pub struct InputPlan {
    /// The plugin's Logstash name (`stdin`).
    pub name: String,
    /// The `id` option, or `name` plus its position.
    pub id: String,
    pub input: Box<dyn Input>,
    pub decoration: crate::inputs::Decoration,
}

/// One built output.
pub struct OutputPlan {
    pub name: String,
    pub id: String,
    pub output: Box<dyn Output>,
}

/// `if` / `else if` / `else` over nodes of type `N`.
pub struct Branch<N> {
    pub arms: Vec<(Condition, Vec<N>)>,
    pub otherwise: Vec<N>,
}

/// The filter section as a tree.
#[derive(Default)]
pub struct FilterGraph {
    pub nodes: Vec<FilterNode>,
}

pub enum FilterNode {
    Filter(FilterStage),
    Branch(Branch<FilterNode>),
}

/// One built filter with its shared options.
pub struct FilterStage {
    pub name: String,
    pub id: String,
    pub filter: Box<dyn Filter>,
    pub common: CommonOptions,
    /// The plugin in the config text (`grok { ... }`), for the sandbox's trace and debugger.
    pub span: crate::config::Span,
}

/// The output section as a tree whose leaves are indices into [`Plan::outputs`].
#[derive(Default)]
pub struct OutputGraph {
    pub nodes: Vec<OutputNode>,
}

pub enum OutputNode {
    Output(usize),
    Branch(Branch<OutputNode>),
}
