//! What the `geoip` filter reads from a MaxMind record: [`Record`], one shape for every
//! database kind, and [`field_value`], which picks a field's value from it as Logstash does
//! for that kind of database.

use std::net::{IpAddr, Ipv6Addr};

use serde::Deserialize;

use crate::event::{Map, Text, Value};

use super::fields::{DatabaseKind, GeoField};

/// What a MaxMind record may hold, for every database kind (absent parts stay empty).
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct Record<'a> {
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
    autonomous_system_number: Option<Uint>,
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
    /// True when the record has a latitude or a longitude.
    pub(super) fn has_location(&self) -> bool {
        self.location.latitude.is_some() || self.location.longitude.is_some()
    }

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
    metro_code: Option<Uint>,
    #[serde(borrow)]
    time_zone: Option<&'a str>,
}

/// AS, ISP, domain and anonymity data: at the top of ASN/ISP/Domain/Anonymous-IP records, in
/// `traits` for Enterprise ones.
#[derive(Deserialize, Default, Clone, Copy)]
#[serde(default)]
struct Traits<'a> {
    autonomous_system_number: Option<Uint>,
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

/// An unsigned integer of any MaxMind width: the format's decoder will not widen a `uint16`
/// into a `u32`, and databases differ in the widths they use.
#[derive(Clone, Copy, Debug)]
struct Uint(i64);

impl Uint {
    fn value(self) -> Value {
        Value::Int(self.0)
    }
}

impl<'de> Deserialize<'de> for Uint {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Uint, D::Error> {
        struct UintVisitor;
        impl serde::de::Visitor<'_> for UintVisitor {
            type Value = Uint;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an integer")
            }
            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<Uint, E> {
                i64::try_from(n).map(Uint).map_err(E::custom)
            }
            fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<Uint, E> {
                Ok(Uint(n))
            }
            fn visit_u128<E: serde::de::Error>(self, n: u128) -> Result<Uint, E> {
                i64::try_from(n).map(Uint).map_err(E::custom)
            }
        }
        deserializer.deserialize_any(UintVisitor)
    }
}

/// One field's value from `record`, when a database of `kind` provides it.
pub(super) fn field_value(
    kind: DatabaseKind,
    field: GeoField,
    record: &Record,
    ip: IpAddr,
    network: &dyn Fn() -> Option<String>,
) -> Option<Value> {
    use DatabaseKind as K;
    use GeoField::*;
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
        DmaCode if kind == K::City => record.location.metro_code.map(Uint::value),
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
        AutonomousSystemNumber if matches!(kind, K::Asn | K::Isp | K::Enterprise) => {
            traits.autonomous_system_number.map(Uint::value)
        }
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

/// Java's `getHostAddress`: dotted IPv4, or all eight IPv6 groups in lower-case hex without
/// leading zeros or `::` compression.
pub(super) fn java_host_address(ip: IpAddr) -> String {
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
