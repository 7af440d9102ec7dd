"""DAPO (Yu et al., 2025, "DAPO: An Open-Source LLM Reinforcement Learning System at Scale").

Four changes to GRPO: decoupled clip ranges (0.2 below, 0.28 above, so unlikely tokens can
gain probability: "clip-higher"); a token-level loss (every token of the batch weighs the same,
whatever the length of its answer); dynamic sampling (groups whose answers are all right or all
wrong carry no advantage and are dropped; here the evaluator's sampling budget is fixed, so
this buys no extra samples, only fuller updates); and a soft overlong penalty on answers that
run into the end of the generation budget. No KL term.
"""

import torch

# EVOLVE-BLOCK-START
CLIP_LOW = 0.2
CLIP_HIGH = 0.28
OVERLONG_CACHE = 2  # tokens before the budget where the length penalty ramps from 0 to -1
STD_EPS = 1e-4


def advantages(rewards, group_index, lengths, max_new_tokens):
    """Group-normalised advantage of the reward plus the soft overlong penalty."""
    start = max_new_tokens - OVERLONG_CACHE
    penalty = -torch.clamp((lengths.float() - start) / OVERLONG_CACHE, min=0.0, max=1.0)
    shaped = rewards + penalty
    num_groups = int(group_index.max().item()) + 1
    grouped = shaped.view(num_groups, -1)
    mean = grouped.mean(dim=1, keepdim=True)
    std = grouped.std(dim=1, keepdim=True)
    return ((grouped - mean) / (std + STD_EPS)).view(-1)


def keep_groups(rewards, group_index, num_groups):
    """Dynamic sampling: keep a group only if its answers are neither all right nor all wrong."""
    grouped = rewards.view(num_groups, -1)
    accuracy = grouped.mean(dim=1)
    return (accuracy > 0) & (accuracy < 1)


def policy_loss(logp, old_logp, ref_logp, advantages, mask):
    """Clip-higher surrogate, averaged over every token of the batch."""
    ratio = torch.exp(logp - old_logp)
    adv = advantages[:, None]
    surrogate = torch.minimum(ratio * adv, torch.clamp(ratio, 1 - CLIP_LOW, 1 + CLIP_HIGH) * adv)
    return -(surrogate * mask).sum() / mask.sum().clamp(min=1)
# EVOLVE-BLOCK-END
