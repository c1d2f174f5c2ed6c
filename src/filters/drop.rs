//! The `drop` filter: cancels every event it sees, or with `percentage => N` about N% of them.
//!
//! As in Logstash, `drop` never counts as a success, so the common options (`add_tag`, ...)
//! never apply to an event it keeps.

use std::cell::Cell;

use serde::Deserialize;

use crate::config::{Diagnostics, PluginArgs};
use crate::event::Event;

use super::Filter;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DropOptions {
    /// Share of events to drop, 0 to 100.
    #[serde(default = "all")]
    percentage: f64,
}

fn all() -> f64 {
    100.0
}

/// The built filter.
#[derive(Debug)]
pub struct DropFilter {
    /// Probability of dropping an event, 0.0..=1.0.
    probability: f64,
}

pub fn build(args: &PluginArgs) -> Result<Box<dyn Filter>, Diagnostics> {
    let options: DropOptions = args.options()?;
    if !(0.0..=100.0).contains(&options.percentage) {
        return Err(args.error(
            "percentage",
            format!(
                "drop: percentage must be between 0 and 100, got {}",
                options.percentage
            ),
        ));
    }
    Ok(Box::new(DropFilter {
        probability: options.percentage / 100.0,
    }))
}

impl Filter for DropFilter {
    fn apply(&self, event: &mut Event) -> bool {
        if self.probability >= 1.0 || unit_random() < self.probability {
            event.cancel();
        }
        false
    }
}

thread_local! {
    /// Per-thread xorshift state, seeded once from the OS-seeded `rand` generator; sampling
    /// needs speed, not cryptographic quality.
    static RNG: Cell<u64> = Cell::new(rand::random::<u64>() | 1);
}

/// A uniform number in [0, 1).
fn unit_random() -> f64 {
    RNG.with(|state| {
        let mut x = state.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        state.set(x);
        // The top 53 bits make an evenly spaced double in [0, 1).
        (x >> 11) as f64 / (1u64 << 53) as f64
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Timestamp;

    fn run(probability: f64, n: usize) -> usize {
        let filter = DropFilter { probability };
        (0..n)
            .filter(|_| {
                let mut e = Event::new(Timestamp::from_secs(0));
                let ok = filter.apply(&mut e);
                assert!(!ok, "drop never reports success");
                e.is_cancelled()
            })
            .count()
    }

    #[test]
    fn drops_all_none_or_about_the_share_asked() {
        assert_eq!(run(1.0, 100), 100);
        assert_eq!(run(0.0, 100), 0);
        let dropped = run(0.25, 20_000);
        assert!((4_000..6_000).contains(&dropped), "dropped {dropped}");
    }

    #[test]
    fn random_numbers_stay_in_the_unit_interval() {
        for _ in 0..10_000 {
            let x = unit_random();
            assert!((0.0..1.0).contains(&x));
        }
    }
}
