#!/usr/bin/env bash
# An OCI image layout packed as a tar (as skopeo copy oci-archive: writes it) imports and
# mounts as the reference tree.
source "$(dirname "$0")/lib.sh"
require_fuse

std_setup
oci_tar "$LF_TMP/image.tar" lfoci/tar:v1 gzip,zstd,none "${STD_LAYERS[@]}"

# detected from the content, not the file name
mv "$LF_TMP/image.tar" "$LF_TMP/image.bin"
run_ok lf import "$LF_TMP/image.bin" itest/oci-tar:1
images_has itest/oci-tar:1 || fail "'layerfs images' does not list itest/oci-tar:1"
mount_and_compare itest/oci-tar:1 "$LF_TMP/ref"
