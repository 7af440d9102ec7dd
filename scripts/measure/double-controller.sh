#!/usr/bin/env bash
# Issue 12's double-controller reproduction, TRIALS times (default 6): a second controller is
# started on a live run directory three seconds in. Counts refusals, and checks that the first
# controller's node table equals an uninterrupted run's. Usage: double-controller.sh [BIN] [TRIALS]
set -uo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
source "$root/scripts/env.sh"
bin="${1:-$CARGO_TARGET_DIR/debug/asi-evolve}"
trials="${2:-6}"
work="$(mktemp -d)"
args=(circle-packing --rounds 60 --seed 3 --workers 2 --sampler ucb1)
cd "$root"
"$bin" run "${args[@]}" --out "$work/whole" > /dev/null
table() { python3 -c "
import sqlite3, sys
c = sqlite3.connect(f'file:{sys.argv[1]}/campaign.db?mode=ro', uri=True)
cols = [r[1] for r in c.execute('PRAGMA table_info(nodes)') if r[1] not in ('propose_seconds', 'evaluate_seconds', 'analyze_seconds', 'committed_at')]
for row in c.execute('SELECT ' + ','.join(cols) + ' FROM nodes ORDER BY id'): print(repr(row))
" "$1"; }
table "$work/whole" > "$work/whole.table"
refused=0; identical=0
for t in $(seq 1 "$trials"); do
  d="$work/trial$t"
  "$bin" run "${args[@]}" --out "$d" > "$d.first.log" 2>&1 &
  first=$!
  sleep 3
  if ! "$bin" run --resume "$d" > "$d.second.log" 2>&1 && grep -q "pid $first" "$d.second.log"; then
    refused=$((refused + 1))
  fi
  wait "$first"
  table "$d" > "$d.table"
  cmp -s "$d.table" "$work/whole.table" && identical=$((identical + 1))
  echo "trial $t: $(tail -1 "$d.second.log")"
done
echo "refused $refused of $trials; first controller's table identical to an uninterrupted run in $identical of $trials"
rm -rf "$work"
