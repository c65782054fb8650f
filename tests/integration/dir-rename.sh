#!/usr/bin/env bash
# Renaming directories that come from the image: a lower directory, a deep one across
# directories, a merged one (changed before it moves), one moved over an empty directory, one
# moved away and back, and writes inside a moved one. Where kernel overlayfs refuses with EXDEV
# unless redirect_dir is on (and fuse-overlayfs always), layerfs moves them with a redirect.
#
# The same operations run on a plain copy of the reference tree and, where root, on kernel
# overlayfs with redirect_dir=on; the merged trees must be equal, also after a remount, and the
# move must not have copied the files below the directory into the upper.
source "$(dirname "$0")/lib.sh"
require_fuse

ops() {
	(
		set -e
		cd "$1"
		mv usr/share usr/share-moved
		mv a/b/c x-moved
		printf 'added before the move\n' >srv/added
		mv srv srv-moved
		mkdir emptytarget
		mv -T x-moved/d emptytarget
		mv usr/share-moved usr/share
		mv home/user home/user2
		printf 'written after the move\n' >home/user2/later
		mv opt/x opt/x2
		rm -r opt/x2
	)
}

std_setup
oci_layout "$LF_TMP/oci" lfdmv:v1 gzip "${STD_LAYERS[@]}"
run_ok lf import "$LF_TMP/oci" itest/dmv:1
m=$LF_TMP/m
lf_mount itest/dmv:1 "$m" --name dmv

step "the renames on layerfs, on a plain copy and on kernel overlayfs"
ops "$m" || fail "a directory rename failed on the layerfs mount"
ref_tar_apply "$LF_TMP/native" "${STD_LAYERS[@]}"
ops "$LF_TMP/native" || fail "a directory rename failed on the plain directory"
overlay=
if have_overlay; then
	ref_overlay_rw "$LF_TMP/ovl" "$LF_TMP/ovl-layers" "${STD_LAYERS[@]}"
	if ops "$LF_TMP/ovl" 2>/dev/null; then
		overlay=$LF_TMP/ovl
	else
		log "kernel overlayfs without redirect_dir: compared with the plain copy only"
	fi
fi

compare_all() {
	assert_trees_eq "$LF_TMP/native" "$m" --skip-mtime-since "$LF_T0"
	[ -z "$overlay" ] || assert_trees_eq "$overlay" "$m" --skip-mtime-since "$LF_T0"
}
step "compare the merged trees"
compare_all
assert_missing "$m/srv"
assert_file_eq "$m/srv-moved/added" "added before the move"
assert_missing "$m/a/b/c"
assert_exists "$m/emptytarget/e/f/g/h/deep"

step "the move copied no file data: the upper holds only what was written"
u=$(container_dir)/upper
files=$(cd "$u" && find . -type f -printf '%P\n' | LC_ALL=C sort | tr '\n' ' ')
assert_eq "$files" "home/user2/later srv-moved/added " "regular files in the upper"
assert_whiteout "$u/a/b/c"
assert_whiteout "$u/srv"

step "everything persists across umount and mount of the same container"
lf_umount "$m"
lf_mount itest/dmv:1 "$m" --name dmv
compare_all
step "a moved directory can be emptied and removed like any other"
rm -r "$m/home/user2" "$LF_TMP/native/home/user2"
assert_trees_eq "$LF_TMP/native" "$m" --skip-mtime-since "$LF_T0"
lf_umount "$m"
