//! logstash-patterns-core's own spec suite, run through sluice's `grok` filter.
//!
//! `../shared/compat/grok_cases.jsonl` holds the suite's cases as data (format in
//! `../shared/compat/README.md`). Each case's pattern is built into a real pipeline filter from
//! config text, the case's input is the `message` of an event, and every expectation of the
//! case is checked on the event that comes out.
//!
//! Each case runs under its own `ecs` mode: `v1` cases with the ECS set, `disabled` and `null`
//! (outside any ECS context in the spec, so the spec helper's legacy default) with the legacy
//! set. Every case must pass, except [`PATTERN_COPY_DIVERGENCES`]: legacy cases whose
//! definitions differ in the `grok` crate's copy of the legacy set (older versions, ECS versions
//! in their place). Those must still fail, so the list shrinks as soon as the bundled set is
//! corrected.

mod common;

use common::no_env;

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value as Json;
use sluice::event::json::parse_value;
use sluice::event::{Event, FieldPath, Map, Text, Timestamp, Value};
use sluice::plan::FilterGraph;

const CASES: &str = "../shared/compat/grok_cases.jsonl";

/// Cases (by spec source line) that fail because the `grok` crate's copy of the legacy pattern
/// set is not logstash-patterns-core v4.3.1; see `src/filters/grok/patterns.rs`.
const PATTERN_COPY_DIVERGENCES: &[&str] = &[
    "spec/patterns/aws_spec.rb:72",
    "spec/patterns/bacula_spec.rb:120",
    "spec/patterns/bacula_spec.rb:158",
    "spec/patterns/bacula_spec.rb:176",
    "spec/patterns/bacula_spec.rb:293",
    "spec/patterns/bacula_spec.rb:346",
    "spec/patterns/bind_spec.rb:46",
    "spec/patterns/exim_spec.rb:15",
    "spec/patterns/exim_spec.rb:51",
    "spec/patterns/exim_spec.rb:91",
    "spec/patterns/exim_spec.rb:122",
    "spec/patterns/exim_spec.rb:173",
    "spec/patterns/exim_spec.rb:196",
    "spec/patterns/firewalls_spec.rb:663",
    "spec/patterns/firewalls_spec.rb:699",
    "spec/patterns/firewalls_spec.rb:768",
    "spec/patterns/httpd_spec.rb:81",
    "spec/patterns/httpd_spec.rb:271",
    "spec/patterns/java_spec.rb:47",
    "spec/patterns/nagios_spec.rb:174",
    "spec/patterns/shorewall_spec.rb:15",
    "spec/patterns/shorewall_spec.rb:60",
    "spec/patterns/squid_spec.rb:108",
    "spec/patterns/squid_spec.rb:126",
];

#[test]
fn logstash_patterns_core_spec_cases_pass() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(CASES);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let cases: Vec<Json> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let runs: Vec<(&Json, &str)> = cases
        .iter()
        .flat_map(|case| modes_of(case).iter().map(move |mode| (case, *mode)))
        .collect();
    for mode in ["disabled", "v1"] {
        assert!(runs.iter().any(|(_, m)| *m == mode), "no {mode} cases");
    }

    let mut graphs: BTreeMap<String, Result<FilterGraph, String>> = BTreeMap::new();
    let mut per_file: BTreeMap<(&str, &str), (usize, usize)> = BTreeMap::new();
    let mut failures = Vec::new();
    let mut diverged = 0;
    for (case, mode) in runs {
        let config = config_of(case, mode);
        let graph = graphs
            .entry(config.clone())
            .or_insert_with(|| common::build_plan(&config, &no_env).map(|p| p.filters));
        let source = case["source"].as_str().unwrap_or("?");
        let file = source.split(':').next().unwrap_or(source);
        let counts = per_file.entry((file, mode)).or_default();
        counts.1 += 1;
        let result = match graph {
            Ok(graph) => check_case(graph, case),
            Err(e) => Err(format!("did not build:\n{e}")),
        };
        let diverges = mode == "disabled" && PATTERN_COPY_DIVERGENCES.contains(&source);
        match (result, diverges) {
            (Ok(()), false) => counts.0 += 1,
            (Err(_), true) => diverged += 1,
            (Ok(()), true) => failures.push(format!(
                "{source} now passes: remove it from PATTERN_COPY_DIVERGENCES"
            )),
            (Err(why), false) => failures.push(format!(
                "{source} ({mode}) {} on {:?}: {why}",
                case["pattern"], case["input"]
            )),
        }
    }
    for ((file, mode), (passed, total)) in &per_file {
        println!("{file} ({mode}): {passed}/{total}");
    }
    let total: usize = per_file.values().map(|c| c.1).sum();
    println!(
        "all runs: {}/{total} ({diverged} diverge with the grok crate's legacy copy)",
        total - failures.len() - diverged
    );
    assert!(
        failures.is_empty(),
        "{} failing cases:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The `ecs_compatibility` modes a case runs under: its own; a case outside any ECS context
/// (`null`) runs under the spec helper's default, the legacy set (its expectations use legacy
/// field names, e.g. `program` for `%{SYSLOGLINE}`).
fn modes_of(case: &Json) -> &'static [&'static str] {
    match case["ecs"].as_str() {
        Some("v1") => &["v1"],
        Some("disabled") | None => &["disabled"],
        Some(other) => panic!("unknown ecs mode {other:?} in {case}"),
    }
}

/// The pipeline config for a case: the spec helper's `match => ["message", pattern]`, the
/// pattern set of `mode`, and the case's extra options.
fn config_of(case: &Json, mode: &str) -> String {
    let mut options = format!(
        "match => {{ \"message\" => {} }}\n ecs_compatibility => {mode}",
        quote(str_of(&case["pattern"]))
    );
    if let Some(extra) = case["grok_options"].as_object() {
        for (name, value) in extra {
            let value = match value {
                Json::String(s) => quote(s),
                other => other.to_string(),
            };
            options.push_str(&format!("\n {name} => {value}"));
        }
    }
    format!("filter {{\n grok {{\n {options}\n }}\n}}")
}

/// A config string literal holding `s` (a backslash escapes only the quote in LSCL, and in a
/// regex `\"` still means `"`).
fn quote(s: &str) -> String {
    if !s.contains('\'') && !s.ends_with('\\') {
        format!("'{s}'")
    } else {
        format!("\"{}\"", s.replace('"', "\\\""))
    }
}

fn str_of(v: &Json) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))
}

/// Runs the case's input through `graph` and checks every expectation.
fn check_case(graph: &FilterGraph, case: &Json) -> Result<(), String> {
    let mut fields = Map::new();
    fields.insert(
        Text::from("message"),
        Value::Str(Text::from(str_of(&case["input"]))),
    );
    let mut batch = vec![Event::from_fields(fields, Timestamp::from_secs(0))];
    graph.process(&mut batch);
    let event = batch.pop().ok_or("the event was dropped")?;
    let mut problems = Vec::new();
    let tags = event.get_field("tags");
    match case["match"].as_bool() {
        Some(true) if tags.is_some() => problems.push(format!("expected a match, tags {tags:?}")),
        Some(false) if !event.has_tag("_grokparsefailure") => {
            problems.push(format!("expected no match, tags {tags:?}"))
        }
        _ => {}
    }
    for (field, expected) in case["expect"].as_object().into_iter().flatten() {
        let want = json_value(expected);
        let got = get(&event, field);
        if got != Some(&want) {
            problems.push(format!("{field}: expected {want:?}, got {got:?}"));
        }
    }
    for field in list(&case["absent"]) {
        if let Some(got) = get(&event, field) {
            problems.push(format!("{field}: expected absent, got {got:?}"));
        }
    }
    for field in list(&case["present"]) {
        if get(&event, field).is_none() {
            problems.push(format!("{field}: expected present"));
        }
    }
    for (field, wanted) in case["contains"].as_object().into_iter().flatten() {
        for item in wanted.as_array().into_iter().flatten() {
            if !contains(get(&event, field), &json_value(item)) {
                problems.push(format!("{field}: expected to contain {item}"));
            }
        }
    }
    for (field, unwanted) in case["not_expect"].as_object().into_iter().flatten() {
        let got = get(&event, field);
        if got == Some(&json_value(unwanted)) {
            problems.push(format!("{field}: expected anything but {unwanted}"));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

fn list(v: &Json) -> impl Iterator<Item = &str> {
    v.as_array().into_iter().flatten().filter_map(Json::as_str)
}

fn json_value(v: &Json) -> Value {
    parse_value(v.to_string().as_bytes()).unwrap_or_else(|e| panic!("{e}: {v}"))
}

fn get<'e>(event: &'e Event, field: &str) -> Option<&'e Value> {
    event.get(&FieldPath::parse(field).unwrap_or_else(|e| panic!("{e}")))
}

/// An array holding `item`, or a string holding it as a substring.
fn contains(value: Option<&Value>, item: &Value) -> bool {
    match (value, item) {
        (Some(Value::Array(items)), _) => items.contains(item),
        (Some(Value::Str(s)), Value::Str(part)) => s.contains(part.as_str()),
        _ => false,
    }
}
