"""Runs an OpenEvolve evaluator on a candidate the way OpenEvolve's `openevolve/evaluator.py`
does, and writes asi-evolve's results protocol to $ASI_EVOLVE_RESULTS.

usage: openevolve_driver.py EVALUATOR_PY CANDIDATE --timeout S
           [--cascade T1,T2,...] [--features NAME,...]

Without --cascade, `evaluate(path)` runs. With it (OpenEvolve's `cascade_evaluation`),
`evaluate_stage1` runs; stage 2 runs only if stage 1's metrics pass T1, and stage 3 only if
stages 1 and 2's merged metrics pass T2 (there must be a T2) — OpenEvolve's gates: a metrics
dict passes a threshold when its `combined_score`, else the mean of its numeric values other
than `error`, is at least the threshold. The outcome is the last result OpenEvolve keeps: stage
1's own metrics when the cascade stops there, the merged numeric metrics (no `error`) after
stage 2 or 3. A later stage that raises or runs past --timeout keeps the earlier result with
`stageN_passed: 0`, as in OpenEvolve; stage 1 (or `evaluate`) raising is a crash, and running
past --timeout makes the candidate invalid.

The score is `combined_score`, else OpenEvolve's fitness: the mean of the numeric, non-boolean
metrics that are not feature dimensions (--features). A non-finite score, no score, or an
`error` message makes the candidate invalid. The metrics `stage` (the last stage run) and
`stages` (stage functions defined) say how far the cascade went; non-numeric values and an
EvaluationResult's artifacts become feedback.
"""

import argparse
import dataclasses
import importlib.util
import json
import math
import os
import sys
import threading
import traceback
import types

FEEDBACK_CHARS = 2000
MAX_STAGES = 3


def install_shim():
    """Lets `from openevolve.evaluation_result import EvaluationResult` work without OpenEvolve."""
    try:
        import openevolve.evaluation_result  # noqa: F401

        return
    except Exception:
        pass

    @dataclasses.dataclass
    class EvaluationResult:
        metrics: dict
        artifacts: dict = dataclasses.field(default_factory=dict)

        @classmethod
        def from_dict(cls, metrics):
            return cls(metrics=metrics)

        def to_dict(self):
            return self.metrics

        def has_artifacts(self):
            return bool(self.artifacts)

    package = types.ModuleType("openevolve")
    package.__path__ = []
    module = types.ModuleType("openevolve.evaluation_result")
    module.EvaluationResult = EvaluationResult
    package.evaluation_result = module
    package.EvaluationResult = EvaluationResult
    sys.modules["openevolve"] = package
    sys.modules["openevolve.evaluation_result"] = module


class StageTimeout(Exception):
    pass


def call(function, path, timeout):
    """Runs function(path) in a thread and waits at most `timeout` seconds, as OpenEvolve's
    asyncio.wait_for around run_in_executor does (the thread is abandoned, not stopped)."""
    outcome = {}

    def target():
        try:
            outcome["value"] = function(path)
        except BaseException as e:  # noqa: BLE001 - re-raised in the caller's thread
            outcome["error"] = e
            outcome["traceback"] = traceback.format_exc()

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise StageTimeout(f"{function.__name__} ran past the {timeout:g} s timeout")
    if "error" in outcome:
        sys.stderr.write(outcome["traceback"])
        raise outcome["error"]
    return outcome["value"]


def split(result):
    """(metrics, artifacts) of a dict or an EvaluationResult-like object."""
    metrics = getattr(result, "metrics", result)
    artifacts = dict(getattr(result, "artifacts", None) or {})
    if not isinstance(metrics, dict):
        raise TypeError(f"the evaluator returned {type(metrics).__name__}, not a dict of metrics")
    return dict(metrics), artifacts


def passes_threshold(metrics, threshold):
    """OpenEvolve's Evaluator._passes_threshold."""
    if not metrics:
        return False
    score = metrics.get("combined_score")
    if "combined_score" in metrics and isinstance(score, (int, float)):
        return float(score) >= threshold
    values = [float(v) for k, v in metrics.items() if k != "error" and isinstance(v, (int, float))]
    return bool(values) and sum(values) / len(values) >= threshold


def merge_numeric(into, metrics):
    """OpenEvolve's merge of stage metrics: numbers only, as floats, never `error`."""
    for name, value in metrics.items():
        if isinstance(value, (int, float)) and name != "error":
            into[name] = float(value)


def cascade(module, path, thresholds, timeout):
    """(metrics, artifacts, last stage run, notes) as OpenEvolve's _cascade_evaluate keeps them."""
    notes = []
    metrics, artifacts = split(call(module.evaluate_stage1, path, timeout))
    if not passes_threshold(metrics, thresholds[0]):
        notes.append(f"stopped after stage 1: its metrics do not reach the threshold {thresholds[0]:g} for stage 2")
        return metrics, artifacts, 1, notes
    if not hasattr(module, "evaluate_stage2"):
        return metrics, artifacts, 1, notes
    merged, merged_artifacts = {}, {}
    for stage in range(2, MAX_STAGES + 1):
        try:
            later, later_artifacts = split(call(getattr(module, f"evaluate_stage{stage}"), path, timeout))
        except Exception as e:  # noqa: BLE001 - OpenEvolve keeps the earlier stages' result
            kept = metrics if stage == 2 else merged
            kept[f"stage{stage}_passed"] = 0.0
            if isinstance(e, StageTimeout):
                kept["timeout"] = True
            notes.append(f"stage {stage} failed, the earlier result is kept: {type(e).__name__}: {e}")
            return kept, (artifacts if stage == 2 else merged_artifacts), stage, notes
        if stage == 2:
            merge_numeric(merged, metrics)
            merged_artifacts.update(artifacts)
        merge_numeric(merged, later)
        merged_artifacts.update(later_artifacts)
        if stage == MAX_STAGES:
            return merged, merged_artifacts, stage, notes
        gate = thresholds[stage - 1] if len(thresholds) >= stage else None
        if gate is None or not passes_threshold(merged, gate):
            if gate is not None and hasattr(module, f"evaluate_stage{stage + 1}"):
                notes.append(
                    f"stopped after stage {stage}: its merged metrics do not reach the threshold {gate:g} for stage {stage + 1}"
                )
            return merged, merged_artifacts, stage, notes
        if not hasattr(module, f"evaluate_stage{stage + 1}"):
            return merged, merged_artifacts, stage, notes
    raise AssertionError("unreachable")


def as_number(value):
    if isinstance(value, (bool, int, float)):
        return float(value)
    return None


def fitness(metrics, features):
    """OpenEvolve's get_fitness_score."""
    if "combined_score" in metrics:
        try:
            return float(metrics["combined_score"])
        except (TypeError, ValueError):
            pass
    values = [
        float(v)
        for k, v in metrics.items()
        if k not in features and isinstance(v, (int, float)) and not isinstance(v, bool) and v == v
    ]
    return sum(values) / len(values) if values else None


def convert(metrics, artifacts, stage, stages, notes, features):
    numbers, texts, non_finite = {}, [], []
    for key, value in metrics.items():
        number = as_number(value)
        if number is None:
            texts.append(f"{key}: {value}")
        elif math.isfinite(number):
            numbers[str(key)] = number
        else:
            non_finite.append(str(key))
    score = fitness(metrics, features)
    numbers.pop("combined_score", None)
    error = metrics.get("error")
    valid = score is not None and math.isfinite(score) and not (isinstance(error, str) and error.strip())
    if non_finite:
        texts.append("not finite: " + ", ".join(non_finite))
    if score is None:
        texts.append("no combined_score and no numeric metric to average")
    numbers["stage"] = float(stage)
    numbers["stages"] = float(stages)
    texts.extend(notes)
    texts.extend(f"{key}: {value}" for key, value in artifacts.items())
    feedback = "\n".join(texts)
    if len(feedback) > FEEDBACK_CHARS:
        feedback = feedback[:FEEDBACK_CHARS] + "..."
    return {"score": score if valid else None, "valid": valid, "metrics": numbers, "feedback": feedback}


def write(results):
    with open(os.environ["ASI_EVOLVE_RESULTS"], "w") as out:
        json.dump(results, out, allow_nan=False, default=str)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("evaluator")
    parser.add_argument("candidate")
    parser.add_argument("--timeout", type=float, required=True)
    parser.add_argument("--cascade", default=None)
    parser.add_argument("--features", default="")
    args = parser.parse_args()
    features = [f for f in args.features.split(",") if f]

    sys.path.insert(0, os.path.dirname(os.path.abspath(args.evaluator)))
    install_shim()
    spec = importlib.util.spec_from_file_location("evaluation_module", args.evaluator)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    path = os.path.abspath(args.candidate)
    try:
        # OpenEvolve evaluates directly when the cascade has no first stage.
        if args.cascade is not None and hasattr(module, "evaluate_stage1"):
            thresholds = [float(t) for t in args.cascade.split(",") if t]
            stages = sum(1 for n in range(1, MAX_STAGES + 1) if hasattr(module, f"evaluate_stage{n}"))
            metrics, artifacts, stage, notes = cascade(module, path, thresholds, args.timeout)
        else:
            stages = 1
            metrics, artifacts = split(call(module.evaluate, path, args.timeout))
            stage, notes = 1, []
    except StageTimeout as e:
        write({"valid": False, "score": None, "feedback": f"{e} (OpenEvolve's evaluator.timeout)"})
    else:
        write(convert(metrics, artifacts, stage, stages, notes, features))
    sys.stdout.flush()
    sys.stderr.flush()
    # A timed-out stage's thread may still run; the results are written, so end here.
    os._exit(0)


if __name__ == "__main__":
    main()
