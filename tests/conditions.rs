//! Conditionals end to end: config text -> parser -> plan -> evaluation against events, with
//! Logstash's semantics for every operator, precedence, type mismatches, missing, nested and
//! metadata fields.

mod common;

use sluice::event::json::parse_value;
use sluice::event::{Event, FieldPath, Timestamp, Value};
use sluice::plan::{Condition, FilterGraph, FilterNode};

/// Counts heap allocations made by the current thread, to check that evaluating a condition
/// allocates nothing.
mod counting {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;

    pub struct Counting;

    thread_local! {
        static COUNT: Cell<usize> = const { Cell::new(0) };
    }

    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            let _ = COUNT.try_with(|c| c.set(c.get() + 1));
            System.alloc(layout)
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            System.dealloc(ptr, layout)
        }
        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, size: usize) -> *mut u8 {
            let _ = COUNT.try_with(|c| c.set(c.get() + 1));
            System.realloc(ptr, layout, size)
        }
    }

    pub fn allocations() -> usize {
        COUNT.with(Cell::get)
    }
}

#[global_allocator]
static ALLOCATOR: counting::Counting = counting::Counting;

fn env(name: &str) -> Option<String> {
    (name == "WANTED").then(|| "nginx".to_string())
}

/// The filter graph of `filter { if COND { mutate { add_tag => ["hit"] } } }`.
fn graph(cond: &str) -> FilterGraph {
    let text = format!("filter {{ if {cond} {{ mutate {{ add_tag => [\"hit\"] }} }} }}");
    common::plan_of(&text, &env).filters
}

/// The rendered diagnostics for a condition that must not build.
fn build_error(cond: &str) -> String {
    common::build_error(&format!("filter {{ if {cond} {{ drop {{}} }} }}"), &env)
}

fn event(json: &str) -> Event {
    match parse_value(json.as_bytes()).expect("valid JSON") {
        Value::Map(fields) => Event::from_fields(fields, Timestamp::from_secs(0)),
        other => panic!("not an object: {other:?}"),
    }
}

fn sample() -> Event {
    let mut e = event(
        r#"{
            "message": "GET /index.html HTTP/1.1",
            "status": 404,
            "bytes": 1024.5,
            "code": "404",
            "type": "nginx",
            "empty": "",
            "no": "false",
            "zero": 0,
            "nothing": null,
            "tags": ["web", "prod"],
            "list": [],
            "request": {"verb": "GET", "headers": {"host": "example.com"}},
            "ids": [1, 2, 3]
        }"#,
    );
    e.insert(
        &FieldPath::parse("[@metadata][route]").unwrap(),
        "fast".into(),
    );
    e
}

fn holds_for(cond: &str, e: Event) -> bool {
    let mut batch = vec![e];
    graph(cond).process(&mut batch);
    batch[0].has_tag("hit")
}

fn holds(cond: &str) -> bool {
    holds_for(cond, sample())
}

#[track_caller]
fn check_all(cases: &[(&str, bool)]) {
    for (cond, expected) in cases {
        assert_eq!(holds(cond), *expected, "if {cond}");
    }
}

#[test]
fn equality() {
    check_all(&[
        (r#"[type] == "nginx""#, true),
        (r#"[type] != "nginx""#, false),
        (r#""nginx" == [type]"#, true),
        ("[status] == 404", true),
        ("[status] == 404.0", true),
        ("[status] != 404", false),
        ("[bytes] == 1024.5", true),
        // A string is never equal to a number.
        ("[code] == 404", false),
        ("[code] != 404", true),
        (r#"[status] == "404""#, false),
        (r#"[request][verb] == "GET""#, true),
        (r#"[request][headers][host] == "example.com""#, true),
        // Fields compared with fields, deeply.
        ("[type] == [type]", true),
        ("[request] == [request]", true),
        ("[tags] == [tags]", true),
        ("[tags] == [ids]", false),
        (r#"[tags] == ["web", "prod"]"#, true),
        ("[ids] == [1, 2, 3]", true),
        ("[ids] == [1, 2.0, 3]", true),
    ]);
}

#[test]
fn ordering() {
    check_all(&[
        ("[status] >= 400", true),
        ("[status] > 404", false),
        ("[status] < 500", true),
        ("[status] <= 404", true),
        ("[bytes] > 1024", true),
        ("[bytes] < 1024.25", false),
        ("500 > [status]", true),
        (r#"[type] > "apache""#, true),
        (r#"[type] < "apache""#, false),
        (r#"[code] >= "4""#, true),
        (r#""abc" < "abd""#, true),
    ]);
}

#[test]
fn comparing_a_number_with_a_string_is_false_and_counted_once_per_evaluation() {
    let g = graph("[code] > 100");
    let mut batch = vec![sample(), sample(), sample()];
    g.process(&mut batch);
    assert!(batch.iter().all(|e| !e.has_tag("hit")));
    let FilterNode::Branch(branch) = &g.nodes[0] else {
        panic!("expected a branch");
    };
    assert_eq!(branch.arms[0].0.error_count(), 3);

    // The error makes the whole condition false, even under a negation or an `or`.
    check_all(&[
        ("!([code] > 100)", false),
        ("[code] > 100 or [status] == 404", false),
        (r#"[status] < "500""#, false),
        (r#"[status] >= "500""#, false),
    ]);
}

#[test]
fn missing_and_null_fields() {
    check_all(&[
        (r#"[missing] == "x""#, false),
        (r#"[missing] != "x""#, true),
        ("[missing] == [also_missing]", true),
        ("[missing] == [nothing]", true),
        ("[missing] > 1", false),
        ("[missing] < 1", false),
        ("[missing]", false),
        ("![missing]", true),
        ("[nothing]", false),
        ("[request][nope][deeper]", false),
        (r#""x" in [missing]"#, false),
        (r#""x" not in [missing]"#, true),
        (r#"[missing] in ["a", "b"]"#, false),
        ("[missing] =~ /.*/", false),
        ("[missing] !~ /.*/", true),
    ]);
}

#[test]
fn truthiness() {
    check_all(&[
        ("[message]", true),
        ("[status]", true),
        ("[zero]", true),
        ("[empty]", false),
        ("[no]", false),
        ("[tags]", true),
        ("[list]", false),
        ("[request]", true),
        ("[request][verb]", true),
        ("![empty]", true),
        ("!([empty])", true),
    ]);
}

#[test]
fn membership() {
    check_all(&[
        (r#""web" in [tags]"#, true),
        (r#""dev" in [tags]"#, false),
        (r#""dev" not in [tags]"#, true),
        (r#""web" not in [tags]"#, false),
        ("2 in [ids]", true),
        ("2.0 in [ids]", true),
        ("7 in [ids]", false),
        // A string haystack means substring.
        (r#""index" in [message]"#, true),
        (r#""HTTP/2" in [message]"#, false),
        (r#"[type] in "nginx-access""#, true),
        (r#"[request][verb] in ["GET", "HEAD"]"#, true),
        (r#"[request][verb] not in ["POST", "PUT"]"#, true),
        (r#"[status] in [200, 404]"#, true),
        (r#"[code] in [200, 404]"#, false),
        // A hash haystack means its keys.
        (r#""verb" in [request]"#, true),
    ]);
}

#[test]
fn regex_matching() {
    check_all(&[
        (r#"[message] =~ /^GET /"#, true),
        (r#"[message] =~ /^POST /"#, false),
        (r#"[message] !~ /^POST /"#, true),
        (r#"[message] !~ /index/"#, false),
        (r#"[message] =~ "HTTP/1\.1$""#, true),
        (r#"[message] =~ /\/index\.html/"#, true),
        // Numbers are matched in their text form.
        (r#"[status] =~ /^4\d\d$/"#, true),
        (r#"[bytes] =~ /^1024\.5$/"#, true),
        (r#"[request][headers][host] =~ /\.com$/"#, true),
    ]);
}

#[test]
fn boolean_operators_and_precedence() {
    check_all(&[
        ("[status] == 404 and [type] == \"nginx\"", true),
        ("[status] == 404 and [type] == \"apache\"", false),
        ("[status] == 200 or [type] == \"nginx\"", true),
        ("[status] == 200 or [type] == \"apache\"", false),
        ("([status] == 404) xor ([type] == \"nginx\")", false),
        ("([status] == 404) xor ([type] == \"apache\")", true),
        ("([status] == 404) nand ([type] == \"nginx\")", false),
        ("([status] == 404) nand ([type] == \"apache\")", true),
        // `and` binds tighter than `or`: true or (false and false).
        (
            "[status] == 404 or [type] == \"apache\" and [missing]",
            true,
        ),
        // (false and true) or true
        ("[missing] and [status] or [type]", true),
        // false or (true and false)
        ("[missing] or [status] and [empty]", false),
        ("([missing] or [status]) and [type]", true),
        ("!([status] == 404 and [missing])", true),
        ("!([status] == 404) or [missing]", false),
        ("!(![type])", true),
    ]);
}

#[test]
fn metadata_fields() {
    check_all(&[
        (r#"[@metadata][route] == "fast""#, true),
        ("[@metadata][route]", true),
        ("[@metadata][other]", false),
        ("[route]", false),
    ]);
}

#[test]
fn environment_variables_in_string_literals() {
    check_all(&[
        (r#"[type] == "${WANTED}""#, true),
        (r#"[type] == "${UNSET:apache}""#, false),
    ]);
}

#[test]
fn else_if_chains_take_the_first_true_arm_and_keep_the_event_order() {
    let text = r#"filter {
        if [status] >= 500 { mutate { add_tag => ["5xx"] } }
        else if [status] >= 400 { mutate { add_tag => ["4xx"] } }
        else if [status] >= 300 { mutate { add_tag => ["3xx"] } }
        else { mutate { add_tag => ["ok"] } }
    }"#;
    let graph = common::plan_of(text, &env).filters;
    let mut batch: Vec<Event> = [503, 404, 301, 200, 450]
        .iter()
        .map(|s| event(&format!(r#"{{"status": {s}}}"#)))
        .collect();
    graph.process(&mut batch);
    let tagged: Vec<(i64, &str)> = batch
        .iter()
        .map(|e| {
            let status = match e.get_field("status") {
                Some(Value::Int(n)) => *n,
                _ => -1,
            };
            let tags = e.get_field("tags").and_then(|t| t.as_array()).unwrap();
            (status, tags[0].as_str().unwrap())
        })
        .collect();
    assert_eq!(
        tagged,
        [
            (503, "5xx"),
            (404, "4xx"),
            (301, "3xx"),
            (200, "ok"),
            (450, "4xx")
        ]
    );
}

#[test]
fn bad_operands_are_reported_where_they_are() {
    let out = build_error("[message] =~ /(unclosed/");
    assert!(out.contains("invalid regex"), "{out}");
    assert!(out.contains("test.conf:1:26"), "{out}");
    let out = build_error(r#"[a] == "${NOT_SET}""#);
    assert!(out.contains("NOT_SET"), "{out}");
    assert!(out.contains("test.conf:1:20"), "{out}");
}

#[test]
fn operators_on_literal_operands() {
    check_all(&[
        (r#""abc" =~ /b/"#, true),
        (r#""a" in ["a", "b"]"#, true),
        ("1 == 1.0", true),
        (r#""true""#, true),
    ]);
}

/// The compiled condition of `filter { if COND {} }`.
fn condition(cond: &str) -> Condition {
    match graph(cond).nodes.into_iter().next() {
        Some(FilterNode::Branch(mut branch)) => branch.arms.remove(0).0,
        _ => panic!("expected a branch"),
    }
}

#[test]
fn evaluation_does_not_allocate() {
    let conditions: Vec<(Condition, bool)> = [
        (r#"[type] == "nginx" and [status] >= 400"#, true),
        (r#"[request][verb] in ["GET", "HEAD"]"#, true),
        (r#""web" in [tags] or "x" in [message]"#, true),
        ("[status] =~ /^4/", true),
        (r#"[bytes] =~ /\.5$/"#, true),
        (r#"404 in [message]"#, false),
        ("[request] == [request] and ![missing]", true),
        ("[missing] !~ /x/", true),
        ("[code] > 100", false),
    ]
    .into_iter()
    .map(|(c, expected)| (condition(c), expected))
    .collect();
    let e = sample();
    // Warm up: the regex engine makes its per-thread cache, and the once-per-condition
    // type-error warning is logged, on first use.
    for (c, _) in &conditions {
        c.eval(&e);
    }
    let before = counting::allocations();
    for _ in 0..10 {
        for (c, expected) in &conditions {
            assert_eq!(c.eval(&e), *expected, "{}", c.text());
        }
    }
    assert_eq!(counting::allocations() - before, 0);
}
