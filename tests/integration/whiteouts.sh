#!/usr/bin/env bash
# OCI whiteouts across three layers: .wh.NAME of files, directories, hard-link members and
# names that never existed; opaque markers placed last (after the directory's own entries) and
# first in the tar; a whiteout and a new entry of the same name in one layer; a directory
# replaced by a file and back, a file replaced by a directory and then by a symlink; a deleted
# file re-added. Compared with the GNU tar reference and, where root, with kernel overlayfs.
source "$(dirname "$0")/lib.sh"
require_fuse

std_setup
oci_layout "$LF_TMP/oci" lfwh:v1 gzip "${STD_LAYERS[@]}"
run_ok lf import "$LF_TMP/oci" itest/whiteouts:1
m=$LF_TMP/m
lf_mount itest/whiteouts:1 "$m"

step "explicit expectations"
assert_file_eq "$m/etc/hostname" top
assert_file_eq "$m/etc/motd" "the upper layer changed this"
assert_eq "$(ls -A "$m/usr/share/doc")" newdoc "/usr/share/doc after an opaque marker placed last"
assert_file_eq "$m/usr/share/doc/newdoc/README" "kept: same layer as the opaque marker"
assert_eq "$(ls -A "$m/home/user")" new "/home/user after an opaque marker placed first"
[ -d "$m/opt/x" ] && ! [ -L "$m/opt/x" ] || fail "/opt/x is not a directory again"
assert_eq "$(ls -A "$m/opt/x")" back "/opt/x: a directory replaced by a file and back"
assert_stat "$m/opt/y" %F "symbolic link"
assert_eq "$(readlink "$m/opt/y")" x "/opt/y symlink target"
assert_missing "$m/var/empty"
assert_missing "$m/srv/dangling"
assert_stat "$m/srv/abs" %F "regular file"
assert_file_eq "$m/srv/abs" "abs is a regular file now"
assert_missing "$m/usr/bin/hl-c"
assert_missing "$m/bin/rm"
assert_missing "$m/etc/nonexistent"
assert_exists "$m/bin/mv"
if find "$m" -name '.wh.*' | grep -c . >/dev/null; then
	fail "whiteout markers are visible in the mount: $(find "$m" -name '.wh.*')"
fi
# readdir and lookup agree: every listed name can be stat'ed, no hidden name can be
for p in usr/share/doc/pkg usr/share/doc/other home/user/.profile home/user/l2file opt/x/file \
	opt/x/sub opt/y/inner dev/sda; do
	assert_missing "$m/$p"
done

step "the whole tree against the GNU tar reference"
assert_trees_eq "$LF_TMP/ref" "$m"

if have_overlay; then
	step "the whole tree against kernel overlayfs"
	ref_overlay "$LF_TMP/ovl2" "$LF_TMP/ovl2-layers" "${STD_LAYERS[@]}"
	assert_trees_eq "$LF_TMP/ovl2" "$m"
fi
lf_umount "$m"
