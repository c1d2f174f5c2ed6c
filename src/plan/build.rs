//! Building a [`Plan`] from the syntax tree: look every plugin up in the registry, read its
//! options, build it, and compile every condition. Problems are collected, not thrown, so one
//! `sluice check` reports all of them.

use std::collections::HashSet;
use std::sync::Arc;

use crate::codecs::Codec;
use crate::config::ast::{self, SectionKind, Statement};
use crate::config::options::{EcsCompatibility, EnvLookup};
use crate::config::source::did_you_mean;
use crate::config::{Diagnostic, Diagnostics, PluginArgs, Span, Spanned};
use crate::{filters, inputs, registry};

use super::{
    Branch, Condition, FilterGraph, FilterNode, FilterStage, InputPlan, OutputGraph, OutputNode,
    OutputPlan, Plan,
};

/// Pipeline-wide settings plugins are built with.
#[derive(Clone, Default)]
pub struct BuildSettings {
    /// `pipeline.ecs_compatibility`: the default of every plugin's `ecs_compatibility`.
    pub ecs_compatibility: EcsCompatibility,
    /// The pipeline's dead letter queue, when `dead_letter_queue.enable` is on.
    pub dead_letter_queue: Option<std::sync::Arc<crate::dlq::DeadLetterQueue>>,
    /// `path.data` (`None`: the default, `data`).
    pub data_path: Option<std::path::PathBuf>,
}

/// Builds every plugin and compiles every condition of `config`, or returns every problem.
pub fn build(config: &ast::Config, env: &EnvLookup) -> Result<Plan, Diagnostics> {
    build_with(config, env, BuildSettings::default())
}

/// [`build`] with pipeline-wide settings.
pub fn build_with(
    config: &ast::Config,
    env: &EnvLookup,
    settings: BuildSettings,
) -> Result<Plan, Diagnostics> {
    let mut builder = Builder {
        env,
        settings,
        diagnostics: Diagnostics::default(),
        ids: HashSet::new(),
    };
    let mut plan = Plan {
        inputs: Vec::new(),
        filters: FilterGraph::default(),
        outputs: Vec::new(),
        output_routes: OutputGraph::default(),
    };
    for section in &config.sections {
        match section.kind {
            SectionKind::Input => builder.inputs(&section.body, &mut plan.inputs),
            SectionKind::Filter => {
                let nodes = builder.filter_nodes(&section.body);
                plan.filters.nodes.extend(nodes);
            }
            SectionKind::Output => {
                let nodes = builder.output_nodes(&section.body, &mut plan.outputs);
                plan.output_routes.nodes.extend(nodes);
            }
        }
    }
    if builder.diagnostics.is_empty() {
        Ok(plan)
    } else {
        Err(builder.diagnostics)
    }
}

struct Builder<'e> {
    env: &'e EnvLookup,
    settings: BuildSettings,
    diagnostics: Diagnostics,
    /// Plugin ids seen so far; Logstash requires them to be unique within a pipeline.
    ids: HashSet<String>,
}

impl<'e> Builder<'e> {
    fn args<'p>(&self, plugin: &'p ast::Plugin) -> PluginArgs<'p>
    where
        'e: 'p,
    {
        PluginArgs::new(plugin, self.env)
            .with_ecs_compatibility(self.settings.ecs_compatibility)
            .with_data_path(self.settings.data_path.clone())
    }

    /// Keeps a result's value, or records its problems and returns `None`.
    fn keep<T>(&mut self, result: Result<T, Diagnostics>) -> Option<T> {
        result.map_err(|d| self.diagnostics.extend(d)).ok()
    }

    fn unknown_plugin(&mut self, kind: &str, name: &Spanned<String>, known: &[&'static str]) {
        let mut d = Diagnostic::new(
            name.span,
            format!("unknown {kind} plugin \"{}\"", name.node),
        );
        if let Some(s) = did_you_mean(&name.node, known.iter().copied()) {
            d = d.with_help(format!("did you mean \"{s}\"?"));
        }
        self.diagnostics.push(d);
    }

    /// The plugin's `id`, or a generated `name-N`; reports duplicates.
    fn plugin_id(&mut self, common: &PluginArgs, name: &str) -> String {
        let given = common.attribute("id").map(|a| {
            let id = PluginArgs::value_as::<String>(&a.value, self.env);
            (a.value.span, id)
        });
        let id = match given {
            Some((span, Ok(id))) => {
                if !self.ids.insert(id.clone()) {
                    self.diagnostics.push(Diagnostic::new(
                        span,
                        format!("duplicate plugin id \"{id}\": ids must be unique in a pipeline"),
                    ));
                }
                return id;
            }
            Some((_, Err(d))) => {
                self.diagnostics.extend(d);
                name.to_string()
            }
            None => name.to_string(),
        };
        let mut n = 1;
        while !self.ids.insert(format!("{id}-{n}")) {
            n += 1;
        }
        format!("{id}-{n}")
    }

    fn inputs(&mut self, body: &[Statement], out: &mut Vec<InputPlan>) {
        for statement in body {
            match statement {
                Statement::Plugin(p) => out.extend(self.input(p)),
                Statement::If(chain) => self.diagnostics.push(Diagnostic::new(
                    chain.span,
                    "conditionals are not allowed in the input section",
                )),
            }
        }
    }

    fn input(&mut self, plugin: &ast::Plugin) -> Option<InputPlan> {
        let Some(spec) = registry::input(&plugin.name.node) else {
            let known: Vec<_> = registry::INPUTS.iter().map(|s| s.name).collect();
            self.unknown_plugin("input", &plugin.name, &known);
            return None;
        };
        let mut args = self.args(plugin);
        let common = args.split_off(inputs::COMMON_NAMES);
        let id = self.plugin_id(&common, spec.name);
        let codec = self.codec(
            common.attribute("codec").map(|a| &a.value),
            spec.default_codec,
        );
        let decoration = self.keep(inputs::Decoration::build(&common));
        let input = self.keep((spec.build)(&args, codec?));
        Some(InputPlan {
            name: spec.name.to_string(),
            id,
            input: input?,
            decoration: decoration?,
        })
    }

    /// Builds the codec named by a `codec =>` value (a name or a plugin with options), or the
    /// plugin's default codec.
    fn codec(
        &mut self,
        value: Option<&Spanned<ast::Value>>,
        default: &str,
    ) -> Option<Arc<dyn Codec>> {
        let plugin = match value.map(|v| (&v.node, v.span)) {
            Some((ast::Value::Plugin(p), _)) => p.clone(),
            Some((ast::Value::String(name) | ast::Value::Bareword(name), span)) => {
                bare_plugin(name, span)
            }
            Some((other, span)) => {
                self.diagnostics.push(Diagnostic::new(
                    span,
                    format!(
                        "expected a codec name or `name {{ options }}`, got {}",
                        other.kind_name()
                    ),
                ));
                return None;
            }
            None => bare_plugin(default, Span::default()),
        };
        let Some(spec) = registry::codec(&plugin.name.node) else {
            let known: Vec<_> = registry::CODECS.iter().map(|s| s.name).collect();
            self.unknown_plugin("codec", &plugin.name, &known);
            return None;
        };
        let args = self.args(&plugin);
        self.keep((spec.build)(&args))
    }

    fn condition(&mut self, expr: &Spanned<ast::Expr>) -> Option<Condition> {
        self.keep(Condition::compile(expr, self.env))
    }

    fn filter_nodes(&mut self, body: &[Statement]) -> Vec<FilterNode> {
        let mut nodes = Vec::with_capacity(body.len());
        for statement in body {
            match statement {
                Statement::Plugin(p) => nodes.extend(self.filter(p).map(FilterNode::Filter)),
                Statement::If(chain) => {
                    let branch = self.branch(chain, Self::filter_nodes);
                    nodes.extend(branch.map(FilterNode::Branch));
                }
            }
        }
        nodes
    }

    fn filter(&mut self, plugin: &ast::Plugin) -> Option<FilterStage> {
        let Some(spec) = registry::filter(&plugin.name.node) else {
            let known: Vec<_> = registry::FILTERS.iter().map(|s| s.name).collect();
            self.unknown_plugin("filter", &plugin.name, &known);
            return None;
        };
        let mut args = self.args(plugin);
        let common_args = args.split_off(filters::common::NAMES);
        let id = self.plugin_id(&common_args, spec.name);
        let common = self.keep(filters::CommonOptions::build(&common_args));
        let filter = self.keep((spec.build)(&args));
        Some(FilterStage {
            name: spec.name.to_string(),
            id,
            filter: filter?,
            common: common?,
            span: plugin.span,
        })
    }

    fn output_nodes(
        &mut self,
        body: &[Statement],
        outputs: &mut Vec<OutputPlan>,
    ) -> Vec<OutputNode> {
        let mut nodes = Vec::with_capacity(body.len());
        for statement in body {
            match statement {
                Statement::Plugin(p) => {
                    if let Some(output) = self.output(p) {
                        outputs.push(output);
                        nodes.push(OutputNode::Output(outputs.len() - 1));
                    }
                }
                Statement::If(chain) => {
                    let branch = self.branch(chain, |b, body| b.output_nodes(body, outputs));
                    nodes.extend(branch.map(OutputNode::Branch));
                }
            }
        }
        nodes
    }

    fn output(&mut self, plugin: &ast::Plugin) -> Option<OutputPlan> {
        let Some(spec) = registry::output(&plugin.name.node) else {
            let known: Vec<_> = registry::OUTPUTS.iter().map(|s| s.name).collect();
            self.unknown_plugin("output", &plugin.name, &known);
            return None;
        };
        let mut args = self.args(plugin);
        let common = args.split_off(OUTPUT_COMMON_NAMES);
        let id = self.plugin_id(&common, spec.name);
        let codec = self.codec(
            common.attribute("codec").map(|a| &a.value),
            spec.default_codec,
        );
        let args = args
            .with_plugin_id(&id)
            .with_dead_letter_queue(self.settings.dead_letter_queue.clone());
        let output = self.keep((spec.build)(&args, codec?));
        Some(OutputPlan {
            name: spec.name.to_string(),
            id,
            output: output?,
        })
    }

    /// Compiles an if/else-if/else chain whose bodies are built by `nodes`.
    fn branch<N>(
        &mut self,
        chain: &ast::IfChain,
        mut nodes: impl FnMut(&mut Self, &[Statement]) -> Vec<N>,
    ) -> Option<Branch<N>> {
        let mut arms = Vec::with_capacity(chain.branches.len());
        let mut ok = true;
        for arm in &chain.branches {
            let condition = self.condition(&arm.condition);
            let body = nodes(self, &arm.body);
            match condition {
                Some(c) => arms.push((c, body)),
                None => ok = false,
            }
        }
        let otherwise = chain
            .otherwise
            .as_deref()
            .map(|body| nodes(self, body))
            .unwrap_or_default();
        ok.then_some(Branch { arms, otherwise })
    }
}

/// The options every output shares; the plan handles `codec` and `id`, the rest are accepted
/// for Logstash compatibility.
const OUTPUT_COMMON_NAMES: &[&str] = &["codec", "id", "enable_metric", "workers"];

/// A plugin with no options, standing for a codec given by name (`codec => json`).
fn bare_plugin(name: &str, span: Span) -> ast::Plugin {
    ast::Plugin {
        name: Spanned::new(name.to_string(), span),
        attributes: Vec::new(),
        span,
    }
}
