#!/usr/bin/env bash
# The main job. For now: build everything and show the OpenFlow library at
# work; the switch-and-controller demo arrives with the switch (see README).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cargo build --release --workspace --examples
echo
cargo run -q --release --example wire_tour
echo
target/release/ofswitch
echo
target/release/ofcontroller
