#!/usr/bin/env bash
# Re-importing an image that is present succeeds and changes nothing in the store (contents,
# names, modes); importing the same image again from other archive kinds (same layers, same
# config) adds no layer and no object.
source "$(dirname "$0")/lib.sh"
require_fuse

mk_std_layers "$LF_TMP/img"
oci_layout "$LF_TMP/oci" lfre:v1 gzip "${STD_LAYERS[@]}"
run_ok lf import "$LF_TMP/oci" itest/re:1
export LF_LISTING_MTIMES=0
store_listing >"$LF_TMP/before"

step "the same source and name again"
run_ok lf import "$LF_TMP/oci" itest/re:1
assert_store_unchanged "$LF_TMP/before" "re-import of the same image"

step "the same image from an OCI tar and a docker archive"
objs=$(objects_listing)
layers=$(ls "$LF_STORE/layers")
oci_tar "$LF_TMP/oci.tar" lfre:v1 gzip "${STD_LAYERS[@]}"
run_ok lf import "$LF_TMP/oci.tar" itest/re:1
assert_store_unchanged "$LF_TMP/before" "re-import of the same image from an OCI tar"
docker_legacy "$LF_TMP/legacy.tar" lfre:v1 "${STD_LAYERS[@]}"
run_ok lf import "$LF_TMP/legacy.tar" itest/re:legacy
assert_eq "$(objects_listing)" "$objs" "objects/ after importing the same layers from a docker archive"
assert_eq "$(ls "$LF_STORE/layers")" "$layers" "layers/ after importing the same layers again"

step "both names still mount"
ref_tar_apply "$LF_TMP/ref" "${STD_LAYERS[@]}"
mount_and_compare itest/re:1 "$LF_TMP/ref"
mount_and_compare itest/re:legacy "$LF_TMP/ref"
