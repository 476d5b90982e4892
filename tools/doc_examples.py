#!/usr/bin/env python3
"""Fails unless every public item of the crate's documented API has a code example:
the items reachable from the crate root (through re-exports too, which rustdoc's
own missing_doc_code_examples lint does not follow), and the inherent methods and
associated constants of its types. Struct fields, enum variants, trait impls and
what one macro generates with a type (the constants and methods of a bitflags
type) are parts of an item and need none. Reads rustdoc's JSON output.

Usage: tools/doc_examples.py target/.../doc/zcio.json"""

import json
import sys

doc = json.load(open(sys.argv[1]))
index = doc["index"]
missing, checked, seen = [], [0], set()


def hidden(item):
    return any("hidden" in str(a) for a in item.get("attrs", []))


def check(item, where):
    checked[0] += 1
    if "```" not in (item.get("docs") or ""):
        missing.append(where)


def visit(item_id, path):
    if item_id is None or str(item_id) not in index or item_id in seen:
        return
    seen.add(item_id)
    item = index[str(item_id)]
    if hidden(item) or item.get("visibility") != "public":
        return
    kind, inner = next(iter(item["inner"].items()))
    name = item.get("name")
    if kind == "use":
        target = inner.get("id")
        if target is not None and str(target) in index:
            if hidden(index[str(target)]):
                return
            visit(target, path + [inner["name"]])
        return
    where = "::".join(path if name is None else path[:-1] + [name] if path and path[-1] == name else path + [name])
    if kind == "module":
        if path:  # the crate root's docs are the crate's overview
            check(item, where)
        for i in inner["items"]:
            visit(i, [where] if path else ["zcio"])
        return
    check(item, where)
    for impl_id in inner.get("impls", []) if isinstance(inner, dict) else []:
        impl = index.get(str(impl_id))
        if not impl:
            continue
        im = impl["inner"]["impl"]
        if im.get("trait") is not None or im.get("blanket_impl") is not None or im.get("is_synthetic"):
            continue
        for m in im["items"]:
            mi = index.get(str(m))
            if mi and mi.get("span") == item.get("span"):
                continue  # made by the macro that made the type
            if mi and mi.get("visibility") == "public" and not hidden(mi):
                check(mi, f"{where}::{mi['name']}")


visit(doc["root"], [])
if missing:
    print(f"FAIL: {len(missing)} of {checked[0]} public items have no example:")
    for m in missing:
        print("  " + m)
    sys.exit(1)
print(f"PASS: all {checked[0]} public items of the documented API have an example")
