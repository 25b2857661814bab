#!/usr/bin/env python3
"""Draws a crate's module graph from its source and fails on an import circle.

    python3 scripts/module_graph.py crates/gaussmix-cli/src [more crates' src ...] [--dot]

With several folders, each crate is drawn and checked in turn (CI checks the library,
the video crate and the CLI this way); the exit status is 1 if any has a circle.

A node is a module file (`io/csv.rs` is `io::csv`, `io/mod.rs` is `io`). An edge A -> B
is any path into B written in A outside its test module: `use crate::b::…`,
`use super::…`, and paths in the code (`crate::b::f(…)`), resolved to the deepest
module file they name. Test modules (from the first `#[cfg(test)]` on) are left out:
tests may reach anywhere. Prints the edges (or Graphviz with --dot), then every
strongly connected component of more than one module; exits 1 if there is one.
"""

import pathlib
import re
import sys


def modules(src):
    mods = {}
    for f in sorted(src.rglob("*.rs")):
        rel = f.relative_to(src).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] in ("mod", "lib", "main"):
            parts = parts[:-1]
        mods["::".join(parts)] = f
    return mods


def code_of(f):
    text = f.read_text()
    cut = text.find("#[cfg(test)]")
    if cut >= 0:
        text = text[:cut]
    # drop comments and string literals (doc links are not imports)
    text = re.sub(r"//[^\n]*", "", text)
    text = re.sub(r'"(\\.|[^"\\])*"', '""', text)
    return text


def expand_use(body):
    """`a::{b, c::{d, e}}` -> ['a::b', 'a::c::d', 'a::c::e']."""
    body = re.sub(r"\s+", "", body)
    out = []

    def walk(prefix, s):
        depth, start, items = 0, 0, []
        for i, ch in enumerate(s):
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
            elif ch == "," and depth == 0:
                items.append(s[start:i])
                start = i + 1
        items.append(s[start:])
        for it in items:
            if not it:
                continue
            m = re.match(r"^([^{]*?)(?:::)?\{(.*)\}$", it)
            if m:
                walk(prefix + m.group(1) + ("::" if m.group(1) else ""), m.group(2))
            else:
                out.append(prefix + it.split(" as ")[0])

    walk("", body)
    return out


def resolve(path, here, mods):
    parts = path.split("::")
    if parts[0] == "crate":
        base = []
        parts = parts[1:]
    elif parts[0] in ("super", "self"):
        base = here.split("::") if here else []
        while parts and parts[0] in ("super", "self"):
            if parts[0] == "super":
                base = base[:-1]
            parts = parts[1:]
    elif (here + "::" if here else "") + parts[0] in mods:
        # a child module, named relative to this one (`use csv::…`, `csv::f()`)
        base = here.split("::") if here else []
    else:
        return None
    best = None
    for n in range(len(parts) + 1):
        cand = "::".join(base + parts[:n])
        if cand in mods:
            best = cand
    return best


def inline_spans(code):
    """(start, end) of each inline `mod name { … }` block."""
    spans = []
    for m in re.finditer(r"\bmod\s+\w+\s*\{", code):
        depth, i = 0, m.end() - 1
        while i < len(code):
            if code[i] == "{":
                depth += 1
            elif code[i] == "}":
                depth -= 1
                if depth == 0:
                    break
            i += 1
        spans.append((m.start(), i))
    return spans


def graph(src):
    mods = modules(src)
    edges = set()
    for name, f in mods.items():
        code = code_of(f)
        spans = inline_spans(code)
        depth = lambda pos: sum(1 for a, b in spans if a <= pos <= b)
        paths = []
        for m in re.finditer(r"\buse\s+([^;]+);", code):
            paths += [(p, depth(m.start())) for p in expand_use(m.group(1))]
        for m in re.finditer(r"\b(?:crate|super)(?:::\w+)+", code):
            if not re.match(r"\buse\s", code[max(0, m.start() - 4) : m.start()]):
                paths.append((m.group(0), depth(m.start())))
        prefix = name + "::" if name else ""
        children = {m[len(prefix):] for m in mods if m.startswith(prefix) and "::" not in m[len(prefix):] and m != name}
        for c in children:
            for m in re.finditer(r"(?<![\w:])" + re.escape(c) + r"::\w", code):
                paths.append((c, depth(m.start())))
        for p, inner in paths:
            p = p.replace(" ", "")
            # inside an inline module, its own `super::` steps stay in this file
            while inner and p.startswith("super::"):
                p = "self::" + p[len("super::") :]
                inner -= 1
            target = resolve(p, name, mods)
            # a module's own items and its parent's re-exports of it are not edges
            if target is None or target == name or (name.startswith(target + "::") and target != ""):
                if target is not None and name.startswith(target + "::"):
                    # a submodule using its parent module's own items: an edge up
                    edges.add((name, target))
                continue
            edges.add((name, target))
    return mods, edges


def sccs(nodes, edges):
    adj = {n: [] for n in nodes}
    for a, b in edges:
        adj[a].append(b)
    index, low, on, stack, out, counter = {}, {}, set(), [], [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in adj[v]:
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
            out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for n in nodes:
        if n not in index:
            visit(n)
    return [c for c in out if len(c) > 1]


def check(src, dot):
    """Prints one crate's edges (or Graphviz), then its circles; True when it has none."""
    mods, edges = graph(src)
    name = lambda n: n or "(root)"
    if dot:
        print("digraph modules {")
        for a, b in sorted(edges):
            print(f'  "{name(a)}" -> "{name(b)}";')
        print("}")
    else:
        for a, b in sorted(edges):
            print(f"{name(a)} -> {name(b)}")
    circles = sccs(list(mods), edges)
    for c in circles:
        print(f"{src}: import circle: " + " <-> ".join(name(n) for n in c), file=sys.stderr)
    if not circles:
        print(f"{src}: {len(mods)} modules, {len(edges)} edges, no import circle", file=sys.stderr)
    return not circles


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    srcs = [pathlib.Path(a) for a in (args or ["crates/gaussmix-cli/src"])]
    for src in srcs:
        if not src.is_dir():
            print(f"{src}: not a folder", file=sys.stderr)
            sys.exit(2)
    ok = [check(src, "--dot" in sys.argv) for src in srcs]
    if not all(ok):
        sys.exit(1)


if __name__ == "__main__":
    main()
