//! `sluice test`: runs logstash-filter-verifier test case files against a config's filters, in
//! process, and reports each failing case as a diff.
//!
//! - `case_file`: the test file format ([`TestFile`], [`Case`]);
//! - `compare`: actual vs expected events, the unified diff and its colours ([`Style`]);
//! - `coverage`: the `--coverage` report.
//!
//! Each config is read, parsed and built once ([`Suite`]); only its filter sections are built
//! (inputs and outputs are ignored, as LFV replaces them). A case's input lines go through the
//! file's codec, get the file's and the case's `fields`, and run through
//! [`FilterGraph::process_counting`] as one batch, so a test file takes milliseconds.
//!
//! Which config a test file tests: `-f` / `-e` (or `path.config` / `config.string` in
//! `--settings`) for all of them; otherwise, per file, the `*.conf` files of the nearest folder
//! that has some, or of a `filters/` folder beside one, from the test file's own folder upwards
//! (`filters/apache/tests/access.yml` tests `filters/apache/`, `repo/tests/a.yml` tests
//! `repo/filters/`).

mod case_file;
mod compare;
mod coverage;

use std::fmt::Write as _;
use std::io::Write as _;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;

use crate::codecs::Codec;
use crate::config::ast::{self, SectionKind, Statement};
use crate::config::options::process_env;
use crate::config::{self, Diagnostic, Diagnostics, ParseOptions, PluginArgs, SourceMap, Spanned};
use crate::event::{Event, FieldPath, Text, Timestamp, Value};
use crate::plan::{self, BuildSettings, Coverage, FilterGraph};
use crate::registry;
use crate::settings::{ConfigSource, SettingsError};

use super::args::TestArgs;
use super::load::{read_sources, INLINE_NAME};

pub(crate) use case_file::event_fields;
pub use case_file::{Case, FileError, TestFile};
pub use compare::Style;

/// Runs every test file `args` names; true when every case passed. Results go to stdout,
/// ending with `N passed, N failed`.
pub fn run(args: &TestArgs) -> anyhow::Result<bool> {
    let settings = super::layered(args.common.settings.as_deref(), args.settings())?;
    super::init_logging(settings.log_level());
    let files = discover(&args.tests)?;
    let given = match settings.config_source() {
        Ok(source) => Some(source),
        Err(SettingsError::NoSource) => None,
        Err(e) => return Err(e.into()),
    };
    let options = Options {
        parse: settings.parse_options(),
        build: settings.build_settings(),
        style: Style::detect(),
    };
    let mut tally = Tally::default();
    let mut reports = Vec::new();
    for (source, files) in group_by_config(files, given.as_ref(), &options, &mut tally) {
        let Some(mut suite) = Suite::load(&source, &options) else {
            for file in &files {
                tally.fail(&options, file, "not run: its config does not load");
            }
            continue;
        };
        for file in &files {
            suite.run_file(file, &options, &mut tally);
        }
        if args.coverage {
            reports.push(suite.coverage_report(options.style));
        }
    }
    for report in reports {
        options.print(&format!("\n{report}"));
    }
    options.print(&format!(
        "{} passed, {} failed\n",
        tally.passed, tally.failed
    ));
    Ok(tally.failed == 0)
}

/// What every suite runs with, and where its results go.
struct Options {
    parse: ParseOptions,
    build: BuildSettings,
    style: Style,
}

impl Options {
    /// Writes to stdout. Write errors are ignored, so a reader that stops early (`| head`)
    /// neither panics sluice nor changes its exit status.
    fn print(&self, text: &str) {
        let _ = std::io::stdout().lock().write_all(text.as_bytes());
    }
}

/// Cases passed and failed so far; a test file that cannot be run counts as one failure.
#[derive(Default)]
struct Tally {
    passed: usize,
    failed: usize,
}

impl Tally {
    fn fail(&mut self, options: &Options, file: &Path, message: &str) {
        self.failed += 1;
        let tag = options.style.bold_red("FAIL");
        options.print(&format!("{tag} {}: {message}\n", file.display()));
    }
}

/// The test files `paths` name: files as given, folders searched recursively for `*.json`,
/// `*.yaml` and `*.yml`, each folder's files sorted.
fn discover(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut found = Vec::new();
            walk(path, &mut found)?;
            found.sort();
            files.extend(found);
        } else if path.exists() {
            files.push(path.clone());
        } else {
            anyhow::bail!("test path {} does not exist", path.display());
        }
    }
    if files.is_empty() {
        anyhow::bail!("no test files (*.json, *.yaml, *.yml) found");
    }
    Ok(files)
}

pub(crate) fn walk(dir: &Path, found: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| anyhow::anyhow!("cannot read folder {}: {e}", dir.display()))?;
    for entry in entries {
        let path = entry?.path();
        if path.is_dir() {
            walk(&path, found)?;
        } else if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(case_file::is_test_extension)
        {
            found.push(path);
        }
    }
    Ok(())
}

/// The test files grouped by the config they test, groups in order of their first file.
/// Files with no config to test are counted as failed here.
fn group_by_config(
    files: Vec<PathBuf>,
    given: Option<&ConfigSource>,
    options: &Options,
    tally: &mut Tally,
) -> Vec<(ConfigSource, Vec<PathBuf>)> {
    let mut groups: Vec<(ConfigSource, Vec<PathBuf>)> = Vec::new();
    for file in files {
        let source = match given {
            Some(source) => source.clone(),
            None => match default_config(&file) {
                Some(folder) => ConfigSource::Paths(vec![folder]),
                None => {
                    let message = "no *.conf files in its folder, above it, or in a filters/ folder beside them: use -f CONFIG";
                    tally.fail(options, &file, message);
                    continue;
                }
            },
        };
        match groups.iter_mut().find(|(s, _)| *s == source) {
            Some((_, group)) => group.push(file),
            None => groups.push((source, vec![file])),
        }
    }
    groups
}

/// The config for a test file: from the test file's own folder upwards, the first folder
/// holding `*.conf` files, or else a `filters/` folder beside it that does
/// (`filters/apache/tests/access.yml` tests `filters/apache/`; `repo/tests/a.yml` tests
/// `repo/filters/`). The walk follows the path as given, so it ends at its first component.
fn default_config(file: &Path) -> Option<PathBuf> {
    let start = file.parent().unwrap_or(Path::new(""));
    start.ancestors().find_map(|dir| {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        if has_conf_files(dir) {
            return Some(dir.to_path_buf());
        }
        let filters = dir.join("filters");
        has_conf_files(&filters).then_some(filters)
    })
}

fn has_conf_files(dir: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries.filter_map(Result::ok).any(|entry| {
        let path = entry.path();
        path.extension().is_some_and(|e| e == "conf") && path.is_file()
    })
}

/// One config, built, with the coverage its test files have gathered.
struct Suite {
    name: String,
    sources: SourceMap,
    /// The whole config: its inputs name codecs (`input_plugin`), its filters locate coverage.
    config: ast::Config,
    graph: FilterGraph,
    coverage: Coverage,
}

impl Suite {
    /// Reads, parses and builds the filter sections of `source`; problems are printed.
    fn load(source: &ConfigSource, options: &Options) -> Option<Suite> {
        let name = config_name(source);
        match catch_unwind(AssertUnwindSafe(|| Self::build(source, options, &name))) {
            Ok(Ok(suite)) => Some(suite),
            Ok(Err(message)) => {
                options.print(&format!("error: config {name} does not load:\n{message}\n"));
                None
            }
            Err(panic) => {
                options.print(&format!(
                    "error: config {name} does not load: a plugin panicked while building: {}\n",
                    panic_message(&*panic)
                ));
                None
            }
        }
    }

    fn build(source: &ConfigSource, options: &Options, name: &str) -> Result<Suite, String> {
        let sources = read_sources(source).map_err(|e| e.to_string())?;
        let config = config::parse(&sources, options.parse).map_err(|d| d.render(&sources))?;
        let filters = config.only_filters();
        let plan = plan::build_with(&filters, &process_env, options.build.clone())
            .map_err(|d| d.render(&sources))?;
        let coverage = plan.filters.coverage();
        Ok(Suite {
            name: name.to_string(),
            sources,
            config,
            graph: plan.filters,
            coverage,
        })
    }

    /// Runs every case of one test file and prints the failures (or one `PASS` line).
    fn run_file(&mut self, path: &Path, options: &Options, tally: &mut Tally) {
        let file = match TestFile::load(path) {
            Ok(file) if file.cases.is_empty() => {
                return tally.fail(options, path, "invalid test file: it has no test cases");
            }
            Ok(file) => file,
            Err(e) => return tally.fail(options, path, &format!("invalid test file: {e}")),
        };
        let codec = match self.codec(&file, options.build.clone()) {
            Ok(codec) => codec,
            Err(e) => return tally.fail(options, path, &e),
        };
        let mut failed = 0;
        for (i, case) in file.cases.iter().enumerate() {
            let problems = self.run_case(&file, case, &*codec, options.style);
            if problems.is_empty() {
                tally.passed += 1;
                continue;
            }
            failed += 1;
            let label = case_label(i, case);
            for (reason, diff) in problems {
                print_failure(options, path, &label, &reason, &diff);
            }
        }
        tally.failed += failed;
        if failed == 0 {
            let n = file.cases.len();
            let cases = if n == 1 { "case" } else { "cases" };
            let tag = options.style.green("PASS");
            options.print(&format!("{tag} {} ({n} {cases})\n", path.display()));
        }
    }

    /// Runs one case; returns its problems as (reason, diff) pairs, empty when it passed.
    fn run_case(
        &mut self,
        file: &TestFile,
        case: &Case,
        codec: &dyn Codec,
        style: Style,
    ) -> Vec<(String, String)> {
        let graph = &self.graph;
        let coverage = &mut self.coverage;
        let ran = catch_unwind(AssertUnwindSafe(|| {
            let mut events = case_events(file, case, codec);
            graph.process_counting(&mut events, coverage);
            events
        }));
        let events = match ran {
            Ok(events) => events,
            Err(panic) => {
                let reason = format!("a filter panicked: {}", panic_message(&*panic));
                return vec![(reason, String::new())];
            }
        };
        compare::compare_case(file, &case.expected, &events)
            .into_iter()
            .map(|m| {
                let diff = compare::render_diff(&m.expected, &m.actual, style);
                (m.reason, diff)
            })
            .collect()
    }

    /// The file's `codec`, else the codec of the config input its `input_plugin` names, else
    /// `line`.
    fn codec(&self, file: &TestFile, build: BuildSettings) -> Result<Arc<dyn Codec>, String> {
        if let Some(text) = &file.codec {
            return codec_from_text(text, build);
        }
        let Some(id) = &file.input_plugin else {
            return codec_from_text("line", build);
        };
        let input = self.input_with_id(id).ok_or_else(|| {
            format!(
                "input_plugin {id:?}: no input with that id in {}",
                self.name
            )
        })?;
        let render = |d: Diagnostics| d.render(&self.sources);
        match input.attributes.iter().find(|a| a.name.node == "codec") {
            Some(codec) => codec_from_value(&codec.value, build).map_err(render),
            None => {
                let default =
                    registry::input(&input.name.node).map_or("plain", |s| s.default_codec);
                codec_from_text(default, build)
            }
        }
    }

    /// The input plugin whose `id` is `id`.
    fn input_with_id(&self, id: &str) -> Option<&ast::Plugin> {
        let inputs = self
            .config
            .sections
            .iter()
            .filter(|s| s.kind == SectionKind::Input)
            .flat_map(|s| &s.body);
        inputs
            .filter_map(|statement| match statement {
                Statement::Plugin(p) => Some(p),
                Statement::If(_) => None,
            })
            .find(|p| {
                p.attributes.iter().any(|a| {
                    a.name.node == "id"
                        && matches!(&a.value.node,
                            ast::Value::String(s) | ast::Value::Bareword(s) if s == id)
                })
            })
    }

    fn coverage_report(&self, style: Style) -> String {
        let rows = coverage::rows(&self.config, &self.sources, &self.graph, &self.coverage);
        coverage::render(&self.name, &rows, style)
    }
}

/// Prints one failing case's problem: a `FAIL` line, then the diff.
fn print_failure(options: &Options, path: &Path, label: &str, reason: &str, diff: &str) {
    let tag = options.style.bold_red("FAIL");
    options.print(&format!(
        "{tag} {}: {label}: {reason}\n{diff}",
        path.display()
    ));
}

/// `case 2` or `case 2 (its description)`.
fn case_label(index: usize, case: &Case) -> String {
    let mut label = format!("case {}", index + 1);
    if let Some(description) = &case.description {
        let _ = write!(label, " ({description})");
    }
    label
}

/// How a config is named in messages: its paths, or `<config string>`.
fn config_name(source: &ConfigSource) -> String {
    match source {
        ConfigSource::Text(_) => INLINE_NAME.to_string(),
        ConfigSource::Paths(paths) => {
            let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
            names.join(", ")
        }
    }
}

/// The case's input events: each input decoded by `codec` (a chunk without its trailing
/// newline, flushed, so a last line needs no delimiter), or, with no input, one event of fields
/// only. Then the file's fields and the case's are set.
fn case_events(file: &TestFile, case: &Case, codec: &dyn Codec) -> Vec<Event> {
    input_events(&case.input, file.fields.iter().chain(&case.fields), codec)
}

/// Each input decoded by `codec` (see [`case_events`]), then `fields` set on every event.
pub(crate) fn input_events<'f>(
    inputs: &[String],
    fields: impl Iterator<Item = &'f (FieldPath, Value)> + Clone,
    codec: &dyn Codec,
) -> Vec<Event> {
    let now = Timestamp::now();
    let mut events = Vec::with_capacity(inputs.len().max(1));
    if inputs.is_empty() {
        events.push(Event::new(now));
    } else {
        let mut decoder = codec.decoder();
        for input in inputs {
            let chunk = input.strip_suffix('\n').unwrap_or(input);
            decoder.decode(Bytes::copy_from_slice(chunk.as_bytes()), now, &mut events);
            decoder.flush(now, &mut events);
        }
    }
    for event in &mut events {
        expand_bracket_keys(event);
        for (path, value) in fields.clone() {
            event.insert(path, value.clone());
        }
    }
    events
}

/// Moves top-level `[a][b]` keys (as JSON inputs may write them, which LFV allows) to the
/// nested fields they name.
fn expand_bracket_keys(event: &mut Event) {
    let bracketed: Vec<Text> = event
        .fields()
        .keys()
        .filter(|k| k.starts_with('['))
        .cloned()
        .collect();
    for key in bracketed {
        let Ok(path) = FieldPath::parse(&key) else {
            continue;
        };
        if let Some(value) = event.fields_mut().remove(&key) {
            event.insert(&path, value);
        }
    }
}

/// Builds the codec written as `text` (`json_lines`, `plain { charset => "ISO-8859-1" }`).
pub(crate) fn codec_from_text(text: &str, build: BuildSettings) -> Result<Arc<dyn Codec>, String> {
    let wrapped = format!("input {{ stdin {{ codec => {text}\n}} }}");
    let sources = SourceMap::single("<codec>", &wrapped);
    let render = |d: Diagnostics| format!("codec {text:?}: {}", d.render(&sources).trim_end());
    let config = config::parse(&sources, ParseOptions::default()).map_err(render)?;
    let value = config
        .sections
        .first()
        .and_then(|s| s.body.first())
        .and_then(|statement| match statement {
            Statement::Plugin(p) => p.attributes.first(),
            Statement::If(_) => None,
        })
        .map(|a| &a.value);
    match value {
        Some(value) => codec_from_value(value, build).map_err(render),
        None => Err(format!("codec {text:?}: expected a codec name")),
    }
}

/// Builds the codec a `codec =>` value names, as the plan builds an input's codec.
fn codec_from_value(
    value: &Spanned<ast::Value>,
    build: BuildSettings,
) -> Result<Arc<dyn Codec>, Diagnostics> {
    let plugin = match &value.node {
        ast::Value::Plugin(p) => p.clone(),
        ast::Value::String(name) | ast::Value::Bareword(name) => ast::Plugin {
            name: Spanned::new(name.clone(), value.span),
            attributes: Vec::new(),
            span: value.span,
        },
        other => {
            let message = format!("expected a codec, got {}", other.kind_name());
            return Err(Diagnostics(vec![Diagnostic::new(value.span, message)]));
        }
    };
    let Some(spec) = registry::codec(&plugin.name.node) else {
        let mut names: Vec<&str> = registry::CODECS.iter().map(|c| c.name).collect();
        names.sort_unstable();
        let message = format!(
            "unknown codec \"{}\" (known: {})",
            plugin.name.node,
            names.join(", ")
        );
        return Err(Diagnostics(vec![Diagnostic::new(
            plugin.name.span,
            message,
        )]));
    };
    let args =
        PluginArgs::new(&plugin, &process_env).with_ecs_compatibility(build.ecs_compatibility);
    (spec.build)(&args)
}

/// The text a panic was raised with.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "(no message)".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_config_is_the_nearest_folder_with_conf_files() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("set/tests/deeper")).unwrap();
        std::fs::create_dir_all(root.join("bare/tests")).unwrap();
        std::fs::write(root.join("set/10.conf"), "filter {}").unwrap();
        std::fs::write(root.join("set/tests/notes.conf.txt"), "").unwrap();
        assert_eq!(
            default_config(&root.join("set/tests/x.yml")),
            Some(root.join("set"))
        );
        assert_eq!(
            default_config(&root.join("set/tests/deeper/x.yml")),
            Some(root.join("set"))
        );
        assert_eq!(
            default_config(&root.join("set/x.yml")),
            Some(root.join("set"))
        );
        let bare = default_config(&root.join("bare/tests/x.yml"));
        assert!(
            bare.as_ref().is_none_or(|found| !found.starts_with(root)),
            "{bare:?}"
        );
        std::fs::create_dir_all(root.join("repo/tests")).unwrap();
        std::fs::create_dir_all(root.join("repo/filters")).unwrap();
        std::fs::write(root.join("repo/filters/10.conf"), "filter {}").unwrap();
        assert_eq!(
            default_config(&root.join("repo/tests/x.yml")),
            Some(root.join("repo/filters"))
        );
    }

    #[test]
    fn a_relative_path_without_config_ends_the_search() {
        // Walking up "" used to loop for ever between "" and ".".
        assert_eq!(default_config(Path::new("no-such-dir-xyz/x.yml")), None);
        assert_eq!(
            default_config(Path::new("x.yml")),
            has_conf_files(Path::new(".")).then(|| PathBuf::from("."))
        );
    }

    #[test]
    fn codecs_come_from_names_and_plugin_text() {
        let build = BuildSettings::default;
        let json_lines = codec_from_text("json_lines", build()).unwrap();
        let mut events = Vec::new();
        let mut decoder = json_lines.decoder();
        decoder.decode(
            Bytes::from_static(b"{\"a\":1}\n{\"a\":2}"),
            Timestamp::from_secs(0),
            &mut events,
        );
        decoder.flush(Timestamp::from_secs(0), &mut events);
        assert_eq!(events.len(), 2);
        assert!(codec_from_text("line { delimiter => \"|\" }", build()).is_ok());
        let unknown = codec_from_text("jsn", build()).err().unwrap();
        assert!(unknown.contains("unknown codec \"jsn\""), "{unknown}");
        let bad_option = codec_from_text("line { nope => 1 }", build())
            .err()
            .unwrap();
        assert!(bad_option.contains("nope"), "{bad_option}");
    }

    fn line() -> Arc<dyn Codec> {
        codec_from_text("line", BuildSettings::default()).unwrap()
    }

    fn field<'e>(event: &'e Event, name: &str) -> Option<&'e str> {
        event.get_field(name).and_then(|v| v.as_str())
    }

    #[test]
    fn case_events_decode_each_input_and_set_fields_over_them() {
        let file = TestFile::from_yaml(
            "fields: {type: t, tenant: x}\ntestcases:\n  - input: [\"a\\n\", \"b\\nc\"]\n    fields: {type: u}\n",
        )
        .unwrap();
        let events = case_events(&file, &file.cases[0], &*line());
        let messages: Vec<_> = events.iter().map(|e| e.message().unwrap()).collect();
        assert_eq!(messages, ["a", "b", "c"]);
        for event in &events {
            assert_eq!(field(event, "type"), Some("u"));
            assert_eq!(field(event, "tenant"), Some("x"));
        }
    }

    #[test]
    fn bracketed_keys_of_json_inputs_become_nested_fields() {
        let json = codec_from_text("json_lines", BuildSettings::default()).unwrap();
        let file =
            TestFile::from_json(r#"{"testcases": [{"input": ["{\"[a][b]\": 1}"]}]}"#).unwrap();
        let events = case_events(&file, &file.cases[0], &*json);
        let path = FieldPath::parse("[a][b]").unwrap();
        assert_eq!(events[0].get(&path), Some(&crate::event::Value::Int(1)));
        assert!(events[0].get_field("[a][b]").is_none());
    }

    #[test]
    fn a_case_without_input_is_one_event_of_fields() {
        let file =
            TestFile::from_yaml("fields: {type: t}\ntestcases:\n  - expected: []\n").unwrap();
        let events = case_events(&file, &file.cases[0], &*line());
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].message(), None);
        assert_eq!(field(&events[0], "type"), Some("t"));
    }
}
