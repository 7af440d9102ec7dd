"""An independent all-MiniLM-L6-v2 sentence embedding in NumPy, to check the Rust embedder.

Reads the same files (vocab.txt, config.json, model.safetensors) but shares no code with the
Rust side: its own safetensors reader, BERT's basic tokenizer and WordPiece (enough for plain
ASCII text), a float64 BERT encoder, mean pooling and L2 normalisation.

    python3 minilm_reference.py MODEL_DIR "a sentence"   ->   {"ids": [...], "embedding": [...]}
"""

import json
import math
import struct
import sys
import unicodedata

import numpy as np


def read_safetensors(path):
    with open(path, "rb") as f:
        (size,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(size))
        data = f.read()
    dtypes = {"F32": np.float32, "F16": np.float16, "I64": np.int64}
    tensors = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        start, end = meta["data_offsets"]
        array = np.frombuffer(data[start:end], dtype=dtypes[meta["dtype"]]).reshape(meta["shape"])
        tensors[name] = array.astype(np.float64)
    return tensors


def basic_tokens(text):
    text = unicodedata.normalize("NFD", text.lower())
    text = "".join(c for c in text if unicodedata.category(c) != "Mn")
    tokens = []
    for word in text.split():
        current = ""
        for c in word:
            if unicodedata.category(c).startswith("P") or (33 <= ord(c) <= 47 or 58 <= ord(c) <= 64 or 91 <= ord(c) <= 96 or 123 <= ord(c) <= 126):
                if current:
                    tokens.append(current)
                tokens.append(c)
                current = ""
            else:
                current += c
        if current:
            tokens.append(current)
    return tokens


def wordpiece(token, vocab):
    pieces, start = [], 0
    while start < len(token):
        end, piece = len(token), None
        while start < end:
            candidate = ("##" if start > 0 else "") + token[start:end]
            if candidate in vocab:
                piece = candidate
                break
            end -= 1
        if piece is None:
            return ["[UNK]"]
        pieces.append(piece)
        start = end
    return pieces


def layer_norm(x, w, b, eps):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * w + b


erf = np.vectorize(math.erf)


def main():
    model_dir, sentence = sys.argv[1], sys.argv[2]
    vocab = {}
    with open(f"{model_dir}/vocab.txt", encoding="utf-8") as f:
        for i, line in enumerate(f):
            vocab[line.rstrip("\n")] = i
    config = json.load(open(f"{model_dir}/config.json"))
    pieces = ["[CLS]"] + [p for t in basic_tokens(sentence) for p in wordpiece(t, vocab)] + ["[SEP]"]
    ids = [vocab[p] for p in pieces]

    w = read_safetensors(f"{model_dir}/model.safetensors")
    p = "" if "embeddings.word_embeddings.weight" in w else "bert."
    eps = config["layer_norm_eps"]
    n = len(ids)
    x = w[p + "embeddings.word_embeddings.weight"][ids]
    x = x + w[p + "embeddings.position_embeddings.weight"][:n] + w[p + "embeddings.token_type_embeddings.weight"][0]
    x = layer_norm(x, w[p + "embeddings.LayerNorm.weight"], w[p + "embeddings.LayerNorm.bias"], eps)
    heads = config["num_attention_heads"]
    d = config["hidden_size"] // heads

    def linear(x, name):
        return x @ w[name + ".weight"].T + w[name + ".bias"]

    for layer in range(config["num_hidden_layers"]):
        L = f"{p}encoder.layer.{layer}."
        q = linear(x, L + "attention.self.query").reshape(n, heads, d).transpose(1, 0, 2)
        k = linear(x, L + "attention.self.key").reshape(n, heads, d).transpose(1, 0, 2)
        v = linear(x, L + "attention.self.value").reshape(n, heads, d).transpose(1, 0, 2)
        scores = q @ k.transpose(0, 2, 1) / math.sqrt(d)
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        scores /= scores.sum(-1, keepdims=True)
        context = (scores @ v).transpose(1, 0, 2).reshape(n, heads * d)
        attn = linear(context, L + "attention.output.dense")
        x = layer_norm(attn + x, w[L + "attention.output.LayerNorm.weight"], w[L + "attention.output.LayerNorm.bias"], eps)
        h = linear(x, L + "intermediate.dense")
        h = 0.5 * h * (1.0 + erf(h / math.sqrt(2.0)))
        out = linear(h, L + "output.dense")
        x = layer_norm(out + x, w[L + "output.LayerNorm.weight"], w[L + "output.LayerNorm.bias"], eps)

    pooled = x.mean(0)
    pooled /= max(np.linalg.norm(pooled), 1e-12)
    json.dump({"ids": ids, "embedding": pooled.tolist()}, sys.stdout)


if __name__ == "__main__":
    main()
