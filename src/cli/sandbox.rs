//! `sluice sandbox`: local stand-ins to debug pipelines against. `sluice sandbox kafka` runs a
//! mock Kafka cluster ([`crate::standin::kafka::MockKafka`]) and prints its bootstrap address.
//!
//! The kafka sandbox creates its topics, loads `--load` files into the first one, prints
//! `bootstrap_servers=...` as its first stdout line (for scripts and tests), then a summary and
//! a `kafka { ... }` input to paste into a pipeline config, and serves until SIGINT or SIGTERM.
//! The cluster lives in this process's memory: stopping it loses every message.
//!
//! Main items: [`SandboxArgs`] / [`SandboxCommand`] (the subcommands), [`KafkaSandboxArgs`]
//! (the kafka sandbox's flags), [`run`].

use std::io::{self, Write};
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};

use crate::standin::kafka::{check_topic_name, Format, MockKafka, DEFAULT_BROKERS, MAX_BROKERS};

#[derive(Debug, Args)]
pub struct SandboxArgs {
    #[command(subcommand)]
    pub source: SandboxCommand,
}

#[derive(Debug, Subcommand)]
pub enum SandboxCommand {
    /// Runs librdkafka's mock Kafka cluster until SIGINT/SIGTERM, printing its bootstrap address.
    Kafka(KafkaSandboxArgs),
}

const KAFKA_HELP: &str = "\
The first line on stdout is `bootstrap_servers=HOST:PORT,...`; then come the topics, the
messages loaded, and a kafka input to paste into a pipeline config. Logs go to stderr.

--format json: one object per line: \"value\" (string, required), \"key\", \"partition\",
\"timestamp\" (ms), \"headers\" (object of strings), \"topic\" (instead of the first topic; a
new one gets the first topic's partition count).
--format flume: each line becomes the body of an Avro AvroFlumeEvent as Flume's Kafka sink
writes it (useFlumeEventFormat), with the --header headers and a `timestamp` header (ms);
read it with `codec => flume {}`.

Example: sluice sandbox kafka --topic logs:4 --load sample.log";

/// `sluice sandbox kafka`.
#[derive(Debug, Args)]
#[command(after_help = KAFKA_HELP)]
pub struct KafkaSandboxArgs {
    /// Brokers in the cluster.
    #[arg(
        long,
        value_name = "N",
        default_value_t = DEFAULT_BROKERS,
        value_parser = clap::value_parser!(i32).range(1..=i64::from(MAX_BROKERS))
    )]
    pub brokers: i32,
    /// A topic to create, with its partition count (4 when not given). Repeatable; --load
    /// files go to the first [default: logs:4].
    #[arg(long = "topic", value_name = "NAME[:PARTITIONS]", value_parser = parse_topic)]
    pub topics: Vec<TopicSpec>,
    /// A file of messages to load into the first topic before serving. Repeatable.
    #[arg(long = "load", value_name = "FILE")]
    pub load: Vec<PathBuf>,
    /// How --load files become messages: a message per line, a JSON object per line, or a
    /// Flume event per line.
    #[arg(long, value_enum, default_value_t = FileFormat::Lines)]
    pub format: FileFormat,
    /// A header of every Flume event (with --format flume). Repeatable.
    #[arg(long = "header", value_name = "K=V", value_parser = parse_header)]
    pub headers: Vec<(String, String)>,
}

/// `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FileFormat {
    Lines,
    Json,
    Flume,
}

/// A `--topic NAME[:PARTITIONS]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicSpec {
    pub name: String,
    pub partitions: i32,
}

/// The topic when no `--topic` is given.
const DEFAULT_TOPIC: &str = "logs";
/// Partitions of a `--topic` that names none, and of the default topic.
const DEFAULT_PARTITIONS: i32 = 4;

fn parse_topic(text: &str) -> Result<TopicSpec, String> {
    let (name, partitions) = match text.rsplit_once(':') {
        Some((name, count)) => {
            let partitions = count
                .parse::<i32>()
                .ok()
                .filter(|p| *p >= 1)
                .ok_or_else(|| {
                    format!("partition count must be a positive number, not {count:?}")
                })?;
            (name, partitions)
        }
        None => (text, DEFAULT_PARTITIONS),
    };
    check_topic_name(name).map_err(|e| e.to_string())?;
    Ok(TopicSpec {
        name: name.to_string(),
        partitions,
    })
}

fn parse_header(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_string(), value.to_string())),
        _ => Err(format!("expected KEY=VALUE, got {text:?}")),
    }
}

/// The `--header` flags need `--format flume`.
#[derive(Debug, thiserror::Error)]
#[error("--header is only for --format flume")]
struct HeaderWithoutFlume;

/// Two `--topic` flags name the same topic.
#[derive(Debug, thiserror::Error)]
#[error("topic {0} is given twice")]
struct DuplicateTopic(String);

impl KafkaSandboxArgs {
    /// The topics to create: the `--topic` flags, or `logs:4`.
    fn topics(&self) -> Result<Vec<TopicSpec>, DuplicateTopic> {
        for (i, topic) in self.topics.iter().enumerate() {
            if self.topics[..i].iter().any(|t| t.name == topic.name) {
                return Err(DuplicateTopic(topic.name.clone()));
            }
        }
        if self.topics.is_empty() {
            return Ok(vec![TopicSpec {
                name: DEFAULT_TOPIC.to_string(),
                partitions: DEFAULT_PARTITIONS,
            }]);
        }
        Ok(self.topics.clone())
    }

    fn file_format(&self) -> Result<Format, HeaderWithoutFlume> {
        match self.format {
            FileFormat::Flume => Ok(Format::Flume {
                headers: self.headers.clone(),
            }),
            _ if !self.headers.is_empty() => Err(HeaderWithoutFlume),
            FileFormat::Lines => Ok(Format::Lines),
            FileFormat::Json => Ok(Format::Json),
        }
    }
}

pub fn run(args: SandboxArgs) -> anyhow::Result<()> {
    match args.source {
        SandboxCommand::Kafka(args) => run_kafka(&args),
    }
}

/// Sets the cluster up, prints where it is, and serves until SIGINT or SIGTERM.
fn run_kafka(args: &KafkaSandboxArgs) -> anyhow::Result<()> {
    let format = args.file_format()?;
    let topics = args.topics()?;
    let kafka = MockKafka::with_brokers(args.brokers)?;
    for topic in &topics {
        kafka.create_topic(&topic.name, topic.partitions)?;
    }
    let mut loaded = Vec::with_capacity(args.load.len());
    for path in &args.load {
        loaded.push(kafka.load_file(path, &format, &topics[0].name)?);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the signal handler")?;
    // Handlers are installed before the address is printed: a script that stops the sandbox
    // as soon as it read the address must get a clean exit.
    let stop = {
        let _runtime = runtime.enter();
        Stop::install().context("cannot install signal handlers")?
    };
    let summary = Summary {
        args,
        kafka: &kafka,
        topics: &topics,
        loaded: &loaded,
    };
    summary
        .print(&mut io::stdout().lock())
        .context("cannot write to stdout")?;
    runtime.block_on(stop.wait());
    Ok(())
}

/// SIGINT and SIGTERM, caught.
struct Stop {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

impl Stop {
    /// Needs a runtime context; the handlers are in place when this returns.
    fn install() -> io::Result<Stop> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Stop {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
        })
    }

    async fn wait(mut self) {
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
    }
}

/// What the sandbox prints once it is ready.
struct Summary<'a> {
    args: &'a KafkaSandboxArgs,
    kafka: &'a MockKafka,
    topics: &'a [TopicSpec],
    loaded: &'a [usize],
}

impl Summary<'_> {
    fn print(&self, out: &mut impl Write) -> io::Result<()> {
        let servers = self.kafka.bootstrap_servers();
        writeln!(out, "bootstrap_servers={servers}")?;
        writeln!(
            out,
            "Mock Kafka cluster of {} brokers; its messages live in memory until it stops.",
            self.args.brokers
        )?;
        let topics = self.all_topics();
        for (name, partitions) in &topics {
            writeln!(out, "topic {name}: {partitions} partitions")?;
        }
        for (path, count) in self.args.load.iter().zip(self.loaded) {
            let (path, first) = (path.display(), &self.topics[0].name);
            writeln!(out, "loaded {count} messages from {path} into {first}")?;
        }
        writeln!(out, "Input for a pipeline config:")?;
        writeln!(out, "  {}", self.snippet(&servers, &topics))?;
        writeln!(out, "Ctrl-C or SIGTERM stops it.")?;
        out.flush()
    }

    /// The `--topic` topics in order, then those JSON lines named, with partition counts.
    fn all_topics(&self) -> Vec<(String, i32)> {
        let mut topics: Vec<(String, i32)> = self
            .topics
            .iter()
            .map(|t| (t.name.clone(), t.partitions))
            .collect();
        for (name, partitions) in self.kafka.topics() {
            if !topics.iter().any(|(t, _)| *t == name) {
                topics.push((name, partitions));
            }
        }
        topics
    }

    /// A kafka input reading every topic from the start.
    fn snippet(&self, servers: &str, topics: &[(String, i32)]) -> String {
        let topics: Vec<String> = topics.iter().map(|(n, _)| format!("{n:?}")).collect();
        let codec = match self.args.format {
            FileFormat::Flume => " codec => flume {}",
            _ => "",
        };
        format!(
            "kafka {{ bootstrap_servers => \"{servers}\" topics => [{}] \
             auto_offset_reset => \"earliest\"{codec} }}",
            topics.join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_flags_take_an_optional_partition_count() {
        let spec = |name: &str, partitions| TopicSpec {
            name: name.to_string(),
            partitions,
        };
        assert_eq!(parse_topic("t:2"), Ok(spec("t", 2)));
        assert_eq!(parse_topic("logs"), Ok(spec("logs", 4)));
        for bad in ["t:0", "t:-1", "t:x", ":3", "a b:2"] {
            assert!(parse_topic(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn header_flags_are_key_equals_value() {
        assert_eq!(parse_header("a=b=c"), Ok(("a".into(), "b=c".into())));
        assert_eq!(parse_header("a="), Ok(("a".into(), String::new())));
        assert!(parse_header("=b").is_err());
        assert!(parse_header("ab").is_err());
    }
}
