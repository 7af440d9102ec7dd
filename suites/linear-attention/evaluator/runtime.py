"""Process setup, loading a candidate, and writing results. Import this before torch anywhere:
it sets OMP_WAIT_POLICY=PASSIVE first, since OpenMP reads it once, when torch loads it (spinning
idle threads made a training step 3-10x slower on a loaded 2-core machine)."""

import os

os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
# Triton compiles fla's kernels into ~/.triton by default, which a confined evaluation cannot
# write; the suite's cache folder keeps them between evaluations instead.
if os.environ.get("ASI_EVOLVE_CACHE_DIR"):
    os.environ.setdefault("TRITON_CACHE_DIR", os.path.join(os.environ["ASI_EVOLVE_CACHE_DIR"], "triton"))

import importlib.util  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import sys  # noqa: E402

import torch  # noqa: E402

SUITE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEED_PROGRAM = os.path.join(SUITE_DIR, "initial_program.py")


def deterministic(scale):
    """Fixed thread counts and deterministic kernels: on CPU the same program and seed give the
    same score bit for bit."""
    torch.set_num_threads(scale.threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass  # already set in this process
    if scale.device == "cuda":
        # cuBLAS reads this when its first handle is made, which is after this point. On a GPU the
        # flag only warns where torch has no deterministic kernel, and fla's Triton kernels are
        # outside its reach: gpu-scale scores are reproducible to run-to-run noise, not bit for bit.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.backends.cudnn.benchmark = False
        torch.use_deterministic_algorithms(True, warn_only=True)
    else:
        torch.use_deterministic_algorithms(True)


class Rejected(Exception):
    """A candidate failed a check; the message names the check and the number."""


def load_mixer(path, name="candidate"):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as e:  # the candidate's own code
        raise Rejected(f"check `import`: importing the candidate raised {type(e).__name__}: {e}") from e
    mixer = getattr(module, "Mixer", None)
    if not isinstance(mixer, type) or not issubclass(mixer, torch.nn.Module):
        raise Rejected("check `import`: the candidate defines no class Mixer(torch.nn.Module)")
    return mixer


def candidate_path():
    path = os.environ.get("ASI_EVOLVE_CANDIDATE") or (sys.argv[1] if len(sys.argv) > 1 else None)
    if not path:
        raise SystemExit("no candidate: set ASI_EVOLVE_CANDIDATE or pass the program's path")
    return path


def results_path():
    return os.environ.get("ASI_EVOLVE_RESULTS", "results.json")


def finite_or_none(x):
    return x if isinstance(x, (int, float)) and math.isfinite(x) else None


def write(score, metrics, feedback, valid=True):
    metrics = {k: v for k, v in metrics.items() if finite_or_none(v) is not None}
    result = {"score": score if valid else None, "valid": valid, "metrics": metrics, "feedback": feedback}
    with open(results_path(), "w") as f:
        json.dump(result, f, indent=1)


def reject(message, metrics=None):
    write(None, metrics or {}, message, valid=False)


def read_stage(stage):
    """The results an earlier stage of this cascade wrote into the node's folder."""
    folder = os.environ.get("ASI_EVOLVE_WORKDIR", ".")
    path = os.path.join(folder, f"results.stage{stage}.json")
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        raise SystemExit(f"stage {stage}'s results are needed and unreadable: {path}: {e}") from None
