//! [`Relay`]: what Logstash's syslog input does to each decoded event (its `syslog_relay`):
//! parse the `syslog_field`, write the fields, set `@timestamp`, add the priority's facility
//! and severity with their labels; on failure tag `_grokparsefailure_sysloginput` and assume
//! priority 13.
//!
//! Field names, by `ecs_compatibility`:
//!
//! | | disabled | v1, v8 |
//! |---|---|---|
//! | PRI | `priority` | `[log][syslog][priority]` |
//! | facility, severity | `facility`, `severity` | `[log][syslog][facility][code]`, `[log][syslog][severity][code]` |
//! | their labels | `facility_label`, `severity_label` | `[log][syslog][facility][name]`, `[log][syslog][severity][name]` |
//! | host in the header | `logsource` | `[host][hostname]` |
//! | program, pid | `program`, `pid` (text) | `[process][name]`, `[process][pid]` (number) |
//! | timestamp text | `timestamp` (ISO8601 also `timestamp8601`) | none (removed once read, as Logstash does) |
//! | the original line | | `[event][original]` |
//! | | | `[service][type]` (`service_type`, default `system`) |
//! | RFC 5424 VERSION | `syslog5424_ver` | `[system][syslog][version]` |
//! | RFC 5424 MSGID | `syslog5424_msgid` | `[event][code]` |
//! | RFC 5424 STRUCTURED-DATA | `syslog5424_sd` | `[system][syslog][structured_data]` |
//! | RFC 5424 non-numeric PROCID | `pid` | `[log][syslog][procid]` |
//!
//! The RFC 5424 names are those of logstash-patterns-core's `SYSLOG5424LINE` (Logstash's
//! syslog input itself does not read RFC 5424). The `message` field gets the message part.
//!
//! With `grok_pattern`, the real `grok` and `date` filters do the parsing, configured as
//! Logstash's input configures them (slower, but exactly Logstash's semantics).

use crate::config::ast;
use crate::config::options::EcsCompatibility;
use crate::config::source::{Span, Spanned};
use crate::config::{Diagnostics, PluginArgs};
use crate::event::{Event, FieldPath, Map, Text, Timestamp, Value};
use crate::filters::date::Zone;
use crate::filters::grok::{build_grok, Grok};
use crate::filters::Filter;

use super::parse::{parse, Format, Syslog, ZoneClock};

/// The tag of an event whose line did not parse (Logstash's, from its grok's `tag_on_failure`).
pub const PARSE_FAILURE_TAG: &str = "_grokparsefailure_sysloginput";
/// The tag of an event whose timestamp names a date that does not exist.
pub const DATE_FAILURE_TAG: &str = "_dateparsefailure";
/// The priority assumed for lines without one, or that do not parse (RFC 3164 4.3.3).
const DEFAULT_PRIORITY: i64 = 13;

/// The syslog input's default `facility_labels`.
pub const FACILITY_LABELS: [&str; 24] = [
    "kernel",
    "user-level",
    "mail",
    "system",
    "security/authorization",
    "syslogd",
    "line printer",
    "network news",
    "UUCP",
    "clock",
    "security/authorization",
    "FTP",
    "NTP",
    "log audit",
    "log alert",
    "clock",
    "local0",
    "local1",
    "local2",
    "local3",
    "local4",
    "local5",
    "local6",
    "local7",
];

/// The syslog input's default `severity_labels`.
pub const SEVERITY_LABELS: [&str; 8] = [
    "Emergency",
    "Alert",
    "Critical",
    "Error",
    "Warning",
    "Notice",
    "Informational",
    "Debug",
];

/// Logstash's default patterns; a `grok_pattern` equal to one of them uses the hand parser.
const DEFAULT_PATTERNS: [&str; 2] = [
    "<%{POSINT:priority}>%{SYSLOGLINE}",
    "<%{POSINT:[log][syslog][priority]:int}>%{SYSLOGLINE}",
];

/// The date formats Logstash's syslog input gives its date filter.
const DATE_FORMATS: [&str; 4] = [
    "MMM dd HH:mm:ss",
    "MMM  d HH:mm:ss",
    "MMM d HH:mm:ss",
    "ISO8601",
];

/// The options a relay is built from.
pub struct RelayOptions {
    pub ecs: EcsCompatibility,
    pub syslog_field: String,
    pub grok_pattern: Option<String>,
    pub use_labels: bool,
    pub facility_labels: Option<Vec<String>>,
    pub severity_labels: Option<Vec<String>>,
    pub timezone: Option<String>,
    pub locale: Option<String>,
    pub service_type: String,
}

/// The syslog input's per-event processing, built once and shared by its connections.
pub struct Relay {
    ecs: bool,
    use_labels: bool,
    facility_labels: Vec<Text>,
    severity_labels: Vec<Text>,
    service_type: Option<Text>,
    syslog_field: FieldPath,
    zone: Zone,
    custom: Option<CustomPattern>,
}

/// `grok_pattern`: the grok and date filters Logstash's input runs.
struct CustomPattern {
    grok: Grok,
    date: Box<dyn Filter>,
    priority: FieldPath,
}

/// Per-connection (or per-worker) parsing state: the zone cache and the date for year
/// guessing.
pub struct RelayState {
    clock: ZoneClock,
}

impl RelayState {
    /// Moves the date used for guessing years (once per read).
    pub fn set_now(&mut self, now: Timestamp) {
        self.clock.set_now(now);
    }
}

impl Relay {
    /// Builds the relay; `args` are the input's (for error positions and the environment).
    pub fn build(args: &PluginArgs, options: RelayOptions) -> Result<Relay, Diagnostics> {
        let ecs = options.ecs.is_ecs();
        let mut errors = Diagnostics::default();
        let syslog_field = FieldPath::parse(&options.syslog_field).map_err(|e| {
            errors.extend(args.error("syslog_field", format!("syslog: syslog_field: {e}")));
        });
        let zone = match options.timezone.as_deref() {
            Some(id) => Zone::parse(id).ok_or_else(|| {
                errors.extend(args.error(
                    "timezone",
                    format!(
                        "syslog: timezone: unknown time zone \"{id}\" (use an IANA name such as \
                         \"Europe/Paris\", or an offset such as \"+01:00\")"
                    ),
                ));
            }),
            None => Ok(default_zone(args)),
        };
        let custom = match options.grok_pattern.as_deref() {
            Some(p) if !DEFAULT_PATTERNS.contains(&p) => custom_pattern(args, &options, p)
                .map(Some)
                .map_err(|e| errors.extend(e)),
            _ => check_locale(args, options.locale.as_deref())
                .map(|()| None)
                .map_err(|e| errors.extend(e)),
        };
        let (Ok(syslog_field), Ok(zone), Ok(custom)) = (syslog_field, zone, custom) else {
            return Err(errors);
        };
        Ok(Relay {
            ecs,
            use_labels: options.use_labels,
            facility_labels: labels(options.facility_labels, &FACILITY_LABELS),
            severity_labels: labels(options.severity_labels, &SEVERITY_LABELS),
            service_type: (ecs && !options.service_type.is_empty())
                .then(|| Text::from_string(options.service_type)),
            syslog_field,
            zone,
            custom,
        })
    }

    /// Fresh per-connection state.
    pub fn state(&self, now: Timestamp) -> RelayState {
        RelayState {
            clock: ZoneClock::new(self.zone, now),
        }
    }

    /// Puts the sender's address in `host` (`[host][ip]` under ECS), as the input does before
    /// parsing.
    pub fn set_source(&self, event: &mut Event, ip: &Text) {
        let fields = event.fields_mut();
        if self.ecs {
            child(fields, "host").insert(Text::from_static("ip"), Value::Str(ip.clone()));
        } else {
            fields.insert(Text::from_static("host"), Value::Str(ip.clone()));
        }
    }

    /// Parses one event's `syslog_field` and writes what it found.
    pub fn apply(&self, event: &mut Event, state: &mut RelayState) {
        let line = match self.syslog_field.segments() {
            [name] => event.get_field(name),
            _ => event.get(&self.syslog_field),
        };
        let line = match line {
            Some(Value::Str(text)) => Some(text.clone()),
            _ => None,
        };
        match &self.custom {
            Some(custom) => self.apply_custom(custom, event, line),
            None => {
                let parsed = line.as_ref().and_then(|l| parse(l, &mut state.clock));
                self.write(event, line.as_ref(), parsed.as_ref());
            }
        }
    }

    /// Writes a parsed line's fields, or a failure's (`parsed` is `None`); `line` is the text
    /// `parsed` was read from.
    fn write(&self, event: &mut Event, line: Option<&Text>, parsed: Option<&Syslog>) {
        let priority = parsed.map_or(DEFAULT_PRIORITY, |p| {
            p.priority.map_or(DEFAULT_PRIORITY, i64::from)
        });
        let fields = event.fields_mut();
        if self.ecs {
            self.write_ecs(fields, line, parsed, priority);
        } else {
            self.write_legacy(fields, line, parsed, priority);
        }
        let (Some(parsed), Some(line)) = (parsed, line) else {
            event.add_tag(Text::from_static(PARSE_FAILURE_TAG));
            return;
        };
        // Logstash's grok writes no empty capture: an empty message part leaves `message`.
        if !parsed.message.is_empty() {
            fields.insert(
                Text::from_static("message"),
                Value::Str(line.substr(parsed.message)),
            );
        }
        match parsed.time {
            Some(time) => event.set_timestamp(time),
            None if parsed.timestamp.is_some() => {
                event.add_tag(Text::from_static(DATE_FAILURE_TAG))
            }
            None => {}
        }
    }

    /// The ECS fields: each top-level object (`log`, `event`, `process`, `system`, `service`)
    /// is built whole, then put in the event with one lookup.
    fn write_ecs(
        &self,
        fields: &mut Map,
        line: Option<&Text>,
        parsed: Option<&Syslog>,
        priority: i64,
    ) {
        let mut syslog = self.ecs_priority(priority);
        let mut event = Map::with_capacity(2);
        if let Some(line) = line {
            event.push_new(Text::from_static("original"), Value::Str(line.clone()));
        }
        if let (Some(p), Some(line)) = (parsed, line) {
            let text = |part: &str| Value::Str(line.substr(part));
            if let Some(hostname) = p.hostname {
                child(fields, "host").insert(Text::from_static("hostname"), text(hostname));
            }
            let mut process = Map::new();
            if let Some(program) = p.program {
                process.push_new(Text::from_static("name"), text(program));
            }
            match p.pid.map(|pid| (pid, pid.parse::<i64>())) {
                Some((_, Ok(pid))) => process.push_new(Text::from_static("pid"), Value::Int(pid)),
                Some((pid, Err(_))) => syslog.push_new(Text::from_static("procid"), text(pid)),
                None => {}
            }
            if !process.is_empty() {
                merge(fields, "process", process);
            }
            if p.format == Format::Rfc5424 {
                if let Some(msgid) = p.msgid {
                    event.push_new(Text::from_static("code"), text(msgid));
                }
                let mut system = Map::with_capacity(2);
                for (key, part) in [
                    ("version", p.version),
                    ("structured_data", p.structured_data),
                ] {
                    if let Some(part) = part {
                        system.push_new(Text::from_static(key), text(part));
                    }
                }
                merge(fields, "system", single("syslog", system));
            }
        }
        merge(fields, "log", single("syslog", syslog));
        if !event.is_empty() {
            merge(fields, "event", event);
        }
        self.set_service_type(fields);
    }

    /// `[service][type]`, unless the event has one.
    fn set_service_type(&self, fields: &mut Map) {
        let Some(service_type) = &self.service_type else {
            return;
        };
        let service = child(fields, "service");
        if !service.contains_key("type") {
            service.push_new(Text::from_static("type"), Value::Str(service_type.clone()));
        }
    }

    /// `[log][syslog]`'s priority, facility and severity (with their labels).
    fn ecs_priority(&self, priority: i64) -> Map {
        let (facility, severity) = (priority >> 3, priority & 7);
        let mut syslog = Map::with_capacity(4);
        syslog.push_new(Text::from_static("priority"), Value::Int(priority));
        for (key, code, labels) in [
            ("facility", facility, &self.facility_labels),
            ("severity", severity, &self.severity_labels),
        ] {
            let mut map = Map::with_capacity(2);
            map.push_new(Text::from_static("code"), Value::Int(code));
            if let Some(label) = self.label(labels, code) {
                map.push_new(Text::from_static("name"), Value::Str(label));
            }
            syslog.push_new(Text::from_static(key), Value::Map(map));
        }
        syslog
    }

    /// The legacy (flat) fields; appended without lookups when the event has none of them yet
    /// (the usual case).
    fn write_legacy(
        &self,
        fields: &mut Map,
        line: Option<&Text>,
        parsed: Option<&Syslog>,
        priority: i64,
    ) {
        let fresh = !fields.keys().any(|k| LEGACY_FIELDS.contains(&k.as_str()));
        let mut put = |key: &'static str, value: Value| {
            if fresh {
                fields.push_new(Text::from_static(key), value);
            } else {
                fields.insert(Text::from_static(key), value);
            }
        };
        let (facility, severity) = (priority >> 3, priority & 7);
        put("priority", Value::Int(priority));
        put("severity", Value::Int(severity));
        put("facility", Value::Int(facility));
        if let Some(label) = self.label(&self.facility_labels, facility) {
            put("facility_label", Value::Str(label));
        }
        if let Some(label) = self.label(&self.severity_labels, severity) {
            put("severity_label", Value::Str(label));
        }
        let (Some(p), Some(line)) = (parsed, line) else {
            return;
        };
        let mut put_text = |key: &'static str, part: Option<&str>| {
            if let Some(part) = part {
                put(key, Value::Str(line.substr(part)));
            }
        };
        put_text("timestamp", p.timestamp);
        if p.timestamp_is_iso && p.format == Format::Rfc3164 {
            put_text("timestamp8601", p.timestamp);
        }
        put_text("logsource", p.hostname);
        put_text("program", p.program);
        put_text("pid", p.pid);
        if p.format == Format::Rfc5424 {
            put_text("syslog5424_ver", p.version);
            put_text("syslog5424_msgid", p.msgid);
            put_text("syslog5424_sd", p.structured_data);
        }
    }

    /// Priority, facility and severity with their labels, for the custom-pattern path.
    fn set_priority(&self, event: &mut Event, priority: i64) {
        let fields = event.fields_mut();
        if self.ecs {
            merge(fields, "log", single("syslog", self.ecs_priority(priority)));
        } else {
            self.write_legacy(fields, None, None, priority);
        }
    }

    fn label(&self, labels: &[Text], code: i64) -> Option<Text> {
        if !self.use_labels {
            return None;
        }
        usize::try_from(code)
            .ok()
            .and_then(|i| labels.get(i))
            .cloned()
    }

    /// Logstash's flow with a custom pattern: grok (which tags failures), then the priority
    /// it captured (Ruby's `to_i`: absent is 0), the date filter on `timestamp`, and, under
    /// ECS, `timestamp` removed.
    fn apply_custom(&self, custom: &CustomPattern, event: &mut Event, line: Option<Text>) {
        if self.ecs {
            if let Some(line) = line {
                child(event.fields_mut(), "event")
                    .insert(Text::from_static("original"), Value::Str(line));
            }
        }
        self.custom_parse(custom, event);
        if self.ecs {
            self.set_service_type(event.fields_mut());
        }
    }

    fn custom_parse(&self, custom: &CustomPattern, event: &mut Event) {
        if !custom.grok.apply(event) {
            self.set_priority(event, DEFAULT_PRIORITY);
            return;
        }
        let priority = ruby_to_i(event.get(&custom.priority)).unwrap_or(DEFAULT_PRIORITY);
        self.set_priority(event, priority);
        let timestamp = FieldPath::top("timestamp");
        if !self.ecs {
            if let Some(iso) = event.get_field("timestamp8601").cloned() {
                event.insert(&timestamp, iso);
            }
        }
        custom.date.apply(event);
        if self.ecs {
            event.remove(&timestamp);
        }
    }
}

/// Every flat field the legacy names write.
const LEGACY_FIELDS: [&str; 13] = [
    "priority",
    "severity",
    "facility",
    "facility_label",
    "severity_label",
    "timestamp",
    "timestamp8601",
    "logsource",
    "program",
    "pid",
    "syslog5424_ver",
    "syslog5424_msgid",
    "syslog5424_sd",
];

/// A map of one entry.
fn single(key: &'static str, value: Map) -> Map {
    let mut map = Map::with_capacity(1);
    map.push_new(Text::from_static(key), Value::Map(value));
    map
}

/// Puts `map` at `key`: whole when absent (one lookup), else entry by entry, maps into maps,
/// replacing other values (Logstash's `event.set`).
fn merge(fields: &mut Map, key: &str, map: Map) {
    match fields.get_mut(key) {
        Some(Value::Map(existing)) => {
            for (k, v) in map {
                match (existing.get(&k), v) {
                    (Some(Value::Map(_)), Value::Map(inner)) => merge(existing, &k, inner),
                    (_, v) => {
                        existing.insert(k, v);
                    }
                }
            }
        }
        Some(other) => *other = Value::Map(map),
        None => fields.push_new(Text::new(key), Value::Map(map)),
    }
}

/// The map at `key` (one lookup), made (or made to replace a non-map value) when needed.
fn child<'m>(map: &'m mut Map, key: &'static str) -> &'m mut Map {
    let slot = map.get_or_insert_with(key, || Value::Map(Map::with_capacity(2)));
    if !matches!(slot, Value::Map(_)) {
        *slot = Value::Map(Map::with_capacity(2));
    }
    match slot {
        Value::Map(m) => m,
        // Just made a map there.
        _ => unreachable!("a map was put at {key}"),
    }
}

/// Ruby's `value.to_i rescue 13` as the input applies it: absent or null is 0, numbers
/// truncate, text reads its leading integer (0 without one); other types raise (`None`).
fn ruby_to_i(value: Option<&Value>) -> Option<i64> {
    match value {
        None | Some(Value::Null) => Some(0),
        Some(Value::Int(n)) => Some(*n),
        Some(Value::Float(f)) => Some(*f as i64),
        Some(Value::Str(s)) => {
            let s = s.trim_start();
            let (sign, digits) = match s.strip_prefix('-') {
                Some(rest) => (-1, rest),
                None => (1, s.strip_prefix('+').unwrap_or(s)),
            };
            let end = digits.bytes().take_while(u8::is_ascii_digit).count();
            Some(sign * digits[..end].parse::<i64>().unwrap_or(0))
        }
        Some(_) => None,
    }
}

fn labels(configured: Option<Vec<String>>, defaults: &[&'static str]) -> Vec<Text> {
    match configured {
        Some(labels) => labels.into_iter().map(Text::from_string).collect(),
        None => defaults.iter().map(|l| Text::from_static(l)).collect(),
    }
}

/// `TZ` when it names a zone (as the JVM reads it), else UTC: the date filter's default.
fn default_zone(args: &PluginArgs) -> Zone {
    (args.env())("TZ")
        .and_then(|tz| Zone::parse(tz.strip_prefix(':').unwrap_or(&tz)))
        .unwrap_or(Zone::UTC)
}

/// The hand parser reads English month names only.
fn check_locale(args: &PluginArgs, locale: Option<&str>) -> Result<(), Diagnostics> {
    let Some(locale) = locale else {
        return Ok(());
    };
    let language = locale.split(['-', '_', '.']).next().unwrap_or("");
    if ["en", "C", "POSIX", ""].contains(&language) {
        return Ok(());
    }
    Err(args.error(
        "locale",
        format!(
            "syslog: locale: \"{locale}\" is not supported: syslog timestamps are read with \
             English month names (use a grok_pattern to have the date filter read other locales)"
        ),
    ))
}

/// The grok and date filters for `grok_pattern`, built from a config Logstash's input would
/// give them; their errors are reported at `grok_pattern` / `timezone` / `locale`.
fn custom_pattern(
    args: &PluginArgs,
    options: &RelayOptions,
    pattern: &str,
) -> Result<CustomPattern, Diagnostics> {
    let ecs = match options.ecs {
        EcsCompatibility::Disabled => "disabled",
        _ => "v1",
    };
    let field = options.syslog_field.as_str();
    let grok = plugin(
        "grok",
        vec![
            ("match", hash(field, string(pattern))),
            ("overwrite", array(&[field])),
            ("tag_on_failure", array(&[PARSE_FAILURE_TAG])),
            ("ecs_compatibility", string(ecs)),
        ],
    );
    let grok = build_grok(&PluginArgs::new(&grok, args.env()))
        .map_err(|d| relocate(args, "grok_pattern", d))?;
    let mut formats = vec!["timestamp"];
    formats.extend(DATE_FORMATS);
    let mut date_attributes = vec![("match", array(&formats))];
    if let Some(tz) = &options.timezone {
        date_attributes.push(("timezone", string(tz)));
    }
    if let Some(locale) = &options.locale {
        date_attributes.push(("locale", string(locale)));
    }
    let date = plugin("date", date_attributes);
    let date = crate::filters::date::build(&PluginArgs::new(&date, args.env()))
        .map_err(|d| relocate(args, "timezone", d))?;
    let priority = if options.ecs.is_ecs() {
        "[log][syslog][priority]"
    } else {
        "priority"
    };
    Ok(CustomPattern {
        grok,
        date,
        priority: FieldPath::parse(priority).unwrap_or_else(|_| FieldPath::top("priority")),
    })
}

/// Diagnostics of a filter built from made-up config text, moved to the input's `option`.
fn relocate(args: &PluginArgs, option: &str, diagnostics: Diagnostics) -> Diagnostics {
    let mut out = Diagnostics::default();
    for d in diagnostics.0 {
        out.extend(args.error(option, format!("syslog: {option}: {}", d.message)));
    }
    out
}

fn plugin(name: &str, attributes: Vec<(&str, ast::Value)>) -> ast::Plugin {
    ast::Plugin {
        name: spanned(name.to_string()),
        attributes: attributes
            .into_iter()
            .map(|(name, value)| ast::Attribute {
                name: spanned(name.to_string()),
                value: spanned(value),
            })
            .collect(),
        span: Span::default(),
    }
}

fn spanned<T>(node: T) -> Spanned<T> {
    Spanned::new(node, Span::default())
}

fn string(s: &str) -> ast::Value {
    ast::Value::String(s.to_string())
}

fn array(items: &[&str]) -> ast::Value {
    ast::Value::Array(items.iter().map(|s| spanned(string(s))).collect())
}

fn hash(key: &str, value: ast::Value) -> ast::Value {
    ast::Value::Hash(vec![ast::HashEntry {
        key: spanned(key.to_string()),
        value: spanned(value),
    }])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ruby_to_i_as_logstash_reads_priorities() {
        assert_eq!(ruby_to_i(None), Some(0));
        assert_eq!(ruby_to_i(Some(&Value::from("34"))), Some(34));
        assert_eq!(ruby_to_i(Some(&Value::from(" 34abc"))), Some(34));
        assert_eq!(ruby_to_i(Some(&Value::from("x"))), Some(0));
        assert_eq!(ruby_to_i(Some(&Value::Int(7))), Some(7));
        assert_eq!(ruby_to_i(Some(&Value::Bool(true))), None);
    }
}
