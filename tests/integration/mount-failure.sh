#!/usr/bin/env bash
# A mount that fails leaves no mount and no container behind: an image that does not exist, a
# mountpoint that does not exist, a mountpoint that is a file, a non-empty mountpoint. The
# error is one line naming what was wrong. Afterwards a good mount works.
source "$(dirname "$0")/lib.sh"
require_fuse

mkdir -p "$LF_TMP/src/etc"
printf 'x\n' >"$LF_TMP/src/etc/x"
run_ok lf import "$LF_TMP/src" itest/mf:1 --rootfs
before=$(count_containers)
# containers/ and run/ (merged/ is a cache that a mount may fill)
state() { (cd "$LF_STORE" && { find containers run -printf '%y %m %p\n' 2>/dev/null || true; } | LC_ALL=C sort); }
state_before=$(state)

check_failed_mount() { # WHAT IMAGE MNT NEEDLE
	step "failed mount: $1"
	track_mount layerfs "$3"
	run_fails lf mount "$2" "$3" --name "failed-$RANDOM"
	log "$LF_ERR"
	assert_one_line_error "$4"
	! is_mounted "$3" || fail "$1: '$3' is mounted after a failed mount"
	assert_eq "$(count_containers)" "$before" "$1: containers in the store"
	assert_eq "$(state)" "$state_before" "$1: containers/ and run/ of the store"
	out=$(lf ps) || fail "'layerfs ps' failed after a failed mount"
	assert_not_contains "$out" failed- "$1: ps lists a container of the failed mount"
}

mkdir -p "$LF_TMP/empty"
check_failed_mount "bad image name" itest/no-such-image:1 "$LF_TMP/empty" itest/no-such-image
check_failed_mount "mountpoint does not exist" itest/mf:1 "$LF_TMP/nonexistent" "$LF_TMP/nonexistent"
printf 'file\n' >"$LF_TMP/afile"
check_failed_mount "mountpoint is a file" itest/mf:1 "$LF_TMP/afile" "$LF_TMP/afile"
mkdir -p "$LF_TMP/full"
printf 'occupied\n' >"$LF_TMP/full/something"
check_failed_mount "non-empty mountpoint" itest/mf:1 "$LF_TMP/full" "$LF_TMP/full"
assert_file_eq "$LF_TMP/full/something" occupied

step "a good mount still works"
lf_mount itest/mf:1 "$LF_TMP/empty" --name good
assert_file_eq "$LF_TMP/empty/etc/x" x
step "mounting onto a mountpoint that is already mounted fails and leaves the first mount"
before=$(count_containers)
run_fails lf mount itest/mf:1 "$LF_TMP/empty" --name second
assert_eq "$(count_containers)" "$before" "containers after a mount over a mount"
assert_file_eq "$LF_TMP/empty/etc/x" x
lf_umount "$LF_TMP/empty"
