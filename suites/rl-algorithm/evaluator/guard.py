"""Static screening of a candidate's source, before anything of it runs.

The candidate is Python imported into the training process, which Python cannot sandbox, so the
screen is what keeps a candidate to its job (turning rewards and log-probabilities into a loss).
A deny-list of names cannot do that: `torch` alone holds `os`, `sys`, `builtins`, `optim`, file
mappers and hook registries among its ~1,500 attributes. So the screen is an allow-list:

- imports: only `import torch` and `import math`;
- attributes: only names that are tensor maths, namely the functions and constants of `torch`,
  `torch.nn.functional`, `torch.linalg`, `torch.special`, `torch.fft` and `math`, tensor
  methods and properties, fields of dtypes, sizes, devices and of torch's named-tuple results,
  and the methods of Python's own lists, dicts, tuples and numbers; minus everything that
  reaches the autograd graph or the memory behind a tensor (`grad_fn`, `.data`, `backward`),
  files or code (`from_file`, `save`, `compile`), or process-wide state (RNG seeds, `set_*`,
  `register_*` hooks). No other module is reachable: `torch.optim`, `torch.os` and
  `torch.nn.modules` are rejected by name;
- no attribute assignment or deletion (so nothing of torch or the evaluator can be replaced),
  no class definitions (no subclass overriding what the evaluator calls), no `match` (a class
  pattern reads attributes by name), no `global`, generators or async code, and no dunder
  names, introspection or code builtins (`getattr`, `globals`, `open`, `exec`, ...).

Held-out prompts are scored in another process that never imports the candidate, so there is no
held-out reward in reach to read (see task.md, "What a candidate cannot do"). The trainer checks
at run time too (integrity.py) that the candidate changed nothing it relies on.
"""

import ast
import math
import types

import torch

ALLOWED_IMPORTS = {"torch", "math"}
FORBIDDEN_NAMES = {
    "open", "exec", "eval", "compile", "globals", "locals", "vars", "getattr", "setattr", "delattr",
    "hasattr", "dir", "input", "breakpoint", "help", "memoryview", "__import__", "__builtins__",
    "type", "object", "super", "classmethod", "staticmethod", "property", "exit", "quit",
    # exceptions that are not `Exception`s end the process rather than fail the hook
    "BaseException", "SystemExit", "KeyboardInterrupt", "GeneratorExit",
}

_GRAPH = "reaches the autograd graph or the memory behind a tensor, and through them the policy"
_FILES = "reads or writes files, or compiles or runs code"
_STATE = "changes process-wide state the evaluator owns (RNG, threads, determinism, grad and autocast modes)"
_HOOK = "installs a hook, which would run candidate code inside the evaluator's modules, optimiser or autograd"
DENIED = {
    **dict.fromkeys((
        "grad_fn", "next_functions", "variable", "data", "grad", "grad_dtype", "backward",
        "retain_grad", "untyped_storage", "storage", "storage_type", "set_", "as_subclass",
        "module_load", "data_ptr", "const_data_ptr", "share_memory_", "numpy", "record_stream",
    ), _GRAPH),
    **dict.fromkeys((
        "save", "load", "from_file", "from_numpy", "frombuffer", "from_dlpack", "to_dlpack",
        "compile", "cond", "while_loop", "fork", "wait", "import_ir_module",
        "import_ir_module_from_buffer", "parse_ir", "parse_schema", "parse_type_comment",
        "merge_type_from_type_comment", "unify_type_list", "get_file_path",
        "prepare_multiprocessing_environment", "get_device_module", "classproperty", "tofile",
        "dump", "dumps", "format", "format_map",
    ), _FILES),
    **dict.fromkeys((
        "manual_seed", "seed", "initial_seed", "get_rng_state", "default_generator", "Generator",
        "thread_safe_generator", "use_deterministic_algorithms", "init_num_threads",
        "autocast_increment_nesting", "autocast_decrement_nesting", "clear_autocast_cache",
        "profiler_allow_cudagraph_cupti_lazy_reinit_cuda12",
    ), _STATE),
}
DENIED_PREFIXES = {"set_": _STATE, "register_": _HOOK}

# The namespaces a candidate may use, by the attribute name that reaches each. `functional` also
# reaches torch.functional, whose public functions are torch's own.
NAMESPACES = {"nn": torch.nn, "functional": torch.nn.functional, "linalg": torch.linalg,
              "special": torch.special, "fft": torch.fft}
# Modules a chain from `torch` may pass through. Tensor methods share names with torch's device
# modules (`.cuda()`, `.cpu()`), so `torch.<name>` is also resolved and must land in one of these.
ALLOWED_MODULES = {torch, math, torch.functional, *NAMESPACES.values()}
SAFE_CLASSES = {torch.Tensor, torch.Size, torch.dtype, torch.finfo, torch.iinfo, torch.device,
                torch.layout, torch.memory_format, torch.no_grad, torch.enable_grad,
                torch.inference_mode, torch.linalg.LinAlgError}
# torch.nn.functional's dispatch helpers, not maths
F_HELPERS = {"handle_torch_function", "has_torch_function", "has_torch_function_unary",
             "has_torch_function_variadic", "boolean_dispatch", "assert_int_or_pair"}
PYTHON_METHODS = {
    "append", "extend", "insert", "pop", "remove", "index", "count", "reverse", "sort", "copy",
    "clear", "get", "items", "keys", "values", "setdefault", "update", "is_integer", "real",
    "imag", "conjugate", "bit_length", "as_integer_ratio", "startswith", "endswith", "join",
    "split", "strip", "lower", "upper", "replace",
}
_VALUE_TYPES = (types.BuiltinFunctionType, types.FunctionType, torch.dtype, torch.layout,
                torch.memory_format, torch.qscheme, float, bool)


def _public(obj) -> set:
    return {n for n in dir(obj) if not n.startswith("_")}


def _denied(name: str) -> str | None:
    if name in DENIED:
        return DENIED[name]
    for prefix, why in DENIED_PREFIXES.items():
        if name.startswith(prefix):
            return why
    return None


def _torch_value_ok(name: str, value) -> bool:
    if isinstance(value, type):
        return value in SAFE_CLASSES or (name.endswith("Tensor") and issubclass(value, torch.Tensor))
    return isinstance(value, _VALUE_TYPES)


def allowed_attributes() -> frozenset:
    names = set(NAMESPACES) | PYTHON_METHODS | _public(math) | _public(torch.Tensor)
    names |= {n for n in _public(torch) if _torch_value_ok(n, getattr(torch, n, None))}
    names |= {n for n in _public(torch.nn.functional) - F_HELPERS
              if isinstance(getattr(torch.nn.functional, n), (types.FunctionType, types.BuiltinFunctionType))}
    for ns in (torch.linalg, torch.special, torch.fft):
        names |= {n for n in _public(ns) if _torch_value_ok(n, getattr(ns, n))}
    for cls in (torch.finfo, torch.iinfo, torch.dtype, torch.Size, torch.device):
        names |= _public(cls)
    for n in _public(torch.return_types):
        cls = getattr(torch.return_types, n)
        if isinstance(cls, type) and issubclass(cls, tuple):
            names |= {f for f in getattr(cls, "__match_args__", ()) if "rng" not in f and "philox" not in f}
    return frozenset(n for n in names if _denied(n) is None and not n.startswith("_"))


ALLOWED_ATTRIBUTES = allowed_attributes()
MODULE_NAMES = frozenset(
    n for ns in (torch, torch.nn, torch.nn.functional, torch.functional)
    for n in _public(ns) if isinstance(getattr(ns, n, None), types.ModuleType)
) - set(NAMESPACES)


class Rejected(Exception):
    """The candidate's source breaks a rule; the message names the rule and the line."""


def _module_problem(what: str) -> str:
    return (f"`{what}` names a module a candidate may not use (only torch's tensor functions, "
            "torch.nn.functional, torch.linalg, torch.special, torch.fft and math)")


def _attribute_problem(attr: str) -> str | None:
    if attr.startswith("_"):
        return f"the attribute `.{attr}` is not allowed in a candidate"
    why = _denied(attr)
    if why:
        return f"the attribute `.{attr}` is not allowed: it {why}"
    if attr in ALLOWED_ATTRIBUTES:
        return None
    if attr in MODULE_NAMES:
        return _module_problem(f".{attr}")
    return (f"the attribute `.{attr}` is not one a candidate may use (only the functions of torch, "
            "torch.nn.functional, torch.linalg, torch.special, torch.fft and math, tensor methods and "
            "properties, and the methods of Python's lists, dicts, tuples and numbers)")


def _identifiers(node):
    """Names a node binds that are not ast.Name nodes (definitions, parameters, aliases)."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        yield node.name
    elif isinstance(node, ast.arg):
        yield node.arg
    elif isinstance(node, ast.keyword) and node.arg:
        yield node.arg
    elif isinstance(node, ast.alias):
        yield node.asname or node.name
    elif isinstance(node, ast.ExceptHandler) and node.name:
        yield node.name


def screen(source: str, filename: str) -> ast.Module:
    try:
        tree = ast.parse(source, filename)
    except SyntaxError as e:
        raise Rejected(f"syntax error at line {e.lineno}: {e.msg}") from None
    attributes = [n for n in ast.walk(tree) if isinstance(n, ast.Attribute)]
    # Changing an object is the first thing to report: it is what patches torch or the evaluator.
    for node in attributes:
        if not isinstance(node.ctx, ast.Load):
            raise Rejected(f"line {node.lineno}: assigning to or deleting an attribute (`.{node.attr}`) is not "
                           "allowed: hooks compute on the tensors they are handed and may not change "
                           "torch, the evaluator or any other object")
    bases = {id(n.value) for n in attributes}
    for node in ast.walk(tree):
        line = getattr(node, "lineno", "?")
        for ident in _identifiers(node):
            if ident.startswith("__"):
                raise Rejected(f"line {line}: the name `{ident}` is not allowed in a candidate")
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] not in ALLOWED_IMPORTS or "." in alias.name:
                    raise Rejected(f"line {line}: `import {alias.name}`: only `torch` and `math` may be imported")
                if alias.asname not in (None, alias.name):
                    raise Rejected(f"line {line}: `import {alias.name} as {alias.asname}`: import it under its own name")
        elif isinstance(node, ast.ImportFrom):
            raise Rejected(f"line {line}: `from ... import` is not allowed; use `import torch` / `import math`")
        elif isinstance(node, ast.Name):
            if node.id in FORBIDDEN_NAMES or node.id.startswith("__"):
                raise Rejected(f"line {line}: the name `{node.id}` is not allowed in a candidate")
            if node.id == "torch" and isinstance(node.ctx, ast.Load) and id(node) not in bases:
                raise Rejected(f"line {line}: the module `torch` may only be used as `torch.<name>` "
                               "(not assigned or passed on), so that every use of it is screened")
        elif isinstance(node, ast.Attribute):
            # innermost first, so that `torch.os.system` is reported as `torch.os`
            chain = [node]
            while isinstance(chain[-1].value, ast.Attribute):
                chain.append(chain[-1].value)
            for link in reversed(chain):
                problem = _attribute_problem(link.attr)
                if problem is None and isinstance(link.value, ast.Name) and link.value.id == "torch":
                    target = getattr(torch, link.attr, None)
                    if isinstance(target, types.ModuleType) and target not in ALLOWED_MODULES:
                        problem = _module_problem(f"torch.{link.attr}")
                if problem:
                    raise Rejected(f"line {line}: {problem}")
        elif isinstance(node, ast.ClassDef):
            raise Rejected(f"line {line}: class definitions are not allowed: a subclass could override what "
                           "the evaluator calls (a Tensor's `__torch_function__`, an optimiser's `step`); "
                           "write the hooks as functions")
        elif isinstance(node, ast.Match):
            raise Rejected(f"line {line}: `match` statements are not allowed (a class pattern reads "
                           "attributes by name, around this screen)")
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            raise Rejected(f"line {line}: `global`/`nonlocal` are not allowed (hooks must be pure functions)")
        elif isinstance(node, (ast.AsyncFunctionDef, ast.Await, ast.Yield, ast.YieldFrom)):
            raise Rejected(f"line {line}: async functions and generators are not allowed")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("__"):
            raise Rejected(f"line {line}: string constants naming dunder attributes are not allowed")
    return tree
