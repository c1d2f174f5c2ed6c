//! Canary releases: a tag matching `filters.canary_ref` is not switched to directly. While it
//! is on trial, a [`Canary`] tap ([`crate::pipeline::BatchTap`]) takes a sample of the live
//! events (`filters.canary_percent`, every n-th event, no randomness), runs a copy of each
//! through the candidate filters and another copy through a private instance of the running
//! release's filters, sends both results nowhere, and compares them: fields that differ, new
//! failure tags (tags starting with `_`, as `_grokparsefailure`), events dropped by one side
//! only. After `filters.canary_duration` the candidate is promoted when at least one event was
//! compared and the share of differing events is within `filters.canary_budget` (percent);
//! otherwise it is refused and the live release stays. [`CanaryReport`] holds the comparison,
//! with a few example differences, for the API and metrics.
//!
//! The live pipeline's events are only read: the copies and the private instances never touch
//! them, and the tap's work is done once per batch on the worker thread (one lock per batch to
//! add up the counts).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use crate::event::json::event_to_string;
use crate::event::{Event, Value};
use crate::pipeline::BatchTap;
use crate::plan::FilterGraph;

/// Example differences a report keeps.
const EXAMPLES: usize = 5;
/// Characters of each event an example quotes.
const EXAMPLE_CHARS: usize = 600;

/// `filters.canary_*`.
#[derive(Clone, Debug)]
pub struct CanarySettings {
    pub git_ref: String,
    pub choice: super::RefChoice,
    /// Share of live events compared (percent, above 0, at most 100).
    pub percent: f64,
    /// Share of compared events that may differ for the canary to be promoted (percent).
    pub budget: f64,
    pub duration: Duration,
}

/// `filters.canary_percent` when not set.
pub const DEFAULT_PERCENT: f64 = 10.0;
/// `filters.canary_budget` when not set.
pub const DEFAULT_BUDGET: f64 = 1.0;
/// `filters.canary_duration` when not set.
pub const DEFAULT_DURATION: Duration = Duration::from_secs(300);

/// A canary's comparison so far.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CanaryReport {
    /// The candidate release's tag.
    pub release: String,
    pub started: Option<SystemTime>,
    /// Live events compared.
    pub compared: u64,
    /// Compared events with any difference.
    pub differing: u64,
    /// Events whose fields differ.
    pub fields_differ: u64,
    /// Events the candidate tagged with a failure tag the live release did not.
    pub new_failure_tags: u64,
    /// Events the live release dropped and the candidate kept.
    pub dropped_by_live: u64,
    /// Events the candidate dropped and the live release kept.
    pub dropped_by_candidate: u64,
    /// A few differences, as text.
    pub examples: Vec<String>,
    /// `promoted` or `refused: why`, once decided.
    pub verdict: Option<String>,
}

impl CanaryReport {
    /// The share of compared events that differ, in percent (0 when none was compared).
    pub fn differing_percent(&self) -> f64 {
        if self.compared == 0 {
            return 0.0;
        }
        self.differing as f64 * 100.0 / self.compared as f64
    }

    /// Why the candidate may not be promoted, `None` when it may.
    pub fn refusal(&self, budget: f64) -> Option<String> {
        if self.compared == 0 {
            return Some("no live event was compared".to_string());
        }
        let share = self.differing_percent();
        (share > budget).then(|| {
            format!(
                "{} of {} compared events differ ({share:.2}% > budget {budget}%): {} with \
                 other fields, {} with new failure tags, {} dropped by the live release only, \
                 {} dropped by the candidate only",
                self.differing,
                self.compared,
                self.fields_differ,
                self.new_failure_tags,
                self.dropped_by_live,
                self.dropped_by_candidate
            )
        })
    }
}

/// The comparison running on the live pipeline's batches.
pub struct Canary {
    live: FilterGraph,
    candidate: FilterGraph,
    /// Sampling rate in parts per 100 000.
    rate: u64,
    seen: AtomicU64,
    report: Mutex<CanaryReport>,
}

/// How one sampled event came out of the two sides.
#[derive(Debug, PartialEq)]
enum Difference {
    DroppedByLive,
    DroppedByCandidate,
    NewFailureTags(Vec<String>),
    Fields,
}

impl Canary {
    /// `live`: a private instance of the running release's filters; `candidate`: the canary's.
    pub fn new(release: &str, live: FilterGraph, candidate: FilterGraph, percent: f64) -> Canary {
        Canary {
            live,
            candidate,
            rate: (percent.clamp(0.0, 100.0) * 1000.0).round() as u64,
            seen: AtomicU64::new(0),
            report: Mutex::new(CanaryReport {
                release: release.to_string(),
                started: Some(SystemTime::now()),
                ..CanaryReport::default()
            }),
        }
    }

    pub fn report(&self) -> CanaryReport {
        self.report
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Whether the event numbered `n` is in the sample: every event where the running count of
    /// `n * rate` crosses a whole event.
    fn sampled(&self, n: u64) -> bool {
        (n + 1) * self.rate / 100_000 > n * self.rate / 100_000
    }

    fn compare_one(&self, event: &Event, report: &mut CanaryReport) {
        let mut live = vec![event.clone()];
        let mut candidate = vec![event.clone()];
        self.live.process(&mut live);
        self.candidate.process(&mut candidate);
        live.retain(|e| !e.is_cancelled());
        candidate.retain(|e| !e.is_cancelled());
        report.compared += 1;
        let Some(difference) = difference(&live, &candidate) else {
            return;
        };
        report.differing += 1;
        match &difference {
            Difference::DroppedByLive => report.dropped_by_live += 1,
            Difference::DroppedByCandidate => report.dropped_by_candidate += 1,
            Difference::NewFailureTags(_) => report.new_failure_tags += 1,
            Difference::Fields => report.fields_differ += 1,
        }
        if report.examples.len() < EXAMPLES {
            report
                .examples
                .push(example(&difference, &live, &candidate));
        }
    }
}

impl BatchTap for Canary {
    fn inspect(&self, events: &[Event]) {
        if self.rate == 0 || events.is_empty() {
            return;
        }
        let first = self.seen.fetch_add(events.len() as u64, Ordering::Relaxed);
        let mut sampled = (0..events.len() as u64)
            .filter(|i| self.sampled(first + i))
            .peekable();
        if sampled.peek().is_none() {
            return;
        }
        let mut batch = CanaryReport::default();
        for i in sampled {
            self.compare_one(&events[i as usize], &mut batch);
        }
        let mut report = self.report.lock().unwrap_or_else(PoisonError::into_inner);
        report.compared += batch.compared;
        report.differing += batch.differing;
        report.fields_differ += batch.fields_differ;
        report.new_failure_tags += batch.new_failure_tags;
        report.dropped_by_live += batch.dropped_by_live;
        report.dropped_by_candidate += batch.dropped_by_candidate;
        let room = EXAMPLES.saturating_sub(report.examples.len());
        report
            .examples
            .extend(batch.examples.into_iter().take(room));
    }
}

/// How the two results of one event differ, if they do. Fields are compared as JSON objects,
/// so their order does not matter.
fn difference(live: &[Event], candidate: &[Event]) -> Option<Difference> {
    match (live.is_empty(), candidate.is_empty()) {
        (true, true) => return None,
        (true, false) => return Some(Difference::DroppedByLive),
        (false, true) => return Some(Difference::DroppedByCandidate),
        (false, false) => {}
    }
    let new_tags: Vec<String> = candidate
        .iter()
        .flat_map(failure_tags)
        .filter(|tag| !live.iter().any(|e| e.has_tag(tag)))
        .collect();
    if !new_tags.is_empty() {
        return Some(Difference::NewFailureTags(new_tags));
    }
    let as_json = |events: &[Event]| -> Vec<serde_json::Value> {
        events
            .iter()
            .map(|e| serde_json::from_str(&event_to_string(e)).unwrap_or_default())
            .collect()
    };
    (as_json(live) != as_json(candidate)).then_some(Difference::Fields)
}

/// Tags starting with `_`: Logstash's failure tags (`_grokparsefailure`, `_jsonparsefailure`).
fn failure_tags(event: &Event) -> Vec<String> {
    match event.get_field("tags") {
        Some(Value::Array(tags)) => tags
            .iter()
            .filter_map(Value::as_str)
            .filter(|t| t.starts_with('_'))
            .map(str::to_string)
            .collect(),
        Some(Value::Str(tag)) if tag.starts_with('_') => vec![tag.to_string()],
        _ => Vec::new(),
    }
}

fn example(difference: &Difference, live: &[Event], candidate: &[Event]) -> String {
    let quote = |events: &[Event]| {
        let mut text: String = events
            .iter()
            .map(event_to_string)
            .collect::<Vec<_>>()
            .join(" ");
        if text.len() > EXAMPLE_CHARS {
            let mut cut = EXAMPLE_CHARS;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
            text.push_str("...");
        }
        if text.is_empty() {
            "(dropped)".to_string()
        } else {
            text
        }
    };
    let what = match difference {
        Difference::DroppedByLive => "dropped by the live release only".to_string(),
        Difference::DroppedByCandidate => "dropped by the candidate only".to_string(),
        Difference::NewFailureTags(tags) => format!("new failure tags {tags:?}"),
        Difference::Fields => "fields differ".to_string(),
    };
    format!(
        "{what}: live {} / candidate {}",
        quote(live),
        quote(candidate)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{parse, ParseOptions, SourceMap};
    use crate::event::{Text, Timestamp};

    fn graph(filters: &str) -> FilterGraph {
        let sources = SourceMap::single("t.conf", &format!("filter {{ {filters} }}"));
        let ast = parse(&sources, ParseOptions::default()).unwrap();
        crate::plan::build(&ast, &|_| None).ok().unwrap().filters
    }

    fn events(n: usize) -> Vec<Event> {
        (0..n)
            .map(|i| Event::from_message(Text::new(&i.to_string()), Timestamp::from_secs(0)))
            .collect()
    }

    #[test]
    fn the_sample_is_the_share_asked_for() {
        let canary = Canary::new("c", graph(""), graph(""), 10.0);
        for batch in 0..10 {
            let _ = batch;
            canary.inspect(&events(100));
        }
        assert_eq!(canary.report().compared, 100);
        let all = Canary::new("c", graph(""), graph(""), 100.0);
        all.inspect(&events(37));
        assert_eq!(all.report().compared, 37);
    }

    #[test]
    fn same_results_are_within_any_budget() {
        let same = "mutate { add_field => { \"a\" => \"1\" } }";
        let canary = Canary::new("c", graph(same), graph(same), 100.0);
        canary.inspect(&events(20));
        let report = canary.report();
        assert_eq!((report.compared, report.differing), (20, 0));
        assert_eq!(report.refusal(0.0), None);
    }

    #[test]
    fn differences_are_counted_by_kind_with_examples() {
        let live = "mutate { add_field => { \"a\" => \"1\" } }";
        let candidate = r#"
            if [message] == "0" { drop {} }
            else if [message] == "1" { mutate { add_tag => ["_grokparsefailure"] } }
            else if [message] == "2" { mutate { add_field => { "a" => "2" } } }
            else { mutate { add_field => { "a" => "1" } } }
        "#;
        let canary = Canary::new("c", graph(live), graph(candidate), 100.0);
        canary.inspect(&events(10));
        let report = canary.report();
        assert_eq!(report.compared, 10);
        assert_eq!(report.differing, 3);
        assert_eq!(report.dropped_by_candidate, 1);
        assert_eq!(report.new_failure_tags, 1);
        assert_eq!(report.fields_differ, 1);
        assert_eq!(report.examples.len(), 3);
        assert!(report
            .examples
            .iter()
            .any(|e| e.contains("_grokparsefailure")));
        assert!(report.refusal(50.0).is_none());
        let refusal = report.refusal(10.0).unwrap();
        assert!(
            refusal.starts_with("3 of 10 compared events differ"),
            "{refusal}"
        );
    }

    #[test]
    fn nothing_compared_is_refused() {
        let canary = Canary::new("c", graph(""), graph(""), 50.0);
        assert!(canary.report().refusal(100.0).is_some());
    }
}
