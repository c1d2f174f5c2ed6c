//! [`Health`]: whether the worker can deliver, for `GET /health` (a Marathon health check).
//!
//! The worker is unhealthy (503, with the reasons) when
//! - an output's last [`FAILED_BATCHES`] batches all failed (it errors on everything), or
//! - outputs hold events and none has been finished (delivered or given up) for
//!   [`STALL`]: an output that retries forever, such as Elasticsearch refusing every request,
//!   never fails a batch, but makes no progress either.
//!
//! Progress is sampled by a ticker every second and on each health request, so a stall is seen
//! within a second of lasting [`STALL`].

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::metrics::Snapshot;

/// Consecutive failed batches that make an output unhealthy.
pub const FAILED_BATCHES: u64 = 3;

/// How long events may be held without any being finished before the worker is unhealthy.
pub const STALL: Duration = Duration::from_secs(5);

/// Tracks delivery progress between samples.
#[derive(Debug, Default)]
pub struct Health {
    progress: Mutex<Option<Progress>>,
}

#[derive(Debug, Clone, Copy)]
struct Progress {
    finished: u64,
    since: Instant,
}

impl Health {
    /// Takes in a snapshot and returns the reasons the worker is unhealthy (none: healthy).
    pub fn check(&self, snapshot: &Snapshot, now: Instant) -> Vec<String> {
        let mut reasons: Vec<String> = snapshot
            .outputs
            .iter()
            .filter(|o| o.consecutive_errors >= FAILED_BATCHES)
            .map(|o| {
                format!(
                    "output {} failed its last {} batches",
                    o.id, o.consecutive_errors
                )
            })
            .collect();
        let stalled = self.stalled_for(snapshot, now);
        if let Some(stalled) = stalled.filter(|s| *s >= STALL) {
            reasons.push(format!(
                "outputs hold {} events and have finished none for {}s",
                snapshot.events_in_outputs,
                stalled.as_secs()
            ));
        }
        reasons
    }

    /// How long outputs have held events without finishing any (`None`: they hold none).
    fn stalled_for(&self, snapshot: &Snapshot, now: Instant) -> Option<Duration> {
        let finished = snapshot.events_out + snapshot.events_failed;
        let mut progress = self
            .progress
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let p = progress.get_or_insert(Progress {
            finished,
            since: now,
        });
        if p.finished != finished || snapshot.events_in_outputs == 0 {
            *p = Progress {
                finished,
                since: now,
            };
        }
        (snapshot.events_in_outputs > 0).then(|| now.saturating_duration_since(p.since))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::snapshot::OutputFigures;

    #[test]
    fn held_events_without_progress_turn_unhealthy_after_the_stall() {
        let health = Health::default();
        let start = Instant::now();
        let mut held = Snapshot {
            events_filtered: 10,
            events_in_outputs: 10,
            ..Snapshot::default()
        };
        assert!(health.check(&held, start).is_empty());
        assert!(health.check(&held, start + STALL / 2).is_empty());
        let reasons = health.check(&held, start + STALL);
        assert_eq!(reasons.len(), 1, "{reasons:?}");
        assert!(reasons[0].contains("hold 10 events"), "{reasons:?}");
        held.events_out = 10;
        held.events_in_outputs = 0;
        assert!(health.check(&held, start + STALL * 2).is_empty());
    }

    #[test]
    fn an_output_failing_every_batch_is_unhealthy() {
        let health = Health::default();
        let snapshot = Snapshot {
            outputs: vec![OutputFigures {
                id: "es".into(),
                consecutive_errors: FAILED_BATCHES,
                ..OutputFigures::default()
            }],
            ..Snapshot::default()
        };
        let reasons = health.check(&snapshot, Instant::now());
        assert_eq!(reasons, ["output es failed its last 3 batches"]);
    }
}
