"""The process that imports the candidate: stage 1's checks, or RL runs from the warm-up.

    python3 trainer.py check CANDIDATE REPORT.json
    python3 trainer.py train CANDIDATE REPORT.json SEED [SEED ...]

It never sees a held-out reward: it writes the trained weights (policy.seed<k>.pt) and training
statistics, and the parent process (evaluate.py), which never imports the candidate, scores the
weights on the held-out prompts. Every failure is written to the report with its reason.
Around every hook call the candidate is checked to have changed nothing of the trainer: torch
and the evaluator's modules (objective.py, integrity.py) and the policy, reference policy and
optimiser (trainer_state).
"""

import itertools
import json
import sys
import time
import traceback

import runtime  # noqa: F401  (environment before torch)
import torch

import arith
import checks
import policy
import scales
import warmup
from objective import Objective, ObjectiveError


class RunFailed(Exception):
    pass


def rl_run(obj: Objective, scale, seed: int, state: dict, out_path: str) -> dict:
    """One RL run from the warm-up. The sampling budget is fixed: `steps` batches of
    `prompts_per_step` groups are drawn whatever `keep_groups` keeps; kept groups queue up and
    an update is made from each full batch of `prompts_per_step` groups, so dropping groups buys
    no extra data, only fewer, fuller updates."""
    device = scale.device
    torch.manual_seed(1_000_003 * (seed + 1))  # the global RNG, for any candidate that draws from it
    split = arith.Split(scale.digits, scale.heldout, scale.warmup_examples)
    pool = split.pool
    model = policy.build(scale).to(device)
    model.load_state_dict(state)
    ref = policy.build(scale).to(device)
    ref.load_state_dict(state)
    ref.requires_grad_(False)
    opt = torch.optim.Adam(model.parameters(), lr=scale.lr)
    obj.watch(lambda: trainer_state(model, ref, opt))
    g = torch.Generator().manual_seed(seed)
    gen = torch.Generator(device=device).manual_seed(seed) if device != "cpu" else g
    B, K, T = scale.prompts_per_step, scale.samples_per_prompt, scale.max_new_tokens
    queue = []  # kept groups: (prompts [K,L], completions [K,T], rewards [K], old_logp [K,T])
    stats = {"groups_sampled": 0, "groups_kept": 0, "updates": 0, "reward_sum": 0.0, "samples": 0,
             "length_sum": 0.0, "kl_last": 0.0}
    recent = []
    for step in range(scale.steps):
        idx = pool[torch.randint(0, pool.shape[0], (B,), generator=g)]
        prompts = split.prompts(idx).repeat_interleave(K, dim=0).to(device)
        # old_logp comes from the sampling pass, as an inference engine would report it; it can
        # differ from the training forward's value in the last bits.
        completions, old_logp = policy.generate(model, prompts, T, scale.temperature, gen)
        rewards = arith.rewards(prompts.cpu(), completions.cpu(), scale.digits)
        group_index = torch.arange(B).repeat_interleave(K)
        lengths = policy.completion_mask(completions).sum(1).long().cpu()
        keep = obj.keep_groups(rewards, group_index, B)
        stats["groups_sampled"] += B
        stats["groups_kept"] += int(keep.sum().item())
        stats["reward_sum"] += rewards.sum().item()
        stats["samples"] += rewards.shape[0]
        stats["length_sum"] += lengths.float().sum().item()
        recent.append(rewards.mean().item())
        for gidx in keep.nonzero().flatten().tolist():
            s = slice(gidx * K, (gidx + 1) * K)
            queue.append((prompts[s], completions[s], rewards[s], old_logp[s]))
        while len(queue) >= B:
            batch, queue = queue[:B], queue[B:]
            update(obj, model, ref, opt, scale, batch, stats, step)
    stats["train_reward"] = stats.pop("reward_sum") / stats["samples"]
    stats["mean_length"] = stats.pop("length_sum") / stats.pop("samples")
    stats["train_reward_last50"] = sum(recent[-50:]) / len(recent[-50:])
    torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, out_path)
    return stats


def trainer_state(model, ref, opt) -> tuple[dict, dict]:
    """What no hook may change, as Objective.watch takes it: the policy's and the reference's
    tensors, Adam's state, and Adam's hyperparameters and parameter list."""
    tensors = {f"policy tensor {k}": v for k, v in itertools.chain(model.named_parameters(), model.named_buffers())}
    tensors.update({f"reference policy tensor {k}": v for k, v in itertools.chain(ref.named_parameters(), ref.named_buffers())})
    plain = {}
    for g, group in enumerate(opt.param_groups):
        plain[f"optimiser parameter group {g}"] = {k: (tuple(map(id, v)) if k == "params" else v) for k, v in group.items()}
        for i, p in enumerate(group["params"]):
            for k, v in opt.state.get(p, {}).items():
                tensors[f"optimiser state {k} of parameter {i}"] = v
    plain["optimiser parameter list"] = tuple(map(id, model.parameters()))
    return tensors, plain


def update(obj, model, ref, opt, scale, batch, stats, step):
    K, T = scale.samples_per_prompt, scale.max_new_tokens
    prompts = torch.cat([b[0] for b in batch])
    completions = torch.cat([b[1] for b in batch])
    rewards = torch.cat([b[2] for b in batch])
    old_logp = torch.cat([b[3] for b in batch])
    group_index = torch.arange(len(batch)).repeat_interleave(K)
    mask = policy.completion_mask(completions)
    lengths = mask.sum(1).long().cpu()
    with torch.no_grad():
        ref_logp = policy.token_logp(ref, prompts, completions)
    adv = obj.advantages(rewards, group_index, lengths, T).to(prompts.device)
    for _ in range(scale.updates_per_batch):
        logp = policy.token_logp(model, prompts, completions)
        loss = obj.policy_loss(logp, old_logp, ref_logp, adv, mask)
        opt.zero_grad()
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        if not torch.isfinite(norm):
            raise RunFailed(f"the gradient became non-finite at sampling step {step}")
        opt.step()
    with torch.no_grad():
        log_r = ref_logp - logp.detach()
        stats["kl_last"] = float((((log_r.exp() - log_r - 1) * mask).sum() / mask.sum()).item())
    stats["updates"] += 1


def main(argv) -> int:
    mode, candidate, report = argv[1], argv[2], argv[3]
    scale = scales.current()
    out = {"ok": False}
    try:
        if mode == "check":
            t0 = time.perf_counter()
            out.update(checks.run(candidate))
            out["check_seconds"] = time.perf_counter() - t0
        elif mode == "train":
            # The warm-up is read before any candidate code runs, and each seed imports the
            # candidate afresh, so no state of one run (module-level lists, counters) reaches
            # the next.
            state, _ = warmup.load(scale)
            out["runs"] = {}
            for seed in map(int, argv[4:]):
                t0 = time.perf_counter()
                obj = Objective(candidate)
                run = rl_run(obj, scale, seed, state, f"policy.seed{seed}.pt")
                obj.verify(f"training seed {seed}")
                run["seconds"] = time.perf_counter() - t0
                out["runs"][str(seed)] = run
                print(f"seed {seed}: {json.dumps(run)}", file=sys.stderr)
        else:
            raise SystemExit(f"unknown mode {mode!r}")
        out["ok"] = True
    except (ObjectiveError, checks.CheckFailed, RunFailed) as e:
        out["reason"] = str(e)
    except Exception as e:  # the trainer's own code failed, perhaps on a value a hook returned
        traceback.print_exc()
        out["reason"] = f"the trainer failed with {type(e).__name__}: {e} (traceback in the stage's log)"
    with open(report, "w") as f:
        json.dump(out, f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
