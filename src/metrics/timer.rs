//! [`Timer`]: per-batch durations (filter, output, end-to-end latency) recorded lock-free by the
//! pipeline's threads and read by the reporter and the node API.
//!
//! Recording costs three relaxed atomics: the count, the running sum, and one slot of a small
//! ring holding the latest samples. The statsd reporter sends the samples recorded since its
//! last flush (up to [`SAMPLES`] of them, the latest) as `|ms` timers; the node API shows the
//! count and the sum.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Samples the ring keeps: the most a reporter flush sends per timer.
pub const SAMPLES: usize = 64;

/// Durations of one kind, in microseconds.
#[derive(Debug)]
pub struct Timer {
    count: AtomicU64,
    sum_micros: AtomicU64,
    ring: [AtomicU64; SAMPLES],
}

impl Default for Timer {
    fn default() -> Self {
        Timer {
            count: AtomicU64::new(0),
            sum_micros: AtomicU64::new(0),
            ring: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

impl Timer {
    /// Records one duration.
    pub fn record(&self, elapsed: Duration) {
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        let n = self.count.fetch_add(1, Ordering::Relaxed);
        self.ring[(n % SAMPLES as u64) as usize].store(micros, Ordering::Relaxed);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// Durations recorded so far.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// Their total, in milliseconds.
    pub fn sum_millis(&self) -> u64 {
        self.sum_micros.load(Ordering::Relaxed) / 1000
    }

    /// The samples recorded since the count was `since` (the latest [`SAMPLES`] at most), in
    /// milliseconds, and the count now. A sample overwritten while being read may be a newer
    /// one: these are statistics, not an account.
    pub fn samples_since(&self, since: u64) -> (Vec<f64>, u64) {
        let now = self.count();
        let first = since.max(now.saturating_sub(SAMPLES as u64));
        let samples = (first..now)
            .map(|n| self.ring[(n % SAMPLES as u64) as usize].load(Ordering::Relaxed) as f64 / 1e3)
            .collect();
        (samples, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_latest_samples_and_the_whole_sum() {
        let timer = Timer::default();
        for ms in 1..=100u64 {
            timer.record(Duration::from_millis(ms));
        }
        assert_eq!(timer.count(), 100);
        assert_eq!(timer.sum_millis(), 5050);
        let (samples, now) = timer.samples_since(90);
        assert_eq!(now, 100);
        assert_eq!(samples, (91..=100).map(|ms| ms as f64).collect::<Vec<_>>());
        let (all, _) = timer.samples_since(0);
        assert_eq!(all.len(), SAMPLES);
        assert_eq!(all[0], 37.0);
    }
}
