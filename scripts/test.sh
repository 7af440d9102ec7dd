#!/usr/bin/env bash
# Sets up the machine, runs every test of the workspace, then re-verifies the shipped designs.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh --ml
source scripts/env.sh
cargo test --workspace --locked "$@"
# The end-to-end tests built the binary; a separate `cargo build -p` would resolve features
# differently and rebuild polars.
"$CARGO_TARGET_DIR/debug/asi-evolve" verify designs/designs.toml --junit "$CARGO_TARGET_DIR/verify-junit.xml"
