//! Behaviour of the `syslog_pri` filter, built from config text as a pipeline builds it, in
//! both field-naming modes. Cases mirror logstash-filter-syslog_pri's
//! `spec/filters/syslog_pri_spec.rb`.

mod common;

use common::{get, json, no_env, tags};

use sluice::config::options::EcsCompatibility;
use sluice::config::{parse, ParseOptions, SourceMap};
use sluice::event::{Event, Timestamp, Value};
use sluice::plan::{build_with, BuildSettings};

fn event(fields: &str) -> Event {
    match json(fields) {
        Value::Map(map) => Event::from_fields(map, Timestamp::from_secs(0)),
        other => panic!("not an object: {other:?}"),
    }
}

/// Runs one event through `filter { FILTERS }` built under the pipeline-wide `ecs` mode.
fn run_with(ecs: EcsCompatibility, filters: &str, fields: &str) -> Event {
    let text = format!("filter {{\n{filters}\n}}");
    let sources = SourceMap::single("test.conf", &text);
    let ast = parse(&sources, ParseOptions::default()).expect("config parses");
    let settings = BuildSettings {
        ecs_compatibility: ecs,
        ..BuildSettings::default()
    };
    let plan = build_with(&ast, &no_env, settings)
        .unwrap_or_else(|d| panic!("config did not build:\n{}", d.render(&sources)));
    let mut batch = vec![event(fields)];
    plan.filters.process(&mut batch);
    assert_eq!(batch.len(), 1, "the event was dropped");
    batch.pop().unwrap()
}

/// Runs one event under the default pipeline settings (ECS v8).
fn run(filters: &str, fields: &str) -> Event {
    let mut batch = vec![event(fields)];
    common::plan_of(&format!("filter {{\n{filters}\n}}"), &no_env)
        .filters
        .process(&mut batch);
    batch.pop().expect("the event survives")
}

/// The four output fields of one naming mode.
struct Names {
    pri: &'static str,
    facility_code: &'static str,
    facility: &'static str,
    severity_code: &'static str,
    severity: &'static str,
}

const LEGACY: Names = Names {
    pri: "syslog_pri",
    facility_code: "syslog_facility_code",
    facility: "syslog_facility",
    severity_code: "syslog_severity_code",
    severity: "syslog_severity",
};

const ECS: Names = Names {
    pri: "[log][syslog][priority]",
    facility_code: "[log][syslog][facility][code]",
    facility: "[log][syslog][facility][name]",
    severity_code: "[log][syslog][severity][code]",
    severity: "[log][syslog][severity][name]",
};

/// Both modes, each with the config line that selects it and its field names.
const MODES: [(&str, &Names); 3] = [
    ("ecs_compatibility => disabled", &LEGACY),
    ("ecs_compatibility => v1", &ECS),
    ("ecs_compatibility => v8", &ECS),
];

/// An event whose priority field (in `names`' mode) holds `pri` (JSON).
fn event_with_pri(names: &Names, pri: &str) -> String {
    if names.pri.starts_with('[') {
        format!(r#"{{"log": {{"syslog": {{"priority": {pri}}}}}}}"#)
    } else {
        format!(r#"{{"syslog_pri": {pri}}}"#)
    }
}

#[track_caller]
fn assert_decoded(e: &Event, names: &Names, facility: (i64, Option<&str>), severity: (i64, &str)) {
    assert_eq!(get(e, names.facility_code), Some(&Value::Int(facility.0)));
    assert_eq!(get(e, names.severity_code), Some(&Value::Int(severity.0)));
    assert_eq!(get(e, names.facility), facility.1.map(Value::from).as_ref());
    assert_eq!(get(e, names.severity), Some(&Value::from(severity.1)));
}

#[test]
fn a_missing_priority_defaults_to_13_user_level_notice() {
    for (mode, names) in MODES {
        let e = run(&format!("syslog_pri {{ {mode} }}"), r#"{"message": "x"}"#);
        assert_decoded(&e, names, (1, Some("user-level")), (5, "notice"));
        assert!(tags(&e).is_empty());
    }
}

#[test]
fn a_priority_elsewhere_is_ignored_and_the_default_used() {
    // The spec's "defaults" case: the named field is absent, so 13 applies.
    for (mode, names) in MODES {
        let fields = event_with_pri(names, "1");
        let e = run(
            &format!("syslog_pri {{ {mode} syslog_pri_field_name => \"my_syslog_pri\" }}"),
            &fields,
        );
        assert_decoded(&e, names, (1, Some("user-level")), (5, "notice"));
    }
}

#[test]
fn decodes_priorities_from_the_spec_in_both_modes() {
    let cases = [
        ("34", (4, "security/authorization"), (2, "critical")),
        ("165", (20, "local4"), (5, "notice")),
        ("191", (23, "local7"), (7, "debug")),
        (r#""137""#, (17, "local1"), (1, "alert")),
        ("0", (0, "kernel"), (0, "emergency")),
    ];
    for (mode, names) in MODES {
        for (pri, facility, severity) in cases {
            let e = run(
                &format!("syslog_pri {{ {mode} }}"),
                &event_with_pri(names, pri),
            );
            assert_decoded(&e, names, (facility.0, Some(facility.1)), severity);
            assert!(tags(&e).is_empty(), "{pri}");
            // The priority itself is left as it was.
            assert_eq!(get(&e, names.pri), Some(&json(pri)));
        }
    }
}

#[test]
fn the_pipeline_setting_is_the_default_mode() {
    let legacy = run_with(
        EcsCompatibility::Disabled,
        "syslog_pri { }",
        r#"{"syslog_pri": 34}"#,
    );
    assert_decoded(
        &legacy,
        &LEGACY,
        (4, Some("security/authorization")),
        (2, "critical"),
    );
    assert_eq!(get(&legacy, "log"), None);
    let ecs = run_with(
        EcsCompatibility::V1,
        "syslog_pri { }",
        r#"{"log": {"syslog": {"priority": 34}}}"#,
    );
    assert_decoded(
        &ecs,
        &ECS,
        (4, Some("security/authorization")),
        (2, "critical"),
    );
    assert_eq!(get(&ecs, "syslog_facility"), None);
    // The plugin's own option wins over the pipeline's.
    let own = run_with(
        EcsCompatibility::V8,
        "syslog_pri { ecs_compatibility => disabled }",
        r#"{"syslog_pri": 34}"#,
    );
    assert_decoded(
        &own,
        &LEGACY,
        (4, Some("security/authorization")),
        (2, "critical"),
    );
}

#[test]
fn a_facility_beyond_the_labels_tags_and_keeps_the_codes() {
    for (mode, names) in MODES {
        let e = run(
            &format!("syslog_pri {{ {mode} }}"),
            &event_with_pri(names, "193"),
        );
        assert_eq!(tags(&e), ["_syslogpriparsefailure"]);
        assert_eq!(get(&e, names.facility_code), Some(&Value::Int(24)));
        assert_eq!(get(&e, names.severity_code), Some(&Value::Int(1)));
        assert_eq!(get(&e, names.facility), None);
        assert_eq!(get(&e, names.severity), None);
    }
}

#[test]
fn without_labels_only_codes_are_set_and_nothing_is_tagged() {
    for (mode, names) in MODES {
        for pri in ["193", "34"] {
            let e = run(
                &format!("syslog_pri {{ {mode} use_labels => false }}"),
                &event_with_pri(names, pri),
            );
            assert!(tags(&e).is_empty());
            assert!(get(&e, names.facility_code).is_some());
            assert_eq!(get(&e, names.facility), None);
            assert_eq!(get(&e, names.severity), None);
        }
    }
}

#[test]
fn custom_field_and_labels() {
    let e = run(
        r#"syslog_pri {
            ecs_compatibility => disabled
            syslog_pri_field_name => "[raw][pri]"
            facility_labels => ["k", "u"]
            severity_labels => ["a", "b", "c"]
        }"#,
        r#"{"raw": {"pri": 10}}"#,
    );
    // 10 = facility 1, severity 2.
    assert_decoded(&e, &LEGACY, (1, Some("u")), (2, "c"));
    // A severity without a label sets no name; the facility still gets one.
    let e = run(
        r#"syslog_pri {
            ecs_compatibility => disabled
            facility_labels => ["k", "u"]
            severity_labels => ["a"]
        }"#,
        r#"{"syslog_pri": 13}"#,
    );
    assert_eq!(get(&e, "syslog_facility"), Some(&Value::from("u")));
    assert_eq!(get(&e, "syslog_severity_code"), Some(&Value::Int(5)));
    assert_eq!(get(&e, "syslog_severity"), None);
    assert!(tags(&e).is_empty());
}

#[test]
fn values_are_read_as_ruby_to_i_reads_them() {
    let cases = [
        (r#"" 165 junk""#, 20, 5),
        (r#""junk""#, 0, 0),
        ("34.9", 4, 2),
        (r#"["165", "34"]"#, 20, 5),
        ("[191]", 23, 7),
        ("false", 1, 5),
        ("null", 1, 5),
        // Ruby: -1 & 7 == 7, -1 >> 3 == -1, and labels[-1] is the last label.
        ("-1", -1, 7),
    ];
    for (pri, facility, severity) in cases {
        let e = run(
            "syslog_pri { ecs_compatibility => disabled }",
            &format!(r#"{{"syslog_pri": {pri}}}"#),
        );
        assert_eq!(
            get(&e, "syslog_facility_code"),
            Some(&Value::Int(facility)),
            "{pri}"
        );
        assert_eq!(
            get(&e, "syslog_severity_code"),
            Some(&Value::Int(severity)),
            "{pri}"
        );
    }
    let e = run(
        "syslog_pri { ecs_compatibility => disabled }",
        r#"{"syslog_pri": -1}"#,
    );
    assert_eq!(get(&e, "syslog_facility"), Some(&Value::from("local7")));
}

#[test]
fn unconvertible_values_tag_and_keep_the_event() {
    for pri in ["true", r#"{"a": 1}"#, "[[1]]"] {
        let e = run(
            "syslog_pri { ecs_compatibility => disabled add_tag => [\"ok\"] }",
            &format!(r#"{{"syslog_pri": {pri}}}"#),
        );
        assert_eq!(tags(&e), ["_syslogpriparsefailure"], "{pri}");
        assert_eq!(get(&e, "syslog_facility_code"), None);
    }
}

#[test]
fn common_options_apply_even_when_the_facility_has_no_label() {
    // Logstash calls filter_matched after every parse, tagged or not.
    let e = run(
        r#"syslog_pri { ecs_compatibility => disabled add_tag => ["seen"] }"#,
        r#"{"syslog_pri": 193}"#,
    );
    assert_eq!(tags(&e), ["_syslogpriparsefailure", "seen"]);
}

#[test]
fn bad_options_are_reported_at_their_place() {
    let message = common::build_error("filter { syslog_pri { use_lables => false } }", &no_env);
    assert!(message.contains("use_lables"), "{message}");
    assert!(message.contains("use_labels"), "{message}");
    let message = common::build_error("filter { syslog_pri { ecs_compatibility => v2 } }", &no_env);
    assert!(message.contains("v2"), "{message}");
    let message = common::build_error(
        r#"filter { syslog_pri { syslog_pri_field_name => "[a" } }"#,
        &no_env,
    );
    assert!(message.contains("syslog_pri_field_name"), "{message}");
}
