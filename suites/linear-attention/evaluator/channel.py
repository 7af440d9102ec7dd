"""The messages between the evaluator and the candidate's process (worker.py), one format both
ways: an 8-byte little-endian length, a JSON header of that length, then `header["bytes"]` raw
bytes (token ids as int64, logits as float32, little-endian). The evaluator parses only JSON and
raw numbers from the candidate's side, never pickles, and checks every length and shape."""

import json
import struct

MAX_HEADER = 1 << 20


class Broken(Exception):
    """The other side sent something that is not a message, or went away."""


def send(stream, header, payload=b""):
    header = dict(header, bytes=len(payload))
    text = json.dumps(header).encode()
    stream.write(struct.pack("<Q", len(text)) + text)
    if payload:
        stream.write(payload)
    stream.flush()


def _read_exactly(stream, n):
    chunks, left = [], n
    while left:
        chunk = stream.read(left)
        if not chunk:
            if left == n:
                raise Broken("the stream ended where a message was due")
            raise Broken(f"the stream ended {left} bytes before the end of a {n}-byte message")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def receive(stream, max_payload):
    """(header, payload); raises Broken on anything malformed or larger than `max_payload`."""
    (length,) = struct.unpack("<Q", _read_exactly(stream, 8))
    if length > MAX_HEADER:
        raise Broken(f"a message header of {length} bytes (at most {MAX_HEADER})")
    try:
        header = json.loads(_read_exactly(stream, length))
    except ValueError as e:
        raise Broken(f"a message header that is not JSON: {e}") from None
    if not isinstance(header, dict) or not isinstance(header.get("bytes"), int) or header["bytes"] < 0:
        raise Broken("a message header without a byte count")
    if header["bytes"] > max_payload:
        raise Broken(f"a message of {header['bytes']} bytes (at most {max_payload} expected)")
    return header, _read_exactly(stream, header["bytes"])
