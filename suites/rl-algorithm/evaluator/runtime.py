"""Process setup every evaluator entry point runs before anything imports torch.

OMP_WAIT_POLICY=PASSIVE must be in the environment before torch loads its OpenMP runtime: with
the default busy-waiting, idle threads spin and a loaded 2-core machine slows down several-fold.
"""

import os

os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
os.environ["OMP_NUM_THREADS"] = "1"
# cuBLAS is only deterministic with a fixed workspace; it must be set before CUDA initialises.
os.environ["CUBLAS_WORKSPACE_CONFIG"] = ":4096:8"

import torch  # noqa: E402

torch.set_num_threads(1)
torch.set_num_interop_threads(1)
torch.use_deterministic_algorithms(True)
torch.backends.cudnn.benchmark = False
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
