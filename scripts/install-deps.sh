#!/usr/bin/env bash
# Installs what the test suite needs, idempotently: each step checks first, so a rerun on a
# machine that already has everything costs a second or two.
#
# Each need below is guarded by a check, e.g.:
#   need_apt protobuf-compiler            # dpkg -s decides whether to install
#   need_cmd jq || apt_install jq         # command -v decides
set -euo pipefail

apt_updated=0

# apt_install PKG...: installs Debian packages, running `apt-get update` once per script run.
apt_install() {
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    if [ "$apt_updated" -eq 0 ]; then
        $sudo apt-get update -qq
        apt_updated=1
    fi
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@"
}

# need_apt PKG...: installs the packages that dpkg does not know as installed.
need_apt() {
    local missing=()
    for pkg in "$@"; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
    [ "${#missing[@]}" -eq 0 ] || apt_install "${missing[@]}"
}

# need_cmd CMD: true when CMD is on PATH.
need_cmd() {
    command -v "$1" >/dev/null 2>&1
}

# --- Rust toolchain -------------------------------------------------------------------------
if ! need_cmd cargo; then
    echo "install-deps: cargo not found; install Rust (rustup) first" >&2
    exit 1
fi
# need_component SUBCOMMAND COMPONENT: `cargo SUBCOMMAND` works, or rustup adds COMPONENT.
need_component() {
    cargo "$1" --version >/dev/null 2>&1 && return
    if need_cmd rustup; then
        rustup component add "$2"
    else
        echo "install-deps: cargo $1 missing and rustup not found" >&2
        exit 1
    fi
}
need_component fmt rustfmt
need_component clippy clippy

# --- System packages (apt) ------------------------------------------------------------------
# openssl: tests/fingerprint.rs checks digests against the openssl command line.
need_cmd openssl || need_apt openssl
# libssl-dev and pkg-config: the elasticsearch client's TLS (native-tls) links OpenSSL.
need_apt libssl-dev pkg-config

# rsyslog and its RELP output module: tests/rsyslog*.rs start the real daemon as a syslog
# client (omfwd over UDP, TCP and TLS via the ossl driver, omrelp) with a config and work folder
# of their own.
need_apt rsyslog rsyslog-relp rsyslog-openssl

# git: tests/releases.rs and tests/deploy_files.rs create real repositories with release tags,
# and `filters.repo` runs the git command line.
need_cmd git || need_apt git

# --- Python / npm tools ---------------------------------------------------------------------
# python3 with mmdb-writer: tests/support/make_mmdb.py writes the MaxMind databases that
# tests/geoip.rs reads.
need_cmd python3 || need_apt python3 python3-pip
if ! python3 -c "import mmdb_writer" >/dev/null 2>&1; then
    python3 -m pip --version >/dev/null 2>&1 || need_apt python3-pip
    # A Debian-managed python3 refuses plain pip installs (PEP 668); a venv-less CI box is the
    # intended use, so fall back to --break-system-packages there.
    python3 -m pip install --quiet mmdb-writer \
        || python3 -m pip install --quiet --break-system-packages mmdb-writer
fi
# fluent-logger (and msgpack): tests/forward.rs sends with fluentd's own Python client.
if ! python3 -c "import fluent.sender, msgpack" >/dev/null 2>&1; then
    python3 -m pip install --quiet fluent-logger msgpack \
        || python3 -m pip install --quiet --break-system-packages fluent-logger msgpack
fi
# avro: tests/flume*.rs encode AvroFlumeEvents with Apache's own Python implementation.
if ! python3 -c "import avro.io" >/dev/null 2>&1; then
    python3 -m pip install --quiet avro \
        || python3 -m pip install --quiet --break-system-packages avro
fi

# npm packages, installed under target/npm of the repository (nothing global), pinned:
# - statsd (Etsy's daemon): tests/metrics.rs starts the real daemon with its graphite backend
#   pointed at the test;
# - playwright-core (the driver only, no browser download): tests/sandbox_browser.rs drives
#   Debian's chromium through tests/browser/sandbox.mjs.
# Both go in one `npm install`: installing one package with --no-save into the same prefix can
# prune the other.
STATSD_VERSION=0.9.0
PLAYWRIGHT_CORE_VERSION=1.65.1
npm_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/target/npm"
# npm_has PKG VERSION: true when target/npm holds PKG at exactly VERSION.
npm_has() {
    grep -qs "\"version\": \"$2\"" "$npm_dir/node_modules/$1/package.json"
}
if ! npm_has statsd "$STATSD_VERSION" || ! npm_has playwright-core "$PLAYWRIGHT_CORE_VERSION"; then
    need_cmd npm || need_apt nodejs npm
    mkdir -p "$npm_dir"
    npm install --prefix "$npm_dir" --no-save --no-audit --no-fund --loglevel=error \
        "statsd@$STATSD_VERSION" "playwright-core@$PLAYWRIGHT_CORE_VERSION"
fi

# chromium (Debian's own build): the browser tests run it headless; playwright-core downloads
# no browser of its own.
need_apt chromium
