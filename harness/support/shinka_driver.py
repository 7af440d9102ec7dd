"""Runs a ShinkaEvolve example's evaluate.py on a candidate as ShinkaEvolve's scheduler does,
then converts the results it saved into asi-evolve's results protocol ($ASI_EVOLVE_RESULTS).

usage: shinka_driver.py EVALUATE_PY PROGRAM RESULTS_DIR

ShinkaEvolve's local scheduler runs `python evaluate.py --program_path PROGRAM --results_dir
RESULTS_DIR` in the folder the example was launched from, on `gen_N/main.py` with
`gen_N/results`; `run_shinka_eval` saves `metrics.json` and `correct.json` ({"correct": bool,
"error": str|null}) there. Here evaluate.py runs as `__main__` with that command line, in the
working directory it is given. When ShinkaEvolve is not installed, `shinka.core` is
asi-evolve's stand-in (shinka_shim.py, written from the documented contract of
`run_shinka_eval`).

The score is `combined_score`; the candidate is valid when `correct` is true and the score is
finite. Numeric values of `metrics.json`, of its `public` and of its `private` tables become
metrics; `correct.json`'s error, `text_feedback` and the other public values become feedback.
"""

import json
import math
import os
import runpy
import sys

FEEDBACK_CHARS = 2000


def install_shim():
    try:
        import shinka.core  # noqa: F401

        return
    except Exception:
        pass
    import importlib.util
    import types

    here = os.path.dirname(os.path.abspath(__file__))
    spec = importlib.util.spec_from_file_location("shinka.core", os.path.join(here, "shinka_shim.py"))
    core = importlib.util.module_from_spec(spec)
    package = types.ModuleType("shinka")
    package.__path__ = []
    package.core = core
    sys.modules["shinka"] = package
    sys.modules["shinka.core"] = core
    spec.loader.exec_module(core)


def number(value):
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)) and math.isfinite(value):
        return float(value)
    return None


def convert(metrics, correct):
    numbers, notes = {}, []
    if correct.get("error"):
        notes.append(str(correct["error"]))
    if metrics.get("text_feedback"):
        notes.append(str(metrics["text_feedback"]))
    for section in ("", "public", "private"):
        table = metrics if section == "" else metrics.get(section) or {}
        if not isinstance(table, dict):
            continue
        for key, value in table.items():
            if section == "" and key in ("public", "private", "text_feedback"):
                continue
            n = number(value)
            if n is not None:
                numbers.setdefault(str(key), n)
            elif section == "public" and value not in (None, "", []):
                notes.append(f"{key}:\n{value}" if "\n" in str(value) else f"{key}: {value}")
    score = number(metrics.get("combined_score"))
    numbers.pop("combined_score", None)
    valid = bool(correct.get("correct")) and score is not None
    if score is None:
        notes.append("metrics.json has no finite combined_score")
    feedback = "\n".join(notes)
    if len(feedback) > FEEDBACK_CHARS:
        feedback = feedback[:FEEDBACK_CHARS] + "..."
    return {"score": score if valid else None, "valid": valid, "metrics": numbers, "feedback": feedback}


def main():
    evaluate_py, program, results_dir = sys.argv[1:4]
    install_shim()
    sys.argv = [evaluate_py, "--program_path", program, "--results_dir", results_dir]
    sys.path.insert(0, os.path.dirname(os.path.abspath(evaluate_py)))
    runpy.run_path(evaluate_py, run_name="__main__")
    with open(os.path.join(results_dir, "metrics.json")) as f:
        metrics = json.load(f)
    with open(os.path.join(results_dir, "correct.json")) as f:
        correct = json.load(f)
    with open(os.environ["ASI_EVOLVE_RESULTS"], "w") as out:
        json.dump(convert(metrics, correct), out, allow_nan=False, default=str)


if __name__ == "__main__":
    main()
