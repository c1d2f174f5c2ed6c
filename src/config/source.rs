//! Source text and positions: [`SourceMap`] holds the concatenated config files, [`Span`] points
//! into it, and [`Diagnostic`] is a problem at a span, printed as `path:line:col: message` with
//! the source line and a caret.

use std::fmt::Write as _;

/// A byte range in a [`SourceMap`]'s text. Small and `Copy` so every AST node can carry one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Span {
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Span {
        Span {
            start: start as u32,
            end: end as u32,
        }
    }

    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span {
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }
}

/// A value with the span it was parsed from.
#[derive(Clone, Debug, PartialEq)]
pub struct Spanned<T> {
    pub node: T,
    pub span: Span,
}

impl<T> Spanned<T> {
    pub fn new(node: T, span: Span) -> Spanned<T> {
        Spanned { node, span }
    }
}

/// One config file's place in the concatenated text.
#[derive(Clone, Debug)]
struct SourceFile {
    path: String,
    start: usize,
}

/// The text of every config file, concatenated as Logstash does (in the order given, each
/// followed by a newline), remembering where each file starts so positions map back to
/// `path:line:col`.
#[derive(Clone, Debug, Default)]
pub struct SourceMap {
    text: String,
    files: Vec<SourceFile>,
}

/// A resolved position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location<'a> {
    pub path: &'a str,
    /// 1-based.
    pub line: usize,
    /// 1-based, in characters.
    pub col: usize,
    /// The whole line, without its newline.
    pub line_text: &'a str,
}

impl SourceMap {
    pub fn new() -> SourceMap {
        SourceMap::default()
    }

    /// A map holding one text (e.g. from `-e`), named `path` in messages.
    pub fn single(path: &str, text: &str) -> SourceMap {
        let mut map = SourceMap::new();
        map.add(path, text);
        map
    }

    /// Appends a file.
    pub fn add(&mut self, path: &str, text: &str) {
        self.files.push(SourceFile {
            path: path.to_string(),
            start: self.text.len(),
        });
        self.text.push_str(text);
        self.text.push('\n');
    }

    /// The concatenated text the parser reads.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The text a span covers.
    pub fn slice(&self, span: Span) -> &str {
        &self.text[span.start as usize..span.end as usize]
    }

    /// Maps a byte offset to file, line and column.
    pub fn locate(&self, offset: u32) -> Location<'_> {
        let offset = (offset as usize).min(self.text.len());
        let idx = self
            .files
            .partition_point(|f| f.start <= offset)
            .saturating_sub(1);
        let (path, file_start) = self
            .files
            .get(idx)
            .map(|f| (f.path.as_str(), f.start))
            .unwrap_or(("<config>", 0));
        let before = &self.text[file_start..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = file_start + before.rfind('\n').map_or(0, |i| i + 1);
        let line_end = self.text[line_start..]
            .find('\n')
            .map_or(self.text.len(), |i| line_start + i);
        Location {
            path,
            line,
            col: self.text[line_start..offset].chars().count() + 1,
            line_text: self.text[line_start..line_end].trim_end_matches('\r'),
        }
    }

    /// Renders `diag` as `path:line:col: message`, the source line, a caret under the span, and
    /// the help line if any.
    pub fn render(&self, diag: &Diagnostic) -> String {
        let loc = self.locate(diag.span.start);
        let mut out = format!("{}:{}:{}: {}\n", loc.path, loc.line, loc.col, diag.message);
        let width = self
            .slice_clamped(diag.span, loc.line_text)
            .chars()
            .count()
            .max(1);
        let _ = writeln!(out, "  {}", loc.line_text);
        // Keep the line's tabs in the padding so the caret lines up however tabs are shown.
        let pad: String = loc
            .line_text
            .chars()
            .take(loc.col - 1)
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        let _ = writeln!(out, "  {pad}{}", "^".repeat(width));
        if let Some(help) = &diag.help {
            let _ = writeln!(out, "  help: {help}");
        }
        out
    }

    /// The part of `span` that lies on its first line.
    fn slice_clamped<'a>(&'a self, span: Span, _line: &str) -> &'a str {
        let start = (span.start as usize).min(self.text.len());
        let end = (span.end as usize).clamp(start, self.text.len());
        let s = &self.text[start..end];
        s.split('\n').next().unwrap_or("")
    }
}

/// A problem found in a config, at a span.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub span: Span,
    pub message: String,
    /// A hint such as `did you mean "match"?`.
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn new(span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            span,
            message: message.into(),
            help: None,
        }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }
}

/// Every problem found in one config, in source order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn push(&mut self, d: Diagnostic) {
        self.0.push(d);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn extend(&mut self, other: Diagnostics) {
        self.0.extend(other.0);
    }

    /// Renders all of them, sorted by position.
    pub fn render(&self, sources: &SourceMap) -> String {
        let mut sorted: Vec<&Diagnostic> = self.0.iter().collect();
        sorted.sort_by_key(|d| (d.span.start, d.span.end));
        sorted.iter().map(|d| sources.render(d)).collect()
    }
}

impl From<Diagnostic> for Diagnostics {
    fn from(d: Diagnostic) -> Diagnostics {
        Diagnostics(vec![d])
    }
}

/// The suggestion for a misspelt name: the closest candidate, if close enough.
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(name, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// A regex compile error in one line (`unclosed group`): the regex crate's own message draws
/// the pattern with a caret over several lines, which a diagnostic already does.
pub fn regex_error_summary(err: &regex::Error) -> String {
    let text = err.to_string();
    let last = text.lines().last().unwrap_or("");
    last.strip_prefix("error: ")
        .unwrap_or(last)
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_positions_across_concatenated_files() {
        let mut map = SourceMap::new();
        map.add("a.conf", "input {\n  stdin {}\n}");
        map.add("b.conf", "filter {\n  mutaet {}\n}");
        let offset = map.text().find("mutaet").unwrap() as u32;
        let loc = map.locate(offset);
        assert_eq!((loc.path, loc.line, loc.col), ("b.conf", 2, 3));
        assert_eq!(loc.line_text, "  mutaet {}");
    }

    #[test]
    fn renders_a_caret_under_the_span() {
        let map = SourceMap::single("x.conf", "filter { mutaet {} }");
        let d = Diagnostic::new(Span::new(9, 15), "unknown filter plugin \"mutaet\"")
            .with_help("did you mean \"mutate\"?");
        assert_eq!(
            map.render(&d),
            "x.conf:1:10: unknown filter plugin \"mutaet\"\n  filter { mutaet {} }\n           ^^^^^^\n  help: did you mean \"mutate\"?\n"
        );
    }

    #[test]
    fn caret_follows_tabs_and_crlf_is_not_shown() {
        let map = SourceMap::single("t.conf", "filter {\r\n\tmutaet {}\r\n}");
        let offset = map.text().find("mutaet").unwrap();
        let d = Diagnostic::new(Span::new(offset, offset + 6), "x");
        assert_eq!(map.render(&d), "t.conf:2:2: x\n  \tmutaet {}\n  \t^^^^^^\n");
    }

    #[test]
    fn regex_errors_fit_on_one_line() {
        let pattern = String::from("a(b"); // built at run time: clippy rejects literal bad regexes
        let err = regex::Regex::new(&pattern).unwrap_err();
        assert_eq!(regex_error_summary(&err), "unclosed group");
    }

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(did_you_mean("mutaet", ["mutate", "drop"]), Some("mutate"));
        assert_eq!(did_you_mean("zzz", ["mutate", "drop"]), None);
    }
}
