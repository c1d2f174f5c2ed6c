//! One run of the page: the page's config files and sample lines in, the events out as
//! Elasticsearch would index them, each with its [`trace`](crate::plan::trace), or the config's
//! problems at `path:line:col`.
//!
//! The same code as production builds and runs the filters: the config is parsed and built by
//! [`crate::config::parse`] and [`crate::plan::build_with`] (only its filter sections, as
//! `sluice test` does), lines are decoded by the codec as `sluice test` decodes a case's input,
//! get `host` as the `stdin` input gives it, and events are written by the Elasticsearch
//! output's own [`write_event`](crate::event::json::write_event).

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::cli::test::{codec_from_text, event_fields, input_events};
use crate::config::ast::{self, Statement};
use crate::config::options::process_env;
use crate::config::{self, Diagnostic, ParseOptions, PluginArgs, SourceMap, Span};
use crate::event::Event;
use crate::filters::grok;
use crate::inputs::{hostname, set_host_if_missing};
use crate::plan::trace::{FilterStep, Step};
use crate::plan::{self, BuildSettings, FilterGraph, FilterNode};

use super::view;
use super::workspace::FileText;

/// How configs are parsed and built (from `--settings` and the pipeline flags).
#[derive(Clone, Default)]
pub struct SessionSettings {
    pub parse: ParseOptions,
    pub build: BuildSettings,
}

/// `POST /api/run`.
#[derive(Debug, Deserialize)]
pub struct RunRequest {
    pub files: Vec<FileText>,
    #[serde(default)]
    pub lines: Vec<String>,
    #[serde(flatten)]
    pub input: InputOptions,
}

/// How sample lines become events.
#[derive(Debug, Default, Deserialize)]
pub struct InputOptions {
    /// Codec text (`json_lines`, `line { delimiter => "|" }`); `line` when not given.
    #[serde(default)]
    pub codec: Option<String>,
    /// Fields set on every event (`[a][b]` keys).
    #[serde(default)]
    pub fields: serde_json::Map<String, serde_json::Value>,
}

/// `POST /api/grok`.
#[derive(Debug, Deserialize)]
pub struct GrokRequest {
    pub files: Vec<FileText>,
    pub id: String,
    pub line: String,
    #[serde(flatten)]
    pub input: InputOptions,
}

/// The answer to `POST /api/run`.
#[derive(Debug, Serialize)]
pub struct RunResponse {
    pub ok: bool,
    pub diagnostics: Vec<DiagnosticView>,
    pub results: Vec<LineResult>,
}

/// What one sample line became.
#[derive(Debug, Serialize)]
pub struct LineResult {
    pub input: String,
    pub events: Vec<EventView>,
    pub dropped: Vec<DroppedView>,
    /// Why the line could not be made into events (a bad codec or field), if so.
    pub error: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct EventView {
    /// The document as the Elasticsearch output writes it.
    pub event: Box<RawValue>,
    pub metadata: serde_json::Value,
    pub trace: Vec<StepView>,
}

#[derive(Debug, Serialize)]
pub struct DroppedView {
    pub trace: Vec<StepView>,
}

/// A config problem, located.
#[derive(Debug, Clone, Serialize)]
pub struct DiagnosticView {
    pub path: String,
    pub line: usize,
    pub col: usize,
    pub end_line: usize,
    pub end_col: usize,
    pub message: String,
    pub help: Option<String>,
    /// Exactly what `sluice check` prints for it.
    pub rendered: String,
}

/// A place in the config text.
#[derive(Debug, Clone, Serialize)]
pub struct Place {
    pub path: Option<String>,
    pub line: Option<usize>,
    pub col: Option<usize>,
}

/// One [`Step`], located and with JSON values.
#[derive(Debug, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum StepView {
    Condition {
        /// `if` or `else if`.
        keyword: &'static str,
        text: String,
        #[serde(flatten)]
        place: Place,
        result: bool,
    },
    Else {
        #[serde(flatten)]
        place: Place,
    },
    Filter {
        name: String,
        id: String,
        #[serde(flatten)]
        place: Place,
        added: serde_json::Map<String, serde_json::Value>,
        changed: serde_json::Map<String, serde_json::Value>,
        removed: Vec<String>,
        tags_added: Vec<String>,
        tags_removed: Vec<String>,
        dropped: bool,
        created: usize,
    },
}

/// Why a grok request could not be answered.
#[derive(Debug, thiserror::Error)]
pub enum GrokError {
    #[error("the config has errors")]
    Config(Vec<DiagnosticView>),
    #[error("no grok filter has the id {0:?}")]
    NoSuchFilter(String),
    #[error("{0}")]
    Input(String),
}

/// The answer to `POST /api/grok`.
#[derive(Debug, Serialize)]
pub struct GrokResponse {
    pub id: String,
    #[serde(flatten)]
    pub place: Place,
    /// Whether the event reached the filter (when not, the line's own event is explained).
    pub reached: bool,
    #[serde(flatten)]
    pub explanation: grok::debug::Explanation,
}

/// A config built for the sandbox: its text, its filter sections and their graph.
pub struct Loaded {
    pub sources: SourceMap,
    pub filters: ast::Config,
    pub graph: FilterGraph,
}

/// Parses and builds the filter sections of `files`, or returns every problem.
pub fn load(files: &[FileText], settings: &SessionSettings) -> Result<Loaded, Vec<DiagnosticView>> {
    let mut sources = SourceMap::new();
    for file in files {
        sources.add(&file.path, &file.text);
    }
    let parsed =
        config::parse(&sources, settings.parse).map_err(|d| diagnostics(&sources, &d.0))?;
    let filters = parsed.only_filters();
    let plan = plan::build_with(&filters, &process_env, settings.build.clone())
        .map_err(|d| diagnostics(&sources, &d.0))?;
    Ok(Loaded {
        sources,
        filters,
        graph: plan.filters,
    })
}

/// Runs every line of `request` through its config.
pub fn run(request: &RunRequest, settings: &SessionSettings) -> RunResponse {
    let loaded = match load(&request.files, settings) {
        Ok(loaded) => loaded,
        Err(diagnostics) => {
            return RunResponse {
                ok: false,
                diagnostics,
                results: Vec::new(),
            }
        }
    };
    let results = request
        .lines
        .iter()
        .map(|line| run_line(&loaded, line, &request.input, settings))
        .collect();
    RunResponse {
        ok: true,
        diagnostics: Vec::new(),
        results,
    }
}

fn run_line(
    loaded: &Loaded,
    line: &str,
    input: &InputOptions,
    settings: &SessionSettings,
) -> LineResult {
    let mut result = LineResult {
        input: line.to_string(),
        events: Vec::new(),
        dropped: Vec::new(),
        error: None,
    };
    let events = match line_events(line, input, settings) {
        Ok(events) => events,
        Err(e) => {
            result.error = Some(e);
            return result;
        }
    };
    for event in events {
        let trace = loaded.graph.trace(event);
        for traced in trace.events {
            result.events.push(EventView {
                event: view::document(&traced.event),
                metadata: view::metadata(&traced.event),
                trace: steps(&loaded.sources, &traced.steps),
            });
        }
        for dropped in trace.dropped {
            result.dropped.push(DroppedView {
                trace: steps(&loaded.sources, &dropped),
            });
        }
    }
    result
}

/// The events one sample line makes: decoded as `sluice test` decodes a case's input, with
/// the request's fields, and `host` as `stdin` sets it.
pub fn line_events(
    line: &str,
    input: &InputOptions,
    settings: &SessionSettings,
) -> Result<Vec<Event>, String> {
    let codec = codec_from_text(
        input.codec.as_deref().unwrap_or("line"),
        settings.build.clone(),
    )?;
    let fields = event_fields(input.fields.clone()).map_err(|e| format!("fields: {e}"))?;
    let mut events = input_events(&[line.to_string()], fields.iter(), &*codec);
    set_host_if_missing(&mut events, &hostname());
    Ok(events)
}

/// Explains what the grok filter `request.id` does with the event `request.line` makes, as it
/// reaches that filter.
pub fn grok(request: &GrokRequest, settings: &SessionSettings) -> Result<GrokResponse, GrokError> {
    let loaded = load(&request.files, settings).map_err(GrokError::Config)?;
    let stage_span = find_stage(&loaded.graph.nodes, &request.id)
        .ok_or_else(|| GrokError::NoSuchFilter(request.id.clone()))?;
    let plugin = find_plugin(&loaded.filters, stage_span)
        .ok_or_else(|| GrokError::NoSuchFilter(request.id.clone()))?;
    let mut events =
        line_events(&request.line, &request.input, settings).map_err(GrokError::Input)?;
    if events.is_empty() {
        return Err(GrokError::Input("the line makes no event".into()));
    }
    let event = events.swap_remove(0);
    let (event, reached) = match loaded.graph.event_reaching(event.clone(), &request.id) {
        Some(reached) => (reached, true),
        None => (event, false),
    };
    let args = PluginArgs::new(plugin, &process_env)
        .with_ecs_compatibility(settings.build.ecs_compatibility)
        .with_data_path(settings.build.data_path.clone());
    let explanation = grok::debug::explain(&args, &event)
        .map_err(|d| GrokError::Config(diagnostics(&loaded.sources, &d.0)))?;
    Ok(GrokResponse {
        id: request.id.clone(),
        place: place(&loaded.sources, plugin.span),
        reached,
        explanation,
    })
}

/// The span of the grok filter with id `id`.
fn find_stage(nodes: &[FilterNode], id: &str) -> Option<Span> {
    nodes.iter().find_map(|node| match node {
        FilterNode::Filter(stage) => (stage.id == id && stage.name == "grok").then_some(stage.span),
        FilterNode::Branch(branch) => branch
            .arms
            .iter()
            .map(|(_, nodes)| nodes)
            .chain(std::iter::once(&branch.otherwise))
            .find_map(|nodes| find_stage(nodes, id)),
    })
}

/// The filter plugin written at `span`.
fn find_plugin(config: &ast::Config, span: Span) -> Option<&ast::Plugin> {
    config
        .sections
        .iter()
        .find_map(|section| plugin_in(&section.body, span))
}

fn plugin_in(body: &[Statement], span: Span) -> Option<&ast::Plugin> {
    body.iter().find_map(|statement| match statement {
        Statement::Plugin(p) => (p.span == span).then_some(p),
        Statement::If(chain) => chain
            .branches
            .iter()
            .find_map(|arm| plugin_in(&arm.body, span))
            .or_else(|| chain.otherwise.as_deref().and_then(|b| plugin_in(b, span))),
    })
}

fn diagnostics(sources: &SourceMap, list: &[Diagnostic]) -> Vec<DiagnosticView> {
    let mut sorted: Vec<&Diagnostic> = list.iter().collect();
    sorted.sort_by_key(|d| (d.span.start, d.span.end));
    sorted
        .into_iter()
        .map(|d| {
            let start = sources.locate(d.span.start);
            let end = sources.locate(d.span.end);
            DiagnosticView {
                path: start.path.to_string(),
                line: start.line,
                col: start.col,
                end_line: end.line,
                end_col: end.col,
                message: d.message.clone(),
                help: d.help.clone(),
                rendered: sources.render(d),
            }
        })
        .collect()
}

fn place(sources: &SourceMap, span: Span) -> Place {
    let at = sources.locate(span.start);
    Place {
        path: Some(at.path.to_string()),
        line: Some(at.line),
        col: Some(at.col),
    }
}

fn steps(sources: &SourceMap, steps: &[Step]) -> Vec<StepView> {
    steps.iter().map(|step| step_view(sources, step)).collect()
}

fn step_view(sources: &SourceMap, step: &Step) -> StepView {
    match step {
        Step::Condition {
            arm,
            text,
            span,
            result,
        } => StepView::Condition {
            keyword: if *arm == 0 { "if" } else { "else if" },
            text: text.clone(),
            place: place(sources, *span),
            result: *result,
        },
        Step::Else => StepView::Else {
            place: Place {
                path: None,
                line: None,
                col: None,
            },
        },
        Step::Filter(step) => filter_view(sources, step),
    }
}

fn filter_view(sources: &SourceMap, step: &FilterStep) -> StepView {
    let changed = step
        .changed
        .iter()
        .map(|(path, from, to)| {
            let change = serde_json::json!({"from": view::value(from), "to": view::value(to)});
            (path.clone(), change)
        })
        .collect();
    StepView::Filter {
        name: step.name.clone(),
        id: step.id.clone(),
        place: place(sources, step.span),
        added: step
            .added
            .iter()
            .map(|(path, value)| (path.clone(), view::value(value)))
            .collect(),
        changed,
        removed: step.removed.clone(),
        tags_added: step.tags_added.clone(),
        tags_removed: step.tags_removed.clone(),
        dropped: step.dropped,
        created: step.created,
    }
}
