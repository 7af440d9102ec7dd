"""Static screening of a candidate's source, before anything of it runs.

The candidate is Python imported into the training process, which Python cannot sandbox, so the
screen is what keeps a candidate to its job (turning rewards and log-probabilities into a loss):
it may import only `torch` and `math`, and may not name anything that reaches outside the
tensors it is handed — introspection (dunder names, `getattr`, `globals`, ...), files and code
(`open`, `exec`, `torch.save`/`load`), the autograd graph behind `logp` (`grad_fn`,
`next_functions`, `.data`), global RNG and determinism settings, or `backward()` itself. Held-out
prompts are scored in another process that never imports the candidate, so there is no
held-out reward in reach to read (see task.md, "What a candidate cannot do").
"""

import ast

ALLOWED_IMPORTS = {"torch", "math"}
FORBIDDEN_NAMES = {
    "open", "exec", "eval", "compile", "globals", "locals", "vars", "getattr", "setattr", "delattr",
    "input", "breakpoint", "help", "memoryview", "__import__", "__builtins__", "type", "object",
    "super", "classmethod", "staticmethod", "property", "exit", "quit",
}
FORBIDDEN_ATTRIBUTES = {
    # the autograd graph behind the tensors handed over reaches the policy's parameters
    "grad_fn", "next_functions", "variable", "data", "grad", "register_hook", "backward",
    "retain_grad", "untyped_storage", "storage", "set_",
    # files, code and processes
    "save", "load", "hub", "jit", "compile", "export", "fx", "ops", "library", "classes",
    "utils", "serialization", "multiprocessing", "distributed", "overrides", "package",
    # state the evaluator owns: RNGs, threads, determinism, devices, optimiser-facing modules
    "autograd", "backends", "cuda", "mps", "random", "manual_seed", "seed", "initial_seed",
    "set_rng_state", "get_rng_state", "set_num_threads", "set_num_interop_threads",
    "use_deterministic_algorithms", "set_default_dtype", "set_default_device", "set_grad_enabled",
    "set_printoptions",
}


class Rejected(Exception):
    """The candidate's source breaks a rule; the message names the rule and the line."""


def screen(source: str, filename: str) -> ast.Module:
    try:
        tree = ast.parse(source, filename)
    except SyntaxError as e:
        raise Rejected(f"syntax error at line {e.lineno}: {e.msg}") from None
    for node in ast.walk(tree):
        line = getattr(node, "lineno", "?")
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] not in ALLOWED_IMPORTS or "." in alias.name:
                    raise Rejected(f"line {line}: `import {alias.name}`: only `torch` and `math` may be imported")
        elif isinstance(node, ast.ImportFrom):
            raise Rejected(f"line {line}: `from ... import` is not allowed; use `import torch` / `import math`")
        elif isinstance(node, ast.Name):
            if node.id in FORBIDDEN_NAMES or node.id.startswith("__"):
                raise Rejected(f"line {line}: the name `{node.id}` is not allowed in a candidate")
        elif isinstance(node, ast.Attribute):
            if node.attr.startswith("_") or node.attr in FORBIDDEN_ATTRIBUTES:
                raise Rejected(f"line {line}: the attribute `.{node.attr}` is not allowed in a candidate")
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            raise Rejected(f"line {line}: `global`/`nonlocal` are not allowed (hooks must be pure functions)")
        elif isinstance(node, (ast.AsyncFunctionDef, ast.Await, ast.Yield, ast.YieldFrom)):
            raise Rejected(f"line {line}: async functions and generators are not allowed")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("__"):
            raise Rejected(f"line {line}: string constants naming dunder attributes are not allowed")
    return tree
