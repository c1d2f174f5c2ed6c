//! Behaviour of the `useragent` filter, built from config text as a pipeline builds it. The
//! user agents and expected fields are logstash-filter-useragent's spec samples (values
//! Logstash produced with uap-core's regexes).

mod common;

use common::{filter_build_error as build_error, get, graph, json, tags};

use sluice::event::{Event, Text, Timestamp, Value};
use sluice::plan::FilterGraph;

fn event(fields: &str) -> Event {
    match json(fields) {
        Value::Map(map) => Event::from_fields(map, Timestamp::from_secs(0)),
        other => panic!("not an object: {other:?}"),
    }
}

fn process(graph: &FilterGraph, fields: &str) -> Event {
    let mut batch = vec![event(fields)];
    graph.process(&mut batch);
    assert_eq!(batch.len(), 1, "the event was dropped");
    batch.pop().unwrap()
}

/// Parses `ua` (as `message`) with `filters`.
fn parse(filters: &str, ua: &str) -> Event {
    let mut e = Event::from_message(Text::new(ua), Timestamp::from_secs(0));
    let mut batch = vec![e.clone()];
    graph(filters).process(&mut batch);
    e = batch.pop().expect("the event survives");
    e
}

/// Asserts string fields (`None`: absent).
#[track_caller]
fn expect(e: &Event, expected: &[(&str, Option<&str>)]) {
    for (path, want) in expected {
        assert_eq!(
            get(e, path).map(|v| v.as_str().unwrap_or("<not a string>")),
            *want,
            "field {path}"
        );
    }
}

const LEGACY_UA: &str =
    r#"useragent { source => "message" target => "ua" ecs_compatibility => disabled }"#;
const ECS_UA: &str = r#"useragent { source => "message" target => "ua" ecs_compatibility => v8 }"#;

const CHROME_LINUX: &str = "Mozilla/5.0 (X11; Linux i686) AppleWebKit/537.31 (KHTML, like Gecko) Chrome/26.0.1410.63 Safari/537.31";

#[test]
fn chrome_on_linux_legacy() {
    let e = parse(LEGACY_UA, CHROME_LINUX);
    expect(
        &e,
        &[
            ("[ua][name]", Some("Chrome")),
            ("[ua][os_name]", Some("Linux")),
            ("[ua][os_full]", Some("Linux")),
            ("[ua][os]", Some("Linux")),
            ("[ua][device]", Some("Other")),
            ("[ua][major]", Some("26")),
            ("[ua][minor]", Some("0")),
            ("[ua][patch]", Some("1410")),
            ("[ua][version]", Some("26.0.1410.63")),
            ("[ua][os_major]", None),
            ("[ua][os_version]", None),
        ],
    );
}

#[test]
fn chrome_on_linux_ecs() {
    for mode in ["v1", "v8"] {
        let e = parse(
            &format!(
                r#"useragent {{ source => "message" target => "ua" ecs_compatibility => {mode} }}"#
            ),
            CHROME_LINUX,
        );
        expect(
            &e,
            &[
                ("[ua][name]", Some("Chrome")),
                ("[ua][os][name]", Some("Linux")),
                ("[ua][os][full]", Some("Linux")),
                ("[ua][device][name]", Some("Other")),
                ("[ua][version]", Some("26.0.1410.63")),
                (
                    "[@metadata][filter][user_agent][version][major]",
                    Some("26"),
                ),
                ("[@metadata][filter][user_agent][version][minor]", Some("0")),
                (
                    "[@metadata][filter][user_agent][version][patch]",
                    Some("1410"),
                ),
                ("[ua][major]", None),
                ("[ua][minor]", None),
                ("[ua][os_name]", None),
            ],
        );
    }
}

/// Expected field values (`None`: absent) for one user agent string.
type Expectations<'a> = &'a [(&'a str, Option<&'a str>)];

#[test]
fn mac_samples_from_the_logstash_spec() {
    let cases: [(&str, Expectations); 3] = [
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_14) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/12.0 Safari/605.1.15",
            &[
                ("[ua][name]", Some("Safari")),
                ("[ua][version]", Some("12.0")),
                ("[ua][os][full]", Some("Mac OS X 10.14")),
                ("[ua][os][name]", Some("Mac OS X")),
                ("[ua][os][version]", Some("10.14")),
                ("[@metadata][filter][user_agent][os][version][major]", Some("10")),
                ("[@metadata][filter][user_agent][os][version][minor]", Some("14")),
                ("[@metadata][filter][user_agent][version][patch]", None),
            ],
        ),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_3) AppleWebKit/537.75.14 (KHTML, like Gecko) Version/7.0.3 Safari/7046A194A",
            &[
                ("[ua][name]", Some("Safari")),
                ("[ua][version]", Some("7.0.3")),
                ("[ua][os][full]", Some("Mac OS X 10.9.3")),
                ("[ua][device][name]", Some("Mac")),
            ],
        ),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.11; rv:45.0) Gecko/20100101 Firefox/45.0",
            &[
                ("[ua][name]", Some("Firefox")),
                ("[ua][version]", Some("45.0")),
                ("[ua][os][full]", Some("Mac OS X 10.11")),
                ("[ua][os][version]", Some("10.11")),
                ("[ua][device][name]", Some("Mac")),
            ],
        ),
    ];
    for (ua, expected) in cases {
        expect(&parse(ECS_UA, ua), expected);
    }
}

#[test]
fn windows_versions_from_the_logstash_spec() {
    let e = parse(
        LEGACY_UA,
        "Mozilla/4.0 (compatible; MSIE 7.0; Windows NT 6.0)",
    );
    expect(
        &e,
        &[
            ("[ua][os_name]", Some("Windows")),
            ("[ua][os_major]", Some("Vista")),
            ("[ua][os_minor]", None),
            ("[ua][device]", Some("Other")),
        ],
    );
    let e = parse(
        ECS_UA,
        "Mozilla/4.0 (compatible; MSIE 8.0; Windows NT 5.1; Trident/4.0; .NET CLR 1.1.4322; .NET CLR 2.0.50727; .NET CLR 3.5.30729)",
    );
    expect(
        &e,
        &[
            ("[ua][name]", Some("IE")),
            ("[ua][os][name]", Some("Windows")),
            ("[ua][os][version]", Some("XP")),
        ],
    );
    let e = parse(
        LEGACY_UA,
        "Mozilla/5.0 (Windows NT 6.3; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/42.0.2311.135 Safari/537.36 Edge/12.246",
    );
    expect(
        &e,
        &[
            ("[ua][name]", Some("Edge")),
            ("[ua][os_major]", Some("8")),
            ("[ua][os_minor]", Some("1")),
            ("[ua][os_version]", Some("8.1")),
            ("[ua][os_full]", Some("Windows 8.1")),
        ],
    );
    let e = parse(
        ECS_UA,
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/89.0.4389.90 Safari/537.36 Edg/89.0.774.50",
    );
    expect(
        &e,
        &[
            ("[ua][name]", Some("Edge")),
            ("[ua][version]", Some("89.0.774.50")),
            ("[ua][os][full]", Some("Windows 10")),
            ("[ua][os][version]", Some("10")),
            (
                "[@metadata][filter][user_agent][os][version][major]",
                Some("10"),
            ),
        ],
    );
}

// ---- targets, prefix, source handling -----------------------------------------------------------

#[test]
fn without_target_legacy_fields_go_to_the_root_with_the_prefix() {
    let e = parse(
        r#"useragent { source => "message" prefix => "ua_" ecs_compatibility => disabled }"#,
        CHROME_LINUX,
    );
    expect(
        &e,
        &[
            ("ua_name", Some("Chrome")),
            ("ua_os", Some("Linux")),
            ("ua_major", Some("26")),
            ("ua_version", Some("26.0.1410.63")),
            ("name", None),
            ("message", Some(CHROME_LINUX)),
        ],
    );
}

#[test]
fn ecs_defaults_to_user_agent_and_ignores_prefix() {
    let e = parse(
        r#"useragent { source => "message" prefix => "x_" }"#,
        CHROME_LINUX,
    );
    expect(
        &e,
        &[
            ("[user_agent][name]", Some("Chrome")),
            ("[user_agent][os][name]", Some("Linux")),
            ("[user_agent][x_name]", None),
        ],
    );
}

#[test]
fn target_equal_to_source_replaces_the_string() {
    let g =
        graph(r#"useragent { source => "agent" target => "agent" ecs_compatibility => disabled }"#);
    let e = process(&g, &format!(r#"{{"agent": "{CHROME_LINUX}"}}"#));
    expect(&e, &[("[agent][name]", Some("Chrome"))]);
}

#[test]
fn an_array_source_uses_its_first_element() {
    let g = graph(LEGACY_UA);
    let e = process(
        &g,
        &format!(r#"{{"message": ["{CHROME_LINUX}", "Firefox/1.0"]}}"#),
    );
    expect(&e, &[("[ua][name]", Some("Chrome"))]);
}

#[test]
fn unknown_agents_are_other() {
    let e = parse(LEGACY_UA, "definitely not a browser");
    expect(
        &e,
        &[
            ("[ua][name]", Some("Other")),
            ("[ua][os_name]", Some("Other")),
            ("[ua][os_full]", Some("Other")),
            ("[ua][device]", Some("Other")),
            ("[ua][version]", None),
            ("[ua][major]", None),
        ],
    );
}

#[test]
fn missing_empty_or_odd_sources_leave_the_event_alone() {
    let g = graph(
        r#"useragent { source => "agent" target => "ua" add_tag => ["parsed"] ecs_compatibility => disabled }"#,
    );
    for fields in [
        r#"{}"#,
        r#"{"agent": ""}"#,
        r#"{"agent": 42}"#,
        r#"{"agent": []}"#,
        r#"{"agent": [7]}"#,
        r#"{"agent": {"a": "b"}}"#,
    ] {
        let e = process(&g, fields);
        assert!(get(&e, "ua").is_none(), "{fields}");
        assert!(tags(&e).is_empty(), "{fields}");
    }
    let e = process(
        &g,
        r#"{"agent": "Mozilla/5.0 (\u0000\uFFFF ☃) Gecko/20100101 Firefox/45.0"}"#,
    );
    expect(&e, &[("[ua][name]", Some("Firefox"))]);
    assert_eq!(tags(&e), ["parsed"]);
}

#[test]
fn cached_results_are_the_same_as_fresh_ones() {
    // A cache of one entry, alternating agents: every parse evicts the other.
    let g = graph(
        r#"useragent { source => "message" target => "ua" lru_cache_size => 1 ecs_compatibility => disabled }"#,
    );
    let firefox =
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.11; rv:45.0) Gecko/20100101 Firefox/45.0";
    for _ in 0..3 {
        for (ua, name) in [
            (CHROME_LINUX, "Chrome"),
            (firefox, "Firefox"),
            (firefox, "Firefox"),
        ] {
            let e = process(&g, &format!(r#"{{"message": "{ua}"}}"#));
            expect(&e, &[("[ua][name]", Some(name))]);
        }
    }
}

// ---- regexes and options ------------------------------------------------------------------------

#[test]
fn a_custom_regexes_file_replaces_the_bundled_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("regexes.yaml");
    std::fs::write(
        &path,
        r#"
user_agent_parsers:
  - regex: '(SluiceBot)/(\d+)\.(\d+)'
os_parsers:
  - regex: '(Plan9) (\d+)'
device_parsers:
  - regex: 'rack (\w+)'
    device_replacement: 'Rack $1'
"#,
    )
    .unwrap();
    let e = parse(
        &format!(
            r#"useragent {{ source => "message" target => "ua" regexes => "{}" ecs_compatibility => disabled }}"#,
            path.display()
        ),
        "SluiceBot/2.7 (Plan9 4; rack r12)",
    );
    expect(
        &e,
        &[
            ("[ua][name]", Some("SluiceBot")),
            ("[ua][version]", Some("2.7")),
            ("[ua][os_full]", Some("Plan9 4")),
            ("[ua][device]", Some("Rack r12")),
        ],
    );
}

#[test]
fn config_errors() {
    let e = build_error(r#"useragent { source => "m" lru_cache_size => 0 }"#);
    assert!(e.contains("greater than 0"), "{e}");
    let e = build_error(r#"useragent { source => "m" regexes => "/nonexistent/regexes.yaml" }"#);
    assert!(e.contains("cannot read regexes"), "{e}");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.yaml");
    std::fs::write(
        &path,
        "user_agent_parsers:\n  - regex: 'a(b'\nos_parsers: []\ndevice_parsers: []\n",
    )
    .unwrap();
    let e = build_error(&format!(
        r#"useragent {{ source => "m" regexes => "{}" }}"#,
        path.display()
    ));
    assert!(e.contains("a(b"), "{e}");
    let e = build_error(r#"useragent { target => "x" }"#);
    assert!(e.contains("source"), "{e}");
}
