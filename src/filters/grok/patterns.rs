//! Grok pattern sets: the named regex definitions `%{NAME}` refers to.
//!
//! [`bundled`] is the one place that decides which built-in set a filter starts from (legacy
//! logstash-patterns-core, or the ECS set once one is bundled); [`PatternSet`] layers a filter's
//! own definitions on top of it: pattern files from `patterns_dir` ([`PatternSet::load_file`],
//! [`pattern_files`]) and `pattern_definitions`, later definitions replacing earlier ones as in
//! Logstash.
//!
//! The legacy set is the `grok` crate's copy of logstash-patterns-core (see [`legacy`] for how
//! it differs from v4.3.1, the version Logstash 8 ships and the compatibility cases come from).

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::config::options::EcsCompatibility;

/// Which built-in definitions a filter starts from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatternSetKind {
    /// logstash-patterns-core `patterns/legacy`: legacy field names (`clientip`, `verb`, ...).
    Legacy,
    /// logstash-patterns-core `patterns/ecs-v1`: ECS field names (`[source][address]`, ...).
    EcsV1,
}

/// The built-in set chosen for an `ecs_compatibility` mode.
#[derive(Clone, Copy, Debug)]
pub struct Bundled {
    pub kind: PatternSetKind,
    /// True when an ECS mode asked for the ECS set but none is bundled, so the legacy set is
    /// used instead (captures get legacy field names).
    pub ecs_fallback: bool,
    pub definitions: &'static Definitions,
}

/// Pattern name -> regex text.
pub type Definitions = HashMap<&'static str, &'static str>;

/// The built-in pattern set for `ecs`. Bundling the ECS-v1 set later means returning it here.
pub fn bundled(ecs: EcsCompatibility) -> Bundled {
    Bundled {
        kind: PatternSetKind::Legacy,
        ecs_fallback: ecs.is_ecs(),
        definitions: legacy(),
    }
}

/// The legacy set: the `grok` crate's copy of logstash-patterns-core, as the crate ships it.
///
/// That copy is not v4.3.1 (what Logstash 8 ships): some definitions are older (`BACULA_*`,
/// `BIND9`, `EXIM_*`, `HTTPD_*`, `SQUID3`, ...) and `SHOREWALL` and `SFW2` are the ECS
/// versions. Correcting it would mean committing logstash-patterns-core's definitions, which
/// waits on the lead's decision about bundling that project's pattern files.
fn legacy() -> &'static Definitions {
    static LEGACY: OnceLock<Definitions> = OnceLock::new();
    LEGACY.get_or_init(|| grok::patterns().iter().copied().collect())
}

/// The definitions one filter compiles its patterns against: a built-in set plus the filter's
/// own files and `pattern_definitions`, which replace built-in definitions of the same name.
#[derive(Clone, Debug)]
pub struct PatternSet {
    base: &'static Definitions,
    own: HashMap<String, String>,
}

impl PatternSet {
    pub fn new(base: &'static Definitions) -> PatternSet {
        PatternSet {
            base,
            own: HashMap::new(),
        }
    }

    /// The definition of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        match self.own.get(name) {
            Some(d) => Some(d),
            None => self.base.get(name).copied(),
        }
    }

    /// Adds or replaces a definition.
    pub fn insert(&mut self, name: &str, definition: &str) {
        self.own.insert(name.to_string(), definition.to_string());
    }

    /// Every defined name (for suggestions).
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.base
            .keys()
            .copied()
            .chain(self.own.keys().map(String::as_str))
    }

    /// Reads a pattern file: one `NAME regex` per line; lines starting with `#` (after
    /// optional whitespace) are comments; a line without whitespace after its name defines
    /// nothing. As in Logstash, the regex keeps trailing spaces (only the line end is removed).
    pub fn load_file(&mut self, path: &Path) -> io::Result<()> {
        let text = std::fs::read_to_string(path)?;
        self.load_text(&text);
        Ok(())
    }

    /// Adds the definitions of a pattern file's text.
    pub fn load_text(&mut self, text: &str) {
        for line in text.split_inclusive('\n') {
            if let Some((name, definition)) = parse_line(line) {
                self.insert(name, definition);
            }
        }
    }
}

/// One line of a pattern file, as logstash's grok reads it (`split(/\s+/, 2)` then `chomp`):
/// leading whitespace skipped, the name up to the first whitespace run, the rest minus the line
/// end is the definition. `FOO\n` defines `FOO` as empty; a last line `FOO` defines nothing.
fn parse_line(line: &str) -> Option<(&str, &str)> {
    let line = line.trim_start_matches(is_ruby_space);
    if line.starts_with('#') {
        return None;
    }
    let split = line.find(is_ruby_space)?;
    let (name, rest) = line.split_at(split);
    let rest = rest.trim_start_matches(is_ruby_space);
    let rest = rest.strip_suffix('\n').unwrap_or(rest);
    Some((name, rest.strip_suffix('\r').unwrap_or(rest)))
}

/// Ruby's `\s`: ASCII whitespace including vertical tab.
fn is_ruby_space(c: char) -> bool {
    c.is_ascii_whitespace() || c == '\x0b'
}

/// Why a `patterns_dir` entry could not be used.
#[derive(Debug, thiserror::Error)]
pub enum PatternsDirError {
    #[error("patterns_dir \"{0}\" does not exist")]
    Missing(String),
    #[error("patterns_dir \"{path}\": invalid glob: {message}")]
    Glob { path: String, message: String },
    #[error("cannot read grok pattern file \"{path}\": {source}")]
    Read { path: String, source: io::Error },
}

/// The pattern files of `patterns_dir`, in Logstash's order: each entry in turn; a directory
/// contributes its files matching `files_glob` (sorted), any other entry is itself a glob.
/// Directories found by a glob are skipped. An entry that matches nothing is an error: in
/// Logstash it is silently ignored, which hides typos until a pattern fails to compile.
pub fn pattern_files(dirs: &[String], files_glob: &str) -> Result<Vec<PathBuf>, PatternsDirError> {
    let mut files = Vec::new();
    for dir in dirs {
        let path = Path::new(dir);
        let pattern = if path.is_dir() {
            path.join(files_glob).to_string_lossy().into_owned()
        } else {
            dir.clone()
        };
        let matches = glob::glob(&pattern).map_err(|e| PatternsDirError::Glob {
            path: dir.clone(),
            message: e.to_string(),
        })?;
        let mut found = false;
        for entry in matches.flatten() {
            found = true;
            if !entry.is_dir() {
                files.push(entry);
            }
        }
        if !found && !path.is_dir() {
            return Err(PatternsDirError::Missing(dir.clone()));
        }
    }
    Ok(files)
}

/// Loads `files` into `set`, in order.
pub fn load_files(set: &mut PatternSet, files: &[PathBuf]) -> Result<(), PatternsDirError> {
    for file in files {
        set.load_file(file)
            .map_err(|source| PatternsDirError::Read {
                path: file.display().to_string(),
                source,
            })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_legacy_set_is_the_grok_crates_copy() {
        let defs = legacy();
        for name in [
            "COMBINEDAPACHELOG",
            "SYSLOGLINE",
            "IPORHOST",
            "TIMESTAMP_ISO8601",
        ] {
            assert!(defs.contains_key(name), "{name}");
        }
        assert!(defs.len() > 300, "{}", defs.len());
    }

    #[test]
    fn ecs_modes_fall_back_to_legacy_until_an_ecs_set_is_bundled() {
        let b = bundled(EcsCompatibility::V8);
        assert_eq!(b.kind, PatternSetKind::Legacy);
        assert!(b.ecs_fallback);
        assert!(!bundled(EcsCompatibility::Disabled).ecs_fallback);
    }

    #[test]
    fn pattern_file_lines_follow_logstash() {
        assert_eq!(parse_line("  FOO \\d+ \n"), Some(("FOO", "\\d+ ")));
        assert_eq!(parse_line("FOO\t\tbar\r\n"), Some(("FOO", "bar")));
        assert_eq!(parse_line("  # FOO bar\n"), None);
        assert_eq!(parse_line("FOO\n"), Some(("FOO", "")));
        assert_eq!(parse_line("FOO"), None);
        assert_eq!(parse_line("FOO \n"), Some(("FOO", "")));
        assert_eq!(parse_line("\n"), None);
    }

    #[test]
    fn own_definitions_replace_built_in_ones() {
        let mut set = PatternSet::new(legacy());
        set.load_text("WORD \\b[0-1]\\b\nNEW x\n");
        assert_eq!(set.get("WORD"), Some("\\b[0-1]\\b"));
        assert_eq!(set.get("NEW"), Some("x"));
        assert_eq!(set.get("INT"), Some("(?:[+-]?(?:[0-9]+))"));
    }
}
