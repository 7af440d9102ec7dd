"""The gpu scale checked before a GPU is paid for, and run when one is there.

    python3 gpu_shape.py                  # CI, on the CPU: the `gpu-shape` scale (about 2-3 minutes on 2 cores)
    python3 gpu_shape.py --scale gpu      # on one CUDA device (scripts/gpu-check.sh run): the real thing

`gpu-shape` (evaluator/scales.py) is `gpu` with `device = cpu`, its step counts cut to a handful,
its LM batch cut from 32 to 2 and its held-out scoring to 2 windows at 4 positions (a training step
at [32, 512] takes about 29 s on 2 cores); every model size, sequence length, MQAR batch, data
path, cache folder and code path is the gpu scale's, and the full [32, 512] LM batch goes through
one forward and backward of the seed's model here, for the memory estimate. This script:

1. checks that `gpu-shape` differs from `gpu` in nothing but those cuts (so they cannot drift apart);
2. checks the gpu scale's data against its sizes: the corpus, its held-out windows (the full count
   of them, not the cut one), MQAR's sequences, the reference cache folder;
3. prints the parameter counts and an estimate of the GPU memory one gpu-scale training needs,
   measured at the full gpu batch shapes on the CPU (formula below);
4. builds a Triton launcher inside the confined candidate process (what fla's kernels need there
   at the gpu scale), when Triton is importable;
5. evaluates the seed through `evaluate.py` stage by stage, as the harness does (the confined
   worker, the three stages, the reference trained and cached in a fresh cache folder), and checks
   every stage is valid, confined, its parameter count the estimate's, and the held-out scoring
   causal.

Exit status 0 when every check passes, 1 otherwise (each failure is printed). `--json PATH` writes
the numbers for scripts/gpu-check.sh's table.

Memory estimate (fp32 throughout, as the evaluator trains), with P parameters:
    GPU memory of one training  ~=  16P  +  S
    16P: weights 4P + gradients 4P + AdamW's two moments 8P bytes;
    S:   the peak of activations and their gradients in one training step (forward, loss,
         backward) of the seed's model at the full gpu batch shape, measured here on the CPU as
         the growth of the process's resident memory across that step (in a process of its own).
         A, the part autograd saves for the backward pass (saved-tensor hooks, parameters
         excluded, each storage once), is printed beside it. Both are the seed's plain-torch
         path; fla's kernels save less. The CUDA context (about 0.5 GiB per process) and the
         caching allocator's slack come on top. With `--scale gpu` S is measured on the GPU
         instead (the allocator's peak across the step, fla's path where fla is importable).
One candidate process trains at a time (the evaluator's own process never touches CUDA), so the
evaluation's peak is the larger of the LM's and MQAR's.
"""

import argparse
import dataclasses
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from evaluator import runtime  # noqa: E402  (OMP_WAIT_POLICY before torch)
from evaluator import lm, mqar, reference, scales  # noqa: E402
from evaluator.model import LanguageModel, parameter_count  # noqa: E402

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

# What gpu-shape may differ from gpu in: the device (and its thread count), step counts, and how
# much of the held-out text is scored. Anything else differing is drift, and fails the check.
ALLOWED_CUTS = {"name", "device", "threads", "lm.steps", "lm.warmup", "lm.batch", "lm.eval_windows",
                "lm.scored_positions", "mqar.steps"}
SEED = os.path.join(HERE, "initial_program.py")
GIB = 1 << 30
STARTED = time.perf_counter()

PROBE = r'''
# A candidate for the check only: before the seed's Mixer, it builds a small Python extension with
# Triton's own launcher build (the C compiler, Python.h, tempfile, TRITON_CACHE_DIR), as fla's
# kernels make Triton do in the confined process at the gpu scale. Any failure fails the import.
from triton.runtime import build as _build
_SRC = """#include <Python.h>
static struct PyModuleDef m = {PyModuleDef_HEAD_INIT, "gpu_shape_probe", NULL, -1, NULL};
PyMODINIT_FUNC PyInit_gpu_shape_probe(void) { return PyModule_Create(&m); }
"""
try:
    _build.compile_module_from_src(_SRC, "gpu_shape_probe")
except Exception as _e:
    raise RuntimeError(f"Triton could not build its launcher in the confined process: {type(_e).__name__}: {_e}")
'''


class Failures(list):
    def check(self, ok, what):
        print(f"  {'ok  ' if ok else 'FAIL'} {what}", flush=True)
        if not ok:
            self.append(what)
        return ok


def fields(scale, prefix=""):
    out = {}
    for f in dataclasses.fields(scale):
        value = getattr(scale, f.name)
        if dataclasses.is_dataclass(value):
            out.update(fields(value, f"{prefix}{f.name}."))
        else:
            out[prefix + f.name] = value
    return out


def check_cuts(scale, fail):
    print("1. gpu-shape against gpu", flush=True)
    gpu, ours = fields(scales.SCALES["gpu"]), fields(scale)
    differ = {k for k in gpu if gpu[k] != ours[k]}
    cuts = ", ".join(f"{k} {gpu[k]} -> {ours[k]}" for k in sorted(differ))
    fail.check(differ <= ALLOWED_CUTS, f"differs from gpu only in {sorted(ALLOWED_CUTS)}: {cuts or 'nothing'}")


def check_data(scale, fail):
    print("2. the gpu scale's data and folders", flush=True)
    gpu = scales.SCALES["gpu"]
    path, data = lm.corpus()
    split = int(0.9 * len(data))
    held_out = data[split:]
    fits = (len(held_out) - (gpu.lm.seq_len + 1)) // (gpu.lm.seq_len + 1) + 1
    try:
        windows = lm.held_out_windows(held_out, gpu.lm)
        fail.check(tuple(windows.shape) == (gpu.lm.eval_windows, gpu.lm.seq_len + 1),
                   f"corpus {path} ({len(data)} bytes): {gpu.lm.eval_windows} disjoint held-out windows of "
                   f"{gpu.lm.seq_len + 1} bytes (at most {fits} fit)")
    except AssertionError as e:
        fail.check(False, f"corpus {path} ({len(data)} bytes): {e} (at most {fits} fit, gpu asks {gpu.lm.eval_windows})")
    m = gpu.mqar
    fail.check(m.pairs <= m.n_keys and m.eval_sequences > 0,
               f"MQAR: {m.pairs} pairs of {m.n_keys} keys / {m.n_values} values, sequences of {3 * m.pairs} tokens, "
               f"{m.eval_sequences} held-out sequences in calls of {mqar.EVAL_BATCH}")
    inputs, targets = mqar.sequences(4, m, torch.Generator().manual_seed(0))
    fail.check(tuple(inputs.shape) == (4, 3 * m.pairs) and int(inputs.max()) < m.n_keys + m.n_values,
               f"MQAR tokens within the vocabulary of {m.n_keys + m.n_values}")
    cache = os.environ.get("ASI_EVOLVE_CACHE_DIR") or os.path.join(
        os.path.expanduser("~"), ".cache", "asi-evolve", "suites", "linear-attention")
    fail.check(scale.lm.reference_loss is None,
               f"no reference constant: the DeltaNet reference is trained on first use and cached in {cache} "
               f"(reference-{gpu.name}-seed0-{reference._key(gpu, 0)}.json for gpu)")
    try:
        import fla  # noqa: F401

        where = f"fla {getattr(fla, '__version__', '?')} importable: the seed uses its chunk_delta_rule on CUDA"
    except ImportError:
        where = "fla not importable: the seed runs its plain-torch chunked delta rule on CUDA too"
    print(f"  note {where}", flush=True)


def measure(which, device):
    """In a process of its own (`--measure lm|mqar`): one training step of the seed's model at the
    gpu batch shape; prints its parameter count, the bytes autograd saved for the backward pass
    (A) and the step's peak S: on the CPU the growth of resident memory across forward and
    backward, on CUDA the growth of the allocator's peak over the model's own memory."""
    import resource

    gpu = scales.SCALES["gpu"]
    seed = runtime.load_mixer(SEED, "seed_program")
    g = torch.Generator().manual_seed(0)
    if which == "lm":
        vocab, d, h, n = lm.VOCAB, gpu.lm.d_model, gpu.lm.n_heads, gpu.lm.n_layers
        x = torch.randint(0, vocab, (gpu.lm.batch, gpu.lm.seq_len + 1), generator=g)
        inputs, targets = x[:, :-1], x[:, 1:]
    else:
        m = gpu.mqar
        vocab, d, h, n = m.n_keys + m.n_values, m.d_model, m.n_heads, m.n_layers
        inputs, targets = mqar.sequences(m.batch, m, g)
    torch.manual_seed(0)
    model = LanguageModel(seed, vocab, d, h, n).to(device)
    inputs, targets = inputs.to(device), targets.to(device)
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    saved = {}

    def pack(t):
        storage = t.untyped_storage()
        if storage.data_ptr() not in params:
            saved[storage.data_ptr()] = storage.nbytes()
        return t

    cuda = device == "cuda"
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
    else:
        with open("/proc/self/statm") as f:
            before = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    start = time.perf_counter()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        logits = model(inputs)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=-100)
    loss.backward()
    if cuda:
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated()
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    seconds = time.perf_counter() - start
    p = parameter_count(model)
    step = max(0, peak - before)
    print(json.dumps({"params": p, "shape": list(inputs.shape), "device": device, "states_bytes": 16 * p,
                      "saved_bytes": sum(saved.values()), "step_peak_bytes": step, "total_bytes": 16 * p + step,
                      "step_seconds": seconds}))


def estimate(which, device):
    done = subprocess.run([sys.executable, os.path.abspath(__file__), "--measure", which, "--device", device],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"measuring {which} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def show(what, e):
    shape = "x".join(map(str, e["shape"]))
    print(f"  {what}: {e['params']:,} parameters; 16P = {e['states_bytes'] / GIB:.3f} GiB; one training step at "
          f"[{shape}] on {e['device']} ({e['step_seconds']:.1f} s): saved activations A = {e['saved_bytes'] / GIB:.2f} GiB, "
          f"step peak S = {e['step_peak_bytes'] / GIB:.2f} GiB; estimate 16P + S = {e['total_bytes'] / GIB:.2f} GiB",
          flush=True)


def memory(fail, device):
    print(f"3. parameters and GPU memory of the gpu scale (16P + S, S measured on {device}; see the module text)",
          flush=True)
    lm_est = estimate("lm", device)
    show("LM (stages 1 and 3, and the reference)", lm_est)
    mq_est = estimate("mqar", device)
    show("MQAR (stage 2)", mq_est)
    peak = max(lm_est["total_bytes"], mq_est["total_bytes"])
    # One candidate process trains at a time; the evaluator's own process holds no CUDA memory.
    fail.check(peak < 70 * GIB, f"one training at a time: peak about {peak / GIB:.2f} GiB (+ ~0.5 GiB CUDA context), "
                                "within one 80 GB H100")
    return {"lm": lm_est, "mqar": mq_est, "peak_bytes": peak}


def run_stage(stage, scale, workdir, env_extra, timeout):
    env = dict(os.environ, ASI_EVOLVE_SCALE=scale.name, ASI_EVOLVE_STAGE=str(stage),
               ASI_EVOLVE_CANDIDATE=os.path.join(workdir, "candidate.py"),
               ASI_EVOLVE_RESULTS=os.path.join(workdir, f"results.stage{stage}.json"),
               ASI_EVOLVE_WORKDIR=workdir, **env_extra)
    start = time.perf_counter()
    # A process group of its own, so that a stage over its time is ended with its worker (also
    # when this script is ended: see _end_stage).
    proc = subprocess.Popen([sys.executable, os.path.join(HERE, "evaluate.py")], cwd=workdir, env=env,
                            start_new_session=True)
    _running.append(proc)
    try:
        code = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        return None, time.perf_counter() - start, f"timed out after {timeout:.0f} s"
    finally:
        _running.remove(proc)
    seconds = time.perf_counter() - start
    try:
        with open(env["ASI_EVOLVE_RESULTS"]) as f:
            return json.load(f), seconds, f"exit status {code}"
    except (OSError, ValueError) as e:
        return None, seconds, f"exit status {code}, no results ({e})"


_running = []


def _end_stage(signum, frame):
    """SIGTERM (scripts/gpu-check.sh's timeout): the running stage and its worker go too; they are
    in a session of their own, which nothing else would end."""
    for proc in _running:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    raise SystemExit(f"ended by signal {signum}")


def probe(fail, workdir):
    print("4. Triton's launcher build inside the confined candidate process", flush=True)
    try:
        import triton  # noqa: F401
    except ImportError:
        print("  note Triton is not importable here: not checked", flush=True)
        return
    folder = os.path.join(workdir, "probe")
    os.makedirs(folder)
    with open(SEED) as f:
        seed = f.read()
    with open(os.path.join(folder, "candidate.py"), "w") as f:
        f.write(PROBE + seed)
    # Run as by hand (no TMPDIR, the harness sets one), stage 1 at the small ci scale: the
    # confinement does not depend on the scale.
    env = {k: v for k, v in os.environ.items() if k != "TMPDIR"}
    env.update(ASI_EVOLVE_SCALE="ci", ASI_EVOLVE_STAGE="1", ASI_EVOLVE_CANDIDATE=os.path.join(folder, "candidate.py"),
               ASI_EVOLVE_RESULTS=os.path.join(folder, "results.json"), ASI_EVOLVE_WORKDIR=folder)
    done = subprocess.run([sys.executable, os.path.join(HERE, "evaluate.py")], cwd=folder, env=env)
    try:
        with open(env["ASI_EVOLVE_RESULTS"]) as f:
            result = json.load(f)
    except (OSError, ValueError) as e:
        result = {"valid": False, "feedback": f"exit status {done.returncode}, no results ({e})"}
    unconfined_ok = os.environ.get("ASI_EVOLVE_UNCONFINED_OK") == "1"
    confined = result.get("metrics", {}).get("confined")
    fail.check(result.get("valid") is True and (confined == 1 or unconfined_ok),
               f"{'confined' if confined == 1 else 'UNCONFINED'} worker built a Triton launcher: {result.get('feedback')}")


class GpuMemory:
    """Device-wide peak of nvidia-smi's memory.used (MiB), sampled every 0.5 s."""

    def __init__(self):
        self.samples, self._stop = [], threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            try:
                out = subprocess.run(["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits"],
                                     capture_output=True, text=True, timeout=10).stdout
                self.samples.append(max(int(x) for x in out.split()))
            except (OSError, ValueError, subprocess.TimeoutExpired):
                return
            self._stop.wait(0.5)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    @property
    def peak_mib(self):
        return max(self.samples) if self.samples else None


def evaluate(scale, fail, workdir, estimate_params, timeout):
    print(f"5. the seed evaluated at {scale.name}, stage by stage as the harness runs evaluate.py", flush=True)
    shutil.copy(SEED, os.path.join(workdir, "candidate.py"))
    cache = os.path.join(workdir, "cache")
    env = {"TMPDIR": os.path.join(workdir, "tmp"), "ASI_EVOLVE_CACHE_DIR": cache}
    os.makedirs(env["TMPDIR"])
    stages, deadline = [], STARTED + timeout
    with (GpuMemory() if scale.device == "cuda" else _Nothing()) as gpu_memory:
        for stage in (1, 2, 3):
            left = deadline - time.perf_counter()
            if left <= 0:
                fail.check(False, f"stage {stage}: not started, the check's {timeout:.0f} s are spent")
                break
            result, seconds, how = run_stage(stage, scale, workdir, env, left)
            entry = {"stage": stage, "seconds": seconds, "valid": bool(result and result.get("valid")),
                     "score": result and result.get("score"), "metrics": (result or {}).get("metrics", {}),
                     "feedback": (result or {}).get("feedback", how)}
            stages.append(entry)
            ok = fail.check(entry["valid"] and isinstance(entry["score"], (int, float)) and math.isfinite(entry["score"]),
                            f"stage {stage} ({seconds:.1f} s, {how}): score {entry['score']!r}: {entry['feedback']}")
            if not ok:
                break
            metrics = entry["metrics"]
            confined_ok = metrics.get("confined") == 1 or os.environ.get("ASI_EVOLVE_UNCONFINED_OK") == "1"
            fail.check(confined_ok, f"stage {stage}: confined = {metrics.get('confined')}")
            if stage == 1:
                fail.check(metrics.get("params") == estimate_params,
                           f"stage 1 counts {metrics.get('params')} parameters, the estimate {estimate_params}")
            if stage == 3:
                change = metrics.get("held_out_causal_max_change")
                fail.check(change is not None and change <= lm.CAUSAL_TOLERANCE,
                           f"held-out scoring causal: max change {change} (limit {lm.CAUSAL_TOLERANCE})")
                cached = [f for f in os.listdir(cache) if f.startswith(f"reference-{scale.name}-seed0-")] \
                    if os.path.isdir(cache) else []
                fail.check(len(cached) == 1, f"reference trained and cached: {cached}")
    return stages, gpu_memory.peak_mib


class _Nothing:
    peak_mib = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", default="gpu-shape", choices=["gpu-shape", "gpu"])
    ap.add_argument("--json", help="write the numbers here")
    ap.add_argument("--timeout", type=float, default=3600,
                    help="seconds for the whole check: a stage still running then is ended, and fails")
    ap.add_argument("--workdir", help="keep the evaluation's folder here (default: a temporary one, removed)")
    ap.add_argument("--measure", choices=["lm", "mqar"], help=argparse.SUPPRESS)
    ap.add_argument("--device", default="cpu", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.measure:
        runtime.deterministic(scales.SCALES["gpu" if args.device == "cuda" else "gpu-shape"])
        measure(args.measure, args.device)
        return 0
    scale = scales.SCALES[args.scale]
    if scale.device == "cuda" and not torch.cuda.is_available():
        print(f"gpu_shape.py --scale {scale.name}: no CUDA device (torch.cuda.is_available() is False)", flush=True)
        return 3
    start = time.perf_counter()
    signal.signal(signal.SIGTERM, _end_stage)
    fail = Failures()
    workdir = args.workdir or tempfile.mkdtemp(prefix="la-gpu-shape-")
    os.makedirs(workdir, exist_ok=True)
    print(f"linear-attention, scale {scale.name} ({scale.device}), in {workdir}", flush=True)
    try:
        if scale.name == "gpu-shape":
            check_cuts(scale, fail)
        check_data(scale, fail)
        est = memory(fail, scale.device)
        probe(fail, workdir)
        stages, peak = evaluate(scale, fail, workdir, est["lm"]["params"], args.timeout)
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    total = time.perf_counter() - start
    if peak is not None:
        print(f"  peak GPU memory (nvidia-smi, device-wide, all processes): {peak} MiB", flush=True)
    verdict = "passed" if not fail else f"FAILED ({len(fail)}): " + "; ".join(fail)
    print(f"linear-attention {scale.name}: {verdict}, {total:.0f} s", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"scale": scale.name, "ok": not fail, "failures": fail, "seconds": total, "memory": est,
                       "stages": stages, "peak_gpu_mib": peak}, f, indent=1)
    return 0 if not fail else 1


if __name__ == "__main__":
    sys.exit(main())
