//! Filters: the stage that rewrites events between the input and output queues.
//!
//! A filter implements [`Filter`]. Workers hand it a whole batch; the default
//! [`Filter::filter`] loops over the events calling [`Filter::apply`] and, for each event it
//! handled successfully, applies the options every filter shares ([`common::CommonOptions`]:
//! `add_field`, `add_tag`, `remove_field`, `remove_tag`). Filters that need per-batch setup, or
//! that create events, override `filter`.
//!
//! One file per plugin, named after its Logstash name; the registry (`crate::registry`) lists
//! them all.

pub mod clone;
pub mod common;
pub mod date;
pub mod dissect;
pub mod drop;
pub mod fingerprint;
pub mod geoip;
pub mod grok;
pub mod json;
pub mod kv;
pub mod mutate;
pub mod prune;
pub mod split;
pub mod syslog_pri;
pub mod translate;
pub mod truncate;
pub mod urldecode;
pub mod useragent;

use crate::event::Event;
pub use common::CommonOptions;

/// A filter plugin, built once per pipeline and shared by every worker thread.
pub trait Filter: Send + Sync {
    /// Filters one event. Returns true when the filter succeeded (the common options then
    /// apply). A filter that discards the event calls [`Event::cancel`].
    fn apply(&self, event: &mut Event) -> bool;

    /// Filters a batch. Cancelled events are removed by the caller afterwards.
    fn filter(&self, events: &mut Vec<Event>, common: &CommonOptions) {
        for event in events.iter_mut() {
            if self.apply(event) && !event.is_cancelled() {
                common.apply(event);
            }
        }
    }
}
