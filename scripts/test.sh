#!/usr/bin/env bash
# Sets up the machine (scripts/setup.sh), checks that no crate declares an unused
# dependency (cargo machete), then runs every test of the workspace once: unit, property,
# corpus and end-to-end tests (real processes, real faults, short limits).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# An unused dependency in any crate of the workspace fails the run.
cargo machete
export HARNESS_BIN_DIR="$PWD/target/release"
cargo test --release --workspace --no-fail-fast
