//! The `stdout` output: each batch encoded with the codec (`rubydebug` by default) into one
//! reused buffer and written with one write, on a thread of its own (see
//! [`super::Threaded`]).

use std::io::Write;
use std::sync::Arc;

use crate::codecs::Codec;
use crate::config::{Diagnostics, PluginArgs};

use super::{BlockingSink, Output, OutputBatch, OutputError, Threaded};

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Options {}

pub fn build(args: &PluginArgs, codec: Arc<dyn Codec>) -> Result<Box<dyn Output>, Diagnostics> {
    let _: Options = args.options()?;
    Ok(to_writer(codec, Box::new(std::io::stdout())))
}

/// A `stdout`-style output writing to any writer (a file, or a buffer in tests).
pub fn to_writer(codec: Arc<dyn Codec>, out: Box<dyn Write + Send>) -> Box<dyn Output> {
    Box::new(Threaded::new(
        "stdout",
        WriterSink {
            codec,
            out,
            buf: Vec::new(),
        },
    ))
}

/// Encodes batches into `buf` and writes them to `out`.
pub struct WriterSink {
    codec: Arc<dyn Codec>,
    out: Box<dyn Write + Send>,
    /// Reused between batches; cleared, not freed.
    buf: Vec<u8>,
}

impl BlockingSink for WriterSink {
    fn write(&mut self, batch: &OutputBatch) -> Result<(), OutputError> {
        self.buf.clear();
        for event in batch.events() {
            self.codec.encode(event, &mut self.buf);
        }
        self.out.write_all(&self.buf)?;
        self.out.flush()?;
        Ok(())
    }

    fn close(&mut self) -> Result<(), OutputError> {
        self.out.flush()?;
        Ok(())
    }
}
