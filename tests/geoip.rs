//! Behaviour of the `geoip` filter against small MaxMind databases written by an independent
//! writer: `tests/support/make_mmdb.py` (Python's `mmdb-writer`, installed by
//! `scripts/install-deps.sh`) runs once per test run into a temporary folder.

mod common;

use common::{filter_build_error as build_error, get, graph, json, tags};

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use sluice::event::{Event, Timestamp, Value};

/// The folder holding the test databases, written on first use.
fn databases() -> &'static PathBuf {
    static DIR: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    &DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/make_mmdb.py");
        let out = Command::new("python3")
            .arg(script)
            .arg(dir.path())
            .output()
            .expect("python3 runs (scripts/install-deps.sh installs it)");
        assert!(
            out.status.success(),
            "make_mmdb.py failed (run scripts/install-deps.sh for mmdb-writer):\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let path = dir.path().to_path_buf();
        (dir, path)
    })
    .1
}

fn db(name: &str) -> String {
    databases()
        .join(format!("{name}.mmdb"))
        .to_str()
        .unwrap()
        .to_string()
}

fn event(fields: &str) -> Event {
    match json(fields) {
        Value::Map(map) => Event::from_fields(map, Timestamp::from_secs(0)),
        other => panic!("not an object: {other:?}"),
    }
}

/// Runs one event through `filters`; it must survive.
fn run(filters: &str, fields: &str) -> Event {
    let mut batch = vec![event(fields)];
    graph(filters).process(&mut batch);
    assert_eq!(batch.len(), 1, "the event was dropped");
    batch.pop().unwrap()
}

/// Asserts that `path` holds exactly the JSON `want` (`None`: absent).
#[track_caller]
fn expect(e: &Event, path: &str, want: Option<&str>) {
    assert_eq!(get(e, path), want.map(json).as_ref(), "field {path}");
}

fn geoip(options: &str) -> String {
    format!("geoip {{ {options} }}")
}

// ---- City ----------------------------------------------------------------------------------

#[test]
fn city_legacy_fields() {
    let e = run(
        &geoip(&format!(
            r#"source => "ip" database => "{}" ecs_compatibility => disabled"#,
            db("city")
        )),
        r#"{"ip": "1.2.3.4"}"#,
    );
    expect(
        &e,
        "geoip",
        Some(
            r#"{"city_name": "Stockholm", "country_name": "Sweden", "continent_code": "EU",
                "country_code2": "SE", "country_code3": "SE", "ip": "1.2.3.4",
                "postal_code": "100 05", "dma_code": 819, "region_name": "Stockholm County",
                "region_code": "AB", "timezone": "Europe/Stockholm",
                "location": {"lat": 59.3294, "lon": 18.0686},
                "latitude": 59.3294, "longitude": 18.0686}"#,
        ),
    );
    assert!(tags(&e).is_empty());
}

#[test]
fn city_ecs_fields_go_under_the_sources_parent() {
    for ecs in ["v1", "v8"] {
        let e = run(
            &geoip(&format!(
                r#"source => "[source][ip]" database => "{}" ecs_compatibility => {ecs}"#,
                db("city")
            )),
            r#"{"source": {"ip": "1.2.3.4"}}"#,
        );
        expect(
            &e,
            "source",
            Some(
                r#"{"ip": "1.2.3.4", "geo": {"city_name": "Stockholm", "country_name": "Sweden",
                    "continent_code": "EU", "country_iso_code": "SE", "postal_code": "100 05",
                    "region_name": "Stockholm County", "region_iso_code": "SE-AB",
                    "timezone": "Europe/Stockholm",
                    "location": {"lat": 59.3294, "lon": 18.0686}},
                    "mmdb": {"dma_code": 819}}"#,
            ),
        );
    }
}

#[test]
fn ecs_needs_a_target_unless_the_source_is_an_ip_subfield() {
    let e = build_error(&geoip(&format!(
        r#"source => "clientip" database => "{}" ecs_compatibility => v8"#,
        db("city")
    )));
    assert!(e.contains("requires") || e.contains("required"), "{e}");
    let e = run(
        &geoip(&format!(
            r#"source => "clientip" target => "[client]" database => "{}" fields => ["city_name", "country_code3"] ecs_compatibility => v8"#,
            db("city")
        )),
        r#"{"clientip": "1.2.3.4"}"#,
    );
    // country_code3 has no ECS name and is left out.
    expect(&e, "client", Some(r#"{"geo": {"city_name": "Stockholm"}}"#));
}

#[test]
fn fields_selects_a_subset_by_logstash_names_in_any_case() {
    let e = run(
        &geoip(&format!(
            r#"source => "ip" target => "[@metadata][geo]" database => "{}" fields => ["TIMEZONE", "region_iso_code", "location"] ecs_compatibility => disabled"#,
            db("city")
        )),
        r#"{"ip": "1.2.3.4"}"#,
    );
    expect(
        &e,
        "[@metadata][geo]",
        Some(
            r#"{"region_iso_code": "SE-AB", "timezone": "Europe/Stockholm",
                "location": {"lat": 59.3294, "lon": 18.0686}}"#,
        ),
    );
    expect(&e, "geoip", None);
    let e = build_error(&geoip(&format!(
        r#"source => "ip" database => "{}" fields => ["asn"] ecs_compatibility => disabled"#,
        db("city")
    )));
    assert!(e.contains("illegal field value asn"), "{e}");
}

#[test]
fn ipv6_addresses_and_java_style_ip_text() {
    let e = run(
        &geoip(&format!(
            r#"source => "ip" database => "{}" fields => ["ip", "country_code2", "location"] ecs_compatibility => disabled"#,
            db("city")
        )),
        r#"{"ip": "2001:db8::1"}"#,
    );
    expect(
        &e,
        "geoip",
        Some(
            r#"{"country_code2": "US", "ip": "2001:db8:0:0:0:0:0:1",
                "location": {"lat": 37.751, "lon": -97.822}}"#,
        ),
    );
    // An IPv4-mapped IPv6 address is looked up as IPv4; an array uses its first element.
    let e = run(
        &geoip(&format!(
            r#"source => "ip" database => "{}" fields => ["ip", "city_name"] ecs_compatibility => disabled"#,
            db("city")
        )),
        r#"{"ip": ["::ffff:1.2.3.4", "8.8.8.8"]}"#,
    );
    expect(
        &e,
        "geoip",
        Some(r#"{"city_name": "Stockholm", "ip": "1.2.3.4"}"#),
    );
}

#[test]
fn a_partial_location_sets_what_it_can() {
    let e = run(
        &geoip(&format!(
            r#"source => "ip" database => "{}" ecs_compatibility => disabled"#,
            db("city")
        )),
        r#"{"ip": "9.9.9.9"}"#,
    );
    expect(&e, "geoip", Some(r#"{"ip": "9.9.9.9", "latitude": 10.5}"#));
    assert!(tags(&e).is_empty());
}

// ---- failures --------------------------------------------------------------------------------

#[test]
fn failed_lookups_tag_and_create_an_empty_target() {
    let config = geoip(&format!(
        r#"source => "ip" database => "{}" add_tag => ["found"] ecs_compatibility => disabled"#,
        db("city")
    ));
    // Not in the database, not an address, a hostname (never resolved), a record without a
    // location.
    for ip in ["8.8.8.8", "not an ip", "localhost", "5.6.7.8", "1.2.3.4 "] {
        let e = run(&config, &format!(r#"{{"ip": "{ip}"}}"#));
        assert_eq!(tags(&e), ["_geoip_lookup_failure"], "{ip}");
        expect(&e, "geoip", Some("{}"));
    }
    // An existing target is left as it was.
    let e = run(&config, r#"{"ip": "8.8.8.8", "geoip": {"keep": 1}}"#);
    expect(&e, "geoip", Some(r#"{"keep": 1}"#));
    assert_eq!(tags(&e), ["_geoip_lookup_failure"]);
}

#[test]
fn a_missing_blank_or_non_string_source_tags_without_a_target() {
    let config = geoip(&format!(
        r#"source => "ip" database => "{}" tag_on_failure => ["no_geo", "bad"] ecs_compatibility => disabled"#,
        db("city")
    ));
    for fields in [
        r#"{}"#,
        r#"{"ip": "  "}"#,
        r#"{"ip": 1234}"#,
        r#"{"ip": []}"#,
        r#"{"ip": {"a": 1}}"#,
    ] {
        let e = run(&config, fields);
        assert_eq!(tags(&e), ["no_geo", "bad"], "{fields}");
        expect(&e, "geoip", None);
    }
}

#[test]
fn database_problems_are_config_errors() {
    let e = build_error(&geoip(r#"source => "ip" ecs_compatibility => disabled"#));
    assert!(e.contains("`database` is required"), "{e}");
    let e = build_error(&geoip(
        r#"source => "ip" database => "/nonexistent/GeoLite2-City.mmdb" ecs_compatibility => disabled"#,
    ));
    assert!(e.contains("cannot open"), "{e}");
    let e = build_error(&geoip(&format!(
        r#"source => "ip" database => "{}" ecs_compatibility => disabled"#,
        db("unknown")
    )));
    assert!(e.contains("Some-Other-DB"), "{e}");
    let e = build_error(&geoip(&format!(
        r#"source => "ip" database => "{}" default_database_type => "Country" ecs_compatibility => disabled"#,
        db("city")
    )));
    assert!(e.contains("Country"), "{e}");
}

#[test]
fn default_database_type_and_cache_size_are_accepted() {
    let e = run(
        &geoip(&format!(
            r#"source => "ip" database => "{}" default_database_type => "ASN" cache_size => 5000 ecs_compatibility => disabled"#,
            db("asn")
        )),
        r#"{"ip": "1.2.3.4"}"#,
    );
    expect(&e, "[geoip][asn]", Some("64512"));
}

// ---- other database kinds --------------------------------------------------------------------

#[test]
fn asn_database() {
    let legacy = run(
        &geoip(&format!(
            r#"source => "ip" database => "{}" ecs_compatibility => disabled"#,
            db("asn")
        )),
        r#"{"ip": "1.2.3.4"}"#,
    );
    expect(
        &legacy,
        "geoip",
        Some(r#"{"asn": 64512, "as_org": "Example Networks", "ip": "1.2.3.4"}"#),
    );
    let ecs = run(
        &geoip(&format!(
            r#"source => "[client][ip]" database => "{}" fields => ["autonomous_system_number", "network"]"#,
            db("asn")
        )),
        r#"{"client": {"ip": "2001:db8:1::5"}}"#,
    );
    expect(
        &ecs,
        "client",
        Some(
            r#"{"ip": "2001:db8:1::5", "as": {"number": 64513},
                "ip_traits": {"network": "2001:db8:1:0:0:0:0:0/48"}}"#,
        ),
    );
}

#[test]
fn country_isp_domain_and_anonymous_ip_databases() {
    let cases = [
        (
            "country",
            r#"{"country_name": "Sweden", "continent_name": "Europe", "country_code2": "SE", "ip": "1.2.3.4"}"#,
        ),
        (
            "isp",
            r#"{"asn": 64512, "as_org": "Example Networks", "ip": "1.2.3.4", "isp": "Example ISP",
                "organization": "Example Org"}"#,
        ),
        ("domain", r#"{"domain": "example.com"}"#),
        (
            "anonymous",
            r#"{"hosting_provider": false, "tor_exit_node": true, "anonymous_vpn": false,
                "anonymous": true, "public_proxy": false, "residential_proxy": false}"#,
        ),
    ];
    for (name, want) in cases {
        let e = run(
            &geoip(&format!(
                r#"source => "ip" database => "{}" ecs_compatibility => disabled"#,
                db(name)
            )),
            r#"{"ip": "1.2.3.4"}"#,
        );
        expect(&e, "geoip", Some(want));
        assert!(tags(&e).is_empty(), "{name}");
    }
}

#[test]
fn enterprise_database_in_ecs_mode() {
    let e = run(
        &geoip(&format!(
            r#"source => "[host][ip]" database => "{}" fields => ["city_name", "region_iso_code", "autonomous_system_organization", "anonymous_vpn", "tor_exit_node"]"#,
            db("enterprise")
        )),
        r#"{"host": {"ip": "1.2.3.4"}}"#,
    );
    expect(
        &e,
        "host",
        Some(
            r#"{"ip": "1.2.3.4", "as": {"organization": {"name": "Example Networks"}},
                "geo": {"city_name": "Stockholm", "region_iso_code": "SE-AB"},
                "ip_traits": {"tor_exit_node": false, "anonymous_vpn": true}}"#,
        ),
    );
}

#[test]
fn common_options_apply_only_on_success() {
    let config = geoip(&format!(
        r#"source => "ip" database => "{}" add_field => {{ "geo_ok" => "%{{[geoip][country_code2]}}" }} ecs_compatibility => disabled"#,
        db("country")
    ));
    let e = run(&config, r#"{"ip": "1.2.3.4"}"#);
    expect(&e, "geo_ok", Some(r#""SE""#));
    let e = run(&config, r#"{"ip": "10.0.0.1"}"#);
    expect(&e, "geo_ok", None);
}
