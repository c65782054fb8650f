#!/usr/bin/env python3
"""Schema-agnostic questions about the JSON that layerfs prints (read from stdin).

  has-ref REF            exit 0 when some object names REF: a string equal to REF (or to
                         docker.io/library/REF), or name/repository and tag fields.
  number REF KEYWORD     prints the number under a key containing KEYWORD (case-insensitive)
                         in the innermost object that names REF; exit 1 if there is none.
"""
import json
import sys


def names(obj, ref):
    name, _, tag = ref.rpartition(":")
    for v in obj.values():
        if isinstance(v, str) and v in (ref, "docker.io/library/" + ref):
            return True
        if isinstance(v, list) and any(
                isinstance(x, str) and x in (ref, "docker.io/library/" + ref) for x in v):
            return True
    n = obj.get("name", obj.get("repository"))
    return n in (name, "docker.io/library/" + name) and obj.get("tag") == tag


def objects(doc):
    if isinstance(doc, dict):
        yield doc
        for v in doc.values():
            yield from objects(v)
    elif isinstance(doc, list):
        for v in doc:
            yield from objects(v)


def number_in(obj, keyword):
    for k, v in obj.items():
        if keyword in k.lower() and isinstance(v, (int, float)) and not isinstance(v, bool):
            return v
    for v in obj.values():
        if isinstance(v, dict):
            r = number_in(v, keyword)
            if r is not None:
                return r
    return None


def main():
    doc = json.load(sys.stdin)
    cmd = sys.argv[1]
    if cmd == "has-ref":
        sys.exit(0 if any(names(o, sys.argv[2]) for o in objects(doc)) else 1)
    if cmd == "number":
        found = [o for o in objects(doc) if names(o, sys.argv[2])]
        for o in found:
            r = number_in(o, sys.argv[3].lower())
            if r is not None:
                print(int(r))
                return
        sys.exit(1)
    sys.exit(2)


main()
