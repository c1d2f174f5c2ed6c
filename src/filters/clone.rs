//! The `clone` filter: emits a copy of the event for every entry of `clones`.
//!
//! As logstash-filter-clone does: the original passes on untouched; each copy follows it in the
//! batch, in the order of `clones`, with the common options applied to the copy only. What marks
//! a copy depends on `ecs_compatibility` (default: the pipeline's, `v8`): with ECS (`v1`, `v8`)
//! the clone's name is appended to its `tags`; with `disabled` it becomes its `type`.
//!
//! [`CloneFilter`] is the built filter; it overrides [`Filter::filter`] to insert events.

use serde::Deserialize;

use crate::config::options::{EcsCompatibility, OneOrMany};
use crate::config::{Diagnostics, PluginArgs};
use crate::event::{names, Event, Text, Value};

use super::{CommonOptions, Filter};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CloneOptions {
    clones: OneOrMany<String>,
    #[serde(default)]
    ecs_compatibility: Option<EcsCompatibility>,
}

/// The built filter.
#[derive(Debug)]
pub struct CloneFilter {
    clones: Vec<Text>,
    /// True: the name goes into `tags` (ECS); false: into `type`.
    tag_clones: bool,
}

pub fn build(args: &PluginArgs) -> Result<Box<dyn Filter>, Diagnostics> {
    let options: CloneOptions = args.options()?;
    if options.clones.is_empty() {
        tracing::warn!("clone: `clones` is empty, so no clones will be created");
    }
    let ecs = options
        .ecs_compatibility
        .unwrap_or_else(|| args.ecs_compatibility());
    Ok(Box::new(CloneFilter {
        clones: options.clones.iter().map(|c| Text::new(c)).collect(),
        tag_clones: ecs.is_ecs(),
    }))
}

impl Filter for CloneFilter {
    /// Copies can only be emitted by [`Filter::filter`]; the original itself is never changed
    /// and never counts as matched.
    fn apply(&self, _event: &mut Event) -> bool {
        false
    }

    fn filter(&self, events: &mut Vec<Event>, common: &CommonOptions) {
        if self.clones.is_empty() {
            return;
        }
        let originals = std::mem::take(events);
        events.reserve(originals.len() * (self.clones.len() + 1));
        for event in originals {
            let original = events.len();
            events.push(event);
            for name in &self.clones {
                let mut copy = events[original].clone();
                self.mark(&mut copy, name);
                common.apply(&mut copy);
                events.push(copy);
            }
        }
    }
}

impl CloneFilter {
    fn mark(&self, copy: &mut Event, name: &Text) {
        if !self.tag_clones {
            copy.set_field(names::TYPE, Value::Str(name.clone()));
            return;
        }
        // Logstash appends to `Array(tags)`, duplicates included.
        let name = Value::Str(name.clone());
        match copy.fields_mut().get_mut("tags") {
            Some(Value::Array(items)) => items.push(name),
            Some(Value::Null) | None => {
                copy.set_field(names::TAGS, Value::Array(vec![name]));
            }
            Some(other) => {
                let old = std::mem::replace(other, Value::Null);
                *other = Value::Array(vec![old, name]);
            }
        }
    }
}
