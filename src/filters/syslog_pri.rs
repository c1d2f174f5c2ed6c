//! The `syslog_pri` filter: splits a syslog (RFC 3164) `PRI` value into facility and severity.
//!
//! `priority = facility * 8 + severity`. The priority is read from `syslog_pri_field_name`
//! (`syslog_pri`, or `[log][syslog][priority]` under ECS); a missing field means 13 (user-level
//! notice), as the RFC and Logstash say. The codes always land in the event; with `use_labels`
//! (the default) the names from `facility_labels` / `severity_labels` do too, and a facility
//! beyond the labels tags the event `_syslogpriparsefailure` (the codes stay).
//!
//! Field names depend on `ecs_compatibility`: `syslog_facility_code`, `syslog_facility`,
//! `syslog_severity_code`, `syslog_severity` when disabled; `[log][syslog][facility][code]`,
//! `[log][syslog][facility][name]`, `[log][syslog][severity][code]`,
//! `[log][syslog][severity][name]` otherwise.
//!
//! The value is read as Ruby's `to_i` reads it (`"137"`, `" 34abc"` -> 34, `"x"` -> 0, floats
//! truncated, an array's first element). Values Logstash cannot convert at all (`true`, a hash)
//! make its worker fail; here they tag the event `_syslogpriparsefailure` and set nothing.
//!
//! [`SyslogPriOptions`] is the config; [`SyslogPri`] the built filter.

use serde::Deserialize;

use crate::config::options::EcsCompatibility;
use crate::config::{Diagnostics, PluginArgs};
use crate::event::{Event, FieldPath, Text, Value};

use super::Filter;

/// The priority Logstash assumes when the field is absent (user-level notice).
const DEFAULT_PRIORITY: i64 = 13;

/// The tag for a facility without a label, or a value that is not a number at all.
const FAILURE_TAG: Text = Text::from_static("_syslogpriparsefailure");

/// RFC 3164's facility names, as Logstash labels them.
const FACILITY_LABELS: [&str; 24] = [
    "kernel",
    "user-level",
    "mail",
    "daemon",
    "security/authorization",
    "syslogd",
    "line printer",
    "network news",
    "uucp",
    "clock",
    "security/authorization",
    "ftp",
    "ntp",
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

/// RFC 3164's severity names, as Logstash labels them.
const SEVERITY_LABELS: [&str; 8] = [
    "emergency",
    "alert",
    "critical",
    "error",
    "warning",
    "notice",
    "informational",
    "debug",
];

/// The options of `syslog_pri`, as written in the config.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct SyslogPriOptions {
    /// Whether to add the facility and severity names (default true).
    pub use_labels: Option<bool>,
    /// Where the priority is read from (default depends on `ecs_compatibility`).
    pub syslog_pri_field_name: Option<String>,
    /// Facility names, indexed by facility code.
    pub facility_labels: Option<Vec<String>>,
    /// Severity names, indexed by severity code.
    pub severity_labels: Option<Vec<String>>,
    /// Field naming; defaults to the pipeline's `pipeline.ecs_compatibility`.
    pub ecs_compatibility: Option<EcsCompatibility>,
}

/// The built filter.
#[derive(Debug)]
pub struct SyslogPri {
    source: FieldPath,
    use_labels: bool,
    facility_labels: Vec<Text>,
    severity_labels: Vec<Text>,
    facility_code: FieldPath,
    severity_code: FieldPath,
    facility_name: FieldPath,
    severity_name: FieldPath,
}

pub fn build(args: &PluginArgs) -> Result<Box<dyn Filter>, Diagnostics> {
    let options: SyslogPriOptions = args.options()?;
    let ecs = options
        .ecs_compatibility
        .unwrap_or(args.ecs_compatibility())
        .is_ecs();
    let pick = |legacy: &str, ecs_name: &str| FieldPath::parse(if ecs { ecs_name } else { legacy });
    let source = match &options.syslog_pri_field_name {
        Some(name) => FieldPath::parse(name).map_err(|e| {
            args.error(
                "syslog_pri_field_name",
                format!("syslog_pri: syslog_pri_field_name: {e}"),
            )
        })?,
        None => pick("syslog_pri", "[log][syslog][priority]").expect("valid field name"),
    };
    Ok(Box::new(SyslogPri {
        source,
        use_labels: options.use_labels.unwrap_or(true),
        facility_labels: labels(options.facility_labels, &FACILITY_LABELS),
        severity_labels: labels(options.severity_labels, &SEVERITY_LABELS),
        facility_code: pick("syslog_facility_code", "[log][syslog][facility][code]")
            .expect("valid field name"),
        severity_code: pick("syslog_severity_code", "[log][syslog][severity][code]")
            .expect("valid field name"),
        facility_name: pick("syslog_facility", "[log][syslog][facility][name]")
            .expect("valid field name"),
        severity_name: pick("syslog_severity", "[log][syslog][severity][name]")
            .expect("valid field name"),
    }))
}

impl Filter for SyslogPri {
    fn apply(&self, event: &mut Event) -> bool {
        let Some(priority) = priority_of(event.get(&self.source)) else {
            event.add_tag(FAILURE_TAG);
            return false;
        };
        // Ruby's `&` and `>>` on a negative priority: two's complement, arithmetic shift.
        let severity = priority & 7;
        let facility = priority >> 3;
        event.insert(&self.severity_code, Value::Int(severity));
        event.insert(&self.facility_code, Value::Int(facility));
        if self.use_labels {
            self.add_labels(event, facility, severity);
        }
        true
    }
}

impl SyslogPri {
    fn add_labels(&self, event: &mut Event, facility: i64, severity: i64) {
        if facility >= self.facility_labels.len() as i64 {
            event.add_tag(FAILURE_TAG);
            return;
        }
        if let Some(name) = ruby_index(&self.facility_labels, facility) {
            event.insert(&self.facility_name, Value::Str(name.clone()));
        }
        if let Some(name) = ruby_index(&self.severity_labels, severity) {
            event.insert(&self.severity_name, Value::Str(name.clone()));
        }
    }
}

/// The configured labels, or `default`.
fn labels(given: Option<Vec<String>>, default: &'static [&'static str]) -> Vec<Text> {
    match given {
        Some(list) => list.iter().map(|s| Text::new(s)).collect(),
        None => default.iter().map(|s| Text::from_static(s)).collect(),
    }
}

/// Ruby's `array[i]`: a negative index counts from the end; out of range is nil.
fn ruby_index(items: &[Text], i: i64) -> Option<&Text> {
    let len = items.len() as i64;
    let i = if i < 0 { i + len } else { i };
    usize::try_from(i).ok().and_then(|i| items.get(i))
}

/// The priority a field value stands for, as Logstash's `priority.to_i` reads it: a missing,
/// null or `false` field is the default 13, an array stands for its first element. `None` for
/// values Ruby cannot convert (`true`, a hash, a nested array, NaN).
fn priority_of(value: Option<&Value>) -> Option<i64> {
    match value {
        None | Some(Value::Null) | Some(Value::Bool(false)) => Some(DEFAULT_PRIORITY),
        Some(Value::Array(items)) => match items.first() {
            None | Some(Value::Null) => Some(0),
            Some(Value::Array(_)) => None,
            Some(first) => to_i(first),
        },
        Some(other) => to_i(other),
    }
}

/// Ruby's `to_i` on one scalar.
fn to_i(value: &Value) -> Option<i64> {
    match value {
        Value::Int(n) => Some(*n),
        // Float#to_i truncates toward zero; NaN and infinities raise in Ruby.
        Value::Float(f) if f.is_finite() => Some(*f as i64),
        Value::Str(s) => Some(ruby_string_to_i(s.as_str())),
        Value::Timestamp(ts) => Some(ts.secs()),
        _ => None,
    }
}

/// Ruby's `String#to_i`: leading whitespace, an optional sign, then decimal digits (single
/// underscores allowed between digits) up to the first other character; 0 when there are none.
/// Saturates where Ruby would grow a bignum.
pub fn ruby_string_to_i(s: &str) -> i64 {
    let bytes = s
        .trim_start_matches([' ', '\t', '\n', '\x0b', '\x0c', '\r'])
        .as_bytes();
    let (negative, digits) = match bytes.first() {
        Some(b'-') => (true, &bytes[1..]),
        Some(b'+') => (false, &bytes[1..]),
        _ => (false, bytes),
    };
    let mut value: i64 = 0;
    let mut previous_digit = false;
    for (i, &b) in digits.iter().enumerate() {
        match b {
            b'0'..=b'9' => {
                let d = i64::from(b - b'0');
                value = value.saturating_mul(10).saturating_add(d);
                previous_digit = true;
            }
            b'_' if previous_digit && digits.get(i + 1).is_some_and(u8::is_ascii_digit) => {
                previous_digit = false;
            }
            _ => break,
        }
    }
    if negative {
        value.saturating_neg()
    } else {
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_to_i_reads_like_ruby() {
        for (text, expected) in [
            ("137", 137),
            ("  34abc", 34),
            ("+7", 7),
            ("-1", -1),
            ("abc", 0),
            ("", 0),
            ("1_000", 1000),
            ("1__0", 1),
            ("_1", 0),
            ("1_", 1),
            ("\t\n 12", 12),
            ("99999999999999999999999", i64::MAX),
        ] {
            assert_eq!(ruby_string_to_i(text), expected, "{text:?}");
        }
    }

    #[test]
    fn ruby_index_counts_negative_indexes_from_the_end() {
        let items = [Text::from_static("a"), Text::from_static("b")];
        assert_eq!(ruby_index(&items, 0).map(Text::as_str), Some("a"));
        assert_eq!(ruby_index(&items, -1).map(Text::as_str), Some("b"));
        assert_eq!(ruby_index(&items, -3), None);
        assert_eq!(ruby_index(&items, 2), None);
    }

    #[test]
    fn priority_of_follows_ruby_truthiness_and_to_i() {
        assert_eq!(priority_of(None), Some(13));
        assert_eq!(priority_of(Some(&Value::Null)), Some(13));
        assert_eq!(priority_of(Some(&Value::Bool(false))), Some(13));
        assert_eq!(priority_of(Some(&Value::Bool(true))), None);
        assert_eq!(priority_of(Some(&Value::Float(34.9))), Some(34));
        assert_eq!(priority_of(Some(&Value::Float(f64::NAN))), None);
        let list = Value::Array(vec![Value::from("165"), Value::from("1")]);
        assert_eq!(priority_of(Some(&list)), Some(165));
        assert_eq!(priority_of(Some(&Value::Array(Vec::new()))), Some(0));
    }
}
