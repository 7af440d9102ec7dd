"""The linear-attention suite's cascade evaluator. `ASI_EVOLVE_STAGE` (set by the harness) says
which stage runs; run by hand (`python3 evaluate.py CANDIDATE.py`) it runs all three in order and
prints each stage's results. See task.md for the stages and the score.

One score scale for all stages: stage 1 scores 0, stage 2 scores W_MQAR * MQAR accuracy, stage 3
adds W_LM * reference_loss / held-out loss. A later stage only adds a non-negative term, so a
cascade threshold is a bound on the final score's known part.

This process never imports the candidate: each stage runs it in a confined process of its own
(evaluator/worker.py), and the results are written here, from what this process measured.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from evaluator import runtime  # noqa: E402  (sets OMP_WAIT_POLICY before torch loads)
from evaluator import lm, mqar, scales  # noqa: E402
from evaluator.candidate import CandidateProcess  # noqa: E402
from evaluator.reference import reference_loss  # noqa: E402

W_MQAR = 0.25
W_LM = 0.75
CHECK_METRICS = ("params", "params_ratio", "mixer_params", "causal_max_change")


def stage1(candidate, scale, seed):
    with CandidateProcess("check", candidate, scale, seed) as process:
        metrics = process.ready["metrics"]
    if not isinstance(metrics, dict) or not all(isinstance(metrics.get(k), (int, float)) for k in CHECK_METRICS):
        raise runtime.Rejected(f"stage 1: the candidate's process reported no check metrics ({metrics!r:.200})")
    metrics = {k: metrics[k] for k in CHECK_METRICS} | {"confined": int(process.confined)}
    return 0.0, metrics, (
        f"stage 1 passed every check (scale {scale.name}): {metrics['params']} parameters, "
        f"{metrics['params_ratio']:.3f}x the seed's; causal to {metrics['causal_max_change']:.1g}."
    )


def stage2(candidate, scale, seed):
    metrics = mqar.run(candidate, scale, seed)
    acc = metrics["mqar_accuracy"]
    return W_MQAR * acc, metrics, (
        f"MQAR ({scale.mqar.pairs} pairs, scale {scale.name}): recall accuracy {acc:.4f} "
        f"(chance {metrics['mqar_chance']:.4f}), final training loss {_shown(metrics['mqar_train_loss'])}."
    )


def stage3(candidate, scale, seed, mqar_accuracy):
    metrics, corpus = lm.run(candidate, scale, seed)
    reference, origin = reference_loss(scale, seed)
    quality = reference / metrics["val_loss"]
    metrics["lm_quality"] = quality
    score = W_MQAR * mqar_accuracy + W_LM * quality
    return score, metrics, (
        f"language model ({corpus}, scale {scale.name}): held-out loss {metrics['val_loss']:.4f} nats/byte "
        f"({metrics['val_bpc']:.4f} bits), DeltaNet seed {reference:.4f} ({origin}); "
        f"score = {W_MQAR} x MQAR {mqar_accuracy:.4f} + {W_LM} x {quality:.4f} = {score:.6f}."
    )


def _shown(x):
    return "not reported" if x is None else f"{x:.4f}"


def run_stage(stage, candidate, scale, seed, mqar_accuracy=None):
    try:
        if stage == 1:
            return stage1(candidate, scale, seed)
        if stage == 2:
            return stage2(candidate, scale, seed)
        return stage3(candidate, scale, seed, mqar_accuracy)
    except runtime.Rejected as e:
        return None, {}, str(e)


def main():
    scale = scales.current()
    seed = scales.train_seed()
    runtime.deterministic(scale)
    candidate = runtime.candidate_path()
    stage = os.environ.get("ASI_EVOLVE_STAGE")
    if stage is not None:
        stage = int(stage)
        if stage not in (1, 2, 3):
            raise SystemExit(f"ASI_EVOLVE_STAGE={stage}: this evaluator has stages 1 to 3")
        accuracy = runtime.read_stage(2)["metrics"]["mqar_accuracy"] if stage == 3 else None
        score, metrics, feedback = run_stage(stage, candidate, scale, seed, accuracy)
        metrics["seed"] = seed
        runtime.write(score, metrics, feedback, valid=score is not None)
        return
    accuracy = None
    for stage in (1, 2, 3):
        score, metrics, feedback = run_stage(stage, candidate, scale, seed, accuracy)
        print(f"stage {stage}: score {score!r} {metrics} {feedback}", flush=True)
        if score is None:
            break
        accuracy = metrics.get("mqar_accuracy", accuracy)


if __name__ == "__main__":
    main()
