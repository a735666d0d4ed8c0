#!/usr/bin/env python3
"""Lists module cycles inside each crate of the workspace (dev-only check, no dependencies).

For every `.rs` file under `<crate>/src`, the module path is taken from the file path and every
`crate::a::b…` or `super::…` path in the code (comments stripped) is resolved to a module path.
An edge joins two *sibling* modules (children of the same parent, top level included) when
anything inside one names anything inside the other; a reference from a module to its own
ancestor (a child using its parent's types) is not an edge. Any strongly connected group of
siblings is printed; the exit code is 1 when there is one.

Run from the repository root: `python3 scripts/module_cycles.py`.
"""
import pathlib
import re
import sys

CRATES = ["engine", "cli", "plugin", "trainer", "tests", "xtask"]
PATH = re.compile(r"\b(crate|super)((?:::[a-z_][a-z0-9_]*)+)")
USE_GROUP = re.compile(r"\buse\s+(crate|super)((?:::[a-z_][a-z0-9_]*)*)::\{([^;]*)\}", re.S)


def module_of(src: pathlib.Path, file: pathlib.Path) -> tuple:
    parts = list(file.relative_to(src).with_suffix("").parts)
    if parts[-1] in ("mod", "lib", "main"):
        parts = parts[:-1]
    return tuple(parts)


def strip_comments(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return "\n".join(line.split("//")[0] for line in text.splitlines())


def references(module: tuple, text: str, is_dir_module: bool):
    # `super` inside `a/b.rs` (module a::b) is `a`; inside `a/mod.rs` (module a) it is the parent.
    here = module
    found = []
    for root, tail in PATH.findall(text):
        found.append((root, [p for p in tail.split("::") if p]))
    for root, head, group in USE_GROUP.findall(text):
        for item in re.split(r"[,\s]+", group):
            name = item.split("::")[0].strip("{} ")
            if re.fullmatch(r"[a-z_][a-z0-9_]*", name or ""):
                found.append((root, [p for p in head.split("::") if p] + [name]))
    for root, parts in found:
        if root == "crate":
            yield tuple(parts)
        else:
            base = list(here[:-1])
            while parts and parts[0] == "super":
                parts = parts[1:]
                base = base[:-1]
            yield tuple(base + parts)


def sibling_edge(a: tuple, b: tuple):
    """The pair of siblings under the deepest common parent, if neither contains the other."""
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    if n == len(a) or n == len(b):
        return None
    return a[: n + 1], b[: n + 1]


def cycles(edges):
    nodes = sorted({x for e in edges for x in e})
    graph = {n: sorted({b for a, b in edges if a == n}) for n in nodes}
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                out.append(sorted(group))

    sys.setrecursionlimit(10000)
    for n in nodes:
        if n not in index:
            visit(n)
    return out


def main() -> int:
    bad = 0
    for crate in CRATES:
        src = pathlib.Path(crate) / "src"
        if not src.is_dir():
            continue
        modules = {}
        for file in sorted(src.rglob("*.rs")):
            modules[file] = module_of(src, file)
        known = set(modules.values())
        edges = set()
        for file, module in modules.items():
            text = strip_comments(file.read_text(encoding="utf-8"))
            for target in references(module, text, file.stem == "mod"):
                # Trim the path to the longest prefix that is a module of this crate.
                while target and target not in known:
                    target = target[:-1]
                if not target:
                    continue
                pair = sibling_edge(module, target)
                if pair:
                    edges.add(pair)
        found = cycles(edges)
        for group in found:
            bad += 1
            print(f"{crate}: cycle between " + ", ".join("::".join(m) for m in group))
        print(f"{crate}: {len(known)} modules, {len(edges)} sibling edges, {len(found)} cycles")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
