#!/usr/bin/env bash
# An unprivileged user (created here; /dev/fuse made 0666 as distributions ship it) imports an
# image full of root-owned, setuid, other-owner and device entries into their own store and
# mounts it: stat shows the image's owners and modes, the whole tree read as that user equals
# the reference read as that user, permissions are enforced, and writes work.
source "$(dirname "$0")/lib.sh"
require_root
require_fuse
require_cmd useradd userdel setpriv fusermount3

u=lfit$$
useradd -m -s /bin/sh "$u" || skip "cannot create a user"
LF_USERS+=("$u")
home=$(getent passwd "$u" | cut -d: -f6)
LF_RESTORE+=("chmod $(stat -c %a /dev/fuse) /dev/fuse")
chmod 0666 /dev/fuse
[ -u "$(command -v fusermount3)" ] || skip "fusermount3 is not setuid root"

std_setup
oci_layout "$LF_TMP/oci" lfunpriv:v1 gzip "${STD_LAYERS[@]}"
chmod 0755 "$LF_TMP"
chmod -R a+rX "$LF_TMP/oci"
# the binary must be reachable by the user
bin=$LAYERFS
if ! as_user "$u" test -x "$bin"; then
	cp "$LAYERFS" "$LF_TMP/layerfs"
	chmod 0755 "$LF_TMP/layerfs"
	bin=$LF_TMP/layerfs
fi
ustore=$home/store
mnt=$home/mnt
ulf() { as_user "$u" "$bin" --store "$ustore" "$@"; }

step "import as $u"
run_ok ulf import "$LF_TMP/oci" itest/unpriv:1
[ "$(find "$ustore" ! -user "$u" | head -n 3)" = "" ] ||
	fail "the user's store has files not owned by the user: $(find "$ustore" ! -user "$u" | head)"

step "mount as $u"
as_user "$u" mkdir -p "$mnt"
LF_MOUNTS+=("layerfs|$ustore|$mnt")
run_ok ulf mount itest/unpriv:1 "$mnt"
as_user "$u" mountpoint -q "$mnt" || fail "the mount is not ready when 'layerfs mount' returns"

ustat() { as_user "$u" stat -c "$2" -- "$mnt/$1"; }
check() { # PATH FORMAT EXPECTED
	local got
	got=$(ustat "$1" "$2") || fail "cannot stat '/$1' as $u"
	[ "$got" = "$3" ] || fail "stat -c '$2' /$1 as $u: expected '$3', got '$got'"
}
check usr/bin/suid '%a %u:%g' '4755 0:0'
check usr/bin/sgid '%a %u:%g' '2755 0:50'
check srv/owned '%a %u:%g' '604 4242:4343'
check srv/nobody '%u:%g' '65534:65534'
check etc/shadow '%a %u:%g' '640 0:42'
check dev/null '%F %t:%T %a' 'character special file 1:3 666'
check run/fifo '%F %a' 'fifo 600'
check tmp '%a' '1777'
check bin/busybox '%a %u:%g %s' "755 0:0 $(stat -c %s "$LF_TMP/ref/bin/busybox")"
cap=$(as_user "$u" getfattr --absolute-names --only-values -n security.capability "$mnt/usr/bin/capped" |
	od -An -tx1 | tr -d ' \n')
assert_eq "$cap" 0100000200200000000000000000000000000000 "security.capability as $u"

step "permissions are enforced (default_permissions)"
if as_user "$u" cat "$mnt/etc/shadow" >/dev/null 2>&1; then
	fail "$u could read /etc/shadow (0640 root:42) through the mount"
fi
if as_user "$u" sh -c "printf x >>'$mnt/etc/passwd'" 2>/dev/null; then
	fail "$u could write /etc/passwd (0644 root) through the mount"
fi

step "the whole tree, read as $u, equals the reference read as $u"
run_ok as_user "$u" python3 "$LF_ITEST_DIR/treecmp.py" "$LF_TMP/ref" "$mnt"

step "writes as $u"
as_user "$u" sh -c "printf 'mine\n' >'$mnt/tmp/mine'"
check tmp/mine '%u %a' "$(id -u "$u") 644"
assert_eq "$(as_user "$u" cat "$mnt/tmp/mine")" mine "a file written by $u"

run_ok ulf umount "$mnt"
! is_mounted "$mnt" || fail "the user's mount is still there after 'layerfs umount'"
