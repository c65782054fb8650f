#!/usr/bin/env bash
# `layerfs mount --read-only`: reads work, every kind of write fails with EROFS, and nothing is
# written to the container's upper.
source "$(dirname "$0")/lib.sh"
require_fuse

std_setup
oci_layout "$LF_TMP/oci" lfro:v1 gzip "${STD_LAYERS[@]}"
run_ok lf import "$LF_TMP/oci" itest/ro:1
m=$LF_TMP/m
lf_mount itest/ro:1 "$m" --read-only --name ro
assert_trees_eq "$LF_TMP/ref" "$m"

erofs() { # DESCRIPTION PYTHON-STATEMENT (p is the mountpoint)
	python3 - "$m" "$1" "$2" <<'PY'
import errno, os, sys
p, what, stmt = sys.argv[1], sys.argv[2], sys.argv[3]
try:
    exec(stmt)
except OSError as e:
    if e.errno == errno.EROFS:
        sys.exit(0)
    print("FAIL: %s failed with %s, not EROFS" % (what, errno.errorcode.get(e.errno, e.errno)))
    sys.exit(1)
print("FAIL: %s succeeded on a read-only mount" % what)
sys.exit(1)
PY
}
erofs create 'open(p + "/newfile", "w")'
erofs "open for writing" 'os.open(p + "/etc/motd", os.O_WRONLY)'
erofs truncate 'os.truncate(p + "/etc/motd", 0)'
erofs mkdir 'os.mkdir(p + "/newdir")'
erofs mkfifo 'os.mkfifo(p + "/fifo")'
erofs symlink 'os.symlink("x", p + "/link")'
erofs link 'os.link(p + "/etc/motd", p + "/motd-link")'
erofs unlink 'os.unlink(p + "/etc/motd")'
erofs rmdir 'os.rmdir(p + "/tmp")'
erofs rename 'os.rename(p + "/etc/motd", p + "/etc/motd2")'
erofs chmod 'os.chmod(p + "/etc/motd", 0o600)'
erofs utime 'os.utime(p + "/etc/motd", (1, 1))'
erofs setxattr 'os.setxattr(p + "/etc/motd", "user.x", b"1")'
erofs removexattr 'os.removexattr(p + "/srv/xattrs", "user.foo")'
assert_file_eq "$m/etc/motd" "the upper layer changed this"
u=$(container_dir)/upper
if [ -d "$u" ]; then
	[ -z "$(ls -A "$u")" ] || fail "a read-only mount wrote to the upper: $(ls -A "$u")"
fi
lf_umount "$m"
