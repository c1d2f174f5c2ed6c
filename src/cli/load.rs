//! From a [`ConfigSource`] to a validated [`Plan`]: reading `-f` files and folders into a
//! [`SourceMap`], adding the default input and output a config leaves out, parsing, and building
//! the plan. Problems come back as one [`ConfigError`] holding every rendered diagnostic.

use std::path::{Path, PathBuf};

use crate::config::ast::{Config, SectionKind};
use crate::config::options::process_env;
use crate::config::{self, Diagnostics, ParseOptions, SourceMap};
use crate::plan::{self, BuildSettings, Plan};
use crate::settings::ConfigSource;

/// The name `-e` text goes by in messages.
pub const INLINE_NAME: &str = "<config string>";
/// Appended when a config has no input section, as `logstash -e` does.
pub const DEFAULT_INPUT: (&str, &str) = ("<default input>", "input { stdin {} }");
/// Appended when a config has no output section, as `logstash -e` does.
pub const DEFAULT_OUTPUT: (&str, &str) = (
    "<default output>",
    "output { stdout { codec => rubydebug } }",
);

/// A config that cannot run.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Parse or validation problems, rendered (`path:line:col: message`, source line, caret).
    #[error("{0}")]
    Invalid(String),
    #[error("cannot read config {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no *.conf files in folder {0}")]
    EmptyFolder(PathBuf),
    #[error("no config file matches {0}")]
    NoMatch(String),
    #[error("invalid config path pattern {pattern}: {reason}")]
    BadPattern {
        pattern: String,
        reason: &'static str,
    },
}

/// Reads the config text: `-f` paths file by file (folders as their `*.conf` files in lexical
/// order), so diagnostics name the right file; or the `-e` text.
pub fn read_sources(source: &ConfigSource) -> Result<SourceMap, ConfigError> {
    let mut sources = SourceMap::new();
    match source {
        ConfigSource::Text(text) => sources.add(INLINE_NAME, text),
        ConfigSource::Paths(paths) => {
            for file in config_files(paths)? {
                let text = std::fs::read_to_string(&file).map_err(|source| ConfigError::Read {
                    path: file.clone(),
                    source,
                })?;
                sources.add(&file.display().to_string(), &text);
            }
        }
    }
    Ok(sources)
}

/// Expands folders into their `*.conf` files and glob patterns (`conf.d/*.conf`, as Logstash's
/// `path.config` accepts) into the files they match, each sorted by name.
pub(crate) fn config_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, ConfigError> {
    let mut files = Vec::new();
    for path in paths {
        if let Some(matches) = glob_matches(path)? {
            files.extend(matches);
            continue;
        }
        if !path.is_dir() {
            files.push(path.clone());
            continue;
        }
        let read_err = |source| ConfigError::Read {
            path: path.clone(),
            source,
        };
        let mut found = Vec::new();
        for entry in std::fs::read_dir(path).map_err(read_err)? {
            let file = entry.map_err(read_err)?.path();
            if file.extension().is_some_and(|e| e == "conf") && file.is_file() {
                found.push(file);
            }
        }
        if found.is_empty() {
            return Err(ConfigError::EmptyFolder(path.clone()));
        }
        found.sort();
        files.extend(found);
    }
    Ok(files)
}

/// The files a path with glob characters matches, sorted; `None` for a plain path (or one that
/// exists as written, whatever its characters).
fn glob_matches(path: &Path) -> Result<Option<Vec<PathBuf>>, ConfigError> {
    let text = path.to_string_lossy();
    if path.exists() || !text.contains(['*', '?', '[']) {
        return Ok(None);
    }
    let pattern = glob::glob(&text).map_err(|e| ConfigError::BadPattern {
        pattern: text.to_string(),
        reason: e.msg,
    })?;
    let mut found: Vec<PathBuf> = pattern
        .filter_map(Result::ok)
        .filter(|p| p.is_file())
        .collect();
    if found.is_empty() {
        return Err(ConfigError::NoMatch(text.to_string()));
    }
    found.sort();
    Ok(Some(found))
}

/// Parses `sources`, first appending [`DEFAULT_INPUT`] / [`DEFAULT_OUTPUT`] for sections the
/// config lacks, so the defaults go through the parser like any config text.
pub fn parse_with_defaults(
    sources: &mut SourceMap,
    options: ParseOptions,
) -> Result<Config, ConfigError> {
    let ast = config::parse(sources, options).map_err(|d| invalid(&d, sources))?;
    let has = |kind| ast.sections.iter().any(|s| s.kind == kind);
    let (has_input, has_output) = (has(SectionKind::Input), has(SectionKind::Output));
    if has_input && has_output {
        return Ok(ast);
    }
    if !has_input {
        sources.add(DEFAULT_INPUT.0, DEFAULT_INPUT.1);
    }
    if !has_output {
        sources.add(DEFAULT_OUTPUT.0, DEFAULT_OUTPUT.1);
    }
    config::parse(sources, options).map_err(|d| invalid(&d, sources))
}

/// Reads, parses and builds: everything short of running.
pub fn load_plan(
    source: &ConfigSource,
    options: ParseOptions,
    settings: BuildSettings,
) -> Result<Plan, ConfigError> {
    let mut sources = read_sources(source)?;
    plan_from_sources(&mut sources, options, settings)
}

/// Parses (with defaults) and builds a plan from config text already gathered.
pub fn plan_from_sources(
    sources: &mut SourceMap,
    options: ParseOptions,
    settings: BuildSettings,
) -> Result<Plan, ConfigError> {
    let ast = parse_with_defaults(sources, options)?;
    plan::build_with(&ast, &process_env, settings).map_err(|d| invalid(&d, sources))
}

fn invalid(diagnostics: &Diagnostics, sources: &SourceMap) -> ConfigError {
    ConfigError::Invalid(diagnostics.render(sources))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_expand_to_sorted_conf_files_only() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["20-b.conf", "10-a.conf", "notes.txt"] {
            std::fs::write(dir.path().join(name), "filter {}").unwrap();
        }
        std::fs::create_dir(dir.path().join("sub.conf")).unwrap();
        let files = config_files(&[dir.path().to_path_buf()]).unwrap();
        let names: Vec<_> = files
            .iter()
            .map(|f| f.file_name().unwrap().to_str().unwrap())
            .collect();
        assert_eq!(names, ["10-a.conf", "20-b.conf"]);
    }

    #[test]
    fn an_empty_folder_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            config_files(&[dir.path().to_path_buf()]),
            Err(ConfigError::EmptyFolder(_))
        ));
    }

    #[test]
    fn each_file_is_named_in_the_source_map() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.conf"), "input {}").unwrap();
        std::fs::write(dir.path().join("b.conf"), "output {}").unwrap();
        let sources = read_sources(&ConfigSource::Paths(vec![dir.path().to_path_buf()])).unwrap();
        let at = sources.text().find("output").unwrap() as u32;
        let expected = dir.path().join("b.conf").display().to_string();
        assert_eq!(sources.locate(at).path, expected);
    }

    #[test]
    fn glob_patterns_expand_to_sorted_matches() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["20-b.conf", "10-a.conf", "30-c.conf.bak"] {
            std::fs::write(dir.path().join(name), "filter {}").unwrap();
        }
        let pattern = dir.path().join("*.conf");
        let files = config_files(&[pattern]).unwrap();
        let names: Vec<_> = files
            .iter()
            .map(|f| f.file_name().unwrap().to_str().unwrap())
            .collect();
        assert_eq!(names, ["10-a.conf", "20-b.conf"]);
        assert!(matches!(
            config_files(&[dir.path().join("*.yml")]),
            Err(ConfigError::NoMatch(_))
        ));
    }

    #[test]
    fn a_missing_file_is_a_read_error() {
        let missing = ConfigSource::Paths(vec!["/nonexistent/sluice.conf".into()]);
        assert!(matches!(
            read_sources(&missing),
            Err(ConfigError::Read { .. })
        ));
    }
}
