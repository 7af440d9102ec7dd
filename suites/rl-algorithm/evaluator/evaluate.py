"""Cascade evaluator of the rl-algorithm suite (stage from ASI_EVOLVE_STAGE).

stage 1  the hooks on fixed tensors (trainer.py check): shapes, finiteness, gradient flow, a
         loss that is not constant, no gradient on padding. Score: the warm-up's held-out
         accuracy (what the policy has before any RL), so every stage is on one scale.
stage 2  one RL run (the first seed) at full length. Score: its held-out accuracy.
stage 3  the remaining seeds. Score: mean held-out accuracy over all seeds, stage 2's included;
         `accuracy_std` is the spread over seeds.

This process never imports the candidate: a child process (trainer.py) does, and hands back
trained weights, which are scored here on held-out prompts the child never sees. Everything the
child hands back is untrusted: the score is computed here from the weights alone; the child's
report only says whether it succeeded and gives metrics, and a missing or malformed report, or
weights that do not load into the policy, reject the candidate with the reason.
"""

import json
import math
import os
import pathlib
import statistics
import subprocess
import sys
import time

import runtime  # noqa: F401  (environment before torch)
import torch

import arith
import policy
import scales
import warmup

HERE = pathlib.Path(__file__).resolve().parent


REPORT = "trainer-report.json"
MAX_REASON = 2000  # characters of the child's failure reason kept (a candidate's exception text)
# What the child reports: stage 1's facts and each RL run's statistics, all metrics.
CHECK_FACTS = {"check_loss": float, "check_grad_norm": float, "check_groups_kept": int,
               "has_keep_groups": bool, "check_seconds": float}
RUN_FACTS = {"groups_sampled": int, "groups_kept": int, "updates": int, "kl_last": float,
             "train_reward": float, "mean_length": float, "train_reward_last50": float, "seconds": float}


class Rejected(Exception):
    """The child failed, or handed back something that cannot be trusted; the reason says which."""


def weights_path(seed: int) -> str:
    return f"policy.seed{seed}.pt"


def child(mode: str, candidate: str, *seeds: int) -> dict:
    """Runs trainer.py; returns its report, checked (see read_report). Raises Rejected."""
    for path in (REPORT, *map(weights_path, seeds)):  # nothing stale can pass for this run's output
        if os.path.lexists(path):
            os.unlink(path)
    cmd = [sys.executable, str(HERE / "trainer.py"), mode, candidate, REPORT, *map(str, seeds)]
    done = subprocess.run(cmd)
    try:
        return read_report(REPORT, done.returncode, mode, seeds)
    finally:
        if os.path.lexists(REPORT):
            os.unlink(REPORT)


def _fact(where: str, key: str, value, kind):
    if kind is bool:
        ok = isinstance(value, bool)
    else:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        ok = ok and (kind is float or float(value).is_integer())
    if not ok:
        raise Rejected(f"the trainer's report is malformed: {where} `{key}` is {value!r}, not a finite {kind.__name__}")
    return kind(value)


def read_report(path: str, returncode: int, mode: str, seeds) -> dict:
    """The child's report, reduced to what this process uses: `ok`, `reason` or the known facts
    (finite numbers of the right kind). Raises Rejected if it is missing or malformed, or says
    the run failed."""
    if not os.path.exists(path):
        raise Rejected(f"the trainer ({mode}) exited with status {returncode} without writing its report "
                       "(killed, out of memory, or its process was ended); see the stage's log")
    try:
        with open(path) as f:
            out = json.load(f)
    except (OSError, ValueError) as e:
        raise Rejected(f"the trainer's report is not valid JSON ({e})") from None
    if not isinstance(out, dict) or not isinstance(out.get("ok"), bool):
        raise Rejected("the trainer's report is malformed: no boolean `ok`")
    if not out["ok"]:
        reason = out.get("reason")
        if not isinstance(reason, str) or not reason:
            raise Rejected("the trainer failed without a reason")
        raise Rejected(reason if len(reason) <= MAX_REASON else reason[:MAX_REASON] + " [...]")
    if mode == "check":
        return {k: _fact("stage 1", k, out.get(k), kind) for k, kind in CHECK_FACTS.items()}
    runs = out.get("runs")
    if not isinstance(runs, dict) or set(runs) != {str(s) for s in seeds}:
        raise Rejected(f"the trainer's report is malformed: runs for seeds {sorted(runs) if isinstance(runs, dict) else runs!r}, "
                       f"expected {list(seeds)}")
    checked = {}
    for seed in seeds:
        run = runs[str(seed)]
        if not isinstance(run, dict):
            raise Rejected(f"the trainer's report is malformed: seed {seed}'s run is {run!r}")
        facts = {k: _fact(f"seed {seed}", k, run.get(k), kind) for k, kind in RUN_FACTS.items()}
        if facts["groups_sampled"] <= 0:
            raise Rejected(f"the trainer's report is malformed: seed {seed} sampled no groups")
        checked[seed] = facts
    return {"runs": checked}


def heldout_accuracy(scale, weights: str) -> float:
    split = arith.Split(scale.digits, scale.heldout, scale.warmup_examples)
    model = policy.build(scale).to(scale.device)
    try:
        model.load_state_dict(torch.load(weights, map_location=scale.device, weights_only=True))
    except Exception as e:  # missing, not a checkpoint, or not this policy's tensors
        raise Rejected(f"the trained weights {weights} do not load into the policy: {type(e).__name__}: {e}") from None
    return policy.accuracy(model, split, split.heldout, scale.max_new_tokens)


def invalid(reason: str, metrics: dict) -> dict:
    return {"score": None, "valid": False, "metrics": metrics, "feedback": reason}


def train_seeds(scale, candidate: str, seeds: list[int], metrics: dict) -> tuple[dict, str | None]:
    """Trains `seeds` in the child, scores each here; returns ({seed: facts}, failure reason)."""
    try:
        runs = child("train", candidate, *seeds)["runs"]
        for seed in seeds:
            runs[seed]["accuracy"] = heldout_accuracy(scale, weights_path(seed))
    except Rejected as e:
        return {}, str(e)
    finally:
        for seed in seeds:
            if os.path.lexists(weights_path(seed)):
                os.unlink(weights_path(seed))
    return runs, None


def main() -> None:
    stage = int(os.environ.get("ASI_EVOLVE_STAGE", "1"))
    candidate = os.environ["ASI_EVOLVE_CANDIDATE"]
    results_path = os.environ["ASI_EVOLVE_RESULTS"]
    scale = scales.current()
    t0 = time.perf_counter()
    _, warm = warmup.load(scale)
    metrics = {"scale": scale.name, "warmup_accuracy": warm["warmup_accuracy"]}
    if stage == 1:
        try:
            facts = child("check", candidate)
        except Rejected as e:
            result = invalid(f"stage 1 check failed: {e}", metrics)
        else:
            metrics.update(facts)
            result = {"score": warm["warmup_accuracy"], "valid": True, "metrics": metrics,
                      "feedback": f"hooks pass the checks; the warm-up policy scores {warm['warmup_accuracy']:.3f} before RL ({scale.name} scale)"}
    elif stage == 2:
        runs, failure = train_seeds(scale, candidate, [0], metrics)
        if failure:
            result = invalid(f"RL run (seed 0) failed: {failure}", metrics)
        else:
            r = runs[0]
            metrics.update({f"seed0_{k}": v for k, v in r.items()})
            result = {"score": r["accuracy"], "valid": True, "metrics": metrics,
                      "feedback": describe([r], scale)}
    else:
        with open("results.stage2.json") as f:
            first = json.load(f)["metrics"]
        if first.get("scale") != scale.name:
            raise SystemExit(f"stage 2 ran at scale {first.get('scale')!r}, stage 3 at {scale.name!r}")
        seeds = list(range(1, scale.seeds))
        runs, failure = train_seeds(scale, candidate, seeds, metrics)
        if failure:
            result = invalid(f"RL run failed: {failure}", metrics)
        else:
            all_runs = [{k[len("seed0_"):]: v for k, v in first.items() if k.startswith("seed0_")}] + [runs[s] for s in seeds]
            for s in seeds:
                metrics.update({f"seed{s}_{k}": v for k, v in runs[s].items()})
            accs = [r["accuracy"] for r in all_runs]
            metrics["accuracy_mean"] = statistics.fmean(accs)
            metrics["accuracy_std"] = statistics.stdev(accs) if len(accs) > 1 else 0.0
            metrics["seeds"] = len(accs)
            for key in ("groups_kept", "updates", "mean_length", "kl_last", "train_reward"):
                metrics[key] = statistics.fmean(r[key] for r in all_runs)
            result = {"score": metrics["accuracy_mean"], "valid": True, "metrics": metrics,
                      "feedback": describe(all_runs, scale)}
    result["metrics"]["stage_seconds"] = time.perf_counter() - t0
    with open(results_path, "w") as f:
        json.dump(result, f)


def describe(runs: list[dict], scale) -> str:
    accs = ", ".join(f"{r['accuracy']:.3f}" for r in runs)
    kept = statistics.fmean(r["groups_kept"] / r["groups_sampled"] for r in runs)
    upd = statistics.fmean(r["updates"] for r in runs)
    return (f"held-out accuracy after RL ({scale.name} scale, {len(runs)} seed(s)): {accs}; "
            f"{kept:.0%} of sampled groups kept, {upd:.0f} updates per run, mean completion length "
            f"{statistics.fmean(r['mean_length'] for r in runs):.2f}, final KL to the warm-up "
            f"{statistics.fmean(r['kl_last'] for r in runs):.4f}")


if __name__ == "__main__":
    main()
