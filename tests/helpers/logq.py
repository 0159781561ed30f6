#!/usr/bin/python3
"""logq FILE [KEY=VALUE...] [--get FIELD] [--count]: reads libreuse's JSON
lines (every line must parse, or it exits 2), keeps the ones whose KEY
equals VALUE (strings as written, other values as JSON: 1, null, true), and
prints FIELD of each (strings raw, anything else as JSON), or their count.
"""
import json
import sys

args = sys.argv[1:]
path = args.pop(0)
get = None
count = False
filters = []
while args:
    a = args.pop(0)
    if a == "--get":
        get = args.pop(0)
    elif a == "--count":
        count = True
    else:
        k, v = a.split("=", 1)
        filters.append((k, v))

def same(value, want):
    if isinstance(value, str):
        return value == want
    return json.dumps(value) == want

events = []
with open(path, "rb") as f:
    for n, raw in enumerate(f, 1):
        try:
            events.append(json.loads(raw))
        except ValueError as e:
            print(f"{path}:{n}: not JSON: {e}: {raw[:200]!r}", file=sys.stderr)
            sys.exit(2)
hits = [e for e in events if all(k in e and same(e[k], v) for k, v in filters)]
if count:
    print(len(hits))
else:
    for e in hits:
        v = e if get is None else e.get(get)
        print(v if isinstance(v, str) else json.dumps(v))
