#!/usr/bin/env python3
"""Cycles between the crate's top-level modules, from cargo-modules' graph.

    cargo install cargo-modules --version 0.27.0 --locked   # once
    cargo modules dependencies --lib --no-externs --no-fns --no-sysroot \\
        --no-traits --no-types --no-owns | python3 tools/module_cycles.py

Reads the DOT graph of "uses" edges, folds every item into its top-level
module (`informly::http::dashboard::pages` is `http`), prints each module's
dependencies and the strongly connected components of more than one module,
and exits 1 if there is any. (`cargo modules dependencies --acyclic` itself
also counts a type and its own methods as a cycle, so it cannot say this.)
"""
import collections
import re
import sys

edges = collections.defaultdict(set)
for line in sys.stdin:
    found = re.match(r'\s*"([^"]+)" -> "([^"]+)" \[label="uses"', line)
    if not found:
        continue
    a, b = (path.split("::")[1] if "::" in path else path for path in found.groups())
    if a != b:
        edges[a].add(b)

index, low, stack, on_stack, cycles = {}, {}, [], set(), []


def visit(v):
    index[v] = low[v] = len(index)
    stack.append(v)
    on_stack.add(v)
    for w in edges.get(v, ()):
        if w not in index:
            visit(w)
            low[v] = min(low[v], low[w])
        elif w in on_stack:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        component = []
        while True:
            w = stack.pop()
            on_stack.discard(w)
            component.append(w)
            if w == v:
                break
        if len(component) > 1:
            cycles.append(sorted(component))


for module in sorted(set(edges) | {b for deps in edges.values() for b in deps}):
    if module not in index:
        visit(module)
for module in sorted(edges):
    print(f"{module} -> {', '.join(sorted(edges[module]))}")
print(f"cycles: {cycles if cycles else 'none'}")
sys.exit(1 if cycles else 0)
