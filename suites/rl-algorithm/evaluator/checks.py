"""Stage 1: the candidate's hooks on fixed tensors, in seconds. Each check that fails names
itself and what it saw; the first failure rejects the candidate."""

import torch

from objective import Objective, ObjectiveError

GROUPS, SAMPLES, T = 4, 8, 6


def fixed_batch():
    """A batch with the shapes the trainer uses: mixed, all-correct and all-wrong groups, and
    completions of every length."""
    g = torch.Generator().manual_seed(7)
    n = GROUPS * SAMPLES
    rewards = torch.tensor(
        [1, 0, 0, 1, 0, 1, 0, 0] + [1] * 8 + [0] * 8 + [0, 1, 1, 1, 0, 1, 1, 1], dtype=torch.float32
    )
    group_index = torch.arange(GROUPS).repeat_interleave(SAMPLES)
    lengths = torch.randint(1, T + 1, (n,), generator=g)
    mask = (torch.arange(T)[None, :] < lengths[:, None]).float()
    base = -torch.rand(n, T, generator=g) * 2
    old_logp = base
    ref_logp = base - 0.1 * torch.rand(n, T, generator=g)
    shift = 0.05 * torch.randn(n, T, generator=g)
    return rewards, group_index, lengths, mask, old_logp, ref_logp, shift


class CheckFailed(Exception):
    pass


def run(path: str) -> dict:
    """Returns facts about the hooks; raises CheckFailed (or ObjectiveError) with the reason."""
    obj = Objective(path)
    rewards, gi, lengths, mask, old_logp, ref_logp, shift = fixed_batch()

    adv = obj.advantages(rewards, gi, lengths, T)
    flipped = rewards.clone()
    flipped[:SAMPLES] = 1 - flipped[:SAMPLES]
    if torch.equal(obj.advantages(flipped, gi, lengths, T), adv):
        raise CheckFailed("advantages: changing the rewards of a group left every advantage unchanged (no learning signal)")

    keep = obj.keep_groups(rewards, gi, GROUPS)
    if not keep.any():
        raise CheckFailed("keep_groups: dropped every group of a batch whose groups include mixed rewards")

    # On-policy (logp == old_logp), as at the first update of every batch: any objective that
    # learns has a gradient here, clipped or not.
    logp = old_logp.clone().requires_grad_(True)
    loss = obj.policy_loss(logp, old_logp, ref_logp, adv, mask)
    (grad,) = torch.autograd.grad(loss, logp, allow_unused=True)
    if grad is None:
        raise CheckFailed("policy_loss: the loss does not depend on `logp` (no gradient reaches it)")
    if not torch.isfinite(grad).all():
        raise CheckFailed("policy_loss: the gradient with respect to `logp` is not finite")
    if grad.abs().max().item() == 0.0:
        raise CheckFailed("policy_loss: the gradient with respect to `logp` is zero everywhere (a constant loss trains nothing)")
    leak = (grad * (1 - mask)).abs().max().item()
    if leak > 0:
        raise CheckFailed(f"policy_loss: puts gradient on padding positions (mask 0), up to {leak:.3g}")

    other = (old_logp + shift).requires_grad_(True)
    loss2 = obj.policy_loss(other, old_logp, ref_logp, adv, mask)
    if loss2.item() == loss.item():
        raise CheckFailed(f"policy_loss: the loss is the same ({loss.item():.6g}) for different `logp` (constant loss)")

    return {
        "check_loss": float(loss.item()),
        "check_grad_norm": float(grad.norm().item()),
        "check_groups_kept": int(keep.sum().item()),
        "has_keep_groups": obj.has_keep_groups,
    }

