//! Tracing one event through a [`FilterGraph`]: which conditions held, which filters ran, and
//! what each did to the event's fields and tags, in order (the sandbox's per-event trace).
//!
//! [`FilterGraph::trace`] runs the graph's own filters with their own common options, exactly
//! as [`FilterGraph::process`] does, on a batch of one event; events a filter creates (`clone`,
//! `split`) carry the trace so far and go on through the rest of the graph. It snapshots the
//! event's fields before and after every filter, so it is for debugging only, never the
//! pipeline's hot path.

use std::collections::BTreeMap;

use crate::config::Span;
use crate::event::{Event, Map, Value};

use super::{Branch, FilterGraph, FilterNode, FilterStage};

/// One thing that happened to an event.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    /// A condition was evaluated (conditions after the first true one of a chain are not).
    Condition {
        /// Its place in the chain: 0 for the `if`, then each `else if`.
        arm: usize,
        text: String,
        span: Span,
        result: bool,
    },
    /// No condition of a chain held and its `else` ran.
    Else,
    Filter(FilterStep),
}

/// What one filter did to an event.
#[derive(Clone, Debug, PartialEq)]
pub struct FilterStep {
    pub name: String,
    pub id: String,
    pub span: Span,
    /// Fields (`[a][b]`) the event did not have before, with their new values.
    pub added: Vec<(String, Value)>,
    /// Fields whose value changed: (field, before, after).
    pub changed: Vec<(String, Value, Value)>,
    pub removed: Vec<String>,
    pub tags_added: Vec<String>,
    pub tags_removed: Vec<String>,
    /// The filter dropped the event (it was cancelled).
    pub dropped: bool,
    /// Events the filter made besides this one (on the first of them only).
    pub created: usize,
}

/// An event that came out of the graph, with its trace.
#[derive(Clone, Debug)]
pub struct Traced {
    pub event: Event,
    pub steps: Vec<Step>,
}

/// Everything one input event became.
#[derive(Debug, Default)]
pub struct Trace {
    /// The events that came out, in the order the pipeline would pass them on.
    pub events: Vec<Traced>,
    /// The traces of the events that were dropped; each ends with the dropping filter's step.
    pub dropped: Vec<Vec<Step>>,
}

impl FilterGraph {
    /// Runs `event` through the graph, recording every step.
    pub fn trace(&self, event: Event) -> Trace {
        let mut walk = Walk::default();
        let events = walk.nodes(&self.nodes, vec![start(event)]);
        Trace {
            events,
            dropped: walk.dropped,
        }
    }

    /// The event as it reaches the filter whose id is `id` (the first time one does), or `None`
    /// when no event reaches it.
    pub fn event_reaching(&self, event: Event, id: &str) -> Option<Event> {
        let mut walk = Walk {
            stop_at: Some(id),
            ..Walk::default()
        };
        walk.nodes(&self.nodes, vec![start(event)]);
        walk.reached
    }
}

fn start(event: Event) -> Traced {
    Traced {
        event,
        steps: Vec::new(),
    }
}

#[derive(Default)]
struct Walk<'a> {
    dropped: Vec<Vec<Step>>,
    stop_at: Option<&'a str>,
    reached: Option<Event>,
}

impl Walk<'_> {
    fn nodes(&mut self, nodes: &[FilterNode], mut items: Vec<Traced>) -> Vec<Traced> {
        for node in nodes {
            if items.is_empty() || self.reached.is_some() {
                break;
            }
            items = match node {
                FilterNode::Filter(stage) => self.each(items, |walk, item| walk.stage(stage, item)),
                FilterNode::Branch(branch) => {
                    self.each(items, |walk, item| walk.branch(branch, item))
                }
            };
        }
        items
    }

    fn each(
        &mut self,
        items: Vec<Traced>,
        mut step: impl FnMut(&mut Self, Traced) -> Vec<Traced>,
    ) -> Vec<Traced> {
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            out.extend(step(self, item));
        }
        out
    }

    fn branch(&mut self, branch: &Branch<FilterNode>, mut item: Traced) -> Vec<Traced> {
        for (arm, (condition, nodes)) in branch.arms.iter().enumerate() {
            let result = condition.eval(&item.event);
            item.steps.push(Step::Condition {
                arm,
                text: condition.text().to_string(),
                span: condition.span(),
                result,
            });
            if result {
                return self.nodes(nodes, vec![item]);
            }
        }
        if branch.otherwise.is_empty() {
            return vec![item];
        }
        item.steps.push(Step::Else);
        self.nodes(&branch.otherwise, vec![item])
    }

    fn stage(&mut self, stage: &FilterStage, item: Traced) -> Vec<Traced> {
        if self.stop_at == Some(stage.id.as_str()) {
            self.reached = Some(item.event);
            return Vec::new();
        }
        let before = Snapshot::of(&item.event);
        let mut events = vec![item.event];
        stage.filter.filter(&mut events, &stage.common);
        events.retain(|e| !e.is_cancelled());
        if events.is_empty() {
            let mut steps = item.steps;
            let mut step = blank_step(stage);
            step.dropped = true;
            steps.push(Step::Filter(step));
            self.dropped.push(steps);
            return Vec::new();
        }
        let created = events.len() - 1;
        events
            .into_iter()
            .enumerate()
            .map(|(i, event)| {
                let mut step = before.diff(&Snapshot::of(&event), blank_step(stage));
                step.created = if i == 0 { created } else { 0 };
                let mut steps = item.steps.clone();
                steps.push(Step::Filter(step));
                Traced { event, steps }
            })
            .collect()
    }
}

fn blank_step(stage: &FilterStage) -> FilterStep {
    FilterStep {
        name: stage.name.clone(),
        id: stage.id.clone(),
        span: stage.span,
        added: Vec::new(),
        changed: Vec::new(),
        removed: Vec::new(),
        tags_added: Vec::new(),
        tags_removed: Vec::new(),
        dropped: false,
        created: 0,
    }
}

/// An event's leaf fields by `[a][b]` path (arrays are leaves), `@metadata` included, and its
/// tags apart.
struct Snapshot {
    fields: BTreeMap<String, Value>,
    tags: Vec<String>,
}

impl Snapshot {
    fn of(event: &Event) -> Snapshot {
        let mut fields = BTreeMap::new();
        flatten(event.fields(), &mut String::new(), &mut fields);
        fields.remove("[tags]");
        flatten(
            event.metadata(),
            &mut String::from("[@metadata]"),
            &mut fields,
        );
        let tags = match event.fields().get("tags") {
            Some(Value::Array(items)) => items.iter().map(tag_text).collect(),
            Some(Value::Null) | None => Vec::new(),
            Some(other) => vec![tag_text(other)],
        };
        Snapshot { fields, tags }
    }

    fn diff(&self, after: &Snapshot, mut step: FilterStep) -> FilterStep {
        for (path, value) in &after.fields {
            match self.fields.get(path) {
                None => step.added.push((path.clone(), value.clone())),
                Some(old) if old != value => {
                    step.changed
                        .push((path.clone(), old.clone(), value.clone()));
                }
                Some(_) => {}
            }
        }
        step.removed = self
            .fields
            .keys()
            .filter(|path| !after.fields.contains_key(*path))
            .cloned()
            .collect();
        step.tags_added = missing_from(&after.tags, &self.tags);
        step.tags_removed = missing_from(&self.tags, &after.tags);
        step
    }
}

fn tag_text(value: &Value) -> String {
    match value {
        Value::Str(s) => s.to_string(),
        other => {
            let mut text = String::new();
            let _ = crate::event::ruby::write_ruby_string(other, &mut text);
            text
        }
    }
}

/// The entries of `these` that `those` lacks, in order.
fn missing_from(these: &[String], those: &[String]) -> Vec<String> {
    these
        .iter()
        .filter(|t| !those.contains(t))
        .cloned()
        .collect()
}

fn flatten(map: &Map, prefix: &mut String, out: &mut BTreeMap<String, Value>) {
    for (key, value) in map.iter() {
        let len = prefix.len();
        prefix.push('[');
        prefix.push_str(key);
        prefix.push(']');
        match value {
            Value::Map(inner) if !inner.is_empty() => flatten(inner, prefix, out),
            other => {
                out.insert(prefix.clone(), other.clone());
            }
        }
        prefix.truncate(len);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::options::process_env;
    use crate::config::{parse, ParseOptions, SourceMap};
    use crate::event::{Text, Timestamp};

    fn graph(filters: &str) -> (FilterGraph, SourceMap) {
        let sources = SourceMap::single("t.conf", &format!("filter {{\n{filters}\n}}"));
        let config = parse(&sources, ParseOptions::default()).unwrap();
        let plan = crate::plan::build(&config, &process_env).unwrap_or_else(|d| {
            panic!("{}", d.render(&sources));
        });
        (plan.filters, sources)
    }

    fn event(message: &str) -> Event {
        let mut e = Event::new(Timestamp::from_secs(0));
        e.set_field(Text::from_static("message"), Value::from(message));
        e
    }

    fn filter_steps(steps: &[Step]) -> Vec<&FilterStep> {
        steps
            .iter()
            .filter_map(|s| match s {
                Step::Filter(f) => Some(f),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_trace_ends_in_the_same_events_as_processing_the_batch() {
        let (graph, _) = graph(
            r#"grok { match => { "message" => "%{WORD:verb} %{INT:n:int}" } }
               if [n] > 1 { clone { clones => ["copy"] } } else { mutate { add_tag => ["small"] } }
               if [type] == "copy" or "copy" in [tags] { drop {} }"#,
        );
        for line in ["GET 5", "PUT 1", "no match"] {
            let mut batch = vec![event(line)];
            graph.process(&mut batch);
            let traced: Vec<Event> = graph
                .trace(event(line))
                .events
                .into_iter()
                .map(|t| t.event)
                .collect();
            assert_eq!(traced, batch, "{line}");
        }
        let trace = graph.trace(event("GET 5"));
        assert_eq!(trace.events.len(), 1);
        assert_eq!(trace.dropped.len(), 1, "the clone is dropped");
        let clone_step = filter_steps(&trace.events[0].steps)[1];
        assert_eq!((clone_step.name.as_str(), clone_step.created), ("clone", 1));
    }

    #[test]
    fn conditions_are_recorded_until_one_holds_and_else_is_marked() {
        let (graph, sources) = graph(
            r#"if [message] == "a" { mutate { add_field => { "x" => "1" } } }
               else if [message] == "b" { mutate { add_field => { "x" => "2" } } }
               else { mutate { add_field => { "x" => "3" } } }"#,
        );
        let conditions = |line: &str| -> Vec<(String, bool)> {
            graph.trace(event(line)).events[0]
                .steps
                .iter()
                .filter_map(|s| match s {
                    Step::Condition { text, result, .. } => Some((text.clone(), *result)),
                    _ => None,
                })
                .collect()
        };
        assert_eq!(conditions("a"), [("[message] == \"a\"".to_string(), true)]);
        assert_eq!(
            conditions("b").iter().map(|c| c.1).collect::<Vec<_>>(),
            [false, true]
        );
        let steps = graph.trace(event("c")).events[0].steps.clone();
        assert!(matches!(steps[2], Step::Else), "{steps:?}");
        let Step::Condition { span, .. } = &steps[0] else {
            panic!("{steps:?}")
        };
        let at = sources.locate(span.start);
        assert_eq!((at.line, at.col), (2, 4));
    }

    #[test]
    fn field_and_tag_changes_are_diffed_per_filter() {
        let (graph, _) = graph(
            r#"mutate {
                 add_field => { "[a][b]" => "1" "[@metadata][m]" => "x" }
                 replace => { "message" => "new" }
                 add_tag => ["t1", "t2"]
               }
               mutate { remove_field => ["[a][b]"] remove_tag => ["t1"] }"#,
        );
        let trace = graph.trace(event("old"));
        let steps = filter_steps(&trace.events[0].steps);
        let first = steps[0];
        let added: Vec<&str> = first.added.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(added, ["[@metadata][m]", "[a][b]"]);
        assert_eq!(
            first.changed,
            [(
                "[message]".to_string(),
                Value::from("old"),
                Value::from("new")
            )]
        );
        assert_eq!(first.tags_added, ["t1", "t2"]);
        let second = steps[1];
        assert_eq!(second.removed, ["[a][b]"]);
        assert_eq!(second.tags_removed, ["t1"]);
        // `[a]` is left as an empty object, which is a field of its own.
        assert_eq!(second.added, [("[a]".to_string(), Value::Map(Map::new()))]);
        assert!(second.tags_added.is_empty());
    }

    #[test]
    fn event_reaching_stops_before_the_named_filter() {
        let (graph, _) = graph(
            r#"mutate { id => "first" add_field => { "seen" => "yes" } }
               if [message] == "skip" { drop {} }
               mutate { id => "last" add_field => { "late" => "1" } }"#,
        );
        let reached = graph.event_reaching(event("go"), "last").unwrap();
        assert_eq!(reached.get_field("seen"), Some(&Value::from("yes")));
        assert_eq!(reached.get_field("late"), None);
        assert!(graph.event_reaching(event("skip"), "last").is_none());
    }
}
