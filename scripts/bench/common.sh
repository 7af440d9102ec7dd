# Shared by the benchmark scripts: the asi-evolve binary (release build) and the fake server.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BENCH="$ROOT/scripts/bench"
source "$ROOT/scripts/env.sh"
BIN="${ASI_EVOLVE_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/asi-evolve}"
if [ ! -x "$BIN" ]; then
    (cd "$ROOT" && cargo build --release -p asi-evolve) >&2
fi
WORK="$(mktemp -d)"
FAKE_PID=""
cleanup() { [ -n "$FAKE_PID" ] && kill "$FAKE_PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

start_fake_server() {
    python3 "$BENCH/fake_openai.py" > "$WORK/port" &
    FAKE_PID=$!
    for _ in $(seq 100); do [ -s "$WORK/port" ] && break; sleep 0.05; done
    PORT="$(head -1 "$WORK/port")"
    [ -n "$PORT" ] || { echo "the fake server did not start" >&2; exit 1; }
}

# asi_evolve_config SUITE ROUNDS WORKERS WINDOW: a campaign config on the fake server.
asi_evolve_config() {
    cat <<TOML
suite = "$1"
rounds = $2
workers = $3
window = $4
seed = 1

[researcher]
kind = "llm"
mode = "full"
[researcher.llm]
base_url = "http://127.0.0.1:$PORT/v1"
model = "fake"
max_retries = 0

[analyzer]
kind = "stats"

[cognition]
enabled = false
TOML
}

# Per-round means from a run's node timings: evaluator, model call, analyzer (ms).
breakdown() {
    python3 - "$1/campaign.db" "$2" "$3" <<'PY'
import sqlite3, sys
db, wall, workers = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
rows = sqlite3.connect(db).execute(
    "SELECT count(*), avg(evaluate_seconds), avg(propose_seconds), avg(coalesce(analyze_seconds, 0)) FROM nodes WHERE id > 0"
).fetchone()
n, ev, model, an = rows
slot = wall * workers / n
print(f"  asi-evolve per round ({n} rounds, {workers} workers): evaluator {ev*1e3:.1f} ms, model call {model*1e3:.1f} ms, "
      f"analyzer {an*1e3:.1f} ms, controller and the rest {max(slot - ev - model - an, 0)*1e3:.1f} ms "
      f"(a worker slot is {slot*1e3:.1f} ms)")
PY
}

# What one bare fork of a Python interpreter (json imported, as the warm servers have it), its
# exit and the wait cost on this machine: the floor under any evaluation in a process of its own.
fork_floor() {
    python3 - <<'PY'
import gc, json, os, time
gc.freeze()
times = []
for _ in range(300):
    t = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    times.append(time.perf_counter() - t)
times.sort()
print(f"  this machine: a bare Python fork, exit and wait takes {times[len(times) // 2] * 1e3:.2f} ms (median of 300)")
PY
}
