//! The options every filter shares: `add_field`, `add_tag`, `remove_field`, `remove_tag` (all
//! sprintf), applied on success in that order; `id`, `enable_metric`, `periodic_flush` are
//! accepted here too.
//!

use crate::config::options::{EcsCompatibility, OneOrMany, Pairs};
use crate::config::{Diagnostics, PluginArgs};
use crate::event::sprintf::{FieldRef, Template};
use crate::event::{Event, FieldPath, Text, Value};

/// The names of the shared options, split off before a filter reads its own.
pub const NAMES: &[&str] = &[
    "add_field",
    "add_tag",
    "remove_field",
    "remove_tag",
    "id",
    "enable_metric",
    "periodic_flush",
];

/// The shared options as written in the config.
#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawOptions {
    add_field: Pairs<OneOrMany<String>>,
    add_tag: Vec<String>,
    remove_field: Vec<String>,
    remove_tag: Vec<String>,
    id: Option<String>,
    enable_metric: Option<bool>,
    periodic_flush: Option<bool>,
}

/// Built form of the shared options.
#[derive(Debug, Default)]
pub struct CommonOptions {
    pub id: Option<String>,
    /// Accepted for compatibility; sluice always counts events per plugin.
    pub enable_metric: bool,
    /// Accepted for compatibility; no filter here needs periodic flushing.
    pub periodic_flush: bool,
    add_field: Vec<(FieldRef, Vec<Template>)>,
    remove_field: Vec<FieldRef>,
    add_tag: Vec<Template>,
    remove_tag: Vec<Template>,
}

impl CommonOptions {
    /// Reads the shared options from `args` (already split off with [`NAMES`]).
    pub fn build(args: &PluginArgs) -> Result<CommonOptions, Diagnostics> {
        let raw: RawOptions = args.options()?;
        let mut errors = Diagnostics::default();
        let mut options = CommonOptions {
            id: raw.id,
            enable_metric: raw.enable_metric.unwrap_or(true),
            periodic_flush: raw.periodic_flush.unwrap_or(false),
            ..CommonOptions::default()
        };
        for (key, values) in raw.add_field.0 {
            let field = collect(&mut errors, FieldRef::parse(&key), args, "add_field");
            let values: Vec<Template> = values
                .iter()
                .filter_map(|v| collect(&mut errors, Template::parse(v), args, "add_field"))
                .collect();
            if let Some(field) = field {
                options.add_field.push((field, values));
            }
        }
        for name in &raw.remove_field {
            let parsed = FieldRef::parse(name);
            options
                .remove_field
                .extend(collect(&mut errors, parsed, args, "remove_field"));
        }
        for (option, raw_tags, out) in [
            ("add_tag", &raw.add_tag, &mut options.add_tag),
            ("remove_tag", &raw.remove_tag, &mut options.remove_tag),
        ] {
            for tag in raw_tags {
                out.extend(collect(&mut errors, Template::parse(tag), args, option));
            }
        }
        if errors.is_empty() {
            Ok(options)
        } else {
            Err(errors)
        }
    }

    /// True when applying would change nothing (lets a filter skip the call).
    pub fn is_empty(&self) -> bool {
        self.add_field.is_empty()
            && self.remove_field.is_empty()
            && self.add_tag.is_empty()
            && self.remove_tag.is_empty()
    }

    /// Applies the options to an event the filter handled successfully.
    pub fn apply(&self, event: &mut Event) {
        for (field, values) in &self.add_field {
            let Some(path) = field.resolve(event) else {
                continue;
            };
            for value in values {
                let value = value.render(event);
                event.add_value(&path, Value::Str(value));
            }
        }
        for field in &self.remove_field {
            if let Some(path) = field.resolve(event) {
                event.remove(&path);
            }
        }
        for tag in &self.add_tag {
            let tag = tag.render(event);
            event.add_tag(tag);
        }
        for tag in &self.remove_tag {
            let tag = tag.render(event);
            event.remove_tag(&tag);
        }
    }
}

/// A filter's failure tags: its `tag_on_failure` option, or the plugin's default tag.
pub fn failure_tags(configured: Option<Vec<String>>, default: &str) -> Vec<Text> {
    match configured {
        Some(tags) => tags.into_iter().map(Text::from_string).collect(),
        None => vec![Text::new(default)],
    }
}

/// Notes, once at build time, that a parsing filter in an ECS mode writes what it parses to the
/// event's top level, where it may collide with ECS fields (Logstash logs the same advice).
pub fn note_untargeted_ecs(
    plugin: &str,
    ecs: EcsCompatibility,
    source: &FieldPath,
    has_target: bool,
) {
    if ecs.is_ecs() && !has_target {
        tracing::info!(
            source = %source,
            "{plugin}: ECS compatibility is enabled but `target` is not set; parsed fields go to \
             the event's top level and may conflict with ECS fields"
        );
    }
}

/// Records `result`'s error (if any) as a diagnostic at option `option`.
fn collect<T, E: std::fmt::Display>(
    errors: &mut Diagnostics,
    result: Result<T, E>,
    args: &PluginArgs,
    option: &str,
) -> Option<T> {
    result
        .map_err(|message| errors.extend(args.error(option, format!("{option}: {message}"))))
        .ok()
}
