"""The policy: a small pre-norm causal transformer over the task's tokens, and what the
evaluator does with it (sampling, per-token log-probabilities, greedy held-out accuracy)."""

import math

import torch
import torch.nn.functional as F
from torch import nn

import arith


class Block(nn.Module):
    def __init__(self, d: int, heads: int):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.norm2 = nn.LayerNorm(d)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = self.qkv(self.norm1(x)).view(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        att = (q @ k.transpose(-1, -2)) / math.sqrt(d // self.heads)
        causal = torch.ones(t, t, dtype=torch.bool, device=x.device).triu(1)
        att = att.masked_fill(causal, float("-inf")).softmax(-1)
        x = x + self.proj((att @ v).transpose(1, 2).reshape(b, t, d))
        return x + self.mlp(self.norm2(x))


class Policy(nn.Module):
    def __init__(self, d_model: int, layers: int, heads: int, context: int):
        super().__init__()
        self.tok = nn.Embedding(arith.VOCAB, d_model)
        self.pos = nn.Embedding(context, d_model)
        self.blocks = nn.ModuleList(Block(d_model, heads) for _ in range(layers))
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, arith.VOCAB)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        x = self.tok(tokens) + self.pos(torch.arange(tokens.shape[1], device=tokens.device))
        for blk in self.blocks:
            x = blk(x)
        return self.head(self.norm(x))


def build(scale) -> Policy:
    return Policy(scale.d_model, scale.layers, scale.heads, arith.prompt_len(scale.digits) + scale.max_new_tokens)


@torch.no_grad()
def generate(model: Policy, prompts: torch.Tensor, max_new: int, temperature: float, generator):
    """[P, L] prompts -> ([P, max_new] completions, [P, max_new] their log-probabilities under
    the sampling policy). After EOS every token is PAD with log-probability 0. Temperature 0
    decodes greedily (generator unused)."""
    seq = prompts
    p = prompts.shape[0]
    done = torch.zeros(p, dtype=torch.bool, device=prompts.device)
    tokens = torch.full((p, max_new), arith.PAD, dtype=torch.long, device=prompts.device)
    logps = torch.zeros(p, max_new, device=prompts.device)
    for t in range(max_new):
        if done.all():  # the rest is PAD; the generator is not advanced
            break
        logits = model(seq)[:, -1].float()
        if temperature == 0:
            nxt = logits.argmax(-1)
        else:
            logits = logits / temperature
            nxt = torch.multinomial(logits.softmax(-1), 1, generator=generator).squeeze(1)
        lp = torch.gather(F.log_softmax(logits, -1), 1, nxt[:, None]).squeeze(1)
        nxt = torch.where(done, torch.full_like(nxt, arith.PAD), nxt)
        tokens[:, t] = nxt
        logps[:, t] = torch.where(done, torch.zeros_like(lp), lp)
        done = done | (nxt == arith.EOS)
        seq = torch.cat([seq, nxt[:, None]], dim=1)
    return tokens, logps


def completion_mask(completions: torch.Tensor) -> torch.Tensor:
    """1.0 on generated tokens up to and including the first EOS, 0.0 on the PAD after it."""
    return (completions != arith.PAD).float()


def token_logp(model: Policy, prompts: torch.Tensor, completions: torch.Tensor) -> torch.Tensor:
    """[P, T] log-probability of each completion token; 0 on the PAD after EOS. Positions past
    the batch's longest completion are not run through the model (they would be masked)."""
    used = int(completion_mask(completions).sum(1).max().item())
    seq = torch.cat([prompts, completions[:, :used]], dim=1)
    logits = model(seq[:, :-1])[:, prompts.shape[1] - 1 :].float()
    lp = torch.gather(F.log_softmax(logits, -1), 2, completions[:, :used, None]).squeeze(2)
    lp = lp * completion_mask(completions[:, :used])
    return F.pad(lp, (0, completions.shape[1] - used))


@torch.no_grad()
def accuracy(model: Policy, split: arith.Split, which: torch.Tensor, max_new: int, batch: int = 500) -> float:
    """Share of `which` answered exactly by greedy decoding."""
    model.eval()
    correct = 0.0
    device = next(model.parameters()).device
    for start in range(0, which.shape[0], batch):
        idx = which[start : start + batch]
        prompts = split.prompts(idx).to(device)
        completions, _ = generate(model, prompts, max_new, 0.0, None)
        correct += arith.rewards(prompts.cpu(), completions.cpu(), split.digits).sum().item()
    model.train()
    return correct / which.shape[0]
