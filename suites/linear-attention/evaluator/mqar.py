"""Stage 2: multi-query associative recall (MQAR, Arora et al. 2023, "Zoology").

Each sequence lists `pairs` key-value pairs, then asks for every key again in a shuffled order;
the target at each query is its key's value. Keys and values have their own token ranges, so
the model cannot guess a value from the key's token. A model trained from scratch on such
sequences solves it only if its mixer can store and look up associations.

The candidate's process trains the model (`train_model`); the evaluator then sends it the
held-out sequences' tokens only, and scores the logits it returns against answers it keeps."""

import torch

from .candidate import CandidateProcess, reported_number
from .model import LanguageModel
from .train import train

EVAL_BATCH = 256


def sequences(n, m, gen):
    keys = torch.argsort(torch.rand((n, m.n_keys), generator=gen), dim=1)[:, : m.pairs]
    values = torch.randint(0, m.n_values, (n, m.pairs), generator=gen)
    order = torch.argsort(torch.rand((n, m.pairs), generator=gen), dim=1)
    queries = torch.gather(keys, 1, order)
    answers = torch.gather(values, 1, order)
    context = torch.stack([keys, values + m.n_keys], dim=2).reshape(n, 2 * m.pairs)
    inputs = torch.cat([context, queries], dim=1)
    targets = torch.full_like(inputs, -100)
    targets[:, 2 * m.pairs :] = answers + m.n_keys
    return inputs, targets


def train_model(mixer_cls, scale, seed):
    """In the candidate's process: the trained model and its final training loss."""
    m = scale.mqar
    device = torch.device(scale.device)
    torch.manual_seed(seed)
    model = LanguageModel(mixer_cls, m.n_keys + m.n_values, m.d_model, m.n_heads, m.n_layers).to(device)
    gen = torch.Generator().manual_seed(seed + 1)

    def batch_at(step):
        inputs, targets = sequences(m.batch, m, gen)
        return inputs.to(device), targets.to(device)

    return model, train(model, batch_at, m.steps, m.lr, max(1, m.steps // 10), "stage 2 (MQAR)")


def run(candidate, scale, seed):
    m = scale.mqar
    vocab = m.n_keys + m.n_values
    # Held-out sequences come from their own generator: the same for every candidate and seed.
    inputs, targets = sequences(m.eval_sequences, m, torch.Generator().manual_seed(10_000))
    correct = 0
    with CandidateProcess("mqar", candidate, scale, seed, vocab) as process:
        for start in range(0, m.eval_sequences, EVAL_BATCH):
            predicted = process.forward(inputs[start : start + EVAL_BATCH]).argmax(-1)
            y = targets[start : start + EVAL_BATCH]
            asked = y != -100
            correct += (predicted[asked] == y[asked]).sum().item()
        train_loss = process.ready["train_loss"]
    accuracy = correct / (m.eval_sequences * m.pairs)
    return {"mqar_accuracy": accuracy, "mqar_train_loss": reported_number(train_loss), "mqar_chance": 1.0 / m.n_values,
            "confined": int(process.confined)}

