//! [`TaskFields`]: what the events of a sandbox file get, the hook of the file input's
//! [`EventSink`](crate::inputs::file::sink::EventSink) (which gives each file a decoder of its
//! own, so a multiline codec never mixes tasks or streams, and batches each file's events with
//! a token that moves its sincedb position once they are delivered). The fields a file's path
//! gives ([`RunFields`]) are worked out once, when the file is first read.

use std::path::Path;

use crate::event::{Event, Text, Value};
use crate::inputs::file::sink::EventFields;
use crate::inputs::file::tailing::HostField;
use crate::inputs::file::watch::FileRef;

use super::layout::RunFields;

const MESOS_TASK_ID: Text = Text::from_static("MESOS_TASK_ID");
const MESOS: Text = Text::from_static("mesos");
const STREAM: Text = Text::from_static("stream");

/// `MESOS_TASK_ID`, `mesos`, `stream` (from the file's path) and `host`, each unless the
/// event has it already.
pub struct TaskFields {
    host: HostField,
}

impl TaskFields {
    pub fn new(host: HostField) -> TaskFields {
        TaskFields { host }
    }
}

impl EventFields for TaskFields {
    type Source = RunFields;

    fn source(&self, file: &FileRef) -> RunFields {
        RunFields::of(Path::new(file.path.as_str()))
    }

    fn apply(&self, event: &mut Event, run: &RunFields, _: &Text) {
        let fields = event.fields_mut();
        if let Some(task) = &run.task_id {
            if !fields.contains_key("MESOS_TASK_ID") {
                fields.push_new(MESOS_TASK_ID, Value::Str(task.clone()));
            }
        }
        if !fields.contains_key("mesos") {
            fields.push_new(MESOS, run.mesos.clone());
        }
        if !fields.contains_key("stream") {
            fields.push_new(STREAM, Value::Str(run.stream.clone()));
        }
        self.host.apply(event);
    }
}
