#!/usr/bin/env bash
# Issue 12's early-kill reproduction, TRIALS times (default 20): `run ... & sleep 0.02; kill -9`.
# After each kill the folder must be accepted by `run --resume` or, failing that, `run --out`.
# Usage: early-kill.sh [BIN] [TRIALS] [DELAY_S]
set -uo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
source "$root/scripts/env.sh"
bin="${1:-$CARGO_TARGET_DIR/debug/asi-evolve}"
trials="${2:-20}"
delay="${3:-0.02}"
work="$(mktemp -d)"
cd "$root"
resumed=0; restarted=0; stuck=0
for t in $(seq 1 "$trials"); do
  d="$work/trial$t"
  "$bin" run circle-packing --rounds 2 --out "$d" > /dev/null 2>&1 &
  pid=$!
  sleep "$delay"; kill -9 "$pid"; wait "$pid" 2> /dev/null
  if "$bin" run --resume "$d" > /dev/null 2> "$d.resume.err"; then
    resumed=$((resumed + 1))
  elif "$bin" run circle-packing --rounds 2 --out "$d" > /dev/null 2> "$d.out.err"; then
    restarted=$((restarted + 1))
  else
    stuck=$((stuck + 1))
    echo "trial $t: --resume: $(cat "$d.resume.err"); run --out: $(cat "$d.out.err")"
  fi
done
echo "$trials kills after ${delay}s: $resumed resumed, $restarted started again with run --out, $stuck accepted by neither"
rm -rf "$work"
