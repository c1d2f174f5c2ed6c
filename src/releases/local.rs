//! The worker's own config files, reloaded while it runs ([`LocalConfig`]): on SIGHUP, and
//! every `config.reload.interval` with `-r`.
//!
//! A reload re-reads and parses the files. A change of the filter sections only is swapped into
//! the running pipeline; when the input or output sections changed (their text, comments
//! included), the whole new plan is built and the pipeline is restarted with it (drained, then
//! started again), as Logstash does. With `filters.repo`, the filters come from the releases:
//! a change of inputs or outputs is refused (restart the process to apply it).

use crate::cli::load::{parse_with_defaults, read_sources, ConfigError};
use crate::config::ast::{Config, SectionKind};
use crate::config::options::process_env;
use crate::config::{Diagnostic, ParseOptions, SourceMap};
use crate::plan::{self, BuildSettings, FilterGraph, Plan};
use crate::settings::ConfigSource;

/// The local config as it was last loaded, and how to load it again.
pub struct LocalConfig {
    source: ConfigSource,
    parse: ParseOptions,
    build: BuildSettings,
    /// With `filters.repo`: the local config supplies inputs and outputs only.
    filters_from_repo: bool,
    /// What the files held when last read (or why they could not be read), to notice changes.
    seen: String,
    /// The text of the running input and output sections, and of the filter sections.
    running_io: String,
    running_filters: String,
    /// Whether the running pipeline reads stdin, which a restart would lose lines of.
    running_stdin: bool,
}

/// What a reload check found.
pub enum LocalChange {
    /// Nothing to apply.
    Unchanged,
    /// New filters that built: to be switched in.
    Filters(FilterGraph),
    /// New inputs or outputs: the whole plan, built, to restart the pipeline with.
    Restart(Plan),
    /// A change that cannot be applied, with why (rendered diagnostics for config errors).
    Refused(String),
}

impl LocalConfig {
    /// Loads the config for the start of a run. With `filters_from_repo`, a filter section in
    /// it is an error (the filters come from `filters.repo`) and the plan has no filters.
    pub fn load(
        source: ConfigSource,
        parse: ParseOptions,
        build: BuildSettings,
        filters_from_repo: bool,
    ) -> Result<(LocalConfig, Plan), ConfigError> {
        let mut sources = read_sources(&source)?;
        let seen = sources.text().to_string();
        let ast = parse_checked(&mut sources, parse, filters_from_repo)?;
        let plan = plan::build_with(&ast, &process_env, build.clone())
            .map_err(|d| ConfigError::Invalid(d.render(&sources)))?;
        let local = LocalConfig {
            running_stdin: reads_stdin(&plan),
            running_io: section_text(&ast, &sources, |k| k != SectionKind::Filter),
            running_filters: section_text(&ast, &sources, |k| k == SectionKind::Filter),
            source,
            parse,
            build,
            filters_from_repo,
            seen,
        };
        Ok((local, plan))
    }

    /// Re-reads the files when they changed (or always, when `forced`) and says what to do.
    pub fn check(&mut self, forced: bool) -> LocalChange {
        let read = read_sources(&self.source);
        let seen = match &read {
            Ok(sources) => sources.text().to_string(),
            Err(e) => format!("unreadable: {e}"),
        };
        if seen == self.seen && !forced {
            return LocalChange::Unchanged;
        }
        self.seen = seen;
        let mut sources = match read {
            Ok(sources) => sources,
            Err(e) => return LocalChange::Refused(e.to_string()),
        };
        let ast = match parse_checked(&mut sources, self.parse, self.filters_from_repo) {
            Ok(ast) => ast,
            Err(e) => return LocalChange::Refused(e.to_string()),
        };
        let io = section_text(&ast, &sources, |k| k != SectionKind::Filter);
        let filters = section_text(&ast, &sources, |k| k == SectionKind::Filter);
        if io != self.running_io {
            if self.filters_from_repo {
                return LocalChange::Refused(
                    "the input or output sections changed: with filters.repo, restart the \
                     process to apply them"
                        .to_string(),
                );
            }
            return match plan::build_with(&ast, &process_env, self.build.clone()) {
                Ok(plan) if self.running_stdin || reads_stdin(&plan) => LocalChange::Refused(
                    "the input or output sections changed, but a pipeline reading stdin \
                     cannot be restarted (as in Logstash): restart the process to apply them"
                        .to_string(),
                ),
                Ok(plan) => {
                    (self.running_io, self.running_filters) = (io, filters);
                    LocalChange::Restart(plan)
                }
                Err(d) => LocalChange::Refused(d.render(&sources)),
            };
        }
        if filters == self.running_filters {
            return LocalChange::Unchanged;
        }
        match plan::build_with(&ast.only_filters(), &process_env, self.build.clone()) {
            Ok(plan) => {
                self.running_filters = filters;
                LocalChange::Filters(plan.filters)
            }
            Err(d) => LocalChange::Refused(d.render(&sources)),
        }
    }
}

/// Parses with the default input and output; with `filters_from_repo`, refuses filter
/// sections.
fn parse_checked(
    sources: &mut SourceMap,
    parse: ParseOptions,
    filters_from_repo: bool,
) -> Result<Config, ConfigError> {
    let ast = parse_with_defaults(sources, parse)?;
    if filters_from_repo {
        let diagnostics: Vec<Diagnostic> = ast
            .sections
            .iter()
            .filter(|s| s.kind == SectionKind::Filter)
            .map(|s| {
                Diagnostic::new(
                    s.kind_span,
                    "with filters.repo set, the filters come from the repository's releases",
                )
                .with_help("remove this filter section (inputs and outputs stay here)")
            })
            .collect();
        if !diagnostics.is_empty() {
            let rendered = crate::config::Diagnostics(diagnostics).render(sources);
            return Err(ConfigError::Invalid(rendered));
        }
    }
    Ok(ast)
}

/// Whether `plan` reads stdin: its reader cannot be stopped and started again without losing
/// what it had read ahead.
fn reads_stdin(plan: &Plan) -> bool {
    plan.inputs.iter().any(|i| i.name == "stdin")
}

/// The text of the sections whose kind `keep` accepts, one after another.
fn section_text(ast: &Config, sources: &SourceMap, keep: impl Fn(SectionKind) -> bool) -> String {
    let mut text = String::new();
    for section in ast.sections.iter().filter(|s| keep(s.kind)) {
        text.push_str(sources.slice(section.span));
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    const IO: &str = "input { generator { count => 1 } }\noutput { null {} }\n";

    fn load(dir: &std::path::Path, repo: bool) -> Result<LocalConfig, ConfigError> {
        let source = ConfigSource::Paths(vec![dir.join("main.conf")]);
        LocalConfig::load(source, ParseOptions::default(), Default::default(), repo).map(|l| l.0)
    }

    fn write(dir: &std::path::Path, filters: &str) {
        std::fs::write(
            dir.join("main.conf"),
            format!("{IO}filter {{ {filters} }}\n"),
        )
        .unwrap();
    }

    #[test]
    fn a_filter_change_is_swapped_and_a_broken_one_refused() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "mutate { add_tag => [\"a\"] }");
        let mut local = load(dir.path(), false).unwrap();
        assert!(matches!(local.check(false), LocalChange::Unchanged));
        write(dir.path(), "mutate { add_tag => [\"b\"] }");
        assert!(matches!(local.check(false), LocalChange::Filters(_)));
        assert!(matches!(local.check(false), LocalChange::Unchanged));
        write(dir.path(), "mutate { add_tagz => [\"c\"] }");
        match local.check(false) {
            LocalChange::Refused(why) => assert!(why.contains("main.conf:3:"), "{why}"),
            _ => panic!("a broken filter must be refused"),
        }
        // Refused once; reported again only when forced (SIGHUP).
        assert!(matches!(local.check(false), LocalChange::Unchanged));
        assert!(matches!(local.check(true), LocalChange::Refused(_)));
    }

    #[test]
    fn an_output_change_restarts_and_a_broken_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "");
        let mut local = load(dir.path(), false).unwrap();
        let conf = dir.path().join("main.conf");
        std::fs::write(
            &conf,
            "input { generator { count => 1 } }\noutput { stdout {} }\n",
        )
        .unwrap();
        match local.check(false) {
            LocalChange::Restart(plan) => assert_eq!(plan.outputs[0].name, "stdout"),
            _ => panic!("an output change must restart the pipeline"),
        }
        assert!(matches!(local.check(false), LocalChange::Unchanged));
        std::fs::write(
            &conf,
            "input { generator { count => 1 } }\noutput { stdoutt {} }\n",
        )
        .unwrap();
        match local.check(false) {
            LocalChange::Refused(why) => assert!(why.contains("main.conf:2:"), "{why}"),
            _ => panic!("a broken output must be refused"),
        }
        // With a filter repository, inputs and outputs are not restarted.
        std::fs::write(
            &conf,
            "input { generator { count => 1 } }\noutput { stdout {} }\n",
        )
        .unwrap();
        let mut local = load(dir.path(), true).unwrap_or_else(|_| panic!("loads"));
        std::fs::write(
            &conf,
            "input { generator { count => 2 } }\noutput { stdout {} }\n",
        )
        .unwrap();
        match local.check(false) {
            LocalChange::Refused(why) => assert!(why.contains("restart the process"), "{why}"),
            _ => panic!("with filters.repo an input change is refused"),
        }
    }

    #[test]
    fn with_a_repo_a_local_filter_section_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "");
        let Err(ConfigError::Invalid(error)) = load(dir.path(), true) else {
            panic!("a filter section must be refused with filters.repo");
        };
        assert!(error.contains("main.conf:3:1"), "{error}");
        std::fs::write(dir.path().join("main.conf"), IO).unwrap();
        assert!(load(dir.path(), true).is_ok());
    }
}
