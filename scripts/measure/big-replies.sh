#!/usr/bin/env bash
# Issue 12's measurement: database size and controller peak memory of a 30-round campaign whose
# model answers every call with a 2 MB program. Usage: big-replies.sh [ASI_EVOLVE_BIN] [OUT_DIR]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
source "$root/scripts/env.sh"
bin="${1:-$CARGO_TARGET_DIR/debug/asi-evolve}"
out="${2:-$(mktemp -d)/big-replies}"
port=$((20000 + RANDOM % 20000))
python3 "$root/scripts/measure/big_reply_server.py" "$port" "$root/suites/circle-packing/initial_program.py" &
server=$!
trap 'kill $server' EXIT
sleep 1
config="$(dirname "$out")/big-replies.toml"
cat > "$config" <<TOML
suite = "circle-packing"
rounds = 30
workers = 2
[researcher]
kind = "llm"
mode = "full"
[researcher.llm]
base_url = "http://127.0.0.1:$port/v1"
model = "fake-2mb"
max_retries = 1
TOML
cd "$root"
/usr/bin/time -v "$bin" run --config "$config" --out "$out" 2> "$out.time" || { cat "$out.time"; exit 1; }
echo "database: $(du -b "$out/campaign.db" | cut -f1) bytes ($(du -sh "$out/campaign.db" | cut -f1))"
echo "run directory: $(du -sh "$out" | cut -f1)"
grep -E "Maximum resident set size|Elapsed" "$out.time"
