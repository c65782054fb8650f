#!/usr/bin/env bash
# Metadata-only changes copy no data (metacopy): chmod, chown, utimens, setxattr, a hard link
# and a rename of a large lower file leave its bytes in the store, with the upper holding a
# file of the right size and no blocks; reads still give the image's bytes, also after a
# remount; the first open for writing brings the bytes up, and then the file is an ordinary
# upper file.
source "$(dirname "$0")/lib.sh"
require_fuse

l=$LF_TMP/img/l0
mkdir -p "$l/data"
head -c 8388608 /dev/urandom >"$l/data/big"
head -c 4194304 /dev/urandom >"$l/data/other"
set_times "$l" 1600000000
mk_layer_tar "$l" "$LF_TMP/img/l0.tar"
sum_big=$(sha_of "$l/data/big")
sum_other=$(sha_of "$l/data/other")
oci_layout "$LF_TMP/oci" lfmeta:v1 gzip "$LF_TMP/img/l0.tar"
run_ok lf import "$LF_TMP/oci" itest/meta:1
m=$LF_TMP/m
lf_mount itest/meta:1 "$m" --name meta
u=$(container_dir)/upper

step "chmod, utimens, setxattr, link and rename of lower files"
chmod 0600 "$m/data/big"
# utimensat on the path (GNU touch opens the file for writing first, which, as with kernel
# overlayfs' metacopy, brings the bytes up)
python3 -c 'import os, sys; os.utime(sys.argv[1], (1234567890.5, 1234567890.5))' "$m/data/big"
setfattr -n user.note -v hello "$m/data/big"
is_root && chown 4321:4321 "$m/data/big"
ln "$m/data/other" "$m/data/other-link"
mv "$m/data/other" "$m/data/other-moved"
assert_stat "$m/data/big" '%a %s %Y' "600 8388608 1234567890"
assert_eq "$(getfattr --absolute-names --only-values -n user.note "$m/data/big")" hello \
	"the xattr set on the big file"
is_root && assert_stat "$m/data/big" '%u:%g' 4321:4321
assert_eq "$(sha_of "$m/data/big")" "$sum_big" "the big file's bytes after metadata changes"
assert_eq "$(sha_of "$m/data/other-moved")" "$sum_other" "the renamed file's bytes"
assert_eq "$(sha_of "$m/data/other-link")" "$sum_other" "the new hard link's bytes"
assert_stat "$m/data/other-moved" %h 2

step "no data was copied: the upper files have their size and no blocks"
for f in data/big data/other-moved; do
	assert_stat "$u/$f" '%F %s' "regular file $(stat -c %s "$m/$f")"
	# (an xattr block of the upper filesystem may count, file data would be megabytes)
	[ $(($(stat -c '%b * %B' "$u/$f"))) -le 8192 ] ||
		fail "the upper file $f holds $(($(stat -c '%b * %B' "$u/$f"))) bytes on disk"
done
[ "$(du -s --block-size=1 "$u" | cut -f1)" -lt 1048576 ] ||
	fail "the upper holds $(du -sh "$u" | cut -f1) after metadata changes only"

step "after a remount, reads still come from the image"
lf_umount "$m"
lf_mount itest/meta:1 "$m" --name meta
assert_eq "$(sha_of "$m/data/big")" "$sum_big" "the big file's bytes after a remount"
assert_stat "$m/data/big" '%a %Y' "600 1234567890"

step "the first write brings the bytes up, under every name of the file"
printf 'appended' >>"$m/data/other-link"
want=$( (cat "$l/data/other"; printf 'appended') | sha256sum | cut -d' ' -f1)
assert_eq "$(sha_of "$m/data/other-moved")" "$want" "the other name after a write through the link"
assert_eq "$(sha_of "$u/data/other-moved")" "$want" "the upper file after the write"
dd if=/dev/zero of="$m/data/big" bs=1 count=4 seek=100 conv=notrunc status=none
want=$(python3 -c '
import hashlib, sys
b = bytearray(open(sys.argv[1], "rb").read()); b[100:104] = b"\0\0\0\0"
print(hashlib.sha256(b).hexdigest())' "$l/data/big")
assert_eq "$(sha_of "$m/data/big")" "$want" "the big file after a write in its middle"
assert_stat "$m/data/big" '%a' 600
lf_umount "$m"
lf_mount itest/meta:1 "$m" --name meta
assert_eq "$(sha_of "$m/data/big")" "$want" "the big file after the write and a remount"
assert_eq "$(sha_of "$u/data/big")" "$want" "the upper file of the big file"
lf_umount "$m"
