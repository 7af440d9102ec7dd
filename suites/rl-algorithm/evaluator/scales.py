"""The sizes of each scale, chosen by ASI_EVOLVE_SCALE (cpu when unset).

cpu: the proxy the issue measured (2-digit addition, tiny transformer, 16 prompts x 8 samples).
ci:  the same task, policy and warm-up checkpoint with fewer RL steps and seeds, so CI can verify
     the four baselines in a few minutes; its scores are recorded separately from cpu's.
gpu: a larger task and policy for one GPU; its warm-up is trained on first use and cached.
gpu-shape: gpu on the CPU with its step counts cut (gpu_shape.py, run in CI).
"""

import dataclasses
import os


@dataclasses.dataclass(frozen=True)
class Scale:
    name: str
    device: str
    # task
    digits: int  # operand digits; answers are written lowest digit first
    slack_tokens: int  # generation budget beyond the longest correct answer (room to be overlong)
    heldout: int  # held-out prompts, scored greedily after RL
    # policy
    d_model: int
    layers: int
    heads: int
    # warm-up (supervised, then frozen as the starting point and the KL reference)
    warmup_seed: int
    warmup_examples: int
    warmup_batch: int
    warmup_lr: float
    warmup_max_steps: int
    warmup_target: float  # stop once held-out accuracy reaches this (checked every 10 steps)
    warmup_file: str  # shipped checkpoint under warmup/, or cached in the suite cache (ASI_EVOLVE_CACHE_DIR)
    # RL
    prompts_per_step: int
    samples_per_prompt: int
    steps: int  # sampling steps: the budget is steps x prompts_per_step groups, whatever is kept
    updates_per_batch: int
    lr: float
    seeds: int  # RL seeds of the full evaluation (stage 2 runs the first)
    temperature: float = 1.0

    @property
    def max_new_tokens(self) -> int:
        return self.digits + 2 + self.slack_tokens  # digits + carry + EOS + slack


CPU = Scale(
    name="cpu",
    device="cpu",
    digits=2,
    slack_tokens=2,
    heldout=1000,
    d_model=64,
    layers=2,
    heads=4,
    warmup_seed=0,
    warmup_examples=2000,
    warmup_batch=32,
    warmup_lr=3e-3,
    warmup_max_steps=400,
    warmup_target=0.40,
    warmup_file="warmup-d2-m64x2.pt",
    prompts_per_step=16,
    samples_per_prompt=8,
    steps=400,
    updates_per_batch=2,
    lr=1e-3,
    seeds=3,
)

CI = dataclasses.replace(CPU, name="ci", steps=80, seeds=2)

GPU = Scale(
    name="gpu",
    device="cuda",
    digits=4,
    slack_tokens=4,
    heldout=5000,
    d_model=256,
    layers=6,
    heads=8,
    warmup_seed=0,
    warmup_examples=20000,
    warmup_batch=128,
    warmup_lr=1e-3,
    warmup_max_steps=5000,
    warmup_target=0.40,
    warmup_file="warmup-d4-m256x6.pt",
    prompts_per_step=64,
    samples_per_prompt=16,
    steps=1000,
    updates_per_batch=2,
    lr=3e-4,
    seeds=5,
)

# The gpu scale on the CPU, for gpu_shape.py (CI): the gpu policy, task, batch shapes (64 prompts x
# 16 samples, warm-up batches of 128), warm-up file name and cache folder, with `device = cpu`,
# the step counts cut to a handful (10 warm-up steps, so one held-out check runs; one RL step, so
# one update), one held-out batch of 500 prompts instead of ten, and one seed (stage 3 then runs
# its code with no further RL run: a second one would cost CI another minute). Not a scale to
# score at.
GPU_SHAPE = dataclasses.replace(GPU, name="gpu-shape", device="cpu", heldout=500, warmup_max_steps=10, steps=1,
                                seeds=1)

SCALES = {s.name: s for s in (CPU, CI, GPU, GPU_SHAPE)}


def current() -> Scale:
    name = os.environ.get("ASI_EVOLVE_SCALE", "cpu") or "cpu"
    if name not in SCALES:
        raise SystemExit(f"ASI_EVOLVE_SCALE={name!r} is not a scale of this suite (one of: {', '.join(SCALES)})")
    return SCALES[name]
