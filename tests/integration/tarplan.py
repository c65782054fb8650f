#!/usr/bin/env python3
"""Lists the entries of an uncompressed tar for the reference builder: one record per entry,
"TYPE<TAB>NAME<NUL>", TYPE being d (directory), h (hard link), l (symlink), f (anything else),
NAME without a leading "./" or trailing "/" ("" for the root). Only reads; GNU tar extracts."""
import sys
import tarfile

with tarfile.open(sys.argv[1], "r:") as tf:
    out = sys.stdout.buffer
    for m in tf:
        name = m.name
        while name.startswith("./"):
            name = name[2:]
        name = name.rstrip("/")
        if name == ".":
            name = ""
        t = "d" if m.isdir() else "h" if m.islnk() else "l" if m.issym() else "f"
        out.write(t.encode() + b"\t" + name.encode("utf-8", "surrogateescape") + b"\0")
