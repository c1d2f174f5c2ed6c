//! Is a release good enough to switch to? Its filter sections must build exactly as
//! `sluice check` builds them ([`build_filters`]: diagnostics with `file:line:col`), and when
//! the repository has logstash-filter-verifier test files, `sluice test` must pass them
//! ([`run_tests`]), run as a child process of the same binary so a panicking or hanging case
//! cannot take the worker down.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::cli::load::read_sources;
use crate::config::ast::SectionKind;
use crate::config::options::{process_env, EcsCompatibility};
use crate::config::{self, ParseOptions};
use crate::plan::{self, BuildSettings, FilterGraph};
use crate::settings::ConfigSource;

use super::git::{run_with_timeout, RunError};

/// How long a release's `sluice test` run may take.
pub const TEST_TIMEOUT: Duration = Duration::from_secs(120);
/// How much of `sluice test`'s report a refusal quotes.
const REPORT_LIMIT: usize = 8 * 1024;

/// Reads the `.conf` files of `folder` (sorted, as `-f FOLDER` reads them) and builds their
/// filter sections. Input and output sections are skipped with a warning: with releases, the
/// worker's own config supplies them. Errors are rendered diagnostics.
pub fn build_filters(
    folder: &Path,
    parse: ParseOptions,
    build: BuildSettings,
) -> Result<FilterGraph, String> {
    let sources = read_sources(&ConfigSource::Paths(vec![folder.to_path_buf()]))
        .map_err(|e| e.to_string())?;
    let config = config::parse(&sources, parse).map_err(|d| d.render(&sources))?;
    for section in &config.sections {
        if section.kind != SectionKind::Filter {
            let at = sources.locate(section.kind_span.start);
            tracing::warn!(
                file = %at.path,
                line = at.line,
                "a release's {:?} section is ignored: inputs and outputs come from the worker's own config",
                section.kind
            );
        }
    }
    let filters = config.only_filters();
    let built = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        plan::build_with(&filters, &process_env, build)
    }));
    match built {
        Ok(Ok(plan)) => Ok(plan.filters),
        Ok(Err(diagnostics)) => Err(diagnostics.render(&sources)),
        Err(_) => Err("a filter plugin panicked while building".to_string()),
    }
}

/// The folders of a checked-out release holding its test files: `tests/` inside the filters
/// folder and at the repository's root, those that exist.
pub fn test_folders(checkout: &Path, filters: &Path) -> Vec<PathBuf> {
    let mut folders = vec![filters.join("tests")];
    if filters != checkout {
        folders.push(checkout.join("tests"));
    }
    folders.retain(|f| f.is_dir());
    folders
}

/// Runs `sluice test FOLDERS -f FILTERS`; `Err` holds its report when a case failed.
pub fn run_tests(
    sluice: &Path,
    folders: &[PathBuf],
    filters: &Path,
    ecs: EcsCompatibility,
) -> Result<(), String> {
    let ecs = match ecs {
        EcsCompatibility::Disabled => "disabled",
        EcsCompatibility::V1 => "v1",
        EcsCompatibility::V8 => "v8",
    };
    let mut command = Command::new(sluice);
    command
        .arg("test")
        .args(folders)
        .arg("-f")
        .arg(filters)
        .arg(format!("--pipeline.ecs_compatibility={ecs}"))
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let finished = match run_with_timeout(&mut command, TEST_TIMEOUT) {
        Ok(finished) => finished,
        Err(RunError::Spawn(e)) => {
            return Err(format!("cannot run {} test: {e}", sluice.display()))
        }
        Err(RunError::Timeout) => {
            return Err(format!(
                "sluice test did not finish within {TEST_TIMEOUT:?}"
            ))
        }
    };
    if finished.success {
        return Ok(());
    }
    let mut report = String::from_utf8_lossy(&finished.stdout).into_owned();
    report.push_str(&String::from_utf8_lossy(&finished.stderr));
    if report.len() > REPORT_LIMIT {
        let mut cut = REPORT_LIMIT;
        while !report.is_char_boundary(cut) {
            cut -= 1;
        }
        report.truncate(cut);
        report.push_str("\n[...]");
    }
    Err(format!("sluice test failed:\n{}", report.trim_end()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_sections_build_and_errors_name_the_file_and_position() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("10-a.conf"),
            "input { stdin {} }\nfilter { mutate { add_tag => [\"a\"] } }\n",
        )
        .unwrap();
        let graph = build_filters(dir.path(), ParseOptions::default(), Default::default());
        assert_eq!(graph.unwrap().nodes.len(), 1);

        std::fs::write(
            dir.path().join("20-b.conf"),
            "filter {\n  mutate { add_tagz => [\"b\"] }\n}\n",
        )
        .unwrap();
        let Err(error) = build_filters(dir.path(), ParseOptions::default(), Default::default())
        else {
            panic!("an unknown option must not build");
        };
        assert!(error.contains("20-b.conf:2:"), "{error}");
        assert!(error.contains("add_tagz"), "{error}");
    }

    #[test]
    fn test_folders_are_those_that_exist() {
        let dir = tempfile::tempdir().unwrap();
        let filters = dir.path().join("filters");
        std::fs::create_dir_all(filters.join("tests")).unwrap();
        assert_eq!(test_folders(dir.path(), &filters), [filters.join("tests")]);
        std::fs::create_dir_all(dir.path().join("tests")).unwrap();
        assert_eq!(test_folders(dir.path(), &filters).len(), 2);
        assert_eq!(
            test_folders(dir.path(), dir.path()),
            [dir.path().join("tests")]
        );
    }
}
