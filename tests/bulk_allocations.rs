//! The elasticsearch output's hot path allocates per request, never per event: serialising a
//! batch into a bulk body only grows buffers. Counted with a global allocator that tallies the
//! allocations made on the test's own thread.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::Arc;

use sluice::event::sprintf::Template;
use sluice::event::{Batch, Event, Text, Timestamp, Value};
use sluice::outputs::elasticsearch::bulk::{Actions, Added, BulkBuilder, DataStream};
use sluice::outputs::OutputBatch;

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // `try_with`: the thread-local may be gone while a thread shuts down.
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn allocations() -> usize {
    ALLOCATIONS.with(Cell::get)
}

/// Events shaped like parsed access-log lines: strings, numbers, a nested map, a timestamp.
fn batch(n: usize) -> OutputBatch {
    let events = (0..n)
        .map(|i| {
            let mut event = Event::new(Timestamp::now());
            event.set_field(
                Text::from("message"),
                Value::Str(Text::from(format!("GET /index.html?page={i} HTTP/1.1"))),
            );
            event.set_field(Text::from("id"), Value::Int(i as i64));
            event.set_field(Text::from("status"), Value::Int(200));
            event.set_field(Text::from("bytes"), Value::Float(512.5));
            let mut source = sluice::event::Map::new();
            source.insert(Text::from("ip"), Value::Str(Text::from("10.0.0.1")));
            event.set_field(Text::from("source"), Value::Map(source));
            event
        })
        .collect();
    OutputBatch::new(Arc::new(Batch::new(events)), None)
}

fn template(source: &str) -> Template {
    Template::parse(source).unwrap()
}

/// Serialises `events` events with `actions`; returns the allocations made.
fn allocations_to_build(actions: &Actions, events: usize) -> usize {
    let batch = batch(events);
    let before = allocations();
    let mut builder = BulkBuilder::new(actions, events, 100 << 20);
    assert!(matches!(builder.add(&batch, 0), Added::All));
    let request = builder.finish();
    let used = allocations() - before;
    assert_eq!(request.items.len(), events);
    assert!(request.body.len() > events * 100, "{}", request.body.len());
    used
}

fn index_actions() -> Actions {
    Actions {
        action: template("index"),
        index: template("logs-%{[source][ip]}-%{+yyyy.MM.dd}"),
        document_id: Some(template("%{id}")),
        routing: None,
        pipeline: None,
        doc_as_upsert: false,
        retry_on_conflict: None,
        data_stream: None,
    }
}

#[test]
fn building_a_bulk_body_allocates_per_request_not_per_event() {
    // Buffer growth is logarithmic (body, items, scratch); anything per event would be 10,000+.
    let used = allocations_to_build(&index_actions(), 10_000);
    assert!(used < 200, "{used} allocations for 10,000 events");
}

#[test]
fn data_stream_routing_and_synced_fields_allocate_nothing_per_event() {
    let actions = Actions {
        action: template("create"),
        document_id: None,
        data_stream: Some(DataStream {
            kind: "logs".into(),
            dataset: "nginx".into(),
            namespace: "default".into(),
            auto_routing: true,
            sync_fields: true,
        }),
        ..index_actions()
    };
    let used = allocations_to_build(&actions, 10_000);
    assert!(used < 200, "{used} allocations for 10,000 events");
}
