#!/usr/bin/env bash
# Two containers of one image mounted at once do not see each other's changes, and the image
# itself (a third, fresh container) is unchanged.
source "$(dirname "$0")/lib.sh"
require_fuse

std_setup
oci_layout "$LF_TMP/oci" lfiso:v1 gzip "${STD_LAYERS[@]}"
run_ok lf import "$LF_TMP/oci" itest/iso:1
a=$LF_TMP/a b=$LF_TMP/b
lf_mount itest/iso:1 "$a" --name ca
lf_mount itest/iso:1 "$b" --name cb

printf 'only in a\n' >"$a/new-a"
printf 'a changed motd\n' >"$a/etc/motd"
rm "$a/etc/hosts"
chmod 0700 "$a/opt"
printf 'only in b\n' >"$b/new-b"
rm -r "$b/usr/share/doc"

assert_missing "$b/new-a"
assert_missing "$a/new-b"
assert_file_eq "$b/etc/motd" "the upper layer changed this"
assert_file_eq "$b/etc/hosts" "127.0.0.1 localhost"
assert_stat "$b/opt" %a 755
assert_exists "$a/usr/share/doc/newdoc/README"
assert_file_eq "$a/etc/motd" "a changed motd"
assert_missing "$a/etc/hosts"

lf_umount "$a"
lf_umount "$b"
mount_and_compare itest/iso:1 "$LF_TMP/ref" --name cc
