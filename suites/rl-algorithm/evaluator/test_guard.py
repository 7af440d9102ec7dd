"""Self-tests of the evaluator's integrity layers: the source screen (guard.py), the run-time
snapshot (integrity.py) and the parent's reading of the child's report (evaluate.py). Seconds,
no RL run. `python3 test_guard.py` (or pytest, where installed) from anywhere.
"""

import json
import os
import pathlib
import sys
import tempfile
import tomllib
import types

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import evaluate  # noqa: E402  (sets the process up before torch, as every entry point does)
import guard  # noqa: E402
import integrity  # noqa: E402
import torch  # noqa: E402

ROOT = HERE.parent.parent.parent
HONEST = [ROOT / "suites/rl-algorithm/initial_program.py",
          *sorted((ROOT / "designs/rl-algorithm").glob("*.py"))]
EXPLOITS = ROOT / "designs/exploits/rl-algorithm.toml"


def rejection(source: str) -> str | None:
    try:
        guard.screen(source, "candidate.py")
    except guard.Rejected as e:
        return str(e)
    return None


def test_honest_designs_pass_the_screen():
    for path in HONEST:
        assert rejection(path.read_text()) is None, (path, rejection(path.read_text()))


def test_exploit_designs_are_rejected_by_the_screen_with_their_reason():
    designs = tomllib.loads(EXPLOITS.read_text())["design"]
    assert len(designs) >= 3
    for d in designs:
        if d.get("expect") != "rejected":
            continue
        why = rejection((EXPLOITS.parent / d["program"]).read_text())
        assert why is not None, d["name"]
        assert d.get("reason", "") in why, (d["name"], why)


REJECTED = {
    "torch.optim.Adam.step = None": "assigning to or deleting an attribute",
    "del torch.nn.functional.softplus": "assigning to or deleting an attribute",
    "x = torch.zeros(1)\nx.requires_grad = True": "assigning to or deleting an attribute",
    "torch.nn.functional.pad += 1": "assigning to or deleting an attribute",
    "class A(torch.Tensor):\n    pass": "class definitions are not allowed",
    "def f(x):\n    match x:\n        case torch.Tensor(grad_fn=g):\n            return g": "`match` statements",
    "torch.os.system('id')": "`.os` names a module",
    "f = torch.builtins.open": "`.builtins` names a module",
    "m = torch.sys.modules": "`.sys` names a module",
    "f = torch.inspect.currentframe()": "`.inspect` names a module",
    "m = torch.cuda.memory": "`torch.cuda` names a module",
    "m = torch.cpu": "`torch.cpu` names a module",
    "t = torch": "may only be used as `torch.<name>`",
    "def f(m):\n    return m\nf(torch)": "may only be used as `torch.<name>`",
    "import torch as t": "import it under its own name",
    "import os": "only `torch` and `math` may be imported",
    "from torch import nn": "`from ... import` is not allowed",
    "x = torch.from_file('w.pt', shared=True, size=4)": "`.from_file` is not allowed",
    "x = torch.UntypedStorage.from_file('w.pt', True, 4)": "`.UntypedStorage` is not one",
    "x = torch.zeros(3).numpy()": "`.numpy` is not allowed",
    "x = torch.zeros(3).untyped_storage()": "`.untyped_storage` is not allowed",
    "h = torch.nn.modules.module.register_module_forward_hook": "`.modules` names a module",
    "h = torch.zeros(1).register_post_accumulate_grad_hook": "`.register_post_accumulate_grad_hook` is not allowed",
    "o = torch.optim.Adam": "`.optim` names a module",
    "g = torch.func.grad_and_value": "`.func` names a module",
    "g = torch.autograd.grad": "`.autograd` names a module",
    "g = torch.Generator()": "`.Generator` is not allowed",
    "g = torch.default_generator": "`.default_generator` is not allowed",
    "torch.manual_seed(0)": "`.manual_seed` is not allowed",
    "torch.set_num_threads(2)": "`.set_num_threads` is not allowed",
    "torch.set_default_dtype(torch.float64)": "`.set_default_dtype` is not allowed",
    "c = torch.compile": "`.compile` is not allowed",
    "p = torch.profiler": "`.profiler` names a module",
    "o = torch.onnx": "`.onnx`",
    "s = torch.save": "`.save` is not allowed",
    "n = torch.nn.functional.np": "`.np` names a module",
    "g = (1 for _ in [0])\nf = g.gi_frame": "`.gi_frame` is not one a candidate may use",
    "def f(logp):\n    return logp.grad_fn": "the attribute `.grad_fn` is not allowed",
    "y = torch.zeros(1).data": "the attribute `.data` is not allowed",
    "def f(loss):\n    loss.backward()": "the attribute `.backward` is not allowed",
    "f = getattr": "the name `getattr` is not allowed",
    "def __getattr__(name):\n    return 1": "the name `__getattr__` is not allowed",
    "def f(__x):\n    return 1": "the name `__x` is not allowed",
    "raise SystemExit(0)": "the name `SystemExit` is not allowed",
    "s = '{0.x}'.format(1)": "`.format` is not allowed",
    "x = torch.zeros(1)._version": "the attribute `._version` is not allowed",
    "global X": "`global`/`nonlocal` are not allowed",
    "def f():\n    yield 1": "generators are not allowed",
    "s = '__class__'": "string constants naming dunder attributes",
}

ALLOWED = [
    "F = torch.nn.functional\ny = F.softplus(torch.zeros(2))",
    "x = torch.ones(2, 3)\ny = x.cpu().tolist()",
    "y = torch.linalg.norm(torch.ones(2)) + torch.special.expit(torch.zeros(1))",
    "y = math.log(2.0) + math.exp(1.0)",
    "acc = []\nacc.append(1)\nd = {}\nv = d.get('k', 0)",
    "x = torch.ones(2)\neps = torch.finfo(x.dtype).eps",
    "v = torch.max(torch.ones(2, 2), dim=1).values",
    "x = torch.ones(2)\nd = x.device.type",
    "with torch.no_grad():\n    y = torch.ones(2).exp()",
    "def f(x):\n    x[0] = 1.0\n    return x",
    "y = torch.where(torch.ones(2) > 0, 1.0, 0.0).float()",
]


ORDINARY = """
def f(x, m):
    a = torch.nn.functional.logsigmoid(x) + torch.clamp_min(x, 0) + torch.nan_to_num(x)
    b = x.masked_fill(m.bool(), 0.0).detach().sign().abs() * torch.quantile(x.float(), 0.5)
    c = torch.sort(x.view(-1)).values.argsort().float().cumsum(0).new_zeros(3).to(x.dtype).to(x.device)
    n = x.numel() + x.shape[0] + x.size(0) + x.dim()
    d = x.unsqueeze(0).expand(2, -1).repeat_interleave(2, dim=0).sum(1)
    g = torch.logsumexp(x, 0) + math.sqrt(2) + math.log(3) + x.mean().item() + len(x.tolist())
    h = torch.full_like(x, 1) + torch.arange(3, device=x.device).float().mean()
    i = torch.finfo(torch.float32).eps + x.clamp(min=0).std(unbiased=False) + x.var(correction=0)
    j = torch.sigmoid(x) + torch.nn.functional.softplus(x) + x.pow(2).sqrt().rsqrt()
    k = torch.expm1(x) + x.mean(dim=-1, keepdim=True) + x.max(dim=0).values + x.amax()
    q = torch.logical_and(x > 0, x.bool()).view(-1).reshape(-1).flatten().T.t().contiguous()
    r = torch.stack([x, x]).transpose(0, 1).chunk(2)[0] + x.gather(0, torch.zeros(1, dtype=torch.long))
    t = x.lerp(x, 0.5) + torch.einsum("i,i->", x, x) + torch.where(x > 0, x, -x) + torch.topk(x, 1).values
    with torch.no_grad():
        u = x.clone().zero_().add_(1).mul_(2).clamp_(0, 1)
    return a, b, c, n, d, g, h, i, j, k, q, r, t, u
"""


def test_the_screen_rejects_each_escape_with_its_reason():
    for body, want in REJECTED.items():
        why = rejection("import torch\nimport math\n" + body + "\n")
        assert why is not None and want in why, (body, why)


def test_the_screen_allows_ordinary_tensor_maths():
    for body in [*ALLOWED, ORDINARY]:
        assert rejection("import torch\nimport math\n" + body + "\n") is None, (body, rejection("import torch\nimport math\n" + body))


def test_no_module_outside_the_tensor_maths_namespaces_is_reachable():
    """Following only allowed attribute names from `torch` and `math` (with `torch.<name>`
    resolved as the screen resolves it) reaches no module the screen does not allow, and no
    mutable container torch keeps."""
    seen, frontier, reached, mutable = set(), [("torch", torch), ("math", guard.math)], set(), []
    for _ in range(4):
        following = []
        for path, obj in frontier:
            for name in sorted(guard.ALLOWED_ATTRIBUTES):
                try:
                    value = getattr(obj, name)
                except Exception:
                    continue
                if obj is torch and isinstance(value, types.ModuleType) and value not in guard.ALLOWED_MODULES:
                    continue  # rejected by the screen's resolution of `torch.<name>`
                if id(value) in seen:
                    continue
                seen.add(id(value))
                if isinstance(value, types.ModuleType):
                    reached.add(value)
                if isinstance(value, (types.ModuleType, type)):
                    following.append((f"{path}.{name}", value))
                elif isinstance(value, (dict, list, set, bytearray, torch.Tensor)):
                    mutable.append(f"{path}.{name}")
        frontier = following
    assert reached <= guard.ALLOWED_MODULES, sorted(m.__name__ for m in reached - guard.ALLOWED_MODULES)
    assert not mutable, mutable


def test_the_snapshot_names_what_a_candidate_changed():
    snap = integrity.Snapshot()
    assert snap.changes() == []
    step = torch.optim.Adam.step
    torch.optim.Adam.step = lambda self, closure=None: None
    try:
        assert any("torch.optim.adam.Adam.step was replaced" in c for c in snap.changes()), snap.changes()
    finally:
        torch.optim.Adam.step = step
    handle = integrity.MODULE.register_module_forward_pre_hook(lambda module, args: None)
    try:
        assert "a global nn.Module forward pre-hook changed" in snap.changes()
    finally:
        handle.remove()
    clip = torch.nn.utils.clip_grad_norm_
    torch.nn.utils.clip_grad_norm_ = lambda *a, **k: torch.tensor(0.0)
    try:
        assert any("torch.nn.utils.clip_grad_norm_ was replaced" in c for c in snap.changes()), snap.changes()
    finally:
        torch.nn.utils.clip_grad_norm_ = clip
    torch.set_grad_enabled(False)
    try:
        assert "grad mode changed" in snap.changes()
    finally:
        torch.set_grad_enabled(True)
    assert snap.changes() == []


def _report(content, mode="train", seeds=(0,), returncode=0) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "report.json")
        if content is not None:
            with open(path, "w") as f:
                f.write(content if isinstance(content, str) else json.dumps(content))
        try:
            return evaluate.read_report(path, returncode, mode, seeds)
        except evaluate.Rejected as e:
            return str(e)


RUN = {"groups_sampled": 1280, "groups_kept": 1280, "updates": 80, "kl_last": 0.1, "train_reward": 0.5,
       "mean_length": 3.5, "train_reward_last50": 0.6, "seconds": 100.0}


def test_the_parent_rejects_a_missing_or_malformed_report_with_a_reason():
    assert "exited with status -9 without writing its report" in _report(None, returncode=-9)
    assert "not valid JSON" in _report("{")
    assert "no boolean `ok`" in _report([1])
    assert "no boolean `ok`" in _report({"ok": 1})
    assert _report({"ok": False, "reason": "`advantages` raised"}) == "`advantages` raised"
    assert _report({"ok": False}) == "the trainer failed without a reason"
    assert _report({"ok": False, "reason": "x" * 10**5}).endswith("[...]")
    assert "expected [0]" in _report({"ok": True, "runs": {"1": RUN}})
    assert "expected [0]" in _report({"ok": True})
    assert "`kl_last` is nan" in _report('{"ok": true, "runs": {"0": ' + json.dumps({**RUN, "kl_last": float("nan")}) + "}}")
    assert "`updates` is True" in _report({"ok": True, "runs": {"0": {**RUN, "updates": True}}})
    assert "`groups_kept` is 2.5" in _report({"ok": True, "runs": {"0": {**RUN, "groups_kept": 2.5}}})
    assert "sampled no groups" in _report({"ok": True, "runs": {"0": {**RUN, "groups_sampled": 0}}})
    assert "seed 0's run is" in _report({"ok": True, "runs": {"0": [1]}})


def test_the_parent_keeps_only_the_facts_it_knows():
    out = _report({"ok": True, "runs": {"0": {**RUN, "accuracy": 1.0, "score": 1.0}}})
    assert out == {"runs": {0: RUN}}, out
    facts = {"check_loss": 0.1, "check_grad_norm": 0.2, "check_groups_kept": 4, "has_keep_groups": False,
             "check_seconds": 0.01}
    assert _report({"ok": True, **facts, "scale": "gpu", "warmup_accuracy": 1.0}, mode="check") == facts


if __name__ == "__main__":
    tests = [(name, fn) for name, fn in sorted(globals().items()) if name.startswith("test_") and callable(fn)]
    for name, fn in tests:
        fn()
        print(f"ok  {name}")
    print(f"{len(tests)} tests passed")
