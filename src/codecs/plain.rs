//! The `plain` codec: each chunk an input reads is one event (its `message`); encoding writes
//! `format` (sprintf) or Logstash's `Event#to_s` (`@timestamp host message`), with no
//! delimiter.

use std::sync::Arc;

use bytes::Bytes;

use crate::config::{Diagnostics, PluginArgs};
use crate::event::sprintf::Template;
use crate::event::{Event, Timestamp};

use super::{write_event_summary, write_template, Charset, Codec, Decoder};

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct Options {
    format: Option<String>,
    charset: Charset,
}

pub fn build(args: &PluginArgs) -> Result<Arc<dyn Codec>, Diagnostics> {
    let options: Options = args.options()?;
    let format = match options.format.as_deref().map(Template::parse) {
        Some(Ok(t)) => Some(t),
        Some(Err(e)) => return Err(args.error("format", format!("plain: format: {e}"))),
        None => None,
    };
    Ok(Arc::new(Plain {
        format,
        charset: options.charset,
    }))
}

/// The `plain` codec.
#[derive(Default)]
pub struct Plain {
    format: Option<Template>,
    charset: Charset,
}

impl Codec for Plain {
    fn decoder(&self) -> Box<dyn Decoder> {
        Box::new(PlainDecoder {
            charset: self.charset,
        })
    }

    fn encode(&self, event: &Event, buf: &mut Vec<u8>) {
        match &self.format {
            Some(format) => write_template(format, event, buf),
            None => write_event_summary(event, buf),
        }
    }
}

struct PlainDecoder {
    charset: Charset,
}

impl Decoder for PlainDecoder {
    fn decode(&mut self, chunk: Bytes, now: Timestamp, out: &mut Vec<Event>) {
        out.push(Event::from_message(self.charset.text(chunk), now));
    }

    fn flush(&mut self, _now: Timestamp, _out: &mut Vec<Event>) {}
}
