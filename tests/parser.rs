//! The LSCL parser: every grammar rule, spans, error positions and messages (snapshots in
//! `tests/parse_errors/`), a realistic pipeline parsed to a checked tree, and robustness against
//! arbitrary input.
//!
//! Trees are compared through a compact S-expression rendering (`show_*`), which keeps the
//! expected values readable; spans are checked separately by slicing the source.

use sluice::config::ast::{Config, Expr, Number, Plugin, RValue, SectionKind, Statement, Value};
use sluice::config::{parse, Diagnostics, ParseOptions, SourceMap, Span};
use std::fmt::Write as _;
use std::path::Path;

// ---------------------------------------------------------------------------------------------
// Helpers

fn parse_with(text: &str, support_escapes: bool) -> Result<Config, (SourceMap, Diagnostics)> {
    let sources = SourceMap::single("test.conf", text);
    parse(&sources, ParseOptions { support_escapes }).map_err(|d| (sources, d))
}

/// Parses `text`, failing the test with the rendered errors if it does not parse.
fn ok(text: &str) -> Config {
    match parse_with(text, false) {
        Ok(config) => config,
        Err((sources, diags)) => panic!("unexpected errors:\n{}", diags.render(&sources)),
    }
}

/// The rendered errors for `text`, which must not parse.
fn errors(text: &str) -> String {
    match parse_with(text, false) {
        Ok(config) => panic!("expected errors, parsed: {config:?}"),
        Err((sources, diags)) => diags.render(&sources),
    }
}

/// The first line of each error: `test.conf:L:C: message`.
fn error_lines(text: &str) -> Vec<String> {
    errors(text)
        .lines()
        .filter(|l| l.starts_with("test.conf:"))
        .map(str::to_string)
        .collect()
}

/// The single plugin of `filter { <plugin> }`.
fn only_plugin(config: &Config) -> &Plugin {
    match config.sections[0].body.as_slice() {
        [Statement::Plugin(p)] => p,
        other => panic!("expected one plugin, got {other:?}"),
    }
}

/// The value of attribute `v` in `filter { p { v => <text> } }`, rendered.
fn value(text: &str) -> String {
    value_with(text, false)
}

fn value_with(text: &str, support_escapes: bool) -> String {
    let config = match parse_with(
        &format!("filter {{ p {{ v => {text} }} }}"),
        support_escapes,
    ) {
        Ok(c) => c,
        Err((s, d)) => panic!("{}", d.render(&s)),
    };
    show_value(&only_plugin(&config).attributes[0].value.node)
}

/// The condition of `filter { if <text> { } }`, rendered.
fn cond(text: &str) -> String {
    let config = ok(&format!("filter {{ if {text} {{ }} }}"));
    match &config.sections[0].body[0] {
        Statement::If(chain) => show_expr(&chain.branches[0].condition.node),
        other => panic!("expected an if, got {other:?}"),
    }
}

fn show_number(n: &Number) -> String {
    match n {
        Number::Int(i) => i.to_string(),
        Number::Float(f) => format!("{f:?}"),
    }
}

fn show_value(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        Value::Number(n) => show_number(n),
        Value::Bareword(w) => w.clone(),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(|i| show_value(&i.node)).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Hash(entries) => {
            let entries: Vec<String> = entries
                .iter()
                .map(|e| format!("{:?} => {}", e.key.node, show_value(&e.value.node)))
                .collect();
            format!("{{{}}}", entries.join(" "))
        }
        Value::Plugin(p) => show_plugin(p),
    }
}

fn show_plugin(p: &Plugin) -> String {
    let attrs: Vec<String> = p
        .attributes
        .iter()
        .map(|a| format!("{} => {}", a.name.node, show_value(&a.value.node)))
        .collect();
    format!("{} {{{}}}", p.name.node, attrs.join(" "))
}

fn show_rvalue(v: &RValue) -> String {
    match v {
        RValue::String(s) => format!("{s:?}"),
        RValue::Number(n) => show_number(n),
        RValue::Selector(s) => s.clone(),
        RValue::Array(items) => {
            let items: Vec<String> = items.iter().map(|i| show_rvalue(&i.node)).collect();
            format!("[{}]", items.join(", "))
        }
        RValue::Regex(r) => format!("/{r}/"),
    }
}

fn show_expr(e: &Expr) -> String {
    match e {
        Expr::Bool { op, lhs, rhs } => {
            let op = op.as_str();
            format!("({op} {} {})", show_expr(&lhs.node), show_expr(&rhs.node))
        }
        Expr::Not(inner) => format!("(! {})", show_expr(&inner.node)),
        Expr::Compare { op, lhs, rhs } => {
            let op = op.as_str();
            format!(
                "({op} {} {})",
                show_rvalue(&lhs.node),
                show_rvalue(&rhs.node)
            )
        }
        Expr::Match {
            negated,
            lhs,
            pattern,
        } => format!(
            "({} {} {})",
            if *negated { "!~" } else { "=~" },
            show_rvalue(&lhs.node),
            show_rvalue(&pattern.node)
        ),
        Expr::In {
            negated,
            needle,
            haystack,
        } => format!(
            "({} {} {})",
            if *negated { "not-in" } else { "in" },
            show_rvalue(&needle.node),
            show_rvalue(&haystack.node)
        ),
        Expr::Value(v) => show_rvalue(&v.node),
    }
}

/// A whole config as indented S-expressions, one statement per line.
fn show_config(config: &Config) -> String {
    let mut out = String::new();
    for section in &config.sections {
        let _ = writeln!(out, "{}", section.kind.as_str());
        show_statements(&section.body, 1, &mut out);
    }
    out
}

fn show_statements(body: &[Statement], depth: usize, out: &mut String) {
    let pad = "  ".repeat(depth);
    for statement in body {
        match statement {
            Statement::Plugin(p) => {
                let _ = writeln!(out, "{pad}{}", show_plugin(p));
            }
            Statement::If(chain) => {
                for (i, branch) in chain.branches.iter().enumerate() {
                    let kw = if i == 0 { "if" } else { "else if" };
                    let _ = writeln!(out, "{pad}{kw} {}", show_expr(&branch.condition.node));
                    show_statements(&branch.body, depth + 1, out);
                }
                if let Some(otherwise) = &chain.otherwise {
                    let _ = writeln!(out, "{pad}else");
                    show_statements(otherwise, depth + 1, out);
                }
            }
        }
    }
}

/// The text `span` covers in `text` (as parsed by `SourceMap::single`).
fn slice(text: &str, span: Span) -> &str {
    &text[span.start as usize..span.end as usize]
}

// ---------------------------------------------------------------------------------------------
// Sections, plugins, attributes

#[test]
fn an_empty_config_has_no_sections() {
    assert!(ok("").sections.is_empty());
    assert!(ok("  # only a comment\n\n").sections.is_empty());
}

#[test]
fn sections_come_in_any_order_and_may_repeat() {
    let config = ok("output { a {} }\nfilter {}\ninput { b {} }\nfilter { c {} }");
    let kinds: Vec<SectionKind> = config.sections.iter().map(|s| s.kind).collect();
    assert_eq!(
        kinds,
        [
            SectionKind::Output,
            SectionKind::Filter,
            SectionKind::Input,
            SectionKind::Filter
        ]
    );
    assert!(config.sections[1].body.is_empty());
    assert_eq!(config.sections[3].body.len(), 1);
}

#[test]
fn plugins_keep_their_attributes_in_order_with_repeats() {
    let config = ok("filter { mutate { add_tag => a1 remove_tag => b2 add_tag => c3 } }");
    assert_eq!(
        show_plugin(only_plugin(&config)),
        "mutate {add_tag => a1 remove_tag => b2 add_tag => c3}"
    );
}

#[test]
fn empty_plugins_and_plugins_spanning_lines_parse() {
    let config = ok("input {\n  stdin {}\n  generator {\n  }\n  tcp{port=>5000}\n}");
    let shown = show_config(&config);
    assert_eq!(
        shown,
        "input\n  stdin {}\n  generator {}\n  tcp {port => 5000}\n"
    );
}

#[test]
fn plugin_and_attribute_names_may_be_quoted() {
    let config = ok(r#"filter { "my-plugin" { "add field" => 1 'x-y' => 2 } }"#);
    let plugin = only_plugin(&config);
    assert_eq!(plugin.name.node, "my-plugin");
    assert_eq!(plugin.attributes[0].name.node, "add field");
    assert_eq!(plugin.attributes[1].name.node, "x-y");
}

#[test]
fn plugin_names_allow_digits_dashes_and_underscores() {
    let config = ok("output { web-hdfs_2 { } 3rd {} }");
    let names: Vec<&str> = config.sections[0]
        .body
        .iter()
        .map(|s| match s {
            Statement::Plugin(p) => p.name.node.as_str(),
            Statement::If(_) => "if",
        })
        .collect();
    assert_eq!(names, ["web-hdfs_2", "3rd"]);
}

// ---------------------------------------------------------------------------------------------
// Values

#[test]
fn strings_keep_backslashes_without_support_escapes() {
    assert_eq!(value(r#""plain""#), r#""plain""#);
    assert_eq!(value(r#"'single'"#), r#""single""#);
    assert_eq!(value(r#""say \"hi\"""#), r#""say \\\"hi\\\"""#);
    assert_eq!(value(r#"'it\'s'"#), r#""it\\'s""#);
    assert_eq!(value(r#""a\nb\d""#), r#""a\\nb\\d""#);
    // Only the string's own quote is escaped: `\'` inside "..." and `\"` inside '...' are
    // plain text, and the other quote needs no escape at all.
    assert_eq!(value(r#""it's""#), r#""it's""#);
    assert_eq!(value(r#"'say "hi"'"#), r#""say \"hi\"""#);
}

#[test]
fn strings_process_escapes_with_support_escapes() {
    assert_eq!(
        value_with(r#""a\nb\tc\rd\\e\"f\'g\0h""#, true),
        r#""a\nb\tc\rd\\e\"f'g\0h""#
    );
    assert_eq!(value_with(r#"'it\'s'"#, true), r#""it's""#);
    // Unknown escapes keep their backslash, so regexes survive.
    assert_eq!(value_with(r#""\d+\.\w""#, true), r#""\\d+\\.\\w""#);
}

#[test]
fn strings_may_span_lines() {
    assert_eq!(value("\"line1\nline2\""), r#""line1\nline2""#);
}

#[test]
fn numbers_are_integers_or_floats() {
    assert_eq!(value("42"), "42");
    assert_eq!(value("-7"), "-7");
    assert_eq!(value("0.5"), "0.5");
    assert_eq!(value("-1.25"), "-1.25");
    assert_eq!(value("3."), "3.0");
    assert_eq!(value("9223372036854775807"), "9223372036854775807");
}

#[test]
fn barewords_include_true_false_and_underscores() {
    assert_eq!(value("true"), "true");
    assert_eq!(value("false"), "false");
    assert_eq!(value("_x9"), "_x9");
    assert_eq!(value("rubydebug"), "rubydebug");
}

#[test]
fn arrays_nest_span_lines_and_allow_comments() {
    assert_eq!(value("[]"), "[]");
    assert_eq!(value("[ 1 ]"), "[1]");
    assert_eq!(
        value(r#"["a", 'b', 3, 4.5, word]"#),
        r#"["a", "b", 3, 4.5, word]"#
    );
    assert_eq!(value("[[1, 2], [], [[3]]]"), "[[1, 2], [], [[3]]]");
    assert_eq!(
        value("[\n  \"a\", # first\n  # between\n  \"b\"   # last\n]"),
        r#"["a", "b"]"#
    );
    assert_eq!(
        value(r#"[{ a1 => 1 }, { b1 => [2] }]"#),
        r#"[{"a1" => 1}, {"b1" => [2]}]"#
    );
}

#[test]
fn hashes_take_number_bareword_and_string_keys() {
    assert_eq!(value("{}"), "{}");
    assert_eq!(
        value(r#"{ "message" => "x"  field => 'y' 200 => ok "@t" => [1] }"#),
        r#"{"message" => "x" "field" => "y" "200" => ok "@t" => [1]}"#
    );
    assert_eq!(
        value("{\n  outer => { inner => { deep => 1 } }\n  # comment\n  next => 2\n}"),
        r#"{"outer" => {"inner" => {"deep" => 1}} "next" => 2}"#
    );
}

#[test]
fn plugins_can_be_values() {
    assert_eq!(value("json"), "json");
    assert_eq!(
        value(r#"json { charset => "UTF-8" }"#),
        r#"json {charset => "UTF-8"}"#
    );
    assert_eq!(value(r#""multiline" { }"#), "multiline {}");
    assert_eq!(
        value("plain\n  # comment before the body\n  { format => x1 }"),
        "plain {format => x1}"
    );
    assert_eq!(value("[ json {}, plain ]"), "[json {}, plain]");
}

#[test]
fn comments_may_stand_wherever_whitespace_may() {
    let text = "# head\ninput # a\n{ # b\n stdin # c\n { # d\n codec # e\n => # f\n json # g\n } # h\n} # tail";
    assert_eq!(show_config(&ok(text)), "input\n  stdin {codec => json}\n");
}

#[test]
fn a_hash_in_a_comment_is_not_a_comment_inside_strings() {
    assert_eq!(value(r#""a # b""#), r#""a # b""#);
}

#[test]
fn windows_line_endings_parse_like_unix_ones() {
    let unix = "filter {\n  # c\n  mutate {\n    add_tag => [\"a\",\n \"b\"]\n  }\n  if [a] == 1 {\n  }\n}\n";
    let windows = unix.replace('\n', "\r\n");
    assert_eq!(show_config(&ok(&windows)), show_config(&ok(unix)));
    let config = ok(&windows);
    let plugin = match &config.sections[0].body[0] {
        Statement::Plugin(p) => p,
        _ => panic!(),
    };
    assert_eq!(
        slice(&windows, plugin.attributes[0].value.span),
        "[\"a\",\r\n \"b\"]"
    );
}

#[test]
fn a_byte_order_mark_is_ignored() {
    assert_eq!(
        show_config(&ok("\u{feff}input { stdin {} }")),
        "input\n  stdin {}\n"
    );
}

// ---------------------------------------------------------------------------------------------
// Conditionals

#[test]
fn comparison_operators() {
    assert_eq!(cond("[a] == 1"), "(== [a] 1)");
    assert_eq!(cond("[a] != 'x'"), r#"(!= [a] "x")"#);
    assert_eq!(cond("[a] < 1.5"), "(< [a] 1.5)");
    assert_eq!(cond("[a] > -2"), "(> [a] -2)");
    assert_eq!(cond("[a]<=[b]"), "(<= [a] [b])");
    assert_eq!(cond("[a]>=3"), "(>= [a] 3)");
    assert_eq!(cond("\"x\" == [a][b]"), r#"(== "x" [a][b])"#);
}

#[test]
fn match_operators_take_regexes_or_strings() {
    assert_eq!(cond("[msg] =~ /^err/"), "(=~ [msg] /^err/)");
    assert_eq!(cond("[msg] !~ \"warn\""), r#"(!~ [msg] "warn")"#);
    assert_eq!(
        cond(r"[path] =~ /^\/var\/log\/.*\.log$/"),
        r"(=~ [path] /^/var/log/.*\.log$/)"
    );
    assert_eq!(cond(r"[a] =~ /a\\b/"), r"(=~ [a] /a\\b/)");
}

#[test]
fn in_and_not_in() {
    assert_eq!(cond("\"web\" in [tags]"), r#"(in "web" [tags])"#);
    assert_eq!(cond("[a] not in [b]"), "(not-in [a] [b])");
    assert_eq!(cond("[a] not  # odd\n in [b]"), "(not-in [a] [b])");
    assert_eq!(
        cond("[a] in [\"x\", \"y\", 1]"),
        r#"(in [a] ["x", "y", 1])"#
    );
    assert_eq!(cond("[a] in []"), "(in [a] [])");
    assert_eq!(cond("[a] in [[b], 2]"), "(in [a] [[b], 2])");
}

#[test]
fn selectors_keep_their_text() {
    assert_eq!(cond("[a]"), "[a]");
    assert_eq!(cond("[@metadata][beat name]"), "[@metadata][beat name]");
    assert_eq!(cond("[a][b][c] == 1"), "(== [a][b][c] 1)");
}

#[test]
fn bare_rvalues_are_truthiness_tests() {
    assert_eq!(cond("[a]"), "[a]");
    assert_eq!(cond("\"x\""), r#""x""#);
    assert_eq!(cond("1"), "1");
    assert_eq!(cond("/re/"), "/re/");
    assert_eq!(cond("[1, 2]"), "[1, 2]");
}

#[test]
fn negation_forms() {
    assert_eq!(cond("![a]"), "(! [a])");
    assert_eq!(cond("! [a][b]"), "(! [a][b])");
    assert_eq!(cond("!([a] == 1)"), "(! (== [a] 1))");
    assert_eq!(cond("! ( [a] or [b] )"), "(! (or [a] [b]))");
    assert_eq!(cond("!(![a])"), "(! (! [a]))");
}

#[test]
fn and_binds_tighter_than_or() {
    assert_eq!(cond("[a] or [b] and [c]"), "(or [a] (and [b] [c]))");
    assert_eq!(cond("[a] and [b] or [c]"), "(or (and [a] [b]) [c])");
    assert_eq!(
        cond("[a] and [b] and [c] or [d]"),
        "(or (and (and [a] [b]) [c]) [d])"
    );
    assert_eq!(
        cond("[a] or [b] or [c] and [d] and [e]"),
        "(or (or [a] [b]) (and (and [c] [d]) [e]))"
    );
}

#[test]
fn parentheses_group_and_are_optional_around_the_whole_condition() {
    assert_eq!(cond("([a] or [b]) and [c]"), "(and (or [a] [b]) [c])");
    assert_eq!(cond("([a] == 1)"), "(== [a] 1)");
    assert_eq!(cond("((([a])))"), "[a]");
    assert_eq!(cond("[a] xor ([b] and [c])"), "(xor [a] (and [b] [c]))");
}

#[test]
fn xor_and_nand_alone() {
    assert_eq!(cond("[a] xor [b]"), "(xor [a] [b])");
    assert_eq!(cond("[a] nand [b]"), "(nand [a] [b])");
    assert_eq!(cond("([a] xor [b]) nand [c]"), "(nand (xor [a] [b]) [c])");
}

#[test]
fn boolean_operators_need_word_boundaries() {
    // `[a] andy` is not `[a] and y`.
    assert!(errors("filter { if [a] andy { } }").contains("expected \"{\" after the condition"));
}

#[test]
fn else_if_chains_and_nesting() {
    let text = r#"filter {
  if [a] == 1 { p1 {} }
  else if [a] == 2 { p2 {} } else if [a] == 3 {
    if [b] { p3 {} } else { p4 {} }
  } else {
    p5 {}
  }
  if [c] {} else {}
  p6 {}
}"#;
    assert_eq!(
        show_config(&ok(text)),
        "filter
  if (== [a] 1)
    p1 {}
  else if (== [a] 2)
    p2 {}
  else if (== [a] 3)
    if [b]
      p3 {}
    else
      p4 {}
  else
    p5 {}
  if [c]
  else
  p6 {}
"
    );
}

#[test]
fn conditionals_work_in_every_section() {
    let config = ok("input { if [a] { x1 {} } } output { if [b] { y1 {} } else { z1 {} } }");
    assert!(matches!(config.sections[0].body[0], Statement::If(_)));
    assert!(matches!(config.sections[1].body[0], Statement::If(_)));
}

#[test]
fn comments_inside_conditions() {
    assert_eq!(
        cond("# c1\n [a] # c2\n == # c3\n 1 # c4\n and # c5\n [b]"),
        "(and (== [a] 1) [b])"
    );
    let config = ok("filter { if [a] { } # why\n else # now\n if [b] { } }");
    match &config.sections[0].body[0] {
        Statement::If(chain) => assert_eq!(chain.branches.len(), 2),
        other => panic!("{other:?}"),
    }
}

#[test]
fn strings_in_conditions_follow_the_escape_setting() {
    assert_eq!(cond(r#"[a] == "x\ty""#), r#"(== [a] "x\\ty")"#);
    let config = parse_with(r#"filter { if [a] == "x\ty" { } }"#, true).expect("parses");
    match &config.sections[0].body[0] {
        Statement::If(chain) => {
            assert_eq!(
                show_expr(&chain.branches[0].condition.node),
                r#"(== [a] "x\ty")"#
            )
        }
        other => panic!("{other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Spans

#[test]
fn spans_slice_to_the_text_of_each_node() {
    let text = r#"filter {
  grok { match => { "message" => "%{IP:ip}" } tag_on_failure => [ "a", 1 ] }
  if [a][b] == "x" and !([c] =~ /d\/e/) { drop {} } else { noop {} }
}
output { stdout { codec => rubydebug { metadata => true } } }"#;
    let config = ok(text);
    let filter = &config.sections[0];
    assert_eq!(slice(text, filter.kind_span), "filter");
    assert!(slice(text, filter.span).starts_with("filter {\n  grok"));
    assert!(slice(text, filter.span).ends_with("noop {} }\n}"));

    let Statement::Plugin(grok) = &filter.body[0] else {
        panic!("grok")
    };
    assert_eq!(
        slice(text, grok.span),
        r#"grok { match => { "message" => "%{IP:ip}" } tag_on_failure => [ "a", 1 ] }"#
    );
    assert_eq!(slice(text, grok.name.span), "grok");
    let matcher = &grok.attributes[0];
    assert_eq!(slice(text, matcher.name.span), "match");
    assert_eq!(
        slice(text, matcher.value.span),
        r#"{ "message" => "%{IP:ip}" }"#
    );
    let Value::Hash(entries) = &matcher.value.node else {
        panic!("hash")
    };
    assert_eq!(slice(text, entries[0].key.span), r#""message""#);
    assert_eq!(slice(text, entries[0].value.span), r#""%{IP:ip}""#);
    let Value::Array(items) = &grok.attributes[1].value.node else {
        panic!("array")
    };
    assert_eq!(slice(text, grok.attributes[1].value.span), r#"[ "a", 1 ]"#);
    assert_eq!(slice(text, items[0].span), r#""a""#);
    assert_eq!(slice(text, items[1].span), "1");

    let Statement::If(chain) = &filter.body[1] else {
        panic!("if")
    };
    assert!(slice(text, chain.span).starts_with("if [a][b]"));
    assert!(slice(text, chain.span).ends_with("else { noop {} }"));
    let condition = &chain.branches[0].condition;
    assert_eq!(
        slice(text, condition.span),
        r#"[a][b] == "x" and !([c] =~ /d\/e/)"#
    );
    let Expr::Bool { lhs, rhs, .. } = &condition.node else {
        panic!("and")
    };
    assert_eq!(slice(text, lhs.span), r#"[a][b] == "x""#);
    assert_eq!(slice(text, rhs.span), r#"!([c] =~ /d\/e/)"#);
    let Expr::Compare { lhs: a, rhs: x, .. } = &lhs.node else {
        panic!("compare")
    };
    assert_eq!(slice(text, a.span), "[a][b]");
    assert_eq!(slice(text, x.span), r#""x""#);
    let Expr::Not(inner) = &rhs.node else {
        panic!("not")
    };
    assert_eq!(slice(text, inner.span), r#"([c] =~ /d\/e/)"#);
    let Expr::Match { pattern, .. } = &inner.node else {
        panic!("match")
    };
    assert_eq!(slice(text, pattern.span), r"/d\/e/");

    let Statement::Plugin(stdout) = &config.sections[1].body[0] else {
        panic!("stdout")
    };
    let codec = &stdout.attributes[0].value;
    assert_eq!(slice(text, codec.span), "rubydebug { metadata => true }");
    let Value::Plugin(rubydebug) = &codec.node else {
        panic!("plugin value")
    };
    assert_eq!(slice(text, rubydebug.name.span), "rubydebug");
    assert_eq!(slice(text, rubydebug.attributes[0].value.span), "true");
}

#[test]
fn quoted_names_span_their_quotes() {
    let text = r#"filter { "a b" { 'c d' => "e" } }"#;
    let config = ok(text);
    let plugin = only_plugin(&config);
    assert_eq!(slice(text, plugin.name.span), r#""a b""#);
    assert_eq!(slice(text, plugin.attributes[0].name.span), "'c d'");
}

#[test]
fn spans_point_into_the_right_file_of_several() {
    let mut sources = SourceMap::new();
    sources.add("10-input.conf", "input { stdin {} }");
    sources.add(
        "20-filter.conf",
        "filter {\n  mutate { add_tag => [\"x\"] }\n}",
    );
    let config = parse(&sources, ParseOptions::default()).expect("parses");
    assert_eq!(config.sections.len(), 2);
    let Statement::Plugin(mutate) = &config.sections[1].body[0] else {
        panic!("mutate")
    };
    let loc = sources.locate(mutate.name.span.start);
    assert_eq!((loc.path, loc.line, loc.col), ("20-filter.conf", 2, 3));
    assert_eq!(sources.slice(mutate.attributes[0].value.span), "[\"x\"]");
}

#[test]
fn a_section_may_span_files() {
    // Logstash concatenates the files, so a block may open in one and close in the next.
    let mut sources = SourceMap::new();
    sources.add("a.conf", "filter {\n  mutate {}");
    sources.add("b.conf", "}");
    let config = parse(&sources, ParseOptions::default()).expect("parses");
    assert_eq!(config.sections[0].body.len(), 1);
}

// ---------------------------------------------------------------------------------------------
// A realistic pipeline

const NGINX: &str = r#"# nginx access logs -> elasticsearch
input {
  beats {
    port => 5044
    ssl => false
  }
  file {
    path => ["/var/log/nginx/access.log", "/var/log/nginx/error.log"]
    start_position => "beginning"
    codec => plain { charset => "UTF-8" }
  }
}

filter {
  if [fileset][name] == "access" or "nginx" in [tags] {
    grok {
      match => { "message" => "%{IPORHOST:[source][ip]} - %{DATA:[user][name]} \[%{HTTPDATE:[nginx][time]}\] \"%{WORD:[http][method]} %{DATA:[url][original]}\" %{NUMBER:[http][status]:int}" }
      tag_on_failure => ["_grokparsefailure", "nginx"]
    }
    date {
      match => [ "[nginx][time]", "dd/MMM/yyyy:HH:mm:ss Z" ]
      target => "@timestamp"
      remove_field => "[nginx][time]"
    }
    mutate {
      convert => { "[http][status]" => "integer" }
      rename => { "host" => "[host][name]" }
      add_field => { "[@metadata][index]" => "nginx-%{+YYYY.MM.dd}" }
    }
    if [http][status] >= 500 {
      mutate { add_tag => ["server_error"] }
    } else if [http][status] >= 400 and [http][status] < 500 {
      mutate { add_tag => ["client_error"] }
    } else if [url][original] =~ /^\/health/ {
      drop { }
    }
  } else if [message] !~ /./ {
    drop {}
  } else {
    mutate { add_tag => [ "unparsed" ] } # keep it for inspection
  }
}

output {
  if "_grokparsefailure" not in [tags] {
    elasticsearch {
      hosts => ["http://es1:9200", "http://es2:9200"]
      index => "%{[@metadata][index]}"
      manage_template => false
    }
  } else {
    file { path => "/var/log/sluice/failed-%{+YYYY-MM-dd}.log" codec => json_lines }
  }
  stdout { codec => rubydebug { metadata => true } }
}
"#;

#[test]
fn a_realistic_nginx_pipeline_parses_to_the_expected_tree() {
    let expected = r#"input
  beats {port => 5044 ssl => false}
  file {path => ["/var/log/nginx/access.log", "/var/log/nginx/error.log"] start_position => "beginning" codec => plain {charset => "UTF-8"}}
filter
  if (or (== [fileset][name] "access") (in "nginx" [tags]))
    grok {match => {"message" => "%{IPORHOST:[source][ip]} - %{DATA:[user][name]} \\[%{HTTPDATE:[nginx][time]}\\] \\\"%{WORD:[http][method]} %{DATA:[url][original]}\\\" %{NUMBER:[http][status]:int}"} tag_on_failure => ["_grokparsefailure", "nginx"]}
    date {match => ["[nginx][time]", "dd/MMM/yyyy:HH:mm:ss Z"] target => "@timestamp" remove_field => "[nginx][time]"}
    mutate {convert => {"[http][status]" => "integer"} rename => {"host" => "[host][name]"} add_field => {"[@metadata][index]" => "nginx-%{+YYYY.MM.dd}"}}
    if (>= [http][status] 500)
      mutate {add_tag => ["server_error"]}
    else if (and (>= [http][status] 400) (< [http][status] 500))
      mutate {add_tag => ["client_error"]}
    else if (=~ [url][original] /^/health/)
      drop {}
  else if (!~ [message] /./)
    drop {}
  else
    mutate {add_tag => ["unparsed"]}
output
  if (not-in "_grokparsefailure" [tags])
    elasticsearch {hosts => ["http://es1:9200", "http://es2:9200"] index => "%{[@metadata][index]}" manage_template => false}
  else
    file {path => "/var/log/sluice/failed-%{+YYYY-MM-dd}.log" codec => json_lines}
  stdout {codec => rubydebug {metadata => true}}
"#;
    assert_eq!(show_config(&ok(NGINX)), expected);
}

#[test]
fn a_five_thousand_line_config_parses_quickly() {
    let mut text = String::from("filter {\n");
    while text.lines().count() < 5000 {
        text.push_str(
            "  if [type] == \"nginx\" and [status] >= 500 {\n    mutate {\n      add_tag => [\"a\", \"b\"] # note\n      add_field => { \"x\" => \"%{y}\" }\n    }\n  } else {\n    drop {}\n  }\n",
        );
    }
    text.push_str("}\n");
    let start = std::time::Instant::now();
    let config = ok(&text);
    let elapsed = start.elapsed();
    assert!(config.sections[0].body.len() > 600);
    // Debug builds are slow; the budget is for an unoptimized test binary on a shared machine.
    assert!(elapsed.as_millis() < 1000, "took {elapsed:?}");
}

// ---------------------------------------------------------------------------------------------
// Error messages: snapshots

/// Every `tests/parse_errors/NAME.conf` must fail to parse with exactly the diagnostics in
/// `NAME.stderr`. `UPDATE_SNAPSHOTS=1 cargo test --test parser` rewrites the `.stderr` files.
#[test]
fn error_snapshots() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/parse_errors");
    let update = std::env::var_os("UPDATE_SNAPSHOTS").is_some_and(|v| v == "1");
    let mut confs: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/parse_errors exists")
        .map(|entry| entry.expect("readable entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "conf"))
        .collect();
    confs.sort();
    assert!(confs.len() >= 15, "only {} bad configs", confs.len());
    let mut failures = Vec::new();
    for conf in &confs {
        let name = conf
            .file_name()
            .and_then(|n| n.to_str())
            .expect("utf-8 name");
        let text = std::fs::read_to_string(conf).expect("readable config");
        let sources = SourceMap::single(name, &text);
        let rendered = match parse(&sources, ParseOptions::default()) {
            Ok(_) => {
                failures.push(format!("{name}: parsed without errors"));
                continue;
            }
            Err(diags) => diags.render(&sources),
        };
        let snapshot = conf.with_extension("stderr");
        if update {
            std::fs::write(&snapshot, &rendered).expect("writable snapshot");
            continue;
        }
        let expected = std::fs::read_to_string(&snapshot).unwrap_or_default();
        if expected != rendered {
            failures.push(format!(
                "{name}: expected\n{expected}\n--- but got\n{rendered}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

// ---------------------------------------------------------------------------------------------
// Error positions and recovery

#[test]
fn errors_point_at_the_offending_token() {
    assert_eq!(
        error_lines("filter {\n  grok {\n    match \"x\"\n  }\n}"),
        ["test.conf:3:11: expected \"=>\" after attribute name \"match\", found string \"x\""]
    );
    assert_eq!(
        error_lines("input { stdin {} }\nfilter {\n  if [a] =! 1 { }\n}"),
        ["test.conf:3:10: unknown operator \"=!\""]
    );
    assert_eq!(
        error_lines("output {\n  stdout { codec => }\n}"),
        ["test.conf:2:21: expected a value after \"codec =>\", found \"}\""]
    );
}

#[test]
fn a_missing_piece_at_the_end_of_a_line_is_pointed_at_there() {
    // The `{` belongs after `stdout`, so the caret goes there rather than on the next line.
    let out = errors("output {\n  stdout\n}");
    assert!(
        out.starts_with("test.conf:2:9: expected \"{\" after plugin name \"stdout\""),
        "{out}"
    );
}

#[test]
fn independent_errors_are_all_reported_once() {
    let text = "input {\n  stdin { codec => json { charset = \"x\" } }\n}\nfilter {\n  mutate { add_tag => [\"a\" \"b\"] }\n  if [a] = 1 { drop {} }\n  mutate { add_tag => [\"c\"] }\n}\noutptu { stdout {} }\n";
    let lines = error_lines(text);
    let positions: Vec<&str> = lines
        .iter()
        .map(|l| l.split(": ").next().unwrap())
        .collect();
    assert_eq!(
        positions,
        [
            "test.conf:2:35",
            "test.conf:5:28",
            "test.conf:6:10",
            "test.conf:9:1"
        ],
        "{lines:#?}"
    );
}

#[test]
fn errors_in_several_files_name_their_file() {
    let mut sources = SourceMap::new();
    sources.add("a.conf", "input { stdin {} }");
    sources.add("b.conf", "filter {\n  mutate { add_tag => [\"x\",] }\n}");
    let diags = parse(&sources, ParseOptions::default()).expect_err("fails");
    let out = diags.render(&sources);
    assert!(
        out.starts_with("b.conf:2:28: expected a value after \",\""),
        "{out}"
    );
}

#[test]
fn a_body_after_a_bad_condition_is_still_checked() {
    let lines =
        error_lines("filter {\n  if [a] === 1 {\n    mutate { add_tag => [\"x\" \"y\"] }\n  }\n}");
    assert_eq!(lines.len(), 2, "{lines:#?}");
    assert!(
        lines[0].starts_with("test.conf:2:10: unknown operator \"===\""),
        "{lines:#?}"
    );
    assert!(lines[1].starts_with("test.conf:3:30:"), "{lines:#?}");
}

#[test]
fn an_unterminated_string_reports_nothing_after_it() {
    let lines = error_lines("filter {\n  mutate { add_tag => \"x }\n}\noutput { stdout {} }");
    assert_eq!(lines, ["test.conf:2:23: unterminated string"]);
}

#[test]
fn a_misspelt_section_body_is_still_checked() {
    let lines = error_lines("fliter {\n  mutate { add_tag => [\"a\",] }\n}");
    assert_eq!(lines.len(), 2, "{lines:#?}");
    assert!(lines[0].contains("unknown section \"fliter\""));
    assert!(lines[1].starts_with("test.conf:2:28:"), "{lines:#?}");
}

#[test]
fn an_attribute_in_a_section_without_a_plugin_before_it() {
    let lines = error_lines("filter {\n  add_tag => [\"x\"]\n  mutate {}\n}");
    assert_eq!(
        lines,
        ["test.conf:2:3: found attribute \"add_tag\" where a plugin was expected"]
    );
}

#[test]
fn integers_out_of_range_are_errors() {
    let out = errors("filter { p { v => 99999999999999999999 } }");
    assert!(out.contains("out of range"), "{out}");
}

#[test]
fn a_single_bracketed_string_in_a_condition_is_a_selector_as_in_logstash() {
    // Logstash's grammar tries the selector first, so `["a"]` names the field `"a"`.
    assert_eq!(cond(r#"[a] in ["x"]"#), r#"(in [a] ["x"])"#);
    let config = ok(r#"filter { if [a] in ["x"] { } }"#);
    let Statement::If(chain) = &config.sections[0].body[0] else {
        panic!("if")
    };
    let Expr::In { haystack, .. } = &chain.branches[0].condition.node else {
        panic!("in")
    };
    assert_eq!(haystack.node, RValue::Selector(r#"["x"]"#.to_string()));
}

#[test]
fn excessive_nesting_is_an_error_not_a_crash() {
    for text in [
        format!("filter {{ p {{ v => {} }} }}", "[".repeat(100_000)),
        format!("filter {{ p {{ v => {} }} }}", "{ a1 => ".repeat(50_000)),
        format!("filter {{ if {}[a] {{ }} }}", "(".repeat(100_000)),
        format!("filter {{ if {}[a] {{ }} }}", "!(".repeat(100_000)),
        format!("filter {{ {} }}", "if [a] { ".repeat(50_000)),
        format!("filter {{ p {{ v => {} }} }}", "c1 { v => ".repeat(50_000)),
    ] {
        let out = errors(&text);
        assert!(
            out.contains("nesting is too deep"),
            "{}",
            &out[..out.len().min(300)]
        );
        assert_eq!(out.matches("test.conf:").count(), 1, "{out}");
    }
}

// ---------------------------------------------------------------------------------------------
// Robustness: no input makes the parser panic

/// Deterministic xorshift numbers, so a failing input can be reproduced.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Parses `text` both ways; fails (showing the input) on a panic, on an error list that is
/// empty, or on diagnostics that cannot be rendered.
fn assert_parses_or_reports(text: &str) {
    for support_escapes in [false, true] {
        let outcome = std::panic::catch_unwind(|| {
            let sources = SourceMap::single("fuzz.conf", text);
            match parse(&sources, ParseOptions { support_escapes }) {
                Ok(config) => config.sections.iter().all(|s| {
                    sources.slice(s.span).starts_with(s.kind.as_str())
                        && sources.slice(s.span).ends_with('}')
                }),
                Err(diags) => !diags.is_empty() && !diags.render(&sources).is_empty(),
            }
        });
        assert!(
            matches!(outcome, Ok(true)),
            "bad outcome for input {text:?}: {outcome:?}"
        );
    }
}

#[test]
fn every_prefix_of_a_realistic_config_is_handled() {
    for (i, _) in NGINX.char_indices() {
        assert_parses_or_reports(&NGINX[..i]);
    }
}

#[test]
fn random_edits_of_a_realistic_config_are_handled() {
    const PIECES: [&str; 16] = [
        "{", "}", "[", "]", "\"", "'", "/", "#", "=>", "\\", "\n", "if", "else", ",", "(", "é",
    ];
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for _ in 0..1500 {
        let mut text = NGINX.to_string();
        for _ in 0..1 + rng.below(4) {
            let at = rng.below(text.len());
            let at = (0..=at)
                .rev()
                .find(|i| text.is_char_boundary(*i))
                .unwrap_or(0);
            match rng.below(3) {
                0 => {
                    let end = (at + 1 + rng.below(40)).min(text.len());
                    let end = (end..=text.len())
                        .find(|i| text.is_char_boundary(*i))
                        .unwrap();
                    text.replace_range(at..end, "");
                }
                1 => text.insert_str(at, PIECES[rng.below(PIECES.len())]),
                _ => {
                    let end = (at + rng.below(60)).min(text.len());
                    let end = (end..=text.len())
                        .find(|i| text.is_char_boundary(*i))
                        .unwrap();
                    let copy = text[at..end].to_string();
                    text.insert_str(at, &copy);
                }
            }
        }
        assert_parses_or_reports(&text);
    }
}

#[test]
fn token_soup_is_handled() {
    const TOKENS: [&str; 48] = [
        "input", "filter", "output", "if", "else", "and", "or", "xor", "nand", "not", "in", "grok",
        "x", "-1", "2.5", "1.2.3", "{", "}", "[", "]", "(", ")", ",", ";", "=>", "==", "!=", "<=",
        ">=", "<", ">", "=~", "!~", "!", "=", "\"s\"", "'q'", "\"", "'", "/re/", "/", "\\", "#c\n",
        "\n", " ", "\r\n", "\u{feff}", "ü",
    ];
    let mut rng = Rng(42);
    for _ in 0..4000 {
        let len = 1 + rng.below(50);
        let text: String = (0..len).map(|_| TOKENS[rng.below(TOKENS.len())]).collect();
        assert_parses_or_reports(&text);
    }
}

#[test]
fn random_bytes_are_handled() {
    let mut rng = Rng(7);
    for _ in 0..2000 {
        let len = rng.below(200);
        let bytes: Vec<u8> = (0..len)
            .map(|_| match rng.below(4) {
                // Mostly the bytes LSCL gives meaning to, so the parser gets past the start.
                0 => b"{}[]()\"'/#=>!<,\\\n "[rng.below(18)],
                1 => b"abcdefiltrnpu_-0123456789."[rng.below(26)],
                _ => rng.next() as u8,
            })
            .collect();
        assert_parses_or_reports(&String::from_utf8_lossy(&bytes));
    }
}
