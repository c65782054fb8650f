#!/usr/bin/env bash
# An OCI image layout directory (three layers, gzip) imports, and the mounted tree equals the
# layers applied by GNU tar plus whiteout removal: names, types, contents, modes, owners,
# symlinks, hard links, mtimes, xattrs, devices.
source "$(dirname "$0")/lib.sh"
require_fuse

step "build the image and the reference"
std_setup
oci_layout "$LF_TMP/oci" lfoci/dir:v1 gzip "${STD_LAYERS[@]}"

step "import with an explicit name"
run_ok lf import "$LF_TMP/oci" itest/oci-dir:1
images_has itest/oci-dir:1 || fail "'layerfs images' does not list itest/oci-dir:1"

step "mount and compare the whole tree"
mount_and_compare itest/oci-dir:1 "$LF_TMP/ref"

step "import without a name: the layout's org.opencontainers.image.ref.name names it"
run_ok lf import "$LF_TMP/oci"
images_has lfoci/dir:v1 || fail "the image was not named after its ref.name annotation"
mount_and_compare lfoci/dir:v1 "$LF_TMP/ref"
