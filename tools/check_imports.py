"""Check fastnorm/ for import cycles and for source files over the length limit.

    python tools/check_imports.py [--toplevel] [--max-lines 1000]

An edge A -> B is any `import B` / `from B import x` in A, at module level or inside a function (a lazy
import still ties the two modules together; --toplevel counts module-level imports only). `from P import m`
where m is a submodule of package P is an edge to P.m. Exit status 1 on a cycle or an over-long file.
"""
import argparse
import ast
import os
import sys

ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fastnorm")


def modules(root=ROOT):
    """module name -> path of every .py file under fastnorm/."""
    out = {}
    base = os.path.dirname(root)
    for d, _, files in os.walk(root):
        for f in files:
            if f.endswith((".py", ".pyx")):  # a .pyx is a compiled module (fastnorm._C): no Python imports
                path = os.path.join(d, f)
                rel = os.path.relpath(path, base).rsplit(".", 1)[0].split(os.sep)
                if rel[-1] == "__init__":
                    rel = rel[:-1]
                out[".".join(rel)] = path
    return out


def _resolve(name, level, current, is_pkg):
    if not level:
        return name
    parts = current.split(".")
    if not is_pkg:
        parts = parts[:-1]
    parts = parts[:len(parts) - (level - 1)]
    return ".".join(parts + ([name] if name else []))


def edges(mods, toplevel=False):
    graph = {m: set() for m in mods}
    for m, path in mods.items():
        if path.endswith(".pyx"):
            continue
        tree = ast.parse(open(path, encoding="utf-8").read(), path)
        nodes = tree.body if toplevel else ast.walk(tree)
        is_pkg = path.endswith("__init__.py")
        for node in nodes:
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(node.module or "", node.level, m, is_pkg)
                targets = [base + "." + a.name if base + "." + a.name in mods else base for a in node.names]
            else:
                continue
            for t in targets:
                while t and t not in mods:  # `import fastnorm.a.b` -> the deepest module that exists
                    t = t.rpartition(".")[0]
                if t and t != m:
                    graph[m].add(t)
    return graph


def cycles(graph):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def long_files(root, limit):
    out = []
    for d, _, files in os.walk(root):
        for f in files:
            if f.endswith((".py", ".pyx", ".pxi", ".pxd")):
                path = os.path.join(d, f)
                n = sum(1 for _ in open(path, encoding="utf-8"))
                if n > limit:
                    out.append((path, n))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--toplevel", action="store_true", help="count module-level imports only")
    ap.add_argument("--max-lines", type=int, default=1000)
    args = ap.parse_args(argv)
    mods = modules()
    found = cycles(edges(mods, args.toplevel))
    for comp in found:
        print("import cycle: " + " <-> ".join(comp))
    longs = long_files(ROOT, args.max_lines)
    for path, n in longs:
        print("over %d lines: %s (%d)" % (args.max_lines, os.path.relpath(path, os.path.dirname(ROOT)), n))
    if not found and not longs:
        print("%d modules: no import cycle, no file over %d lines" % (len(mods), args.max_lines))
    return 1 if found or longs else 0


if __name__ == "__main__":
    sys.exit(main())
