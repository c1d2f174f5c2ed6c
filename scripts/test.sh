#!/usr/bin/env bash
# Runs every check sluice has: installs what tests need (scripts/install-deps.sh), then the
# format check, clippy with warnings as errors, and the whole test suite.
#
# Usage: scripts/test.sh [extra cargo test arguments]
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets -- -D warnings

echo "== cargo test --all-targets"
cargo test --all-targets "$@"
