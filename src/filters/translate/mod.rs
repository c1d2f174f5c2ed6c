//! The `translate` filter: replaces a field's value by its entry in a dictionary.
//!
//! The dictionary is inline (`dictionary`) or a YAML, JSON or CSV file (`dictionary_path`),
//! reloaded every `refresh_interval` seconds by a background thread (`refresh_behaviour`:
//! `merge` keeps keys the file no longer has, `replace` drops them). Lookups are exact,
//! by key regex (`exact` and `regex`), or, with `exact => false`, every key found inside the
//! value is replaced. No match writes `fallback` (sprintf) when set.
//!
//! `iterate_on` translates every element of an array: when it names the source field, the
//! target gets an array of translations; otherwise each object of the array has its `source`
//! key translated into its `target` key.
//!
//! The default target is `translation`, or the source itself (in place) in ECS mode. An
//! existing target is left alone unless `override` (the default when translating in place).
//!
//! Workers read the current dictionary once per batch: the refresh thread builds a new
//! [`dictionary::Dictionary`] and swaps the shared `Arc`, so events never wait on a lock.
//!
//! [`TranslateOptions`] is the config; [`Translate`] the built filter.

pub mod dictionary;

use std::path::PathBuf;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use serde::Deserialize;

use crate::config::options::{EcsCompatibility, Pairs};
use crate::config::{Diagnostics, PluginArgs};
use crate::event::ruby::write_ruby_string;
use crate::event::sprintf::Template;
use crate::event::{Event, FieldPath, Map, Text, Value};

use super::{CommonOptions, Filter};
use dictionary::{Dictionary, DictionaryError, Entries, FileFormat, MatchMode};

/// The options of `translate`, as written in the config.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct TranslateOptions {
    pub source: Option<String>,
    /// Deprecated name of `source`.
    pub field: Option<String>,
    pub target: Option<String>,
    /// Deprecated name of `target`.
    pub destination: Option<String>,
    #[serde(rename = "override")]
    pub override_existing: Option<bool>,
    pub dictionary: Pairs<DictValue>,
    pub dictionary_path: Option<String>,
    /// Seconds between checks of the dictionary file; zero or less: never.
    pub refresh_interval: Option<f64>,
    pub refresh_behaviour: RefreshBehaviour,
    pub exact: Option<bool>,
    pub regex: bool,
    pub fallback: Option<String>,
    pub iterate_on: Option<String>,
    pub yaml_dictionary_code_point_limit: Option<i64>,
    /// Accepted for compatibility: both strategies read the whole file here.
    pub yaml_load_strategy: Option<YamlLoadStrategy>,
    pub ecs_compatibility: Option<EcsCompatibility>,
}

/// An inline dictionary value: numbers stay numbers, as in Logstash.
#[derive(Deserialize, Clone, Debug)]
#[serde(untagged)]
pub enum DictValue {
    Int(i64),
    Float(f64),
    Str(String),
}

#[derive(Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum RefreshBehaviour {
    #[default]
    Merge,
    Replace,
}

#[derive(Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum YamlLoadStrategy {
    OneShot,
    Streaming,
}

/// Logstash's default for `yaml_dictionary_code_point_limit` (128 MiB of one-byte characters).
const DEFAULT_YAML_CODE_POINT_LIMIT: u64 = 134_217_728;
const DEFAULT_REFRESH_SECS: f64 = 300.0;

/// The built filter.
pub struct Translate {
    current: Arc<Mutex<Arc<Dictionary>>>,
    update: Update,
    fallback: Option<Template>,
    override_existing: bool,
    /// Source and target are the same field: the event counts as matched even without a
    /// translation, as in Logstash.
    in_place: bool,
    /// Dropping this stops the refresh thread.
    _refresher: Option<mpsc::Sender<()>>,
}

/// What is translated and where the result goes.
enum Update {
    /// One value: `source` to `target`.
    Single {
        source: FieldPath,
        target: FieldPath,
    },
    /// `iterate_on` is the source: its elements' translations, as an array in `target`.
    Values {
        source: FieldPath,
        target: FieldPath,
    },
    /// `iterate_on` is an array of objects: each one's `field` key to its `target` key.
    Objects {
        array: FieldPath,
        field: Vec<Text>,
        target: Vec<Text>,
    },
}

pub fn build(args: &PluginArgs) -> Result<Box<dyn Filter>, Diagnostics> {
    let options: TranslateOptions = args.options()?;
    let ecs = options
        .ecs_compatibility
        .unwrap_or_else(|| args.ecs_compatibility());
    let mode = match (options.exact.unwrap_or(true), options.regex) {
        (true, true) => MatchMode::ExactRegex,
        (true, false) => MatchMode::Exact,
        (false, _) => MatchMode::Union,
    };
    let source_name = source_name(args, &options)?;
    let target_name = target_name(args, &options, ecs, &source_name)?;
    let path = |option: &str, name: &str| {
        FieldPath::parse(name).map_err(|e| args.error(option, format!("translate: {option}: {e}")))
    };
    let source = path("source", &source_name)?;
    let target = path("target", &target_name)?;
    let in_place = source == target;
    let override_existing = match (options.override_existing, in_place) {
        (Some(false), true) => {
            return Err(args.error(
                "override",
                "translate: `override => false` has no effect when translating in place (source and target are the same field); remove the option",
            ))
        }
        (Some(value), _) => value,
        (None, in_place) => in_place,
    };
    let update = match options.iterate_on.as_deref() {
        None => Update::Single { source, target },
        Some(name) => {
            let array = path("iterate_on", name)?;
            if array == source {
                Update::Values {
                    source: array,
                    target,
                }
            } else {
                Update::Objects {
                    array,
                    field: source.segments().to_vec(),
                    target: target.segments().to_vec(),
                }
            }
        }
    };
    let fallback = options
        .fallback
        .as_deref()
        .map(Template::parse)
        .transpose()
        .map_err(|e| args.error("fallback", format!("translate: fallback: {e}")))?;
    let (dictionary, refresher) = load(args, &options, mode)?;
    Ok(Box::new(Translate {
        current: dictionary,
        update,
        fallback,
        override_existing,
        in_place,
        _refresher: refresher,
    }))
}

/// `source`, or its deprecated spelling `field`; one of them is required.
fn source_name(args: &PluginArgs, options: &TranslateOptions) -> Result<String, Diagnostics> {
    match (&options.source, &options.field) {
        (Some(_), Some(field)) => Err(args.error(
            "field",
            format!("translate: please remove `field => {field:?}` and only set the `source => ...` option instead"),
        )),
        (Some(source), None) => Ok(source.clone()),
        (None, Some(field)) => {
            tracing::warn!("translate: `field` is deprecated; use `source` instead");
            Ok(field.clone())
        }
        (None, None) => Err(args.error(
            "source",
            "translate: no source field specified, please provide the `source => ...` option",
        )),
    }
}

/// `target`, its deprecated spelling `destination`, or the ECS-dependent default.
fn target_name(
    args: &PluginArgs,
    options: &TranslateOptions,
    ecs: EcsCompatibility,
    source: &str,
) -> Result<String, Diagnostics> {
    match (&options.target, &options.destination) {
        (Some(_), Some(destination)) => Err(args.error(
            "destination",
            format!("translate: please remove `destination => {destination:?}` and only set the `target => ...` option instead"),
        )),
        (Some(target), None) => Ok(target.clone()),
        (None, Some(destination)) => {
            tracing::warn!("translate: `destination` is deprecated; use `target` instead");
            Ok(destination.clone())
        }
        (None, None) if ecs.is_ecs() => Ok(source.to_string()),
        (None, None) => Ok("translation".to_string()),
    }
}

type Loaded = (Arc<Mutex<Arc<Dictionary>>>, Option<mpsc::Sender<()>>);

/// Builds the first dictionary, and for a file with a positive `refresh_interval` starts the
/// thread that reloads it.
fn load(
    args: &PluginArgs,
    options: &TranslateOptions,
    mode: MatchMode,
) -> Result<Loaded, Diagnostics> {
    let fail =
        |option: &str, e: &dyn std::fmt::Display| args.error(option, format!("translate: {e}"));
    let Some(path) = &options.dictionary_path else {
        if options.yaml_dictionary_code_point_limit.is_some() {
            return Err(fail("yaml_dictionary_code_point_limit", &"`yaml_dictionary_code_point_limit` only applies to a YAML `dictionary_path`; remove it"));
        }
        let mut entries = Entries::default();
        for (key, value) in &options.dictionary.0 {
            entries.insert(Text::new(key), inline_value(value));
        }
        let dictionary = Dictionary::new(entries, mode).map_err(|e| fail("dictionary", &e))?;
        return Ok((Arc::new(Mutex::new(Arc::new(dictionary))), None));
    };
    if !options.dictionary.0.is_empty() {
        return Err(fail(
            "dictionary_path",
            &"the options `dictionary` and `dictionary_path` are mutually exclusive",
        ));
    }
    let format = FileFormat::of(path).ok_or_else(|| {
        fail("dictionary_path", &format!("dictionary {path} has a non valid format: expected a .yml, .yaml, .json or .csv file"))
    })?;
    let code_point_limit = match (format, options.yaml_dictionary_code_point_limit) {
        (FileFormat::Yaml, None) => DEFAULT_YAML_CODE_POINT_LIMIT,
        (FileFormat::Yaml, Some(limit)) if limit > 0 => limit as u64,
        (FileFormat::Yaml, Some(limit)) => {
            return Err(fail("yaml_dictionary_code_point_limit", &format!("please set a positive number in `yaml_dictionary_code_point_limit => {limit}`")))
        }
        (_, Some(_)) => {
            return Err(fail("yaml_dictionary_code_point_limit", &"please remove `yaml_dictionary_code_point_limit` for a dictionary file in JSON or CSV format"))
        }
        (_, None) => 0,
    };
    let mut file = DictionaryFile {
        path: PathBuf::from(path),
        format,
        code_point_limit,
        mode,
        behaviour: options.refresh_behaviour,
        mtime: None,
        entries: Entries::default(),
    };
    let first = file.reload().map_err(|e| {
        fail(
            "dictionary_path",
            &format!("{e} when loading dictionary file at {path}"),
        )
    })?;
    let current = Arc::new(Mutex::new(Arc::new(first)));
    let interval = options.refresh_interval.unwrap_or(DEFAULT_REFRESH_SECS);
    // An interval too long for a Duration is as good as never.
    let refresher = (interval > 0.0).then(|| {
        let interval = Duration::try_from_secs_f64(interval).unwrap_or(Duration::MAX);
        spawn_refresher(file, interval, Arc::clone(&current))
    });
    Ok((current, refresher))
}

fn inline_value(value: &DictValue) -> Value {
    match value {
        DictValue::Int(n) => Value::Int(*n),
        DictValue::Float(f) => Value::Float(*f),
        DictValue::Str(s) => Value::Str(Text::new(s)),
    }
}

/// A dictionary file and what was last read from it.
struct DictionaryFile {
    path: PathBuf,
    format: FileFormat,
    code_point_limit: u64,
    mode: MatchMode,
    behaviour: RefreshBehaviour,
    mtime: Option<SystemTime>,
    /// The entries as of the last successful read (the base of a `merge`).
    entries: Entries,
}

impl DictionaryFile {
    fn reload(&mut self) -> Result<Dictionary, DictionaryError> {
        let mtime = std::fs::metadata(&self.path)
            .and_then(|m| m.modified())
            .ok();
        let mut entries = match self.behaviour {
            RefreshBehaviour::Merge => self.entries.clone(),
            RefreshBehaviour::Replace => Entries::default(),
        };
        dictionary::read_file(&self.path, self.format, self.code_point_limit, &mut entries)?;
        let dictionary = Dictionary::new(entries.clone(), self.mode)?;
        self.entries = entries;
        self.mtime = mtime;
        Ok(dictionary)
    }

    /// Logstash reloads on every tick when the interval is long, and only when the file's
    /// modification time changed when it is 300 s or less.
    fn due(&self, interval: Duration) -> bool {
        if interval > Duration::from_secs(300) {
            return true;
        }
        let now = std::fs::metadata(&self.path)
            .and_then(|m| m.modified())
            .ok();
        now.is_some() && now != self.mtime
    }
}

/// Reloads `file` every `interval` until the returned sender is dropped; a failed read keeps
/// the old dictionary.
fn spawn_refresher(
    mut file: DictionaryFile,
    interval: Duration,
    current: Arc<Mutex<Arc<Dictionary>>>,
) -> mpsc::Sender<()> {
    let (stop, stopped) = mpsc::channel::<()>();
    let spawned = std::thread::Builder::new()
        .name("translate-refresh".into())
        .spawn(move || {
            while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(interval) {
                if !file.due(interval) {
                    continue;
                }
                match file.reload() {
                    Ok(fresh) => {
                        *current.lock().unwrap_or_else(|p| p.into_inner()) = Arc::new(fresh);
                    }
                    Err(error) => tracing::warn!(
                        %error,
                        "translate: dictionary file read failure, continuing with the old dictionary"
                    ),
                }
            }
        });
    if let Err(error) = spawned {
        tracing::warn!(%error, "translate: cannot start the dictionary refresh thread; the dictionary will not be reloaded");
    }
    stop
}

impl Filter for Translate {
    fn apply(&self, event: &mut Event) -> bool {
        let dictionary = self.snapshot();
        self.translate(&dictionary, event)
    }

    fn filter(&self, events: &mut Vec<Event>, common: &CommonOptions) {
        let dictionary = self.snapshot();
        for event in events.iter_mut() {
            if self.translate(&dictionary, event) {
                common.apply(event);
            }
        }
    }
}

impl Translate {
    /// The current dictionary; taken once per batch.
    fn snapshot(&self) -> Arc<Dictionary> {
        Arc::clone(&self.current.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Translates one event; true when Logstash would count it as matched.
    fn translate(&self, dictionary: &Dictionary, event: &mut Event) -> bool {
        let matched = match &self.update {
            Update::Single { source, target } => {
                if !self.override_existing && event.contains(target) {
                    return false;
                }
                self.single(dictionary, event, source, target)
            }
            Update::Values { source, target } => {
                if !self.override_existing && event.contains(target) {
                    return false;
                }
                self.values(dictionary, event, source, target)
            }
            Update::Objects {
                array,
                field,
                target,
            } => self.objects(dictionary, event, array, field, target),
        };
        match matched {
            None => false,
            Some(matched) => matched || self.in_place,
        }
    }

    /// `None` when the source is absent (the event is skipped altogether).
    fn single(
        &self,
        dictionary: &Dictionary,
        event: &mut Event,
        source: &FieldPath,
        target: &FieldPath,
    ) -> Option<bool> {
        let value = event.get(source)?;
        let found = match value {
            Value::Str(s) => dictionary.lookup(s),
            Value::Array(items) => {
                dictionary.lookup(&text_of(items.first().unwrap_or(&Value::Null)))
            }
            other => dictionary.lookup(&text_of(other)),
        };
        let result = match found {
            Some(translation) => translation,
            None => match &self.fallback {
                Some(fallback) => Value::Str(fallback.render(event)),
                None => return Some(false),
            },
        };
        event.insert(target, result);
        Some(true)
    }

    fn values(
        &self,
        dictionary: &Dictionary,
        event: &mut Event,
        source: &FieldPath,
        target: &FieldPath,
    ) -> Option<bool> {
        let fallback = self
            .fallback
            .as_ref()
            .map_or(Value::Null, |f| Value::Str(f.render(event)));
        let translate = |item: &Value| {
            match item {
                Value::Str(s) => dictionary.lookup(s),
                other => dictionary.lookup(&text_of(other)),
            }
            .unwrap_or_else(|| fallback.clone())
        };
        let translations: Vec<Value> = match event.get(source)? {
            Value::Array(items) => items.iter().map(translate).collect(),
            Value::Null => Vec::new(),
            other => vec![translate(other)],
        };
        let any = translations
            .iter()
            .any(|v| !matches!(v, Value::Null | Value::Bool(false)));
        event.insert(target, Value::Array(translations));
        Some(any)
    }

    fn objects(
        &self,
        dictionary: &Dictionary,
        event: &mut Event,
        array: &FieldPath,
        field: &[Text],
        target: &[Text],
    ) -> Option<bool> {
        // Rendered once, before any element changes.
        let fallback = match (&self.fallback, event.get(array)?) {
            (Some(f), Value::Array(_)) => Some(f.render(event)),
            _ => None,
        };
        let Some(Value::Array(items)) = event.get_mut(array) else {
            return Some(false);
        };
        let mut any = false;
        for item in items {
            let Value::Map(object) = item else { continue };
            let translation = match get_in(object, field) {
                None | Some(Value::Null) => continue,
                Some(Value::Str(s)) => dictionary.lookup(s),
                Some(other) => dictionary.lookup(&text_of(other)),
            };
            let result = match (translation, &fallback) {
                (Some(t), _) => t,
                (None, Some(f)) => Value::Str(f.clone()),
                (None, None) => continue,
            };
            set_in(object, target, result);
            any = true;
        }
        Some(any)
    }
}

/// Ruby's `to_s` of a field value, the text looked up in the dictionary.
fn text_of(value: &Value) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = write_ruby_string(value, &mut out);
    out
}

fn get_in<'m>(map: &'m Map, keys: &[Text]) -> Option<&'m Value> {
    let (first, rest) = keys.split_first()?;
    let mut value = map.get(first)?;
    for key in rest {
        value = value.as_map()?.get(key)?;
    }
    Some(value)
}

/// Sets `keys` inside `map`, creating (or replacing non-hash values with) hashes on the way.
fn set_in(map: &mut Map, keys: &[Text], value: Value) {
    let Some((last, parents)) = keys.split_last() else {
        return;
    };
    let mut map = map;
    for key in parents {
        let slot = map.get_or_insert_with(key, || Value::Map(Map::new()));
        if !matches!(slot, Value::Map(_)) {
            *slot = Value::Map(Map::new());
        }
        let Value::Map(inner) = slot else { return };
        map = inner;
    }
    map.insert(last.clone(), value);
}
