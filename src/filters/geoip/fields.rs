//! The database kinds the `geoip` filter knows ([`DatabaseKind`]) and the fields it can add
//! ([`GeoField`]), with their legacy and ECS names.

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
    pub(super) fn default_fields(self, ecs: bool) -> Vec<GeoField> {
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
pub(super) const FIELD_NAMES: [(GeoField, &str, &str, &str); 28] = {
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

    pub(super) fn names(self) -> (&'static str, &'static str) {
        FIELD_NAMES
            .iter()
            .find(|(field, ..)| *field == self)
            .map(|(_, _, legacy, ecs)| (*legacy, *ecs))
            .unwrap_or(("", ""))
    }
}
