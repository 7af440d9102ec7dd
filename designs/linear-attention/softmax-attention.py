"""Softmax attention (Vaswani et al., 2017), causal, with rotary position embeddings (Su et al.,
2021): a baseline design of the linear-attention suite, and its QUADRATIC CEILING. Its cost
grows with T^2 and its state with T, so it is not a linear-attention design; it shows how far
the linear designs are from full attention at this scale.
"""

import torch
import torch.nn.functional as F
from torch import nn

# EVOLVE-BLOCK-START


def rotary(x, base=10000.0):
    """Rotates each (first half, second half) pair of channels by a position-dependent angle."""
    t, d = x.shape[-2], x.shape[-1]
    half = d // 2
    freqs = base ** (-torch.arange(half, dtype=torch.float32, device=x.device) / half)
    angles = torch.arange(t, dtype=torch.float32, device=x.device)[:, None] * freqs[None, :]
    cos, sin = angles.cos(), angles.sin()
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)


class Mixer(nn.Module):
    def __init__(self, d_model, n_heads, **kw):
        super().__init__()
        assert d_model % n_heads == 0
        self.n_heads = n_heads
        self.head_dim = d_model // n_heads
        self.qkv = nn.Linear(d_model, 3 * d_model, bias=False)
        self.o_proj = nn.Linear(d_model, d_model, bias=False)

    def forward(self, x):
        b, t, d = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.n_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k = rotary(q), rotary(k)
        scores = (q @ k.transpose(-1, -2)) * self.head_dim**-0.5
        mask = torch.ones(t, t, dtype=torch.bool, device=x.device).tril()
        weights = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)
        o = weights @ v
        return self.o_proj(o.transpose(1, 2).reshape(b, t, d))


# EVOLVE-BLOCK-END
