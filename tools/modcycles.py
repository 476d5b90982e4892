#!/usr/bin/env python3
"""Fails when a module of src/ uses one that uses it back, directly or around a
longer circle. A module's uses are the paths it names outside comments and
strings (`use` lines and paths written inline): `crate::a::b`, `super::b`,
`self::b`, resolved to the deepest module they reach. Declaring a child
(`mod b;`) is not a use. Usage: tools/modcycles.py [SRC_DIR]"""

import pathlib
import re
import sys

SRC = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "src")


def module_of(path: pathlib.Path) -> tuple:
    rel = path.relative_to(SRC).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] in ("mod", "lib"):
        parts.pop()
    return tuple(parts)


def strip(text: str) -> str:
    """Removes comments, string and char literals (doc comments name paths too)."""
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"//[^\n]*", " ", text)
    text = re.sub(r'r#*"(?:.|\n)*?"#*', '""', text)
    text = re.sub(r'"(?:\\.|[^"\\])*"', '""', text)
    text = re.sub(r"'(?:\\.|[^'\\])'", "' '", text)
    return text


def inline_modules_as_own(text: str) -> str:
    """In `mod name { ... }` bodies `super` is the file's own module: what they use
    counts as the file's use."""
    out, i = [], 0
    for m in re.finditer(r"\bmod\s+\w+\s*\{", text):
        if m.start() < i:
            continue
        depth, j = 1, m.end()
        while j < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            j += 1
        out.append(text[i:m.start()])
        out.append(re.sub(r"\bsuper\s*::", "self::", text[m.end():j]))
        i = j
    out.append(text[i:])
    return "".join(out)


modules = {module_of(p): p for p in SRC.rglob("*.rs")}


def resolve(here: tuple, path: list) -> tuple:
    """The deepest known module a path names, from module `here`."""
    if path[0] == "crate":
        base, rest = (), path[1:]
    elif path[0] == "self":
        base, rest = here, path[1:]
    else:
        base, rest = here, path
        while rest and rest[0] == "super":
            base, rest = base[:-1], rest[1:]
    mod = base
    for seg in rest:
        if base + (seg,) in modules or (mod + (seg,)) in modules:
            mod = mod + (seg,)
        else:
            break
    return mod


PATH = re.compile(r"\b(?:crate|super|self)(?:\s*::\s*(?:super|\w+))+")
GROUP = re.compile(r"\buse\s+((?:crate|super|self|\w+)(?:\s*::\s*\w+)*)\s*::\s*\{([^;]*)\}\s*;", re.S)

graph = {m: set() for m in modules}
for mod, path in modules.items():
    text = inline_modules_as_own(strip(path.read_text()))
    refs = []
    for m in GROUP.finditer(text):
        prefix = [s.strip() for s in m.group(1).split("::")]
        if prefix[0] not in ("crate", "super", "self"):
            if mod + (prefix[0],) not in modules:
                continue  # another crate
            prefix = ["self"] + prefix
        for item in re.split(r",(?![^{]*\})", m.group(2)):
            item = item.strip()
            if not item:
                continue
            first = re.split(r"\s*::\s*|\s+as\s+|\s*\{", item)[0].strip()
            refs.append(prefix if first == "self" else prefix + [first])
    text = GROUP.sub(" ", text)
    # `use child::x` in edition 2018+ is relative to this module.
    for m in re.finditer(r"\buse\s+(\w+)\s*::", text):
        if mod + (m.group(1),) in modules:
            refs.append(["self", m.group(1)])
    # A child's items named inline (`walk::copy_tree(..)`) are uses of it too.
    for m in re.finditer(r"(?<![:\w])(\w+)\s*::", text):
        if mod + (m.group(1),) in modules:
            refs.append(["self", m.group(1), "_"])
    for m in PATH.finditer(text):
        refs.append([s.strip() for s in m.group(0).split("::")])
    for ref in refs:
        target = resolve(mod, ref)
        if target != mod and not (len(target) > len(mod) and target[: len(mod)] == mod and
                                  ref[0] == "self" and len(ref) == 1):
            graph[mod].add(target)

# Tarjan's strongly connected components.
index, low, stack, on, comps, counter = {}, {}, [], set(), [], [0]


def visit(v):
    index[v] = low[v] = counter[0]
    counter[0] += 1
    stack.append(v)
    on.add(v)
    for w in graph.get(v, ()):
        if w not in graph:
            continue
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
            comps.append(comp)


sys.setrecursionlimit(10000)
for v in graph:
    if v not in index:
        visit(v)

name = lambda m: "::".join(("crate",) + m)
if comps:
    for comp in comps:
        members = set(comp)
        print("FAIL: modules that use each other:", ", ".join(sorted(name(m) for m in comp)))
        for m in sorted(comp):
            for t in sorted(graph[m] & members):
                print(f"  {name(m)} -> {name(t)}")
    sys.exit(1)
print(f"PASS: {len(modules)} modules of {SRC}, no module uses one that uses it back")
