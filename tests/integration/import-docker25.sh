#!/usr/bin/env bash
# A `docker save` archive of Docker 25+: an OCI layout with uncompressed layers plus
# manifest.json pointing into blobs/sha256.
source "$(dirname "$0")/lib.sh"
require_fuse

std_setup
docker25 "$LF_TMP/d25.tar" lfd25:v1 "${STD_LAYERS[@]}"
run_ok lf import "$LF_TMP/d25.tar" itest/docker25:1
images_has itest/docker25:1 || fail "'layerfs images' does not list itest/docker25:1"
mount_and_compare itest/docker25:1 "$LF_TMP/ref"
