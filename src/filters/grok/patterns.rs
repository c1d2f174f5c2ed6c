//! Grok pattern sets: the named regex definitions `%{NAME}` refers to.
//!
//! [`bundled`] is the one place that decides which built-in set a filter starts from: the legacy
//! set or the ECS set of logstash-patterns-core, as `ecs_compatibility` asks. [`PatternSet`]
//! layers a filter's own definitions on top of it: pattern files from `patterns_dir`
//! ([`PatternSet::load_file`], [`pattern_files`]) and `pattern_definitions`, later definitions
//! replacing earlier ones as in Logstash.
//!
//! Neither set is copied into this repository; both come from maintained packages:
//! - legacy: the `grok` crate's copy (see [`legacy`] for how it differs from v4.3.1, the version
//!   Logstash 8 ships and the compatibility cases come from);
//! - ecs-v1: Elasticsearch's copy, as the `grok-rs` crate ships it. Elasticsearch writes field
//!   names with dots and has a `long` type; [`to_logstash_spelling`] turns them back into
//!   Logstash's `[a][b]` references and `int`.

use std::borrow::Cow;
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
    pub definitions: &'static Definitions,
}

/// Pattern name -> regex text.
pub type Definitions = HashMap<&'static str, &'static str>;

/// The built-in pattern set for `ecs`: legacy when disabled, ecs-v1 for `v1` and `v8` (Logstash
/// 8 uses the ecs-v1 files for both).
pub fn bundled(ecs: EcsCompatibility) -> Bundled {
    if ecs.is_ecs() {
        Bundled {
            kind: PatternSetKind::EcsV1,
            definitions: ecs_v1(),
        }
    } else {
        Bundled {
            kind: PatternSetKind::Legacy,
            definitions: legacy(),
        }
    }
}

/// The legacy set: the `grok` crate's copy of logstash-patterns-core, as the crate ships it.
///
/// That copy is not v4.3.1 (what Logstash 8 ships): some definitions are older (`BACULA_*`,
/// `BIND9`, `EXIM_*`, `HTTPD_*`, `SQUID3`, ...) and `SHOREWALL` and `SFW2` are the ECS
/// versions. No maintained package ships the v4.3.1 legacy files.
fn legacy() -> &'static Definitions {
    static LEGACY: OnceLock<Definitions> = OnceLock::new();
    LEGACY.get_or_init(|| grok::patterns().iter().copied().collect())
}

/// The ecs-v1 pattern files, embedded from the `grok-rs` package (build.rs finds its folder).
macro_rules! ecs_v1_files {
    ($($file:literal),* $(,)?) => {
        &[$(include_str!(concat!(env!("SLUICE_GROK_ECS_V1_PATTERNS"), "/", $file))),*]
    };
}

const ECS_V1_FILES: &[&str] = ecs_v1_files!(
    "aws",
    "bacula",
    "bind",
    "bro",
    "exim",
    "firewalls",
    "grok-patterns",
    "haproxy",
    "httpd",
    "java",
    "junos",
    "linux-syslog",
    "maven",
    "mcollective",
    "mongodb",
    "nagios",
    "postgresql",
    "rails",
    "redis",
    "ruby",
    "squid",
    "zeek",
);

/// The ecs-v1 set in Logstash's spelling. Built once per process; the converted texts live as
/// long as the process (they are leaked once, as `Definitions` holds `&'static str`).
fn ecs_v1() -> &'static Definitions {
    static ECS_V1: OnceLock<Definitions> = OnceLock::new();
    ECS_V1.get_or_init(|| {
        let mut definitions = Definitions::new();
        for text in ECS_V1_FILES {
            for line in text.split_inclusive('\n') {
                if let Some((name, definition)) = parse_line(line) {
                    let repaired = repair(name, definition);
                    let definition = match (&repaired, to_logstash_spelling(&repaired)) {
                        (Cow::Borrowed(unchanged), Cow::Borrowed(_)) => *unchanged,
                        (_, converted) => String::leak(converted.into_owned()),
                    };
                    definitions.insert(name, definition);
                }
            }
        }
        definitions
    })
}

/// Places where `grok-rs`'s copy differs from logstash-patterns-core v4.3.1's ecs-v1 files.
/// Most lost characters when the copy turned `[a][b]` field references into `a.b`: an escaped
/// `\[` (once with its `\]`) next to a reference, or the brackets of a character class on the
/// same line, went with the field's brackets. `SYSLOGPAMSESSION` lacks the lookahead that also
/// captures the text after the syslog header as `message`.
///
/// Each entry is (definition, text in the copy, text as v4.3.1's spec cases require, in
/// Elasticsearch's spelling); a test checks that every entry still finds its text.
const REPAIRS: &[(&str, &str, &str)] = &[
    (
        "S3_ACCESS_LOG",
        r"\%{HTTPDATE:timestamp}\ ",
        r"\[%{HTTPDATE:timestamp}\] ",
    ),
    (
        "EXIM_REMOTE_HOST",
        r"\%{IP:source.ip}\]",
        r"\[%{IP:source.ip}\]",
    ),
    (
        "CISCOFW106023",
        r"\%{DATA:[@metadata.cisco.asa.hashcode1}",
        r"\[%{DATA:@metadata.cisco.asa.hashcode1}",
    ),
    (
        "CISCOFW106100_2_3",
        r"\%{DATA:[@metadata.cisco.asa.hashcode1}",
        r"\[%{DATA:@metadata.cisco.asa.hashcode1}",
    ),
    (
        "CISCOFW106100",
        r"\%{DATA:[@metadata.cisco.asa.hashcode1}",
        r"\[%{DATA:@metadata.cisco.asa.hashcode1}",
    ),
    (
        "CISCOFW733100",
        r"\\s*%{DATA:[cisco.asa.burst.object}",
        r"\[\s*%{DATA:cisco.asa.burst.object}",
    ),
    (
        "IPTABLES",
        r"(?::A-Fa-f0-9{2}:A-Fa-f0-9{2})?",
        r"(?::[A-Fa-f0-9]{2}:[A-Fa-f0-9]{2})?",
    ),
    ("ZEEK_FILES_TX_HOSTS", r"(?:\s,%{IP})+", r"(?:[\s,]%{IP})+"),
    ("ZEEK_FILES_RX_HOSTS", r"(?:\s,%{IP})+", r"(?:[\s,]%{IP})+"),
    (
        "SYSLOGPAMSESSION",
        r"%{SYSLOGBASE} %{WORD:",
        r"%{SYSLOGBASE} (?=%{GREEDYDATA:message})%{WORD:",
    ),
];

/// `definition` with the [`REPAIRS`] for `name` applied.
fn repair<'d>(name: &str, definition: &'d str) -> Cow<'d, str> {
    let mut definition = Cow::Borrowed(definition);
    for (_, damaged, original) in REPAIRS.iter().filter(|(n, ..)| *n == name) {
        definition = Cow::Owned(definition.replacen(damaged, original, 1));
    }
    definition
}

/// Elasticsearch's spelling of a definition turned into Logstash's: dotted field names in
/// `%{NAME:field:type}` and in named groups `(?<field>...)` become `[a][b]` references, and the
/// `long` type (which Elasticsearch added where logstash-patterns-core says `int`) becomes `int`.
pub fn to_logstash_spelling(definition: &str) -> Cow<'_, str> {
    if !definition.contains('.') && !definition.contains(":long}") {
        return Cow::Borrowed(definition);
    }
    let mut out = String::with_capacity(definition.len() + 32);
    let mut rest = definition;
    while let Some((at, kind)) = next_field_site(rest) {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let end = match kind {
            FieldSite::Reference => rest.find('}'),
            FieldSite::NamedGroup => rest.find('>'),
        };
        let Some(end) = end else { break };
        let (site, tail) = rest.split_at(end);
        match kind {
            FieldSite::Reference => push_reference(&mut out, site),
            FieldSite::NamedGroup => {
                out.push_str("(?<");
                push_field(&mut out, &site[3..]);
            }
        }
        rest = tail;
    }
    out.push_str(rest);
    Cow::Owned(out)
}

#[derive(Clone, Copy)]
enum FieldSite {
    /// `%{NAME...}`
    Reference,
    /// `(?<name>` (not a lookbehind, not an escaped parenthesis)
    NamedGroup,
}

/// The offset and kind of the next `%{` or named group opening in `text`.
fn next_field_site(text: &str) -> Option<(usize, FieldSite)> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i + 2 < bytes.len() {
        match bytes[i] {
            b'\\' => i += 1,
            b'%' if bytes[i + 1] == b'{' => return Some((i, FieldSite::Reference)),
            b'(' if bytes[i + 1] == b'?'
                && bytes[i + 2] == b'<'
                && !matches!(bytes.get(i + 3), Some(b'=' | b'!')) =>
            {
                return Some((i, FieldSite::NamedGroup));
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// `%{NAME:field:type` (without the closing brace) in Logstash's spelling.
fn push_reference(out: &mut String, site: &str) {
    let mut parts = site.splitn(3, ':');
    out.push_str(parts.next().unwrap_or_default());
    if let Some(field) = parts.next() {
        out.push(':');
        push_field(out, field);
    }
    if let Some(kind) = parts.next() {
        out.push(':');
        out.push_str(if kind == "long" { "int" } else { kind });
    }
}

/// A field name: `a.b.c` becomes `[a][b][c]`; a name without dots is kept. Only the leading
/// run of characters a grok field name may hold is converted: Logstash ignores what follows it
/// up to the closing brace (the `?` in `%{POSINT:[apache][error][proxy][error][code]?}`), and
/// so does sluice's grok.
fn push_field(out: &mut String, field: &str) {
    let end = field
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '@' | '-')))
        .unwrap_or(field.len());
    let (name, rest) = field.split_at(end);
    if !name.contains('.') || field.starts_with('[') {
        out.push_str(field);
        return;
    }
    for part in name.split('.') {
        out.push('[');
        out.push_str(part);
        out.push(']');
    }
    out.push_str(rest);
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
    fn ecs_modes_use_the_ecs_v1_set() {
        for ecs in [EcsCompatibility::V1, EcsCompatibility::V8] {
            let b = bundled(ecs);
            assert_eq!(b.kind, PatternSetKind::EcsV1);
            assert_eq!(
                b.definitions.get("COMBINEDAPACHELOG"),
                Some(&"%{HTTPD_COMBINEDLOG}")
            );
            let common = b.definitions["HTTPD_COMMONLOG"];
            assert!(
                common.starts_with("%{IPORHOST:[source][address]} "),
                "{common}"
            );
            assert!(
                common.ends_with("%{INT:[http][response][body][bytes]:int})"),
                "{common}"
            );
        }
        assert_eq!(
            bundled(EcsCompatibility::Disabled).kind,
            PatternSetKind::Legacy
        );
        assert!(ecs_v1().len() > 300, "{}", ecs_v1().len());
    }

    #[test]
    fn elasticsearch_spelling_becomes_logstash_spelling() {
        let cases = [
            (
                "%{IP:client.ip}#%{POSINT:client.port:int}",
                "%{IP:[client][ip]}#%{POSINT:[client][port]:int}",
            ),
            ("%{INT:source.bytes:long}", "%{INT:[source][bytes]:int}"),
            (
                "(?<rails.controller.class>[^#]+)",
                "(?<[rails][controller][class]>[^#]+)",
            ),
            (
                "(?<timestamp>%{YEAR}) %{DATA:message}",
                "(?<timestamp>%{YEAR}) %{DATA:message}",
            ),
            ("(?<=a\\.b)x\\(?<y.z>", "(?<=a\\.b)x\\(?<y.z>"),
            (
                "%{NUMBER:a.b:float} \\d+\\.\\d+",
                "%{NUMBER:[a][b]:float} \\d+\\.\\d+",
            ),
            ("%{IP}.%{IP:[a][b]}", "%{IP}.%{IP:[a][b]}"),
            ("%{POSINT:a.code?}", "%{POSINT:[a][code]?}"),
        ];
        for (elasticsearch, logstash) in cases {
            assert_eq!(
                to_logstash_spelling(elasticsearch),
                logstash,
                "{elasticsearch}"
            );
        }
    }

    #[test]
    fn every_repair_finds_the_damage_it_repairs() {
        for (name, damaged, original) in REPAIRS {
            let copy = ECS_V1_FILES
                .iter()
                .flat_map(|text| text.lines())
                .find_map(|line| parse_line(line).filter(|(n, _)| n == name))
                .map(|(_, definition)| definition)
                .unwrap_or_else(|| panic!("{name} is not in the ecs-v1 files"));
            assert!(copy.contains(damaged), "{name} no longer holds {damaged}");
            assert!(repair(name, copy).contains(original), "{name}");
        }
        assert!(ecs_v1()["S3_ACCESS_LOG"].contains(r"\[%{HTTPDATE:timestamp}\] "));
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
