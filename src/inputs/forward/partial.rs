//! Docker's split lines joined again ([`Partials`]).
//!
//! Docker cuts container output lines longer than 16 KiB into pieces and its fluentd driver
//! sends each piece as its own record, marked `partial_message: "true"` with `partial_id` (the
//! same for every piece of a line), `partial_ordinal` ("1", "2", ...) and `partial_last`
//! ("true" on the final piece). [`Partials`] holds the pieces, keyed by container and
//! `partial_id`, and gives back one event when the last piece arrives: the first piece's
//! fields, the pieces' text joined in the message field, the four `partial_*` fields removed.
//!
//! A line whose last piece never comes (the container died, the connection broke) is given back
//! after `partial_timeout`, tagged `_partial_incomplete`; one that grows past
//! `max_message_size` is given back at that point, tagged `_partial_too_long` (later pieces
//! start a new line). The input shares one `Partials` between its connections because the
//! driver may reconnect in the middle of a line.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::event::{Event, Text, Value};

/// At most this many lines are held at once; a piece of one more is passed on unjoined.
const MAX_PENDING: usize = 10_000;

pub const TAG_INCOMPLETE: &str = "_partial_incomplete";
pub const TAG_TOO_LONG: &str = "_partial_too_long";

const PARTIAL_FIELDS: [&str; 4] = [
    "partial_message",
    "partial_id",
    "partial_ordinal",
    "partial_last",
];

/// One piece's place in its line.
#[derive(Debug, Clone, PartialEq)]
pub struct Part {
    container: Text,
    id: Text,
    ordinal: i64,
    last: bool,
}

/// The partial-message metadata of `event`, when it is a piece of a split line.
pub fn part_of(event: &Event) -> Option<Part> {
    let fields = event.fields();
    if !is_true(fields.get("partial_message")?) {
        return None;
    }
    let Some(Value::Str(id)) = fields.get("partial_id") else {
        return None;
    };
    let container = match fields.get("container_id") {
        Some(Value::Str(c)) => c.clone(),
        _ => Text::EMPTY,
    };
    let ordinal = match fields.get("partial_ordinal") {
        Some(Value::Int(n)) => *n,
        Some(Value::Str(s)) => s.trim().parse().unwrap_or(0),
        _ => 0,
    };
    let last = fields.get("partial_last").is_some_and(is_true);
    Some(Part {
        container,
        id: id.clone(),
        ordinal,
        last,
    })
}

fn is_true(value: &Value) -> bool {
    match value {
        Value::Bool(b) => *b,
        Value::Str(s) => s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

struct Pending {
    event: Event,
    text: String,
    ordinal: i64,
    since: Instant,
}

/// The lines being pieced together.
pub struct Partials {
    pending: HashMap<(Text, Text), Pending>,
    /// The field holding each piece's text (`message`, or `log` when it is not renamed).
    field: Text,
    max_size: usize,
    /// All held text together may not exceed this.
    max_total: usize,
    total: usize,
    timeout: Duration,
}

impl Partials {
    pub fn new(field: Text, max_size: usize, timeout: Duration) -> Partials {
        Partials {
            pending: HashMap::new(),
            field,
            max_size,
            max_total: max_size.saturating_mul(4),
            total: 0,
            timeout,
        }
    }

    /// How many lines are waiting for more pieces.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Takes one piece; returns the whole line's event when this piece completes it (or when
    /// it cannot be held).
    pub fn absorb(&mut self, mut event: Event, part: Part, now: Instant) -> Option<Event> {
        for name in PARTIAL_FIELDS {
            event.fields_mut().remove(name);
        }
        let piece_len = self.piece(&event).len();
        let key = (part.container, part.id);
        let Some(pending) = self.pending.get_mut(&key) else {
            if part.last {
                return Some(event);
            }
            if self.pending.len() >= MAX_PENDING || self.total + piece_len > self.max_total {
                event.add_tag(Text::from_static(TAG_INCOMPLETE));
                return Some(event);
            }
            let text = self.piece(&event).to_string();
            self.total += text.len();
            let pending = Pending {
                event,
                text,
                ordinal: part.ordinal,
                since: now,
            };
            self.pending.insert(key, pending);
            return None;
        };
        // A piece sent again after a reconnect: already joined.
        if part.ordinal != 0 && part.ordinal <= pending.ordinal {
            return None;
        }
        pending.ordinal = part.ordinal;
        let piece = match event.fields().get(&self.field) {
            Some(Value::Str(s)) => s.as_str(),
            _ => "",
        };
        pending.text.push_str(piece);
        self.total += piece.len();
        let too_long = pending.text.len() > self.max_size || self.total > self.max_total;
        if part.last || too_long {
            let pending = self.pending.remove(&key)?;
            let mut joined = self.complete(pending);
            if !part.last {
                joined.add_tag(Text::from_static(TAG_TOO_LONG));
            }
            return Some(joined);
        }
        None
    }

    /// Lines held longer than the timeout (every line, when `all`), tagged
    /// `_partial_incomplete`.
    pub fn expire(&mut self, now: Instant, all: bool) -> Vec<Event> {
        let timeout = self.timeout;
        let expired: Vec<(Text, Text)> = self
            .pending
            .iter()
            .filter(|(_, p)| all || now.saturating_duration_since(p.since) >= timeout)
            .map(|(k, _)| k.clone())
            .collect();
        let mut events = Vec::with_capacity(expired.len());
        for key in expired {
            if let Some(pending) = self.pending.remove(&key) {
                let mut event = self.complete(pending);
                event.add_tag(Text::from_static(TAG_INCOMPLETE));
                events.push(event);
            }
        }
        events
    }

    fn piece<'e>(&self, event: &'e Event) -> &'e str {
        match event.fields().get(&self.field) {
            Some(Value::Str(s)) => s.as_str(),
            _ => "",
        }
    }

    /// The first piece's event with the joined text.
    fn complete(&mut self, pending: Pending) -> Event {
        self.total = self.total.saturating_sub(pending.text.len());
        let mut event = pending.event;
        event.set_field(
            self.field.clone(),
            Value::Str(Text::from_string(pending.text)),
        );
        event
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Map, Timestamp};

    fn piece(id: &str, ordinal: &str, last: bool, text: &str) -> Event {
        let mut map = Map::new();
        for (k, v) in [
            ("container_id", "c1"),
            ("message", text),
            ("partial_message", "true"),
            ("partial_id", id),
            ("partial_ordinal", ordinal),
            ("partial_last", if last { "true" } else { "false" }),
        ] {
            map.insert(Text::new(k), Value::Str(Text::new(v)));
        }
        Event::from_fields(map, Timestamp::from_secs(1))
    }

    fn feed(partials: &mut Partials, event: Event) -> Option<Event> {
        let part = part_of(&event).expect("a piece");
        partials.absorb(event, part, Instant::now())
    }

    #[test]
    fn joins_pieces_in_order_and_drops_metadata() {
        let mut p = Partials::new(Text::new("message"), 1 << 20, Duration::from_secs(5));
        assert!(feed(&mut p, piece("x", "1", false, "ab")).is_none());
        assert!(feed(&mut p, piece("y", "1", false, "12")).is_none());
        assert!(feed(&mut p, piece("x", "2", false, "cd")).is_none());
        assert!(
            feed(&mut p, piece("x", "2", false, "cd")).is_none(),
            "a resent piece"
        );
        let joined = feed(&mut p, piece("x", "3", true, "e")).unwrap();
        assert_eq!(joined.get_field("message").unwrap().as_str(), Some("abcde"));
        assert!(joined.get_field("partial_id").is_none());
        assert_eq!(p.len(), 1);
        let left = p.expire(Instant::now(), true);
        assert_eq!(left[0].get_field("message").unwrap().as_str(), Some("12"));
        assert!(left[0].get_field("tags").is_some());
        assert!(p.is_empty());
        assert_eq!(p.total, 0);
    }

    #[test]
    fn too_long_lines_are_cut() {
        let mut p = Partials::new(Text::new("message"), 5, Duration::from_secs(5));
        assert!(feed(&mut p, piece("x", "1", false, "abc")).is_none());
        let cut = feed(&mut p, piece("x", "2", false, "def")).unwrap();
        assert_eq!(cut.get_field("message").unwrap().as_str(), Some("abcdef"));
        assert!(p.is_empty());
    }
}
