//! Running a batch of events through the [`FilterGraph`].
//!
//! Filters see the whole batch at once. A branch splits the batch by the first arm whose
//! condition holds, runs each arm's nodes on its part, and merges the parts back in the batch's
//! original order (events a filter created follow the event they came from). When every event
//! takes the same arm (the usual case) the batch is run in place without splitting.
//!
//! [`FilterGraph::process_counting`] runs a batch the same way and also counts, in a
//! [`Coverage`] shaped like the graph, how many events reached each filter and each branch arm
//! (`sluice test --coverage`). The counts are added once per node and batch, never per event, and
//! plain [`FilterGraph::process`] passes no counts at all, so the pipeline's hot path only pays
//! for one `Option` check per node and batch.
//!
//! [`FilterGraph::instrument`] wraps every filter so that it counts, per batch, the events it
//! was given and kept and the time it took ([`FilterStats`], one [`StageStats`] per plugin: the
//! node API's per-plugin figures and statsd's `events.in`/`events.out` per filter). That costs
//! three relaxed atomic adds, two clock reads and one pass over the batch's cancelled flags per
//! filter and batch, nothing per event.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use crate::event::Event;
use crate::filters::{CommonOptions, Filter};

use super::{Branch, FilterGraph, FilterNode, FilterStage};

/// What each filter plugin of an instrumented graph has done, in the graph's order (depth
/// first, as the config writes them).
#[derive(Debug, Default)]
pub struct FilterStats {
    pub stages: Vec<Arc<StageStats>>,
}

/// One filter plugin's counters.
#[derive(Debug)]
pub struct StageStats {
    pub id: String,
    /// The plugin's Logstash name (`grok`).
    pub name: String,
    events_in: AtomicU64,
    events_out: AtomicU64,
    nanos: AtomicU64,
}

impl StageStats {
    /// Events the filter was given.
    pub fn events_in(&self) -> u64 {
        self.events_in.load(Ordering::Relaxed)
    }

    /// Events the filter passed on (not cancelled; events it created included).
    pub fn events_out(&self) -> u64 {
        self.events_out.load(Ordering::Relaxed)
    }

    /// Time spent in the filter, in milliseconds.
    pub fn duration_millis(&self) -> u64 {
        self.nanos.load(Ordering::Relaxed) / 1_000_000
    }
}

impl FilterGraph {
    /// Wraps every filter so it counts what it does, and returns the counters. Counters of a
    /// plugin whose id is in `previous` (the graph this one replaces, on reload) carry on from
    /// that graph's figures, so they never go backwards.
    pub fn instrument(&mut self, previous: Option<&FilterStats>) -> Arc<FilterStats> {
        let mut stats = FilterStats::default();
        instrument_nodes(&mut self.nodes, previous, &mut stats);
        Arc::new(stats)
    }
}

fn instrument_nodes(
    nodes: &mut [FilterNode],
    previous: Option<&FilterStats>,
    stats: &mut FilterStats,
) {
    for node in nodes {
        match node {
            FilterNode::Filter(stage) => stats.stages.push(measure(stage, previous)),
            FilterNode::Branch(branch) => {
                for (_, arm) in &mut branch.arms {
                    instrument_nodes(arm, previous, stats);
                }
                instrument_nodes(&mut branch.otherwise, previous, stats);
            }
        }
    }
}

fn measure(stage: &mut FilterStage, previous: Option<&FilterStats>) -> Arc<StageStats> {
    let before = previous
        .and_then(|p| p.stages.iter().find(|s| s.id == stage.id))
        .map_or((0, 0, 0), |s| {
            (
                s.events_in(),
                s.events_out(),
                s.nanos.load(Ordering::Relaxed),
            )
        });
    let counters = Arc::new(StageStats {
        id: stage.id.clone(),
        name: stage.name.clone(),
        events_in: AtomicU64::new(before.0),
        events_out: AtomicU64::new(before.1),
        nanos: AtomicU64::new(before.2),
    });
    let inner = std::mem::replace(&mut stage.filter, Box::new(Unplugged));
    stage.filter = Box::new(Measured {
        inner,
        counters: counters.clone(),
    });
    counters
}

/// Holds a stage's place for the instant its filter is moved into a [`Measured`].
struct Unplugged;

impl Filter for Unplugged {
    fn apply(&self, _: &mut Event) -> bool {
        true
    }
}

/// A filter that counts, per batch, what the filter it wraps does.
struct Measured {
    inner: Box<dyn Filter>,
    counters: Arc<StageStats>,
}

impl Filter for Measured {
    fn apply(&self, event: &mut Event) -> bool {
        self.inner.apply(event)
    }

    fn filter(&self, events: &mut Vec<Event>, common: &CommonOptions) {
        let given = events.len() as u64;
        let started = Instant::now();
        self.inner.filter(events, common);
        let nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let kept = events.iter().filter(|e| !e.is_cancelled()).count() as u64;
        let c = &self.counters;
        c.events_in.fetch_add(given, Ordering::Relaxed);
        c.events_out.fetch_add(kept, Ordering::Relaxed);
        c.nanos.fetch_add(nanos, Ordering::Relaxed);
    }
}

/// How many events reached each filter and each branch arm of a [`FilterGraph`], in the graph's
/// shape: `nodes[i]` counts `graph.nodes[i]`. Made by [`FilterGraph::coverage`], filled by
/// [`FilterGraph::process_counting`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Coverage {
    pub nodes: Vec<NodeCoverage>,
}

/// The counts of one [`FilterNode`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeCoverage {
    /// Events the filter was given.
    Filter(u64),
    Branch(BranchCoverage),
}

/// The counts of one [`Branch`]: one per `if` / `else if` arm, then the `else` (taken by events
/// no condition matched, whether or not the config wrote an `else`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BranchCoverage {
    pub arms: Vec<ArmCoverage>,
    pub otherwise: ArmCoverage,
}

/// Events that took one arm, and the counts of the arm's nodes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ArmCoverage {
    pub events: u64,
    pub nodes: Vec<NodeCoverage>,
}

impl BranchCoverage {
    /// The arm at `index`, or `otherwise` for `arms.len()` (as [`choose`] numbers them).
    fn arm_mut(&mut self, index: usize) -> &mut ArmCoverage {
        if index < self.arms.len() {
            &mut self.arms[index]
        } else {
            &mut self.otherwise
        }
    }
}

/// Counts for one node list, when counting.
type Counts<'c> = Option<&'c mut [NodeCoverage]>;

impl FilterGraph {
    /// Runs every event through the filters and branches in order; cancelled events are removed.
    pub fn process(&self, events: &mut Vec<Event>) {
        run_nodes(&self.nodes, events, None);
    }

    /// [`FilterGraph::process`], adding to `coverage` how many events reached each filter and
    /// arm. `coverage` must come from this graph's [`FilterGraph::coverage`]; counts for nodes
    /// it does not match are skipped.
    pub fn process_counting(&self, events: &mut Vec<Event>, coverage: &mut Coverage) {
        run_nodes(&self.nodes, events, Some(&mut coverage.nodes));
    }

    /// Zeroed counts shaped like this graph.
    pub fn coverage(&self) -> Coverage {
        Coverage {
            nodes: zeroed(&self.nodes),
        }
    }
}

fn zeroed(nodes: &[FilterNode]) -> Vec<NodeCoverage> {
    nodes
        .iter()
        .map(|node| match node {
            FilterNode::Filter(_) => NodeCoverage::Filter(0),
            FilterNode::Branch(branch) => NodeCoverage::Branch(BranchCoverage {
                arms: branch
                    .arms
                    .iter()
                    .map(|(_, nodes)| zeroed_arm(nodes))
                    .collect(),
                otherwise: zeroed_arm(&branch.otherwise),
            }),
        })
        .collect()
}

fn zeroed_arm(nodes: &[FilterNode]) -> ArmCoverage {
    ArmCoverage {
        events: 0,
        nodes: zeroed(nodes),
    }
}

fn run_nodes(nodes: &[FilterNode], events: &mut Vec<Event>, mut counts: Counts<'_>) {
    for (i, node) in nodes.iter().enumerate() {
        if events.is_empty() {
            return;
        }
        let count = counts.as_deref_mut().and_then(|c| c.get_mut(i));
        match node {
            FilterNode::Filter(stage) => {
                if let Some(NodeCoverage::Filter(n)) = count {
                    *n += events.len() as u64;
                }
                run_stage(stage, events);
            }
            FilterNode::Branch(branch) => {
                let count = match count {
                    Some(NodeCoverage::Branch(b)) if b.arms.len() == branch.arms.len() => Some(b),
                    _ => None,
                };
                run_branch(branch, events, count);
            }
        }
    }
}

fn run_stage(stage: &FilterStage, events: &mut Vec<Event>) {
    stage.filter.filter(events, &stage.common);
    events.retain(|e| !e.is_cancelled());
}

/// The index of the first arm whose condition holds, or `arms.len()` for `otherwise`.
fn choose(branch: &Branch<FilterNode>, event: &Event) -> usize {
    branch
        .arms
        .iter()
        .position(|(condition, _)| condition.eval(event))
        .unwrap_or(branch.arms.len())
}

fn arm_nodes(branch: &Branch<FilterNode>, arm: usize) -> &[FilterNode] {
    branch
        .arms
        .get(arm)
        .map_or(&branch.otherwise[..], |(_, nodes)| &nodes[..])
}

/// Runs one arm's nodes on `events`, first counting them as having taken the arm.
fn run_arm(
    branch: &Branch<FilterNode>,
    arm: usize,
    events: &mut Vec<Event>,
    counts: Option<&mut BranchCoverage>,
) {
    let counts = counts.map(|c| {
        let arm = c.arm_mut(arm);
        arm.events += events.len() as u64;
        &mut arm.nodes[..]
    });
    run_nodes(arm_nodes(branch, arm), events, counts);
}

fn run_branch(
    branch: &Branch<FilterNode>,
    events: &mut Vec<Event>,
    mut counts: Option<&mut BranchCoverage>,
) {
    let choices: Vec<usize> = events.iter().map(|e| choose(branch, e)).collect();
    let first = choices[0];
    if choices.iter().all(|&c| c == first) {
        run_arm(branch, first, events, counts);
        return;
    }
    // Number the events (keeping the numbers an enclosing branch gave them) so the parts can be
    // merged back in the batch's order, as Logstash keeps it with one worker.
    let mut outer_positions = Vec::with_capacity(events.len());
    let mut parts: Vec<Vec<Event>> = (0..=branch.arms.len()).map(|_| Vec::new()).collect();
    for (i, (mut event, arm)) in events.drain(..).zip(choices).enumerate() {
        outer_positions.push(event.batch_position());
        event.set_batch_position(i as u32);
        parts[arm].push(event);
    }
    for (arm, part) in parts.iter_mut().enumerate() {
        if !part.is_empty() {
            run_arm(branch, arm, part, counts.as_deref_mut());
        }
    }
    for part in parts {
        events.extend(part);
    }
    // Stable: events a filter created from one event stay after it, in their order.
    events.sort_by_key(Event::batch_position);
    for event in events.iter_mut() {
        let outer = outer_positions[event.batch_position() as usize];
        event.set_batch_position(outer);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_instrumented_graph_counts_per_plugin_and_carries_counts_over() {
        let mut graph = FilterGraph {
            nodes: vec![stage("a", Some(2)), stage("b", None)],
        };
        let stats = graph.instrument(None);
        let mut batch = events(&[1, 2, 3, 4]);
        graph.process(&mut batch);
        let figures: Vec<_> = stats
            .stages
            .iter()
            .map(|s| {
                (
                    s.id.as_str(),
                    s.name.as_str(),
                    s.events_in(),
                    s.events_out(),
                )
            })
            .collect();
        assert_eq!(figures, [("a", "mark", 4, 3), ("b", "mark", 3, 3)]);
        let trail = batch[0].get_field("trail").and_then(Value::as_str);
        assert_eq!(trail, Some("ab"));

        let mut reloaded = FilterGraph {
            nodes: vec![stage("b", None)],
        };
        let next = reloaded.instrument(Some(&stats));
        reloaded.process(&mut events(&[5, 6]));
        assert_eq!(next.stages[0].events_in(), 5);
    }
    use crate::config::ast::{self, CompareOp, RValue};
    use crate::config::{Span, Spanned};
    use crate::event::{Text, Timestamp, Value};
    use crate::filters::{CommonOptions, Filter};
    use crate::plan::Condition;

    /// Appends its label to the `trail` field; cancels events whose `n` is `cancel_n`.
    struct Mark {
        label: &'static str,
        cancel_n: Option<i64>,
    }

    impl Filter for Mark {
        fn apply(&self, event: &mut Event) -> bool {
            let mut trail = event
                .get_field("trail")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            trail.push_str(self.label);
            event.set_field("trail".into(), Value::Str(Text::from_string(trail)));
            if self.cancel_n.is_some()
                && event.get_field("n") == self.cancel_n.map(Value::Int).as_ref()
            {
                event.cancel();
            }
            true
        }
    }

    fn stage(label: &'static str, cancel_n: Option<i64>) -> FilterNode {
        FilterNode::Filter(FilterStage {
            name: "mark".into(),
            id: label.into(),
            filter: Box::new(Mark { label, cancel_n }),
            common: CommonOptions::default(),
            span: Default::default(),
        })
    }

    /// `[n] < limit`
    fn below(limit: i64) -> Condition {
        fn sp<T>(node: T) -> Spanned<T> {
            Spanned::new(node, Span::new(0, 1))
        }
        let expr = sp(ast::Expr::Compare {
            op: CompareOp::Lt,
            lhs: sp(RValue::Selector("[n]".into())),
            rhs: sp(RValue::Number(ast::Number::Int(limit))),
        });
        Condition::compile(&expr, &|_: &str| None).unwrap()
    }

    fn events(ns: &[i64]) -> Vec<Event> {
        ns.iter()
            .map(|&n| {
                let mut e = Event::new(Timestamp::from_secs(0));
                e.set_field("n".into(), Value::Int(n));
                e
            })
            .collect()
    }

    fn summary(events: &[Event]) -> Vec<(i64, String)> {
        events
            .iter()
            .map(|e| {
                let n = match e.get_field("n") {
                    Some(Value::Int(n)) => *n,
                    _ => -1,
                };
                let trail = e.get_field("trail").and_then(Value::as_str).unwrap_or("");
                (n, trail.to_string())
            })
            .collect()
    }

    #[test]
    fn stages_run_in_order_and_cancelled_events_leave() {
        let graph = FilterGraph {
            nodes: vec![stage("a", Some(2)), stage("b", None)],
        };
        let mut batch = events(&[1, 2, 3]);
        graph.process(&mut batch);
        assert_eq!(summary(&batch), [(1, "ab".into()), (3, "ab".into())]);
    }

    #[test]
    fn branches_partition_by_first_true_arm_and_keep_the_batch_order() {
        let graph = FilterGraph {
            nodes: vec![
                FilterNode::Branch(Branch {
                    arms: vec![
                        (below(2), vec![stage("x", None)]),
                        (below(4), vec![stage("y", Some(3))]),
                    ],
                    otherwise: vec![stage("z", None)],
                }),
                stage("!", None),
            ],
        };
        let mut batch = events(&[5, 1, 3, 2, 0, 4]);
        graph.process(&mut batch);
        assert_eq!(
            summary(&batch),
            [
                (5, "z!".into()),
                (1, "x!".into()),
                (2, "y!".into()),
                (0, "x!".into()),
                (4, "z!".into()),
            ]
        );
    }

    /// Emits a copy of every event right after it, marked `copy`.
    struct Twice;

    impl Filter for Twice {
        fn apply(&self, _: &mut Event) -> bool {
            true
        }

        fn filter(&self, events: &mut Vec<Event>, _: &CommonOptions) {
            let originals = std::mem::take(events);
            for event in originals {
                let mut copy = event.clone();
                copy.set_field("trail".into(), Value::from("copy"));
                events.push(event);
                events.push(copy);
            }
        }
    }

    #[test]
    fn events_created_in_an_arm_follow_their_origin_even_in_nested_branches() {
        let twice = FilterNode::Filter(FilterStage {
            name: "twice".into(),
            id: "twice".into(),
            filter: Box::new(Twice),
            common: CommonOptions::default(),
            span: Default::default(),
        });
        let inner = FilterNode::Branch(Branch {
            arms: vec![(below(2), vec![twice])],
            otherwise: vec![stage("o", None)],
        });
        let graph = FilterGraph {
            nodes: vec![FilterNode::Branch(Branch {
                arms: vec![(below(4), vec![inner])],
                otherwise: vec![stage("z", None)],
            })],
        };
        let mut batch = events(&[4, 1, 3, 0]);
        graph.process(&mut batch);
        assert_eq!(
            summary(&batch),
            [
                (4, "z".into()),
                (1, String::new()),
                (1, "copy".into()),
                (3, "o".into()),
                (0, String::new()),
                (0, "copy".into()),
            ]
        );
    }

    #[test]
    fn a_batch_taking_one_arm_runs_in_place_and_empty_arms_pass_events_through() {
        let graph = FilterGraph {
            nodes: vec![FilterNode::Branch(Branch {
                arms: vec![(below(10), vec![])],
                otherwise: vec![stage("z", None)],
            })],
        };
        let mut batch = events(&[3, 1, 2]);
        graph.process(&mut batch);
        assert_eq!(
            summary(&batch),
            [(3, String::new()), (1, String::new()), (2, String::new())]
        );
    }

    #[test]
    fn nested_branches() {
        let inner = FilterNode::Branch(Branch {
            arms: vec![(below(1), vec![stage("i", None)])],
            otherwise: vec![stage("o", None)],
        });
        let graph = FilterGraph {
            nodes: vec![FilterNode::Branch(Branch {
                arms: vec![(below(2), vec![inner])],
                otherwise: vec![],
            })],
        };
        let mut batch = events(&[0, 1, 2]);
        graph.process(&mut batch);
        assert_eq!(
            summary(&batch),
            [(0, "i".into()), (1, "o".into()), (2, String::new())]
        );
    }

    #[test]
    fn an_empty_batch_is_left_alone() {
        let graph = FilterGraph {
            nodes: vec![stage("a", None)],
        };
        let mut batch = Vec::new();
        graph.process(&mut batch);
        assert!(batch.is_empty());
    }

    fn arm(events: u64, nodes: Vec<NodeCoverage>) -> ArmCoverage {
        ArmCoverage { events, nodes }
    }

    #[test]
    fn counting_records_events_per_filter_and_arm_across_split_and_uniform_batches() {
        let inner = FilterNode::Branch(Branch {
            arms: vec![(below(1), vec![stage("i", None)])],
            otherwise: vec![],
        });
        let graph = FilterGraph {
            nodes: vec![
                stage("a", Some(5)),
                FilterNode::Branch(Branch {
                    arms: vec![
                        (below(2), vec![inner]),
                        (below(4), vec![stage("y", Some(3))]),
                    ],
                    otherwise: vec![stage("z", None)],
                }),
                stage("!", None),
            ],
        };
        let mut coverage = graph.coverage();
        // Split batch: 5 is dropped by "a"; 3 by "y".
        let mut batch = events(&[5, 1, 3, 2, 0, 4]);
        graph.process_counting(&mut batch, &mut coverage);
        let mut plain = events(&[5, 1, 3, 2, 0, 4]);
        graph.process(&mut plain);
        assert_eq!(summary(&batch), summary(&plain));
        // Uniform batch: both take the first arm, and the inner else.
        let mut batch = events(&[1, 1]);
        graph.process_counting(&mut batch, &mut coverage);
        let expected = Coverage {
            nodes: vec![
                NodeCoverage::Filter(8),
                NodeCoverage::Branch(BranchCoverage {
                    arms: vec![
                        arm(
                            4,
                            vec![NodeCoverage::Branch(BranchCoverage {
                                arms: vec![arm(1, vec![NodeCoverage::Filter(1)])],
                                otherwise: arm(3, vec![]),
                            })],
                        ),
                        arm(2, vec![NodeCoverage::Filter(2)]),
                    ],
                    otherwise: arm(1, vec![NodeCoverage::Filter(1)]),
                }),
                NodeCoverage::Filter(6),
            ],
        };
        assert_eq!(coverage, expected);
    }

    #[test]
    fn counting_stops_where_the_batch_empties_and_ignores_a_mismatched_shape() {
        let graph = FilterGraph {
            nodes: vec![stage("a", Some(1)), stage("b", None)],
        };
        let mut coverage = graph.coverage();
        let mut batch = events(&[1]);
        graph.process_counting(&mut batch, &mut coverage);
        assert!(batch.is_empty());
        assert_eq!(
            coverage.nodes,
            [NodeCoverage::Filter(1), NodeCoverage::Filter(0)]
        );
        let mut short = Coverage {
            nodes: vec![NodeCoverage::Filter(0)],
        };
        let mut batch = events(&[2]);
        graph.process_counting(&mut batch, &mut short);
        assert_eq!(short.nodes, [NodeCoverage::Filter(1)]);
        assert_eq!(summary(&batch), [(2, "ab".into())]);
    }
}
