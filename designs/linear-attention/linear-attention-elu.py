"""Linear attention with the ELU+1 feature map (Katharopoulos et al., 2020, "Transformers are
RNNs"): a baseline design of the linear-attention suite. No short convolutions, no gates: the
state is a running sum of phi(k) v^T, read with phi(q) and normalised by phi(q) . sum phi(k).
"""

import torch
import torch.nn.functional as F
from torch import nn

# EVOLVE-BLOCK-START


def feature_map(x):
    return F.elu(x) + 1.0


class Mixer(nn.Module):
    """o_t = phi(q_t)^T (sum_{s<=t} phi(k_s) v_s^T) / (phi(q_t)^T sum_{s<=t} phi(k_s)), per head.

    Computed in its parallel form, (phi(Q) phi(K)^T masked to s <= t) V, row-normalised: the same
    numbers as the running-sum recurrence, and exact about causality (the mask multiplies by 0).
    """

    def __init__(self, d_model, n_heads, eps=1e-6, **kw):
        super().__init__()
        assert d_model % n_heads == 0
        self.n_heads = n_heads
        self.head_dim = d_model // n_heads
        self.eps = eps
        self.qkv = nn.Linear(d_model, 3 * d_model, bias=False)
        self.o_proj = nn.Linear(d_model, d_model, bias=False)

    def forward(self, x):
        b, t, d = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.n_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k = feature_map(q), feature_map(k)
        mask = torch.ones(t, t, dtype=torch.bool, device=x.device).tril()
        weights = (q @ k.transpose(-1, -2)) * mask
        o = (weights @ v) / (weights.sum(-1, keepdim=True) + self.eps)
        return self.o_proj(o.transpose(1, 2).reshape(b, t, d))


# EVOLVE-BLOCK-END
