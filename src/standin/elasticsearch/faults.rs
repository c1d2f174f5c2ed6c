//! The fault script: what the stand-in should get wrong, and how many times.
//!
//! Rules are kept in the order they were added. For each item (or request) the first rule that
//! applies is used and its count goes down; a rule whose count reaches zero is removed. Items of
//! one bulk request are matched under one lock, in request order, so a script is deterministic
//! as long as bulk requests do not overlap.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Deserialize;
use tokio::sync::Notify;

use super::listener::Connections;
use super::lock;

/// How many times a fault applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Times {
    /// This many times, then the rule is gone.
    Count(u32),
    /// Until [`Faults::clear`].
    Forever,
}

impl Times {
    /// Uses one; false when none was left.
    fn take(&mut self) -> bool {
        match self {
            Times::Forever => true,
            Times::Count(0) => false,
            Times::Count(n) => {
                *n -= 1;
                true
            }
        }
    }

    fn exhausted(&self) -> bool {
        *self == Times::Count(0)
    }
}

/// A failure of one bulk item; the item is not stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ItemFault {
    /// 400 `mapper_parsing_exception` (`document_parsing_exception` from 8.8).
    MapperParsing,
    /// 404 `index_not_found_exception`.
    IndexNotFound,
    /// 409 `version_conflict_engine_exception`.
    VersionConflict,
    /// 429 `es_rejected_execution_exception`.
    Rejected,
    /// 500 `illegal_state_exception`.
    Internal,
    /// 503 `unavailable_shards_exception`.
    Unavailable,
}

impl ItemFault {
    /// The fault answering with this status, if there is one.
    pub fn from_status(status: u16) -> Option<ItemFault> {
        Some(match status {
            400 => ItemFault::MapperParsing,
            404 => ItemFault::IndexNotFound,
            409 => ItemFault::VersionConflict,
            429 => ItemFault::Rejected,
            500 => ItemFault::Internal,
            503 => ItemFault::Unavailable,
            _ => return None,
        })
    }

    /// The item's status.
    pub fn status(self) -> u16 {
        match self {
            ItemFault::MapperParsing => 400,
            ItemFault::IndexNotFound => 404,
            ItemFault::VersionConflict => 409,
            ItemFault::Rejected => 429,
            ItemFault::Internal => 500,
            ItemFault::Unavailable => 503,
        }
    }
}

/// A failure of a whole bulk request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestFault {
    /// 401 `security_exception` with `WWW-Authenticate`.
    Unauthorized,
    /// 403 `security_exception` (action unauthorized).
    Forbidden,
    /// 413 with an empty body.
    TooLarge,
    /// 429 `circuit_breaking_exception` with `durability`.
    CircuitBreaking,
    /// 503 `cluster_block_exception`.
    Unavailable,
}

impl RequestFault {
    /// The fault answering with this status, if there is one.
    pub fn from_status(status: u16) -> Option<RequestFault> {
        Some(match status {
            401 => RequestFault::Unauthorized,
            403 => RequestFault::Forbidden,
            413 => RequestFault::TooLarge,
            429 => RequestFault::CircuitBreaking,
            503 => RequestFault::Unavailable,
            _ => return None,
        })
    }

    /// The response's status.
    pub fn status(self) -> u16 {
        match self {
            RequestFault::Unauthorized => 401,
            RequestFault::Forbidden => 403,
            RequestFault::TooLarge => 413,
            RequestFault::CircuitBreaking => 429,
            RequestFault::Unavailable => 503,
        }
    }
}

/// Which requests a connection-level fault (delay, drop) counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Only `_bulk` requests.
    #[default]
    Bulk,
    /// Every request (`HEAD /`, health checks, templates, ...).
    All,
}

struct ItemRule {
    fault: ItemFault,
    /// Only items whose source (update body) contains these bytes.
    marker: Option<Vec<u8>>,
    times: Times,
}

struct ConnRule<T> {
    what: T,
    scope: Scope,
    times: Times,
}

#[derive(Default)]
struct Script {
    items: Vec<ItemRule>,
    requests: Vec<ConnRule<RequestFault>>,
    delays: Vec<ConnRule<Duration>>,
    drops: Vec<ConnRule<()>>,
}

/// Takes one use of the first rule in `rules` that `applies`, dropping it once exhausted.
fn take_first<T>(
    rules: &mut [T],
    times: impl Fn(&mut T) -> &mut Times,
    applies: impl Fn(&T) -> bool,
) -> Option<usize> {
    let at = rules.iter().position(applies)?;
    times(&mut rules[at]).take();
    Some(at)
}

/// What a request must suffer before (or instead of) being answered.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct RequestFate {
    pub drop: bool,
    pub delay: Option<Duration>,
    pub fail: Option<RequestFault>,
}

/// The fault script of one stand-in. Thread-safe; every method takes effect immediately.
pub struct Faults {
    script: Mutex<Script>,
    down_until: Mutex<Option<Instant>>,
    down_changed: Notify,
    connections: Arc<Connections>,
}

impl Faults {
    pub(super) fn new(connections: Arc<Connections>) -> Faults {
        Faults {
            script: Mutex::new(Script::default()),
            down_until: Mutex::new(None),
            down_changed: Notify::new(),
            connections,
        }
    }

    /// The next `times` bulk items fail with `fault`.
    pub fn fail_items(&self, fault: ItemFault, times: Times) {
        self.push_item(ItemRule {
            fault,
            marker: None,
            times,
        });
    }

    /// Items whose source line (update body) contains `marker` fail with `fault`, `times` times.
    pub fn fail_items_containing(&self, marker: &str, fault: ItemFault, times: Times) {
        self.push_item(ItemRule {
            fault,
            marker: Some(marker.as_bytes().to_vec()),
            times,
        });
    }

    fn push_item(&self, rule: ItemRule) {
        lock(&self.script).items.push(rule);
    }

    /// The next `times` bulk requests fail as a whole with `fault`.
    pub fn fail_requests(&self, fault: RequestFault, times: Times) {
        lock(&self.script).requests.push(ConnRule {
            what: fault,
            scope: Scope::Bulk,
            times,
        });
    }

    /// The next `times` requests in `scope` are answered `delay` late.
    pub fn delay(&self, delay: Duration, times: Times, scope: Scope) {
        lock(&self.script).delays.push(ConnRule {
            what: delay,
            scope,
            times,
        });
    }

    /// The next `times` requests in `scope` get no answer: their connection is closed.
    pub fn drop_connections(&self, times: Times, scope: Scope) {
        lock(&self.script).drops.push(ConnRule {
            what: (),
            scope,
            times,
        });
    }

    /// Goes down now for `duration`: open connections are closed, the listening socket is
    /// closed (connections are refused), then it listens again on the same port.
    pub fn down_for(&self, duration: Duration) {
        *lock(&self.down_until) = Some(Instant::now() + duration);
        self.connections.kill_all();
        self.down_changed.notify_one();
    }

    /// Whether it is (meant to be) down now.
    pub fn is_down(&self) -> bool {
        self.down_until().is_some()
    }

    /// Forgets every rule and ends a downtime early.
    pub fn clear(&self) {
        *lock(&self.script) = Script::default();
        *lock(&self.down_until) = None;
        self.down_changed.notify_one();
    }

    /// How many rules are still active.
    pub fn pending(&self) -> usize {
        let s = lock(&self.script);
        s.items.len() + s.requests.len() + s.delays.len() + s.drops.len()
    }

    /// When the current downtime ends; None when up.
    pub(super) fn down_until(&self) -> Option<Instant> {
        let mut until = lock(&self.down_until);
        match *until {
            Some(t) if t > Instant::now() => Some(t),
            _ => {
                *until = None;
                None
            }
        }
    }

    pub(super) fn down_changed(&self) -> &Notify {
        &self.down_changed
    }

    pub(super) fn connections(&self) -> &Connections {
        &self.connections
    }

    /// Decides the fate of a request arriving now; `bulk` says whether it is a `_bulk` one.
    pub(super) fn request_fate(&self, bulk: bool) -> RequestFate {
        let mut s = lock(&self.script);
        let in_scope = |scope: Scope| bulk || scope == Scope::All;
        let mut fate = RequestFate::default();
        if take_first(&mut s.drops, |r| &mut r.times, |r| in_scope(r.scope)).is_some() {
            fate.drop = true;
        }
        if let Some(at) = take_first(&mut s.delays, |r| &mut r.times, |r| in_scope(r.scope)) {
            fate.delay = Some(s.delays[at].what);
        }
        if !fate.drop {
            if let Some(at) = take_first(&mut s.requests, |r| &mut r.times, |r| in_scope(r.scope)) {
                fate.fail = Some(s.requests[at].what);
            }
        }
        s.drops.retain(|r| !r.times.exhausted());
        s.delays.retain(|r| !r.times.exhausted());
        s.requests.retain(|r| !r.times.exhausted());
        fate
    }

    /// A matcher for the items of one bulk request; holds the script lock while alive.
    pub(super) fn item_matcher(&self) -> ItemMatcher<'_> {
        ItemMatcher {
            script: lock(&self.script),
        }
    }

    /// Applies a control-endpoint fault.
    pub(super) fn apply(&self, spec: FaultSpec) -> Result<(), String> {
        match spec {
            FaultSpec::Item {
                status,
                marker,
                times,
            } => {
                let fault = ItemFault::from_status(status).ok_or_else(|| {
                    format!("no item fault with status {status} (400, 404, 409, 429, 500, 503)")
                })?;
                match marker {
                    Some(m) => self.fail_items_containing(&m, fault, times.into()),
                    None => self.fail_items(fault, times.into()),
                }
            }
            FaultSpec::Request { status, times } => {
                let fault = RequestFault::from_status(status).ok_or_else(|| {
                    format!("no request fault with status {status} (401, 403, 413, 429, 503)")
                })?;
                self.fail_requests(fault, times.into());
            }
            FaultSpec::Slow {
                delay_ms,
                times,
                scope,
            } => self.delay(Duration::from_millis(delay_ms), times.into(), scope),
            FaultSpec::Drop { times, scope } => self.drop_connections(times.into(), scope),
            FaultSpec::Down { for_ms } => self.down_for(Duration::from_millis(for_ms)),
        }
        Ok(())
    }
}

/// Matches the items of one bulk request against the item rules, in order.
pub(super) struct ItemMatcher<'a> {
    script: std::sync::MutexGuard<'a, Script>,
}

impl ItemMatcher<'_> {
    /// The fault for the next item, whose source (update body; empty for delete) is `source`.
    pub fn next(&mut self, source: &[u8]) -> Option<ItemFault> {
        let items = &mut self.script.items;
        if items.is_empty() {
            return None;
        }
        let at = take_first(
            items,
            |r| &mut r.times,
            |r| match &r.marker {
                None => true,
                Some(m) => memchr::memmem::find(source, m).is_some(),
            },
        )?;
        let fault = items[at].fault;
        if items[at].times.exhausted() {
            items.remove(at);
        }
        Some(fault)
    }
}

/// `"times"` in control JSON: a number or `"forever"`.
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum TimesSpec {
    Count(u32),
    Word(ForeverWord),
}

#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum ForeverWord {
    Forever,
}

impl Default for TimesSpec {
    fn default() -> TimesSpec {
        TimesSpec::Count(1)
    }
}

impl From<TimesSpec> for Times {
    fn from(t: TimesSpec) -> Times {
        match t {
            TimesSpec::Count(n) => Times::Count(n),
            TimesSpec::Word(ForeverWord::Forever) => Times::Forever,
        }
    }
}

/// One fault as `POST /_standin/faults` takes it (see the module docs).
#[derive(Debug, Deserialize)]
#[serde(tag = "fault", rename_all = "lowercase", deny_unknown_fields)]
pub(super) enum FaultSpec {
    Item {
        status: u16,
        #[serde(default)]
        marker: Option<String>,
        #[serde(default)]
        times: TimesSpec,
    },
    Request {
        status: u16,
        #[serde(default)]
        times: TimesSpec,
    },
    Slow {
        delay_ms: u64,
        #[serde(default)]
        times: TimesSpec,
        #[serde(default)]
        scope: Scope,
    },
    Drop {
        #[serde(default)]
        times: TimesSpec,
        #[serde(default)]
        scope: Scope,
    },
    Down {
        for_ms: u64,
    },
}

/// The body of `POST /_standin/faults`: one fault or several.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum FaultSpecs {
    One(FaultSpec),
    Many(Vec<FaultSpec>),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn faults() -> Faults {
        Faults::new(Arc::new(Connections::default()))
    }

    #[test]
    fn item_rules_apply_in_order_and_run_out() {
        let f = faults();
        f.fail_items_containing("bad", ItemFault::MapperParsing, Times::Forever);
        f.fail_items(ItemFault::Rejected, Times::Count(2));
        let mut m = f.item_matcher();
        assert_eq!(m.next(b"{\"a\":\"bad\"}"), Some(ItemFault::MapperParsing));
        assert_eq!(m.next(b"{}"), Some(ItemFault::Rejected));
        assert_eq!(m.next(b"{\"bad\":1}"), Some(ItemFault::MapperParsing));
        assert_eq!(m.next(b"{}"), Some(ItemFault::Rejected));
        assert_eq!(m.next(b"{}"), None);
        drop(m);
        assert_eq!(f.pending(), 1);
    }

    #[test]
    fn request_rules_respect_scope() {
        let f = faults();
        f.drop_connections(Times::Count(1), Scope::Bulk);
        f.delay(Duration::from_millis(5), Times::Count(1), Scope::All);
        let health = f.request_fate(false);
        assert_eq!(health.delay, Some(Duration::from_millis(5)));
        assert!(!health.drop);
        assert!(f.request_fate(true).drop);
        assert_eq!(f.request_fate(true), RequestFate::default());
    }

    #[test]
    fn control_json_forms() {
        let specs: FaultSpecs = serde_json::from_str(
            r#"[{"fault":"item","status":429,"times":"forever","marker":"x"},{"fault":"down","for_ms":5}]"#,
        )
        .unwrap();
        let FaultSpecs::Many(v) = specs else {
            panic!("expected a list")
        };
        assert!(matches!(
            v[0],
            FaultSpec::Item {
                status: 429,
                times: TimesSpec::Word(ForeverWord::Forever),
                ..
            }
        ));
        assert!(serde_json::from_str::<FaultSpecs>(r#"{"fault":"slow","delay":5}"#).is_err());
    }
}
