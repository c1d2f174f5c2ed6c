//! Plan building: every problem in a config is reported at its position, with suggestions.

mod common;

use common::no_env;

/// Builds `text` as `test.conf`; returns the rendered diagnostics, or "" when it builds.
fn check(text: &str) -> String {
    common::build_plan(text, &no_env).err().unwrap_or_default()
}

fn first_line(text: &str) -> String {
    check(text).lines().next().unwrap_or("").to_string()
}

#[test]
fn a_valid_config_builds() {
    let text = r#"
input { generator { count => 3 message => "x" } stdin { codec => json } }
filter {
  mutate { add_field => { "a" => "b" } }
  if [a] == "b" { drop { percentage => 50 } } else { mutate { add_tag => ["t"] } }
}
output {
  if "t" in [tags] { stdout { codec => rubydebug { metadata => true } } }
  null {}
  file { path => "/tmp/x-%{+YYYY.MM.dd}.log" codec => "json_lines" }
}
"#;
    assert_eq!(check(text), "");
}

#[test]
fn unknown_plugins_are_reported_with_a_suggestion() {
    let out = check("input { stdin {} }\nfilter {\n  mutaet { }\n}\noutput { stdout {} }");
    assert!(
        out.starts_with("test.conf:3:3: unknown filter plugin \"mutaet\"\n"),
        "{out}"
    );
    assert!(out.contains("help: did you mean \"mutate\"?"), "{out}");
    assert_eq!(
        first_line("input { stdinn {} }"),
        "test.conf:1:9: unknown input plugin \"stdinn\""
    );
    assert_eq!(
        first_line("output { stdot {} }"),
        "test.conf:1:10: unknown output plugin \"stdot\""
    );
    assert_eq!(
        first_line("input { stdin { codec => jsonn } }"),
        "test.conf:1:26: unknown codec plugin \"jsonn\""
    );
}

#[test]
fn every_problem_is_reported_in_one_run() {
    let out = check("filter {\n  foo {}\n  bar {}\n}\noutput { baz {} }");
    let firsts: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("test.conf:"))
        .collect();
    assert_eq!(firsts.len(), 3, "{out}");
    assert!(firsts[0].starts_with("test.conf:2:3:"), "{out}");
    assert!(firsts[1].starts_with("test.conf:3:3:"), "{out}");
    assert!(firsts[2].starts_with("test.conf:5:10:"), "{out}");
}

#[test]
fn unknown_options_get_the_closest_name() {
    let out = check("input { generator { cuont => 3 } }");
    assert!(
        out.starts_with("test.conf:1:21: generator: unknown option \"cuont\""),
        "{out}"
    );
    assert!(out.contains("did you mean \"count\"?"), "{out}");
}

#[test]
fn wrong_value_types_point_at_the_value() {
    let out = first_line("input { generator { count => \"many\" } }");
    assert!(out.starts_with("test.conf:1:30: generator:"), "{out}");
    assert!(out.contains("expected"), "{out}");
}

#[test]
fn conditionals_in_the_input_section_are_rejected() {
    let out = first_line("input { if [a] { stdin {} } }");
    assert!(
        out.starts_with("test.conf:1:9: conditionals are not allowed in the input section"),
        "{out}"
    );
}

#[test]
fn duplicate_ids_are_rejected() {
    let out = check("filter { mutate { id => \"x\" } mutate { id => \"x\" } }");
    assert!(out.contains("duplicate plugin id \"x\""), "{out}");
}

#[test]
fn invalid_regexes_in_conditions_are_reported() {
    let out = first_line("filter { if [message] =~ /a(b/ { drop {} } }");
    assert!(out.starts_with("test.conf:1:"), "{out}");
    assert!(out.to_lowercase().contains("regex"), "{out}");
}

#[test]
fn env_substitution_failures_are_reported() {
    let out = first_line("input { generator { message => \"${SLUICE_TEST_UNSET_VAR}\" } }");
    assert!(out.contains("SLUICE_TEST_UNSET_VAR"), "{out}");
}

#[test]
fn missing_required_options_point_at_the_plugin() {
    assert_eq!(
        first_line("output {\n  file { }\n}"),
        "test.conf:2:3: file: missing required option \"path\""
    );
}
