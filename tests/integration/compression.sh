#!/usr/bin/env bash
# The same three layers as uncompressed, gzip and zstd blobs (OCI media types to match):
# each image imports and mounts as the reference, and all three share the same DiffIDs, so the
# second and third import add no layer and no object.
source "$(dirname "$0")/lib.sh"
require_fuse

std_setup
for c in none gzip zstd; do
	step "layers compressed with $c"
	oci_layout "$LF_TMP/oci-$c" "lfcomp:$c" "$c" "${STD_LAYERS[@]}"
	for b in "${IMG_BLOBS[@]}"; do
		case $c in
		gzip) gzip -t <"$LF_TMP/oci-$c/blobs/sha256/$b" ;;
		zstd) zstd -q -t <"$LF_TMP/oci-$c/blobs/sha256/$b" ;;
		esac
	done
	run_ok lf import "$LF_TMP/oci-$c" "itest/comp:$c"
	[ "$c" != none ] || objects_after_first=$(objects_listing)
	mount_and_compare "itest/comp:$c" "$LF_TMP/ref"
done
assert_eq "$(objects_listing)" "$objects_after_first" \
	"objects/ after importing the same layers compressed differently"
n=$(find "$LF_STORE/layers" -mindepth 1 -maxdepth 1 | wc -l)
assert_eq "$n" 3 "layer trees in the store for three images of the same three layers"
