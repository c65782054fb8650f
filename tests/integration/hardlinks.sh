#!/usr/bin/env bash
# Hard links: groups within a directory and across directories, a group containing a setuid
# file with xattrs, a hard link to a symlink, a member removed by a whiteout and a member
# replaced by a new file in a later layer. Through the mount the names of a group share one
# inode with a true link count, and a write through one name is seen through the others, also
# after a remount (hard links survive copy-up).
source "$(dirname "$0")/lib.sh"
require_fuse

l=$LF_TMP/img/h1
mkdir -p "$l"/{a,b,c}
printf 'group one\n' >"$l/a/one"
ln "$l/a/one" "$l/a/one-again"
ln "$l/a/one" "$l/b/one-elsewhere"
ln "$l/a/one" "$l/c/one-third"
printf '#!/bin/sh\n' >"$l/a/suid"
chmod 4755 "$l/a/suid"
setfattr -n user.tag -v linked "$l/a/suid"
ln "$l/a/suid" "$l/b/suid-link"
ln -s ../a/one "$l/c/sym"
ln -P "$l/c/sym" "$l/c/sym-hardlink"
printf 'pair\n' >"$l/a/pair1"
ln "$l/a/pair1" "$l/a/pair2"
set_times "$l" 1500000000
mk_layer_tar "$l" "$LF_TMP/img/h1.tar"
tar -tvf "$LF_TMP/img/h1.tar" | grep -c ' link to ' >/dev/null || fail "the test layer has no hard links"

l=$LF_TMP/img/h2
mkdir -p "$l"/{a,c,d}
: >"$l/c/.wh.one-third"
printf 'replaced, no longer linked\n' >"$l/a/pair2"
printf 'group two\n' >"$l/d/two"
ln "$l/d/two" "$l/a/two-link"
set_times "$l" 1600000000
mk_layer_tar "$l" "$LF_TMP/img/h2.tar"
layers=("$LF_TMP/img/h1.tar" "$LF_TMP/img/h2.tar")

ref_tar_apply "$LF_TMP/ref" "${layers[@]}"
oci_layout "$LF_TMP/oci" lfhl:v1 gzip "${layers[@]}"
run_ok lf import "$LF_TMP/oci" itest/hardlinks:1
m=$LF_TMP/m
lf_mount itest/hardlinks:1 "$m" --name hl

step "inode groups and link counts"
same_inode() {
	local first ino
	first=$(stat -c %i "$m/$1")
	for p in "$@"; do
		ino=$(stat -c %i "$m/$p")
		[ "$ino" = "$first" ] || fail "/$p (inode $ino) is not a hard link of /$1 (inode $first)"
	done
}
same_inode a/one a/one-again b/one-elsewhere
same_inode a/suid b/suid-link
same_inode c/sym c/sym-hardlink
same_inode d/two a/two-link
assert_stat "$m/b/suid-link" %a 4755
assert_eq "$(getfattr --only-values -n user.tag "$m/b/suid-link")" linked "user.tag of /b/suid-link"
assert_stat "$m/a/suid" %h 2
assert_stat "$m/d/two" %h 2
assert_stat "$m/a/pair1" %h 1
assert_stat "$m/a/pair2" %h 1
[ "$(stat -c %i "$m/a/pair1")" != "$(stat -c %i "$m/a/pair2")" ] ||
	fail "/a/pair2 was replaced by a new file in layer 2 but still shares pair1's inode"
assert_missing "$m/c/one-third"
assert_trees_eq "$LF_TMP/ref" "$m"

step "a write through one name is seen through the others"
printf 'appended\n' >>"$m/a/one"
assert_file_eq "$m/b/one-elsewhere" "$(printf 'group one\nappended')"
assert_file_eq "$m/a/one-again" "$(printf 'group one\nappended')"
same_inode a/one a/one-again b/one-elsewhere
lf_umount "$m"

step "and after a remount"
lf_mount itest/hardlinks:1 "$m" --name hl
assert_file_eq "$m/b/one-elsewhere" "$(printf 'group one\nappended')"
same_inode a/one a/one-again b/one-elsewhere
lf_umount "$m"

step "a group whose names lie under a directory that moves stays one file"
lf_mount itest/hardlinks:1 "$m" --name hl-mv
mv "$m/b" "$m/b-moved"
mv "$m/d" "$m/a/d-moved"
printf 'after the move\n' >>"$m/a/two-link"
assert_file_eq "$m/a/d-moved/two" "$(printf 'group two\nafter the move')"
printf 'written through the moved name\n' >>"$m/b-moved/suid-link"
assert_file_eq "$m/a/suid" "$(printf '#!/bin/sh\nwritten through the moved name')"
same_inode a/suid b-moved/suid-link
same_inode a/two-link a/d-moved/two
lf_umount "$m"
lf_mount itest/hardlinks:1 "$m" --name hl-mv
same_inode a/suid b-moved/suid-link
assert_file_eq "$m/a/d-moved/two" "$(printf 'group two\nafter the move')"
lf_umount "$m"
