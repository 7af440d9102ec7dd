"""Experiment sizes. `ASI_EVOLVE_SCALE` picks one (the suite folders set it in suite.toml):

- `cpu`: the default proxy, about 1-3 minutes per full evaluation on 2 cores;
- `ci`: a smaller proxy that keeps CI's verify of the baselines within its time budget;
- `gpu`: the paper's exploration shape (8 layers, d 256, 2,000 steps; the paper's ~20M parameters
  include a subword embedding, ours has 256 byte tokens) on one CUDA device, with fla's kernels
  when fla is importable. Never run here: no GPU was available when it was written;
  `scripts/gpu-check.sh run` runs one evaluation of the seed at this scale on a GPU;
- `gpu-shape`: `gpu` on the CPU with its step counts cut to a handful, its LM batch to 2 and its
  held-out scoring to 2 windows at 4 positions (built from `gpu` below, so the shapes cannot drift
  apart). Not a scale to score at: `gpu_shape.py` runs it in CI to catch shape, configuration and
  memory errors of the gpu scale before anyone pays for a GPU.

`reference_loss` is the DeltaNet seed's held-out loss at that scale with seed 0, measured with
this evaluator: the LM term of the score is reference_loss / loss, so the seed scores 1 there.
It is a calibration constant, not a target; re-measure it whenever the scale changes.
"""

import os
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class LmScale:
    d_model: int
    n_heads: int
    n_layers: int
    seq_len: int
    batch: int
    steps: int
    lr: float
    warmup: int
    eval_windows: int
    reference_loss: float | None
    # Held-out positions scored per window, evenly spaced from 0 to seq_len - 1 (None: every
    # position). Only `gpu-shape` cuts it, to keep T = 512 scoring fast on a CPU.
    scored_positions: int | None = None


@dataclass(frozen=True)
class MqarScale:
    d_model: int
    n_heads: int
    n_layers: int
    n_keys: int
    n_values: int
    pairs: int
    batch: int
    steps: int
    lr: float
    eval_sequences: int


@dataclass(frozen=True)
class Scale:
    name: str
    device: str
    threads: int
    lm: LmScale
    mqar: MqarScale
    # Stage 1 runs the candidate's model forward and backward on one (batch, seq_len) LM batch.
    max_time_ratio: float
    max_param_ratio: float


# Two threads on CPU for every scale: on the project's 2-core machine a training step with one
# torch thread measured 8x slower than with two (1.6 s vs 0.2 s at the cpu scale), far more than
# the core count explains.

SCALES = {
    "cpu": Scale(
        name="cpu",
        device="cpu",
        threads=2,
        lm=LmScale(d_model=128, n_heads=4, n_layers=2, seq_len=128, batch=16, steps=500, lr=3e-3, warmup=50,
                   eval_windows=64, reference_loss=0.9569611847400665),
        mqar=MqarScale(d_model=64, n_heads=2, n_layers=2, n_keys=32, n_values=32, pairs=8, batch=64, steps=300,
                       lr=3e-3, eval_sequences=512),
        max_time_ratio=5.0,
        max_param_ratio=1.25,
    ),
    "ci": Scale(
        name="ci",
        device="cpu",
        threads=2,
        lm=LmScale(d_model=64, n_heads=2, n_layers=2, seq_len=64, batch=16, steps=150, lr=3e-3, warmup=15,
                   eval_windows=32, reference_loss=1.4098466634750366),
        mqar=MqarScale(d_model=64, n_heads=2, n_layers=2, n_keys=16, n_values=32, pairs=4, batch=32, steps=150,
                       lr=3e-3, eval_sequences=256),
        max_time_ratio=5.0,
        max_param_ratio=1.25,
    ),
    "gpu": Scale(
        name="gpu",
        device="cuda",
        threads=4,
        # 128 disjoint 513-byte windows fit the held-out 10% of every CPython 3.8+ topics.py (3.11's
        # holds 147); the 256 this was written with do not (gpu_shape.py checks it).
        lm=LmScale(d_model=256, n_heads=4, n_layers=8, seq_len=512, batch=32, steps=2000, lr=1e-3, warmup=200,
                   eval_windows=128, reference_loss=None),
        mqar=MqarScale(d_model=128, n_heads=2, n_layers=2, n_keys=256, n_values=256, pairs=32, batch=128, steps=2000,
                       lr=1e-3, eval_sequences=2048),
        max_time_ratio=5.0,
        max_param_ratio=1.25,
    ),
}

# The gpu scale on the CPU, for gpu_shape.py: every size and code path of `gpu` but `device` (and
# the thread count that goes with it), with the step counts cut to a handful, and three cuts of
# work that a CPU cannot do in CI's minutes: the LM batch (one training step at [32, 512] takes
# 29 s on 2 cores, and stage 1 alone times eight; gpu_shape.py runs that full batch through one
# forward and backward of its own, for the memory estimate), and the held-out scoring, cut to
# one call batch of windows at 4 positions. MQAR keeps its full batch and held-out set.
# reference_loss stays None, so the reference is trained and cached as at gpu.
_GPU = SCALES["gpu"]
SCALES["gpu-shape"] = replace(
    _GPU,
    name="gpu-shape",
    device="cpu",
    threads=2,
    lm=replace(_GPU.lm, steps=2, warmup=1, batch=2, eval_windows=2, scored_positions=4),
    mqar=replace(_GPU.mqar, steps=2),
)


def current():
    name = os.environ.get("ASI_EVOLVE_SCALE", "cpu")
    if name not in SCALES:
        raise SystemExit(f"ASI_EVOLVE_SCALE={name!r} is not a scale; use one of {', '.join(SCALES)}")
    return SCALES[name]


def train_seed():
    """The evaluation seed: LA_SEED when set (for seed studies), else 0. ASI_EVOLVE_SEED is not
    used, so one program gets one score whichever round evaluates it."""
    value = os.environ.get("LA_SEED", "0")
    try:
        return int(value)
    except ValueError:
        raise SystemExit(f"LA_SEED={value!r} is not an integer") from None
