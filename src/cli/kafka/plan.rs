//! Each partition's new offset for a [`Target`] ([`new_offsets`]): the watermarks for
//! earliest and latest; for a time, the brokers' offsets-for-times answer when the messages'
//! own timestamps agree with it, else a binary search (see `search`). Each partition's method
//! goes to stderr.

use super::client::{Connection, Part};
use super::search::{self, Span};

/// Where the offsets go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Earliest,
    Latest,
    /// Milliseconds since the Unix epoch.
    Time(i64),
}

/// Each part's new offset.
pub fn new_offsets(
    connection: &Connection,
    parts: &[Part],
    target: Target,
) -> anyhow::Result<Vec<i64>> {
    let spans = parts
        .iter()
        .map(|part| connection.span(part))
        .collect::<anyhow::Result<Vec<Span>>>()?;
    let answers = match target {
        Target::Time(millis) => broker_answers(connection, parts, millis),
        _ => Vec::new(),
    };
    let mut offsets = Vec::with_capacity(parts.len());
    for (i, (part, span)) in parts.iter().zip(&spans).enumerate() {
        let offset = match target {
            Target::Earliest => log(part, "earliest: the log start offset", span.low),
            Target::Latest => log(part, "latest: the end (high watermark)", span.high),
            Target::Time(millis) => {
                let answer = answers
                    .get(i)
                    .cloned()
                    .unwrap_or_else(|| Err("none".into()));
                new_offset(connection, part, *span, millis, answer)?
            }
        };
        offsets.push(offset);
    }
    Ok(offsets)
}

/// Logs how `part`'s new offset was found; returns it.
fn log(part: &Part, method: &str, offset: i64) -> i64 {
    eprintln!("{part}: {offset} ({method})");
    offset
}

/// The brokers' offsets-for-times answer per part (`span.high` stands for "the end" later), or
/// why there is none.
fn broker_answers(
    connection: &Connection,
    parts: &[Part],
    millis: i64,
) -> Vec<Result<Option<i64>, String>> {
    match connection.offsets_for_time(parts, millis) {
        Ok(answers) => answers
            .into_iter()
            .map(|a| a.map_err(|e| format!("{e:#}")))
            .collect(),
        Err(e) => vec![Err(format!("{e:#}")); parts.len()],
    }
}

/// The first offset of `part` at or after `millis`: the brokers' answer when the messages'
/// timestamps agree with it, else a binary search.
fn new_offset(
    connection: &Connection,
    part: &Part,
    span: Span,
    millis: i64,
    answer: Result<Option<i64>, String>,
) -> anyhow::Result<i64> {
    let read = |offset| connection.read(part, offset, span.high);
    let why = match answer {
        Err(e) => format!("offsets-for-times failed: {e}"),
        Ok(answer) => {
            let offset = answer.unwrap_or(span.high);
            match search::verify(offset, span, millis, read)? {
                Ok(()) => return Ok(log(part, "offsets-for-times, verified", offset)),
                Err(reason) => format!("offsets-for-times answered {offset}, but {reason}"),
            }
        }
    };
    let found = search::first_at_or_after(span, millis, read)?;
    let method = format!("{why}; binary search read {} message(s)", found.reads);
    Ok(log(part, &method, found.offset))
}
