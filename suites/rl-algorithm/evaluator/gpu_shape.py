"""The gpu scale checked before a GPU is paid for, and run (cut short) when one is there.

    python3 gpu_shape.py                  # CI, on the CPU: the `gpu-shape` scale (about 2 minutes)
    python3 gpu_shape.py --scale gpu      # on one CUDA device (scripts/gpu-check.sh run)

`gpu-shape` (scales.py) is `gpu` with `device = cpu`, 10 warm-up steps, one RL step, one held-out
batch of 500 prompts and one seed; the policy, task, batch shapes (64 prompts x 16 samples per RL
step, warm-up batches of 128), warm-up file name and cache folder are the gpu scale's. On the CPU
this script:

1. checks that `gpu-shape` differs from `gpu` in nothing but those cuts;
2. checks the gpu scale's task and folders: the split's sizes, the context length, where the
   warm-up checkpoint is cached (it is trained on first use, nothing ships);
3. prints the policy's parameter count and an estimate of the GPU memory of the gpu scale's RL
   update (formula below), measured at the gpu batch shape;
4. evaluates the seed (GRPO) through `evaluate.py` stage by stage as the harness does: stage 1
   trains the warm-up at the gpu shapes and caches it in a fresh cache folder, stage 2 runs one RL
   step (one update of 64 groups of 16) in the training process and scores the weights in the
   parent, stage 3 reads stage 2's results and averages over the seeds (no further RL run with
   one seed); every stage must be valid.

With `--scale gpu` (on a GPU) it runs the real warm-up for at most `--warmup-steps` steps (the gpu
scale allows 5,000, stopping at held-out accuracy 0.40), then `--rl-steps` RL steps of the seed
from it (the trainer's rl_run), and prints steps per second of each and the held-out accuracy.

Exit status 0 when every check passes, 1 otherwise, 3 when `--scale gpu` finds no CUDA device.

Memory estimate (fp32), with P the policy's parameters:
    GPU memory of the RL update  ~=  20P  +  32P  +  S
    20P: the policy's weights, gradients and Adam's two moments (16P) and the frozen reference
         policy's weights (4P);
    32P: the trainer's integrity check, which copies every watched tensor (policy, reference,
         Adam's state: 16P bytes) before and after each hook call, two copies at once;
    S:   the peak of activations and their gradients in one update (reference log-probabilities,
         then forward, loss and backward of the policy on all 1,024 completions at full length),
         measured on the CPU as the growth of resident memory across it, in a process of its own
         (with `--scale gpu`: on the GPU, the allocator's peak); A, the part autograd saves for
         the backward pass, is printed beside it.
Sampling, the warm-up's batches of 128 and the held-out batches of 500 run without gradients or
on smaller batches, and need less. The CUDA context (about 0.5 GiB) comes on top.
"""

import argparse
import dataclasses
import json
import math
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import runtime  # noqa: E402,F401  (environment before torch)
import torch  # noqa: E402

import arith  # noqa: E402
import policy  # noqa: E402
import scales  # noqa: E402
import warmup  # noqa: E402

SEED = HERE.parent / "initial_program.py"
ALLOWED_CUTS = {"name", "device", "heldout", "warmup_max_steps", "steps", "seeds"}
GIB = 1 << 30


class Failures(list):
    def check(self, ok, what):
        print(f"  {'ok  ' if ok else 'FAIL'} {what}", flush=True)
        if not ok:
            self.append(what)
        return ok


def check_cuts(scale, fail):
    print("1. gpu-shape against gpu", flush=True)
    gpu, ours = dataclasses.asdict(scales.GPU), dataclasses.asdict(scale)
    differ = {k for k in gpu if gpu[k] != ours[k]}
    cuts = ", ".join(f"{k} {gpu[k]} -> {ours[k]}" for k in sorted(differ))
    fail.check(differ <= ALLOWED_CUTS, f"differs from gpu only in {sorted(ALLOWED_CUTS)}: {cuts or 'nothing'}")


def check_task(fail):
    print("2. the gpu scale's task and folders", flush=True)
    gpu = scales.GPU
    split = arith.Split(gpu.digits, gpu.heldout, gpu.warmup_examples)
    fail.check(split.pool.shape[0] > gpu.prompts_per_step and split.warmup.max() < split.a.shape[0],
               f"{gpu.digits}-digit split: {gpu.heldout} held-out, {gpu.warmup_examples} warm-up, "
               f"{split.pool.shape[0]} RL-pool pairs")
    context = arith.prompt_len(gpu.digits) + gpu.max_new_tokens
    fail.check(policy.build(gpu).pos.num_embeddings == context,
               f"context {context} tokens (prompt {arith.prompt_len(gpu.digits)} + {gpu.max_new_tokens} new)")
    path = warmup.path_for(gpu)
    shipped = path.parent == warmup.SUITE_DIR / "warmup"
    print(f"  note warm-up {'ships as' if shipped else 'is trained on first use and cached as'} {path}", flush=True)


def measure(device):
    """In a process of its own (`--measure`): one RL update's forward and backward at the gpu
    batch shape; prints the parameter count, the saved bytes (A) and the step's peak (S: on the
    CPU the growth of resident memory, on CUDA the allocator's peak over the models' memory)."""
    import resource

    import torch.nn.functional as F

    gpu = scales.GPU
    torch.manual_seed(0)
    model, ref = policy.build(gpu).to(device), policy.build(gpu).to(device)
    n, t = gpu.prompts_per_step * gpu.samples_per_prompt, gpu.max_new_tokens
    split = arith.Split(gpu.digits, gpu.heldout, gpu.warmup_examples)
    prompts = split.prompts(split.pool[:n]).to(device)
    completions = torch.randint(0, 10, (n, t)).to(device)  # no EOS: every completion at full length
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    saved = {}

    def pack(x):
        storage = x.untyped_storage()
        if storage.data_ptr() not in params:
            saved[storage.data_ptr()] = storage.nbytes()
        return x

    cuda = device == "cuda"
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
    else:
        with open("/proc/self/statm") as f:
            before = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    start = time.perf_counter()
    with torch.no_grad():
        ref_logp = policy.token_logp(ref, prompts, completions)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda x: x):
        logp = policy.token_logp(model, prompts, completions)
        loss = -(logp * torch.randn(n, 1, device=device)).mean() + F.mse_loss(logp, ref_logp)
    loss.backward()
    if cuda:
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated()
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    seconds = time.perf_counter() - start
    p = sum(x.numel() for x in model.parameters())
    step = max(0, peak - before)
    print(json.dumps({"params": p, "shape": [n, prompts.shape[1] + t - 1], "device": device, "states_bytes": 20 * p,
                      "integrity_bytes": 32 * p, "saved_bytes": sum(saved.values()), "step_peak_bytes": step,
                      "total_bytes": 52 * p + step, "step_seconds": seconds}))


def memory(fail, device):
    print(f"3. parameters and GPU memory of the gpu scale's RL update (20P + 32P + S, S measured on {device}; "
          "see the module text)", flush=True)
    done = subprocess.run([sys.executable, __file__, "--measure", "--device", device], capture_output=True, text=True)
    if done.returncode != 0:
        fail.check(False, f"measuring the update failed:\n{done.stderr}")
        return None
    e = json.loads(done.stdout.strip().splitlines()[-1])
    shape = "x".join(map(str, e["shape"]))
    print(f"  policy: {e['params']:,} parameters; 20P = {e['states_bytes'] / GIB:.3f} GiB, 32P = "
          f"{e['integrity_bytes'] / GIB:.3f} GiB; one update's forward and backward at [{shape}] on {e['device']} "
          f"({e['step_seconds']:.1f} s): saved activations A = {e['saved_bytes'] / GIB:.2f} GiB, step peak "
          f"S = {e['step_peak_bytes'] / GIB:.2f} GiB; estimate {e['total_bytes'] / GIB:.2f} GiB", flush=True)
    fail.check(e["total_bytes"] < 70 * GIB, f"about {e['total_bytes'] / GIB:.2f} GiB (+ ~0.5 GiB CUDA context), "
                                             "within one 80 GB H100")
    return e


def run_stage(stage, scale, workdir, cache):
    env = dict(os.environ, ASI_EVOLVE_SCALE=scale.name, ASI_EVOLVE_STAGE=str(stage),
               ASI_EVOLVE_CANDIDATE=str(workdir / "candidate.py"),
               ASI_EVOLVE_RESULTS=str(workdir / f"results.stage{stage}.json"),
               ASI_EVOLVE_CACHE_DIR=str(cache), TMPDIR=str(workdir / "tmp"))
    start = time.perf_counter()
    done = subprocess.run([sys.executable, str(HERE / "evaluate.py")], cwd=workdir, env=env)
    seconds = time.perf_counter() - start
    try:
        with open(env["ASI_EVOLVE_RESULTS"]) as f:
            return json.load(f), seconds, f"exit status {done.returncode}"
    except (OSError, ValueError) as e:
        return None, seconds, f"exit status {done.returncode}, no results ({e})"


def evaluate(scale, fail, workdir):
    print(f"4. the seed evaluated at {scale.name}, stage by stage as the harness runs evaluate.py", flush=True)
    shutil.copy(SEED, workdir / "candidate.py")
    (workdir / "tmp").mkdir()
    cache = workdir / "cache"
    stages = []
    for stage in (1, 2, 3):
        result, seconds, how = run_stage(stage, scale, workdir, cache)
        entry = {"stage": stage, "seconds": seconds, "valid": bool(result and result.get("valid")),
                 "score": result and result.get("score"), "metrics": (result or {}).get("metrics", {}),
                 "feedback": (result or {}).get("feedback", how)}
        stages.append(entry)
        score = entry["score"]
        if not fail.check(entry["valid"] and isinstance(score, (int, float)) and math.isfinite(score),
                          f"stage {stage} ({seconds:.1f} s, {how}): score {score!r}: {entry['feedback']}"):
            break
        m = entry["metrics"]
        if stage == 1:
            cached = sorted(p.name for p in cache.glob("*.pt")) if cache.is_dir() else []
            want = pathlib.Path(scale.warmup_file).stem + "-"
            fail.check(len(cached) == 1 and cached[0].startswith(want),
                       f"warm-up trained at the gpu shapes and cached: {cached}")
        if stage == 2:
            fail.check(m.get("seed0_groups_sampled") == scale.steps * scale.prompts_per_step
                       and m.get("seed0_updates") == scale.steps,
                       f"{m.get('seed0_groups_sampled')} groups sampled, {m.get('seed0_updates')} update(s) of "
                       f"{scale.prompts_per_step} x {scale.samples_per_prompt}")
        if stage == 3:
            fail.check(m.get("seeds") == scale.seeds, f"mean over {m.get('seeds')} seeds")
    return stages


def gpu_run(args, fail):
    """On a GPU: the real warm-up, capped at --warmup-steps, then --rl-steps RL steps of the seed."""
    import evaluate
    import trainer
    from objective import Objective

    gpu = scales.GPU
    print(f"rl-algorithm at gpu on {torch.cuda.get_device_name(0)}: warm-up (at most {args.warmup_steps} of "
          f"{gpu.warmup_max_steps} steps, target {gpu.warmup_target}), then {args.rl_steps} RL steps of the seed",
          flush=True)
    out = {"warmup_cap": args.warmup_steps, "rl_steps": args.rl_steps}
    torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    state, facts = warmup.train(dataclasses.replace(gpu, warmup_max_steps=args.warmup_steps))
    torch.cuda.synchronize()
    out["warmup_seconds"] = time.perf_counter() - start
    out.update(facts)
    out["warmup_steps_per_s"] = facts["warmup_steps"] / out["warmup_seconds"]
    fail.check(math.isfinite(facts["warmup_accuracy"]),
               f"warm-up: {facts['warmup_steps']} steps in {out['warmup_seconds']:.1f} s "
               f"({out['warmup_steps_per_s']:.1f} steps/s, held-out checks included), held-out accuracy "
               f"{facts['warmup_accuracy']:.3f} (target {gpu.warmup_target}"
               f"{', reached' if facts['warmup_accuracy'] >= gpu.warmup_target else ', not reached in the cap'})")
    short = dataclasses.replace(gpu, steps=args.rl_steps)
    weights = os.path.join(args.workdir, "policy.seed0.pt")
    start = time.perf_counter()
    stats = trainer.rl_run(Objective(str(SEED)), short, 0, state, weights)
    torch.cuda.synchronize()
    out["rl_seconds"] = time.perf_counter() - start
    out["rl_steps_per_s"] = args.rl_steps / out["rl_seconds"]
    out.update({f"rl_{k}": v for k, v in stats.items()})
    out["rl_heldout_accuracy"] = evaluate.heldout_accuracy(gpu, weights)
    out["peak_gpu_bytes"] = torch.cuda.max_memory_allocated()
    fail.check(stats["updates"] > 0 and math.isfinite(stats["kl_last"]),
               f"RL: {args.rl_steps} steps in {out['rl_seconds']:.1f} s ({out['rl_steps_per_s']:.2f} steps/s; "
               f"the gpu scale's {gpu.steps} steps x {gpu.seeds} seeds would take about "
               f"{gpu.steps * gpu.seeds / out['rl_steps_per_s'] / 60:.0f} min), {stats['updates']} updates, train reward "
               f"{stats['train_reward']:.3f}, held-out accuracy after {out['rl_heldout_accuracy']:.3f}, "
               f"peak allocated {out['peak_gpu_bytes'] / GIB:.2f} GiB")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", default="gpu-shape", choices=["gpu-shape", "gpu"])
    ap.add_argument("--json", help="write the numbers here")
    ap.add_argument("--warmup-steps", type=int, default=300, help="--scale gpu: cap on the warm-up's steps")
    ap.add_argument("--rl-steps", type=int, default=30, help="--scale gpu: RL steps")
    ap.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--device", default="cpu", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.measure:
        measure(args.device)
        return 0
    scale = scales.SCALES[args.scale]
    if scale.device == "cuda" and not torch.cuda.is_available():
        print(f"gpu_shape.py --scale {scale.name}: no CUDA device (torch.cuda.is_available() is False)", flush=True)
        return 3
    start = time.perf_counter()
    fail = Failures()
    workdir = pathlib.Path(tempfile.mkdtemp(prefix="rl-gpu-shape-"))
    args.workdir = str(workdir)
    result = {"scale": scale.name}
    try:
        if scale.name == "gpu-shape":
            check_cuts(scale, fail)
        check_task(fail)
        result["memory"] = memory(fail, scale.device)
        if scale.name == "gpu":
            try:
                result.update(gpu_run(args, fail))
            except Exception as e:  # reported in the table, with the traceback above it
                import traceback

                traceback.print_exc()
                fail.check(False, f"the gpu run failed: {type(e).__name__}: {e}")
        else:
            result["stages"] = evaluate(scale, fail, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    total = time.perf_counter() - start
    verdict = "passed" if not fail else f"FAILED ({len(fail)}): " + "; ".join(fail)
    print(f"rl-algorithm {scale.name}: {verdict}, {total:.0f} s", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result | {"ok": not fail, "failures": fail, "seconds": total}, f, indent=1)
    return 0 if not fail else 1


if __name__ == "__main__":
    sys.exit(main())
