//! The `syslog` input's parsing, through its public [`Relay`] (no network): every format,
//! Logstash's field names in both ECS modes, the options, rsyslog's own parser test suite
//! (`../shared/corpus/syslog/rsyslog-tests/tests/testsuites/*.parse1`), and agreement with the
//! real grok + date filters running Logstash's pattern.

use std::path::Path;
use std::sync::Arc;

use sluice::codecs::plain::Plain;
use sluice::config::ast::Statement;
use sluice::config::options::EcsCompatibility;
use sluice::config::{parse, ParseOptions, PluginArgs, SourceMap};
use sluice::event::{Event, FieldPath, Text, Timestamp, Value};
use sluice::inputs::syslog::relay::{Relay, FACILITY_LABELS, SEVERITY_LABELS};
use sluice::inputs::syslog::{build_syslog, SyslogInput};
use sluice::inputs::COMMON_NAMES;

const TESTSUITES: &str = "../shared/corpus/syslog/rsyslog-tests/tests/testsuites";
const FUZZ_CORPUS: &str = "../shared/corpus/syslog/rsyslog-tests/tests/fuzz-corpus";
const FILEBEAT: &str = "../shared/corpus/syslog/filebeat";

fn no_env(_: &str) -> Option<String> {
    None
}

/// Builds `syslog { OPTIONS }` under `ecs`; `Err` holds the rendered diagnostics.
fn try_input(options: &str, ecs: EcsCompatibility) -> Result<SyslogInput, String> {
    let text = format!("input {{ syslog {{ {options} }} }}");
    let sources = SourceMap::single("test.conf", &text);
    let ast = parse(&sources, ParseOptions::default()).map_err(|d| d.render(&sources))?;
    let Statement::Plugin(plugin) = &ast.sections[0].body[0] else {
        panic!("not a plugin");
    };
    let mut args = PluginArgs::new(plugin, &no_env).with_ecs_compatibility(ecs);
    let _common = args.split_off(COMMON_NAMES);
    build_syslog(&args, Arc::new(Plain::default())).map_err(|d| d.render(&sources))
}

fn input(options: &str, ecs: EcsCompatibility) -> SyslogInput {
    try_input(options, ecs).unwrap_or_else(|e| panic!("config did not build:\n{e}"))
}

/// 2024-06-15T00:00:00Z: "now" for year guessing.
fn june_2024() -> Timestamp {
    Timestamp::from_secs(1_718_409_600)
}

/// Runs `line` through `relay` as the input does (the sender is 192.0.2.7).
fn relay_line(relay: &Relay, line: &str, ecs: bool, now: Timestamp) -> Event {
    let mut event = Event::from_message(Text::new(line), Timestamp::from_secs(1));
    let host = if ecs { "[host][ip]" } else { "host" };
    event.insert(&FieldPath::parse(host).unwrap(), Value::from("192.0.2.7"));
    relay.apply(&mut event, &mut relay.state(now));
    event
}

fn legacy(line: &str) -> Event {
    let input = input("", EcsCompatibility::Disabled);
    relay_line(input.relay(), line, false, june_2024())
}

fn ecs(line: &str) -> Event {
    let input = input("", EcsCompatibility::V8);
    relay_line(input.relay(), line, true, june_2024())
}

fn get<'e>(e: &'e Event, path: &str) -> Option<&'e Value> {
    e.get(&FieldPath::parse(path).unwrap())
}

fn str_at(e: &Event, path: &str) -> Option<String> {
    get(e, path).map(|v| match v {
        Value::Str(s) => s.to_string(),
        other => panic!("{path} is {other:?}"),
    })
}

fn int_at(e: &Event, path: &str) -> Option<i64> {
    get(e, path).map(|v| match v {
        Value::Int(n) => *n,
        other => panic!("{path} is {other:?}"),
    })
}

fn iso(e: &Event) -> String {
    let mut s = String::new();
    e.timestamp().expect("@timestamp").push_iso8601(&mut s);
    s
}

fn tags(e: &Event) -> Vec<String> {
    match e.get_field("tags") {
        Some(Value::Array(items)) => items
            .iter()
            .map(|t| t.as_str().unwrap().to_string())
            .collect(),
        _ => Vec::new(),
    }
}

#[test]
fn rfc3164_legacy_fields() {
    let e = legacy("<34>Oct 11 22:14:15 mymachine su[77]: 'su root' failed for lonvick");
    assert_eq!(int_at(&e, "priority"), Some(34));
    assert_eq!(int_at(&e, "facility"), Some(4));
    assert_eq!(int_at(&e, "severity"), Some(2));
    assert_eq!(
        str_at(&e, "facility_label").as_deref(),
        Some("security/authorization")
    );
    assert_eq!(str_at(&e, "severity_label").as_deref(), Some("Critical"));
    assert_eq!(str_at(&e, "logsource").as_deref(), Some("mymachine"));
    assert_eq!(str_at(&e, "program").as_deref(), Some("su"));
    assert_eq!(str_at(&e, "pid").as_deref(), Some("77"));
    assert_eq!(str_at(&e, "timestamp").as_deref(), Some("Oct 11 22:14:15"));
    assert_eq!(
        str_at(&e, "message").as_deref(),
        Some("'su root' failed for lonvick")
    );
    assert_eq!(str_at(&e, "host").as_deref(), Some("192.0.2.7"));
    assert_eq!(iso(&e), "2024-10-11T22:14:15.000Z");
    assert!(tags(&e).is_empty());
    assert!(get(&e, "[event][original]").is_none());
}

#[test]
fn rfc3164_ecs_fields() {
    let e = ecs("<34>Oct  1 22:14:15 mymachine su[77]: 'su root' failed");
    assert_eq!(int_at(&e, "[log][syslog][priority]"), Some(34));
    assert_eq!(int_at(&e, "[log][syslog][facility][code]"), Some(4));
    assert_eq!(int_at(&e, "[log][syslog][severity][code]"), Some(2));
    assert_eq!(
        str_at(&e, "[log][syslog][facility][name]").as_deref(),
        Some("security/authorization")
    );
    assert_eq!(
        str_at(&e, "[log][syslog][severity][name]").as_deref(),
        Some("Critical")
    );
    assert_eq!(str_at(&e, "[host][hostname]").as_deref(), Some("mymachine"));
    assert_eq!(str_at(&e, "[host][ip]").as_deref(), Some("192.0.2.7"));
    assert_eq!(str_at(&e, "[process][name]").as_deref(), Some("su"));
    assert_eq!(int_at(&e, "[process][pid]"), Some(77));
    assert_eq!(str_at(&e, "[service][type]").as_deref(), Some("system"));
    assert_eq!(
        str_at(&e, "[event][original]").as_deref(),
        Some("<34>Oct  1 22:14:15 mymachine su[77]: 'su root' failed")
    );
    assert_eq!(str_at(&e, "message").as_deref(), Some("'su root' failed"));
    assert!(
        get(&e, "timestamp").is_none(),
        "ECS removes timestamp once read"
    );
    assert!(get(&e, "priority").is_none() && get(&e, "logsource").is_none());
    assert_eq!(iso(&e), "2024-10-01T22:14:15.000Z");
}

#[test]
fn rfc3164_with_iso8601_timestamps() {
    // RSYSLOG_ForwardFormat: RFC 3339 with microseconds and offset.
    let e = legacy("<30>2024-03-01T12:00:00.123456+01:00 web-1 nginx[9]: GET /");
    assert_eq!(iso(&e), "2024-03-01T11:00:00.123Z");
    assert_eq!(
        str_at(&e, "timestamp8601").as_deref(),
        Some("2024-03-01T12:00:00.123456+01:00")
    );
    assert_eq!(
        str_at(&e, "timestamp").as_deref(),
        Some("2024-03-01T12:00:00.123456+01:00")
    );
    assert_eq!(str_at(&e, "logsource").as_deref(), Some("web-1"));
    assert_eq!(str_at(&e, "program").as_deref(), Some("nginx"));
    assert_eq!(str_at(&e, "message").as_deref(), Some("GET /"));
    // Without a host, and with the zone missing (read in `timezone`).
    let input = input(
        r#"timezone => "America/New_York""#,
        EcsCompatibility::Disabled,
    );
    let e = relay_line(
        input.relay(),
        "<30>2024-07-01T08:00:00 sshd[5]: hi",
        false,
        june_2024(),
    );
    assert_eq!(iso(&e), "2024-07-01T12:00:00.000Z");
    assert_eq!(str_at(&e, "logsource"), None);
    assert_eq!(str_at(&e, "program").as_deref(), Some("sshd"));
    assert_eq!(str_at(&e, "message").as_deref(), Some("hi"));
}

#[test]
fn bsd_timestamps_in_both_spacings_and_the_timezone_option() {
    let input = input(r#"timezone => "Europe/Paris""#, EcsCompatibility::Disabled);
    let relay = input.relay();
    for (line, expected) in [
        ("<13>Mar  1 12:00:00 h p: x", "2024-03-01T11:00:00.000Z"),
        ("<13>Jul 14 12:00:00 h p: x", "2024-07-14T10:00:00.000Z"),
        ("<13>Jul 14 12:00:00.250 h p: x", "2024-07-14T10:00:00.250Z"),
        (
            "<13>jul 14 2019 12:00:00 h p: x",
            "2019-07-14T10:00:00.000Z",
        ),
    ] {
        let e = relay_line(relay, line, false, june_2024());
        assert_eq!(iso(&e), expected, "{line}");
        assert_eq!(str_at(&e, "message").as_deref(), Some("x"), "{line}");
    }
}

#[test]
fn years_are_guessed_as_logstash_guesses_them() {
    let relay = input("", EcsCompatibility::Disabled);
    let january = Timestamp::from_secs(1_704_153_600); // 2024-01-02
    let e = relay_line(relay.relay(), "<13>Dec 31 23:59:00 h p: x", false, january);
    assert_eq!(iso(&e), "2023-12-31T23:59:00.000Z");
    let e = relay_line(relay.relay(), "<13>Feb  1 00:00:00 h p: x", false, january);
    assert_eq!(iso(&e), "2024-02-01T00:00:00.000Z");
}

#[test]
fn rfc5424_with_structured_data_nil_values_and_bom() {
    let line = "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog 1234 ID47 \
                [exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"]\
                [examplePriority@32473 class=\"high\"] \u{FEFF}An application event log entry...";
    let e = legacy(line);
    assert_eq!(int_at(&e, "priority"), Some(165));
    assert_eq!(str_at(&e, "facility_label").as_deref(), Some("local4"));
    assert_eq!(str_at(&e, "severity_label").as_deref(), Some("Notice"));
    assert_eq!(iso(&e), "2003-10-11T22:14:15.003Z");
    assert_eq!(
        str_at(&e, "logsource").as_deref(),
        Some("mymachine.example.com")
    );
    assert_eq!(str_at(&e, "program").as_deref(), Some("evntslog"));
    assert_eq!(str_at(&e, "pid").as_deref(), Some("1234"));
    assert_eq!(str_at(&e, "syslog5424_ver").as_deref(), Some("1"));
    assert_eq!(str_at(&e, "syslog5424_msgid").as_deref(), Some("ID47"));
    assert_eq!(
        str_at(&e, "syslog5424_sd").as_deref(),
        Some("[exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"][examplePriority@32473 class=\"high\"]")
    );
    assert_eq!(
        str_at(&e, "message").as_deref(),
        Some("An application event log entry...")
    );

    let e = ecs(line);
    assert_eq!(
        str_at(&e, "[host][hostname]").as_deref(),
        Some("mymachine.example.com")
    );
    assert_eq!(str_at(&e, "[process][name]").as_deref(), Some("evntslog"));
    assert_eq!(int_at(&e, "[process][pid]"), Some(1234));
    assert_eq!(str_at(&e, "[event][code]").as_deref(), Some("ID47"));
    assert_eq!(
        str_at(&e, "[system][syslog][version]").as_deref(),
        Some("1")
    );
    assert!(str_at(&e, "[system][syslog][structured_data]")
        .unwrap()
        .starts_with("[exampleSDID@32473 "));

    // Every header field NIL, no SD, no MSG; a non-numeric PROCID.
    let e = ecs("<14>1 - - - - - -");
    // An empty MSG leaves `message` as it was, as Logstash's grok leaves empty captures.
    assert_eq!(str_at(&e, "message").as_deref(), Some("<14>1 - - - - - -"));
    assert!(get(&e, "[host][hostname]").is_none() && get(&e, "[process]").is_none());
    assert_eq!(
        iso(&e),
        "1970-01-01T00:00:01.000Z",
        "no timestamp: the event keeps its own"
    );
    assert!(tags(&e).is_empty());
    let e = ecs("<14>1 2024-01-01T00:00:00Z h app worker-3 - - m");
    assert_eq!(
        str_at(&e, "[log][syslog][procid]").as_deref(),
        Some("worker-3")
    );
    assert!(get(&e, "[process][pid]").is_none());
}

#[test]
fn a_line_that_is_not_syslog_is_kept_and_tagged() {
    for (line, e) in [
        ("hello world", legacy("hello world")),
        ("hello world", ecs("hello world")),
    ] {
        assert_eq!(str_at(&e, "message").as_deref(), Some(line));
        assert_eq!(tags(&e), ["_grokparsefailure_sysloginput"]);
        assert_eq!(iso(&e), "1970-01-01T00:00:01.000Z");
    }
    let e = legacy("<13>not a timestamp");
    assert_eq!(int_at(&e, "priority"), Some(13));
    assert_eq!(str_at(&e, "severity_label").as_deref(), Some("Notice"));
    assert_eq!(str_at(&e, "facility_label").as_deref(), Some("user-level"));
    let e = ecs("garbage \u{1} \u{7f}");
    assert_eq!(
        str_at(&e, "[event][original]").as_deref(),
        Some("garbage \u{1} \u{7f}")
    );
    assert_eq!(int_at(&e, "[log][syslog][priority]"), Some(13));
}

#[test]
fn a_date_that_does_not_exist_is_tagged_as_the_date_filter_would() {
    let e = legacy("<13>Feb 30 10:00:00 h p: x");
    assert_eq!(tags(&e), ["_dateparsefailure"]);
    assert_eq!(str_at(&e, "logsource").as_deref(), Some("h"));
    assert_eq!(iso(&e), "1970-01-01T00:00:01.000Z");
}

#[test]
fn labels_options() {
    let no_labels = input("use_labels => false", EcsCompatibility::Disabled);
    let e = relay_line(
        no_labels.relay(),
        "<34>Oct 11 22:14:15 h p: x",
        false,
        june_2024(),
    );
    assert!(get(&e, "facility_label").is_none() && get(&e, "severity_label").is_none());
    assert_eq!(int_at(&e, "severity"), Some(2));

    let custom = input(
        r#"severity_labels => ["E","A","C","Er","W","N","I","D"] facility_labels => ["k", "u"]"#,
        EcsCompatibility::Disabled,
    );
    let e = relay_line(
        custom.relay(),
        "<14>Oct 11 22:14:15 h p: x",
        false,
        june_2024(),
    );
    assert_eq!(str_at(&e, "severity_label").as_deref(), Some("I"));
    assert_eq!(str_at(&e, "facility_label").as_deref(), Some("u"));
    // A facility past the labels gets none.
    let e = relay_line(
        custom.relay(),
        "<190>Oct 11 22:14:15 h p: x",
        false,
        june_2024(),
    );
    assert_eq!(
        (int_at(&e, "facility"), get(&e, "facility_label")),
        (Some(23), None)
    );
    assert_eq!(FACILITY_LABELS.len(), 24);
    assert_eq!(SEVERITY_LABELS[7], "Debug");
}

#[test]
fn syslog_field_and_service_type() {
    let input = input(
        r#"syslog_field => "raw" service_type => "network""#,
        EcsCompatibility::V1,
    );
    let mut e = Event::new(Timestamp::from_secs(1));
    e.set_field(Text::new("raw"), Value::from("<13>Feb  1 10:00:00 h p: hi"));
    input
        .relay()
        .apply(&mut e, &mut input.relay().state(june_2024()));
    assert_eq!(str_at(&e, "message").as_deref(), Some("hi"));
    assert_eq!(str_at(&e, "[service][type]").as_deref(), Some("network"));
    assert_eq!(
        str_at(&e, "[event][original]").as_deref(),
        Some("<13>Feb  1 10:00:00 h p: hi")
    );
}

#[test]
fn grok_pattern_runs_the_real_grok_and_date_filters() {
    let input = input(
        r#"grok_pattern => "<%{POSINT:priority}>%{SYSLOGTIMESTAMP:timestamp} %{WORD:device}: %{GREEDYDATA:message}""#,
        EcsCompatibility::Disabled,
    );
    let e = relay_line(
        input.relay(),
        "<187>Mar  1 12:00:00 fw01: port 3 down",
        false,
        june_2024(),
    );
    assert_eq!(str_at(&e, "device").as_deref(), Some("fw01"));
    assert_eq!(str_at(&e, "message").as_deref(), Some("port 3 down"));
    assert_eq!(int_at(&e, "priority"), Some(187));
    assert_eq!(str_at(&e, "severity_label").as_deref(), Some("Error"));
    assert!(iso(&e).ends_with("-03-01T12:00:00.000Z"), "{}", iso(&e));
    let e = relay_line(input.relay(), "no match", false, june_2024());
    assert_eq!(tags(&e), ["_grokparsefailure_sysloginput"]);
    assert_eq!(int_at(&e, "priority"), Some(13));
}

#[test]
fn bad_options_are_reported_where_they_are() {
    let errors = [
        (r#"timezone => "Mars/Olympus""#, "unknown time zone"),
        (r#"locale => "de-DE""#, "English month names"),
        (r#"grok_pattern => "%{NOSUCHPATTERN}""#, "grok_pattern"),
        (r#"use_label => true"#, "use_labels"),
        (r#"port => 70000"#, "port"),
        (r#"ssl_enabled => true"#, "ssl_certificate"),
        (
            r#"ssl_enabled => true ssl_client_authentication => "optional""#,
            "ssl_client_authentication: client certificates are verified against ssl_certificate_authorities",
        ),
        (
            r#"ssl_enabled => true ssl_cipher_suites => ["NOPE"]"#,
            "ssl_cipher_suites: unknown or unavailable",
        ),
        (r#"max_message_size => 0"#, "max_message_size"),
    ];
    for (options, expected) in errors {
        let error = try_input(options, EcsCompatibility::V8)
            .err()
            .unwrap_or_else(|| panic!("{options} built"));
        assert!(error.contains(expected), "{options}: {error}");
    }
    // A locale the hand parser does not read is fine once the date filter reads the dates.
    assert!(try_input(
        r#"locale => "de-DE" grok_pattern => "%{GREEDYDATA:message}""#,
        EcsCompatibility::V8
    )
    .is_ok());
    assert!(try_input(r#"locale => "en_US""#, EcsCompatibility::V8).is_ok());
}

// ---------------------------------------------------------------------------------------------
// rsyslog's parser test suite.
//
// Each case is a raw line and rsyslog's rendering of
// `%PRI%,%syslogfacility-text%,%syslogseverity-text%,%timestamp%,%hostname%,%programname%,%syslogtag%,%msg%`.
// The mapping to Logstash's fields (checked on the legacy names; the ECS names carry the same
// values):
//
// - PRI, facility, severity: `priority`, `facility`, `severity` codes (rsyslog's facility and
//   severity names are mapped to codes); the labels are Logstash's for those codes.
// - timestamp: `@timestamp`, read in UTC with the year guessed in June 2024 (or the year the
//   line gives), shown as rsyslog shows it: in the line's own UTC offset, as `Mmm dd hh:mm:ss`.
// - hostname: `logsource`; rsyslog's `~H` (no host in the line: rsyslog uses the sender's
//   name) is an absent `logsource` (the sender's address is in `host`).
// - programname / syslogtag / msg: rsyslog takes the first word after the host as the tag even
//   without a colon; Logstash's pattern only takes `PROG:` or `PROG[PID]:` followed by a space.
//   So: when rsyslog's tag ends in `:` and its msg starts with a space, `program` is
//   programname and `message` is msg without that space; otherwise there is no `program` and
//   `message` is tag followed by msg. For RFC 5424, `program[pid]` is the tag and `message`
//   is msg.
// - An empty message part: Logstash's grok does not write empty captures, so `message` stays
//   the whole line. A lone word after the timestamp (rsyslog's host, with no tag or msg) is
//   the message for Logstash's pattern, and there is no `logsource`.
// - Control characters: rsyslog shows them escaped (`#011`); the inputs of the snare cases
//   write them C-style (`\011`), and one ends in a stray `\` that rsyslog's output does not
//   show. Both are decoded before comparing.
// ---------------------------------------------------------------------------------------------

/// One `.parse1` case.
struct Case {
    file: String,
    input: String,
    expected: String,
}

fn parse1_cases() -> Vec<Case> {
    let mut files: Vec<_> = std::fs::read_dir(TESTSUITES)
        .expect("rsyslog test suites (../shared/corpus)")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "parse1"))
        .collect();
    files.sort();
    let mut cases = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(
            lines.len() % 2,
            0,
            "{} has an input without expectation",
            path.display()
        );
        for pair in lines.chunks(2) {
            cases.push(Case {
                file: path.file_name().unwrap().to_string_lossy().into_owned(),
                input: pair[0].to_string(),
                expected: pair[1].to_string(),
            });
        }
    }
    cases
}

/// `\ooo` escapes as bytes; a trailing lone `\` dropped (see the notes above).
fn decode_input(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else if b[i] == b'\\' && i + 1 == b.len() {
            i += 1;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// rsyslog's `#ooo` control-character escapes as the characters.
fn decode_expected(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let escape = b[i] == b'#'
            && i + 3 < b.len()
            && b[i + 1] == b'0'
            && b[i + 2..i + 4].iter().all(|c| (b'0'..=b'7').contains(c));
        if escape {
            out.push((b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// rsyslog's expectation, split (programname and tag may hold commas: the split taken is the
/// first where the tag starts with the program name).
struct Expected {
    pri: i64,
    facility: String,
    severity: String,
    timestamp: String,
    hostname: String,
    program: String,
    tag: String,
    msg: String,
}

fn split_expected(line: &str) -> Expected {
    let mut head = line.splitn(6, ',');
    let mut next = || head.next().unwrap().to_string();
    let (pri, facility, severity, timestamp, hostname) = (next(), next(), next(), next(), next());
    let rest = next();
    let commas: Vec<usize> = rest.match_indices(',').map(|(i, _)| i).collect();
    for (a, &i) in commas.iter().enumerate() {
        for &j in &commas[a + 1..] {
            let (program, tag) = (&rest[..i], &rest[i + 1..j]);
            if tag.starts_with(program) {
                return Expected {
                    pri: pri.parse().unwrap(),
                    facility,
                    severity,
                    timestamp,
                    hostname,
                    program: program.to_string(),
                    tag: tag.to_string(),
                    msg: rest[j + 1..].to_string(),
                };
            }
        }
    }
    panic!("cannot split {line:?}");
}

fn rsyslog_facility(name: &str) -> i64 {
    let names = [
        "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron",
        "authpriv", "ftp", "ntp", "audit", "alert", "clock", "local0", "local1", "local2",
        "local3", "local4", "local5", "local6", "local7",
    ];
    names
        .iter()
        .position(|n| *n == name)
        .unwrap_or_else(|| panic!("facility {name}")) as i64
}

fn rsyslog_severity(name: &str) -> i64 {
    let names = [
        "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
    ];
    names
        .iter()
        .position(|n| *n == name)
        .unwrap_or_else(|| panic!("severity {name}")) as i64
}

/// `Mmm dd hh:mm:ss` of `@timestamp` in the offset the line's timestamp text names.
fn rsyslog_time(e: &Event) -> String {
    let raw = str_at(e, "timestamp").unwrap_or_default();
    let offset = raw
        .rfind(['+', '-'])
        .filter(|&i| i > 10)
        .map(|i| {
            let sign = if &raw[i..=i] == "-" { -1 } else { 1 };
            let digits: String = raw[i + 1..].chars().filter(char::is_ascii_digit).collect();
            sign * (digits[..2].parse::<i64>().unwrap() * 3600
                + digits[2..4].parse::<i64>().unwrap() * 60)
        })
        .unwrap_or(0);
    let ts = e.timestamp().unwrap().checked_add_secs(offset).unwrap();
    let (_, month, day, h, m, s, _) = ts.civil();
    let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{} {day:>2} {h:02}:{m:02}:{s:02}",
        months[month as usize - 1]
    )
}

/// Checks one case; `Err` says what differs.
fn check_case(relay: &Relay, case: &Case) -> Result<(), String> {
    let input = decode_input(&case.input);
    let want = split_expected(&decode_expected(&case.expected));
    let e = relay_line(relay, &input, false, june_2024());
    let mut problems = Vec::new();
    let mut check = |what: &str, got: String, expected: String| {
        if got != expected {
            problems.push(format!("{what}: got {got:?}, rsyslog {expected:?}"));
        }
    };
    check("tags", format!("{:?}", tags(&e)), "[]".into());
    check(
        "priority",
        format!("{:?}", int_at(&e, "priority")),
        format!("{:?}", Some(want.pri)),
    );
    let facility = rsyslog_facility(&want.facility);
    let severity = rsyslog_severity(&want.severity);
    check(
        "facility",
        format!("{:?}", int_at(&e, "facility")),
        format!("{:?}", Some(facility)),
    );
    check(
        "severity",
        format!("{:?}", int_at(&e, "severity")),
        format!("{:?}", Some(severity)),
    );
    check(
        "labels",
        format!(
            "{:?}",
            (str_at(&e, "facility_label"), str_at(&e, "severity_label"))
        ),
        format!(
            "{:?}",
            (
                Some(FACILITY_LABELS[facility as usize].to_string()),
                Some(SEVERITY_LABELS[severity as usize].to_string())
            )
        ),
    );
    if e.timestamp() != Some(Timestamp::from_secs(1)) {
        check("timestamp", rsyslog_time(&e), want.timestamp.clone());
    } else {
        check("@timestamp", "not parsed".into(), want.timestamp.clone());
    }
    // Logstash reads a lone last word after the timestamp as the message, rsyslog as the host.
    let lone_host = want.tag.is_empty() && want.msg.is_empty() && input.ends_with(&want.hostname);
    let host = (want.hostname != "~H" && !lone_host).then(|| want.hostname.clone());
    check(
        "logsource",
        format!("{:?}", str_at(&e, "logsource")),
        format!("{host:?}"),
    );
    let (want_program, want_message) = if is_rfc5424(&input) {
        (want.tag.clone(), want.msg.clone())
    } else if want.tag.ends_with(':') && want.msg.starts_with(' ') {
        (want.program.clone(), want.msg[1..].to_string())
    } else {
        (String::new(), format!("{}{}", want.tag, want.msg))
    };
    let want_message = match want_message {
        _ if lone_host => want.hostname.clone(),
        // Logstash's grok writes no empty capture: `message` stays the line.
        m if m.is_empty() => input.clone(),
        m => m,
    };
    let got_program = match (str_at(&e, "program"), str_at(&e, "pid")) {
        (Some(p), Some(pid)) if is_rfc5424(&input) => format!("{p}[{pid}]"),
        (p, _) => p.unwrap_or_default(),
    };
    check("program", got_program, want_program);
    check(
        "message",
        str_at(&e, "message").unwrap_or_default(),
        want_message,
    );
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

/// `<PRI>VERSION SP`: RFC 5424.
fn is_rfc5424(line: &str) -> bool {
    let after = line.find('>').map_or("", |i| &line[i + 1..]);
    after.starts_with(|c: char| ('1'..='9').contains(&c)) && after[1..].starts_with(' ')
}

#[test]
fn rsyslog_parse1_suite() {
    let cases = parse1_cases();
    let input = input(r#"timezone => "UTC""#, EcsCompatibility::Disabled);
    let mut passed = 0;
    let mut failures = Vec::new();
    for case in &cases {
        match check_case(input.relay(), case) {
            Ok(()) => passed += 1,
            Err(why) => failures.push(format!("{}: {:?}\n    {why}", case.file, case.input)),
        }
    }
    println!("rsyslog parse1 cases: {} total, {passed} pass", cases.len());
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    assert_eq!(passed, 49, "every case of the 23 .parse1 files");
}

#[test]
fn fuzz_corpus_and_odd_bytes_never_panic() {
    let relay_input = input("", EcsCompatibility::V8);
    let mut lines: Vec<String> = std::fs::read_dir(FUZZ_CORPUS)
        .expect("fuzz corpus")
        .map(|e| String::from_utf8_lossy(&std::fs::read(e.unwrap().path()).unwrap()).into_owned())
        .collect();
    assert_eq!(lines.len(), 7);
    // Every prefix of every sample, and some hostile shapes.
    let samples = lines.clone();
    for sample in &samples {
        for (i, _) in sample.char_indices() {
            lines.push(sample[..i].to_string());
        }
    }
    lines.extend(
        [
            "<",
            "<>",
            "<999999999999>",
            "<13>1",
            "<13>1 ",
            "<13>99999 x",
            "<13>Feb",
            "<13>Feb 99 99:99:99 h p: x",
        ]
        .map(String::from),
    );
    for line in &lines {
        let e = relay_line(relay_input.relay(), line, true, june_2024());
        assert!(
            e.get_field("message").is_some(),
            "{line:?} lost its message"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Agreement with Logstash's own pattern: the same lines through the real grok and date filters
// (a `grok_pattern` equivalent to the default one forces that path). Where Logstash's pattern
// matches and its date filter reads the timestamp, the hand parser must give the same fields.
// Lines Logstash rejects may parse here (see the parser's docs): they are counted, not compared.
// ---------------------------------------------------------------------------------------------

fn corpus_lines() -> Vec<String> {
    let mut lines: Vec<String> = parse1_cases()
        .iter()
        .map(|c| decode_input(&c.input))
        .collect();
    let mut filebeat = Vec::new();
    collect_files(Path::new(FILEBEAT), &mut filebeat);
    for (n, path) in filebeat.iter().enumerate() {
        let text = String::from_utf8_lossy(&std::fs::read(path).unwrap()).into_owned();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            lines.push(format!("<{}>{line}", 8 + n * 17 % 180));
        }
    }
    lines.extend(
        [
            "<13>Feb  5 17:32:18 10.0.0.99 Use the BFG!",
            "<13>Feb  5 17:32:18 host.example.com. prog: trailing dot",
            "<13>Feb  5 17:32:18 fe80::1 prog[1]: ipv6 host",
            "<13>Feb  5 17:32:18 host a:b:c: colons in the tag",
            "<13>Feb  5 17:32:18 host prog:  two spaces",
            "<13>Feb  5 17:32:18 host  prog: two spaces before",
            "<13>Feb  5 17:32:18 host prog:no space",
            "<13>Feb  5 17:32:18 host prog[12]:x",
            "<13>2019-06-14 10:40:20 localhost sudo: space separated ISO",
            "<13>2019-06-14T10:40:20+0200 localhost sudo: offset without colon",
        ]
        .map(String::from),
    );
    lines
}

fn collect_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect_files(&path, out);
        } else if path.extension().is_some_and(|x| x == "log") {
            out.push(path);
        }
    }
}

/// The fields both paths write, as text for comparison.
fn comparable(e: &Event, ecs: bool) -> Vec<(String, Option<String>)> {
    let fields: &[&str] = if ecs {
        &[
            "[log][syslog][priority]",
            "[log][syslog][facility][code]",
            "[log][syslog][severity][name]",
            "[host][hostname]",
            "[process][name]",
            "[process][pid]",
            "message",
            "timestamp",
            "[event][original]",
            "[service][type]",
        ]
    } else {
        &[
            "priority",
            "facility",
            "severity_label",
            "logsource",
            "program",
            "pid",
            "message",
            "timestamp",
            "timestamp8601",
        ]
    };
    let mut out: Vec<_> = fields
        .iter()
        .map(|f| {
            (
                f.to_string(),
                get(e, f).map(|v| format!("{v:?}").replace("Str(", "").replace("Int(", "")),
            )
        })
        .collect();
    out.push(("@timestamp".into(), e.timestamp().map(|t| format!("{t:?}"))));
    out.push(("tags".into(), Some(format!("{:?}", tags(e)))));
    out
}

fn agreement(ecs_mode: EcsCompatibility) -> (usize, usize) {
    let ecs = ecs_mode.is_ecs();
    let pattern = if ecs {
        "(?:<%{POSINT:[log][syslog][priority]:int}>%{SYSLOGLINE})"
    } else {
        "(?:<%{POSINT:priority}>%{SYSLOGLINE})"
    };
    let grok = input(
        &format!("grok_pattern => \"{pattern}\" timezone => \"UTC\""),
        ecs_mode,
    );
    let hand = input(r#"timezone => "UTC""#, ecs_mode);
    let now = Timestamp::now();
    let (mut compared, mut only_here, mut deliberate) = (0, 0, 0);
    let mut differences = Vec::new();
    for line in corpus_lines() {
        let by_grok = relay_line(grok.relay(), &line, ecs, now);
        let by_hand = relay_line(hand.relay(), &line, ecs, now);
        if !tags(&by_grok).is_empty() {
            only_here += usize::from(tags(&by_hand).is_empty());
            continue;
        }
        compared += 1;
        let host_field = if ecs { "[host][hostname]" } else { "logsource" };
        let underscore_host = str_at(&by_hand, host_field).is_some_and(|h| h.contains('_'));
        if comparable(&by_grok, ecs) != comparable(&by_hand, ecs) && underscore_host {
            // Deliberate: hosts with `_` are not hostnames to grok's HOSTNAME, so Logstash's
            // ECS pattern makes host, program and message all one message; here (as in
            // rsyslog) they are a host, a program and a message.
            deliberate += 1;
            continue;
        }
        if comparable(&by_grok, ecs) != comparable(&by_hand, ecs) {
            differences.push(format!(
                "{line:?}\n  grok: {:?}\n  hand: {:?}",
                comparable(&by_grok, ecs),
                comparable(&by_hand, ecs)
            ));
        }
    }
    assert!(
        differences.is_empty(),
        "{} lines differ:\n{}",
        differences.len(),
        differences.join("\n")
    );
    println!("{deliberate} lines differ deliberately (hosts with `_`)");
    (compared - deliberate, only_here)
}

#[test]
fn hand_parser_agrees_with_logstash_pattern_legacy() {
    let (compared, only_here) = agreement(EcsCompatibility::Disabled);
    println!("legacy: {compared} lines compared, {only_here} parsed only by the hand parser");
    assert!(compared >= 40, "{compared}");
}

#[test]
fn hand_parser_agrees_with_logstash_pattern_ecs() {
    let (compared, only_here) = agreement(EcsCompatibility::V8);
    println!("ecs: {compared} lines compared, {only_here} parsed only by the hand parser");
    assert!(compared >= 40, "{compared}");
}
