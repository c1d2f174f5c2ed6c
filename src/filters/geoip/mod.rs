//! The `geoip` filter: looks an IP address up in a MaxMind database and adds what it knows.
//!
//! The database is the file named by `database` (City, Country, ASN, ISP, Domain, Enterprise
//! or Anonymous-IP, recognised by its metadata as Logstash does); sluice bundles none, so the
//! option is required. The file is read once at build time and shared by every worker without
//! locks.
//!
//! Fields are Logstash's: legacy names under `target` (default `geoip`) when
//! `ecs_compatibility` is disabled (`city_name`, `country_code2`, `location`, `asn`...), ECS
//! names otherwise (`[geo][city_name]`, `[geo][country_iso_code]`, `[as][number]`...) under a
//! target that defaults to the source's parent (`[client][ip]` gives `[client]`). `fields`
//! picks a subset by Logstash's field names (`city_name`, `autonomous_system_number`...).
//!
//! A missing or blank source, an unparsable address, an address the database does not know,
//! or a City record without a location tags the event with `tag_on_failure`
//! (`_geoip_lookup_failure`); as in Logstash the target is then created empty when absent,
//! except when the source itself was missing or blank. Hostnames are not resolved.
//!
//! [`GeoipOptions`] is the config; [`Geoip`] the built filter; [`GeoField`] the fields
//! (`fields.rs`); `record.rs` reads MaxMind records.

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::Deserialize;

use crate::config::options::{EcsCompatibility, OneOrMany};
use crate::config::{Diagnostics, PluginArgs};
use crate::event::{Event, FieldPath, Map, Text, Value};

use super::Filter;
use fields::FIELD_NAMES;
pub use fields::{DatabaseKind, GeoField};
use record::{field_value, java_host_address, Record};

mod fields;
mod record;

/// The options of `geoip`, as written in the config.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeoipOptions {
    /// The field holding the IP address (an array: its first element).
    pub source: String,
    #[serde(default)]
    pub target: Option<String>,
    /// Path of the MaxMind database file.
    #[serde(default)]
    pub database: Option<String>,
    /// Which bundled database Logstash would use without `database`; informational here.
    #[serde(default)]
    pub default_database_type: DefaultDatabaseType,
    #[serde(default)]
    pub fields: Option<OneOrMany<String>>,
    /// Accepted for compatibility: lookups read the in-memory database directly.
    #[serde(default)]
    pub cache_size: Option<i64>,
    #[serde(default = "default_tag_on_failure")]
    pub tag_on_failure: OneOrMany<String>,
    #[serde(default)]
    pub ecs_compatibility: Option<EcsCompatibility>,
}

fn default_tag_on_failure() -> Vec<String> {
    vec!["_geoip_lookup_failure".to_string()]
}

#[derive(Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DefaultDatabaseType {
    #[default]
    City,
    #[serde(rename = "ASN")]
    Asn,
}

/// The built filter.
pub struct Geoip {
    source: FieldPath,
    target: FieldPath,
    reader: maxminddb::Reader<Vec<u8>>,
    kind: DatabaseKind,
    /// The fields to set and where, in Logstash's order.
    outputs: Vec<(GeoField, FieldPath)>,
    tags: Vec<Text>,
    warned: AtomicBool,
}

pub fn build(args: &PluginArgs) -> Result<Box<dyn Filter>, Diagnostics> {
    let options: GeoipOptions = args.options()?;
    let ecs = options
        .ecs_compatibility
        .unwrap_or_else(|| args.ecs_compatibility())
        .is_ecs();
    let source = FieldPath::parse(&options.source)
        .map_err(|e| args.error("source", format!("geoip: source: {e}")))?;
    let target = target(args, &options, ecs)?;
    let (reader, kind) = open_database(args, &options)?;
    let fields = match &options.fields {
        Some(names) if !names.is_empty() => parse_fields(args, names)?,
        _ => kind.default_fields(ecs),
    };
    let outputs = outputs(args, &target, fields, ecs)?;
    Ok(Box::new(Geoip {
        source,
        target,
        reader,
        kind,
        outputs,
        tags: options
            .tag_on_failure
            .iter()
            .map(|t| Text::new(t))
            .collect(),
        warned: AtomicBool::new(false),
    }))
}

/// `target`, or `geoip` (legacy), or in ECS mode the parent of a source ending in `[ip]`.
fn target(args: &PluginArgs, options: &GeoipOptions, ecs: bool) -> Result<FieldPath, Diagnostics> {
    let name = match (&options.target, ecs) {
        (Some(target), _) => target.clone(),
        (None, false) => "geoip".to_string(),
        (None, true) => match options.source.strip_suffix("[ip]") {
            Some(parent) if !parent.is_empty() => parent.to_string(),
            _ => {
                return Err(args.error(
                    "source",
                    "geoip: in ECS compatibility mode, a `target` is required when `source` is not an `ip` sub-field, e.g. [client][ip]",
                ))
            }
        },
    };
    FieldPath::parse(&name).map_err(|e| args.error("target", format!("geoip: target: {e}")))
}

fn open_database(
    args: &PluginArgs,
    options: &GeoipOptions,
) -> Result<(maxminddb::Reader<Vec<u8>>, DatabaseKind), Diagnostics> {
    let Some(path) = &options.database else {
        return Err(args.error(
            "database",
            format!(
                "geoip: `database` is required: sluice bundles no GeoLite2 database (default_database_type => {:?}); give the path of a MaxMind .mmdb file",
                options.default_database_type
            ),
        ));
    };
    let reader = maxminddb::Reader::open_readfile(path).map_err(|e| {
        args.error(
            "database",
            format!("geoip: cannot open the database {path}: {e}"),
        )
    })?;
    let database_type = reader.metadata().database_type.clone();
    let kind = DatabaseKind::of(&database_type).ok_or_else(|| {
        args.error(
            "database",
            format!("geoip: the database type `{database_type}` of {path} is not supported (City, Country, ASN, ISP, Domain, Enterprise and Anonymous-IP are)"),
        )
    })?;
    Ok((reader, kind))
}

fn parse_fields(args: &PluginArgs, names: &[String]) -> Result<Vec<GeoField>, Diagnostics> {
    names
        .iter()
        .map(|name| {
            GeoField::parse(name).ok_or_else(|| {
                let valid: Vec<&str> = FIELD_NAMES.iter().map(|(_, n, _, _)| *n).collect();
                args.error(
                    "fields",
                    format!(
                        "geoip: illegal field value {name}; valid values are {}",
                        valid.join(", ")
                    ),
                )
            })
        })
        .collect()
}

/// Where each field goes: `[target]` plus its legacy or ECS path; fields without an ECS name
/// are dropped in ECS mode.
fn outputs(
    args: &PluginArgs,
    target: &FieldPath,
    mut fields: Vec<GeoField>,
    ecs: bool,
) -> Result<Vec<(GeoField, FieldPath)>, Diagnostics> {
    fields.sort();
    fields.dedup();
    let mut prefix = String::new();
    if target.is_metadata() {
        prefix.push_str("[@metadata]");
    }
    for segment in target.segments() {
        prefix.push('[');
        prefix.push_str(segment);
        prefix.push(']');
    }
    let mut out = Vec::with_capacity(fields.len());
    for field in fields {
        let (legacy, ecs_path) = field.names();
        let sub = if ecs {
            ecs_path.to_string()
        } else {
            format!("[{legacy}]")
        };
        if sub.is_empty() {
            continue;
        }
        let path = FieldPath::parse(&format!("{prefix}{sub}"))
            .map_err(|e| args.error("target", format!("geoip: target: {e}")))?;
        out.push((field, path));
    }
    Ok(out)
}

/// Why a lookup found nothing to add.
#[derive(Debug, thiserror::Error)]
enum LookupError {
    #[error("`{0}` is not an IP address")]
    NotAnAddress(String),
    #[error("{0} is not in the database")]
    NotFound(IpAddr),
    #[error("the database record for {0} has no location")]
    NoLocation(IpAddr),
    #[error("error from the GeoIP database for {0}: {1}")]
    Database(IpAddr, maxminddb::MaxMindDbError),
}

impl Filter for Geoip {
    fn apply(&self, event: &mut Event) -> bool {
        let ip = match event.get(&self.source) {
            Some(Value::Str(s)) => s.clone(),
            Some(Value::Array(items)) => match items.first() {
                Some(Value::Str(s)) => s.clone(),
                _ => return self.fail(event, false),
            },
            _ => return self.fail(event, false),
        };
        if ip.trim().is_empty() {
            return self.fail(event, false);
        }
        match self.lookup(&ip) {
            Ok(values) => {
                if !event.contains(&self.target) {
                    event.insert(&self.target, Value::Map(Map::new()));
                }
                for (path, value) in values {
                    event.insert(path, value);
                }
                true
            }
            Err(error) => {
                self.report(&error);
                self.fail(event, true)
            }
        }
    }
}

impl Geoip {
    /// The values to set, in order; an error when there are none.
    fn lookup(&self, text: &str) -> Result<Vec<(&FieldPath, Value)>, LookupError> {
        let ip = parse_ip(text).ok_or_else(|| LookupError::NotAnAddress(text.to_string()))?;
        let result = self
            .reader
            .lookup(ip)
            .map_err(|e| LookupError::Database(ip, e))?;
        let record: Record = result
            .decode()
            .map_err(|e| LookupError::Database(ip, e))?
            .ok_or(LookupError::NotFound(ip))?;
        if self.kind == DatabaseKind::City && !record.has_location() {
            return Err(LookupError::NoLocation(ip));
        }
        let network = || {
            result
                .network()
                .ok()
                .map(|n| format!("{}/{}", java_host_address(n.ip()), n.prefix()))
        };
        let mut values = Vec::with_capacity(self.outputs.len());
        for (field, path) in &self.outputs {
            if let Some(value) = field_value(self.kind, *field, &record, ip, &network) {
                values.push((path, value));
            }
        }
        if values.is_empty() {
            return Err(LookupError::NotFound(ip));
        }
        Ok(values)
    }

    /// Tags the event; after a lookup (`looked_up`), creates the target as an empty hash when
    /// absent, as Logstash does.
    fn fail(&self, event: &mut Event, looked_up: bool) -> bool {
        if looked_up && !event.contains(&self.target) {
            event.insert(&self.target, Value::Map(Map::new()));
        }
        for tag in &self.tags {
            event.add_tag(tag.clone());
        }
        false
    }

    #[cold]
    fn report(&self, error: &LookupError) {
        match error {
            // Expected in normal traffic (private addresses, junk): debug only.
            LookupError::NotAnAddress(_)
            | LookupError::NotFound(_)
            | LookupError::NoLocation(_) => {
                tracing::debug!(%error, "geoip lookup failed");
            }
            LookupError::Database(..) => {
                if self.warned.swap(true, Ordering::Relaxed) {
                    tracing::debug!(%error, "geoip lookup failed");
                } else {
                    tracing::warn!(%error, "geoip lookup failed; the event is tagged (later errors are logged at debug level)");
                }
            }
        }
    }
}

/// An IP literal, optionally in brackets; an IPv4-mapped IPv6 address is its IPv4 address,
/// as Java's `InetAddress` makes it.
fn parse_ip(text: &str) -> Option<IpAddr> {
    let bare = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(text);
    match bare.parse::<IpAddr>().ok()? {
        IpAddr::V6(v6) => Some(v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4)),
        v4 => Some(v4),
    }
}
