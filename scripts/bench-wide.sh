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
from datetime import datetime
db = sqlite3.connect(sys.argv[2])
busy = db.execute("SELECT sum(evaluate_seconds) FROM nodes WHERE id > 0").fetchone()[0]
first, last = (datetime.fromisoformat(t[:26]) for t in db.execute(
    "SELECT min(committed_at), max(committed_at) FROM nodes").fetchone())
rounds = (last - first).total_seconds()
print(f"64 rounds, 16 workers, window 16: {rounds:.2f} s from the seed's commit to the last (ideal 4.0 s), "
      f"utilisation {busy / (16 * rounds):.2f}; {wall:.2f} s wall in all (with start-up and the seed's 1 s); "
      f"load average {open('/proc/loadavg').read().split()[0]}")
PY
