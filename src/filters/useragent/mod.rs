//! The `useragent` filter: parses a user-agent string into browser, OS and device fields.
//!
//! The regexes are uap-core's, as shipped in the `uaparser` crate's package (see `build.rs`),
//! or the `regexes` file given; they are matched with Logstash's semantics
//! ([`parser::UaParser`]). Parsing is slow and user agents repeat, so each worker thread keeps
//! an LRU cache of results ([`lru::Lru`], `lru_cache_size` entries, shared by the filters that
//! use the same regexes).
//!
//! Fields, as in logstash-filter-useragent: with `ecs_compatibility => disabled`, `name`,
//! `device`, `major`, `minor`, `patch`, `version`, `os_major`, `os_minor`, `os_patch`,
//! `os_version`, `os_name`, `os` and `os_full`, each with `prefix`, at the root or under
//! `target`; in ECS mode `[user_agent][name]`, `[user_agent][version]`,
//! `[user_agent][device][name]`, `[user_agent][os][name|version|full]` (under `target`,
//! default `user_agent`), and the version parts under `[@metadata][filter][user_agent]`.
//! A missing, empty or non-string source leaves the event untouched.
//!
//! [`UseragentOptions`] is the config; [`Useragent`] the built filter.

pub mod lru;
pub mod parser;

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::{Arc, OnceLock};

use serde::Deserialize;

use crate::config::options::EcsCompatibility;
use crate::config::{Diagnostics, PluginArgs};
use crate::event::{Event, FieldPath, Text, Value};

use super::Filter;
use lru::Lru;
use parser::{Client, UaParser};

/// The options of `useragent`, as written in the config.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UseragentOptions {
    pub source: String,
    #[serde(default)]
    pub target: Option<String>,
    /// A uap-core `regexes.yaml` to use instead of the bundled one.
    #[serde(default)]
    pub regexes: Option<String>,
    /// Prepended to every field name (legacy mode only).
    #[serde(default)]
    pub prefix: String,
    #[serde(default)]
    pub lru_cache_size: Option<i64>,
    #[serde(default)]
    pub ecs_compatibility: Option<EcsCompatibility>,
}

const DEFAULT_CACHE_SIZE: usize = 100_000;

/// The values the filter can set, in the order Logstash sets them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Slot {
    Name,
    Device,
    Major,
    Minor,
    Patch,
    Version,
    OsMajor,
    OsMinor,
    OsPatch,
    OsVersion,
    OsName,
    /// The legacy duplicate of `os_name`.
    Os,
    OsFull,
}

const SLOTS: usize = 13;

/// A parse result: the values to set, in order. Shared between a thread's cache and events.
type Parsed = Rc<Vec<(Slot, Text)>>;

/// The built filter.
pub struct Useragent {
    source: FieldPath,
    /// Where each [`Slot`] goes; `None`: not set in this mode.
    paths: [Option<FieldPath>; SLOTS],
    /// Target and source are the same field: the string is replaced by the parsed fields.
    replace_source: bool,
    parser: Arc<UaParser>,
    cache_size: usize,
}

pub fn build(args: &PluginArgs) -> Result<Box<dyn Filter>, Diagnostics> {
    let options: UseragentOptions = args.options()?;
    let ecs = options
        .ecs_compatibility
        .unwrap_or_else(|| args.ecs_compatibility())
        .is_ecs();
    let cache_size = match options.lru_cache_size {
        None => DEFAULT_CACHE_SIZE,
        Some(n) if n > 0 => usize::try_from(n).unwrap_or(usize::MAX),
        Some(n) => {
            return Err(args.error(
                "lru_cache_size",
                format!("useragent: lru_cache_size must be greater than 0, not {n}"),
            ))
        }
    };
    if ecs && !options.prefix.is_empty() {
        tracing::warn!(prefix = %options.prefix, "useragent: field prefix isn't supported in ECS compatibility mode; it is ignored");
    }
    let source = FieldPath::parse(&options.source)
        .map_err(|e| args.error("source", format!("useragent: source: {e}")))?;
    let target = match (&options.target, ecs) {
        (Some(t), _) => Some(
            FieldPath::parse(t)
                .map_err(|e| args.error("target", format!("useragent: target: {e}")))?,
        ),
        (None, true) => Some(FieldPath::top("user_agent")),
        (None, false) => None,
    };
    let paths = slot_paths(target.as_ref(), &options.prefix, ecs)
        .map_err(|e| args.error("target", format!("useragent: {e}")))?;
    let parser = match &options.regexes {
        None => bundled_parser().map_err(|e| args.error("source", format!("useragent: {e}")))?,
        Some(path) => {
            custom_parser(path).map_err(|e| args.error("regexes", format!("useragent: {e}")))?
        }
    };
    Ok(Box::new(Useragent {
        replace_source: target.as_ref() == Some(&source),
        source,
        paths,
        parser,
        cache_size,
    }))
}

/// The bundled regexes, compiled once per process.
fn bundled_parser() -> Result<Arc<UaParser>, String> {
    static PARSER: OnceLock<Result<Arc<UaParser>, String>> = OnceLock::new();
    PARSER
        .get_or_init(|| {
            UaParser::from_yaml(parser::BUNDLED_REGEXES)
                .map(Arc::new)
                .map_err(|e| format!("the bundled regexes: {e}"))
        })
        .clone()
}

fn custom_parser(path: &str) -> Result<Arc<UaParser>, String> {
    let yaml = std::fs::read(path).map_err(|e| format!("cannot read regexes {path}: {e}"))?;
    UaParser::from_yaml(&yaml)
        .map(Arc::new)
        .map_err(|e| format!("regexes {path}: {e}"))
}

/// Each slot's field: legacy names (with `prefix`) under `target` or the root, or ECS names.
fn slot_paths(
    target: Option<&FieldPath>,
    prefix: &str,
    ecs: bool,
) -> Result<[Option<FieldPath>; SLOTS], crate::event::PathError> {
    let mut base = String::new();
    if let Some(target) = target {
        if target.is_metadata() {
            base.push_str("[@metadata]");
        }
        for segment in target.segments() {
            base.push('[');
            base.push_str(segment);
            base.push(']');
        }
    }
    let meta = "[@metadata][filter][user_agent]";
    let names: [Option<String>; SLOTS] = if ecs {
        [
            Some(format!("{base}[name]")),
            Some(format!("{base}[device][name]")),
            Some(format!("{meta}[version][major]")),
            Some(format!("{meta}[version][minor]")),
            Some(format!("{meta}[version][patch]")),
            Some(format!("{base}[version]")),
            Some(format!("{meta}[os][version][major]")),
            Some(format!("{meta}[os][version][minor]")),
            Some(format!("{meta}[os][version][patch]")),
            Some(format!("{base}[os][version]")),
            Some(format!("{base}[os][name]")),
            None,
            Some(format!("{base}[os][full]")),
        ]
    } else {
        [
            "name",
            "device",
            "major",
            "minor",
            "patch",
            "version",
            "os_major",
            "os_minor",
            "os_patch",
            "os_version",
            "os_name",
            "os",
            "os_full",
        ]
        .map(|name| Some(format!("{base}[{prefix}{name}]")))
    };
    let mut paths: [Option<FieldPath>; SLOTS] = Default::default();
    for (path, name) in paths.iter_mut().zip(names) {
        *path = name.as_deref().map(FieldPath::parse).transpose()?;
    }
    Ok(paths)
}

thread_local! {
    /// This thread's caches, by parser and capacity.
    static CACHES: RefCell<HashMap<(u64, usize), Lru<Parsed>>> = RefCell::new(HashMap::new());
}

impl Filter for Useragent {
    fn apply(&self, event: &mut Event) -> bool {
        let parsed = match event.get(&self.source) {
            Some(Value::Str(s)) if !s.is_empty() => self.parse_cached(s),
            Some(Value::Array(items)) => match items.first() {
                Some(Value::Str(s)) if !s.is_empty() => self.parse_cached(s),
                _ => return false,
            },
            _ => return false,
        };
        if self.replace_source {
            event.remove(&self.source);
        }
        for (slot, text) in parsed.iter() {
            if let Some(path) = &self.paths[*slot as usize] {
                event.insert(path, Value::Str(text.clone()));
            }
        }
        true
    }
}

impl Useragent {
    fn parse_cached(&self, ua: &str) -> Parsed {
        let key = (self.parser.id(), self.cache_size);
        let cached = CACHES.try_with(|caches| {
            let mut caches = caches.borrow_mut();
            let lru = caches
                .entry(key)
                .or_insert_with(|| Lru::new(self.cache_size));
            if let Some(hit) = lru.get(ua) {
                return hit;
            }
            let parsed = Rc::new(fields(ua, &self.parser.parse(ua)));
            lru.insert(ua, Rc::clone(&parsed));
            parsed
        });
        // Only during thread teardown, when the cache is gone.
        cached.unwrap_or_else(|_| Rc::new(fields(ua, &self.parser.parse(ua))))
    }
}

/// The values Logstash sets for `client`, in its order.
fn fields(ua: &str, client: &Client) -> Vec<(Slot, Text)> {
    let mut out = Vec::with_capacity(SLOTS);
    let mut put = |slot, s: &str| out.push((slot, Text::new(s)));
    let agent = &client.user_agent;
    put(Slot::Name, &agent.family);
    put(Slot::Device, &client.device);
    for (slot, part) in [
        (Slot::Major, &agent.major),
        (Slot::Minor, &agent.minor),
        (Slot::Patch, &agent.patch),
    ] {
        if let Some(part) = part {
            put(slot, part);
        }
    }
    if let Some(version) = agent_version(ua, agent) {
        put(Slot::Version, &version);
    }
    let os = &client.os;
    for (slot, part) in [
        (Slot::OsMajor, &os.major),
        (Slot::OsMinor, &os.minor),
        (Slot::OsPatch, &os.patch),
    ] {
        if let Some(part) = part {
            put(slot, part);
        }
    }
    let os_version = os_version(os);
    if let Some(version) = &os_version {
        put(Slot::OsVersion, version);
    }
    put(Slot::OsName, &os.family);
    put(Slot::Os, &os.family);
    match &os_version {
        Some(version) => put(Slot::OsFull, &format!("{} {version}", os.family)),
        None => put(Slot::OsFull, &os.family),
    }
    out
}

/// `major[.minor[.patch[.patch_minor]]]`; without a parsed patch-minor, a numeric fourth part
/// that follows the version in the string is added, as Logstash does.
fn agent_version(ua: &str, agent: &parser::Agent) -> Option<String> {
    let mut version = agent.major.clone()?;
    let Some(minor) = &agent.minor else {
        return Some(version);
    };
    version.push('.');
    version.push_str(minor);
    let Some(patch) = &agent.patch else {
        return Some(version);
    };
    version.push('.');
    version.push_str(patch);
    match &agent.patch_minor {
        Some(patch_minor) => {
            version.push('.');
            version.push_str(patch_minor);
        }
        None => {
            if let Some(extra) = trailing_number(ua, &version) {
                version.push('.');
                version.push_str(extra);
            }
        }
    }
    Some(version)
}

/// In `ua`, after the first occurrence of `version`: `.N ` gives `N` when `N` is an integer
/// written canonically (Ruby's `n.to_i.to_s == n`).
fn trailing_number<'u>(ua: &'u str, version: &str) -> Option<&'u str> {
    let end = ua.find(version)? + version.len();
    let rest = ua[end..].strip_prefix('.')?;
    let candidate = &rest[..rest.find(' ')?];
    let n: i64 = candidate.parse().ok()?;
    (n.to_string() == candidate).then_some(candidate)
}

/// `major[sep minor[.patch[.patch_minor]]]`, where `sep` is `.` for a numeric major (`10.15`)
/// and a space for a named one (`Vista SP2`... as Logstash builds it).
fn os_version(os: &parser::Agent) -> Option<String> {
    let major = os.major.as_ref()?;
    let numeric = major.parse::<i64>().is_ok_and(|n| n.to_string() == *major);
    let mut version = major.clone();
    if let Some(minor) = &os.minor {
        version.push(if numeric { '.' } else { ' ' });
        version.push_str(minor);
        if let Some(patch) = &os.patch {
            version.push('.');
            version.push_str(patch);
            if let Some(patch_minor) = &os.patch_minor {
                version.push('.');
                version.push_str(patch_minor);
            }
        }
    }
    Some(version)
}

#[cfg(test)]
mod tests {
    use super::parser::Agent;
    use super::*;

    fn agent(parts: &[&str]) -> Agent {
        let part = |i: usize| parts.get(i).map(|s| s.to_string());
        Agent {
            family: "F".into(),
            major: part(0),
            minor: part(1),
            patch: part(2),
            patch_minor: part(3),
        }
    }

    #[test]
    fn a_fourth_version_part_is_taken_from_the_string_when_canonical() {
        let ua = "App/1.2.3.45 (x) Other/1.2.3.007 z";
        assert_eq!(
            agent_version(ua, &agent(&["1", "2", "3"])).as_deref(),
            Some("1.2.3.45")
        );
        // The first occurrence decides: "9.8.7" is followed by ".007", not canonical.
        assert_eq!(
            agent_version("A/9.8.7.007 B/9.8.7.5 c", &agent(&["9", "8", "7"])).as_deref(),
            Some("9.8.7")
        );
        // No space after the number: not taken.
        assert_eq!(
            agent_version("A/1.2.3.4", &agent(&["1", "2", "3"])).as_deref(),
            Some("1.2.3")
        );
        assert_eq!(
            agent_version(ua, &agent(&["1", "2"])).as_deref(),
            Some("1.2")
        );
        assert_eq!(agent_version(ua, &agent(&[])), None);
    }

    #[test]
    fn os_versions_join_named_majors_with_a_space() {
        assert_eq!(
            os_version(&agent(&["10", "15", "7"])).as_deref(),
            Some("10.15.7")
        );
        assert_eq!(
            os_version(&agent(&["Vista", "SP2"])).as_deref(),
            Some("Vista SP2")
        );
        assert_eq!(os_version(&agent(&["07", "1"])).as_deref(), Some("07 1"));
        assert_eq!(
            os_version(&agent(&["8", "1", "2", "3"])).as_deref(),
            Some("8.1.2.3")
        );
        assert_eq!(os_version(&agent(&[])), None);
    }
}
