#!/usr/bin/env bash
# Changes persist across umount and mount of the same --name container: new files and
# directories, changed and deleted lower files, metadata; a different --name starts clean.
source "$(dirname "$0")/lib.sh"
require_fuse

std_setup
oci_layout "$LF_TMP/oci" lfpersist:v1 gzip "${STD_LAYERS[@]}"
run_ok lf import "$LF_TMP/oci" itest/persist:1
m=$LF_TMP/m

lf_mount itest/persist:1 "$m" --name keep
mkdir -p "$m/data/sub"
head -c 300000 /dev/urandom >"$m/data/sub/blob"
sum=$(sha_of "$m/data/sub/blob")
printf 'changed\n' >"$m/etc/motd"
rm "$m/etc/passwd"
chmod 0700 "$m/opt/data.bin"
ln -s data/sub/blob "$m/blob-link"
lf_umount "$m"

for round in 1 2; do
	step "remount $round"
	lf_mount itest/persist:1 "$m" --name keep
	assert_eq "$(sha_of "$m/data/sub/blob")" "$sum" "content of a file written before the remount"
	assert_file_eq "$m/etc/motd" changed
	assert_missing "$m/etc/passwd"
	assert_stat "$m/opt/data.bin" %a 700
	assert_eq "$(readlink "$m/blob-link")" data/sub/blob "symlink made before the remount"
	assert_file_eq "$m/etc/hosts" "127.0.0.1 localhost"
	lf_umount "$m"
done

step "another container of the image does not have the changes"
mount_and_compare itest/persist:1 "$LF_TMP/ref" --name fresh
