"""Defence in depth behind the source screen (guard.py): what the training process relies on is
recorded before the candidate is imported and compared after the import and after every hook
call, so that a candidate that got past the screen and changed what the trainer relies on is
rejected, naming the change, before a patched trainer trains or saves anything.

Recorded: every entry of the torch modules the trainer calls into (torch, torch.nn.functional,
torch.optim and Adam's modules, clip_grad_norm_'s, nn.Module's, torch.serialization), of the
standard-library modules it uses (builtins, json, sys's import hooks) and of the evaluator's own
modules, with each function's code and defaults; every attribute of the classes it uses
(Tensor, nn.Module and the policy's layers, Optimizer and Adam, Generator, the evaluator's own);
the global nn.Module and optimiser hook registries; torch function and dispatch modes and
saved-tensor hooks; trace and profile functions; threads; and the grad, determinism (filling of
uninitialised memory included), thread-count, dtype, anomaly and precision settings. A module
may gain entries (torch fills some lazily); an entry that changes or disappears, a class
attribute added, changed or removed, a hook installed or a setting changed is a violation,
reported by name. The trainer's policy, reference policy and optimiser are watched by value
(objective.Objective.watch, trainer.trainer_state).
"""

import builtins
import json
import operator
import sys
import threading
import types

import torch
import torch.nn.functional
import torch.nn.modules.module
import torch.nn.utils.clip_grad
import torch.optim.adam
import torch.optim.optimizer
import torch.serialization
import torch.utils.deterministic

# torch.optim deletes its submodules' names from its namespace, hence sys.modules.
OPTIMIZER = sys.modules["torch.optim.optimizer"]
MODULE = sys.modules["torch.nn.modules.module"]
TORCH_MODULES = (torch, torch.nn, torch.nn.functional, torch.optim, sys.modules["torch.optim.adam"], OPTIMIZER,
                 torch.nn.utils, sys.modules["torch.nn.utils.clip_grad"], MODULE, torch.serialization,
                 torch.autograd, builtins, json)
TORCH_CLASSES = (torch.Tensor, torch._C.TensorBase, torch.nn.Module, torch.nn.Linear, torch.nn.LayerNorm,
                 torch.nn.Embedding, torch.nn.Sequential, torch.nn.ModuleList, torch.nn.GELU,
                 torch.nn.Parameter, torch.optim.Optimizer, torch.optim.Adam, torch.Generator)
# The evaluator's modules, whichever of them the process has loaded.
EVALUATOR_MODULES = ("__main__", "arith", "checks", "guard", "integrity", "objective", "policy", "runtime",
                     "scales", "warmup")
# torch wraps an optimiser class's `step` when the class's first instance is built; a throwaway
# Adam here does that before any snapshot, so the trainer's own Adam changes nothing recorded.
torch.optim.Adam([torch.zeros(1, requires_grad=True)])
HOOK_REGISTRIES = {
    "a global nn.Module forward hook": "_global_forward_hooks",
    "a global nn.Module forward pre-hook": "_global_forward_pre_hooks",
    "a global nn.Module backward hook": "_global_backward_hooks",
    "a global nn.Module backward pre-hook": "_global_backward_pre_hooks",
    "a global nn.Module buffer registration hook": "_global_buffer_registration_hooks",
    "a global nn.Module registration hook": "_global_module_registration_hooks",
    "a global nn.Module parameter registration hook": "_global_parameter_registration_hooks",
}


_CODE = operator.attrgetter("__code__")
_DEFAULTS = operator.attrgetter("__defaults__")
_KWDEFAULTS = operator.attrgetter("__kwdefaults__")


def _function_parts(v):
    if isinstance(v, (classmethod, staticmethod)):
        v = v.__func__
    if isinstance(v, property):
        return tuple(id(f) for f in (v.fget, v.fset, v.fdel))
    if isinstance(v, types.FunctionType):
        return id(v), id(v.__code__), id(v.__defaults__), id(v.__kwdefaults__)
    return (id(v),)


def _settings() -> dict:
    backends = torch.backends
    return {
        "grad mode": torch.is_grad_enabled(),
        "inference mode": torch.is_inference_mode_enabled(),
        # with fill_uninitialized_memory, torch.empty and resize_ cannot read freed memory
        # (the trainer's earlier prompts and completions)
        "deterministic algorithms": (torch.are_deterministic_algorithms_enabled(),
                                     torch.is_deterministic_algorithms_warn_only_enabled(),
                                     torch.utils.deterministic.fill_uninitialized_memory),
        "thread counts": (torch.get_num_threads(), torch.get_num_interop_threads()),
        "default dtype": torch.get_default_dtype(),
        "anomaly detection": torch.is_anomaly_enabled(),
        "float32 matmul precision": torch.get_float32_matmul_precision(),
        "cuDNN and TF32 flags": (backends.cudnn.benchmark, backends.cudnn.allow_tf32,
                                 backends.cuda.matmul.allow_tf32),
        "torch function modes": (torch._C._len_torch_function_stack(), torch._C._is_torch_function_enabled()),
        "torch dispatch modes": torch._C._len_torch_dispatch_stack(),
        "saved-tensor hooks": torch._C._autograd._top_saved_tensors_default_hooks(False) is not None,
        "trace and profile functions": (sys.gettrace(), sys.getprofile(), threading.gettrace(),
                                        threading.getprofile()),
        "threads": threading.active_count(),
        "import hooks": (tuple(map(id, sys.meta_path)), tuple(map(id, sys.path_hooks))),
        "optimiser step hooks": (tuple(OPTIMIZER._global_optimizer_pre_hooks),
                                 tuple(OPTIMIZER._global_optimizer_post_hooks)),
        **{what: tuple(getattr(MODULE, name)) for what, name in HOOK_REGISTRIES.items()},
    }


class Snapshot:
    def __init__(self):
        evaluator = {name: sys.modules[name] for name in EVALUATOR_MODULES if name in sys.modules}
        modules = {m.__name__: m for m in TORCH_MODULES} | evaluator
        classes = {f"{c.__module__}.{c.__qualname__}": c for c in TORCH_CLASSES}
        for name, m in evaluator.items():
            classes.update({f"{name}.{v.__qualname__}": v for v in vars(m).values()
                            if isinstance(v, type) and v.__module__ == m.__name__})
        self.modules = {name: (m, {k: _function_parts(v) for k, v in vars(m).items()}) for name, m in modules.items()}
        self.classes = {name: (c, self._class_entries(c)) for name, c in classes.items()}
        self.settings = _settings()
        namespaces = [vars(m) for m, _ in self.modules.values()] + [vars(c) for c, _ in self.classes.values()]
        self._functions = [f for d in namespaces for f in d.values() if isinstance(f, types.FunctionType)]
        self._fast = self._fingerprint()

    def _fingerprint(self):
        """Every identity changes() compares, gathered at C speed: a cheap test of "nothing
        changed" for every hook call, the detailed comparison only when it fails."""
        return (
            [tuple(map(id, vars(m).values()))[:len(entries)] for m, entries in self.modules.values()],
            [tuple(self._class_entries(c).items()) for c, _ in self.classes.values()],
            [tuple(map(id, map(_CODE, self._functions))), tuple(map(id, map(_DEFAULTS, self._functions))),
             tuple(map(id, map(_KWDEFAULTS, self._functions)))],
            _settings(),
        )

    @staticmethod
    def _class_entries(c) -> dict:
        # __slotnames__ is copyreg's cache, added to a class the first time it is pickled (torch.save)
        return {k: _function_parts(v) for k, v in vars(c).items() if k not in ("__dict__", "__slotnames__")}

    def changes(self) -> list[str]:
        """What differs from the snapshot, by name; empty when nothing does."""
        if self._fingerprint() == self._fast:
            return []
        out = []
        for name, (m, entries) in self.modules.items():
            now = vars(m)
            for k, parts in entries.items():
                if k not in now:
                    out.append(f"{name}.{k} was deleted")
                elif _function_parts(now[k]) != parts:
                    out.append(f"{name}.{k} was replaced")
        for name, (c, entries) in self.classes.items():
            now = self._class_entries(c)
            for k in entries.keys() | now.keys():
                if k not in now:
                    out.append(f"{name}.{k} was deleted")
                elif k not in entries:
                    out.append(f"{name}.{k} was added")
                elif now[k] != entries[k]:
                    out.append(f"{name}.{k} was replaced")
        now = _settings()
        for what, before in self.settings.items():
            if now[what] != before:
                out.append(f"{what} changed")
        return out
