# Sourced by the scripts: builds go outside the clone so repeated runs and fresh clones reuse them,
# and the project's Python environment (scripts/setup.sh) comes first on PATH, so the evaluators
# the harness starts find its python3.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/asi-evolve/target}"
export ASI_EVOLVE_VENV="${ASI_EVOLVE_VENV:-$HOME/.cache/asi-evolve/venv}"
case ":$PATH:" in
  *":$ASI_EVOLVE_VENV/bin:"*) ;;
  *) export PATH="$ASI_EVOLVE_VENV/bin:$PATH" ;;
esac
