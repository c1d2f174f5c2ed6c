//! The `generator` input: `message` (default `"Hello world!"`) or each of `lines`, `count`
//! times (0 or less: until shutdown), decoded with the codec (`plain` by default). Every event
//! gets the shared options, then `host` (this machine's name) and `sequence` (0, 1, ... one
//! number per round of `lines`), as in Logstash.

use std::sync::Arc;

use bytes::Bytes;

use crate::codecs::Codec;
use crate::config::{Diagnostics, PluginArgs};
use crate::event::{names, Batch, Event, Text, Value};

use super::{hostname, Input, InputContext, InputError};

const SEQUENCE: Text = Text::from_static("sequence");

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    #[serde(default = "default_message")]
    message: String,
    #[serde(default)]
    lines: Option<Vec<String>>,
    #[serde(default)]
    count: i64,
}

fn default_message() -> String {
    "Hello world!".to_string()
}

pub fn build(args: &PluginArgs, codec: Arc<dyn Codec>) -> Result<Box<dyn Input>, Diagnostics> {
    let options: Options = args.options()?;
    let lines = options.lines.unwrap_or_else(|| vec![options.message]);
    let count = u64::try_from(options.count).ok().filter(|&n| n > 0);
    Ok(Box::new(Generator::new(codec, lines, count)))
}

/// The `generator` input.
pub struct Generator {
    codec: Arc<dyn Codec>,
    lines: Vec<Bytes>,
    /// Rounds of `lines`; `None` for no limit.
    count: Option<u64>,
}

impl Generator {
    pub fn new(codec: Arc<dyn Codec>, lines: Vec<String>, count: Option<u64>) -> Generator {
        Generator {
            codec,
            lines: lines.into_iter().map(Bytes::from).collect(),
            count,
        }
    }
}

#[async_trait::async_trait]
impl Input for Generator {
    async fn run(self: Box<Self>, ctx: InputContext) -> Result<(), InputError> {
        let host = hostname();
        let size = ctx.batch_size();
        let mut decoder = self.codec.decoder();
        let mut events = Vec::with_capacity(size);
        let mut sequence = 0u64;
        while self.count.is_none_or(|count| sequence < count) && !ctx.shutdown().is_requested() {
            let now = ctx.now();
            let start = events.len();
            for line in &self.lines {
                // A clone of `Bytes` shares the line; the codec makes the event's text from it.
                decoder.decode(line.clone(), now, &mut events);
            }
            stamp(&ctx, &mut events[start..], &host, Some(sequence));
            sequence += 1;
            if events.len() >= size {
                let batch = std::mem::replace(&mut events, Vec::with_capacity(size));
                ctx.forward(Batch::new(batch)).await?;
            }
        }
        let start = events.len();
        decoder.flush(ctx.now(), &mut events);
        stamp(&ctx, &mut events[start..], &host, None);
        if !events.is_empty() {
            ctx.forward(Batch::new(events)).await?;
        }
        Ok(())
    }
}

/// Logstash's order: the shared options, then `host` and `sequence` (not for events the codec
/// only released at the end).
fn stamp(ctx: &InputContext, events: &mut [Event], host: &Text, sequence: Option<u64>) {
    ctx.decorate(events);
    for event in events {
        event.set_field(names::HOST, Value::Str(host.clone()));
        if let Some(n) = sequence {
            event.set_field(SEQUENCE, Value::Int(n as i64));
        }
    }
}
