#!/usr/bin/env bash
# The real-model campaign, offline: sets up, builds asi-evolve, starts llama.cpp's server with
# SmolLM2-135M-Instruct (scripts/local-model.sh), runs configs/local-model.toml against it, shows
# the run and stops the server. Extra arguments go to `asi-evolve run` (e.g. --rounds 5 --seed 2).
#
# ASI_EVOLVE_LLM_URL=http://gpu-box:8000/v1 ASI_EVOLVE_LLM_MODEL=Qwen/Qwen3-32B runs the same
# config against a server that is already up (vLLM, SGLang) and starts none.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
source scripts/env.sh
cargo build --locked -p asi-evolve
bin="$CARGO_TARGET_DIR/debug/asi-evolve"
bash scripts/local-model.sh install

if [ -n "${ASI_EVOLVE_LLM_URL:-}" ]; then
  url="$ASI_EVOLVE_LLM_URL"
else
  export ASI_EVOLVE_MODEL_STATE="${ASI_EVOLVE_MODEL_STATE:-$HOME/.cache/asi-evolve/local-model}"
  url=$(bash scripts/local-model.sh start)
  trap 'bash scripts/local-model.sh stop' EXIT
fi
model="${ASI_EVOLVE_LLM_MODEL:-SmolLM2-135M-Instruct}"

out="runs/local-model-$(date -u +%Y%m%d-%H%M%S)"
mkdir -p runs
# The shipped config with this server's address (and model) filled in; the llama.cpp grammars
# (extra_body) are kept only for the local llama.cpp server.
config="$out.toml"
drop_grammar=""
[ -n "${ASI_EVOLVE_LLM_URL:-}" ] && drop_grammar="/^extra_body = { grammar = '''/,/^''' }/d"
sed -e "s|^base_url = .*|base_url = \"$url\"|" -e "s|^model = .*|model = \"$model\"|" -e "$drop_grammar" \
  configs/local-model.toml > "$config"
"$bin" run --config "$config" --out "$out" "$@"
"$bin" show "$out"
