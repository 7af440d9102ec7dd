"""An OpenAI-compatible chat server that answers at once, for benchmarks only: every reply is a
new whole program (`x = <n>`), in a form both asi-evolve (<code>) and OpenEvolve (a ```python
fence) accept. Prints its port on the first line of stdout."""
import itertools
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

COUNTER = itertools.count(1)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out as separate writes: with Nagle's algorithm on, the body waits
    # for the client's delayed ACK (~40 ms a reply).
    disable_nagle_algorithm = True

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        n = next(COUNTER)
        program = f"# EVOLVE-BLOCK-START\nx = {n}\n# EVOLVE-BLOCK-END\n"
        text = f"<name>r{n}</name>\n<motivation>try {n}</motivation>\n<code>\n```python\n{program}```\n</code>\n"
        body = json.dumps(
            {
                "id": f"c{n}",
                "object": "chat.completion",
                "created": 0,
                "model": "fake",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class Server(ThreadingHTTPServer):
    # socketserver's default listen backlog is 5: sixteen workers connecting at once overflow
    # it, and a dropped SYN is retried only after a second.
    request_queue_size = 128


server = Server(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
sys.stdout.close()
server.serve_forever()
