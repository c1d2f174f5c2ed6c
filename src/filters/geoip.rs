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
//! [`GeoipOptions`] is the config; [`Geoip`] the built filter; [`GeoField`] the fields.

use std::net::{IpAddr, Ipv6Addr};
use std::sync::atomic::{AtomicBool, Ordering};

use serde::Deserialize;

use crate::config::options::{EcsCompatibility, OneOrMany};
use crate::config::{Diagnostics, PluginArgs};
use crate::event::{Event, FieldPath, Map, Text, Value};

use super::Filter;

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

/// The database kinds, from the metadata's `database_type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DatabaseKind {
    City,
    Country,
    Domain,
    Asn,
    Isp,
    Enterprise,
    AnonymousIp,
}

impl DatabaseKind {
    /// Logstash's recognition: the first of these names the type contains.
    pub fn of(database_type: &str) -> Option<DatabaseKind> {
        [
            ("City", DatabaseKind::City),
            ("Country", DatabaseKind::Country),
            ("GeoIP2-Domain", DatabaseKind::Domain),
            ("GeoLite2-ASN", DatabaseKind::Asn),
            ("GeoIP2-ISP", DatabaseKind::Isp),
            ("Enterprise", DatabaseKind::Enterprise),
            ("GeoIP2-Anonymous-IP", DatabaseKind::AnonymousIp),
        ]
        .into_iter()
        .find(|(name, _)| database_type.contains(name))
        .map(|(_, kind)| kind)
    }

    /// The fields set when `fields` is not given.
    fn default_fields(self, ecs: bool) -> Vec<GeoField> {
        use GeoField::*;
        match self {
            DatabaseKind::City => {
                // Legacy mode has `region_code` where ECS has `region_iso_code`.
                let region = if ecs { RegionIsoCode } else { RegionCode };
                vec![
                    Ip,
                    CityName,
                    ContinentCode,
                    CountryName,
                    CountryCode2,
                    CountryCode3,
                    PostalCode,
                    DmaCode,
                    RegionName,
                    region,
                    Timezone,
                    Location,
                    Latitude,
                    Longitude,
                ]
            }
            DatabaseKind::Country => vec![Ip, CountryCode2, CountryName, ContinentName],
            DatabaseKind::Domain => vec![Domain],
            DatabaseKind::Asn => vec![Ip, AutonomousSystemNumber, AutonomousSystemOrganization],
            DatabaseKind::Isp => vec![
                Ip,
                AutonomousSystemNumber,
                AutonomousSystemOrganization,
                Isp,
                Organization,
            ],
            DatabaseKind::AnonymousIp => vec![
                HostingProvider,
                TorExitNode,
                AnonymousVpn,
                Anonymous,
                PublicProxy,
                ResidentialProxy,
            ],
            DatabaseKind::Enterprise => vec![
                Ip,
                CountryCode2,
                CountryName,
                ContinentName,
                RegionIsoCode,
                RegionName,
                CityName,
                Location,
            ],
        }
    }
}

/// The fields the filter can add, in the order Logstash writes them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum GeoField {
    AutonomousSystemNumber,
    AutonomousSystemOrganization,
    CityName,
    CountryName,
    ContinentCode,
    ContinentName,
    CountryCode2,
    CountryCode3,
    Domain,
    Ip,
    Isp,
    PostalCode,
    DmaCode,
    RegionName,
    RegionCode,
    RegionIsoCode,
    Timezone,
    Location,
    Latitude,
    Longitude,
    Organization,
    Network,
    HostingProvider,
    TorExitNode,
    AnonymousVpn,
    Anonymous,
    PublicProxy,
    ResidentialProxy,
}

/// Each field's name in `fields`, its legacy name, and its ECS path (empty: not in ECS).
const FIELD_NAMES: [(GeoField, &str, &str, &str); 28] = {
    use GeoField::*;
    [
        (
            AutonomousSystemNumber,
            "autonomous_system_number",
            "asn",
            "[as][number]",
        ),
        (
            AutonomousSystemOrganization,
            "autonomous_system_organization",
            "as_org",
            "[as][organization][name]",
        ),
        (CityName, "city_name", "city_name", "[geo][city_name]"),
        (
            CountryName,
            "country_name",
            "country_name",
            "[geo][country_name]",
        ),
        (
            ContinentCode,
            "continent_code",
            "continent_code",
            "[geo][continent_code]",
        ),
        (
            ContinentName,
            "continent_name",
            "continent_name",
            "[geo][continent_name]",
        ),
        (
            CountryCode2,
            "country_code2",
            "country_code2",
            "[geo][country_iso_code]",
        ),
        (CountryCode3, "country_code3", "country_code3", ""),
        (Domain, "domain", "domain", "[domain]"),
        (Ip, "ip", "ip", "[ip]"),
        (Isp, "isp", "isp", "[mmdb][isp]"),
        (
            PostalCode,
            "postal_code",
            "postal_code",
            "[geo][postal_code]",
        ),
        (DmaCode, "dma_code", "dma_code", "[mmdb][dma_code]"),
        (
            RegionName,
            "region_name",
            "region_name",
            "[geo][region_name]",
        ),
        (
            RegionCode,
            "region_code",
            "region_code",
            "[geo][region_code]",
        ),
        (
            RegionIsoCode,
            "region_iso_code",
            "region_iso_code",
            "[geo][region_iso_code]",
        ),
        (Timezone, "timezone", "timezone", "[geo][timezone]"),
        (Location, "location", "location", "[geo][location]"),
        (Latitude, "latitude", "latitude", "[geo][location][lat]"),
        (Longitude, "longitude", "longitude", "[geo][location][lon]"),
        (
            Organization,
            "organization",
            "organization",
            "[mmdb][organization]",
        ),
        (Network, "network", "network", "[ip_traits][network]"),
        (
            HostingProvider,
            "hosting_provider",
            "hosting_provider",
            "[ip_traits][hosting_provider]",
        ),
        (
            TorExitNode,
            "tor_exit_node",
            "tor_exit_node",
            "[ip_traits][tor_exit_node]",
        ),
        (
            AnonymousVpn,
            "anonymous_vpn",
            "anonymous_vpn",
            "[ip_traits][anonymous_vpn]",
        ),
        (
            Anonymous,
            "anonymous",
            "anonymous",
            "[ip_traits][anonymous]",
        ),
        (
            PublicProxy,
            "public_proxy",
            "public_proxy",
            "[ip_traits][public_proxy]",
        ),
        (
            ResidentialProxy,
            "residential_proxy",
            "residential_proxy",
            "[ip_traits][residential_proxy]",
        ),
    ]
};

impl GeoField {
    /// Parses a name in `fields`, ignoring case as Logstash does.
    pub fn parse(name: &str) -> Option<GeoField> {
        FIELD_NAMES
            .iter()
            .find(|(_, option, _, _)| option.eq_ignore_ascii_case(name))
            .map(|(field, ..)| *field)
    }

    fn names(self) -> (&'static str, &'static str) {
        FIELD_NAMES
            .iter()
            .find(|(field, ..)| *field == self)
            .map(|(_, _, legacy, ecs)| (*legacy, *ecs))
            .unwrap_or(("", ""))
    }
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

/// What a MaxMind record may hold, for every database kind (absent parts stay empty).
#[derive(Deserialize, Default)]
#[serde(default)]
struct Record<'a> {
    #[serde(borrow)]
    city: Named<'a>,
    #[serde(borrow)]
    continent: Coded<'a>,
    #[serde(borrow)]
    country: Coded<'a>,
    #[serde(borrow)]
    location: Location<'a>,
    #[serde(borrow)]
    postal: Coded<'a>,
    #[serde(borrow)]
    subdivisions: Vec<Coded<'a>>,
    #[serde(borrow)]
    traits: Traits<'a>,
    // The same data at the top level, where ASN/ISP/Domain/Anonymous-IP records keep it.
    autonomous_system_number: Option<u32>,
    #[serde(borrow)]
    autonomous_system_organization: Option<&'a str>,
    #[serde(borrow)]
    isp: Option<&'a str>,
    #[serde(borrow)]
    organization: Option<&'a str>,
    #[serde(borrow)]
    domain: Option<&'a str>,
    is_anonymous: Option<bool>,
    is_anonymous_vpn: Option<bool>,
    is_hosting_provider: Option<bool>,
    is_public_proxy: Option<bool>,
    is_residential_proxy: Option<bool>,
    is_tor_exit_node: Option<bool>,
}

impl<'a> Record<'a> {
    /// The top-level AS, ISP, domain and anonymity data.
    fn top(&self) -> Traits<'a> {
        Traits {
            autonomous_system_number: self.autonomous_system_number,
            autonomous_system_organization: self.autonomous_system_organization,
            isp: self.isp,
            organization: self.organization,
            domain: self.domain,
            is_anonymous: self.is_anonymous,
            is_anonymous_vpn: self.is_anonymous_vpn,
            is_hosting_provider: self.is_hosting_provider,
            is_public_proxy: self.is_public_proxy,
            is_residential_proxy: self.is_residential_proxy,
            is_tor_exit_node: self.is_tor_exit_node,
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Names<'a> {
    #[serde(borrow)]
    en: Option<&'a str>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Named<'a> {
    #[serde(borrow)]
    names: Names<'a>,
}

/// A continent, country, subdivision or postal record: a code and names.
#[derive(Deserialize, Default)]
#[serde(default)]
struct Coded<'a> {
    #[serde(borrow)]
    code: Option<&'a str>,
    #[serde(borrow)]
    iso_code: Option<&'a str>,
    #[serde(borrow)]
    names: Names<'a>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Location<'a> {
    latitude: Option<f64>,
    longitude: Option<f64>,
    metro_code: Option<u32>,
    #[serde(borrow)]
    time_zone: Option<&'a str>,
}

/// AS, ISP, domain and anonymity data: at the top of ASN/ISP/Domain/Anonymous-IP records, in
/// `traits` for Enterprise ones.
#[derive(Deserialize, Default, Clone, Copy)]
#[serde(default)]
struct Traits<'a> {
    autonomous_system_number: Option<u32>,
    #[serde(borrow)]
    autonomous_system_organization: Option<&'a str>,
    #[serde(borrow)]
    isp: Option<&'a str>,
    #[serde(borrow)]
    organization: Option<&'a str>,
    #[serde(borrow)]
    domain: Option<&'a str>,
    is_anonymous: Option<bool>,
    is_anonymous_vpn: Option<bool>,
    is_hosting_provider: Option<bool>,
    is_public_proxy: Option<bool>,
    is_residential_proxy: Option<bool>,
    is_tor_exit_node: Option<bool>,
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
        if self.kind == DatabaseKind::City
            && record.location.latitude.is_none()
            && record.location.longitude.is_none()
        {
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
            if let Some(value) = self.value(*field, &record, ip, &network) {
                values.push((path, value));
            }
        }
        if values.is_empty() {
            return Err(LookupError::NotFound(ip));
        }
        Ok(values)
    }

    /// One field's value from `record`, when this kind of database provides it.
    fn value(
        &self,
        field: GeoField,
        record: &Record,
        ip: IpAddr,
        network: &dyn Fn() -> Option<String>,
    ) -> Option<Value> {
        use DatabaseKind as K;
        use GeoField::*;
        let kind = self.kind;
        let text = |s: Option<&str>| s.map(|s| Value::Str(Text::new(s)));
        let geo = matches!(kind, K::City | K::Enterprise);
        let subdivision = record.subdivisions.last();
        // Enterprise keeps AS data and anonymity flags in `traits`.
        let traits = if kind == K::Enterprise {
            record.traits
        } else {
            record.top()
        };
        let flag = |b: Option<bool>| {
            matches!(kind, K::Enterprise | K::AnonymousIp).then(|| Value::Bool(b.unwrap_or(false)))
        };
        match field {
            Ip if kind != K::Domain => Some(Value::Str(Text::from_string(java_host_address(ip)))),
            CityName if geo => text(record.city.names.en),
            ContinentCode if kind == K::City => text(record.continent.code),
            ContinentName if geo || kind == K::Country => text(record.continent.names.en),
            CountryName if geo || kind == K::Country => text(record.country.names.en),
            CountryCode2 if geo || kind == K::Country => text(record.country.iso_code),
            CountryCode3 if kind == K::City => text(record.country.iso_code),
            PostalCode if kind == K::City => text(record.postal.code),
            DmaCode if kind == K::City => {
                record.location.metro_code.map(|n| Value::Int(i64::from(n)))
            }
            RegionName if geo => text(subdivision.and_then(|s| s.names.en)),
            RegionCode if kind == K::City => text(subdivision.and_then(|s| s.iso_code)),
            RegionIsoCode if geo => match (
                record.country.iso_code,
                subdivision.and_then(|s| s.iso_code),
            ) {
                (Some(country), Some(region)) => {
                    Some(Value::Str(Text::from_string(format!("{country}-{region}"))))
                }
                _ => None,
            },
            Timezone if kind == K::City => text(record.location.time_zone),
            Location if geo => match (record.location.latitude, record.location.longitude) {
                (Some(lat), Some(lon)) => {
                    let mut map = Map::with_capacity(2);
                    map.insert(Text::from_static("lat"), Value::Float(lat));
                    map.insert(Text::from_static("lon"), Value::Float(lon));
                    Some(Value::Map(map))
                }
                _ => None,
            },
            Latitude if kind == K::City => record.location.latitude.map(Value::Float),
            Longitude if kind == K::City => record.location.longitude.map(Value::Float),
            AutonomousSystemNumber if matches!(kind, K::Asn | K::Isp | K::Enterprise) => traits
                .autonomous_system_number
                .map(|n| Value::Int(i64::from(n))),
            AutonomousSystemOrganization if matches!(kind, K::Asn | K::Isp | K::Enterprise) => {
                text(traits.autonomous_system_organization)
            }
            Network if matches!(kind, K::Asn | K::Enterprise) => {
                network().map(|n| Value::Str(Text::from_string(n)))
            }
            Isp if kind == K::Isp => text(record.isp),
            Organization if kind == K::Isp => text(record.organization),
            // Logstash sets the domain even when the record has none.
            Domain if kind == K::Domain => Some(text(record.domain).unwrap_or(Value::Null)),
            HostingProvider => flag(traits.is_hosting_provider),
            TorExitNode => flag(traits.is_tor_exit_node),
            AnonymousVpn => flag(traits.is_anonymous_vpn),
            Anonymous => flag(traits.is_anonymous),
            PublicProxy => flag(traits.is_public_proxy),
            ResidentialProxy => flag(traits.is_residential_proxy),
            _ => None,
        }
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

/// Java's `getHostAddress`: dotted IPv4, or all eight IPv6 groups in lower-case hex without
/// leading zeros or `::` compression.
fn java_host_address(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => java_ipv6(v6),
    }
}

fn java_ipv6(v6: Ipv6Addr) -> String {
    let mut out = String::with_capacity(39);
    for (i, group) in v6.segments().iter().enumerate() {
        if i > 0 {
            out.push(':');
        }
        out.push_str(&format!("{group:x}"));
    }
    out
}
