//! Behaviour of the `date` filter, built from config text. Many cases come from
//! logstash-filter-date's `spec/filters/date_spec.rb` and `DateFilterTest.java`; the year
//! guessing cases inject the clock with `date::build_with_clock`, so they hold whatever the
//! date is when the tests run. The last tests read every timestamp of the shared web-server
//! and syslog corpora and check them against chrono.

mod common;

use common::{filter_build_error as build_error, graph, json, no_env, tags};

use std::sync::Arc;

use sluice::config::ast::Statement;
use sluice::config::{parse, ParseOptions, PluginArgs, SourceMap};
use sluice::event::{Event, FieldPath, Text, Timestamp, Value};
use sluice::filters::date::{build_with_clock, Clock, Date};
use sluice::filters::{CommonOptions, Filter};

/// The instant events start with, so a test can tell whether `@timestamp` changed.
const ARRIVAL: &str = "2000-01-01T00:00:00.000Z";

fn event(fields: &str) -> Event {
    let arrival = Timestamp::parse_iso8601(ARRIVAL).unwrap();
    match json(fields) {
        Value::Map(map) => Event::from_fields(map, arrival),
        other => panic!("not an object: {other:?}"),
    }
}

/// Runs one event through `filters`; it must survive.
fn run(filters: &str, fields: &str) -> Event {
    let mut batch = vec![event(fields)];
    graph(filters).process(&mut batch);
    assert_eq!(batch.len(), 1, "the event was dropped");
    batch.pop().unwrap()
}

/// `@timestamp` (or another timestamp field) as ISO8601 text.
fn ts(e: &Event, path: &str) -> String {
    match e.get(&FieldPath::parse(path).unwrap()) {
        Some(Value::Timestamp(t)) => t.to_string(),
        other => panic!("{path} is {other:?}"),
    }
}

/// `@timestamp` after parsing `value` (JSON) from field `d` with the date options `options`;
/// `None` when the event was tagged `_dateparsefailure` (its `@timestamp` must be untouched).
fn parsed(options: &str, value: &str) -> Option<String> {
    let e = run(
        &format!("date {{ {options} }}"),
        &format!(r#"{{"d": {value}}}"#),
    );
    if tags(&e).contains(&"_dateparsefailure".to_string()) {
        assert_eq!(
            ts(&e, "@timestamp"),
            ARRIVAL,
            "a failure changed @timestamp"
        );
        None
    } else {
        assert!(tags(&e).is_empty(), "{:?}", tags(&e));
        Some(ts(&e, "@timestamp"))
    }
}

#[track_caller]
fn check(options: &str, cases: &[(&str, Option<&str>)]) {
    for (value, expected) in cases {
        assert_eq!(
            parsed(options, value).as_deref(),
            *expected,
            "{options} on {value}"
        );
    }
}

/// A `date` filter built from `options` whose clock reads `now` (ISO8601).
fn date_at(
    options: &str,
    now: &str,
    env: &'static (dyn Fn(&str) -> Option<String> + Sync + Send),
) -> Date {
    let text = format!("filter {{ date {{ {options} }} }}");
    let sources = SourceMap::single("test.conf", &text);
    let ast = parse(&sources, ParseOptions::default()).expect("config parses");
    let Statement::Plugin(plugin) = &ast.sections[0].body[0] else {
        panic!("not a plugin")
    };
    let now = Timestamp::parse_iso8601(now).unwrap();
    let clock: Clock = Arc::new(move || now);
    build_with_clock(&PluginArgs::new(plugin, env), clock)
        .unwrap_or_else(|d| panic!("{}", d.render(&sources)))
}

/// `@timestamp` after `filter` reads `fields`, or `None` on failure.
fn apply(filter: &Date, fields: &str) -> Option<String> {
    let mut batch = vec![event(fields)];
    filter.filter(&mut batch, &CommonOptions::default());
    let e = &batch[0];
    if e.has_tag("_dateparsefailure") {
        None
    } else {
        Some(ts(e, "@timestamp"))
    }
}

// ---- formats ------------------------------------------------------------------------------

#[test]
fn iso8601_spec_cases() {
    check(
        r#"match => ["d", "ISO8601"] locale => "en" timezone => "UTC""#,
        &[
            (
                r#""2001-01-01T00:00:00-0800""#,
                Some("2001-01-01T08:00:00.000Z"),
            ),
            (
                r#""2010-05-03T08:18:18+00:00""#,
                Some("2010-05-03T08:18:18.000Z"),
            ),
            (
                r#""2001-12-07T23:54:54Z""#,
                Some("2001-12-07T23:54:54.000Z"),
            ),
            (
                r#""2001-09-05T16:36:36.123+0700""#,
                Some("2001-09-05T09:36:36.123Z"),
            ),
            (
                r#""2001-12-07T23:54:54,123Z""#,
                Some("2001-12-07T23:54:54.123Z"),
            ),
            (
                r#""2001-11-06 20:45:45.123-0000""#,
                Some("2001-11-06T20:45:45.123Z"),
            ),
            (
                r#""2001-11-06 20:45:45,123""#,
                Some("2001-11-06T20:45:45.123Z"),
            ),
            // Microseconds are cut to Joda's milliseconds.
            (
                r#""2001-11-06T20:45:45.123456Z""#,
                Some("2001-11-06T20:45:45.123Z"),
            ),
            (r#""2001-11-06 20:45:45""#, None),
            (r#""not a date""#, None),
        ],
    );
}

#[test]
fn unix_and_unix_ms_read_numbers_and_strings() {
    check(
        r#"match => ["d", "UNIX"]"#,
        &[
            (r#""0""#, Some("1970-01-01T00:00:00.000Z")),
            (r#""1478207457""#, Some("2016-11-03T21:10:57.000Z")),
            ("1478207457", Some("2016-11-03T21:10:57.000Z")),
            ("1350414944.123456", Some("2012-10-16T19:15:44.123Z")),
            (r#""1350414944.123456""#, Some("2012-10-16T19:15:44.123Z")),
            // Not String#to_i madness: no zero for junk.
            (r#""%{bad_value}""#, None),
            (r#""1000000000123""#, None),
        ],
    );
    check(
        r#"match => ["d", "UNIX_MS"]"#,
        &[
            (r#""456""#, Some("1970-01-01T00:00:00.456Z")),
            ("1000000000123", Some("2001-09-09T01:46:40.123Z")),
            (r#""1000000000123""#, Some("2001-09-09T01:46:40.123Z")),
        ],
    );
    // Tried in order: seconds first, then milliseconds for what is too big for seconds.
    check(
        r#"match => ["d", "UNIX", "UNIX_MS"]"#,
        &[
            ("1000000000", Some("2001-09-09T01:46:40.000Z")),
            ("1000000000123", Some("2001-09-09T01:46:40.123Z")),
            (r#""1478207457.456""#, Some("2016-11-03T21:10:57.456Z")),
            ("1478207457.456", Some("2016-11-03T21:10:57.456Z")),
        ],
    );
}

#[test]
fn tai64n_as_a_bareword() {
    check(
        r#"match => [ "d", TAI64N ]"#,
        &[
            (
                r#""4000000050d506482dbdf024""#,
                Some("2012-12-22T01:00:46.767Z"),
            ),
            (
                r#""@4000000050d506482dbdf024""#,
                Some("2012-12-22T01:00:46.767Z"),
            ),
            ("12", None),
        ],
    );
}

#[test]
fn joda_patterns() {
    check(
        r#"match => ["d", "dd/MMM/yyyy:HH:mm:ss Z"] locale => "en""#,
        &[
            (
                r#""25/Mar/2013:20:33:56 +0000""#,
                Some("2013-03-25T20:33:56.000Z"),
            ),
            (
                r#""25/Mar/2013:20:33:56 -0700""#,
                Some("2013-03-26T03:33:56.000Z"),
            ),
            (
                r#""5/mar/2013:20:33:56 +0000""#,
                Some("2013-03-05T20:33:56.000Z"),
            ),
            (
                r#""25/March/2013:20:33:56 +0000""#,
                Some("2013-03-25T20:33:56.000Z"),
            ),
            (r#""25/Mar/2013:20:33:56""#, None),
            (r#""32/Mar/2013:20:33:56 +0000""#, None),
        ],
    );
    check(
        r#"match => ["d", "yyyy/MM/dd"] timezone => "UTC""#,
        &[
            (r#""2013/04/21""#, Some("2013-04-21T00:00:00.000Z")),
            (r#""2013/Apr/21""#, None),
        ],
    );
    check(
        r#"match => ["d", "yyyy-MM-dd'T'HH:mm:ss.SSSZZ"]"#,
        &[(
            r#""2013-04-21T10:11:12.345+02:00""#,
            Some("2013-04-21T08:11:12.345Z"),
        )],
    );
    check(
        r#"match => ["d", "EEE, dd MMM yyyy HH:mm:ss z"]"#,
        &[(
            r#""Sun, 21 Apr 2013 10:11:12 GMT""#,
            Some("2013-04-21T10:11:12.000Z"),
        )],
    );
    check(
        r#"match => ["d", "M/d/yy h:mm:ss a"]"#,
        &[
            (r#""4/21/13 1:02:03 PM""#, Some("2013-04-21T13:02:03.000Z")),
            (r#""4/21/13 12:02:03 AM""#, Some("2013-04-21T00:02:03.000Z")),
        ],
    );
    check(
        r#"match => ["d", "yyyy-MM-dd HH:mm:ss ZZZ"]"#,
        &[(
            r#""2013-07-21 10:11:12 Europe/Paris""#,
            Some("2013-07-21T08:11:12.000Z"),
        )],
    );
}

#[test]
fn formats_are_tried_in_order() {
    let options = r#"match => ["d", "MMM  d yyyy HH:mm:ss", "MMM dd yyyy HH:mm:ss", "ISO8601"]"#;
    check(
        options,
        &[
            (
                r#""Aug  3 2010 00:03:44""#,
                Some("2010-08-03T00:03:44.000Z"),
            ),
            (
                r#""Aug 13 2010 00:03:44""#,
                Some("2010-08-13T00:03:44.000Z"),
            ),
            (
                r#""2010-08-13T00:03:44Z""#,
                Some("2010-08-13T00:03:44.000Z"),
            ),
            (r#""13 Aug 2010""#, None),
        ],
    );
}

// ---- time zones ---------------------------------------------------------------------------

#[test]
fn timezone_option_reads_local_times() {
    check(
        r#"match => ["d", "yyyy MMM dd HH:mm:ss"] locale => "en" timezone => "America/Los_Angeles""#,
        &[
            (
                r#""2013 Nov 24 01:29:01""#,
                Some("2013-11-24T09:29:01.000Z"),
            ),
            (
                r#""2013 Jun 24 01:29:01""#,
                Some("2013-06-24T08:29:01.000Z"),
            ),
        ],
    );
    check(
        r#"match => ["d", "yyyy-MM-dd HH:mm"] timezone => "+05:30""#,
        &[(r#""2013-06-24 12:00""#, Some("2013-06-24T06:30:00.000Z"))],
    );
    // An offset in the text wins over the option.
    check(
        r#"match => ["d", "yyyy-MM-dd HH:mm Z"] timezone => "Asia/Tokyo""#,
        &[(
            r#""2013-06-24 12:00 +0000""#,
            Some("2013-06-24T12:00:00.000Z"),
        )],
    );
}

#[test]
fn timezone_from_the_event() {
    let filters = r#"date { match => ["d", "yyyy MMM dd HH:mm:ss"] timezone => "%{[tz]}" }"#;
    for (tz, expected) in [
        ("America/Los_Angeles", "2013-11-24T09:29:01.000Z"),
        ("Europe/Paris", "2013-11-24T00:29:01.000Z"),
        ("+01:00", "2013-11-24T00:29:01.000Z"),
    ] {
        let e = run(
            filters,
            &format!(r#"{{"d": "2013 Nov 24 01:29:01", "tz": "{tz}"}}"#),
        );
        assert_eq!(ts(&e, "@timestamp"), expected, "{tz}");
    }
    // An unknown or missing zone fails the text formats only.
    for fields in [
        r#"{"d": "2013 Nov 24 01:29:01", "tz": "Mars/Olympus"}"#,
        r#"{"d": "2013 Nov 24 01:29:01"}"#,
    ] {
        let e = run(filters, fields);
        assert_eq!(tags(&e), ["_dateparsefailure"], "{fields}");
    }
    let e = run(
        r#"date { match => ["d", "ISO8601", "UNIX"] timezone => "%{tz}" }"#,
        r#"{"d": "1000000000"}"#,
    );
    assert_eq!(ts(&e, "@timestamp"), "2001-09-09T01:46:40.000Z");
}

#[test]
fn iso8601_with_timezone_from_the_event_follows_zone_history() {
    // Venezuela changed from -4:00 to -4:30 on 2007-12-09 and back on 2016-05-01.
    let filters = r#"date { match => ["d", "ISO8601"] timezone => "%{tz}" }"#;
    for (local, expected) in [
        ("2007-12-09T01:00:00", "2007-12-09T05:00:00.000Z"),
        ("2007-12-09T10:00:00", "2007-12-09T14:30:00.000Z"),
        ("2016-05-01T08:18:18.123", "2016-05-01T12:18:18.123Z"),
    ] {
        let e = run(
            filters,
            &format!(r#"{{"d": "{local}", "tz": "America/Caracas"}}"#),
        );
        assert_eq!(ts(&e, "@timestamp"), expected, "{local}");
    }
}

#[test]
fn daylight_saving_gaps_fail_and_overlaps_take_the_first_instant() {
    let cet = r#"match => ["d", "yyyy MMM dd HH:mm:ss"] timezone => "CET""#;
    check(
        cet,
        &[
            (
                r#""2016 Mar 26 02:00:37""#,
                Some("2016-03-26T01:00:37.000Z"),
            ),
            (
                r#""2016 Mar 27 01:59:59""#,
                Some("2016-03-27T00:59:59.000Z"),
            ),
            (r#""2016 Mar 27 02:00:01""#, None),
            (
                r#""2016 Mar 27 03:00:01""#,
                Some("2016-03-27T01:00:01.000Z"),
            ),
            (
                r#""2016 Oct 30 02:30:00""#,
                Some("2016-10-30T00:30:00.000Z"),
            ),
            (
                r#""2016 Oct 30 03:30:00""#,
                Some("2016-10-30T02:30:00.000Z"),
            ),
        ],
    );
}

#[test]
fn the_tz_environment_variable_is_the_default_zone() {
    fn new_york(name: &str) -> Option<String> {
        (name == "TZ").then(|| ":America/New_York".to_string())
    }
    let filter = date_at(
        r#"match => ["d", "yyyy-MM-dd HH:mm"]"#,
        "2026-01-01T00:00:00Z",
        &new_york,
    );
    assert_eq!(
        apply(&filter, r#"{"d": "2013-06-24 12:00"}"#).as_deref(),
        Some("2013-06-24T16:00:00.000Z")
    );
    // The option still wins.
    let filter = date_at(
        r#"match => ["d", "yyyy-MM-dd HH:mm"] timezone => "UTC""#,
        "2026-01-01T00:00:00Z",
        &new_york,
    );
    assert_eq!(
        apply(&filter, r#"{"d": "2013-06-24 12:00"}"#).as_deref(),
        Some("2013-06-24T12:00:00.000Z")
    );
}

// ---- years --------------------------------------------------------------------------------

#[test]
fn a_year_less_date_is_this_year() {
    let filter = date_at(
        r#"match => ["d", "EEE MMM dd HH:mm:ss"] locale => "en""#,
        "2019-06-10T12:00:00Z",
        &no_env,
    );
    assert_eq!(
        apply(&filter, r#"{"d": "Sun Jun 02 20:38:03"}"#).as_deref(),
        Some("2019-06-02T20:38:03.000Z")
    );
}

#[test]
fn december_events_read_in_january_are_last_year() {
    for options in [
        r#"match => ["d", "MMM dd HH:mm:ss"] timezone => "UTC""#,
        r#"match => ["d", "MMM dd HH:mm:ss"] timezone => "%{tz}""#,
    ] {
        let filter = date_at(options, "2014-01-01T00:30:50Z", &no_env);
        assert_eq!(
            apply(&filter, r#"{"d": "Dec 31 23:59:00", "tz": "UTC"}"#).as_deref(),
            Some("2013-12-31T23:59:00.000Z"),
            "{options}"
        );
        assert_eq!(
            apply(&filter, r#"{"d": "Jan 01 00:10:00", "tz": "UTC"}"#).as_deref(),
            Some("2014-01-01T00:10:00.000Z"),
            "{options}"
        );
    }
}

#[test]
fn january_events_read_in_december_are_next_year() {
    let filter = date_at(
        r#"match => ["d", "MMM dd HH:mm:ss"] timezone => "UTC""#,
        "2013-12-31T23:59:50Z",
        &no_env,
    );
    assert_eq!(
        apply(&filter, r#"{"d": "Jan 01 01:00:00"}"#).as_deref(),
        Some("2014-01-01T01:00:00.000Z")
    );
    assert_eq!(
        apply(&filter, r#"{"d": "Nov 30 01:00:00"}"#).as_deref(),
        Some("2013-11-30T01:00:00.000Z")
    );
}

#[test]
fn year_less_dates_in_a_daylight_saving_gap_fail() {
    // Logstash's "do fail on 2016 DST switchover in CET", with its clock.
    let filter = date_at(
        r#"match => ["d", "MMM dd HH:mm:ss"] locale => "en" timezone => "CET""#,
        "2016-03-29T23:59:50Z",
        &no_env,
    );
    assert_eq!(
        apply(&filter, r#"{"d": "Mar 27 01:59:59"}"#).as_deref(),
        Some("2016-03-27T00:59:59.000Z")
    );
    assert_eq!(apply(&filter, r#"{"d": "Mar 27 02:00:01"}"#), None);
    assert_eq!(
        apply(&filter, r#"{"d": "Mar 27 03:00:01"}"#).as_deref(),
        Some("2016-03-27T01:00:01.000Z")
    );
    // DateFilterTest: `hh` without `a` is the morning; the zone comes from the event.
    let filter = date_at(
        r#"match => ["d", "MMM dd hh:mm:ss.SSS"] timezone => "%{tz}""#,
        "2016-03-29T23:59:50Z",
        &no_env,
    );
    assert_eq!(
        apply(&filter, r#"{"d": "Mar 27 01:59:59.999", "tz": "CET"}"#).as_deref(),
        Some("2016-03-27T00:59:59.999Z")
    );
    assert_eq!(
        apply(&filter, r#"{"d": "Mar 27 02:00:01.000", "tz": "CET"}"#),
        None
    );
}

#[test]
fn february_29th_needs_a_leap_year() {
    let options = r#"match => ["d", "MMM dd HH:mm:ss"]"#;
    let leap = date_at(options, "2024-03-01T00:00:00Z", &no_env);
    assert_eq!(
        apply(&leap, r#"{"d": "Feb 29 10:00:00"}"#).as_deref(),
        Some("2024-02-29T10:00:00.000Z")
    );
    let common = date_at(options, "2025-03-01T00:00:00Z", &no_env);
    assert_eq!(apply(&common, r#"{"d": "Feb 29 10:00:00"}"#), None);
}

#[test]
fn two_digit_years_fall_within_80_years_back_and_20_ahead() {
    let filter = date_at(
        r#"match => ["d", "dd.MM.yy"]"#,
        "2026-05-01T00:00:00Z",
        &no_env,
    );
    assert_eq!(
        apply(&filter, r#"{"d": "01.02.45"}"#).as_deref(),
        Some("2045-02-01T00:00:00.000Z")
    );
    assert_eq!(
        apply(&filter, r#"{"d": "01.02.46"}"#).as_deref(),
        Some("1946-02-01T00:00:00.000Z")
    );
}

// ---- locales ------------------------------------------------------------------------------

#[test]
fn locales_pick_the_language_of_names() {
    for locale in ["fr", "fr-FR", "fr_FR"] {
        check(
            &format!(r#"match => ["d", "dd MMMM yyyy"] locale => "{locale}" timezone => "UTC""#),
            &[
                (r#""14 juillet 1789""#, Some("1789-07-14T00:00:00.000Z")),
                (r#""14 July 1789""#, None),
            ],
        );
    }
    check(
        r#"match => ["d", "EEEE, d. MMMM yyyy"] locale => "de""#,
        &[(
            r#""Sonntag, 3. März 2024""#,
            Some("2024-03-03T00:00:00.000Z"),
        )],
    );
    // English is the default.
    check(
        r#"match => ["d", "dd MMMM yyyy"] timezone => "UTC""#,
        &[(r#""01 September 2014""#, Some("2014-09-01T00:00:00.000Z"))],
    );
}

#[test]
fn an_unknown_locale_is_an_error_only_where_names_are_read() {
    let message = build_error(r#"date { match => ["d", "dd MMM yyyy"] locale => "ja-JP" }"#);
    assert!(message.contains("locale"), "{message}");
    assert!(message.contains("ja-JP"), "{message}");
    assert!(message.contains("en, fr"), "{message}");
    check(
        r#"match => ["d", "ISO8601", "yyyy-MM-dd"] locale => "ja-JP""#,
        &[(r#""2013-04-21""#, Some("2013-04-21T00:00:00.000Z"))],
    );
}

// ---- events -------------------------------------------------------------------------------

#[test]
fn failures_tag_and_keep_the_event_without_common_options() {
    let e = run(
        r#"date { match => ["d", "yyyy/MM/dd"] add_tag => ["tagged"] add_field => { "x" => "y" } }"#,
        r#"{"d": "2013/Apr/21", "message": "keep me"}"#,
    );
    assert_eq!(tags(&e), ["_dateparsefailure"]);
    assert_eq!(ts(&e, "@timestamp"), ARRIVAL);
    assert_eq!(e.get_field("message"), Some(&Value::from("keep me")));
    assert_eq!(e.get_field("d"), Some(&Value::from("2013/Apr/21")));
    assert_eq!(e.get_field("x"), None);
}

#[test]
fn success_applies_common_options() {
    let e = run(
        r#"date { match => ["d", "yyyy/MM/dd"] add_tag => ["tagged"] timezone => "UTC" }"#,
        r#"{"d": "2013/04/21"}"#,
    );
    assert_eq!(tags(&e), ["tagged"]);
    assert_eq!(ts(&e, "@timestamp"), "2013-04-21T00:00:00.000Z");
    // The source field stays as it was.
    assert_eq!(e.get_field("d"), Some(&Value::from("2013/04/21")));
}

#[test]
fn custom_failure_tags() {
    let e = run(
        r#"date { match => ["d", "yyyy"] tag_on_failure => ["date_failed", "again"] }"#,
        r#"{"d": "not really a year"}"#,
    );
    assert_eq!(tags(&e), ["date_failed", "again"]);
    let e = run(
        r#"date { match => ["d", "yyyy"] tag_on_failure => [] }"#,
        r#"{"d": "nope"}"#,
    );
    assert!(tags(&e).is_empty());
}

#[test]
fn a_missing_or_null_field_does_nothing() {
    for fields in [r#"{}"#, r#"{"d": null}"#] {
        let e = run(
            r#"date { match => ["d", "ISO8601"] add_tag => ["tagged"] }"#,
            fields,
        );
        assert!(tags(&e).is_empty(), "{fields}");
        assert_eq!(ts(&e, "@timestamp"), ARRIVAL);
    }
}

#[test]
fn arrays_and_other_non_scalars_fail_as_in_logstash() {
    // Logstash's date filter hands the list itself to its parsers, which refuse it.
    for value in [
        r#"["2013-04-21T00:00:00Z"]"#,
        r#"["2013-04-21T00:00:00Z", "2014-04-21T00:00:00Z"]"#,
        r#"{"a": 1}"#,
        "true",
    ] {
        assert_eq!(
            parsed(r#"match => ["d", "ISO8601", "UNIX"]"#, value),
            None,
            "{value}"
        );
    }
    // Text formats refuse numbers; numeric ones take them.
    assert_eq!(parsed(r#"match => ["d", "ISO8601", "yyyy"]"#, "2013"), None);
    assert_eq!(
        parsed(r#"match => ["d", "yyyy", "UNIX"]"#, "2013").as_deref(),
        Some("1970-01-01T00:33:33.000Z")
    );
}

#[test]
fn target_and_nested_source() {
    let e = run(
        r#"date { match => ["[data][deep]", "ISO8601"] target => "[parsed][at]" }"#,
        r#"{"data": {"deep": "2013-01-01T00:00:00.000Z"}}"#,
    );
    assert_eq!(ts(&e, "[parsed][at]"), "2013-01-01T00:00:00.000Z");
    assert_eq!(ts(&e, "@timestamp"), ARRIVAL);
    let e = run(
        r#"date { match => ["[data][deep]", "ISO8601"] target => "[@timestamp]" }"#,
        r#"{"data": {"deep": "2013-01-01T00:00:00.000Z"}}"#,
    );
    assert_eq!(ts(&e, "@timestamp"), "2013-01-01T00:00:00.000Z");
}

#[test]
fn cancelled_events_are_left_alone() {
    let filter = date_at(
        r#"match => ["d", "yyyy"] timezone => "UTC""#,
        "2026-01-01T00:00:00Z",
        &no_env,
    );
    let mut cancelled = event(r#"{"d": "1999"}"#);
    cancelled.cancel();
    let mut batch = vec![cancelled, event(r#"{"d": "2001"}"#), event(r#"{"d": "x"}"#)];
    filter.filter(&mut batch, &CommonOptions::default());
    assert_eq!(ts(&batch[0], "@timestamp"), ARRIVAL);
    assert!(!batch[0].has_tag("_dateparsefailure"));
    assert_eq!(ts(&batch[1], "@timestamp"), "2001-01-01T00:00:00.000Z");
    assert!(batch[2].has_tag("_dateparsefailure"));
    // `apply` on its own agrees.
    let mut single = event(r#"{"d": "2002"}"#);
    assert!(filter.apply(&mut single));
    assert_eq!(ts(&single, "@timestamp"), "2002-01-01T00:00:00.000Z");
    let mut bad = event(r#"{"d": "x"}"#);
    assert!(!filter.apply(&mut bad));
    assert_eq!(tags(&bad), ["_dateparsefailure"]);
}

// ---- build errors -------------------------------------------------------------------------

#[test]
fn configuration_errors_point_at_the_option() {
    let message = build_error(r#"date { match => ["mydate"] }"#);
    assert!(message.contains("match"), "{message}");
    assert!(message.contains("at least one format"), "{message}");
    let message = build_error(r#"date { }"#);
    assert!(message.contains("at least one format"), "{message}");
    let message = build_error(r#"date { match => ["d", "yyyy-MM-ddTHH:mm"] }"#);
    assert!(message.contains("yyyy-MM-ddTHH:mm"), "{message}");
    assert!(message.contains("'T'"), "{message}");
    let message = build_error(r#"date { match => ["d", "HH:mm zzzz"] }"#);
    assert!(message.contains("cannot be parsed"), "{message}");
    let message = build_error(r#"date { match => ["d", "ISO8601"] timezone => "Europe/Pariss" }"#);
    assert!(message.contains("unknown time zone"), "{message}");
    assert!(message.contains("Europe/Paris\"?"), "{message}");
    let message = build_error(r#"date { match => ["d", "ISO8601"] timezon => "UTC" }"#);
    assert!(message.contains("timezone"), "{message}");
    let message = build_error(r#"date { match => ["d", "ISO8601"] target => "[a" }"#);
    assert!(message.contains("target"), "{message}");
}

// ---- corpora ------------------------------------------------------------------------------

/// Lines of a shared corpus file.
fn corpus(path: &str) -> Vec<String> {
    let text = std::fs::read_to_string(format!("../shared/corpus/{path}"))
        .unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines().map(str::to_string).collect()
}

#[test]
fn every_web_server_timestamp_of_the_corpora_parses_as_chrono_reads_it() {
    let filter = date_at(
        r#"match => ["d", "dd/MMM/yyyy:HH:mm:ss Z"] locale => "en""#,
        "2026-01-01T00:00:00Z",
        &no_env,
    );
    let mut seen = 0;
    for path in ["access/apache/apache_logs", "access/nginx/access.txt"] {
        for line in corpus(path) {
            let Some(stamp) = line.split_once('[').and_then(|(_, r)| r.split_once(']')) else {
                continue;
            };
            let stamp = stamp.0;
            let want = chrono::DateTime::parse_from_str(stamp, "%d/%b/%Y:%H:%M:%S %z")
                .unwrap_or_else(|e| panic!("{e}: {stamp}"))
                .to_utc()
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
            let mut e = Event::new(Timestamp::from_secs(0));
            e.set_field(Text::new("d"), Value::from(stamp));
            assert!(filter.apply(&mut e), "{stamp}");
            assert_eq!(ts(&e, "@timestamp"), want, "{stamp}");
            seen += 1;
        }
    }
    assert!(seen > 10_000, "{seen}");
}

#[test]
fn every_syslog_timestamp_of_the_corpus_parses_as_chrono_reads_it() {
    let filter = date_at(
        r#"match => ["d", "MMM dd HH:mm:ss", "MMM  d HH:mm:ss"]"#,
        "2026-06-01T00:00:00Z",
        &no_env,
    );
    let mut seen = 0;
    for path in [
        "syslog/filebeat/system/auth/test/test.log",
        "syslog/filebeat/system/syslog/test/darwin-syslog-sample.log",
    ] {
        for line in corpus(path) {
            // `MMM dd HH:mm:ss`: the first `:`, two digits, `:`, two more digits.
            let Some(colon) = line.find(':') else {
                continue;
            };
            let Some(stamp) = line
                .get(..colon + 6)
                .filter(|s| s.as_bytes()[0].is_ascii_uppercase())
            else {
                continue;
            };
            let want = chrono::NaiveDateTime::parse_from_str(
                &format!("2026 {stamp}"),
                "%Y %b %e %H:%M:%S",
            )
            .unwrap_or_else(|e| panic!("{e}: {stamp}"))
            .and_utc()
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
            let mut e = Event::new(Timestamp::from_secs(0));
            e.set_field(Text::new("d"), Value::from(stamp));
            assert!(filter.apply(&mut e), "{stamp}");
            assert_eq!(ts(&e, "@timestamp"), want, "{stamp}");
            seen += 1;
        }
    }
    assert!(seen > 10, "{seen}");
}
