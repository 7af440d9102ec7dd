"""GSPO (Zheng et al., 2025, "Group Sequence Policy Optimization").

GRPO's advantages, but the importance ratio and its clipping are per sequence, not per token:
s = exp(mean over the answer's tokens of (logp - old_logp)), the length-normalised sequence
likelihood ratio, clipped to [1 - 3e-4, 1 + 4e-4] (the paper's ranges: a sequence ratio moves far
less than a token ratio). Every token of an answer then shares one ratio. No KL term.
"""

import torch

# EVOLVE-BLOCK-START
CLIP_LOW = 3e-4
CLIP_HIGH = 4e-4
STD_EPS = 1e-4


def advantages(rewards, group_index, lengths, max_new_tokens):
    """Group-normalised advantage, as GRPO."""
    num_groups = int(group_index.max().item()) + 1
    grouped = rewards.view(num_groups, -1)
    mean = grouped.mean(dim=1, keepdim=True)
    std = grouped.std(dim=1, keepdim=True)
    return ((grouped - mean) / (std + STD_EPS)).view(-1)


def policy_loss(logp, old_logp, ref_logp, advantages, mask):
    """Sequence-level clipped surrogate, mean over sequences."""
    tokens = mask.sum(dim=1).clamp(min=1)
    log_ratio = ((logp - old_logp) * mask).sum(dim=1) / tokens
    ratio = torch.exp(log_ratio)
    surrogate = torch.minimum(ratio * advantages, torch.clamp(ratio, 1 - CLIP_LOW, 1 + CLIP_HIGH) * advantages)
    return -surrogate.mean()
# EVOLVE-BLOCK-END
