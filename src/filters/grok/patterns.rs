//! Grok pattern sets: the named regex definitions `%{NAME}` refers to.
//!
//! [`bundled`] is the one place that decides which built-in set a filter starts from (legacy
//! logstash-patterns-core, or the ECS set once one is bundled); [`PatternSet`] layers a filter's
//! own definitions on top of it: pattern files from `patterns_dir` ([`PatternSet::load_file`],
//! [`pattern_files`]) and `pattern_definitions`, later definitions replacing earlier ones as in
//! Logstash.
//!
//! The legacy set is the `grok` crate's copy of logstash-patterns-core, corrected by
//! `LEGACY_ERRATA` where that copy differs from logstash-patterns-core v4.3.1, the version
//! Logstash 8 ships and the compatibility cases come from.

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

/// The legacy set: the `grok` crate's definitions with `LEGACY_ERRATA` applied.
fn legacy() -> &'static Definitions {
    static LEGACY: OnceLock<Definitions> = OnceLock::new();
    LEGACY.get_or_init(|| {
        let mut defs: Definitions = grok::patterns().iter().copied().collect();
        for (name, definition) in LEGACY_ERRATA {
            match definition {
                Some(d) => defs.insert(name, d),
                None => defs.remove(name),
            };
        }
        defs
    })
}

/// Where grok 2.4.1's bundled copy differs from logstash-patterns-core v4.3.1 `patterns/legacy`
/// (Apache-2.0; see the compatibility data's `LICENSE.logstash-patterns-core`): definitions
/// that changed upstream since the crate's copy was taken, ECS versions the crate put in place
/// of legacy ones, `MONGO_LOG` lost to a missing newline in the crate's `mcollective` file.
/// `None` removes a definition the legacy set does not have.
const LEGACY_ERRATA: &[(&str, Option<&str>)] = &[
    (
        "BACULA_LOGLINE",
        Some(
            r#"%{BACULA_TIMESTAMP:bts} %{BACULA_HOST:hostname}(?: JobId %{INT:jobid})?:? (%{BACULA_LOG_MAX_CAPACITY}|%{BACULA_LOG_END_VOLUME}|%{BACULA_LOG_NEW_VOLUME}|%{BACULA_LOG_NEW_LABEL}|%{BACULA_LOG_WROTE_LABEL}|%{BACULA_LOG_NEW_MOUNT}|%{BACULA_LOG_NOOPEN}|%{BACULA_LOG_NOOPENDIR}|%{BACULA_LOG_NOSTAT}|%{BACULA_LOG_NOJOBS}|%{BACULA_LOG_ALL_RECORDS_PRUNED}|%{BACULA_LOG_BEGIN_PRUNE_JOBS}|%{BACULA_LOG_BEGIN_PRUNE_FILES}|%{BACULA_LOG_PRUNED_JOBS}|%{BACULA_LOG_PRUNED_FILES}|%{BACULA_LOG_ENDPRUNE}|%{BACULA_LOG_STARTJOB}|%{BACULA_LOG_STARTRESTORE}|%{BACULA_LOG_USEDEVICE}|%{BACULA_LOG_DIFF_FS}|%{BACULA_LOG_JOBEND}|%{BACULA_LOG_NOPRUNE_JOBS}|%{BACULA_LOG_NOPRUNE_FILES}|%{BACULA_LOG_VOLUME_PREVWRITTEN}|%{BACULA_LOG_READYAPPEND}|%{BACULA_LOG_CANCELLING}|%{BACULA_LOG_MARKCANCEL}|%{BACULA_LOG_CLIENT_RBJ}|%{BACULA_LOG_VSS}|%{BACULA_LOG_MAXSTART}|%{BACULA_LOG_DUPLICATE}|%{BACULA_LOG_NOJOBSTAT}|%{BACULA_LOG_FATAL_CONN}|%{BACULA_LOG_NO_CONNECT}|%{BACULA_LOG_NO_AUTH}|%{BACULA_LOG_NOSUIT}|%{BACULA_LOG_JOB}|%{BACULA_LOG_NOPRIOR})"#,
        ),
    ),
    (
        "BACULA_LOG_FATAL_CONN",
        Some(
            r#"Fatal error: bsock.c:133 Unable to connect to (Client: %{BACULA_HOST:client}|Storage daemon) on %{HOSTNAME}:%{POSINT}. ERR=(?<berror>%{GREEDYDATA})"#,
        ),
    ),
    (
        "BACULA_LOG_NOOPEN",
        Some(r#"\s*Cannot open %{DATA}: ERR=%{GREEDYDATA:berror}"#),
    ),
    (
        "BACULA_LOG_NOOPENDIR",
        Some(r#"\s*Could not open directory %{DATA}: ERR=%{GREEDYDATA:berror}"#),
    ),
    (
        "BACULA_LOG_NOSTAT",
        Some(r#"\s*Could not stat %{DATA}: ERR=%{GREEDYDATA:berror}"#),
    ),
    (
        "BACULA_LOG_NO_AUTH",
        Some(
            r#"Fatal error: Unable to authenticate with File daemon at %{DATA}. Possible causes:"#,
        ),
    ),
    (
        "BACULA_LOG_NO_CONNECT",
        Some(
            r#"Warning: bsock.c:127 Could not connect to (Client: %{BACULA_HOST:client}|Storage daemon) on %{HOSTNAME}:%{POSINT}. ERR=(?<berror>%{GREEDYDATA})"#,
        ),
    ),
    (
        "BIND9",
        Some(
            r#"%{BIND9_TIMESTAMP:timestamp} queries: %{LOGLEVEL:loglevel}: client(:? @0x(?:[0-9A-Fa-f]+))? %{IP:clientip}#%{POSINT:clientport} \(%{GREEDYDATA:query}\): query: %{GREEDYDATA:query} IN %{GREEDYDATA:querytype} \(%{IP:dns}\)"#,
        ),
    ),
    (
        "ELB_ACCESS_LOG",
        Some(
            r#"%{TIMESTAMP_ISO8601:timestamp} %{NOTSPACE:elb} %{IP:clientip}:%{INT:clientport:int} (?:(?:%{IP:backendip}:?:%{INT:backendport:int})|-) %{NUMBER:request_processing_time:float} %{NUMBER:backend_processing_time:float} %{NUMBER:response_processing_time:float} %{INT:response:int} (?:-|%{INT:backend_response:int}) %{INT:received_bytes:int} %{INT:bytes:int} "%{ELB_REQUEST_LINE}""#,
        ),
    ),
    ("EMAILLOCALPART", Some(r#"[a-zA-Z][a-zA-Z0-9_.+-=:]+"#)),
    ("EXIM", Some(r#"%{EXIM_MESSAGE_ARRIVAL}"#)),
    (
        "EXIM_MESSAGE_ARRIVAL",
        Some(
            r#"%{EXIM_DATE:timestamp} (?:%{EXIM_PID} )?%{EXIM_MSGID:exim_msgid} (?<exim_flags><=) (?<exim_status>[a-z:] )?%{EMAILADDRESS:exim_sender_email}%{EXIM_NAMED_FIELDS}(?: for %{EMAILADDRESS:exim_recipient_email})?"#,
        ),
    ),
    (
        "EXIM_NAMED_FIELDS",
        Some(
            r#"(?: (?:%{EXIM_REMOTE_HOST}|%{EXIM_INTERFACE}|%{EXIM_PROTOCOL}|%{EXIM_MSG_SIZE}|%{EXIM_HEADER_ID}|%{EXIM_SUBJECT}|%{EXIM_UNKNOWN_FIELD}))*"#,
        ),
    ),
    ("EXIM_PID", Some(r#"\[%{POSINT:pid}\]"#)),
    (
        "EXIM_REMOTE_HOST",
        Some(
            r#"(H=(%{NOTSPACE:remote_hostname} )?(\(%{NOTSPACE:remote_heloname}\) )?\[%{IP:remote_host}\])(?::%{POSINT:remote_port})?"#,
        ),
    ),
    (
        "EXIM_UNKNOWN_FIELD",
        Some(r#"(?:[A-Za-z0-9]{1,4}=%{NOTSPACE})"#),
    ),
    (
        "HTTPD24_ERRORLOG",
        Some(
            r#"\[%{HTTPDERROR_DATE:timestamp}\] \[(?:%{WORD:module})?:%{LOGLEVEL:loglevel}\] \[pid %{POSINT:pid}(:tid %{NUMBER:tid})?\]( \(%{POSINT:proxy_errorcode}\)%{DATA:proxy_message}:)?( \[client %{IPORHOST:clientip}:%{POSINT:clientport}\])?( %{DATA:errorcode}:)? %{GREEDYDATA:message}"#,
        ),
    ),
    (
        "HTTPD_COMMONLOG",
        Some(
            r#"%{IPORHOST:clientip} %{HTTPDUSER:ident} %{HTTPDUSER:auth} \[%{HTTPDATE:timestamp}\] "(?:%{WORD:verb} %{NOTSPACE:request}(?: HTTP/%{NUMBER:httpversion})?|%{DATA:rawrequest})" (?:-|%{NUMBER:response}) (?:-|%{NUMBER:bytes})"#,
        ),
    ),
    ("IPTABLES", None),
    ("IPTABLES4_FRAG", None),
    ("IPTABLES4_PART", None),
    ("IPTABLES6_PART", None),
    ("IPTABLES_TCP_FLAGS", None),
    ("IPTABLES_TCP_PART", None),
    ("JAVAFILE", Some(r#"(?:[a-zA-Z$_0-9. -]+)"#)),
    (
        "LOGLEVEL",
        Some(
            r#"([Aa]lert|ALERT|[Tt]race|TRACE|[Dd]ebug|DEBUG|[Nn]otice|NOTICE|[Ii]nfo?(?:rmation)?|INFO?(?:RMATION)?|[Ww]arn?(?:ing)?|WARN?(?:ING)?|[Ee]rr?(?:or)?|ERR?(?:OR)?|[Cc]rit?(?:ical)?|CRIT?(?:ICAL)?|[Ff]atal|FATAL|[Ss]evere|SEVERE|EMERG(?:ENCY)?|[Ee]merg(?:ency)?)"#,
        ),
    ),
    (
        "MCOLLECTIVEAUDIT",
        Some(r#"%{TIMESTAMP_ISO8601:timestamp}:"#),
    ),
    (
        "MONGO_LOG",
        Some(r#"%{SYSLOGTIMESTAMP:timestamp} \[%{WORD:component}\] %{GREEDYDATA:message}"#),
    ),
    (
        "MONTH",
        Some(
            r#"\b(?:[Jj]an(?:uary|uar)?|[Ff]eb(?:ruary|ruar)?|[Mm](?:a|ä)?r(?:ch|z)?|[Aa]pr(?:il)?|[Mm]a(?:y|i)?|[Jj]un(?:e|i)?|[Jj]ul(?:y|i)?|[Aa]ug(?:ust)?|[Ss]ep(?:tember)?|[Oo](?:c|k)?t(?:ober)?|[Nn]ov(?:ember)?|[Dd]e(?:c|z)(?:ember)?)\b"#,
        ),
    ),
    (
        "NAGIOS_TIMEPERIOD_TRANSITION",
        Some(
            r#"%{NAGIOS_TYPE_TIMEPERIOD_TRANSITION:nagios_type}: %{DATA:nagios_service};%{NUMBER:nagios_unknown1};%{NUMBER:nagios_unknown2}"#,
        ),
    ),
    (
        "SFW2",
        Some(
            r#"((%{SYSLOGTIMESTAMP:timestamp})|(%{TIMESTAMP_ISO8601:timestamp}))\s*%{HOSTNAME}\s*kernel\S+\s*(?:%{NAGIOSTIME}\s*)?SFW2\-INext\-%{NOTSPACE:nf_action}\s*IN=%{USERNAME:nf_in_interface}.*OUT=(\s*%{USERNAME:nf_out_interface})?\s*MAC=((%{COMMONMAC:nf_dst_mac}:%{COMMONMAC:nf_src_mac})|(\s*)).*SRC=%{IP:nf_src_ip}\s*DST=%{IP:nf_dst_ip}.*PROTO=%{WORD:nf_protocol}((.*SPT=%{INT:nf_src_port}.*DPT=%{INT:nf_dst_port}.*)|())"#,
        ),
    ),
    ("SFW2_LOG_PREFIX", None),
    (
        "SHOREWALL",
        Some(
            r#"(%{SYSLOGTIMESTAMP:timestamp}) (%{WORD:nf_host}) .*Shorewall:(%{WORD:nf_action1})?:(%{WORD:nf_action2})?.*IN=(%{USERNAME:nf_in_interface})?.*(OUT= *MAC=(%{COMMONMAC:nf_dst_mac}):(%{COMMONMAC:nf_src_mac})?|OUT=%{USERNAME:nf_out_interface}).*SRC=(%{IPV4:nf_src_ip}).*DST=(%{IPV4:nf_dst_ip}).*LEN=(%{WORD:nf_len}).?*TOS=(%{WORD:nf_tos}).?*PREC=(%{WORD:nf_prec}).?*TTL=(%{INT:nf_ttl}).?*ID=(%{INT:nf_id}).?*PROTO=(%{WORD:nf_protocol}).?*SPT=(%{INT:nf_src_port}?.*DPT=%{INT:nf_dst_port}?.*)"#,
        ),
    ),
    (
        "SQUID3",
        Some(
            r#"%{NUMBER:timestamp}\s+%{NUMBER:duration}\s%{IP:client_address}\s%{WORD:cache_result}/%{NONNEGINT:status_code}\s%{NUMBER:bytes}\s%{WORD:request_method}\s%{NOTSPACE:url}\s(%{NOTSPACE:user}|-)\s%{WORD:hierarchy_code}/(%{IPORHOST:server}|-)\s%{NOTSPACE:content_type}"#,
        ),
    ),
    ("UNIXPATH", Some(r#"(/[[[:alnum:]]_%!$@:.,+~-]*)+"#)),
];

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
    fn errata_bring_the_legacy_set_to_patterns_core_4_3_1() {
        let defs = legacy();
        assert!(defs["HTTPD_COMMONLOG"].contains("(?:-|%{NUMBER:response})"));
        assert_eq!(defs["MCOLLECTIVEAUDIT"], "%{TIMESTAMP_ISO8601:timestamp}:");
        assert!(defs.contains_key("MONGO_LOG"));
        assert!(!defs.contains_key("IPTABLES"));
        assert_eq!(defs.len(), 317, "318 lines, MCOLLECTIVEAUDIT defined twice");
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
