"""The candidate's hooks, loaded after the static screen and called only through wrappers that
hand over copies of the evaluator's tensors and check every value that comes back, on every
call (not only in stage 1), so a hook can neither change the evaluator's tensors nor slip a
wrong shape or a NaN past it mid-run."""

import importlib.util
import inspect

import torch

import guard

REQUIRED = {
    "advantages": ("rewards", "group_index", "lengths", "max_new_tokens"),
    "policy_loss": ("logp", "old_logp", "ref_logp", "advantages", "mask"),
}
OPTIONAL = {"keep_groups": ("rewards", "group_index", "num_groups")}


class ObjectiveError(Exception):
    """A hook broke its contract; the message names the hook and what was wrong."""


class Objective:
    def __init__(self, path: str):
        with open(path) as f:
            source = f.read()
        try:
            guard.screen(source, path)
        except guard.Rejected as e:
            raise ObjectiveError(f"static screen: {e}") from None
        spec = importlib.util.spec_from_file_location("candidate", path)
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
        except Exception as e:  # the candidate's own error, reported as such
            raise ObjectiveError(f"importing the candidate raised {type(e).__name__}: {e}") from None
        self._hooks = {}
        for name, params in {**REQUIRED, **OPTIONAL}.items():
            fn = getattr(module, name, None)
            if fn is None:
                if name in REQUIRED:
                    raise ObjectiveError(f"the candidate defines no `{name}` function")
                continue
            if not callable(fn):
                raise ObjectiveError(f"`{name}` is not a function")
            sig = inspect.signature(fn)
            missing = [p for p in params if p not in sig.parameters and not _has_var_keyword(sig)]
            if missing:
                raise ObjectiveError(f"`{name}` must accept the keyword arguments {', '.join(params)}; missing {', '.join(missing)}")
            self._hooks[name] = fn

    @property
    def has_keep_groups(self) -> bool:
        return "keep_groups" in self._hooks

    def _call(self, name, **kwargs):
        try:
            return self._hooks[name](**{k: v.clone() if isinstance(v, torch.Tensor) and k != "logp" else v for k, v in kwargs.items()})
        except ObjectiveError:
            raise
        except Exception as e:
            raise ObjectiveError(f"`{name}` raised {type(e).__name__}: {e}") from None

    def advantages(self, rewards, group_index, lengths, max_new_tokens) -> torch.Tensor:
        out = self._call("advantages", rewards=rewards, group_index=group_index, lengths=lengths, max_new_tokens=max_new_tokens)
        return _tensor("advantages", out, (rewards.shape[0],)).detach()

    def policy_loss(self, logp, old_logp, ref_logp, advantages, mask) -> torch.Tensor:
        out = self._call("policy_loss", logp=logp, old_logp=old_logp, ref_logp=ref_logp, advantages=advantages, mask=mask)
        loss = _tensor("policy_loss", out, ())
        if not loss.requires_grad:
            raise ObjectiveError("`policy_loss` returned a loss with no gradient path to `logp` (a constant loss trains nothing)")
        return loss

    def keep_groups(self, rewards, group_index, num_groups) -> torch.Tensor:
        if not self.has_keep_groups:
            return torch.ones(num_groups, dtype=torch.bool)
        out = self._call("keep_groups", rewards=rewards, group_index=group_index, num_groups=num_groups)
        if not isinstance(out, torch.Tensor) or out.dtype != torch.bool or tuple(out.shape) != (num_groups,):
            raise ObjectiveError(f"`keep_groups` must return a bool tensor of shape [{num_groups}], got {_describe(out)}")
        return out.clone()


def _has_var_keyword(sig) -> bool:
    return any(p.kind == inspect.Parameter.VAR_KEYWORD for p in sig.parameters.values())


def _describe(x) -> str:
    if isinstance(x, torch.Tensor):
        return f"a {x.dtype} tensor of shape {list(x.shape)}"
    return f"a {type(x).__name__}"


def _tensor(name: str, x, shape: tuple) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise ObjectiveError(f"`{name}` must return a torch.Tensor, got {_describe(x)}")
    if tuple(x.shape) != shape:
        want = "a scalar (shape [])" if shape == () else f"shape {list(shape)}"
        raise ObjectiveError(f"`{name}` returned shape {list(x.shape)}; it must return {want}")
    if not x.dtype.is_floating_point:
        raise ObjectiveError(f"`{name}` must return a floating-point tensor, got {x.dtype}")
    if not torch.isfinite(x).all():
        bad = (~torch.isfinite(x)).sum().item()
        what = "NaN" if torch.isnan(x).any() else "infinite"
        raise ObjectiveError(f"`{name}` returned {what} values ({bad} of {max(1, x.numel())} entries)")
    return x

