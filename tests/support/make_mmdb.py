#!/usr/bin/env python3
"""Writes the small MaxMind databases that tests/geoip.rs reads, with the independent
`mmdb-writer` package (installed by scripts/install-deps.sh).

Usage: make_mmdb.py OUT_DIR

Each database is IPv6 with IPv4 networks stored IPv4-compatibly, as MaxMind's own files are.
The records are made up; their shapes follow MaxMind's GeoIP2 schemas.
"""

import sys
from pathlib import Path

from mmdb_writer import MMDBWriter, MmdbF64, MmdbU16, MmdbU32
from netaddr import IPSet


def names(en, **others):
    return {"en": en, **others}


STOCKHOLM = {
    "city": {"geoname_id": MmdbU32(2673730), "names": names("Stockholm", de="Stockholm")},
    "continent": {"code": "EU", "geoname_id": MmdbU32(6255148), "names": names("Europe")},
    "country": {"geoname_id": MmdbU32(2661886), "iso_code": "SE", "names": names("Sweden", de="Schweden")},
    "location": {
        "accuracy_radius": MmdbU16(20),
        "latitude": MmdbF64(59.3294),
        "longitude": MmdbF64(18.0686),
        "metro_code": MmdbU16(819),
        "time_zone": "Europe/Stockholm",
    },
    "postal": {"code": "100 05"},
    "subdivisions": [
        {"iso_code": "X1", "names": names("Outer Region")},
        {"iso_code": "AB", "names": names("Stockholm County")},
    ],
}


def write(out, name, database_type, networks):
    writer = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type=database_type)
    for cidrs, record in networks:
        writer.insert_network(IPSet(cidrs), record)
    writer.to_db_file(str(out / name))


def main():
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    write(out, "city.mmdb", "GeoLite2-City", [
        (["1.2.3.0/24"], STOCKHOLM),
        # A record without a location: Logstash counts it as a failed lookup.
        (["5.6.7.0/24"], {"country": {"iso_code": "FR", "names": names("France")}}),
        # Only a latitude: `location` cannot be built, `latitude` can.
        (["9.9.9.9/32"], {"location": {"latitude": MmdbF64(10.5)}}),
        (["2001:db8::/32"], {
            "country": {"iso_code": "US", "names": names("United States")},
            "location": {"latitude": MmdbF64(37.751), "longitude": MmdbF64(-97.822)},
        }),
    ])
    write(out, "asn.mmdb", "GeoLite2-ASN", [
        (["1.2.3.0/24"], {"autonomous_system_number": MmdbU32(64512),
                          "autonomous_system_organization": "Example Networks"}),
        (["2001:db8:1::/48"], {"autonomous_system_number": MmdbU32(64513)}),
    ])
    write(out, "country.mmdb", "GeoLite2-Country", [
        (["1.2.3.0/24"], {k: STOCKHOLM[k] for k in ("continent", "country")}),
    ])
    write(out, "isp.mmdb", "GeoIP2-ISP", [
        (["1.2.3.0/24"], {"autonomous_system_number": MmdbU32(64512),
                          "autonomous_system_organization": "Example Networks",
                          "isp": "Example ISP", "organization": "Example Org"}),
    ])
    write(out, "anonymous.mmdb", "GeoIP2-Anonymous-IP", [
        (["1.2.3.0/24"], {"is_anonymous": True, "is_tor_exit_node": True}),
    ])
    write(out, "domain.mmdb", "GeoIP2-Domain", [
        (["1.2.3.0/24"], {"domain": "example.com"}),
    ])
    enterprise = dict(STOCKHOLM)
    enterprise["traits"] = {"autonomous_system_number": MmdbU32(64512),
                            "autonomous_system_organization": "Example Networks",
                            "is_anonymous_vpn": True}
    write(out, "enterprise.mmdb", "GeoIP2-Enterprise", [(["1.2.3.0/24"], enterprise)])
    write(out, "unknown.mmdb", "Some-Other-DB", [(["1.2.3.0/24"], {"x": "y"})])


if __name__ == "__main__":
    main()
