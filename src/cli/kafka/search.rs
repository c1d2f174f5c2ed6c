//! Finding a partition's first offset at or after a time from its messages' own timestamps:
//! [`verify`] checks a broker's offsets-for-times answer, [`first_at_or_after`] is the fallback,
//! a binary search over the partition's offsets.
//!
//! Both read single messages through a closure, `read(offset)`: the first message at or after
//! `offset` and before the partition's high watermark, or `None` when there is none (offsets
//! can have gaps: compaction, transaction markers). That keeps them free of librdkafka and
//! testable against a fake partition.
//!
//! CreateTime timestamps are set by producers and need not grow with the offset. The search
//! assumes they mostly do: its answer is an offset whose message is at or after the target and
//! whose previous message is before it, the first such boundary the search meets. Kafka's time
//! index answers the same kind of offset (the first message at or after the target, found from
//! an index of the largest timestamp seen so far), so both agree on monotonic partitions.

/// One message as the search sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stamp {
    pub offset: i64,
    /// Milliseconds since the Unix epoch.
    pub timestamp: i64,
}

/// A partition's offsets: messages are at `low..high` (its watermarks).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    pub low: i64,
    pub high: i64,
}

/// What [`first_at_or_after`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Found {
    /// The offset to consume from: the first message at or after the target, or `high` (the
    /// end) when every message is before it.
    pub offset: i64,
    /// How many messages the search read.
    pub reads: u32,
}

/// Binary search over `span` for the first message whose timestamp is at or after `target`.
///
/// Invariant: messages before `lo` are before the target; the first message at or after `hi`
/// (`hi_message`, or the end when `None`) is at or after it. Every read moves `lo` up or `hi`
/// down past the middle, so it takes O(log n) reads.
pub fn first_at_or_after<E>(
    span: Span,
    target: i64,
    mut read: impl FnMut(i64) -> Result<Option<Stamp>, E>,
) -> Result<Found, E> {
    let (mut lo, mut hi) = (span.low, span.high);
    let mut hi_message = None;
    let mut reads = 0;
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        reads += 1;
        match read(mid)? {
            Some(m) if m.offset < hi && m.timestamp < target => lo = m.offset + 1,
            Some(m) if m.offset < hi => {
                hi = m.offset;
                hi_message = Some(m.offset);
            }
            // No message in mid..hi: the first message at or after mid is hi's.
            _ => hi = mid,
        }
    }
    let offset = hi_message.unwrap_or(span.high);
    Ok(Found { offset, reads })
}

/// Whether `answer` (a broker's offset for `target`; `span.high` for "the end") agrees with the
/// messages: the message at it is at or after the target and the one before it is before the
/// target. `Err(reason)` in the `Ok` says why not, for the log.
pub fn verify<E>(
    answer: i64,
    span: Span,
    target: i64,
    mut read: impl FnMut(i64) -> Result<Option<Stamp>, E>,
) -> Result<Result<(), String>, E> {
    if answer < span.low || answer > span.high {
        let Span { low, high } = span;
        return Ok(Err(format!(
            "offset {answer} is outside the partition's offsets {low}..{high}"
        )));
    }
    if answer < span.high {
        match read(answer)? {
            Some(m) if m.timestamp >= target => {}
            Some(m) => return Ok(Err(stamp_reason(m, "before"))),
            None => return Ok(Err(format!("no message at or after offset {answer}"))),
        }
    }
    if answer > span.low {
        match read(answer - 1)? {
            Some(m) if m.offset == answer - 1 && m.timestamp < target => {}
            Some(m) if m.offset == answer - 1 => return Ok(Err(stamp_reason(m, "at or after"))),
            _ => return Ok(Err(format!("no message at offset {}", answer - 1))),
        }
    }
    Ok(Ok(()))
}

fn stamp_reason(m: Stamp, relation: &str) -> String {
    format!(
        "the message at offset {} has timestamp {} ({relation} the target)",
        m.offset,
        super::display_millis(m.timestamp)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::convert::Infallible;

    /// A fake partition: messages as (offset, timestamp), offsets ascending.
    struct Fake {
        messages: Vec<Stamp>,
        span: Span,
    }

    impl Fake {
        fn new(pairs: &[(i64, i64)], span: Span) -> Fake {
            let messages = pairs
                .iter()
                .map(|&(offset, timestamp)| Stamp { offset, timestamp })
                .collect();
            Fake { messages, span }
        }

        /// Messages at offsets 0..n with the given timestamps.
        fn dense(timestamps: &[i64]) -> Fake {
            let pairs: Vec<(i64, i64)> = (0..).zip(timestamps.iter().copied()).collect();
            let span = Span {
                low: 0,
                high: timestamps.len() as i64,
            };
            Fake::new(&pairs, span)
        }

        fn read(&self, offset: i64) -> Result<Option<Stamp>, Infallible> {
            let found = self.messages.iter().find(|m| m.offset >= offset);
            Ok(found.copied().filter(|m| m.offset < self.span.high))
        }

        fn search(&self, target: i64) -> Found {
            first_at_or_after(self.span, target, |o| self.read(o)).unwrap()
        }

        fn verify(&self, answer: i64, target: i64) -> Result<(), String> {
            verify(answer, self.span, target, |o| self.read(o)).unwrap()
        }

        /// The first message at or after `target`, by scanning.
        fn scan(&self, target: i64) -> i64 {
            let found = self.messages.iter().find(|m| m.timestamp >= target);
            found.map_or(self.span.high, |m| m.offset)
        }
    }

    #[test]
    fn search_matches_a_scan_on_monotonic_timestamps() {
        // Repeated timestamps included: the first of equal timestamps is the answer.
        let timestamps: Vec<i64> = (0..1000).map(|i| 1_000 + (i / 3) * 10).collect();
        let fake = Fake::dense(&timestamps);
        let max_reads = 11; // ceil(log2(1000)) + 1
        for target in (900..4_500).step_by(7) {
            let found = fake.search(target);
            assert_eq!(found.offset, fake.scan(target), "target {target}");
            assert!(found.reads <= max_reads, "{} reads", found.reads);
        }
    }

    #[test]
    fn search_ends_at_the_edges() {
        let fake = Fake::dense(&[10, 20, 30]);
        assert_eq!(fake.search(5).offset, 0);
        assert_eq!(fake.search(31).offset, 3);
        assert_eq!(fake.search(30).offset, 2);
        let empty = Fake::new(&[], Span { low: 7, high: 7 });
        assert_eq!(
            empty.search(5),
            Found {
                offset: 7,
                reads: 0
            }
        );
    }

    #[test]
    fn search_answers_real_offsets_across_gaps() {
        // Offsets 1..=4 and 7 are gone (compaction, transaction markers).
        let pairs = [(0, 10), (5, 20), (6, 30), (8, 40), (9, 50)];
        let fake = Fake::new(&pairs, Span { low: 0, high: 10 });
        for target in [5, 10, 11, 20, 25, 30, 35, 40, 45, 50, 55] {
            assert_eq!(fake.search(target).offset, fake.scan(target), "{target}");
        }
        // A log whose start was deleted: low is past 0.
        let fake = Fake::new(&pairs[1..], Span { low: 5, high: 10 });
        assert_eq!(fake.search(35).offset, 8);
    }

    #[test]
    fn search_on_unordered_timestamps_finds_a_boundary() {
        let timestamps = [50, 10, 60, 20, 70, 30, 80, 40, 90, 45, 95];
        let fake = Fake::dense(&timestamps);
        for target in [15, 35, 55, 85] {
            let offset = fake.search(target).offset as usize;
            assert!(timestamps[offset] >= target, "{target} -> {offset}");
            assert!(offset == 0 || timestamps[offset - 1] < target);
        }
    }

    #[test]
    fn verify_accepts_right_answers() {
        let fake = Fake::dense(&[10, 20, 30, 40]);
        assert_eq!(fake.verify(2, 25), Ok(()));
        assert_eq!(fake.verify(0, 5), Ok(()));
        assert_eq!(fake.verify(4, 41), Ok(()), "the end, all before the target");
        let empty = Fake::new(&[], Span { low: 3, high: 3 });
        assert_eq!(empty.verify(3, 41), Ok(()));
    }

    #[test]
    fn verify_refuses_wrong_answers() {
        let fake = Fake::dense(&[10, 20, 30, 40]);
        // The mock cluster's answer for any time: the end.
        let end = fake.verify(4, 25).unwrap_err();
        assert!(end.contains("offset 3"), "{end}");
        assert!(fake
            .verify(1, 25)
            .unwrap_err()
            .contains("before the target"));
        assert!(fake.verify(3, 25).unwrap_err().contains("at or after"));
        assert!(fake.verify(9, 25).unwrap_err().contains("outside"));
        assert!(fake.verify(-1, 25).unwrap_err().contains("outside"));
    }

    #[test]
    fn verify_refuses_an_answer_after_a_gap() {
        // The message before offset 5 cannot be read cheaply: search instead.
        let fake = Fake::new(&[(0, 10), (5, 20)], Span { low: 0, high: 6 });
        assert!(fake
            .verify(5, 15)
            .unwrap_err()
            .contains("no message at offset 4"));
    }
}
