"""Runs a program's delta-rule functions on inputs given as raw float64 files, for the Rust test
that compares them with the `kernels` crate's reference (kernels/tests/torch_parity.rs).

Usage: parity.py PROGRAM FOLDER B T H DK DV GATED CHUNK
Reads FOLDER/{q,k,v,beta[,g]}.bin ([B, T, H, D] and [B, T, H], little-endian float64); writes
FOLDER/o_chunked.bin and FOLDER/o_recurrent.bin ([B, T, H, DV])."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from evaluator import runtime  # noqa: E402,F401  (OMP_WAIT_POLICY before torch)
import importlib.util  # noqa: E402

import torch  # noqa: E402


def main(program, folder, b, t, h, dk, dv, gated, chunk):
    spec = importlib.util.spec_from_file_location("program", program)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    def read(name, *shape):
        with open(os.path.join(folder, f"{name}.bin"), "rb") as f:
            return torch.frombuffer(bytearray(f.read()), dtype=torch.float64).reshape(shape)

    q, k = read("q", b, t, h, dk), read("k", b, t, h, dk)
    v, beta = read("v", b, t, h, dv), read("beta", b, t, h)
    g = read("g", b, t, h) if gated else None
    for name, o in [
        ("o_chunked", module.delta_rule_chunked(q, k, v, beta, g, chunk_size=chunk)),
        ("o_recurrent", module.delta_rule_recurrent(q, k, v, beta, g)),
    ]:
        with open(os.path.join(folder, f"{name}.bin"), "wb") as f:
            f.write(o.contiguous().numpy().astype("<f8").tobytes())


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], *map(int, sys.argv[3:10]))
