//! Settings: `--settings FILE` (TOML with Logstash's dotted names) and the flags that override it.
//!
//! A settings file uses Logstash's setting names as TOML keys, so the dotted form and the table
//! form mean the same:
//!
//! ```text
//! pipeline.workers = 4          # same as:  [pipeline]
//! pipeline.batch.size = 250     #           workers = 4
//! log.level = "debug"           #           batch.size = 250
//! ```
//!
//! [`Settings`] holds one struct per group ([`PipelineGroup`], [`ConfigGroup`], [`PathGroup`],
//! [`LogGroup`]); every leaf is an `Option` so "not set" is distinct from a default, which lets
//! the command line build a [`Settings`] of its own and lay it over the file's with
//! [`Settings::overlay`] (flags win). Defaults are applied only when reading the result
//! ([`Settings::pipeline_settings`], [`Settings::log_level`], ...).
//!
//! Every group rejects unknown keys; [`Settings::from_toml`] turns the error into a
//! `file:line:col: unknown setting "pipeline.wrkers"` diagnostic with a did-you-mean drawn from
//! [`known_keys`].
//!
//! To add a setting: add an `Option` field to its group (or a new group to [`Settings`]), a line
//! to that group's `overlay`, and an accessor if it needs a default. [`known_keys`] picks it up by
//! itself.

use crate::config::options::EcsCompatibility;
use crate::plan::BuildSettings;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::config::source::did_you_mean;
use crate::config::{Diagnostic, ParseOptions, SourceMap, Span};
use crate::pipeline::{Ordered, PipelineSettings};

/// Every setting, as read from a settings file or gathered from flags.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(default)]
    pub pipeline: PipelineGroup,
    #[serde(default)]
    pub config: ConfigGroup,
    #[serde(default)]
    pub path: PathGroup,
    #[serde(default)]
    pub log: LogGroup,
    #[serde(default)]
    pub dead_letter_queue: DeadLetterQueueGroup,
    #[serde(default)]
    pub metrics: MetricsGroup,
    #[serde(default)]
    pub http: HttpGroup,
    #[serde(default)]
    pub filters: FiltersGroup,
    #[serde(default)]
    pub shutdown: ShutdownGroup,
}

/// A duration written as Logstash writes `config.reload.interval`: `"500ms"`, `"30s"`, `"2m"`
/// (see [`crate::config::duration::parse_duration`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DurationSetting(pub Duration);

impl<'de> Deserialize<'de> for DurationSetting {
    fn deserialize<D: serde::Deserializer<'de>>(de: D) -> Result<DurationSetting, D::Error> {
        let text = String::deserialize(de)?;
        crate::config::duration::parse_duration(&text)
            .map(DurationSetting)
            .map_err(serde::de::Error::custom)
    }
}

impl std::str::FromStr for DurationSetting {
    type Err = String;

    fn from_str(text: &str) -> Result<DurationSetting, String> {
        crate::config::duration::parse_duration(text).map(DurationSetting)
    }
}

/// `metrics.*`: where the worker reports its metrics.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsGroup {
    #[serde(default)]
    pub statsd: StatsdGroup,
}

/// `metrics.statsd.*`: metrics go to statsd when `host` is set.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatsdGroup {
    /// `metrics.statsd.host`: statsd's host; unset, no metrics are sent.
    pub host: Option<String>,
    /// `metrics.statsd.port` (default 8125).
    pub port: Option<u16>,
    /// `metrics.statsd.prefix` (default `sluice`).
    pub prefix: Option<String>,
    /// `metrics.statsd.flush_interval` (default `1s`).
    pub flush_interval: Option<DurationSetting>,
    /// `metrics.statsd.tags`: DogStatsD-style tags (default true); false folds the pipeline and
    /// plugin ids into the names, for plain statsd.
    pub tags: Option<bool>,
}

/// `http.*`: the node API.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpGroup {
    /// `http.host` (default `127.0.0.1`, as Logstash).
    pub host: Option<String>,
    /// `http.port` (default 9600, as Logstash).
    pub port: Option<u16>,
}

/// `filters.*`: the pipeline's filter section released from a git repository by tag.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FiltersGroup {
    /// `filters.repo`: any URL git understands (`file://`, ssh, https).
    pub repo: Option<String>,
    /// `filters.ref`: a tag glob (`release-*`, `v*`: the highest version wins) or a fixed tag or
    /// branch.
    #[serde(rename = "ref")]
    pub git_ref: Option<String>,
    /// `filters.poll_interval` (default `30s`).
    pub poll_interval: Option<DurationSetting>,
    /// `filters.path`: the folder inside the repo holding the `.conf` files (default: its root).
    pub path: Option<PathBuf>,
    /// `filters.canary_ref`: tags run as canaries first (`canary-*`).
    pub canary_ref: Option<String>,
    /// `filters.canary_percent`: the share of live events a canary is run on (percent).
    pub canary_percent: Option<f64>,
    /// `filters.canary_budget`: the share of compared events that may differ (percent) for a
    /// canary to be promoted.
    pub canary_budget: Option<f64>,
    /// `filters.canary_duration`: how long a canary is compared before promotion.
    pub canary_duration: Option<DurationSetting>,
}

/// `shutdown.*`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShutdownGroup {
    /// `shutdown.timeout`: how long SIGTERM waits for queued events to be delivered before the
    /// process exits non-zero (default: no limit).
    pub timeout: Option<DurationSetting>,
}

/// `dead_letter_queue.*`: where outputs put events Elasticsearch refuses for good.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeadLetterQueueGroup {
    /// `dead_letter_queue.enable` (default false, as in Logstash).
    pub enable: Option<bool>,
    /// `dead_letter_queue.max_bytes`: the queue's size limit in bytes (default 1 GiB).
    pub max_bytes: Option<u64>,
}

/// `pipeline.*`: the runtime's shape.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineGroup {
    /// `pipeline.workers`: filter worker threads (default: number of cores).
    pub workers: Option<NonZeroUsize>,
    #[serde(default)]
    pub batch: BatchGroup,
    /// `pipeline.ecs_compatibility`: the default of every plugin's `ecs_compatibility`
    /// (`disabled`, `v1`, `v8`; default `v8`, as in Logstash 8).
    pub ecs_compatibility: Option<EcsCompatibility>,
    /// `pipeline.ordered`: `auto` (default: ordered when an input reads Kafka partitions),
    /// `true` or `false`.
    pub ordered: Option<Ordered>,
}

/// `pipeline.batch.*`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchGroup {
    /// `pipeline.batch.size`: events per batch (default 125).
    pub size: Option<NonZeroUsize>,
    /// `pipeline.batch.delay`: milliseconds to wait for a batch to fill (default 50).
    pub delay: Option<u64>,
}

/// `config.*`: how the pipeline config is read.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigGroup {
    /// `config.string`: the config text itself (`-e`).
    pub string: Option<String>,
    /// `config.test_and_exit`: validate and exit (`-t`).
    pub test_and_exit: Option<bool>,
    /// `config.support_escapes`: process `\n`, `\t`, ... in quoted strings.
    pub support_escapes: Option<bool>,
    #[serde(default)]
    pub reload: ReloadGroup,
}

/// `config.reload.*`: reloading local config files.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReloadGroup {
    /// `config.reload.automatic` (`-r`): watch the config files and reload on change.
    pub automatic: Option<bool>,
    /// `config.reload.interval` (default `3s`, as Logstash).
    pub interval: Option<DurationSetting>,
}

/// `path.data` when not set, as Logstash's (relative to the working directory).
pub const DEFAULT_DATA_PATH: &str = "data";

/// `path.*`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathGroup {
    /// `path.config`: config files or folders (`-f`); one path or a list. Relative paths in a
    /// settings file are relative to that file's folder.
    pub config: Option<OneOrMany<PathBuf>>,
    /// `path.data`: where plugins keep their state (file input sincedbs) and, by default, the
    /// dead letter queue (default `data`, relative to the working directory).
    pub data: Option<PathBuf>,
    /// `path.dead_letter_queue` (default `<path.data>/dead_letter_queue`).
    pub dead_letter_queue: Option<PathBuf>,
}

/// `log.*`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogGroup {
    /// `log.level` (default `info`).
    pub level: Option<LogLevel>,
}

/// A setting that takes one value or a list (`path.config = "a.conf"` or `["a", "b"]`).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany<T> {
    One(T),
    Many(Vec<T>),
}

impl<T> OneOrMany<T> {
    pub fn into_vec(self) -> Vec<T> {
        match self {
            OneOrMany::One(t) => vec![t],
            OneOrMany::Many(v) => v,
        }
    }
}

/// `log.level` values, as Logstash names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

impl From<LogLevel> for tracing::Level {
    fn from(level: LogLevel) -> tracing::Level {
        match level {
            LogLevel::Error => tracing::Level::ERROR,
            LogLevel::Warn => tracing::Level::WARN,
            LogLevel::Info => tracing::Level::INFO,
            LogLevel::Debug => tracing::Level::DEBUG,
            LogLevel::Trace => tracing::Level::TRACE,
        }
    }
}

/// Where the pipeline config comes from, once flags and file are merged.
#[derive(Clone, Debug, PartialEq)]
pub enum ConfigSource {
    /// `path.config` / `-f`: files or folders, in the order given.
    Paths(Vec<PathBuf>),
    /// `config.string` / `-e`.
    Text(String),
}

/// Why settings could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The settings file could not be read.
    #[error("cannot read settings file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The file is not valid TOML or holds an unknown key or a bad value; the text is the
    /// rendered diagnostic (`file:line:col: message`, source line, caret, help).
    #[error("{0}")]
    Invalid(String),
    /// `path.config` and `config.string` are both set.
    #[error("path.config (-f) and config.string (-e) cannot be used together")]
    ConflictingSources,
    /// Neither `path.config` nor `config.string` is set.
    #[error("no pipeline config given: use -f PATH or -e 'CONFIG' (or path.config / config.string in --settings)")]
    NoSource,
}

impl Settings {
    /// Reads a settings file. Relative `path.config` entries become relative to the file's
    /// folder, so a settings file works from any working directory.
    pub fn load(path: &Path) -> Result<Settings, SettingsError> {
        let text = std::fs::read_to_string(path).map_err(|source| SettingsError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mut settings = Settings::from_toml(&path.display().to_string(), &text)?;
        let base = path.parent().unwrap_or(Path::new(""));
        if let Some(paths) = settings.path.config.take() {
            let resolved = paths.into_vec().into_iter().map(|p| base.join(p)).collect();
            settings.path.config = Some(OneOrMany::Many(resolved));
        }
        Ok(settings)
    }

    /// Parses settings text; `name` is the file name used in error messages.
    pub fn from_toml(name: &str, text: &str) -> Result<Settings, SettingsError> {
        toml::from_str(text).map_err(|err| {
            let sources = SourceMap::single(name, text);
            SettingsError::Invalid(sources.render(&diagnose(text, &err)))
        })
    }

    /// Lays `top` over `self`: every setting `top` has replaces this one's. The config source is
    /// taken as a whole: if `top` names `-f` or `-e`, neither of `self`'s is kept.
    pub fn overlay(mut self, top: Settings) -> Settings {
        self.pipeline.overlay(top.pipeline);
        self.log.overlay(top.log);
        let top_has_source = top.path.config.is_some() || top.config.string.is_some();
        if top_has_source {
            self.path.config = top.path.config;
            self.config.string = top.config.string;
        }
        self.config.test_and_exit = top.config.test_and_exit.or(self.config.test_and_exit);
        self.config.support_escapes = top.config.support_escapes.or(self.config.support_escapes);
        self.path.dead_letter_queue = top.path.dead_letter_queue.or(self.path.dead_letter_queue);
        self.path.data = top.path.data.or(self.path.data.take());
        self.dead_letter_queue.enable = top
            .dead_letter_queue
            .enable
            .or(self.dead_letter_queue.enable);
        self.dead_letter_queue.max_bytes = top
            .dead_letter_queue
            .max_bytes
            .or(self.dead_letter_queue.max_bytes);
        self.config.reload.overlay(top.config.reload);
        self.metrics.statsd.overlay(top.metrics.statsd);
        self.http.overlay(top.http);
        self.filters.overlay(top.filters);
        self.shutdown.timeout = top.shutdown.timeout.or(self.shutdown.timeout);
        self
    }

    /// Opens the pipeline's dead letter queue (`main` under `path.dead_letter_queue`) when
    /// `dead_letter_queue.enable` is on.
    pub fn open_dead_letter_queue(
        &self,
    ) -> Result<Option<std::sync::Arc<crate::dlq::DeadLetterQueue>>, crate::dlq::DlqError> {
        if self.dead_letter_queue.enable != Some(true) {
            return Ok(None);
        }
        let dir = self
            .path
            .dead_letter_queue
            .clone()
            .unwrap_or_else(|| self.data_path().join("dead_letter_queue"));
        let max_bytes = self.dead_letter_queue.max_bytes.unwrap_or(1 << 30);
        let queue = crate::dlq::DeadLetterQueue::open(&dir, "main", max_bytes)?;
        Ok(Some(std::sync::Arc::new(queue)))
    }

    /// The runtime settings, defaults filled in.
    pub fn pipeline_settings(&self) -> PipelineSettings {
        let defaults = PipelineSettings::default();
        let batch = &self.pipeline.batch;
        PipelineSettings {
            workers: self.pipeline.workers.map_or(defaults.workers, |n| n.get()),
            batch_size: batch.size.map_or(defaults.batch_size, |n| n.get()),
            batch_delay: batch
                .delay
                .map_or(defaults.batch_delay, Duration::from_millis),
            ordered: self.pipeline.ordered.unwrap_or(defaults.ordered),
            shutdown_timeout: self.shutdown.timeout.map(|t| t.0),
        }
    }

    /// The settings plugins are built with.
    pub fn build_settings(&self) -> BuildSettings {
        BuildSettings {
            ecs_compatibility: self.pipeline.ecs_compatibility.unwrap_or_default(),
            dead_letter_queue: None,
            data_path: self.path.data.clone(),
        }
    }

    /// `path.data`, defaulted.
    pub fn data_path(&self) -> PathBuf {
        self.path
            .data
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_PATH))
    }

    /// The parser's options.
    pub fn parse_options(&self) -> ParseOptions {
        ParseOptions {
            support_escapes: self.config.support_escapes.unwrap_or(false),
        }
    }

    pub fn log_level(&self) -> LogLevel {
        self.log.level.unwrap_or(LogLevel::Info)
    }

    pub fn test_and_exit(&self) -> bool {
        self.config.test_and_exit.unwrap_or(false)
    }

    /// Where the config comes from: exactly one of `path.config` and `config.string`.
    pub fn config_source(&self) -> Result<ConfigSource, SettingsError> {
        match (&self.path.config, &self.config.string) {
            (Some(_), Some(_)) => Err(SettingsError::ConflictingSources),
            (Some(paths), None) => Ok(ConfigSource::Paths(paths.clone().into_vec())),
            (None, Some(text)) => Ok(ConfigSource::Text(text.clone())),
            (None, None) => Err(SettingsError::NoSource),
        }
    }
}

impl PipelineGroup {
    fn overlay(&mut self, top: PipelineGroup) {
        self.workers = top.workers.or(self.workers);
        self.batch.size = top.batch.size.or(self.batch.size);
        self.batch.delay = top.batch.delay.or(self.batch.delay);
        self.ecs_compatibility = top.ecs_compatibility.or(self.ecs_compatibility);
        self.ordered = top.ordered.or(self.ordered);
    }
}

impl LogGroup {
    fn overlay(&mut self, top: LogGroup) {
        self.level = top.level.or(self.level);
    }
}

impl ReloadGroup {
    fn overlay(&mut self, top: ReloadGroup) {
        self.automatic = top.automatic.or(self.automatic);
        self.interval = top.interval.or(self.interval);
    }
}

impl StatsdGroup {
    fn overlay(&mut self, top: StatsdGroup) {
        self.host = top.host.or(self.host.take());
        self.port = top.port.or(self.port);
        self.prefix = top.prefix.or(self.prefix.take());
        self.flush_interval = top.flush_interval.or(self.flush_interval);
        self.tags = top.tags.or(self.tags);
    }
}

impl HttpGroup {
    fn overlay(&mut self, top: HttpGroup) {
        self.host = top.host.or(self.host.take());
        self.port = top.port.or(self.port);
    }
}

impl FiltersGroup {
    fn overlay(&mut self, top: FiltersGroup) {
        self.repo = top.repo.or(self.repo.take());
        self.git_ref = top.git_ref.or(self.git_ref.take());
        self.poll_interval = top.poll_interval.or(self.poll_interval);
        self.path = top.path.or(self.path.take());
        self.canary_ref = top.canary_ref.or(self.canary_ref.take());
        self.canary_percent = top.canary_percent.or(self.canary_percent);
        self.canary_budget = top.canary_budget.or(self.canary_budget);
        self.canary_duration = top.canary_duration.or(self.canary_duration);
    }
}

/// Every setting's dotted name (`pipeline.batch.size`, ...), read from the [`Settings`] structs
/// themselves so the list cannot drift from what the file accepts.
pub fn known_keys() -> Vec<String> {
    let mut keys = Vec::new();
    // The collector never fails; a failure would only mean an empty suggestion list.
    let _ = Settings::deserialize(introspect::FieldCollector::new(&mut keys));
    keys
}

/// Turns a TOML error into a diagnostic at the offending key or value, naming the setting by its
/// full dotted name.
fn diagnose(text: &str, err: &toml::de::Error) -> Diagnostic {
    let message = err.message().trim().replace('\n', ": ");
    let Some(range) = err.span() else {
        return Diagnostic::new(Span::new(0, 0), message);
    };
    let unknown = message.starts_with("unknown field");
    match key_at(text, range.start, unknown) {
        Some((key, span)) if unknown => {
            let mut d = Diagnostic::new(span, format!("unknown setting \"{key}\""));
            let keys = known_keys();
            if let Some(near) = did_you_mean(&key, keys.iter().map(String::as_str)) {
                d = d.with_help(format!("did you mean \"{near}\"?"));
            }
            d
        }
        Some((key, _)) => Diagnostic::new(
            Span::new(range.start, range.end),
            format!("{key}: {message}"),
        ),
        None => Diagnostic::new(Span::new(range.start, range.end), message),
    }
}

/// The full dotted name of the key at `offset` and the span of the key as written.
///
/// TOML's errors point at one segment (`wrkers` in `pipeline.wrkers = 4`) or at a value; the
/// setting's name is the whole key expression on that line, prefixed by the enclosing `[table]`
/// header when the key stands at the start of its line. `in_key` says whether `offset` lies in
/// the key (unknown field) or in the value (bad value). Keys inside inline tables are named
/// from their innermost table only.
fn key_at(text: &str, offset: usize, in_key: bool) -> Option<(String, Span)> {
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[offset..].find('\n').map_or(text.len(), |i| offset + i);
    let line = &text[line_start..line_end];
    let at = offset - line_start;
    if line.trim_start().starts_with('[') {
        let name = line.trim().trim_matches(|c| c == '[' || c == ']');
        let start = line_start + line.find(|c| c != '[' && c != ' ')?;
        return Some((normalize_key(name), Span::new(start, start + name.len())));
    }
    let eq = if in_key {
        at + line[at..].find('=')?
    } else {
        line[..at].rfind('=')?
    };
    let key_start = line[..eq].rfind(['{', ',']).map_or(0, |i| i + 1);
    let raw = line[key_start..eq].trim();
    let start = line_start + key_start + line[key_start..].find(|c: char| !c.is_whitespace())?;
    let mut key = normalize_key(raw);
    if key_start == 0 {
        if let Some(table) = table_header_before(&text[..line_start]) {
            key = format!("{table}.{key}");
        }
    }
    Some((key, Span::new(start, start + raw.len())))
}

/// The name in the last `[table]` header of `text`, if any.
fn table_header_before(text: &str) -> Option<String> {
    let line = text
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('['))?;
    let inner = line.trim_start_matches('[');
    let inner = inner.split(']').next().unwrap_or(inner);
    Some(normalize_key(inner))
}

/// `pipeline . "workers"` -> `pipeline.workers`.
fn normalize_key(raw: &str) -> String {
    raw.split('.')
        .map(|s| s.trim().trim_matches(|c| c == '"' || c == '\''))
        .collect::<Vec<_>>()
        .join(".")
}

/// A serde deserializer that deserializes nothing but records every field name of the structs
/// it is asked for, as dotted paths. Leaves must be `Option`s (they all are: "unset" matters),
/// which it answers with `None`.
mod introspect {
    use serde::de::{self, DeserializeSeed, MapAccess, Visitor};

    pub struct FieldCollector<'a> {
        prefix: String,
        out: &'a mut Vec<String>,
    }

    impl<'a> FieldCollector<'a> {
        pub fn new(out: &'a mut Vec<String>) -> FieldCollector<'a> {
            FieldCollector {
                prefix: String::new(),
                out,
            }
        }
    }

    #[derive(Debug)]
    pub struct Never(String);

    impl std::fmt::Display for Never {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(&self.0)
        }
    }

    impl std::error::Error for Never {}

    impl de::Error for Never {
        fn custom<T: std::fmt::Display>(msg: T) -> Never {
            Never(msg.to_string())
        }
    }

    impl<'de> de::Deserializer<'de> for FieldCollector<'_> {
        type Error = Never;

        fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Never> {
            self.out.push(self.prefix);
            visitor.visit_none()
        }

        fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Never> {
            self.deserialize_any(visitor)
        }

        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _name: &'static str,
            fields: &'static [&'static str],
            visitor: V,
        ) -> Result<V::Value, Never> {
            visitor.visit_map(Fields {
                prefix: self.prefix,
                fields: fields.iter(),
                current: "",
                out: self.out,
            })
        }

        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf unit unit_struct newtype_struct seq tuple tuple_struct map enum
            identifier ignored_any
        }
    }

    struct Fields<'a> {
        prefix: String,
        fields: std::slice::Iter<'static, &'static str>,
        current: &'static str,
        out: &'a mut Vec<String>,
    }

    impl<'de> MapAccess<'de> for Fields<'_> {
        type Error = Never;

        fn next_key_seed<K: DeserializeSeed<'de>>(
            &mut self,
            seed: K,
        ) -> Result<Option<K::Value>, Never> {
            let Some(&field) = self.fields.next() else {
                return Ok(None);
            };
            self.current = field;
            seed.deserialize(de::value::BorrowedStrDeserializer::new(field))
                .map(Some)
        }

        fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Never> {
            let prefix = if self.prefix.is_empty() {
                self.current.to_string()
            } else {
                format!("{}.{}", self.prefix, self.current)
            };
            seed.deserialize(FieldCollector {
                prefix,
                out: self.out,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Settings {
        Settings::from_toml("s.toml", text).unwrap()
    }

    fn error(text: &str) -> String {
        match Settings::from_toml("s.toml", text) {
            Err(SettingsError::Invalid(msg)) => msg,
            other => panic!("expected an invalid-settings error, got {other:?}"),
        }
    }

    #[test]
    fn lists_every_key_by_its_dotted_name() {
        assert_eq!(
            known_keys(),
            [
                "pipeline.workers",
                "pipeline.batch.size",
                "pipeline.batch.delay",
                "pipeline.ecs_compatibility",
                "pipeline.ordered",
                "config.string",
                "config.test_and_exit",
                "config.support_escapes",
                "config.reload.automatic",
                "config.reload.interval",
                "path.config",
                "path.data",
                "path.dead_letter_queue",
                "log.level",
                "dead_letter_queue.enable",
                "dead_letter_queue.max_bytes",
                "metrics.statsd.host",
                "metrics.statsd.port",
                "metrics.statsd.prefix",
                "metrics.statsd.flush_interval",
                "metrics.statsd.tags",
                "http.host",
                "http.port",
                "filters.repo",
                "filters.ref",
                "filters.poll_interval",
                "filters.path",
                "filters.canary_ref",
                "filters.canary_percent",
                "filters.canary_budget",
                "filters.canary_duration",
                "shutdown.timeout",
            ]
        );
    }

    #[test]
    fn durations_ordering_and_operations_settings_are_read() {
        let s = parse(
            "pipeline.ordered = false\nconfig.reload.interval = \"500ms\"\n\
             metrics.statsd.flush_interval = \"2s\"\nfilters.ref = \"release-*\"\n\
             [shutdown]\ntimeout = \"1m30s\"\n",
        );
        assert_eq!(s.pipeline_settings().ordered, Ordered::Never);
        assert_eq!(
            parse("pipeline.ordered = \"auto\"").pipeline.ordered,
            Some(Ordered::Auto)
        );
        let ms = |n| Some(DurationSetting(Duration::from_millis(n)));
        assert_eq!(s.config.reload.interval, ms(500));
        assert_eq!(s.metrics.statsd.flush_interval, ms(2_000));
        assert_eq!(s.shutdown.timeout, ms(90_000));
        assert_eq!(s.filters.git_ref.as_deref(), Some("release-*"));
        let bad = error("config.reload.interval = \"soon\"");
        assert!(
            bad.contains("config.reload.interval") && bad.contains("not a duration"),
            "{bad}"
        );
        let bad = error("pipeline.ordered = \"sometimes\"");
        assert!(bad.contains("expected auto, true or false"), "{bad}");
    }

    #[test]
    fn ecs_compatibility_defaults_to_v8_and_is_read() {
        assert_eq!(
            Settings::default().build_settings().ecs_compatibility,
            EcsCompatibility::V8
        );
        let s = parse("pipeline.ecs_compatibility = \"disabled\"\n");
        assert_eq!(
            s.build_settings().ecs_compatibility,
            EcsCompatibility::Disabled
        );
    }

    #[test]
    fn dotted_and_table_forms_are_the_same() {
        let dotted = parse("pipeline.workers = 4\npipeline.batch.size = 9\n");
        let table = parse("[pipeline]\nworkers = 4\nbatch.size = 9\n");
        assert_eq!(dotted, table);
        assert_eq!(dotted.pipeline.workers, NonZeroUsize::new(4));
        assert_eq!(dotted.pipeline.batch.size, NonZeroUsize::new(9));
    }

    #[test]
    fn reads_every_group() {
        let s = parse(
            "log.level = \"debug\"\nconfig.support_escapes = true\npath.config = [\"a\", \"b\"]\n\
             pipeline.batch.delay = 7\n",
        );
        assert_eq!(s.log_level(), LogLevel::Debug);
        assert!(s.parse_options().support_escapes);
        assert_eq!(s.pipeline_settings().batch_delay, Duration::from_millis(7));
        assert_eq!(
            s.config_source().unwrap(),
            ConfigSource::Paths(vec!["a".into(), "b".into()])
        );
    }

    #[test]
    fn unknown_dotted_key_names_file_line_and_suggestion() {
        let msg = error("# sluice\n\npipeline.wrkers = 4\n");
        assert_eq!(
            msg,
            "s.toml:3:1: unknown setting \"pipeline.wrkers\"\n  pipeline.wrkers = 4\n  \
             ^^^^^^^^^^^^^^^\n  help: did you mean \"pipeline.workers\"?\n"
        );
    }

    #[test]
    fn unknown_key_under_a_table_header_gets_the_header_prefix() {
        let msg = error("[pipeline]\nworkers = 2\n  batch.sizee = 3\n");
        assert!(
            msg.starts_with("s.toml:3:3: unknown setting \"pipeline.batch.sizee\"\n"),
            "{msg}"
        );
        assert!(
            msg.contains("did you mean \"pipeline.batch.size\"?"),
            "{msg}"
        );
    }

    #[test]
    fn unknown_group_is_named_with_its_whole_key() {
        let msg = error("pipelin.workers = 3\n");
        assert!(
            msg.starts_with("s.toml:1:1: unknown setting \"pipelin.workers\"\n"),
            "{msg}"
        );
        assert!(msg.contains("did you mean \"pipeline.workers\"?"), "{msg}");
    }

    #[test]
    fn bad_value_names_the_setting() {
        let msg = error("pipeline.workers = 0\n");
        assert!(
            msg.starts_with("s.toml:1:20: pipeline.workers: invalid value: integer `0`"),
            "{msg}"
        );
        let msg = error("[log]\nlevel = \"loud\"\n");
        assert!(
            msg.starts_with("s.toml:2:9: log.level: unknown variant `loud`"),
            "{msg}"
        );
    }

    #[test]
    fn syntax_error_has_a_position() {
        let msg = error("pipeline.workers = \n");
        assert!(msg.starts_with("s.toml:1:20: "), "{msg}");
    }

    #[test]
    fn flags_win_and_unset_flags_keep_the_file() {
        let file = parse("pipeline.workers = 4\npipeline.batch.size = 9\nlog.level = \"warn\"\n");
        let mut flags = Settings::default();
        flags.pipeline.workers = NonZeroUsize::new(2);
        let merged = file.overlay(flags);
        assert_eq!(merged.pipeline_settings().workers, 2);
        assert_eq!(merged.pipeline_settings().batch_size, 9);
        assert_eq!(merged.log_level(), LogLevel::Warn);
    }

    #[test]
    fn path_data_places_the_dead_letter_queue_and_plugin_state() {
        let file = parse("path.data = \"/var/lib/sluice\"\n");
        assert_eq!(file.data_path(), PathBuf::from("/var/lib/sluice"));
        assert_eq!(
            file.build_settings().data_path,
            Some("/var/lib/sluice".into())
        );
        assert_eq!(Settings::default().data_path(), PathBuf::from("data"));
        let flags = Settings {
            path: PathGroup {
                data: Some("/tmp/other".into()),
                ..PathGroup::default()
            },
            ..Settings::default()
        };
        assert_eq!(file.overlay(flags).data_path(), PathBuf::from("/tmp/other"));
    }

    #[test]
    fn a_config_source_flag_replaces_the_file_source() {
        let file = parse("path.config = \"conf.d\"\n");
        let mut flags = Settings::default();
        flags.config.string = Some("input { stdin {} }".into());
        assert_eq!(
            file.overlay(flags).config_source().unwrap(),
            ConfigSource::Text("input { stdin {} }".into())
        );
    }

    #[test]
    fn defaults_apply_when_nothing_is_set() {
        let s = Settings::default();
        let p = s.pipeline_settings();
        assert_eq!(
            (p.batch_size, p.batch_delay),
            (125, Duration::from_millis(50))
        );
        assert_eq!(p.workers, PipelineSettings::default().workers);
        assert_eq!(s.log_level(), LogLevel::Info);
        assert!(!s.test_and_exit());
        assert!(matches!(s.config_source(), Err(SettingsError::NoSource)));
    }

    #[test]
    fn both_sources_conflict() {
        let s = parse("path.config = \"a\"\nconfig.string = \"input {}\"\n");
        assert!(matches!(
            s.config_source(),
            Err(SettingsError::ConflictingSources)
        ));
    }
}
