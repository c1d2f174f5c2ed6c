//! Bulk request bodies: events serialised straight into one NDJSON buffer, with a record per
//! item of where its lines lie, so that a retry can resend some items by copying their bytes
//! (never serialising an event twice).
//!
//! [`Actions`] holds the compiled per-event metadata (action, index, id, routing, pipeline);
//! [`BulkBuilder`] fills a body from batches until the count or byte limit is reached, and
//! [`BulkRequest`] is the result: the body, its [`Item`]s and the batches they came from (held
//! until every item is done, which is what acknowledges them).

use std::ops::Range;

use bytes::Bytes;

use crate::event::json::{write_event, write_str, write_value};
use crate::event::sprintf::Template;
use crate::event::{Event, Map};
use crate::outputs::OutputBatch;

/// A bulk action.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Index,
    Create,
    Update,
    Delete,
}

impl Op {
    pub fn parse(name: &str) -> Option<Op> {
        match name {
            "index" => Some(Op::Index),
            "create" => Some(Op::Create),
            "update" => Some(Op::Update),
            "delete" => Some(Op::Delete),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Op::Index => "index",
            Op::Create => "create",
            Op::Update => "update",
            Op::Delete => "delete",
        }
    }
}

/// How each event's action line is made; every part is a sprintf template compiled at build
/// time.
#[derive(Debug)]
pub struct Actions {
    pub action: Template,
    pub index: Template,
    pub document_id: Option<Template>,
    pub routing: Option<Template>,
    pub pipeline: Option<Template>,
    pub doc_as_upsert: bool,
    pub retry_on_conflict: Option<u32>,
    /// How events are named into a data stream; `None`: the `index` template decides.
    pub data_stream: Option<DataStream>,
}

/// `data_stream => true`: the name parts from the options, and what the event may change.
#[derive(Debug)]
pub struct DataStream {
    /// `data_stream_type`, `_dataset`, `_namespace`.
    pub kind: String,
    pub dataset: String,
    pub namespace: String,
    /// `data_stream_auto_routing`: a part comes from the event's `[data_stream][...]` field
    /// when that holds a string.
    pub auto_routing: bool,
    /// `data_stream_sync_fields`: the indexed document's `[data_stream]` fields are set to the
    /// parts of the name it went to (the event itself is left alone).
    pub sync_fields: bool,
}

impl DataStream {
    const FIELDS: [&'static str; 3] = ["type", "dataset", "namespace"];

    /// `[type, dataset, namespace]` of the data stream `event` goes to.
    fn parts<'a>(&'a self, event: &'a Event) -> [&'a str; 3] {
        let routed = |field: &str| {
            let stream = event.fields().get("data_stream")?.as_map()?;
            stream.get(field)?.as_str()
        };
        let defaults = [&self.kind, &self.dataset, &self.namespace];
        std::array::from_fn(|i| {
            let event_part = self.auto_routing.then(|| routed(Self::FIELDS[i])).flatten();
            event_part.unwrap_or(defaults[i])
        })
    }

    /// Appends `type-dataset-namespace` for `event` to `out`.
    fn render(&self, event: &Event, out: &mut String) {
        for (i, part) in self.parts(event).into_iter().enumerate() {
            if i > 0 {
                out.push('-');
            }
            out.push_str(part);
        }
    }

    /// Writes `event` as JSON with its `[data_stream]` object holding the parts of the name
    /// (first, then the object's other keys); added at the end when the event has none.
    fn write_synced(&self, event: &Event, buf: &mut Vec<u8>) {
        let parts = self.parts(event);
        buf.push(b'{');
        let mut first = true;
        let mut synced = false;
        let mut separate = |buf: &mut Vec<u8>| {
            if !std::mem::take(&mut first) {
                buf.push(b',');
            }
        };
        for (key, value) in event.fields().iter() {
            if key.as_str() == "@metadata" {
                continue;
            }
            separate(buf);
            write_str(key, buf);
            buf.push(b':');
            if key.as_str() == "data_stream" {
                synced = true;
                Self::write_object(parts, value.as_map(), buf);
            } else {
                write_value(value, buf);
            }
        }
        if !synced {
            separate(buf);
            buf.extend_from_slice(b"\"data_stream\":");
            Self::write_object(parts, None, buf);
        }
        buf.push(b'}');
    }

    fn write_object(parts: [&str; 3], others: Option<&Map>, buf: &mut Vec<u8>) {
        buf.push(b'{');
        for (i, (field, part)) in Self::FIELDS.iter().zip(parts).enumerate() {
            if i > 0 {
                buf.push(b',');
            }
            write_str(field, buf);
            buf.push(b':');
            write_str(part, buf);
        }
        for (key, value) in others.into_iter().flat_map(Map::iter) {
            if Self::FIELDS.contains(&key.as_str()) {
                continue;
            }
            buf.push(b',');
            write_str(key, buf);
            buf.push(b':');
            write_value(value, buf);
        }
        buf.push(b'}');
    }
}

/// Where one item of a bulk request lies in its body, and which event it is.
#[derive(Clone, Debug)]
pub struct Item {
    /// The item's lines (action line and source line, each with its `\n`).
    pub lines: Range<usize>,
    /// The index name inside the action line (JSON-escaped text).
    pub index: Range<usize>,
    /// Which of the request's batches holds the event, and where in it.
    pub batch: u32,
    pub event: u32,
    pub op: Op,
}

/// A bulk request ready to send, or to resend in part.
#[derive(Debug)]
pub struct BulkRequest {
    pub body: Bytes,
    pub items: Vec<Item>,
    /// The batches the events come from; dropping the last handle on one acknowledges it.
    pub batches: Vec<OutputBatch>,
    /// Events whose action could not be made (bad action name): dead-lettered at once.
    pub refused: Vec<Refused>,
}

/// An event that never made it into a body.
#[derive(Clone, Debug)]
pub struct Refused {
    pub batch: u32,
    pub event: u32,
    pub index: String,
    /// Why, as JSON text (a JSON string), ready for the dead letter queue.
    pub error: String,
}

impl BulkRequest {
    /// The index name of `item`.
    pub fn index_of(&self, item: &Item) -> &str {
        std::str::from_utf8(&self.body[item.index.clone()]).unwrap_or("")
    }

    /// The event of `item`.
    pub fn event_of(&self, batch: u32, event: u32) -> Option<&Event> {
        self.batches.get(batch as usize)?.get(event as usize)
    }

    /// A request holding only `items` of this one (their bytes copied), sharing the batches.
    pub fn subset(&self, items: &[Item]) -> BulkRequest {
        let size: usize = items.iter().map(|i| i.lines.len()).sum();
        let mut body = Vec::with_capacity(size);
        let mut kept = Vec::with_capacity(items.len());
        for item in items {
            let start = body.len();
            body.extend_from_slice(&self.body[item.lines.clone()]);
            let shift = |r: &Range<usize>| {
                r.start - item.lines.start + start..r.end - item.lines.start + start
            };
            kept.push(Item {
                lines: start..body.len(),
                index: shift(&item.index),
                ..item.clone()
            });
        }
        BulkRequest {
            body: Bytes::from(body),
            items: kept,
            batches: self.batches.clone(),
            refused: Vec::new(),
        }
    }
}

/// Fills one request body from batches.
pub struct BulkBuilder<'a> {
    actions: &'a Actions,
    max_items: usize,
    max_bytes: usize,
    body: Vec<u8>,
    items: Vec<Item>,
    batches: Vec<OutputBatch>,
    refused: Vec<Refused>,
    scratch: String,
}

/// What [`BulkBuilder::add`] did with a batch.
pub enum Added {
    /// Every event from the given one on is in the body.
    All,
    /// The body is full; events from this one on still need a request.
    Full { next: usize },
}

impl<'a> BulkBuilder<'a> {
    pub fn new(actions: &'a Actions, max_items: usize, max_bytes: usize) -> BulkBuilder<'a> {
        BulkBuilder {
            actions,
            max_items: max_items.max(1),
            max_bytes,
            body: Vec::new(),
            items: Vec::new(),
            batches: Vec::new(),
            refused: Vec::new(),
            scratch: String::new(),
        }
    }

    /// Reserves room for a body of `bytes` and `items` items (capped by the limits).
    pub fn with_room(mut self, bytes: usize, items: usize) -> BulkBuilder<'a> {
        self.body.reserve(bytes.min(self.max_bytes));
        self.items.reserve(items.min(self.max_items));
        self
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty() && self.refused.is_empty()
    }

    pub fn is_full(&self) -> bool {
        self.items.len() >= self.max_items || self.body.len() >= self.max_bytes
    }

    /// Serialises the events of `batch` from `from` on, until the body is full. An event
    /// always goes in when the body is empty, so an event larger than the byte limit still
    /// gets a request of its own.
    pub fn add(&mut self, batch: &OutputBatch, from: usize) -> Added {
        let batch_no = self.batches.len() as u32;
        let mut used = false;
        for (i, event) in batch.events().enumerate().skip(from) {
            if self.is_full() {
                self.keep(batch, used);
                return Added::Full { next: i };
            }
            used = true;
            self.add_event(event, batch_no, i as u32);
        }
        self.keep(batch, used);
        Added::All
    }

    fn keep(&mut self, batch: &OutputBatch, used: bool) {
        if used {
            self.batches.push(batch.clone());
        }
    }

    fn add_event(&mut self, event: &Event, batch: u32, index: u32) {
        let actions = self.actions;
        let op = actions.action.with_rendered(event, Op::parse);
        let Some(op) = op else {
            let reason = actions.action.with_rendered(event, |a| {
                format!("invalid action \"{a}\": must be index, create, update or delete")
            });
            let error = serde_json::Value::String(reason).to_string();
            let index_name = actions.index.render(event).to_string();
            self.refused.push(Refused {
                batch,
                event: index,
                index: index_name,
                error,
            });
            return;
        };
        let start = self.body.len();
        let index_range = self.write_action_line(event, op);
        self.write_source_line(event, op);
        self.items.push(Item {
            lines: start..self.body.len(),
            index: index_range,
            batch,
            event: index,
            op,
        });
    }

    /// `{"<op>":{"_index":..,"_id":..,"routing":..,"pipeline":..}}\n`; returns where the index
    /// name's text lies.
    fn write_action_line(&mut self, event: &Event, op: Op) -> Range<usize> {
        let actions = self.actions;
        let body = &mut self.body;
        body.extend_from_slice(b"{\"");
        body.extend_from_slice(op.name().as_bytes());
        body.extend_from_slice(b"\":{\"_index\":");
        let index_start = body.len() + 1;
        match &actions.data_stream {
            Some(stream) if stream.auto_routing => {
                self.scratch.clear();
                stream.render(event, &mut self.scratch);
                write_str(&self.scratch, body);
            }
            _ => actions.index.with_rendered(event, |s| write_str(s, body)),
        }
        let index_range = index_start..body.len() - 1;
        let optional = [
            ("_id", &actions.document_id),
            ("routing", &actions.routing),
            ("pipeline", &actions.pipeline),
        ];
        for (key, template) in optional {
            let Some(template) = template else { continue };
            self.scratch.clear();
            template.render_into(event, &mut self.scratch);
            // An unresolved reference renders as itself: leave the key out rather than
            // sending `%{[missing]}` as an id (Logstash sends it; nobody wants it).
            if self.scratch.is_empty() || self.scratch.contains("%{") {
                continue;
            }
            body.extend_from_slice(b",\"");
            body.extend_from_slice(key.as_bytes());
            body.extend_from_slice(b"\":");
            write_str(&self.scratch, body);
        }
        if let (Op::Update, Some(n)) = (op, actions.retry_on_conflict) {
            body.extend_from_slice(b",\"retry_on_conflict\":");
            body.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
        }
        body.extend_from_slice(b"}}\n");
        index_range
    }

    fn write_source_line(&mut self, event: &Event, op: Op) {
        let body = &mut self.body;
        match op {
            Op::Delete => return,
            Op::Index | Op::Create => match &self.actions.data_stream {
                Some(stream) if stream.sync_fields => stream.write_synced(event, body),
                _ => write_event(event, body),
            },
            Op::Update => {
                body.extend_from_slice(b"{\"doc\":");
                write_event(event, body);
                if self.actions.doc_as_upsert {
                    body.extend_from_slice(b",\"doc_as_upsert\":true");
                }
                body.push(b'}');
            }
        }
        body.push(b'\n');
    }

    /// The request built so far (possibly empty).
    pub fn finish(self) -> BulkRequest {
        BulkRequest {
            body: Bytes::from(self.body),
            items: self.items,
            batches: self.batches,
            refused: self.refused,
        }
    }
}
