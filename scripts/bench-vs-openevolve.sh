#!/usr/bin/env bash
# Side by side with OpenEvolve on the same no-op workload: the same instant fake model server
# (scripts/bench/fake_openai.py), a trivial evaluator, 2 workers, full rewrites, run back to
# back. Prints rounds/s of each, the ratio, peak resident memory, and asi-evolve's per-round
# breakdown from its node timings. Usage: scripts/bench-vs-openevolve.sh [ROUNDS] (200).
# PAIRS=k runs k pairs, alternating, and also prints the median ratio.
# Both tools write into one work folder from `mktemp -d`, so TMPDIR picks its file system.
# On ext4 without a journal, creating a file gets slower for 5-10 minutes after many files
# were deleted (the allocator skips recently freed inodes), a previous run's cleanup
# included: on such a machine let it rest that long between runs, or use TMPDIR=/dev/shm.
set -euo pipefail
N="${1:-200}"
PAIRS="${PAIRS:-1}"
source "$(dirname "$0")/bench/common.sh"
OE_VERSION=0.4.1
OE_VENV="$HOME/.cache/asi-evolve/openevolve-$OE_VERSION"
if [ ! -x "$OE_VENV/bin/openevolve-run" ]; then
    python3 -m venv "$OE_VENV"
    "$OE_VENV/bin/pip" install --quiet "openevolve==$OE_VERSION"
fi
start_fake_server

asi_evolve_config "$BENCH/noop" "$N" 2 2 > "$WORK/asi.toml"
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
: > "$WORK/pairs"
# Each pair in folders of its own: nothing is deleted before the last run ends.
for pair in $(seq "$PAIRS"); do
    /usr/bin/time -f "%e %M" -o "$WORK/asi.time" "$BIN" run --config "$WORK/asi.toml" --out "$WORK/asi-run$pair" > /dev/null
    /usr/bin/time -f "%e %M" -o "$WORK/oe.time" "$OE_VENV/bin/openevolve-run" "$BENCH/openevolve/initial_program.py" \
        "$BENCH/openevolve/evaluator.py" --config "$WORK/oe.yaml" --iterations "$N" --output "$WORK/oe-run$pair" > "$WORK/oe.log" 2>&1
    echo "$(cat "$WORK/asi.time") $(cat "$WORK/oe.time")" >> "$WORK/pairs"
done
read -r ASI_WALL _ OE_WALL _ < <(tail -1 "$WORK/pairs")

python3 - "$N" "$WORK/pairs" <<'PY'
import statistics, sys
n = int(sys.argv[1])
pairs = [tuple(float(x) for x in line.split()) for line in open(sys.argv[2])]
print(f"rounds {n}   load average {open('/proc/loadavg').read().split()[0]}")
for aw, ar, ow, orss in pairs:
    print(f"  asi-evolve  {n/aw:8.1f} rounds/s  ({aw:.2f} s, peak RSS {ar/1024:.0f} MB)")
    print(f"  OpenEvolve  {n/ow:8.1f} rounds/s  ({ow:.2f} s, peak RSS {orss/1024:.0f} MB)")
    print(f"  ratio       {ow/aw:8.2f}x")
if len(pairs) > 1:
    print(f"  median ratio of {len(pairs)} pairs {statistics.median(ow / aw for aw, _, ow, _ in pairs):.2f}x")
PY
breakdown "$WORK/asi-run$PAIRS" "$ASI_WALL" 2
fork_floor
OE_DONE=$(grep -cE "Iteration [0-9]+: Program .* completed" "$WORK/oe.log" || true)
echo "  OpenEvolve completed $OE_DONE iterations by its log"
