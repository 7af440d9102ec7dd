"""The supervised warm-up every RL run starts from (and the KL reference policy).

RL from a randomly initialised policy never sees a reward on this task, and the warm-up is
fragile (another seed can stall at a few per cent), so it is trained once, deterministically,
and the checkpoint is what every evaluation starts from: the cpu/ci checkpoint ships in
`warmup/`; other scales are trained on first use and cached in the suite's cache folder
(`ASI_EVOLVE_CACHE_DIR`, `[evaluator] cache = true`).

    python3 warmup.py --scale cpu --out ../warmup/warmup-d2-m64x2.pt   # regenerate the shipped one
"""

import argparse
import hashlib
import json
import os
import pathlib
import sys

import runtime  # noqa: F401  (environment before torch)
import torch
import torch.nn.functional as F

import arith
import policy
import scales

SUITE_DIR = pathlib.Path(__file__).resolve().parent.parent


def train(scale) -> tuple[dict, dict]:
    """Trains the warm-up; returns (state_dict, facts). Stops at the first check (every 10
    steps) whose held-out accuracy reaches scale.warmup_target."""
    torch.manual_seed(scale.warmup_seed)
    split = arith.Split(scale.digits, scale.heldout, scale.warmup_examples)
    model = policy.build(scale).to(scale.device)
    opt = torch.optim.AdamW(model.parameters(), lr=scale.warmup_lr, weight_decay=0.0)
    g = torch.Generator().manual_seed(scale.warmup_seed)
    prompts = split.prompts(split.warmup).to(scale.device)
    targets = split.targets(split.warmup, scale.max_new_tokens).to(scale.device)
    acc, step = 0.0, 0
    for step in range(1, scale.warmup_max_steps + 1):
        idx = torch.randint(0, prompts.shape[0], (scale.warmup_batch,), generator=g).to(scale.device)
        p, t = prompts[idx], targets[idx]
        seq = torch.cat([p, t], dim=1)
        logits = model(seq[:, :-1])[:, p.shape[1] - 1 :]
        loss = F.cross_entropy(logits.reshape(-1, arith.VOCAB), t.reshape(-1), ignore_index=arith.PAD)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 10 == 0:
            acc = policy.accuracy(model, split, split.heldout, scale.max_new_tokens)
            print(f"warm-up step {step}: loss {loss.item():.4f} held-out accuracy {acc:.3f}", file=sys.stderr)
            if acc >= scale.warmup_target:
                break
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    return state, {"warmup_steps": step, "warmup_accuracy": acc}


def fingerprint(scale) -> str:
    """What the warm-up depends on: its sizes and the code that trains it."""
    h = hashlib.sha256(repr(scale).encode())
    for name in ("arith.py", "policy.py", "warmup.py"):
        h.update((SUITE_DIR / "evaluator" / name).read_bytes())
    return h.hexdigest()[:16]


def path_for(scale) -> pathlib.Path:
    shipped = SUITE_DIR / "warmup" / scale.warmup_file
    if shipped.exists():
        return shipped
    # The harness's cache folder for this suite ([evaluator] cache = true), the one place
    # outside the node's folder an evaluation may write; run by hand, the user's cache.
    cache = os.environ.get("ASI_EVOLVE_CACHE_DIR")
    cache = pathlib.Path(cache) if cache else pathlib.Path.home() / ".cache" / "asi-evolve" / "suites" / "rl-algorithm"
    return cache / f"{pathlib.Path(scale.warmup_file).stem}-{fingerprint(scale)}.pt"


def load(scale) -> tuple[dict, dict]:
    """The warm-up checkpoint of `scale`: shipped, cached, or trained now and cached."""
    path = path_for(scale)
    if not path.exists():
        state, facts = train(scale)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        torch.save({"state": state, "facts": facts}, tmp)
        tmp.replace(path)
    blob = torch.load(path, map_location="cpu", weights_only=True)
    return blob["state"], blob["facts"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", default="cpu", choices=sorted(scales.SCALES))
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    scale = scales.SCALES[args.scale]
    state, facts = train(scale)
    torch.save({"state": state, "facts": facts}, args.out)
    print(json.dumps(facts))


if __name__ == "__main__":
    main()
