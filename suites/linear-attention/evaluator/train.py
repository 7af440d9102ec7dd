"""One training loop for both trained stages: AdamW, warm-up and cosine decay, gradient
clipping, and a stop with the step number as soon as the loss is not finite."""

import math

import torch
import torch.nn.functional as F

from .model import cosine_lr, optimizer
from .runtime import Rejected


def train(model, batch_at, steps, lr, warmup, stage):
    """batch_at(step) -> (inputs, targets); targets of -100 are ignored. Returns the mean loss of
    the last tenth of the steps."""
    opt = optimizer(model, lr)
    model.train()
    tail = []
    for step in range(steps):
        for group in opt.param_groups:
            group["lr"] = cosine_lr(step, steps, warmup, lr)
        inputs, targets = batch_at(step)
        try:
            logits = model(inputs)
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=-100)
        except Exception as e:  # the candidate's forward
            raise Rejected(f"{stage}: the forward pass raised {type(e).__name__}: {e} at step {step}") from e
        if not math.isfinite(loss.item()):
            raise Rejected(f"{stage}: the training loss became {loss.item()} at step {step}")
        opt.zero_grad(set_to_none=True)
        try:
            loss.backward()
        except Exception as e:
            raise Rejected(f"{stage}: the backward pass raised {type(e).__name__}: {e} at step {step}") from e
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step >= steps - max(1, steps // 10):
            tail.append(loss.item())
    return sum(tail) / len(tail)

