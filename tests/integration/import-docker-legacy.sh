#!/usr/bin/env bash
# A `docker save` archive from before Docker 25: manifest.json, <id>/layer.tar, VERSION and
# json per layer, a layer used twice stored once and symlinked.
source "$(dirname "$0")/lib.sh"
require_fuse

std_setup
mk_dup_layer "$LF_TMP/img"
layers=("${STD_LAYERS[0]}" "$LF_TMP/img/dup.tar" "${STD_LAYERS[1]}" "${STD_LAYERS[2]}"
	"$LF_TMP/img/dup.tar")
rm -rf "$LF_TMP/ref"
ref_tar_apply "$LF_TMP/ref" "${layers[@]}"
docker_legacy "$LF_TMP/legacy.tar" lflegacy:v1 "${layers[@]}"
tar -tvf "$LF_TMP/legacy.tar" | grep -c -- '/layer.tar -> ../' >/dev/null ||
	fail "the test archive has no symlinked duplicate layer"

run_ok lf import "$LF_TMP/legacy.tar" itest/legacy:1
mount_and_compare itest/legacy:1 "$LF_TMP/ref"

step "without a name the archive's RepoTags name the image"
run_ok lf import "$LF_TMP/legacy.tar"
images_has lflegacy:v1 || fail "the image was not named after its RepoTags"
