//! `sluice test --coverage`: every filter and conditional branch of a config, with how many test
//! events reached it.
//!
//! The counts come from [`FilterGraph::process_counting`]; names, ids and condition texts from
//! the graph; `path:line` from the syntax tree the graph was built from. The plan builds one
//! node per filter statement and one branch per `if` chain, in order, so the tree and the graph
//! are walked side by side.
//!
//! ```text
//! coverage of filters/apache: 5 of 6 reached
//!    12  filters/apache/10-apache.conf:8   if [message] =~ /^\S+ /
//!     2  filters/apache/10-apache.conf:9     drop (drop-1)
//!     0  filters/apache/10-apache.conf:14    else if [message] =~ /x/   <- never reached
//! ```

use std::fmt::Write as _;

use crate::config::ast::{self, Statement};
use crate::config::{SourceMap, Span};
use crate::plan::{Coverage, FilterGraph, FilterNode, NodeCoverage};

use super::compare::Style;

/// One line of the report.
#[derive(Debug, PartialEq, Eq)]
pub struct Row {
    pub events: u64,
    /// `path:line`.
    pub location: String,
    /// Nesting inside conditionals.
    pub depth: usize,
    /// `grok (grok-1)`, `if [type] == "x"`, `else`.
    pub label: String,
}

/// The rows for every filter and branch arm of `config`'s filter sections.
pub fn rows(
    config: &ast::Config,
    sources: &SourceMap,
    graph: &FilterGraph,
    coverage: &Coverage,
) -> Vec<Row> {
    let statements: Vec<&Statement> = config
        .sections
        .iter()
        .filter(|s| s.kind == ast::SectionKind::Filter)
        .flat_map(|s| &s.body)
        .collect();
    let mut walker = Walker {
        sources,
        rows: Vec::new(),
    };
    walker.nodes(&statements, &graph.nodes, &coverage.nodes, 0);
    walker.rows
}

/// The report text: a heading, then one aligned line per row.
pub fn render(name: &str, rows: &[Row], style: Style) -> String {
    let reached = rows.iter().filter(|r| r.events > 0).count();
    let mut out = format!("coverage of {name}: {reached} of {} reached\n", rows.len());
    let count_width = rows
        .iter()
        .map(|r| r.events.to_string().len())
        .max()
        .unwrap_or(1);
    let location_width = rows.iter().map(|r| r.location.len()).max().unwrap_or(0);
    for row in rows {
        let line = format!(
            "  {:>count_width$}  {:<location_width$}  {}{}",
            row.events,
            row.location,
            "  ".repeat(row.depth),
            row.label
        );
        if row.events == 0 {
            let _ = writeln!(out, "{}", style.red(&format!("{line}   <- never reached")));
        } else {
            let _ = writeln!(out, "{line}");
        }
    }
    out
}

struct Walker<'a> {
    sources: &'a SourceMap,
    rows: Vec<Row>,
}

impl Walker<'_> {
    fn nodes(
        &mut self,
        statements: &[&Statement],
        nodes: &[FilterNode],
        counts: &[NodeCoverage],
        depth: usize,
    ) {
        for ((statement, node), count) in statements.iter().zip(nodes).zip(counts) {
            match (statement, node, count) {
                (Statement::Plugin(p), FilterNode::Filter(stage), NodeCoverage::Filter(n)) => {
                    self.push(
                        *n,
                        p.name.span,
                        depth,
                        format!("{} ({})", stage.name, stage.id),
                    );
                }
                (Statement::If(chain), FilterNode::Branch(branch), NodeCoverage::Branch(c)) => {
                    let arms = chain.branches.iter().zip(&branch.arms).zip(&c.arms);
                    for (i, ((arm, (condition, arm_nodes)), arm_count)) in arms.enumerate() {
                        let keyword = if i == 0 { "if" } else { "else if" };
                        let label = format!("{keyword} {}", condition.text());
                        self.push(arm_count.events, arm.condition.span, depth, label);
                        let body: Vec<&Statement> = arm.body.iter().collect();
                        self.nodes(&body, arm_nodes, &arm_count.nodes, depth + 1);
                    }
                    if let Some(body) = &chain.otherwise {
                        let at = else_position(self.sources, chain);
                        self.push(c.otherwise.events, at, depth, "else".to_string());
                        let body: Vec<&Statement> = body.iter().collect();
                        self.nodes(&body, &branch.otherwise, &c.otherwise.nodes, depth + 1);
                    }
                }
                // The plan always mirrors the tree; should it not, stop rather than mislabel.
                _ => return,
            }
        }
    }

    fn push(&mut self, events: u64, span: Span, depth: usize, label: String) {
        let at = self.sources.locate(span.start);
        self.rows.push(Row {
            events,
            location: format!("{}:{}", at.path, at.line),
            depth,
            label,
        });
    }
}

/// Where the `else` keyword of `chain` is: past the last arm's body (its last statement, or
/// its `{`), over blanks, comments and closing braces. The tree does not keep that keyword's
/// span; when the text does not read as expected, the chain's `if` stands in.
fn else_position(sources: &SourceMap, chain: &ast::IfChain) -> Span {
    let fallback = chain.span;
    let Some(last) = chain.branches.last() else {
        return fallback;
    };
    let text = sources.text().as_bytes();
    let mut pos = match last.body.last() {
        Some(Statement::Plugin(p)) => p.span.end as usize,
        Some(Statement::If(inner)) => inner.span.end as usize,
        None => {
            let after = skip_blanks(text, last.condition.span.end as usize);
            if text.get(after) != Some(&b'{') {
                return fallback;
            }
            after + 1
        }
    };
    // At most the plugin's own `}` (if its span stops before it) and the arm's.
    for _ in 0..3 {
        pos = skip_blanks(text, pos);
        if text[pos..].starts_with(b"else") {
            return Span::new(pos, pos + 4);
        }
        if text.get(pos) != Some(&b'}') {
            return fallback;
        }
        pos += 1;
    }
    fallback
}

/// The first position at or after `pos` that is not whitespace or inside a `#` comment.
fn skip_blanks(text: &[u8], mut pos: usize) -> usize {
    while let Some(&c) = text.get(pos) {
        if c.is_ascii_whitespace() {
            pos += 1;
        } else if c == b'#' {
            pos = memchr::memchr(b'\n', &text[pos..]).map_or(text.len(), |n| pos + n);
        } else {
            break;
        }
    }
    pos
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ParseOptions;
    use crate::event::{Event, Text, Timestamp};

    const CONFIG: &str = r#"filter {
  mutate { add_tag => ["a"] }
  if [message] == "x" {
    mutate { id => "on_x" add_tag => ["x"] }
  } else if [message] == "y" {
    drop {}
  }
  # a comment with else in it
  else {
    if [message] =~ /z/ {
    }
    else { mutate { add_tag => ["z"] } }
  }
}
"#;

    fn report(messages: &[&str]) -> Vec<Row> {
        let sources = SourceMap::single("t.conf", CONFIG);
        let config = crate::config::parse(&sources, ParseOptions::default()).unwrap();
        let plan = crate::plan::build(&config, &|_: &str| None).unwrap();
        let mut coverage = plan.filters.coverage();
        let mut events: Vec<Event> = messages
            .iter()
            .map(|m| Event::from_message(Text::new(m), Timestamp::from_secs(0)))
            .collect();
        plan.filters.process_counting(&mut events, &mut coverage);
        rows(&config, &sources, &plan.filters, &coverage)
    }

    fn row(events: u64, line: usize, depth: usize, label: &str) -> Row {
        Row {
            events,
            location: format!("t.conf:{line}"),
            depth,
            label: label.to_string(),
        }
    }

    #[test]
    fn every_filter_and_arm_with_its_location_and_count() {
        assert_eq!(
            report(&["x", "x", "w"]),
            [
                row(3, 2, 0, "mutate (mutate-1)"),
                row(2, 3, 0, "if [message] == \"x\""),
                row(2, 4, 1, "mutate (on_x)"),
                row(0, 5, 0, "else if [message] == \"y\""),
                row(0, 6, 1, "drop (drop-1)"),
                row(1, 9, 0, "else"),
                row(0, 10, 1, "if [message] =~ /z/"),
                row(1, 12, 1, "else"),
                row(1, 12, 2, "mutate (mutate-2)"),
            ]
        );
    }

    #[test]
    fn the_report_aligns_columns_and_marks_what_no_event_reached() {
        let text = render("t.conf", &report(&["y"]), Style { color: false });
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "coverage of t.conf: 3 of 9 reached");
        assert_eq!(lines[1], "  1  t.conf:2   mutate (mutate-1)");
        assert_eq!(
            lines[3],
            "  0  t.conf:4     mutate (on_x)   <- never reached"
        );
        assert_eq!(lines[5], "  1  t.conf:6     drop (drop-1)");
        assert_eq!(lines.len(), 10);
    }
}
