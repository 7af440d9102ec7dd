"""The candidate's hooks, loaded after the static screen and called only through wrappers that
hand over copies of the evaluator's tensors and check every value that comes back, on every
call (not only in stage 1), so a hook can neither change the evaluator's tensors nor slip a
wrong shape or a NaN past it mid-run. After the import and after every call, what the trainer
relies on (torch, the optimiser, the evaluator's modules) is compared with a snapshot taken
before the import (integrity.py)."""

import importlib.util
import inspect

import torch

import guard
import integrity

REQUIRED = {
    "advantages": ("rewards", "group_index", "lengths", "max_new_tokens"),
    "policy_loss": ("logp", "old_logp", "ref_logp", "advantages", "mask"),
}
OPTIONAL = {"keep_groups": ("rewards", "group_index", "num_groups")}


# integer dtypes by element size: the watched tensors are compared bit for bit (NaN included)
_BITS = {1: torch.uint8, 2: torch.int16, 4: torch.int32, 8: torch.int64}


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
        self._watched = None
        self._snapshot = integrity.Snapshot()
        spec = importlib.util.spec_from_file_location("candidate", path)
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
        except BaseException as e:  # the candidate's own error (SystemExit included), reported as such
            raise ObjectiveError(f"importing the candidate raised {type(e).__name__}: {e}") from None
        self.verify("importing the candidate")
        self._hooks = {}
        for name, params in {**REQUIRED, **OPTIONAL}.items():
            fn = getattr(module, name, None)
            if fn is None:
                if name in REQUIRED:
                    raise ObjectiveError(f"the candidate defines no `{name}` function")
                continue
            if not callable(fn):
                raise ObjectiveError(f"`{name}` is not a function")
            try:
                sig = inspect.signature(fn)
            except (TypeError, ValueError) as e:
                raise ObjectiveError(f"`{name}` has no inspectable signature ({e}); define it with `def`") from None
            missing = [p for p in params if p not in sig.parameters and not _has_var_keyword(sig)]
            if missing:
                raise ObjectiveError(f"`{name}` must accept the keyword arguments {', '.join(params)}; missing {', '.join(missing)}")
            self._hooks[name] = fn

    @property
    def has_keep_groups(self) -> bool:
        return "keep_groups" in self._hooks

    def watch(self, state) -> None:
        """`state()` gives ({name: tensor}, {name: plain value}) that no hook may change (the
        trainer's policy, reference policy and optimiser); every call compares them before and
        after, by value."""
        self._watched = state

    def _state(self):
        """The watched state as (names, sizes, one flat copy of every tensor's bits, plain values)."""
        tensors, plain = self._watched()
        device = next(iter(tensors.values())).device if tensors else "cpu"
        # Adam keeps its step counts on the CPU whatever the parameters' device
        flat = [t.detach().reshape(-1).to(device) for t in tensors.values()]
        values = torch.cat(flat) if flat else torch.zeros(0)
        return list(tensors), [t.numel() for t in flat], values.view(_BITS[values.element_size()]), plain

    def _unchanged(self, before, name: str) -> None:
        names, sizes, flat, plain = self._state()
        old_names, old_sizes, old_flat, old_plain = before
        if names != old_names or sizes != old_sizes:
            raise ObjectiveError(f"`{name}` changed the evaluator's policy or optimiser (tensors added, removed or resized)")
        if not torch.equal(flat, old_flat):
            first = int((flat != old_flat).nonzero()[0].item())
            ends = torch.tensor(sizes).cumsum(0)
            raise ObjectiveError(f"`{name}` changed the evaluator's {names[int((ends <= first).sum().item())]}")
        for key, value in old_plain.items():
            if plain.get(key) != value:
                raise ObjectiveError(f"`{name}` changed the evaluator's {key}")

    def verify(self, when: str) -> None:
        """Raises ObjectiveError naming what changed since the snapshot, if anything did."""
        changed = self._snapshot.changes()
        if changed:
            more = f" and {len(changed) - 5} more" if len(changed) > 5 else ""
            raise ObjectiveError(f"{when} changed what the evaluator relies on: {'; '.join(changed[:5])}{more}")

    def _call(self, name, **kwargs):
        # Copies, `logp` included (its clone keeps the gradient path), so nothing the evaluator
        # holds is the candidate's to change in place.
        before = self._state() if self._watched is not None else None
        try:
            out = self._hooks[name](**{k: v.clone() if isinstance(v, torch.Tensor) else v for k, v in kwargs.items()})
        except BaseException as e:  # SystemExit too: a hook must not end the trainer unreported
            raise ObjectiveError(f"`{name}` raised {type(e).__name__}: {e}") from None
        self.verify(f"`{name}`")
        if before is not None:
            self._unchanged(before, name)
        return out

    def advantages(self, rewards, group_index, lengths, max_new_tokens) -> torch.Tensor:
        out = self._call("advantages", rewards=rewards, group_index=group_index, lengths=lengths, max_new_tokens=max_new_tokens)
        return _tensor("advantages", out, (rewards.shape[0],)).detach().clone()

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

