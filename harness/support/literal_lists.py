"""Prints, as JSON, every list display of a Python file whose elements are all literals, in
source order, parsed by Python's own `ast` module; nothing in the file is run.

usage: literal_lists.py FILE

Output: {"lists": [[element, ...], ...]}. An element is a JSON value for str, int, float, bool,
None, lists, tuples and sets (as lists) and dicts with literal keys ({"dict": [[k, v], ...]}),
{"bytes": "..."} for bytes (decoded as Latin-1, so every byte survives), {"name": "a.b"} for a
bare name, and {"call": "f", "args": [...], "kwargs": [[k, v], ...]} for a call whose callee is a
name and whose arguments are literals. A list with any other element (an expression, a
comprehension element, an f-string with fields) is left out. A file that does not parse exits
with status 1 and Python's message on stderr.
"""

import ast
import json
import math
import sys


class NotLiteral(Exception):
    pass


def dotted(node):
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return dotted(node.value) + "." + node.attr
    raise NotLiteral


def number(value):
    if isinstance(value, complex) or (isinstance(value, float) and not math.isfinite(value)):
        raise NotLiteral
    return value


def convert(node):
    if isinstance(node, ast.Constant):
        value = node.value
        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, bytes):
            return {"bytes": value.decode("latin-1")}
        if isinstance(value, (int, float, complex)):
            return number(value)
        raise NotLiteral
    if isinstance(node, ast.JoinedStr):
        # An f-string without fields is a plain string; one with fields is an expression.
        if all(isinstance(part, ast.Constant) for part in node.values):
            return "".join(part.value for part in node.values)
        raise NotLiteral
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        operand = convert(node.operand)
        if isinstance(operand, bool) or not isinstance(operand, (int, float)):
            raise NotLiteral
        return -operand if isinstance(node.op, ast.USub) else operand
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        return [convert(e) for e in node.elts]
    if isinstance(node, ast.Dict):
        if any(k is None for k in node.keys):
            raise NotLiteral
        return {"dict": [[convert(k), convert(v)] for k, v in zip(node.keys, node.values)]}
    if isinstance(node, ast.Name):
        return {"name": node.id}
    if isinstance(node, ast.Attribute):
        return {"name": dotted(node)}
    if isinstance(node, ast.Call):
        if any(isinstance(a, ast.Starred) for a in node.args) or any(k.arg is None for k in node.keywords):
            raise NotLiteral
        return {
            "call": dotted(node.func),
            "args": [convert(a) for a in node.args],
            "kwargs": [[k.arg, convert(k.value)] for k in node.keywords],
        }
    raise NotLiteral


def main(path):
    with open(path, "rb") as f:
        source = f.read()
    try:
        tree = ast.parse(source, filename=path)
    except SyntaxError as e:
        sys.exit(f"{path}, line {e.lineno}: {e.msg}")
    found = sorted(
        (node for node in ast.walk(tree) if isinstance(node, ast.List)),
        key=lambda n: (n.lineno, n.col_offset),
    )
    lists = []
    for node in found:
        try:
            lists.append([convert(e) for e in node.elts])
        except NotLiteral:
            continue
    json.dump({"lists": lists}, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
