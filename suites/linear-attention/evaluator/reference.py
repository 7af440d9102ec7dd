"""The DeltaNet reference loss that the LM term of the score divides by.

cpu and ci carry a measured constant (scales.py). A scale without one (gpu: nobody has measured
it on the machine it runs on) trains the seed program once at that scale and caches its loss,
keyed by the content of every file that shapes the number, so a changed evaluator or seed is
never scored against a stale reference."""

import hashlib
import json
import os

from . import lm
from .runtime import SEED_PROGRAM

# The same words whether this call trained the reference or read it: feedback is stored per node.
CACHED = "trained once at this scale and cached"
_SHAPING = ["scales.py", "lm.py", "model.py", "train.py", "worker.py", "candidate.py"]


def _key(scale, seed):
    h = hashlib.sha256(f"{scale.name}/{seed}".encode())
    here = os.path.dirname(os.path.abspath(__file__))
    for path in [os.path.join(here, f) for f in _SHAPING] + [SEED_PROGRAM]:
        with open(path, "rb") as f:
            h.update(f.read())
    return h.hexdigest()[:16]


def reference_loss(scale, seed):
    if scale.lm.reference_loss is not None:
        return scale.lm.reference_loss, "measured constant"
    # The harness's cache folder for this suite ([evaluator] cache = true), the one place
    # outside the node's folder an evaluation may write; run by hand, the user's cache.
    cache = os.environ.get("ASI_EVOLVE_CACHE_DIR") or os.path.join(
        os.path.expanduser("~"), ".cache", "asi-evolve", "suites", "linear-attention"
    )
    path = os.path.join(cache, f"reference-{scale.name}-seed{seed}-{_key(scale, seed)}.json")
    if os.path.exists(path):
        with open(path) as f:
            return json.load(f)["val_loss"], CACHED
    metrics, _ = lm.run(SEED_PROGRAM, scale, seed)
    os.makedirs(cache, exist_ok=True)
    with open(path + ".tmp", "w") as f:
        json.dump({"scale": scale.name, "seed": seed, "val_loss": metrics["val_loss"]}, f)
    os.replace(path + ".tmp", path)
    return metrics["val_loss"], CACHED
