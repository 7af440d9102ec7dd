"""Stage 3: a small character-level language model trained on a text corpus that ships with
CPython (the pydoc topic help, pydoc_data/topics.py), scored by held-out next-byte loss.

The first 90% of the bytes train, the last 10% are held out. Training windows start at seeded
random offsets; the held-out windows are evenly spaced and the same for every candidate."""

import os

import torch

from .model import LanguageModel
from .train import mean_loss, train

VOCAB = 256


def corpus():
    path = os.environ.get("LA_CORPUS")
    if not path:
        import pydoc_data.topics

        path = pydoc_data.topics.__file__
    with open(path, "rb") as f:
        data = torch.frombuffer(bytearray(f.read()), dtype=torch.uint8).long()
    return path, data


def run(mixer_cls, scale, seed):
    lm = scale.lm
    device = torch.device(scale.device)
    path, data = corpus()
    split = int(0.9 * len(data))
    train_data, held_out = data[:split], data[split:]
    window = lm.seq_len + 1
    torch.manual_seed(seed)
    model = LanguageModel(mixer_cls, VOCAB, lm.d_model, lm.n_heads, lm.n_layers).to(device)
    gen = torch.Generator().manual_seed(seed + 2)

    def batch_at(step):
        starts = torch.randint(0, len(train_data) - window, (lm.batch,), generator=gen)
        chunk = torch.stack([train_data[s : s + window] for s in starts.tolist()]).to(device)
        return chunk[:, :-1], chunk[:, 1:]

    train_loss = train(model, batch_at, lm.steps, lm.lr, lm.warmup, "stage 3 (language model)")
    stride = (len(held_out) - window) // max(1, lm.eval_windows - 1)
    windows = torch.stack([held_out[i * stride : i * stride + window] for i in range(lm.eval_windows)])
    batches = [
        (w[:, :-1].to(device), w[:, 1:].to(device)) for w in windows.split(max(1, lm.batch), dim=0)
    ]
    loss = mean_loss(model, batches)
    return {"val_loss": loss, "val_bpc": loss / torch.log(torch.tensor(2.0)).item(), "train_loss": train_loss,
            "corpus_bytes": len(data)}, os.path.basename(path)
