"""The verifiable-reward task: add two n-digit numbers, answer written lowest digit first.

A prompt is `a + b =` with both operands zero-padded to n digits, most significant first; the
answer is the sum's decimal digits from the lowest up, without leading zeros, then EOS. Written
that way round, each answer digit depends only on the operand digits at and below it (plus the
carry), which a tiny transformer can learn. The reward is 1 for an exact answer followed by EOS,
else 0.

The operand pairs are split once, by a fixed permutation, into held-out prompts (scored only
after RL, in a process that never imports the candidate), warm-up examples and the RL pool.
"""

import torch

PLUS, EQUALS, EOS, PAD = 10, 11, 12, 13
VOCAB = 14
SPLIT_SEED = 20260329  # fixed: every scale and run uses the same split


def prompt_len(digits: int) -> int:
    return 2 * digits + 2


def encode_prompts(a: torch.Tensor, b: torch.Tensor, digits: int) -> torch.Tensor:
    """[P] operands -> [P, 2n+2] token ids."""
    powers = 10 ** torch.arange(digits - 1, -1, -1)
    da = (a[:, None] // powers) % 10
    db = (b[:, None] // powers) % 10
    p = a.shape[0]
    return torch.cat(
        [da, torch.full((p, 1), PLUS), db, torch.full((p, 1), EQUALS)], dim=1
    ).long()


def answer_tokens(a: int, b: int) -> list[int]:
    """The reversed digits of a + b, then EOS."""
    return [int(c) for c in reversed(str(a + b))] + [EOS]


def rewards(prompts: torch.Tensor, completions: torch.Tensor, digits: int) -> torch.Tensor:
    """[P, 2n+2] prompts and [P, T] completions (PAD after EOS) -> [P] float 0/1 rewards."""
    powers = 10 ** torch.arange(digits - 1, -1, -1)
    a = (prompts[:, :digits] * powers).sum(1)
    b = (prompts[:, digits + 1 : 2 * digits + 1] * powers).sum(1)
    out = torch.zeros(prompts.shape[0])
    for i, (x, y) in enumerate(zip(a.tolist(), b.tolist())):
        want = answer_tokens(x, y)
        got = completions[i, : len(want)].tolist()
        out[i] = float(got == want)
    return out


class Split:
    """Operand pairs of one scale, split into held-out, warm-up and RL-pool index sets."""

    def __init__(self, digits: int, heldout: int, warmup_examples: int):
        self.digits = digits
        n = 10**digits
        g = torch.Generator().manual_seed(SPLIT_SEED)
        total = n * n
        # 2-digit: every pair; larger: a fixed sample of pairs (n^2 is too many to permute).
        size = min(total, 200_000)
        if size == total:
            ids = torch.randperm(total, generator=g)
        else:
            ids = torch.unique(torch.randint(0, total, (size * 2,), generator=g))  # sorted
            ids = ids[torch.randperm(ids.shape[0], generator=g)][:size]
        self.a = ids // n
        self.b = ids % n
        self.heldout = torch.arange(0, heldout)
        self.warmup = torch.arange(heldout, heldout + warmup_examples)
        self.pool = torch.arange(heldout, ids.shape[0])

    def prompts(self, which: torch.Tensor) -> torch.Tensor:
        return encode_prompts(self.a[which], self.b[which], self.digits)

    def targets(self, which: torch.Tensor, length: int) -> torch.Tensor:
        """[P, length] answer tokens padded with PAD, for supervised warm-up."""
        out = torch.full((which.shape[0], length), PAD, dtype=torch.long)
        for i, (x, y) in enumerate(zip(self.a[which].tolist(), self.b[which].tolist())):
            t = answer_tokens(x, y)
            out[i, : len(t)] = torch.tensor(t)
        return out
