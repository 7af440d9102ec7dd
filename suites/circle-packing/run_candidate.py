"""Run a circle-packing candidate and record what it returned, without judging it.

Usage: run_candidate.py CANDIDATE.py OUT.json

The candidate defines run_packing() returning (centers, radii) or (centers, radii, sum_radii),
as OpenEvolve's and ShinkaEvolve's circle-packing programs do; a program with no run_packing()
but a construct_packing() (ASI-Evolve's circle_packing_demo programs) has that called instead.
Everything is written as returned; validation and scoring happen in `asi-evolve validate-packing`.
Non-finite floats are written as the strings "nan", "inf" and "-inf" because JSON has no NaN.
"""

import importlib.util
import json
import math
import sys


def plain(value):
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return repr(value)
    value = float(value)
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value


def main(candidate, out):
    spec = importlib.util.spec_from_file_location("candidate", candidate)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    entry = next((name for name in ("run_packing", "construct_packing") if hasattr(module, name)), None)
    if entry is None:
        sys.exit("the candidate defines no run_packing() (nor construct_packing()) function")
    returned = getattr(module, entry)()
    if not isinstance(returned, (list, tuple)) or len(returned) not in (2, 3):
        sys.exit(f"{entry}() must return (centers, radii) or (centers, radii, sum_radii)")
    packing = {"centers": plain(returned[0]), "radii": plain(returned[1])}
    if len(returned) == 3:
        packing["reported_sum"] = plain(returned[2])
    with open(out, "w") as f:
        json.dump(packing, f)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
