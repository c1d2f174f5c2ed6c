//! The `dead_letter_queue` input: reads back the events a pipeline's outputs dead-lettered (see
//! [`crate::dlq`]), as logstash-input-dead_letter_queue does, for reprocessing.
//!
//! Options: `path` (the queue root, `path.dead_letter_queue`; required), `pipeline_id` (whose
//! queue, default `"main"`), `commit_offsets` (default true: remember how far it got so a
//! restart does not read entries again), `sincedb_path` (where; default
//! `<path>/<pipeline_id>/.sincedb`), `start_timestamp` (ISO8601: skip entries appended before
//! it), `clean_consumed` (delete segments once every entry in them is committed; needs
//! `commit_offsets`). The codec is accepted and unused: entries are JSON.
//!
//! Each entry becomes the event as it was written (fields, `@timestamp`, tags and its own
//! `@metadata`), with `[@metadata][dead_letter_queue]` holding `plugin_type`, `plugin_id`,
//! `reason` (`status 400: mapper_parsing_exception: failed to parse field [x]`, see
//! [`DlqRecord::reason`]), `entry_time` (a timestamp), and, beyond Logstash, `index` and
//! `status`. Then the shared options (`type`, `tags`, `add_field`) apply, so they can use that
//! metadata.
//!
//! [`DeadLetterQueueInput`] reads on a thread of its own: everything already in the queue, then
//! new entries as they come (it polls every [`POLL_INTERVAL`]) until shutdown. Batches are sent
//! as soon as the reader has caught up, so a trickle of entries is not held back.
//!
//! Commits follow acknowledgement: every batch carries an [`AckToken`], and the position after
//! a batch is written to the sincedb only once that batch and every batch before it were
//! delivered (`Committer`). A batch that fails holds commits back for the rest of the run, so a
//! restart reads it (and what followed) again: at-least-once. The sincedb is
//! `{"segment":N,"offset":M}`, replaced atomically (written beside, then renamed).

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::codecs::Codec;
use crate::config::{Diagnostics, PluginArgs};
use crate::dlq::{self, DlqPosition, DlqReader, DlqRecord};
use crate::event::{AckStatus, AckToken, Acknowledge, Batch, Event, Map, Text, Timestamp, Value};

use super::{Input, InputContext, InputError, Shutdown};

/// How often the reader looks for new entries once it has caught up.
pub const POLL_INTERVAL: Duration = Duration::from_millis(200);

const DEAD_LETTER_QUEUE: Text = Text::from_static("dead_letter_queue");
const PLUGIN_TYPE: Text = Text::from_static("plugin_type");
const PLUGIN_ID: Text = Text::from_static("plugin_id");
const REASON: Text = Text::from_static("reason");
const ENTRY_TIME: Text = Text::from_static("entry_time");
const INDEX: Text = Text::from_static("index");
const STATUS: Text = Text::from_static("status");

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    path: String,
    #[serde(default = "default_pipeline_id")]
    pipeline_id: String,
    #[serde(default = "default_true")]
    commit_offsets: bool,
    #[serde(default)]
    sincedb_path: Option<String>,
    #[serde(default)]
    start_timestamp: Option<String>,
    #[serde(default)]
    clean_consumed: bool,
}

fn default_pipeline_id() -> String {
    "main".to_string()
}

fn default_true() -> bool {
    true
}

pub fn build(args: &PluginArgs, _codec: Arc<dyn Codec>) -> Result<Box<dyn Input>, Diagnostics> {
    let options: Options = args.options()?;
    let root = PathBuf::from(&options.path);
    let dir = dlq::queue_dir(&root, &options.pipeline_id)
        .map_err(|e| args.error("pipeline_id", e.to_string()))?;
    let start = match &options.start_timestamp {
        None => None,
        Some(text) => Some(Timestamp::parse_iso8601(text).ok_or_else(|| {
            args.error(
                "start_timestamp",
                format!(
                    "dead_letter_queue: {text:?} is not an ISO8601 time (e.g. 2017-04-04T23:40:37)"
                ),
            )
        })?),
    };
    if options.clean_consumed && !options.commit_offsets {
        return Err(args.error(
            "clean_consumed",
            "dead_letter_queue: clean_consumed needs commit_offsets => true",
        ));
    }
    let sincedb = options.commit_offsets.then(|| {
        options
            .sincedb_path
            .map_or_else(|| dir.join(".sincedb"), PathBuf::from)
    });
    Ok(Box::new(DeadLetterQueueInput {
        root,
        dir,
        pipeline_id: options.pipeline_id,
        sincedb,
        start,
        clean_consumed: options.clean_consumed,
    }))
}

/// The `dead_letter_queue` input.
pub struct DeadLetterQueueInput {
    root: PathBuf,
    /// The queue's folder, `root/pipeline_id`.
    dir: PathBuf,
    pipeline_id: String,
    /// Where committed positions go; `None` without `commit_offsets`.
    sincedb: Option<PathBuf>,
    start: Option<Timestamp>,
    clean_consumed: bool,
}

#[async_trait::async_trait]
impl Input for DeadLetterQueueInput {
    async fn run(self: Box<Self>, ctx: InputContext) -> Result<(), InputError> {
        let (done_tx, done_rx) = tokio::sync::oneshot::channel();
        std::thread::Builder::new()
            .name("sluice-dlq".into())
            .spawn(move || {
                let _ = done_tx.send(self.read_loop(&ctx));
            })?;
        // The thread notices shutdown within one poll step; waiting for it means no batch is
        // sent after the input has returned.
        done_rx.await.unwrap_or_else(|_| {
            Err(InputError::Other(
                "the dead letter queue reader thread panicked".into(),
            ))
        })
    }
}

impl DeadLetterQueueInput {
    fn read_loop(&self, ctx: &InputContext) -> Result<(), InputError> {
        let committer = self.sincedb.as_ref().map(|sincedb| {
            let clean = self.clean_consumed.then(|| self.dir.clone());
            Arc::new(Committer::load(sincedb, clean))
        });
        let start = committer
            .as_ref()
            .map_or_else(DlqPosition::default, |c| c.committed());
        let mut reader = DlqReader::open_at(&self.root, &self.pipeline_id, start)
            .map_err(|e| InputError::Other(e.to_string()))?;
        while !ctx.shutdown().is_requested() {
            let mut events = self.read_batch(&mut reader, ctx.batch_size());
            if events.is_empty() {
                pause(ctx.shutdown());
                continue;
            }
            ctx.decorate(&mut events);
            let batch = match &committer {
                Some(c) => Batch::with_ack(events, c.token(reader.position())),
                None => Batch::new(events),
            };
            ctx.forward_blocking(batch)?;
        }
        Ok(())
    }

    /// Up to `size` events, fewer when the reader has caught up.
    fn read_batch(&self, reader: &mut DlqReader, size: usize) -> Vec<Event> {
        let mut events = Vec::new();
        while events.len() < size {
            match reader.next_record() {
                Ok(Some(record)) => {
                    if self.start.is_none_or(|start| record.entry_time >= start) {
                        events.push(restore(record));
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "dead_letter_queue: read failed; retrying");
                    break;
                }
            }
        }
        events
    }
}

/// The entry's event with `[@metadata][dead_letter_queue]` added.
fn restore(record: DlqRecord) -> Event {
    let reason = record.reason();
    let DlqRecord {
        entry_time,
        plugin_type,
        plugin_id,
        index,
        status,
        mut event,
        ..
    } = record;
    let mut meta = Map::with_capacity(6);
    meta.push_new(PLUGIN_TYPE, Value::Str(plugin_type));
    meta.push_new(PLUGIN_ID, Value::Str(plugin_id));
    meta.push_new(REASON, Value::Str(Text::from_string(reason)));
    meta.push_new(ENTRY_TIME, Value::Timestamp(entry_time));
    meta.push_new(INDEX, Value::Str(index));
    meta.push_new(STATUS, Value::Int(i64::from(status)));
    event
        .metadata_mut()
        .insert(DEAD_LETTER_QUEUE, Value::Map(meta));
    event
}

/// Waits one poll interval, in short steps so a shutdown request is seen quickly.
fn pause(shutdown: &Shutdown) {
    const STEP: Duration = Duration::from_millis(25);
    let mut waited = Duration::ZERO;
    while waited < POLL_INTERVAL && !shutdown.is_requested() {
        std::thread::sleep(STEP);
        waited += STEP;
    }
}

/// Writes the sincedb as batches are acknowledged: the position after the last batch of an
/// unbroken run of delivered ones. Acknowledgements arrive on output threads, in any order.
struct Committer {
    sincedb: PathBuf,
    /// The queue folder, when consumed segments are to be deleted.
    clean: Option<PathBuf>,
    state: Mutex<Commits>,
}

struct Commits {
    next_id: u64,
    /// Batches sent and not yet committed, in the order sent.
    pending: VecDeque<Pending>,
    committed: DlqPosition,
}

struct Pending {
    id: u64,
    /// The position just past the batch's last entry.
    end: DlqPosition,
    status: Option<AckStatus>,
}

impl Committer {
    /// A committer starting from the position saved in `sincedb` (the queue's start if there is
    /// none or it cannot be read).
    fn load(sincedb: &Path, clean: Option<PathBuf>) -> Committer {
        Committer {
            sincedb: sincedb.to_path_buf(),
            clean,
            state: Mutex::new(Commits {
                next_id: 0,
                pending: VecDeque::new(),
                committed: read_sincedb(sincedb),
            }),
        }
    }

    fn committed(&self) -> DlqPosition {
        self.lock().committed
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Commits> {
        // Nothing here can panic half-way through an update.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A token for a batch ending at `end`.
    fn token(self: &Arc<Self>, end: DlqPosition) -> AckToken {
        let mut state = self.lock();
        let id = state.next_id;
        state.next_id += 1;
        state.pending.push_back(Pending {
            id,
            end,
            status: None,
        });
        AckToken::new(self.clone(), id)
    }

    fn save(&self, position: DlqPosition) {
        if let Err(e) = write_sincedb(&self.sincedb, position) {
            tracing::warn!(sincedb = %self.sincedb.display(), error = %e, "dead_letter_queue: cannot save the position");
        }
        let Some(dir) = &self.clean else { return };
        if let Err(e) = dlq::remove_segments_before(dir, position.segment) {
            tracing::warn!(error = %e, "dead_letter_queue: cannot delete consumed segments");
        }
    }
}

impl Acknowledge for Committer {
    fn acknowledge(&self, id: u64, status: AckStatus) {
        let mut state = self.lock();
        if let Some(p) = state.pending.iter_mut().find(|p| p.id == id) {
            p.status = Some(status);
        }
        let mut advanced = None;
        while state
            .pending
            .front()
            .is_some_and(|p| p.status == Some(AckStatus::Delivered))
        {
            let done = state.pending.pop_front().expect("checked above");
            advanced = Some(done.end);
        }
        if let Some(position) = advanced {
            state.committed = position;
            // Saved under the lock, so saves land in commit order.
            self.save(position);
        }
    }
}

fn read_sincedb(path: &Path) -> DlqPosition {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            tracing::warn!(sincedb = %path.display(), error = %e, "dead_letter_queue: unreadable sincedb; reading from the start");
            DlqPosition::default()
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => DlqPosition::default(),
        Err(e) => {
            tracing::warn!(sincedb = %path.display(), error = %e, "dead_letter_queue: unreadable sincedb; reading from the start");
            DlqPosition::default()
        }
    }
}

fn write_sincedb(path: &Path, position: DlqPosition) -> std::io::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let text = serde_json::to_vec(&position).map_err(std::io::Error::other)?;
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pos(segment: u64, offset: u64) -> DlqPosition {
        DlqPosition { segment, offset }
    }

    #[test]
    fn commits_wait_for_every_earlier_batch_and_stop_at_a_failure() {
        let dir = tempfile::tempdir().unwrap();
        let sincedb = dir.path().join("db");
        let c = Arc::new(Committer::load(&sincedb, None));
        let (a, b, f, d) = (
            c.token(pos(1, 10)),
            c.token(pos(1, 20)),
            c.token(pos(2, 5)),
            c.token(pos(2, 9)),
        );
        drop(b);
        assert_eq!(c.committed(), pos(0, 0), "batch a is not acknowledged yet");
        assert!(!sincedb.exists());
        drop(a);
        assert_eq!(c.committed(), pos(1, 20));
        assert_eq!(read_sincedb(&sincedb), pos(1, 20));
        let mut f = f;
        f.fail();
        drop(f);
        drop(d);
        assert_eq!(c.committed(), pos(1, 20), "nothing past a failed batch");
        assert_eq!(Committer::load(&sincedb, None).committed(), pos(1, 20));
    }

    #[test]
    fn clean_consumed_deletes_segments_before_the_committed_one() {
        let dir = tempfile::tempdir().unwrap();
        for n in 1..=3 {
            std::fs::write(dlq::segment_path(dir.path(), n), b"").unwrap();
        }
        let c = Arc::new(Committer::load(
            &dir.path().join(".sincedb"),
            Some(dir.path().to_path_buf()),
        ));
        drop(c.token(pos(3, 0)));
        assert_eq!(dlq::list_segments(dir.path()).unwrap(), [3]);
    }

    #[test]
    fn restored_events_carry_the_entry_in_metadata() {
        let record = DlqRecord {
            entry_time: Timestamp::from_secs(60),
            plugin_type: Text::new("elasticsearch"),
            plugin_id: Text::new("es"),
            index: Text::new("logs"),
            status: 404,
            error: Value::from("no such index"),
            event: Event::from_message(Text::new("m"), Timestamp::from_secs(1)),
        };
        let event = restore(record);
        let meta = event.metadata().get("dead_letter_queue").unwrap();
        let meta = meta.as_map().unwrap();
        assert_eq!(
            meta.get("reason"),
            Some(&Value::from("status 404: no such index"))
        );
        assert_eq!(
            meta.get("entry_time"),
            Some(&Value::Timestamp(Timestamp::from_secs(60)))
        );
        assert_eq!(meta.get("status"), Some(&Value::Int(404)));
        assert_eq!(event.message(), Some("m"));
    }
}
