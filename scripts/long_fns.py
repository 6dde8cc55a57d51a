#!/usr/bin/env python3
"""Lists functions longer than a limit (default 100 lines) under the given folders.

    python3 scripts/long_fns.py harness/src [--max 100]

A function runs from its `fn` line to the first later line that is its closing brace at the
same indentation (rustfmt layout). Exits 1 when any function is longer than the limit.
"""
import pathlib
import re
import sys

FN = re.compile(r"^(\s*)(pub(\([a-z]+\))? )?(const )?(async )?(unsafe )?fn \w+")


def long_fns(root, limit):
    out = []
    for path in sorted(pathlib.Path(root).rglob("*.rs")):
        lines = path.read_text().splitlines()
        for i, line in enumerate(lines):
            m = FN.match(line)
            if not m or line.rstrip().endswith(";"):
                continue
            indent = m.group(1)
            for j in range(i + 1, len(lines)):
                if lines[j] == indent + "}":
                    if j - i + 1 > limit:
                        out.append((j - i + 1, f"{path}:{i + 1}", line.strip()))
                    break
    return out


def main():
    args = sys.argv[1:]
    limit = 100
    if "--max" in args:
        k = args.index("--max")
        limit = int(args[k + 1])
        del args[k : k + 2]
    found = [f for root in args or ["harness/src"] for f in long_fns(root, limit)]
    for n, where, sig in sorted(found, reverse=True):
        print(f"{n:5} {where} {sig}")
    print(f"{len(found)} functions longer than {limit} lines")
    sys.exit(1 if found else 0)


if __name__ == "__main__":
    main()
