//! A uap-core (`regexes.yaml`) user-agent parser with the semantics of Logstash's own Java
//! parser (org.logstash.uaparser): the first matching pattern wins in each of the three lists
//! (`user_agent_parsers`, `os_parsers`, `device_parsers`); replacements substitute `$1`...;
//! no match gives `Other`.
//!
//! Patterns are compiled as byte regexes without Unicode classes, which is what Java's
//! defaults mean (`\d`, `\w` and case-insensitivity are ASCII-only); a pattern the `regex`
//! crate cannot compile falls back to `fancy-regex`.
//!
//! [`UaParser`] parses; [`Client`] is its result.

use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Deserialize;

/// The uap-core regexes shipped in the `uaparser` crate's package (located by `build.rs`).
pub static BUNDLED_REGEXES: &[u8] = include_bytes!(env!("SLUICE_UAP_REGEXES"));

/// Why a regexes file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ParserError {
    #[error("not a uap-core regexes file: {0}")]
    Yaml(String),
    #[error("`{list}` is missing from the regexes file")]
    Missing { list: &'static str },
    #[error("invalid regex `{pattern}`: {message}")]
    Regex { pattern: String, message: String },
}

/// A user-agent family with its version parts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Agent {
    pub family: String,
    pub major: Option<String>,
    pub minor: Option<String>,
    pub patch: Option<String>,
    pub patch_minor: Option<String>,
}

/// What a user-agent string says about the browser, the OS and the device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Client {
    pub user_agent: Agent,
    pub os: Agent,
    pub device: String,
}

/// A compiled regexes file.
pub struct UaParser {
    /// Tells parsers apart in per-thread caches.
    id: u64,
    agents: Vec<AgentPattern>,
    oses: Vec<OsPattern>,
    devices: Vec<DevicePattern>,
}

#[derive(Deserialize)]
struct RegexFile {
    user_agent_parsers: Option<Vec<Entry>>,
    os_parsers: Option<Vec<Entry>>,
    device_parsers: Option<Vec<Entry>>,
}

/// One entry of any list; each list reads the keys it knows.
#[derive(Deserialize)]
struct Entry {
    regex: String,
    regex_flag: Option<String>,
    family_replacement: Option<String>,
    v1_replacement: Option<String>,
    v2_replacement: Option<String>,
    os_replacement: Option<String>,
    os_v1_replacement: Option<String>,
    os_v2_replacement: Option<String>,
    os_v3_replacement: Option<String>,
    device_replacement: Option<String>,
}

struct AgentPattern {
    regex: Pattern,
    family: Option<String>,
    v1: Option<String>,
    v2: Option<String>,
}

struct OsPattern {
    regex: Pattern,
    family: Option<String>,
    v1: Option<String>,
    v2: Option<String>,
    v3: Option<String>,
}

struct DevicePattern {
    regex: Pattern,
    device: Option<String>,
}

impl UaParser {
    /// Compiles the regexes in `yaml` (a uap-core `regexes.yaml`).
    pub fn from_yaml(yaml: &[u8]) -> Result<UaParser, ParserError> {
        static NEXT_ID: AtomicU64 = AtomicU64::new(0);
        let file: RegexFile =
            serde_yaml::from_slice(yaml).map_err(|e| ParserError::Yaml(e.to_string()))?;
        let list = |entries: Option<Vec<Entry>>, list| entries.ok_or(ParserError::Missing { list });
        let agents = list(file.user_agent_parsers, "user_agent_parsers")?
            .into_iter()
            .map(|e| {
                Ok(AgentPattern {
                    regex: Pattern::compile(&e.regex, false)?,
                    family: e.family_replacement,
                    v1: e.v1_replacement,
                    v2: e.v2_replacement,
                })
            })
            .collect::<Result<_, ParserError>>()?;
        let oses = list(file.os_parsers, "os_parsers")?
            .into_iter()
            .map(|e| {
                Ok(OsPattern {
                    regex: Pattern::compile(&e.regex, false)?,
                    family: e.os_replacement,
                    v1: e.os_v1_replacement,
                    v2: e.os_v2_replacement,
                    v3: e.os_v3_replacement,
                })
            })
            .collect::<Result<_, ParserError>>()?;
        let devices = list(file.device_parsers, "device_parsers")?
            .into_iter()
            .map(|e| {
                Ok(DevicePattern {
                    regex: Pattern::compile(&e.regex, e.regex_flag.as_deref() == Some("i"))?,
                    device: e.device_replacement,
                })
            })
            .collect::<Result<_, ParserError>>()?;
        Ok(UaParser {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            agents,
            oses,
            devices,
        })
    }

    pub fn id(&self) -> u64 {
        self.id
    }

    pub fn parse(&self, ua: &str) -> Client {
        Client {
            user_agent: self
                .agents
                .iter()
                .find_map(|p| p.parse(ua))
                .unwrap_or_else(other),
            os: self
                .oses
                .iter()
                .find_map(|p| p.parse(ua))
                .unwrap_or_else(other),
            device: self
                .devices
                .iter()
                .find_map(|p| p.parse(ua))
                .unwrap_or_else(|| "Other".to_string()),
        }
    }
}

fn other() -> Agent {
    Agent {
        family: "Other".to_string(),
        ..Agent::default()
    }
}

impl AgentPattern {
    fn parse(&self, ua: &str) -> Option<Agent> {
        let caps = self.regex.captures(ua)?;
        let groups = caps.len().saturating_sub(1);
        let family = match &self.family {
            Some(rep) if rep.contains("$1") && caps.get(1).is_some() => {
                rep.replacen("$1", &caps.get(1)?, 1)
            }
            Some(rep) => rep.clone(),
            None if groups >= 1 => caps.get(1)?.into_owned(),
            None => return None,
        };
        let v1 = self.v1.clone().or_else(|| caps.non_blank(2));
        let (v2, v3, v4) = match &self.v2 {
            Some(rep) => (Some(rep.clone()), None, None),
            None => (caps.non_blank(3), caps.non_blank(4), caps.non_blank(5)),
        };
        Some(Agent {
            family,
            major: v1,
            minor: v2,
            patch: v3,
            patch_minor: v4,
        })
    }
}

impl OsPattern {
    fn parse(&self, ua: &str) -> Option<Agent> {
        let caps = self.regex.captures(ua)?;
        let groups = caps.len().saturating_sub(1);
        let family = match &self.family {
            Some(rep) if groups >= 1 => rep.replace("$1", &caps.get(1).unwrap_or_default()),
            Some(rep) => rep.clone(),
            None if groups >= 1 => caps.get(1)?.into_owned(),
            None => return None,
        };
        // A replacement starting with `$` names a group; otherwise it is the value itself.
        let part = |rep: &Option<String>, group: usize| match rep {
            Some(rep) => match rep.strip_prefix('$') {
                Some(n) => n
                    .parse()
                    .ok()
                    .and_then(|n| caps.get(n))
                    .map(Cow::into_owned),
                None => Some(rep.clone()),
            },
            None => caps.get(group).map(Cow::into_owned),
        };
        Some(Agent {
            family,
            major: part(&self.v1, 2),
            minor: part(&self.v2, 3),
            patch: part(&self.v3, 4),
            patch_minor: caps.get(5).map(Cow::into_owned),
        })
    }
}

impl DevicePattern {
    fn parse(&self, ua: &str) -> Option<String> {
        let caps = self.regex.captures(ua)?;
        match &self.device {
            Some(rep) if rep.contains('$') => {
                let mut device = rep.clone();
                for digit in dollar_digits(rep) {
                    let group = caps.get(digit).unwrap_or_default();
                    device = device.replacen(&format!("${digit}"), &group, 1);
                }
                Some(device.trim().to_string())
            }
            Some(rep) => Some(rep.clone()),
            None => caps.get(1).map(Cow::into_owned),
        }
    }
}

/// The digits of each `$N` in `s`, in order.
fn dollar_digits(s: &str) -> Vec<usize> {
    let bytes = s.as_bytes();
    bytes
        .windows(2)
        .filter(|w| w[0] == b'$' && w[1].is_ascii_digit())
        .map(|w| usize::from(w[1] - b'0'))
        .collect()
}

/// A compiled pattern: a byte regex, or `fancy-regex` for what the `regex` crate lacks.
enum Pattern {
    Plain(regex::bytes::Regex),
    Fancy(Box<fancy_regex::Regex>),
}

/// The groups of one match.
enum Caps<'t> {
    Plain(regex::bytes::Captures<'t>),
    Fancy(fancy_regex::Captures<'t, str>),
}

impl Pattern {
    fn compile(pattern: &str, case_insensitive: bool) -> Result<Pattern, ParserError> {
        let cleaned = clean_escapes(pattern);
        let plain = regex::bytes::RegexBuilder::new(&cleaned)
            .unicode(false)
            .case_insensitive(case_insensitive)
            .size_limit(64 << 20)
            .build();
        match plain {
            Ok(re) => Ok(Pattern::Plain(re)),
            Err(error) => {
                let flags = if case_insensitive { "(?i)" } else { "" };
                fancy_regex::Regex::new(&format!("{flags}{cleaned}"))
                    .map(|re| Pattern::Fancy(Box::new(re)))
                    .map_err(|_| ParserError::Regex {
                        pattern: pattern.to_string(),
                        message: crate::config::source::regex_error_summary(&error),
                    })
            }
        }
    }

    fn captures<'t>(&self, text: &'t str) -> Option<Caps<'t>> {
        match self {
            Pattern::Plain(re) => re.captures(text.as_bytes()).map(Caps::Plain),
            // Running out of backtracking budget counts as no match.
            Pattern::Fancy(re) => re.captures(text).ok().flatten().map(Caps::Fancy),
        }
    }
}

impl<'t> Caps<'t> {
    /// Number of groups, the whole match included.
    fn len(&self) -> usize {
        match self {
            Caps::Plain(c) => c.len(),
            Caps::Fancy(c) => c.len(),
        }
    }

    /// Group `i`, when it took part in the match.
    fn get(&self, i: usize) -> Option<Cow<'t, str>> {
        match self {
            Caps::Plain(c) => c.get(i).map(|m| String::from_utf8_lossy(m.as_bytes())),
            Caps::Fancy(c) => c.get(i).map(|m| Cow::Borrowed(m.as_str())),
        }
    }

    /// Group `i` unless absent or empty.
    fn non_blank(&self, i: usize) -> Option<String> {
        self.get(i).filter(|s| !s.is_empty()).map(Cow::into_owned)
    }
}

/// uap-core escapes a few characters Java accepts escaped and the `regex` crate does not.
fn clean_escapes(pattern: &str) -> Cow<'_, str> {
    if !pattern.contains(['\\']) {
        return Cow::Borrowed(pattern);
    }
    let mut out = String::with_capacity(pattern.len());
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some(
                next @ ('!' | ' ' | '/' | '"' | '\'' | '_' | ',' | ';' | ':' | '%' | '@' | '='
                | '<' | '>' | '`' | '~'),
            ) => out.push(next),
            Some(next) => {
                out.push('\\');
                out.push(next);
            }
            None => out.push('\\'),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parser(yaml: &str) -> UaParser {
        UaParser::from_yaml(yaml.as_bytes()).unwrap()
    }

    #[test]
    fn replacements_follow_logstashs_java_parser() {
        let p = parser(
            r#"
user_agent_parsers:
  - regex: '(Foo)/(\d+)\.(\d+)\.(\d+)\.(\d+)'
    family_replacement: 'Bar $1 $1'
  - regex: '(Baz)/(\d+)'
    v2_replacement: 'x'
os_parsers:
  - regex: 'Windows NT 6\.1'
    os_replacement: 'Windows'
    os_v1_replacement: '7'
  - regex: '(CPU OS) (\d+)_(\d+)'
    os_replacement: 'iOS ($1)'
    os_v1_replacement: '$2'
device_parsers:
  - regex: 'Pixel (\d+)'
    regex_flag: 'i'
    device_replacement: ' Pixel $1 $2 '
"#,
        );
        let c = parser_parse(&p, "Foo/1.2.3.4 (Windows NT 6.1) pixel 7");
        assert_eq!(c.user_agent.family, "Bar Foo $1");
        assert_eq!(c.user_agent.major.as_deref(), Some("1"));
        assert_eq!(c.user_agent.patch_minor.as_deref(), Some("4"));
        assert_eq!(c.os.family, "Windows");
        assert_eq!(c.os.major.as_deref(), Some("7"));
        assert_eq!(c.device, "Pixel 7");
        let c = parser_parse(&p, "Baz/9 CPU OS 16_2");
        assert_eq!(c.user_agent.minor.as_deref(), Some("x"));
        assert_eq!(c.os.family, "iOS (CPU OS)");
        assert_eq!(c.os.major.as_deref(), Some("16"));
        assert_eq!(c.os.minor.as_deref(), Some("2"));
        assert_eq!(c.device, "Other");
        let c = parser_parse(&p, "nothing");
        assert_eq!(c.user_agent, other());
        assert_eq!(c.os, other());
    }

    fn parser_parse(p: &UaParser, ua: &str) -> Client {
        p.parse(ua)
    }

    #[test]
    fn the_bundled_regexes_compile() {
        let p = UaParser::from_yaml(BUNDLED_REGEXES).unwrap();
        assert!(p.agents.len() > 100 && p.oses.len() > 50 && p.devices.len() > 100);
    }

    #[test]
    fn a_list_missing_from_the_file_is_an_error() {
        let e = UaParser::from_yaml(b"user_agent_parsers: []\nos_parsers: []\n").err();
        assert!(matches!(
            e,
            Some(ParserError::Missing {
                list: "device_parsers"
            })
        ));
    }
}
