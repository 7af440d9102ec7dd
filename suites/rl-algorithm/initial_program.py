"""GRPO (Shao et al., 2024, DeepSeekMath): the policy-optimisation objective the search starts from.

The evaluator samples a group of answers per prompt, scores them (1 correct, 0 not), and calls
`advantages(...)` once per batch and `policy_loss(...)` once per gradient step; see task.md for
the exact interface and shapes. Only `torch` and `math` may be imported.
"""

import torch

# EVOLVE-BLOCK-START
CLIP_EPS = 0.2  # PPO clip range on the per-token ratio
KL_COEF = 0.04  # weight of the KL penalty to the reference (warm-up) policy
STD_EPS = 1e-4  # keeps a group whose rewards are all equal at advantage 0


def advantages(rewards, group_index, lengths, max_new_tokens):
    """Group-normalised advantage: (r - mean of the group) / (std of the group + eps)."""
    num_groups = int(group_index.max().item()) + 1
    grouped = rewards.view(num_groups, -1)
    mean = grouped.mean(dim=1, keepdim=True)
    std = grouped.std(dim=1, keepdim=True)
    return ((grouped - mean) / (std + STD_EPS)).view(-1)


def policy_loss(logp, old_logp, ref_logp, advantages, mask):
    """PPO clipped surrogate per token, k3 KL to the reference, mean over each sequence's
    tokens, then mean over sequences."""
    ratio = torch.exp(logp - old_logp)
    adv = advantages[:, None]
    surrogate = torch.minimum(ratio * adv, torch.clamp(ratio, 1 - CLIP_EPS, 1 + CLIP_EPS) * adv)
    log_ref_ratio = ref_logp - logp
    kl = torch.exp(log_ref_ratio) - log_ref_ratio - 1
    per_token = -(surrogate - KL_COEF * kl) * mask
    per_sequence = per_token.sum(dim=1) / mask.sum(dim=1).clamp(min=1)
    return per_sequence.mean()
# EVOLVE-BLOCK-END
