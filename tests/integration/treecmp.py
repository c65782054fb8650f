#!/usr/bin/env python3
"""Compares two directory trees entry by entry and prints every difference.

Compared: names, types, contents (sha256), permission bits (with setuid/setgid/sticky; not for
symlinks), uid/gid, symlink targets, hard-link groups (which names share an inode), mtimes with
nanoseconds, xattrs (overlay-internal ones excluded), device numbers. Not compared: atime,
ctime, directory sizes and link counts, inode numbers themselves.

usage: treecmp.py [options] A B
  --skip-mtime-since T   mtimes at or after T (seconds) on both sides are not compared:
                         those were made by the test run, at different moments on A and B
  --no-root-meta         ignore the metadata of the roots themselves
  --exclude REL          ignore REL and everything below it (repeatable)
  --no-mtime             compare no mtimes at all
  --list DIR             print the tree as it is read, for debugging
Exit status 0 when equal, 1 when different, 2 on usage errors.
"""
import argparse
import hashlib
import os
import stat
import sys

IGNORED_XATTR_PREFIXES = (b"trusted.overlay.", b"user.overlay.")
MAX_PRINTED = 150


def read_xattrs(path):
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return {}
    out = {}
    for n in names:
        nb = os.fsencode(n)
        if nb.startswith(IGNORED_XATTR_PREFIXES):
            continue
        try:
            out[n] = os.getxattr(path, n, follow_symlinks=False)
        except OSError as e:
            out[n] = "<error %s>" % e.strerror
    return out


def digest(path):
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            while True:
                b = f.read(1 << 20)
                if not b:
                    break
                h.update(b)
    except OSError as e:
        return "<cannot read: %s>" % e.strerror
    return h.hexdigest()


def kind(m):
    for test, name in ((stat.S_ISDIR, "directory"), (stat.S_ISREG, "file"),
                       (stat.S_ISLNK, "symlink"), (stat.S_ISCHR, "char-device"),
                       (stat.S_ISBLK, "block-device"), (stat.S_ISFIFO, "fifo"),
                       (stat.S_ISSOCK, "socket")):
        if test(m):
            return name
    return "unknown"


def scan(root, excludes):
    """Returns {relpath(bytes): info dict} and {relpath: (dev, ino)}."""
    entries = {}
    inodes = {}
    root = os.fsencode(root)

    def visit(rel):
        full = os.path.join(root, rel) if rel else root
        try:
            st = os.lstat(full)
        except OSError as e:
            entries[rel] = {"type": "<lstat failed: %s>" % e.strerror}
            return
        k = kind(st.st_mode)
        info = {
            "type": k,
            "uid": st.st_uid,
            "gid": st.st_gid,
            "mtime": st.st_mtime_ns,
            "xattrs": read_xattrs(full),
        }
        if k != "symlink":
            info["mode"] = "%04o" % stat.S_IMODE(st.st_mode)
        if k == "file":
            info["size"] = st.st_size
            info["sha256"] = digest(full)
        elif k == "symlink":
            info["target"] = os.readlink(full)
        elif k in ("char-device", "block-device"):
            info["rdev"] = "%d:%d" % (os.major(st.st_rdev), os.minor(st.st_rdev))
        entries[rel] = info
        if k != "directory":
            inodes[rel] = (st.st_dev, st.st_ino)
        if k == "directory":
            try:
                names = sorted(os.listdir(full))
            except OSError as e:
                info["listing"] = "<readdir failed: %s>" % e.strerror
                return
            for n in names:
                child = os.path.join(rel, n) if rel else n
                if child in excludes:
                    continue
                visit(child)

    visit(b"")
    groups = {}
    for rel, key in inodes.items():
        groups.setdefault(key, []).append(rel)
    for rel, key in inodes.items():
        members = groups[key]
        entries[rel]["links"] = sorted(members) if len(members) > 1 else []
    return entries


def show(rel):
    return "/" + rel.decode("utf-8", "surrogateescape") if rel else "/ (root)"


def fmt(v):
    if isinstance(v, list):
        return "[" + ", ".join(show(x) for x in v) + "]"
    if isinstance(v, bytes):
        return v.decode("utf-8", "surrogateescape")
    if isinstance(v, dict):
        return "{" + ", ".join("%s=%r" % (k, v[k]) for k in sorted(v)) + "}"
    return str(v)


def fmt_ns(ns):
    return "%d.%09d" % divmod(ns, 10**9)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--skip-mtime-since", type=int)
    ap.add_argument("--no-root-meta", action="store_true")
    ap.add_argument("--no-mtime", action="store_true")
    ap.add_argument("--exclude", action="append", default=[])
    ap.add_argument("--list")
    ap.add_argument("a", nargs="?")
    ap.add_argument("b", nargs="?")
    o = ap.parse_args()
    excludes = {os.fsencode(e.strip("/")) for e in o.exclude}

    if o.list:
        for rel, info in sorted(scan(o.list, excludes).items()):
            print(show(rel), " ".join("%s=%s" % (k, fmt(v)) for k, v in sorted(info.items())))
        return 0
    if not o.a or not o.b:
        ap.error("two trees are needed")

    a = scan(o.a, excludes)
    b = scan(o.b, excludes)
    diffs = []
    for rel in sorted(set(a) | set(b)):
        if rel not in b:
            diffs.append("only in A (%s): %s (%s)" % (o.a, show(rel), a[rel]["type"]))
            continue
        if rel not in a:
            diffs.append("only in B (%s): %s (%s)" % (o.b, show(rel), b[rel]["type"]))
            continue
        ia, ib = a[rel], b[rel]
        if ia["type"] != ib["type"]:
            diffs.append("%s: type: A=%s B=%s" % (show(rel), ia["type"], ib["type"]))
            continue
        for field in ("mode", "uid", "gid", "size", "sha256", "target", "rdev", "xattrs",
                      "links", "listing", "mtime"):
            if rel == b"" and o.no_root_meta and field in ("mode", "uid", "gid", "xattrs",
                                                          "mtime"):
                continue
            va, vb = ia.get(field), ib.get(field)
            if field == "mtime":
                if o.no_mtime:
                    continue
                t = o.skip_mtime_since
                if t is not None and va >= t * 10**9 and vb >= t * 10**9:
                    continue
                if va != vb:
                    diffs.append("%s: mtime: A=%s B=%s" % (show(rel), fmt_ns(va), fmt_ns(vb)))
                continue
            if va != vb:
                diffs.append("%s: %s: A=%s B=%s" % (show(rel), field, fmt(va), fmt(vb)))
    for d in diffs[:MAX_PRINTED]:
        print(d)
    if len(diffs) > MAX_PRINTED:
        print("... and %d more differences" % (len(diffs) - MAX_PRINTED))
    if diffs:
        print("%d difference(s) between A=%s and B=%s" % (len(diffs), o.a, o.b))
        return 1
    return 0


sys.exit(main())
