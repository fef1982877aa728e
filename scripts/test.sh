#!/usr/bin/env bash
# The whole test suite, on a fresh machine or a used one: installs what the
# tests need (idempotent), then format check, clippy, and every test.
# End-to-end tests need root, network namespaces and the tools installed here;
# with CI=true a test that cannot get them fails instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
echo "== cargo fmt"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
echo "== cargo test"
cargo test --workspace
