"""A stand-in model server for scripts/measure/big-replies.sh: every chat call is answered with
a whole circle-packing program carrying a 2 MB string literal, the hostile-model case of issue
12. Standard library only; serves until killed."""

import http.server
import json
import sys

PORT = int(sys.argv[1])
SEED = open(sys.argv[2]).read()
PAD_BYTES = 2 * 1024 * 1024


class Handler(http.server.BaseHTTPRequestHandler):
    calls = 0

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        self.rfile.read(length)
        Handler.calls += 1
        # A distinct literal per call, so the novelty filter never rejects a reply as a duplicate.
        pad = f'_pad = "{Handler.calls}{"x" * PAD_BYTES}"\n'
        program = SEED.replace("# EVOLVE-BLOCK-START\n", "# EVOLVE-BLOCK-START\n" + pad, 1)
        content = f"<name>padded {Handler.calls}</name>\n<motivation>m</motivation>\n<code>\n{program}\n</code>"
        body = json.dumps({
            "id": f"c{Handler.calls}",
            "object": "chat.completion",
            "model": "fake",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
        }).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
