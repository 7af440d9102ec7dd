"""The candidate's process: the only place the candidate's code runs (evaluator/candidate.py
starts it). It reads one job from stdin, confines itself (confine.py), imports the candidate, and
then does what the job says:

- `check`: stage 1's checks (checks.py); replies with their metrics or the failed check;
- `mqar` / `lm`: trains a model with the candidate's mixer on the training data (generated here
  for MQAR, sent by the evaluator for the LM), replies, then answers `forward` requests with
  logits until `end`.

It never holds held-out targets, cannot read the corpus or the cache, and cannot write anything
but its private temporary folder, so whatever the candidate does in here, the evaluator's score
(computed in the parent from the logits it asked for) is not its to write. Replies go over
the pipe whose fd is the first argument; stdout is pointed at stderr so that a candidate's print cannot forge a message.
"""

import os
import sys
import traceback

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from evaluator import runtime  # noqa: E402  (OMP_WAIT_POLICY before torch)
from evaluator import channel, checks, confine, lm, mqar, scales  # noqa: E402

import torch  # noqa: E402

MAX_REQUEST = 1 << 30


def serve(model, requests, replies, vocab):
    model.eval()
    with torch.no_grad():
        while True:
            header, payload = channel.receive(requests, MAX_REQUEST)
            if header.get("op") == "end":
                return
            rows, length = header["rows"], header["len"]
            tokens = torch.frombuffer(bytearray(payload), dtype=torch.int64).reshape(rows, length)
            try:
                logits = model(tokens.to(model.head.weight.device))
            except Exception as e:  # the candidate's forward
                raise runtime.Rejected(f"held-out forward pass raised {type(e).__name__}: {e}") from e
            position = header.get("position")
            if position is not None:
                logits = logits[:, position]
            out = logits.detach().to("cpu", torch.float32).contiguous()
            if tuple(out.shape[-1:]) != (vocab,):
                raise runtime.Rejected(f"held-out forward pass returned logits of shape {list(out.shape)}")
            channel.send(replies, {"ok": True, "shape": list(out.shape)}, out.numpy().tobytes())


def main():
    replies = os.fdopen(int(sys.argv[1]), "wb")
    requests = sys.stdin.buffer
    # A candidate's print() would otherwise write into whatever fd 1 is.
    os.dup2(2, 1)
    try:
        job, payload = channel.receive(requests, MAX_REQUEST)
        scale = scales.SCALES[job["scale"]]
        seed = job["seed"]
        runtime.deterministic(scale)
        if job.get("confine", True):
            confine.confine(job["evaluator_dir"], job["readable"], job["writable"], job["hidden"])
        mixer_cls = runtime.load_mixer(job["candidate"])
        if job["kind"] == "check":
            channel.send(replies, {"ok": True, "metrics": checks.run(job["candidate"], scale, seed, mixer_cls)})
            return
        if job["kind"] == "mqar":
            model, train_loss = mqar.train_model(mixer_cls, scale, seed)
            vocab = scale.mqar.n_keys + scale.mqar.n_values
        else:
            train_data = torch.frombuffer(bytearray(payload), dtype=torch.uint8).long()
            model, train_loss = lm.train_model(mixer_cls, train_data, scale, seed)
            vocab = lm.VOCAB
        channel.send(replies, {"ok": True, "train_loss": train_loss})
        serve(model, requests, replies, vocab)
    except runtime.Rejected as e:
        channel.send(replies, {"ok": False, "reason": str(e)})
    except confine.Unavailable as e:
        channel.send(replies, {"ok": False, "unconfined": True, "reason": str(e)})
    except channel.Broken:
        pass  # the evaluator went away or stopped asking: nothing to answer
    except Exception as e:
        traceback.print_exc()
        channel.send(replies, {"ok": False, "reason": f"the candidate's process failed: {type(e).__name__}: {e}"})


if __name__ == "__main__":
    main()
