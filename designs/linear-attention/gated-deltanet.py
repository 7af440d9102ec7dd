"""Gated DeltaNet token mixer (Yang, Kautz and Hatamizadeh, 2024, "Gated Delta Networks: Improving
Mamba2 with Delta Rule"): a baseline design of the linear-attention suite. The seed's DeltaNet
plus a Mamba2-style data-dependent decay of the state and a SiLU output gate.

The evaluator imports this file and builds `Mixer(d_model, n_heads)` into every block of its
model; `forward(x)` maps [B, T, D] to [B, T, D] and must be causal. See task.md.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

# EVOLVE-BLOCK-START


def delta_rule_recurrent(q, k, v, beta, g=None, scale=None):
    """The (gated) delta rule token by token: the definition the chunked form must equal.

    q, k: [B, T, H, Dk] (L2-normalised); v: [B, T, H, Dv]; beta: [B, T, H]; g: [B, T, H] log
    decays or None. Per head, with S stored Dk x Dv:
        S_t = exp(g_t) S_{t-1} + beta_t k_t (v_t - exp(g_t) S_{t-1}^T k_t)^T,  o_t = scale S_t^T q_t
    """
    b, t, h, dk = q.shape
    dv = v.shape[-1]
    scale = dk**-0.5 if scale is None else scale
    state = q.new_zeros(b, h, dk, dv)
    out = []
    for i in range(t):
        if g is not None:
            state = state * g[:, i].exp()[..., None, None]
        k_i, v_i, b_i = k[:, i], v[:, i], beta[:, i]
        predicted = torch.einsum("bhk,bhkv->bhv", k_i, state)
        state = state + torch.einsum("bhk,bhv->bhkv", k_i, b_i[..., None] * (v_i - predicted))
        out.append(torch.einsum("bhk,bhkv->bhv", q[:, i] * scale, state))
    return torch.stack(out, dim=1)


def delta_rule_chunked(q, k, v, beta, g=None, scale=None, chunk_size=32):
    """The same map in the chunked WY form: within a chunk the C rank-one updates collapse into
    T = (I + A)^-1 diag(beta) with A strictly lower triangular, so W = T K and U = T V are plain
    matrix products and only the state S is carried from chunk to chunk.
    """
    b, t, h, dk = q.shape
    dv = v.shape[-1]
    scale = dk**-0.5 if scale is None else scale
    c = chunk_size
    pad = (c - t % c) % c
    # [B, H, T, D]; zero padding at the end writes nothing (beta = 0) and is cut off.
    q, k, v = (F.pad(x.transpose(1, 2), (0, 0, 0, pad)) for x in (q, k, v))
    beta = F.pad(beta.transpose(1, 2), (0, pad))
    n = (t + pad) // c
    q, k, v = (x.reshape(b, h, n, c, -1) for x in (q, k, v))
    beta = beta.reshape(b, h, n, c)
    strict = torch.ones(c, c, dtype=torch.bool, device=q.device).tril(-1)
    causal = torch.ones(c, c, dtype=torch.bool, device=q.device).tril()
    if g is None:
        decay_qk = causal.to(q.dtype)
        decay_kk = strict.to(q.dtype)
        gamma = None
    else:
        gamma = F.pad(g.transpose(1, 2), (0, pad)).reshape(b, h, n, c).cumsum(-1)
        diff = gamma[..., :, None] - gamma[..., None, :]
        decay_qk = diff.masked_fill(~causal, float("-inf")).exp()
        decay_kk = diff.masked_fill(~strict, float("-inf")).exp()
    a = beta[..., None] * (k @ k.transpose(-1, -2)) * decay_kk
    eye = torch.eye(c, dtype=q.dtype, device=q.device)
    t_mat = torch.linalg.solve_triangular(eye + a, torch.diag_embed(beta), upper=False, unitriangular=True)
    k_dec = k if gamma is None else k * gamma.exp()[..., None]
    w = t_mat @ k_dec
    u = t_mat @ v
    p = (q @ k.transpose(-1, -2)) * decay_qk
    state = q.new_zeros(b, h, dk, dv)
    out = []
    for i in range(n):
        delta = u[:, :, i] - w[:, :, i] @ state
        q_i = q[:, :, i] if gamma is None else q[:, :, i] * gamma[:, :, i].exp()[..., None]
        out.append(scale * (q_i @ state + p[:, :, i] @ delta))
        if gamma is None:
            state = state + k[:, :, i].transpose(-1, -2) @ delta
        else:
            last = gamma[:, :, i, -1:]
            k_tail = k[:, :, i] * (last - gamma[:, :, i]).exp()[..., None]
            state = state * last.exp()[..., None] + k_tail.transpose(-1, -2) @ delta
    o = torch.stack(out, dim=2).reshape(b, h, n * c, dv)[:, :, :t]
    return o.transpose(1, 2)


def delta_rule(q, k, v, beta, g=None):
    """fla's Triton kernels on a GPU where fla is installed (the gpu scale); plain torch otherwise."""
    if q.is_cuda:
        try:
            from fla.ops.delta_rule import chunk_delta_rule
            from fla.ops.gated_delta_rule import chunk_gated_delta_rule
        except ImportError:
            chunk_delta_rule = None
        if chunk_delta_rule is not None:
            if g is None:
                return chunk_delta_rule(q=q, k=k, v=v, beta=beta, scale=q.shape[-1] ** -0.5)[0]
            return chunk_gated_delta_rule(q=q, k=k, v=v, g=g, beta=beta, scale=q.shape[-1] ** -0.5)[0]
    return delta_rule_chunked(q, k, v, beta, g)


class ShortConv(nn.Module):
    """Depthwise causal convolution over time followed by SiLU (the short convolutions of
    DeltaNet, Mamba and GLA): each channel sees its last `size` positions."""

    def __init__(self, channels, size=4):
        super().__init__()
        self.size = size
        self.conv = nn.Conv1d(channels, channels, size, groups=channels, padding=size - 1, bias=False)

    def forward(self, x):
        y = self.conv(x.transpose(1, 2))[..., : x.shape[1]]
        return F.silu(y.transpose(1, 2))


class HeadRMSNorm(nn.Module):
    def __init__(self, dim, eps=1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class Mixer(nn.Module):
    """Gated DeltaNet: DeltaNet's delta rule with the state decayed by alpha_t = exp(g_t) before
    each write, g_t = -exp(A_log) * softplus(a_t + dt_bias) per head (Mamba2's parametrisation),
    and the normalised output gated by SiLU of a projection of the input."""

    def __init__(self, d_model, n_heads, conv_size=4, **kw):
        super().__init__()
        assert d_model % n_heads == 0
        self.n_heads = n_heads
        self.head_dim = d_model // n_heads
        self.q_proj = nn.Linear(d_model, d_model, bias=False)
        self.k_proj = nn.Linear(d_model, d_model, bias=False)
        self.v_proj = nn.Linear(d_model, d_model, bias=False)
        self.b_proj = nn.Linear(d_model, n_heads, bias=False)
        self.a_proj = nn.Linear(d_model, n_heads, bias=False)
        self.g_proj = nn.Linear(d_model, d_model, bias=False)
        # Decay rates spread over heads and time constants drawn as in Mamba2: A in [1, 16],
        # dt in [1e-3, 1e-1] through the inverse of softplus.
        self.A_log = nn.Parameter(torch.log(torch.linspace(1.0, 16.0, n_heads)))
        dt = torch.exp(torch.linspace(math.log(1e-3), math.log(1e-1), n_heads))
        self.dt_bias = nn.Parameter(dt + torch.log(-torch.expm1(-dt)))
        self.q_conv = ShortConv(d_model, conv_size)
        self.k_conv = ShortConv(d_model, conv_size)
        self.v_conv = ShortConv(d_model, conv_size)
        self.o_norm = HeadRMSNorm(self.head_dim)
        self.o_proj = nn.Linear(d_model, d_model, bias=False)

    def forward(self, x):
        b, t, d = x.shape
        shape = (b, t, self.n_heads, self.head_dim)
        q = F.normalize(self.q_conv(self.q_proj(x)).view(shape), dim=-1, eps=1e-6)
        k = F.normalize(self.k_conv(self.k_proj(x)).view(shape), dim=-1, eps=1e-6)
        v = self.v_conv(self.v_proj(x)).view(shape)
        beta = torch.sigmoid(self.b_proj(x))
        g = -self.A_log.exp() * F.softplus(self.a_proj(x) + self.dt_bias)
        o = self.o_norm(delta_rule(q, k, v, beta, g))
        o = o * F.silu(self.g_proj(x)).view(shape)
        return self.o_proj(o.reshape(b, t, d))


# EVOLVE-BLOCK-END
