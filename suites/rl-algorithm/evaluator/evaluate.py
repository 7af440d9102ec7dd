"""Cascade evaluator of the rl-algorithm suite (stage from ASI_EVOLVE_STAGE).

stage 1  the hooks on fixed tensors (trainer.py check): shapes, finiteness, gradient flow, a
         loss that is not constant, no gradient on padding. Score: the warm-up's held-out
         accuracy (what the policy has before any RL), so every stage is on one scale.
stage 2  one RL run (the first seed) at full length. Score: its held-out accuracy.
stage 3  the remaining seeds. Score: mean held-out accuracy over all seeds, stage 2's included;
         `accuracy_std` is the spread over seeds.

This process never imports the candidate: a child process (trainer.py) does, and hands back
trained weights, which are scored here on held-out prompts the child never sees.
"""

import json
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


def child(mode: str, candidate: str, report: str, *seeds: int) -> dict:
    cmd = [sys.executable, str(HERE / "trainer.py"), mode, candidate, report, *map(str, seeds)]
    done = subprocess.run(cmd)
    if not os.path.exists(report):
        raise SystemExit(f"the trainer ({mode}) exited with status {done.returncode} and wrote no report")
    with open(report) as f:
        out = json.load(f)
    os.unlink(report)
    return out


def heldout_accuracy(scale, weights: str) -> float:
    split = arith.Split(scale.digits, scale.heldout, scale.warmup_examples)
    model = policy.build(scale).to(scale.device)
    model.load_state_dict(torch.load(weights, map_location=scale.device, weights_only=True))
    return policy.accuracy(model, split, split.heldout, scale.max_new_tokens)


def invalid(reason: str, metrics: dict) -> dict:
    return {"score": None, "valid": False, "metrics": metrics, "feedback": reason}


def train_seeds(scale, candidate: str, seeds: list[int], metrics: dict) -> tuple[dict, str | None]:
    """Trains `seeds` in the child, scores each here; returns ({seed: facts}, failure reason)."""
    out = child("train", candidate, "trainer-report.json", *seeds)
    if not out["ok"]:
        return {}, out["reason"]
    runs = {}
    for seed in seeds:
        facts = out["runs"][str(seed)]
        weights = f"policy.seed{seed}.pt"
        facts["accuracy"] = heldout_accuracy(scale, weights)
        os.unlink(weights)
        runs[seed] = facts
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
        out = child("check", candidate, "trainer-report.json")
        if not out["ok"]:
            result = invalid(f"stage 1 check failed: {out['reason']}", metrics)
        else:
            metrics.update({k: v for k, v in out.items() if k not in ("ok",)})
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
