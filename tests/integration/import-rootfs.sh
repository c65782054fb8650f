#!/usr/bin/env bash
# `layerfs import --rootfs`: a plain rootfs tarball (gzip, "./"-prefixed names, as `tar -C dir
# -czf x .` writes it) and a rootfs directory each become a one-layer image equal to the
# source. A tarball whose entries lack their parent directories gets them created.
source "$(dirname "$0")/lib.sh"
require_fuse

std_setup
root=$LF_TMP/ref

step "rootfs tarball"
tar -C "$root" --format=pax --xattrs --xattrs-include='*' --numeric-owner \
	--pax-option='delete=atime,delete=ctime' -czf "$LF_TMP/rootfs.tar.gz" .
run_ok lf import "$LF_TMP/rootfs.tar.gz" itest/rootfs-tar:1 --rootfs
run_ok lf inspect itest/rootfs-tar:1 >"$LF_TMP/inspect"
diffid=$(gzip -dc "$LF_TMP/rootfs.tar.gz" | sha256sum | cut -d' ' -f1)
grep -q "$diffid" "$LF_TMP/inspect" ||
	fail "inspect does not show the layer's DiffID $diffid: $(cat "$LF_TMP/inspect")"
mount_and_compare itest/rootfs-tar:1 "$root"

step "rootfs directory"
run_ok lf import "$root" itest/rootfs-dir:1 --rootfs
mount_and_compare itest/rootfs-dir:1 "$root"

step "rootfs tarball without directory entries"
mkdir -p "$LF_TMP/flat/usr/local/share/deep" "$LF_TMP/flat/etc"
printf 'deep file\n' >"$LF_TMP/flat/usr/local/share/deep/file"
printf 'conf\n' >"$LF_TMP/flat/etc/conf"
tar -C "$LF_TMP/flat" --format=pax --no-recursion -cf "$LF_TMP/flat.tar" \
	usr/local/share/deep/file etc/conf
run_ok lf import "$LF_TMP/flat.tar" itest/flat:1 --rootfs
lf_mount itest/flat:1 "$LF_TMP/mflat"
assert_file_eq "$LF_TMP/mflat/usr/local/share/deep/file" "deep file"
assert_file_eq "$LF_TMP/mflat/etc/conf" "conf"
for d in usr usr/local usr/local/share usr/local/share/deep etc; do
	[ -d "$LF_TMP/mflat/$d" ] || fail "the missing parent '/$d' was not created as a directory"
done
assert_eq "$(ls -A "$LF_TMP/mflat" | LC_ALL=C sort | tr '\n' ' ')" "etc usr " "root listing"
lf_umount "$LF_TMP/mflat"
