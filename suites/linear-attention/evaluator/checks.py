"""Stage 1: cheap checks, each failure naming the check and the number that failed it."""

import time

import torch

from .model import LanguageModel, parameter_count
from .runtime import SEED_PROGRAM, Rejected, load_mixer

CAUSAL_TOLERANCE = 1e-6
VOCAB = 256


def _guarded(check, fn):
    try:
        return fn()
    except Rejected:
        raise
    except Exception as e:  # the candidate's own code
        raise Rejected(f"check `{check}`: {type(e).__name__}: {e}") from e


def _shape(check, y, expected):
    if not isinstance(y, torch.Tensor):
        raise Rejected(f"check `{check}`: forward returned {type(y).__name__}, not a tensor")
    if tuple(y.shape) != expected:
        raise Rejected(f"check `{check}`: output shape {list(y.shape)}, expected {list(expected)} (= input shape)")
    if y.dtype != torch.float32:
        raise Rejected(f"check `{check}`: output dtype {y.dtype}, expected torch.float32 (= input dtype)")


def _finite(check, what, t):
    bad = (~torch.isfinite(t)).sum().item()
    if bad:
        raise Rejected(f"check `{check}`: {what} has {bad} non-finite values of {t.numel()}")


def _sync(tokens):
    # CUDA runs kernels asynchronously: without this the clock would time their launches only.
    if tokens.is_cuda:
        torch.cuda.synchronize(tokens.device)


def _fwd_bwd_seconds(model, tokens, repeats=3):
    best = float("inf")
    for i in range(repeats + 1):
        _sync(tokens)
        start = time.perf_counter()
        model(tokens).float().square().mean().backward()
        _sync(tokens)
        elapsed = time.perf_counter() - start
        if i:  # the first call warms up
            best = min(best, elapsed)
    model.zero_grad(set_to_none=True)
    return best


def run(candidate, scale, seed, mixer_cls=None):
    """Returns the stage's metrics; raises Rejected on the first failed check. Runs in the
    candidate's own process (worker.py): these checks give a failing design its reason early,
    while what is scored is guarded by how stages 2 and 3 ask for it."""
    lm = scale.lm
    device = torch.device(scale.device)
    mixer_cls = mixer_cls or load_mixer(candidate)
    torch.manual_seed(seed)
    mixer = _guarded("construct", lambda: mixer_cls(lm.d_model, lm.n_heads)).to(device)
    # eval(): dropout or other train-time noise would make the comparisons below meaningless.
    mixer.eval()
    gen = torch.Generator().manual_seed(seed)
    shape = (2, lm.seq_len, lm.d_model)
    x = torch.randn(shape, generator=gen).to(device).requires_grad_(True)

    y = _guarded("shape", lambda: mixer(x))
    _shape("shape", y, shape)
    _finite("finite", "the output", y.detach())
    weights = torch.randn(shape, generator=gen).to(device)
    _guarded("finite", lambda: (y * weights).sum().backward())
    _finite("finite", "the gradient with respect to the input", x.grad)
    for name, p in mixer.named_parameters():
        if p.grad is not None:
            _finite("finite", f"the gradient of parameter `{name}`", p.grad)

    with torch.no_grad():
        base = mixer(x.detach())
        t_len = lm.seq_len
        worst = 0.0
        for t in sorted({0, t_len // 3, t_len // 2 - 1, t_len - 2}):
            perturbed = x.detach().clone()
            perturbed[:, t + 1 :] = 3.0 * torch.randn((2, t_len - t - 1, lm.d_model), generator=gen).to(device)
            out = _guarded("causality", lambda: mixer(perturbed))
            _shape("causality", out, shape)
            change = (out[:, : t + 1] - base[:, : t + 1]).abs().max().item()
            if not change <= CAUSAL_TOLERANCE:
                raise Rejected(
                    f"check `causality`: outputs at positions <= {t} changed by {change:.3g} when only tokens "
                    f"after {t} were changed (limit {CAUSAL_TOLERANCE:g}): the layer reads the future"
                )
            worst = max(worst, change)

    seed_cls = load_mixer(SEED_PROGRAM, "seed_program")
    torch.manual_seed(seed)
    model = _guarded("construct", lambda: LanguageModel(mixer_cls, VOCAB, lm.d_model, lm.n_heads, lm.n_layers))
    reference = LanguageModel(seed_cls, VOCAB, lm.d_model, lm.n_heads, lm.n_layers)
    params, seed_params = parameter_count(model), parameter_count(reference)
    ratio = params / seed_params
    if ratio > scale.max_param_ratio:
        raise Rejected(
            f"check `parameter budget`: the model has {params} parameters, {ratio:.3f}x the seed's {seed_params} "
            f"(limit {scale.max_param_ratio}x)"
        )

    model.to(device).train()
    reference.to(device).train()
    tokens = torch.randint(0, VOCAB, (lm.batch, lm.seq_len), generator=gen).to(device)
    seconds = _guarded("speed", lambda: _fwd_bwd_seconds(model, tokens))
    seed_seconds = _fwd_bwd_seconds(reference, tokens)
    if seconds > scale.max_time_ratio * seed_seconds:
        raise Rejected(
            f"check `speed`: forward+backward of one training batch took {seconds:.3f} s, "
            f"{seconds / seed_seconds:.1f}x the seed's {seed_seconds:.3f} s (limit {scale.max_time_ratio}x)"
        )
    # Timings stay out of the metrics: they vary run to run, and the node table must not.
    return {
        "params": params,
        "params_ratio": ratio,
        "mixer_params": parameter_count(mixer),
        "causal_max_change": worst,
    }
