"""Dr. GRPO (Liu et al., 2025, "Understanding R1-Zero-Like Training: A Critical Perspective").

GRPO with its two biases removed: advantages are not divided by the group's reward std (which
over-weights groups that are nearly all right or all wrong), and the per-token loss is summed
and divided by a constant (the generation budget) instead of by each answer's own length (which
favours long wrong answers and short right ones). Clip range and KL weight are GRPO's.
"""

import torch

# EVOLVE-BLOCK-START
CLIP_EPS = 0.2
KL_COEF = 0.04


def advantages(rewards, group_index, lengths, max_new_tokens):
    """r - mean of the group, no std normalisation."""
    num_groups = int(group_index.max().item()) + 1
    grouped = rewards.view(num_groups, -1)
    return (grouped - grouped.mean(dim=1, keepdim=True)).view(-1)


def policy_loss(logp, old_logp, ref_logp, advantages, mask):
    """PPO clipped surrogate and k3 KL per token, summed over tokens and divided by the constant
    generation budget (mask.shape[1]), then mean over sequences."""
    ratio = torch.exp(logp - old_logp)
    adv = advantages[:, None]
    surrogate = torch.minimum(ratio * adv, torch.clamp(ratio, 1 - CLIP_EPS, 1 + CLIP_EPS) * adv)
    log_ref_ratio = ref_logp - logp
    kl = torch.exp(log_ref_ratio) - log_ref_ratio - 1
    per_token = -(surrogate - KL_COEF * kl) * mask
    return per_token.sum(dim=1).mean() / mask.shape[1]
# EVOLVE-BLOCK-END
