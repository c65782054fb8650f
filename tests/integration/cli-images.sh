#!/usr/bin/env bash
# layerfs images / inspect / tag / rmi: listings in text and JSON, inspect shows the config and
# the layers' DiffIDs, tag adds a name that mounts, rmi removes a name without breaking another
# name of the same image, and errors for names that do not exist.
source "$(dirname "$0")/lib.sh"
require_fuse

mk_std_layers "$LF_TMP/img"
ref_tar_apply "$LF_TMP/ref" "${STD_LAYERS[@]}"
oci_layout "$LF_TMP/oci" lfcli:v1 gzip "${STD_LAYERS[@]}"
diffids=("${IMG_DIFFIDS[@]}")
run_ok lf import "$LF_TMP/oci" itest/cli:1

step "images"
out=$(lf images) || fail "'layerfs images' failed"
log "images: $out"
echo "$out" | grep -E 'itest/cli(:| +)1' >/dev/null || fail "'layerfs images' does not show itest/cli:1: $out"
lf images --json | jq -e . >/dev/null || fail "'layerfs images --json' is not JSON"
images_has itest/cli:1 || fail "'layerfs images --json' does not list itest/cli:1: $(lf images --json)"

step "inspect"
out=$(lf inspect itest/cli:1) || fail "'layerfs inspect itest/cli:1' failed"
for d in "${diffids[@]}"; do
	assert_contains "$out" "$d" "inspect shows each layer's DiffID"
done
assert_contains "$out" "LF_MARK=inspect-me" "inspect shows the image config"
run_fails lf inspect itest/nope:1
assert_one_line_error itest/nope

step "tag"
run_ok lf tag itest/cli:1 itest/other:2
images_has itest/other:2 || fail "the new tag is not listed"
images_has itest/cli:1 || fail "tagging removed the old name"
out=$(lf inspect itest/other:2) || fail "inspect of the new tag failed"
assert_contains "$out" "${diffids[2]}" "inspect of the new tag"
mount_and_compare itest/other:2 "$LF_TMP/ref"
run_fails lf tag itest/nope:1 itest/x:1
images_has itest/x:1 && fail "tagging a missing image created a name"

step "rmi"
run_ok lf rmi itest/cli:1
images_has itest/cli:1 && fail "rmi did not remove itest/cli:1"
images_has itest/other:2 || fail "rmi of one name removed the other name too"
mount_and_compare itest/other:2 "$LF_TMP/ref"
run_fails lf rmi itest/cli:1
run_ok lf rmi itest/other:2
images_has itest/other:2 && fail "rmi did not remove itest/other:2"
mkdir -p "$LF_TMP/gone"
run_fails lf mount itest/other:2 "$LF_TMP/gone"
! is_mounted "$LF_TMP/gone" || fail "a removed image was mounted"
exit 0
