#!/usr/bin/env bash
# Side by side with OpenEvolve on the same no-op workload: the same instant fake model server
# (scripts/bench/fake_openai.py), a trivial evaluator, 2 workers, full rewrites, run back to
# back. Prints rounds/s of each, the ratio, peak resident memory, and asi-evolve's per-round
# breakdown from its node timings. Usage: scripts/bench-vs-openevolve.sh [ROUNDS] (200).
set -euo pipefail
N="${1:-200}"
source "$(dirname "$0")/bench/common.sh"
OE_VERSION=0.4.1
OE_VENV="$HOME/.cache/asi-evolve/openevolve-$OE_VERSION"
if [ ! -x "$OE_VENV/bin/openevolve-run" ]; then
    python3 -m venv "$OE_VENV"
    "$OE_VENV/bin/pip" install --quiet "openevolve==$OE_VERSION"
fi
start_fake_server

asi_evolve_config "$BENCH/noop" "$N" 2 2 > "$WORK/asi.toml"
/usr/bin/time -f "%e %M" -o "$WORK/asi.time" "$BIN" run --config "$WORK/asi.toml" --out "$WORK/asi-run" > /dev/null
read -r ASI_WALL ASI_RSS < "$WORK/asi.time"

cat > "$WORK/oe.yaml" <<YAML
max_iterations: $N
checkpoint_interval: 1000000
log_level: INFO
diff_based_evolution: false
random_seed: 1
llm:
  api_base: "http://127.0.0.1:$PORT/v1"
  api_key: "fake"
  models:
    - name: "fake"
      weight: 1.0
  max_retries: 0
evaluator:
  parallel_evaluations: 2
  cascade_evaluation: false
  use_llm_feedback: false
YAML
/usr/bin/time -f "%e %M" -o "$WORK/oe.time" "$OE_VENV/bin/openevolve-run" "$BENCH/openevolve/initial_program.py" \
    "$BENCH/openevolve/evaluator.py" --config "$WORK/oe.yaml" --iterations "$N" --output "$WORK/oe-run" > "$WORK/oe.log" 2>&1
read -r OE_WALL OE_RSS < "$WORK/oe.time"

python3 - "$N" "$ASI_WALL" "$ASI_RSS" "$OE_WALL" "$OE_RSS" <<'PY'
import sys
n, aw, ar, ow, orss = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
print(f"rounds {n}   load average {open('/proc/loadavg').read().split()[0]}")
print(f"  asi-evolve  {n/aw:8.1f} rounds/s  ({aw:.2f} s, peak RSS {ar/1024:.0f} MB)")
print(f"  OpenEvolve  {n/ow:8.1f} rounds/s  ({ow:.2f} s, peak RSS {orss/1024:.0f} MB)")
print(f"  ratio       {ow/aw:8.2f}x")
PY
breakdown "$WORK/asi-run" "$ASI_WALL" 2
fork_floor
OE_DONE=$(grep -cE "Iteration [0-9]+: Program .* completed" "$WORK/oe.log" || true)
echo "  OpenEvolve completed $OE_DONE iterations by its log"
