"""Stage 3: a small character-level language model trained on a text corpus that ships with
CPython (the pydoc topic help, pydoc_data/topics.py), scored by held-out next-byte loss.

The first 90% of the bytes train, the last 10% are held out. Training windows start at seeded
random offsets; the held-out windows are evenly spaced and the same for every candidate.

Only the training bytes ever reach the candidate's process. The held-out loss at position t of
a window is computed from a forward call whose row holds that window's bytes up to t and, after
t, filler (training text); the calls for one window go in increasing t and never hold two rows
of one window. So when the output at t is produced the candidate has never been shown a byte of
that window after t, in that call or any before: a layer that reads the future has nothing to
read, whatever it can tell about the call. A last call with the whole windows (rows permuted)
must give the same outputs at every position; a difference means the layer reads the future or
other rows, and the candidate is invalid with the position and the size of the difference.

A scale may score only some positions of each window (`scored_positions`, evenly spaced; only
`gpu-shape`, the CPU check of the gpu scale's shapes, does): the calls still go in increasing t,
and the loss and the whole-window comparison are taken at those positions only."""

import os

import torch
import torch.nn.functional as F

from .candidate import CandidateProcess, reported_number
from .model import LanguageModel
from .runtime import Rejected
from .train import train

VOCAB = 256
# Outputs of one position with and without the bytes after it: bit-identical for a causal layer
# on CPU (masked terms are exact zeros); the slack is for other kernels' rounding.
CAUSAL_TOLERANCE = 1e-4
FILLER_SEED = 7


def corpus():
    path = os.environ.get("LA_CORPUS")
    if not path:
        import pydoc_data.topics

        path = pydoc_data.topics.__file__
    with open(path, "rb") as f:
        data = torch.frombuffer(bytearray(f.read()), dtype=torch.uint8).long()
    return path, data


def train_model(mixer_cls, train_data, scale, seed):
    """In the candidate's process: the model trained on `train_data` and its last training loss."""
    lm = scale.lm
    device = torch.device(scale.device)
    window = lm.seq_len + 1
    torch.manual_seed(seed)
    model = LanguageModel(mixer_cls, VOCAB, lm.d_model, lm.n_heads, lm.n_layers).to(device)
    gen = torch.Generator().manual_seed(seed + 2)

    def batch_at(step):
        starts = torch.randint(0, len(train_data) - window, (lm.batch,), generator=gen)
        chunk = torch.stack([train_data[s : s + window] for s in starts.tolist()]).to(device)
        return chunk[:, :-1], chunk[:, 1:]

    return model, train(model, batch_at, lm.steps, lm.lr, lm.warmup, "stage 3 (language model)")


def held_out_windows(held_out, lm):
    window = lm.seq_len + 1
    stride = (len(held_out) - window) // max(1, lm.eval_windows - 1)
    # Windows must not share bytes: one row's prefix would hold another's targets.
    assert stride >= window, f"held-out text too short for {lm.eval_windows} disjoint windows"
    return torch.stack([held_out[i * stride : i * stride + window] for i in range(lm.eval_windows)])


def scored_positions(length, count):
    """The positions of a window that are scored: all of them, or `count` evenly spaced ones
    from 0 to length - 1, increasing."""
    if count is None or count >= length:
        return list(range(length))
    return sorted({round(i * (length - 1) / max(1, count - 1)) for i in range(count)})


def score_windows(process, windows, filler, count=None):
    """Token-weighted cross-entropy (float64 sum, as over whole windows) of the logits produced
    position by position as the module's text says; raises Rejected on a leak. `count`: the
    scale's `scored_positions` (None: every position)."""
    inputs, targets = windows[:, :-1], windows[:, 1:]
    rows, length = inputs.shape
    positions = scored_positions(length, count)
    scored = None
    for i, t in enumerate(positions):
        cut = inputs.clone()
        cut[:, t + 1 :] = filler[:, t + 1 :]
        logits = process.forward(cut, position=t)
        if scored is None:
            scored = torch.empty((rows, len(positions), logits.shape[-1]), dtype=torch.float32)
        scored[:, i] = logits
    order = torch.roll(torch.arange(rows), 1)
    whole = process.forward(inputs[order])[torch.argsort(order)]
    if len(positions) < length:  # the whole-window call still shows every byte of the windows
        whole, targets = whole[:, positions], targets[:, positions]
    change = (whole - scored).abs().amax(dim=(0, 2))
    worst = int(change.argmax())
    if not change[worst] <= CAUSAL_TOLERANCE:
        raise Rejected(
            f"check `causality` (held-out scoring): the output at position {positions[worst]} changed by "
            f"{change[worst].item():.3g} when the bytes after it were shown (limit {CAUSAL_TOLERANCE:g}): "
            f"the layer reads the future (or other rows of its batch)"
        )
    losses = F.cross_entropy(scored.reshape(-1, scored.shape[-1]), targets.reshape(-1), reduction="sum")
    return losses.double().item(), targets.numel(), change.max().item()


def run(candidate, scale, seed):
    """Trains the candidate's model in its own process and scores it here; (metrics, corpus)."""
    lm = scale.lm
    path, data = corpus()
    split = int(0.9 * len(data))
    train_data, held_out = data[:split], data[split:]
    windows = held_out_windows(held_out, lm)
    gen = torch.Generator().manual_seed(FILLER_SEED)
    starts = torch.randint(0, len(train_data) - lm.seq_len, (len(windows),), generator=gen).tolist()
    filler = torch.stack([train_data[s : s + lm.seq_len] for s in starts])
    payload = train_data.to(torch.uint8).numpy().tobytes()
    total, count, worst = 0.0, 0, 0.0
    with CandidateProcess("lm", candidate, scale, seed, VOCAB, payload, hidden=[path]) as process:
        batch = max(1, lm.batch)
        for start in range(0, len(windows), batch):
            t, c, w = score_windows(process, windows[start : start + batch], filler[start : start + batch],
                                    lm.scored_positions)
            total, count, worst = total + t, count + c, max(worst, w)
        train_loss = process.ready["train_loss"]
    loss = total / count
    return {"val_loss": loss, "val_bpc": loss / torch.log(torch.tensor(2.0)).item(), "train_loss": reported_number(train_loss),
            "corpus_bytes": len(data), "held_out_causal_max_change": worst,
            "confined": int(process.confined)}, os.path.basename(path)
