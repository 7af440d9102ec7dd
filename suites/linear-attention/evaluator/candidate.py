"""The evaluator's side of the candidate's process (worker.py): starts it with one job, sends
what it may see, and reads back only what was asked for, checked for shape and type. This
process never imports the candidate."""

import os
import subprocess
import sys

import torch

from . import channel, confine
from .runtime import SUITE_DIR, Rejected

HERE = os.path.dirname(os.path.abspath(__file__))
# Named to run unconfined where Landlock is missing (scores then carry `confined = 0`).
UNCONFINED_OK = "ASI_EVOLVE_UNCONFINED_OK"
# What the candidate's process must not see of the evaluator's environment.
PRIVATE_ENV = ("ASI_EVOLVE_RESULTS", "ASI_EVOLVE_CACHE_DIR", "LA_CORPUS", "TRITON_CACHE_DIR")


def reported_number(x):
    """A number the candidate's process reported (a metric, never part of the score), or None."""
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) else None


class CandidateProcess:
    """`with CandidateProcess(job_kind, candidate, scale, seed, payload) as p:` starts the
    worker; `p.ready` is its first reply; `p.forward(tokens)` returns float32 logits."""

    def __init__(self, kind, candidate, scale, seed, vocab=None, payload=b"", hidden=()):
        self.kind, self.candidate, self.scale, self.seed, self.vocab = kind, candidate, scale, seed, vocab
        self.payload, self.hidden = payload, hidden
        self.confined = True

    def __enter__(self):
        allow_unconfined = os.environ.get(UNCONFINED_OK) == "1"
        try:
            confine.abi()
        except confine.Unavailable as e:
            if not allow_unconfined:
                raise Rejected(
                    f"cannot confine the candidate's process: {e}. Its score could not be trusted (it could read "
                    f"the held-out text); set {UNCONFINED_OK}=1 to score it anyway, marked confined = 0"
                ) from None
            self.confined = False
        scratch = os.environ.get("TMPDIR") or os.path.join(os.getcwd(), "tmp")
        os.makedirs(scratch, exist_ok=True)
        read_end, write_end = os.pipe()
        env = {k: v for k, v in os.environ.items() if k not in PRIVATE_ENV}
        # The suite's cache is out of the candidate's reach; Triton compiles into its scratch, and
        # its temporary files (tempfile, which Triton's launcher build uses) go there too: run by
        # hand, without the harness's TMPDIR, /tmp is not writable in there.
        env["TRITON_CACHE_DIR"] = os.path.join(scratch, "triton")
        env["TMPDIR"] = scratch
        self.process = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "worker.py"), str(write_end)],
            stdin=subprocess.PIPE, pass_fds=(write_end,), env=env,
        )
        os.close(write_end)
        self.replies = os.fdopen(read_end, "rb")
        job = {
            "kind": self.kind, "candidate": os.path.abspath(self.candidate), "scale": self.scale.name,
            "seed": self.seed, "confine": self.confined, "evaluator_dir": SUITE_DIR,
            "readable": [os.path.abspath(self.candidate)], "writable": [scratch],
            "hidden": confine.hidden_paths(self.hidden),
        }
        self._send(job, self.payload)
        self.ready = self._reply(1 << 20)
        return self

    def _send(self, header, payload=b""):
        try:
            channel.send(self.process.stdin, header, payload)
        except (BrokenPipeError, OSError):
            raise Rejected(self._gone("stopped reading its requests")) from None

    def _gone(self, what):
        code = self.process.poll()
        status = "is still running" if code is None else f"exited with status {code}"
        return f"the candidate's process {what} ({status}; its stderr is in the stage's log)"

    def _reply(self, max_bytes):
        try:
            header, payload = channel.receive(self.replies, max_bytes)
        except channel.Broken as e:
            raise Rejected(self._gone(f"sent no valid reply: {e}")) from None
        if header.get("unconfined"):
            raise Rejected(f"cannot confine the candidate's process: {header.get('reason')}")
        if header.get("ok") is not True:
            reason = header.get("reason")
            raise Rejected(reason if isinstance(reason, str) else self._gone("failed without a reason"))
        return header | {"payload": payload}

    def forward(self, tokens, position=None):
        """Logits [rows, len, V] (or [rows, V] at `position`) for int64 `tokens` [rows, len]."""
        rows, length = tokens.shape
        self._send({"op": "forward", "rows": rows, "len": length, "position": position},
                   tokens.to(torch.int64).contiguous().numpy().tobytes())
        expected = [rows, length, self.vocab] if position is None else [rows, self.vocab]
        reply = self._reply(4 * rows * length * self.vocab)
        if reply.get("shape") != expected or len(reply["payload"]) != 4 * torch.Size(expected).numel():
            raise Rejected(
                f"the candidate's process answered a forward request for logits {expected} with shape "
                f"{reply.get('shape')} and {len(reply['payload'])} bytes"
            )
        shape = expected
        logits = torch.frombuffer(bytearray(reply["payload"]), dtype=torch.float32).reshape(shape)
        bad = (~torch.isfinite(logits)).sum().item()
        if bad:
            raise Rejected(f"held-out forward pass: {bad} non-finite logits of {logits.numel()}")
        return logits

    def __exit__(self, *exc):
        try:
            if self.process.poll() is None and self.kind != "check":
                channel.send(self.process.stdin, {"op": "end"})
        except OSError:
            pass
        try:
            self.process.stdin.close()
        except OSError:
            pass
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.replies.close()
        return False
