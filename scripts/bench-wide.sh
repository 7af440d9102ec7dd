#!/usr/bin/env bash
# Wide parallel evaluation: every evaluation sleeps 1 s; 16 workers, window 16, 64 rounds on the
# instant fake model server. Ideal: 64 / 16 = 4.0 s of rounds. Usage: scripts/bench-wide.sh
set -euo pipefail
source "$(dirname "$0")/bench/common.sh"
start_fake_server
asi_evolve_config "$BENCH/wide" 64 16 16 > "$WORK/wide.toml"
/usr/bin/time -f "%e %M" -o "$WORK/wide.time" "$BIN" run --config "$WORK/wide.toml" --out "$WORK/wide-run" > /dev/null
read -r WALL RSS < "$WORK/wide.time"
python3 - "$WALL" "$WORK/wide-run/campaign.db" <<'PY'
import sqlite3, sys
wall = float(sys.argv[1])
busy = sqlite3.connect(sys.argv[2]).execute("SELECT sum(evaluate_seconds) FROM nodes WHERE id > 0").fetchone()[0]
print(f"64 rounds, 16 workers, window 16: {wall:.2f} s wall (ideal 4.0 s + the seed's evaluation), "
      f"evaluator busy {busy:.1f} s, utilisation {busy / (16 * wall):.2f}, "
      f"load average {open('/proc/loadavg').read().split()[0]}")
PY
