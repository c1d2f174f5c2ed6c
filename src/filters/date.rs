//! The `date` filter: reads a date from a field and sets `@timestamp` (or `target`) from it.
//!
//! `match => [field, format...]` tries each format in order until one reads the field's
//! value. Formats are `ISO8601`, `UNIX`, `UNIX_MS`, `TAI64N` or a Joda-Time pattern
//! (`dd/MMM/yyyy:HH:mm:ss Z`), all compiled when the pipeline is built. A value no format
//! reads tags the event with `tag_on_failure` (`_dateparsefailure`) and leaves it otherwise
//! untouched; a missing or null field is skipped silently (no tag, no common options), as in
//! Logstash. Other Logstash facts kept here:
//!
//! - the result is whole milliseconds (Joda's precision);
//! - a field holding an array fails (Logstash's filter hands the list itself to the parsers,
//!   which take only strings and numbers);
//! - local times are read in `timezone` (a zone id, an offset, or `%{field}` per event),
//!   else in the zone of the `TZ` environment variable, else UTC (Logstash: the JVM's zone);
//! - a pattern without a year takes this year, except December dates read in January (last
//!   year) and January dates read in December (next year);
//! - `locale` picks the language of month and day names; English when unset.
//!
//! Layout: [`pattern`] compiles and reads Joda patterns, [`fields`] resolves the fields read
//! into a date as Joda does, [`iso`] is `ISO8601`, [`epoch`] the numeric formats, [`zone`]
//! time zones and the per-thread conversion cache, [`locale`] the names.
//!
//! [`DateOptions`] is the config; [`Date`] the built filter; [`build_with_clock`] builds one
//! with an injected clock, for tests.

mod epoch;
mod fields;
mod iso;
mod locale;
mod pattern;
mod zone;

use std::sync::Arc;

use serde::Deserialize;

use crate::config::source::did_you_mean;
use crate::config::{Diagnostic, Diagnostics, PluginArgs};
use crate::event::sprintf::Template;
use crate::event::{Event, FieldPath, Text, Timestamp, Value};
use crate::filters::common::failure_tags;

use super::{CommonOptions, Filter};
use fields::Now;
use iso::Iso8601;
pub use locale::Locale;
use pattern::Pattern;
pub use zone::Zone;

/// The wall clock the filter reads to guess missing years (and, at build time, the window of
/// two-digit years). Tests inject a fixed one with [`build_with_clock`].
pub type Clock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

/// The system clock.
pub fn system_clock() -> Clock {
    Arc::new(Timestamp::now)
}

/// The options of `date`, as written in the config.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct DateOptions {
    /// `[field, format, format...]`.
    #[serde(rename = "match")]
    pub match_: Vec<String>,
    /// Where the result goes (default `@timestamp`).
    pub target: Option<String>,
    /// The zone of local times: a zone id, an offset, or a `%{field}` template.
    pub timezone: Option<String>,
    /// The language of month and day names (BCP 47 or POSIX: `en`, `fr-FR`, `de_DE`).
    pub locale: Option<String>,
    /// Tags added when no format reads the value (default `["_dateparsefailure"]`).
    pub tag_on_failure: Option<Vec<String>>,
}

/// The built filter.
pub struct Date {
    source: FieldPath,
    target: Target,
    formats: Box<[Format]>,
    timezone: Timezone,
    tags: Box<[Text]>,
    clock: Clock,
    /// Some pattern may need the clock (year-less patterns guess the year).
    needs_now: bool,
}

enum Target {
    Timestamp,
    Field(FieldPath),
}

enum Timezone {
    Fixed(Zone),
    /// `%{field}`: rendered and read per event.
    PerEvent(Template),
}

/// One compiled format of `match`.
enum Format {
    Iso8601(Box<Iso8601>),
    Unix,
    UnixMs,
    Tai64n,
    Pattern(Box<Pattern>),
}

pub fn build(args: &PluginArgs) -> Result<Box<dyn Filter>, Diagnostics> {
    Ok(Box::new(build_with_clock(args, system_clock())?))
}

/// Builds the filter reading the time from `clock`.
pub fn build_with_clock(args: &PluginArgs, clock: Clock) -> Result<Date, Diagnostics> {
    let options: DateOptions = args.options()?;
    let mut errors = Diagnostics::default();
    let mut fail = |option: &str, message: String| {
        errors.extend(args.error(option, format!("date: {option}: {message}")));
    };
    let now_year = Now::of(clock()).year;
    let (locale, unknown_locale) = match options.locale.as_deref() {
        None => (Locale::English, None),
        Some(tag) => match Locale::parse(tag) {
            Some(locale) => (locale, None),
            None => (Locale::English, Some(tag)),
        },
    };
    let (source, formats) = match options.match_.split_first() {
        Some((field, formats)) if !formats.is_empty() => (Some(field), formats),
        _ => {
            fail(
                "match",
                "needs a field name and at least one format, as in \
                 match => [\"timestamp\", \"ISO8601\"]"
                    .into(),
            );
            (None, &[][..])
        }
    };
    let source = source.and_then(|f| {
        FieldPath::parse(f)
            .map_err(|e| fail("match", e.to_string()))
            .ok()
    });
    let mut compiled = Vec::with_capacity(formats.len());
    for format in formats {
        match compile_format(format, locale, now_year) {
            Ok(f) => compiled.push(f),
            Err(e) => fail("match", format!("invalid date pattern \"{format}\": {e}")),
        }
    }
    if let Some(tag) = unknown_locale.filter(|_| compiled.iter().any(Format::reads_names)) {
        let known: Vec<&str> = Locale::known().collect();
        fail(
            "locale",
            format!(
                "\"{tag}\" is not supported for month and day names; sluice knows {}",
                known.join(", ")
            ),
        );
    }
    let target = match options.target.as_deref() {
        None => Some(Target::Timestamp),
        Some(t) => match FieldPath::parse(t) {
            Ok(path) if path.is_top_level() && path.leaf() == "@timestamp" => {
                Some(Target::Timestamp)
            }
            Ok(path) => Some(Target::Field(path)),
            Err(e) => {
                fail("target", e.to_string());
                None
            }
        },
    };
    let timezone = timezone(args, options.timezone.as_deref(), &mut errors);
    match (source, target, timezone) {
        (Some(source), Some(target), Some(timezone)) if errors.is_empty() => Ok(Date {
            source,
            target,
            needs_now: compiled.iter().any(|f| matches!(f, Format::Pattern(_))),
            formats: compiled.into(),
            timezone,
            tags: failure_tags(options.tag_on_failure, "_dateparsefailure").into(),
            clock,
        }),
        _ => Err(errors),
    }
}

fn compile_format(
    format: &str,
    locale: Locale,
    now_year: i32,
) -> Result<Format, pattern::PatternError> {
    Ok(match format {
        "ISO8601" => Format::Iso8601(Box::default()),
        "UNIX" => Format::Unix,
        "UNIX_MS" => Format::UnixMs,
        "TAI64N" => Format::Tai64n,
        pattern => Format::Pattern(Box::new(Pattern::compile(pattern, locale, now_year)?)),
    })
}

/// The `timezone` option: fixed, per event, or the default zone when absent.
fn timezone(args: &PluginArgs, option: Option<&str>, errors: &mut Diagnostics) -> Option<Timezone> {
    let Some(id) = option else {
        return Some(Timezone::Fixed(default_zone(args)));
    };
    if id.contains("%{") {
        return match Template::parse(id) {
            Ok(template) => Some(Timezone::PerEvent(template)),
            Err(e) => {
                errors.extend(args.error("timezone", format!("date: timezone: {e}")));
                None
            }
        };
    }
    if let Some(zone) = Zone::parse(id) {
        return Some(Timezone::Fixed(zone));
    }
    let names = chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name());
    let mut diagnostic = Diagnostic::new(
        args.span_of("timezone"),
        format!("date: timezone: unknown time zone \"{id}\" (use an IANA name such as \"Europe/Paris\", or an offset such as \"+01:00\")"),
    );
    if let Some(near) = did_you_mean(id, names) {
        diagnostic = diagnostic.with_help(format!("did you mean \"{near}\"?"));
    }
    errors.push(diagnostic);
    None
}

/// The zone local times are read in without a `timezone` option: `TZ` when it names a zone
/// (as the JVM reads it), else UTC.
fn default_zone(args: &PluginArgs) -> Zone {
    (args.env())("TZ")
        .and_then(|tz| Zone::parse(tz.strip_prefix(':').unwrap_or(&tz)))
        .unwrap_or(Zone::UTC)
}

impl Format {
    /// True for a pattern with month, weekday, AM/PM or era names.
    fn reads_names(&self) -> bool {
        match self {
            Format::Pattern(p) => p.reads_names(),
            _ => false,
        }
    }

    /// Reads `value`; `zone` supplies the zone of local times (`None`: an invalid per-event
    /// zone, which fails the text formats).
    fn parse(
        &self,
        value: &Value,
        zone: &mut impl FnMut() -> Option<Zone>,
        now: Now,
    ) -> Option<Timestamp> {
        match self {
            Format::Unix => epoch::unix(value),
            Format::UnixMs => epoch::unix_ms(value),
            Format::Tai64n => epoch::tai64n(value),
            Format::Iso8601(iso) => iso.parse(value.as_str()?, zone()?, now),
            Format::Pattern(pattern) => pattern.parse(value.as_str()?, zone()?, now),
        }
    }
}

impl Date {
    fn now(&self) -> Now {
        if self.needs_now {
            Now::of((self.clock)())
        } else {
            Now {
                year: 1970,
                month: 1,
            }
        }
    }

    /// Parses the source field and sets the target; false when the field is absent or null
    /// (nothing happens) or no format reads it (the event is tagged).
    fn apply_at(&self, event: &mut Event, now: Now) -> bool {
        if event.is_cancelled() {
            return false;
        }
        let parsed = match event.get(&self.source) {
            None | Some(Value::Null) => return false,
            Some(value) => self.parse(value, event, now),
        };
        let Some(ts) = parsed else {
            for tag in self.tags.iter() {
                event.add_tag(tag.clone());
            }
            return false;
        };
        match &self.target {
            Target::Timestamp => event.set_timestamp(ts),
            Target::Field(path) => {
                event.insert(path, Value::Timestamp(ts));
            }
        }
        true
    }

    /// The first format that reads `value`.
    fn parse(&self, value: &Value, event: &Event, now: Now) -> Option<Timestamp> {
        let mut resolved: Option<Option<Zone>> = None;
        let mut zone = || {
            *resolved.get_or_insert_with(|| match &self.timezone {
                Timezone::Fixed(zone) => Some(*zone),
                Timezone::PerEvent(template) => template.with_rendered(event, Zone::parse),
            })
        };
        self.formats
            .iter()
            .find_map(|format| format.parse(value, &mut zone, now))
    }
}

impl Filter for Date {
    fn apply(&self, event: &mut Event) -> bool {
        self.apply_at(event, self.now())
    }

    /// Reads the clock once per batch rather than once per event.
    fn filter(&self, events: &mut Vec<Event>, common: &CommonOptions) {
        let now = self.now();
        for event in events.iter_mut() {
            if self.apply_at(event, now) && !event.is_cancelled() {
                common.apply(event);
            }
        }
    }
}
