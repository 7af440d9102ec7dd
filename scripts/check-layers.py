#!/usr/bin/env python3
"""Checks the harness's module structure against the data flow the README describes.

  config → campaign → sampler → researcher → engineer → analyzer → database (store) → reports

Reads every `crate::` and `super::` path in the non-test code of harness/src and reports/src
(the `use` lines and inline paths alike) and fails, naming the files, when
  1. two top-level modules of a crate import each other, directly or through others;
  2. files import each other in a cycle (a file and the module folder it sits in are one unit:
     a `mod.rs` and its children may use each other);
  3. a stage depends, directly or through other modules, on a stage after it. A stage consumes
     what the stages before it produce, so it may name their types; `campaign`, the driver that
     calls every stage, is the one module that reaches forward;
  4. `reports` depends on the harness, or `store` on either (their Cargo.toml).

Run: python3 scripts/check-layers.py   (exit 0: clean; 1: violations, listed)
"""

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CRATES = {"harness": ROOT / "harness" / "src", "reports": ROOT / "reports" / "src"}
STAGES = ["config", "campaign", "sampler", "researcher", "engineer", "analyzer", "database"]
DRIVER = "campaign"
# Crate roots and the CLI edge wire everything together and are not part of the flow.
EDGES = {"lib.rs", "main.rs"}


def module_path(src: Path, file: Path) -> tuple:
    parts = list(file.relative_to(src).with_suffix("").parts)
    if parts[-1] in ("mod", "lib", "main"):
        parts.pop()
    return tuple(parts)


def strip_comments(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    text = re.sub(r"//[^\n]*", "", text)
    return re.sub(r'"(?:\\.|[^"\\])*"', '""', text)


def skip_block(text: str, start: int) -> int:
    """The index after the item starting at `start`: its brace-matched body or its `;`."""
    i = start
    while i < len(text) and text[i] not in "{;":
        i += 1
    if i < len(text) and text[i] == ";":
        return i + 1
    depth = 0
    while i < len(text):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return i


def without_tests(text: str) -> tuple:
    """The text with `#[cfg(test)]` items removed, and the names of test-only child modules."""
    test_mods = set(re.findall(r"#\[cfg\(test\)\]\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;", text))
    out, i = [], 0
    for m in re.finditer(r"#\[cfg\(test\)\]", text):
        if m.start() < i:
            continue
        out.append(text[i : m.start()])
        i = skip_block(text, m.end())
    out.append(text[i:])
    return "".join(out), test_mods


def group_items(body: str) -> list:
    """Top-level items of a `{a, b::c, d::{e, f}}` use group, each as its first path segments."""
    items, depth, current = [], 0, ""
    for ch in body:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        if ch == "," and depth == 0:
            items.append(current)
            current = ""
        else:
            current += ch
    items.append(current)
    return [re.match(r"\s*([\w:]*)", it).group(1).rstrip(":").split("::") for it in items if it.strip()]


PATH = re.compile(r"\b((?:crate|super|self)(?:::super)*)::(\{|\w[\w:]*)")


def references(text: str, here: tuple, is_mod_file: bool) -> list:
    """Absolute module paths (tuples) this file names."""
    refs = []
    # A non-mod file's module is its own; `super` is its parent's. A mod.rs file is its folder.
    for m in PATH.finditer(text):
        head, rest = m.group(1), m.group(2)
        segments = head.split("::")
        if segments[0] == "crate":
            base = ()
        else:
            base = list(here)
            for s in segments:
                if s == "super" and base:
                    base.pop()
            base = tuple(base)
        if rest == "{":
            body_start = m.end()
            body_end = skip_block(text, body_start - 1)
            for item in group_items(text[body_start : body_end - 1]):
                refs.append(base + tuple(s for s in item if s and s != "self"))
        else:
            refs.append(base + tuple(s for s in rest.split("::") if s and s != "self"))
    return refs


def load(crate: str, src: Path):
    files = {}
    test_only = set()
    for file in sorted(src.rglob("*.rs")):
        text, test_mods = without_tests(strip_comments(file.read_text()))
        here = module_path(src, file)
        for t in test_mods:
            test_only.add(here + (t,))
        files[here] = (file, text, file.name in ("mod.rs", "lib.rs", "main.rs"))
    files = {m: v for m, v in files.items() if not any(m[: len(t)] == t for t in test_only)}
    return files


def resolve(path: tuple, modules: set) -> tuple:
    for n in range(len(path), -1, -1):
        if path[:n] in modules:
            return path[:n]
    return ()


def cycles(graph: dict) -> list:
    """Strongly connected components with more than one member (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            scc = []
            while True:
                w = stack.pop()
                on.discard(w)
                scc.append(w)
                if w == v:
                    break
            if len(scc) > 1:
                out.append(sorted(scc))

    sys.setrecursionlimit(10000)
    for v in list(graph):
        if v not in index:
            visit(v)
    return out


def reachable(graph: dict, start) -> dict:
    """Every module reachable from `start`, with the path that reaches it."""
    seen, todo = {start: [start]}, [start]
    while todo:
        v = todo.pop()
        for w in sorted(graph.get(v, ())):
            if w not in seen:
                seen[w] = seen[v] + [w]
                todo.append(w)
    return seen


def check_crate(crate: str, src: Path) -> list:
    problems = []
    files = load(crate, src)
    modules = set(files)
    file_graph, top_graph = {}, {}
    for here, (file, text, is_mod) in files.items():
        if file.name in EDGES:
            continue
        for ref in references(text, here, is_mod):
            target = resolve(ref, modules)
            if target == here or not target:
                continue
            # A module's files and the folder module holding them are one unit.
            if here[: len(target)] == target or target[: len(here)] == here:
                pass
            else:
                file_graph.setdefault(here, set()).add(target)
            if here[0] != target[0]:
                top_graph.setdefault(here[0], set()).add(target[0])
    name = lambda m: str(files[m][0].relative_to(ROOT))
    for scc in cycles(top_graph):
        problems.append(f"{crate}: modules import each other in a cycle: {' ↔ '.join(scc)}")
    for scc in cycles(file_graph):
        problems.append(f"{crate}: files import each other in a cycle: {', '.join(name(m) for m in scc)}")
    if crate == "harness":
        for i, stage in enumerate(STAGES):
            if stage == DRIVER:
                continue
            reach = reachable(top_graph, stage)
            for later in STAGES[i + 1 :]:
                if later in reach:
                    problems.append(
                        f"harness: stage `{stage}` depends on the later stage `{later}`: {' → '.join(reach[later])}"
                    )
        for stage in STAGES:
            if stage != DRIVER and DRIVER in top_graph.get(stage, ()):
                problems.append(f"harness: stage `{stage}` imports the driver `{DRIVER}`")
    return problems, top_graph


def dependencies(manifest: Path) -> set:
    text = manifest.read_text()
    section = re.search(r"^\[dependencies\]\n(.*?)(?=^\[|\Z)", text, flags=re.S | re.M)
    return set(re.findall(r"^([\w-]+)\s*=", section.group(1), flags=re.M)) if section else set()


def main() -> int:
    problems = []
    graphs = {}
    for crate, src in CRATES.items():
        found, graphs[crate] = check_crate(crate, src)
        problems += found
    reports = dependencies(ROOT / "reports" / "Cargo.toml")
    store = dependencies(ROOT / "store" / "Cargo.toml")
    if "asi-evolve" in reports:
        problems.append("reports/Cargo.toml depends on the harness (asi-evolve)")
    if "asi-evolve-store" not in reports:
        problems.append("reports/Cargo.toml does not depend on asi-evolve-store")
    for crate in ("asi-evolve", "asi-evolve-reports"):
        if crate in store:
            problems.append(f"store/Cargo.toml depends on {crate}")
    if "-v" in sys.argv:
        for crate, graph in graphs.items():
            for m in sorted(graph):
                print(f"{crate}: {m} → {', '.join(sorted(graph[m]))}")
    for p in problems:
        print(p)
    if not problems:
        print("layers: no import cycle; no stage depends on a later one; reports and store stand apart from the harness")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
