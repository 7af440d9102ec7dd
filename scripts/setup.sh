#!/usr/bin/env bash
# Installs what asi-evolve needs besides Rust, into a project-owned Python virtual environment
# outside the clone (default ~/.cache/asi-evolve/venv, override with ASI_EVOLVE_VENV), so that a
# fresh clone and CI reuse it and nothing is installed into the system's Python:
#   scripts/setup.sh        NumPy and SciPy (the circle-packing suites)
#   scripts/setup.sh --ml   also PyTorch (the linear-attention and rl-algorithm suites; PyPI's
#                           x86_64 wheel pulls its CUDA libraries, about 3 GB the first time;
#                           pip's cache keeps repeat installs off the network)
# `source scripts/env.sh` puts the environment's bin/ first on PATH, which the evaluators inherit.
# Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

torch_version="2.15.0"
want_ml=0
for arg in "$@"; do
  case "$arg" in
    --ml) want_ml=1 ;;
    *) echo "setup: unknown argument '$arg' (expected --ml)" >&2; exit 2 ;;
  esac
done

say() { echo "setup: $*" >&2; }

if ! command -v cargo >/dev/null 2>&1; then
  say "no Rust toolchain found: install Rust 1.88 or newer (https://rustup.rs) and run this again"
  exit 1
fi

sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
if ! command -v python3 >/dev/null 2>&1 || ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1; then
    say "installing python3 and its venv module with apt-get"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3 python3-venv python3-pip >/dev/null
  else
    say "python3 with its venv module is required and this machine has no apt-get: install Python 3.10+ and run this again"
    exit 1
  fi
fi

source scripts/env.sh
py="$ASI_EVOLVE_VENV/bin/python"
if [ ! -x "$py" ]; then
  say "creating the Python environment $ASI_EVOLVE_VENV"
  # The real interpreter, not a version-manager shim: a shim costs every evaluation a shell start.
  real=$(python3 -c 'import sys; print(sys.executable)')
  "$real" -m venv "$ASI_EVOLVE_VENV"
fi

if ! "$py" -c 'import numpy, scipy' >/dev/null 2>&1; then
  say "installing numpy and scipy into $ASI_EVOLVE_VENV"
  "$py" -m pip install --quiet --disable-pip-version-check numpy scipy
fi
"$py" -c 'import numpy, scipy' >/dev/null 2>&1 || { say "numpy and scipy are still not importable by $py"; exit 1; }

if [ "$want_ml" = 1 ] && ! "$py" -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '$torch_version')" >/dev/null 2>&1; then
  say "installing torch $torch_version into $ASI_EVOLVE_VENV (about 3 GB the first time)"
  "$py" -m pip install --quiet --disable-pip-version-check "torch==$torch_version"
fi

versions=$("$py" -c 'import numpy, scipy, importlib.util as u, sys
t = __import__("torch").__version__ if u.find_spec("torch") else "not installed (setup.sh --ml)"
print(f"Python {sys.version.split()[0]}, numpy {numpy.__version__}, scipy {scipy.__version__}, torch {t}")')
say "ready: $(cargo --version), $versions in $ASI_EVOLVE_VENV"
