#!/usr/bin/env bash
# Runs every check sluice has: installs what tests need (scripts/install-deps.sh), then the
# format check, clippy with warnings as errors, the benches in test mode and the whole test
# suite.
#
# Usage: scripts/test.sh [extra cargo test arguments]
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets -- -D warnings

# Benches run in test mode first (criterion's quick check, the latency smoke test), so that the
# run ends with the test suite's own summary.
echo "== cargo test --benches"
cargo test --benches "$@"

echo "== cargo test --lib --bins --tests"
cargo test --lib --bins --tests "$@"
