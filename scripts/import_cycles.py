#!/usr/bin/env python3
"""Finds import cycles between the modules (files) of a crate's src folder.

    python3 scripts/import_cycles.py harness/src

Each file is a module (`mod.rs` is its folder's module). An edge A -> B means A names
something of module B (`use crate::…`, `use super::…`, `pub use child::…`, or an inline
`crate::x::y` path), resolved to the longest module path that exists. Test modules (from
`#[cfg(test)]` on) are left out. Prints every cycle (strongly connected set of more than one
module) and exits 1 if there is one; with --top, also checks the top-level modules.
"""
import pathlib
import re
import sys


def module_of(root, path):
    rel = path.relative_to(root).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] in ("mod", "lib", "main"):
        parts = parts[:-1]
    return tuple(parts)


def expand(tree):
    """`a::{b, c::{d, e}}` -> ['a::b', 'a::c::d', 'a::c::e']."""
    tree = tree.strip()
    i = tree.find("{")
    if i < 0:
        return [tree]
    head, body = tree[:i], tree[i + 1 : tree.rfind("}")]
    items, depth, cur = [], 0, ""
    for ch in body:
        if ch == "," and depth == 0:
            items.append(cur)
            cur = ""
            continue
        depth += ch == "{"
        depth -= ch == "}"
        cur += ch
    items.append(cur)
    return [p for it in items if it.strip() for p in expand(head + it.strip())]


def paths_in(text):
    text = text.split("#[cfg(test)]")[0]
    text = re.sub(r"//.*", "", text)
    out = []
    for m in re.finditer(r"\b(?:pub(?:\([a-z]+\))?\s+)?use\s+([^;]+);", text, re.S):
        out += expand(re.sub(r"\s+", "", m.group(1)))
    out += re.findall(r"\b(?:crate|super)(?:::[A-Za-z_][A-Za-z0-9_]*)+", text)
    return out


def resolve(path, here, modules, is_mod_file):
    parts = path.split("::")
    if parts[0] == "crate":
        base, rest = (), parts[1:]
    elif parts[0] in ("super", "self"):
        base = here if is_mod_file else here[:-1]
        rest = parts[1:]
        if parts[0] == "super" and is_mod_file:
            base = here[:-1]
        while rest and rest[0] == "super":
            base, rest = base[:-1], rest[1:]
    else:
        # A relative `use child::…` inside a mod.rs / lib.rs.
        base = here if is_mod_file else here[:-1]
        rest = parts
        if base + (rest[0],) not in modules:
            return None
    best = base
    for k in range(1, len(rest) + 1):
        cand = base + tuple(rest[:k])
        if cand in modules:
            best = cand
        else:
            break
    return best


def sccs(graph):
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

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
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            out.append(comp)

    for v in list(graph):
        if v not in index:
            visit(v)
    return out


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    root = pathlib.Path(args[0] if args else "harness/src")
    files = {module_of(root, p): p for p in root.rglob("*.rs")}
    modules = set(files)
    graph = {m: set() for m in modules}
    for m, p in files.items():
        is_mod = p.name in ("mod.rs", "lib.rs", "main.rs")
        for path in paths_in(p.read_text()):
            t = resolve(path, m, modules, is_mod)
            if t is not None and t != m:
                graph[m].add(t)
    cycles = [c for c in sccs(graph) if len(c) > 1]
    if "--top" in sys.argv:
        top = {}
        for a, bs in graph.items():
            for b in bs:
                if a[:1] and b[:1] and a[:1] != b[:1]:
                    top.setdefault(a[:1], set()).add(b[:1])
        cycles += [c for c in sccs(top) if len(c) > 1]
    for c in cycles:
        print("cycle: " + " <-> ".join("::".join(x) or "crate" for x in sorted(c)))
    edges = sum(len(v) for v in graph.values())
    print(f"{len(modules)} modules, {edges} import edges, {len(cycles)} cycles")
    sys.exit(1 if cycles else 0)


if __name__ == "__main__":
    main()
