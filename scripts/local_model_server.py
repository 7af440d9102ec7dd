"""Runs llama.cpp's OpenAI-compatible server in this process (xllamacpp) on a GGUF model.

Started by scripts/local-model.sh, which reads the address it prints. Kept in the foreground
until SIGTERM/SIGINT; the server's threads die with the process.

    python local_model_server.py --model PATH [--threads N] [--ctx N] [--port P]
"""

import argparse
import signal
import sys
import threading

import xllamacpp


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True, help="path of the GGUF file")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--ctx", type=int, default=8192, help="context window in tokens")
    parser.add_argument("--port", type=int, default=0, help="0: any free port")
    args = parser.parse_args()

    params = xllamacpp.CommonParams()
    params.model.path = args.model
    params.hostnames = ["127.0.0.1"]
    params.port = args.port
    params.n_ctx = args.ctx
    # One slot: requests queue instead of splitting the context and the two cores.
    params.n_parallel = 1
    params.cpuparams.n_threads = args.threads
    params.cpuparams_batch.n_threads = args.threads

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    server = xllamacpp.Server(params)
    # The one line the start script waits for.
    print(f"asi-evolve-local-model listening {server.listening_address}", flush=True)
    stop.wait()
    del server
    return 0


if __name__ == "__main__":
    sys.exit(main())
