//! `sluice kafka rewind`: moves a consumer group's committed offsets to a point in time, so the
//! group's workers replay a window of logs (after a bad filter release). Modelled on
//! `kafka-consumer-groups.sh --reset-offsets`: the same targets, dry run unless `--execute`.
//!
//! [`RewindArgs`] is the command line; [`run`] does the work:
//! 1. the partitions of the `--topic`s (limited by `--partitions`), with their watermarks;
//! 2. each partition's new offset (`plan::new_offsets`): its start, its end, or the first
//!    message at or after the time;
//! 3. the table `TOPIC PARTITION CURRENT NEW`; with `--execute`, the commit.
//!
//! Why verify offsets-for-times: the broker answers from its time index, which some brokers
//! get wrong (and librdkafka's mock cluster does not implement: it answers "the end" for any
//! time). The tool reads the message at the answered offset and the one before it and checks
//! their own timestamps; when they disagree it binary-searches the partition's offsets reading
//! single messages (`search`). stderr says which method each partition used.
//!
//! Why join the group to commit: a broker takes offset commits for a group with members only
//! from a member of the current generation, and a commit beside running workers would be
//! overwritten by their next commit anyway. So `--execute` subscribes as a member of the group
//! (`client::Member`) and commits only once the group assigned it every partition being
//! rewound, which proves no worker holds them. If that does not happen within `--timeout` (a
//! worker that died without leaving holds its partitions for `session.timeout.ms`), it refuses
//! and commits nothing. Closing the consumer then leaves the group.
//!
//! Reading is done by a consumer with the group's id that never subscribes (so never joins)
//! nor commits: librdkafka assigns partitions only to a consumer with a group id, and the
//! group's own id is the one the cluster's ACLs surely allow.
//!
//! Submodules: `when` (time and duration text), `plan` (the new offsets), `search`
//! (verification and binary search over a read closure), `client` (librdkafka: `Connection`,
//! `Member`).

mod client;
mod plan;
mod search;
mod when;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use chrono::{DateTime, SecondsFormat};
use clap::{ArgGroup, Args, Subcommand};
use rdkafka::config::ClientConfig;

use client::{Connection, Part};
use plan::{new_offsets, Target};

#[derive(Debug, Args)]
pub struct KafkaArgs {
    #[command(subcommand)]
    pub command: KafkaCommand,
}

#[derive(Debug, Subcommand)]
pub enum KafkaCommand {
    /// Moves a consumer group's offsets to the first message at or after a time.
    Rewind(RewindArgs),
}

/// `sluice kafka rewind --help`, after the flags.
const REWIND_HELP: &str = "\
Prints, per partition, the group's committed offset (CURRENT, `-` when it has none) and the
offset it would move to (NEW). Nothing changes without --execute.

To replay logs after a bad release:
  1. stop the group's workers (e.g. scale the Marathon app to 0 instances);
  2. sluice kafka rewind --bootstrap-servers kafka1:9092 --group logstash --topic logs \\
       --to-datetime 2026-11-21T10:00:00Z          # check the NEW column
  3. run the same command with --execute;
  4. start the workers: they consume again from NEW.

--execute joins the group to commit. It refuses (and commits nothing) while other members
hold the partitions. A worker that died without leaving the group holds them for its
session.timeout.ms: --timeout defaults to session.timeout.ms (as given with --kafka-property,
else librdkafka's 45s) plus 5s; give your workers' session timeout plus a margin if it differs.

Secured clusters: pass the same librdkafka settings the workers use, e.g.
  --kafka-property security.protocol=SASL_SSL --kafka-property sasl.mechanism=SCRAM-SHA-512 \\
  --kafka-property sasl.username=ops --kafka-property sasl.password=... \\
  --kafka-property ssl.ca.location=/etc/ssl/kafka-ca.pem

A time's offset is the first message whose timestamp is at or after it (the end when there is
none). The brokers' offsets-for-times answer is checked against the messages' own timestamps;
if they disagree, the partition is binary-searched (stderr says which partition used which).
Producer (CreateTime) timestamps need not grow with the offset: the search then finds a message
at or after the time whose previous message is before it.";

#[derive(Debug, Args)]
#[command(
    after_long_help = REWIND_HELP,
    group(ArgGroup::new("target").required(true).args(
        ["to_datetime", "by_duration", "to_earliest", "to_latest"]
    ))
)]
pub struct RewindArgs {
    /// Kafka brokers to start from: host:port[,host:port...].
    #[arg(long, value_name = "HOSTS")]
    pub bootstrap_servers: String,
    /// The consumer group to move (the kafka input's group_id).
    #[arg(long, value_name = "GROUP")]
    pub group: String,
    /// Topics to move the group's offsets of (repeat, or a comma list).
    #[arg(
        long = "topic",
        value_name = "TOPIC",
        required = true,
        value_delimiter = ','
    )]
    pub topics: Vec<String>,
    /// Only these partitions of each topic (comma list); all by default.
    #[arg(long, value_name = "N,N", value_delimiter = ',')]
    pub partitions: Vec<i32>,
    /// To the first message at or after this time: RFC 3339 (2026-11-21T10:00:00Z,
    /// 2026-11-21T11:00:00+01:00), or a local time without offset (2026-11-21T10:00:00), read in
    /// this machine's time zone (TZ).
    #[arg(long, value_name = "TIME", value_parser = when::parse_datetime)]
    pub to_datetime: Option<i64>,
    /// To the first message at or after now minus this long: 500ms, 30s, 15m, 2h, 1d, 1h30m,
    /// or ISO 8601 (PT2H).
    #[arg(long, value_name = "DURATION", value_parser = when::parse_duration)]
    pub by_duration: Option<Duration>,
    /// To each partition's first message still kept (replays everything).
    #[arg(long)]
    pub to_earliest: bool,
    /// To each partition's end (skips everything not yet consumed).
    #[arg(long)]
    pub to_latest: bool,
    /// Commit the new offsets; without it nothing changes (dry run).
    #[arg(long)]
    pub execute: bool,
    /// A librdkafka property for every client, e.g. security.protocol=SASL_SSL (repeat).
    #[arg(long = "kafka-property", value_name = "KEY=VALUE", value_parser = parse_property)]
    pub properties: Vec<(String, String)>,
    /// How long to wait for each answer of the brokers and for the group to hand the tool its
    /// partitions [default: session.timeout.ms (45s) + 5s].
    #[arg(long, value_name = "DURATION", value_parser = when::parse_duration)]
    pub timeout: Option<Duration>,
}

/// Properties the tool sets itself: overriding them would commit for the wrong group or
/// commit what the tool's consumer happened to fetch.
const RESERVED: &[&str] = &["group.id", "enable.auto.commit", "enable.auto.offset.store"];

/// `--kafka-property key=value`.
fn parse_property(text: &str) -> Result<(String, String), String> {
    let (key, value) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}` is not key=value"))?;
    let key = key.trim();
    if RESERVED.contains(&key) {
        return Err(format!(
            "`{key}` is set by the tool; use --group for the group"
        ));
    }
    Ok((key.to_string(), value.to_string()))
}

impl RewindArgs {
    fn target(&self) -> Target {
        match (self.to_datetime, self.by_duration) {
            (Some(millis), _) => Target::Time(millis),
            (None, Some(ago)) => Target::Time(now_millis() - ago.as_millis() as i64),
            _ if self.to_earliest => Target::Earliest,
            _ => Target::Latest,
        }
    }

    /// `--timeout`, or the session timeout the group's members get plus a margin.
    fn timeout(&self) -> anyhow::Result<Duration> {
        if let Some(timeout) = self.timeout {
            return Ok(timeout);
        }
        let session = self
            .properties
            .iter()
            .rev()
            .find(|(k, _)| k == "session.timeout.ms");
        let millis: u64 = match session {
            Some((_, value)) => value.parse().context("session.timeout.ms: not a number")?,
            None => 45_000,
        };
        Ok(Duration::from_millis(millis) + Duration::from_secs(5))
    }

    fn client_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", &self.bootstrap_servers);
        for (key, value) in &self.properties {
            config.set(key, value);
        }
        config
    }
}

fn now_millis() -> i64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    since.as_millis() as i64
}

/// A time for people: RFC 3339 in UTC, with milliseconds.
fn display_millis(millis: i64) -> String {
    match DateTime::from_timestamp_millis(millis) {
        Some(time) => time.to_rfc3339_opts(SecondsFormat::Millis, true),
        None => format!("{millis} ms"),
    }
}

pub fn run(args: KafkaArgs) -> anyhow::Result<()> {
    let KafkaCommand::Rewind(args) = args.command;
    rewind(&args)
}

fn rewind(args: &RewindArgs) -> anyhow::Result<()> {
    let target = args.target();
    if let Target::Time(millis) = target {
        eprintln!("target time: {}", display_millis(millis));
    }
    let connection = Connection::open(args.client_config(), &args.group, args.timeout()?)?;
    let parts = selected_parts(&connection, args)?;
    let new = new_offsets(&connection, &parts, target)?;
    if !args.execute {
        let current = connection.committed(&parts)?;
        print_table(&parts, &current, &new);
        println!("dry run: nothing committed; add --execute to commit");
        return Ok(());
    }
    let member = connection.join(&args.topics, &parts)?;
    let current = member.committed(&parts)?;
    print_table(&parts, &current, &new);
    member.commit(&parts, &new)?;
    drop(member);
    println!(
        "committed: group {} now starts {} partition(s) at NEW",
        args.group,
        parts.len()
    );
    Ok(())
}

/// The partitions to move: every partition of each topic, or those `--partitions` names.
fn selected_parts(connection: &Connection, args: &RewindArgs) -> anyhow::Result<Vec<Part>> {
    let mut parts = Vec::new();
    for topic in &args.topics {
        let all = connection.partitions(topic)?;
        for wanted in &args.partitions {
            anyhow::ensure!(
                all.contains(wanted),
                "topic `{topic}` has no partition {wanted} (it has 0..{})",
                all.len()
            );
        }
        let chosen = all
            .into_iter()
            .filter(|p| args.partitions.is_empty() || args.partitions.contains(p));
        parts.extend(chosen.map(|partition| Part {
            topic: topic.clone(),
            partition,
        }));
    }
    parts.sort();
    parts.dedup();
    Ok(parts)
}

/// `TOPIC PARTITION CURRENT NEW`, columns aligned.
fn print_table(parts: &[Part], current: &[Option<i64>], new: &[i64]) {
    let mut rows = vec![["TOPIC", "PARTITION", "CURRENT", "NEW"].map(String::from)];
    for ((part, current), new) in parts.iter().zip(current).zip(new) {
        let current = current.map_or_else(|| "-".to_string(), |c| c.to_string());
        rows.push([
            part.topic.clone(),
            part.partition.to_string(),
            current,
            new.to_string(),
        ]);
    }
    let widths: Vec<usize> = (0..4)
        .map(|c| rows.iter().map(|r| r[c].len()).max().unwrap_or(0))
        .collect();
    for row in &rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        println!("{}", cells.join("  ").trim_end());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_are_key_value_and_not_reserved() {
        let parsed = parse_property("security.protocol=SASL_SSL");
        assert_eq!(parsed, Ok(("security.protocol".into(), "SASL_SSL".into())));
        let parsed = parse_property("sasl.password=a=b");
        assert_eq!(parsed, Ok(("sasl.password".into(), "a=b".into())));
        assert!(parse_property("novalue").unwrap_err().contains("key=value"));
        assert!(parse_property("group.id=x")
            .unwrap_err()
            .contains("--group"));
    }

    #[test]
    fn display_millis_is_utc_rfc3339() {
        assert_eq!(
            display_millis(1_795_255_200_250),
            "2026-11-21T10:00:00.250Z"
        );
    }

    /// `sluice kafka rewind` with `args` after the required flags.
    fn parse(args: &[&str]) -> RewindArgs {
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            args: RewindArgs,
        }
        let required = ["rewind", "--bootstrap-servers", "k:9092", "--group", "g"];
        let all = required.iter().chain(args);
        <Cli as clap::Parser>::try_parse_from(all).unwrap().args
    }

    #[test]
    fn topics_and_partitions_take_lists_and_repeats() {
        let args = parse(&[
            "--topic",
            "a,b",
            "--topic",
            "c",
            "--partitions",
            "0,2",
            "--to-latest",
        ]);
        assert_eq!(args.topics, ["a", "b", "c"]);
        assert_eq!(args.partitions, [0, 2]);
    }

    #[test]
    fn targets() {
        let target = |extra: &[&str]| parse(&[&["--topic", "t"], extra].concat()).target();
        assert_eq!(target(&["--to-earliest"]), Target::Earliest);
        assert_eq!(target(&["--to-latest"]), Target::Latest);
        let time = target(&["--to-datetime", "2026-11-21T10:00:00.250Z"]);
        assert_eq!(time, Target::Time(1_795_255_200_250));
        let before = now_millis();
        let Target::Time(ago) = target(&["--by-duration", "2h"]) else {
            panic!("--by-duration is a time");
        };
        let after = now_millis();
        assert!((before - 7_200_000..=after - 7_200_000).contains(&ago));
    }

    #[test]
    fn timeout_defaults_to_the_session_timeout_and_a_margin() {
        let timeout = |extra: &[&str]| {
            let args = parse(&[&["--topic", "t", "--to-latest"], extra].concat());
            args.timeout().map_err(|e| e.to_string())
        };
        assert_eq!(timeout(&[]), Ok(Duration::from_secs(50)));
        let session = ["--kafka-property", "session.timeout.ms=6000"];
        assert_eq!(timeout(&session), Ok(Duration::from_secs(11)));
        let explicit = [
            "--timeout",
            "2m",
            "--kafka-property",
            "session.timeout.ms=6000",
        ];
        assert_eq!(timeout(&explicit), Ok(Duration::from_secs(120)));
        let bad = timeout(&["--kafka-property", "session.timeout.ms=soon"]);
        assert!(bad.unwrap_err().contains("session.timeout.ms"));
    }
}
