#!/usr/bin/env python3
"""circles.py BUILD_DIR [SOURCE_DIR] — no two source files of cnnrun call each other.

docs/architecture.md: inside each folder the files call one another in one
direction only, and the folders too; a circle (a.c calls b.c and b.c calls
a.c, or a longer ring a.c -> b.c -> c.c -> a.c) is an error. Read from the
object files the build made (compile_commands.json names each one's
source): `nm -P` gives each object's defined and undefined global symbols; a
file refers to another when it uses a symbol the other defines (a function,
or a variable). Every strongly connected group of more than one file is
printed with the symbols of each reference, and so is every such group of
folders (src/cli calls src/study, never the other way); the status is 1,
0 when there is none, 77 (skipped) without nm.
Only the standard library: runs in CI as it is."""
import json
import os
import shutil
import subprocess
import sys


def objects(build, source):
    """{source path relative to the project: its object file} for src/*.c"""
    with open(os.path.join(build, "compile_commands.json")) as f:
        entries = json.load(f)
    out = {}
    for e in entries:
        d = e["directory"]
        src = os.path.normpath(os.path.join(d, e["file"]))
        obj = e.get("output")
        if obj is None:
            words = e.get("command", "").split()
            obj = words[words.index("-o") + 1] if "-o" in words else None
        if obj is None:
            continue
        rel = os.path.relpath(src, source)
        if not rel.startswith("src" + os.sep) or not rel.endswith(".c"):
            continue  # tests, benches, generated files
        out.setdefault(rel, os.path.join(d, obj))
    return out


def symbols(nm, obj):
    """(defined, undefined) global symbol sets of obj"""
    text = subprocess.run([nm, "-P", obj], check=True, capture_output=True, text=True).stdout
    defined, undefined = set(), set()
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 2:
            continue
        name, kind = parts[0], parts[1]
        if kind == "U":
            undefined.add(name)
        elif kind.isupper() or kind in "uvw":  # global (weak, unique) definitions
            defined.add(name)
    return defined, undefined


def sccs(nodes, edges):
    """Tarjan's strongly connected components, iteratively"""
    index, low, on, stack, out, counter = {}, {}, set(), [], [], [0]
    for start in sorted(nodes):
        if start in index:
            continue
        work = [(start, iter(sorted(edges.get(start, ()))))]
        index[start] = low[start] = counter[0]
        counter[0] += 1
        stack.append(start)
        on.add(start)
        while work:
            v, it = work[-1]
            nxt = next(it, None)
            if nxt is not None:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter[0]
                    counter[0] += 1
                    stack.append(nxt)
                    on.add(nxt)
                    work.append((nxt, iter(sorted(edges.get(nxt, ())))))
                elif nxt in on:
                    low[v] = min(low[v], index[nxt])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                out.append(sorted(comp))
    return out


def main():
    if len(sys.argv) not in (2, 3):
        sys.stderr.write("usage: circles.py BUILD_DIR [SOURCE_DIR (default: BUILD_DIR/..)]\n")
        return 2
    source = os.path.abspath(sys.argv[2] if len(sys.argv) == 3
                             else os.path.join(sys.argv[1], ".."))
    nm = shutil.which("nm")
    if nm is None:
        sys.stderr.write("circles.py: skipped: no nm (binutils) on PATH\n")
        return 77
    objs = objects(sys.argv[1], source)
    if not objs:
        sys.stderr.write("circles.py: no src/*.c objects in %s/compile_commands.json\n"
                         % sys.argv[1])
        return 2
    owner, uses = {}, {}
    for src, obj in sorted(objs.items()):
        if not os.path.exists(obj):
            sys.stderr.write("circles.py: %s is not built (%s); build first\n" % (obj, src))
            return 2
        defined, undefined = symbols(nm, obj)
        for s in defined:
            owner.setdefault(s, src)
        uses[src] = undefined
    edges, why = {}, {}
    for src, undefined in uses.items():
        for s in undefined:
            dst = owner.get(s)
            if dst and dst != src:
                edges.setdefault(src, set()).add(dst)
                why.setdefault((src, dst), set()).add(s)
    circles = [c for c in sccs(objs.keys(), edges) if len(c) > 1]
    for c in circles:
        print("circle of %d files: %s" % (len(c), ", ".join(c)))
        for a in c:
            for b in c:
                if (a, b) in why:
                    print("  %s -> %s: %s" % (a, b, ", ".join(sorted(why[(a, b)]))))
    # the folders too: a layer calls only the layers below it
    fedges, fwhy = {}, {}
    for (a, b), names in why.items():
        fa, fb = os.path.dirname(a), os.path.dirname(b)
        if fa != fb:
            fedges.setdefault(fa, set()).add(fb)
            fwhy.setdefault((fa, fb), set()).update("%s: %s" % (os.path.basename(a), n)
                                                    for n in names)
    folders = {os.path.dirname(s) for s in objs}
    for c in [c for c in sccs(folders, fedges) if len(c) > 1]:
        circles.append(c)
        print("circle of %d folders: %s" % (len(c), ", ".join(c)))
        for a in c:
            for b in c:
                if (a, b) in fwhy:
                    print("  %s -> %s: %s" % (a, b, ", ".join(sorted(fwhy[(a, b)])[:8])))
    if circles:
        print("%d circle(s): a file calls only files that do not call it back "
              "(docs/architecture.md)" % len(circles))
        return 1
    print("no circles among %d files in %d folders" % (len(objs), len(folders)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
