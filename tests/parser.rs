//! The LSCL parser: every grammar rule, spans, error positions and messages (snapshots in
//! `tests/parse_errors/`), a realistic pipeline parsed to a checked tree, and robustness against
//! arbitrary input.
//!
//! Trees are compared through a compact S-expression rendering (`show_*`), which keeps the
//! expected values readable; spans are checked separately by slicing the source.

use sluice::config::ast::{
    BoolOp, CompareOp, Config, Expr, Number, Plugin, RValue, SectionKind, Statement, Value,
};
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
            let op = match op {
                BoolOp::And => "and",
                BoolOp::Or => "or",
                BoolOp::Xor => "xor",
                BoolOp::Nand => "nand",
            };
            format!("({op} {} {})", show_expr(&lhs.node), show_expr(&rhs.node))
        }
        Expr::Not(inner) => format!("(! {})", show_expr(&inner.node)),
        Expr::Compare { op, lhs, rhs } => {
            let op = match op {
                CompareOp::Eq => "==",
                CompareOp::Ne => "!=",
                CompareOp::Lt => "<",
                CompareOp::Gt => ">",
                CompareOp::Le => "<=",
                CompareOp::Ge => ">=",
            };
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
