#!/usr/bin/env bash
# `docker save` from the containerd image store: the index lists three platforms, only this
# machine's blobs are in the archive (listed between two absent ones), layers are the original
# compressed blobs. Once with a docker manifest.json, once as a plain OCI archive without it.
source "$(dirname "$0")/lib.sh"
require_fuse

std_setup

step "with manifest.json"
containerd_archive "$LF_TMP/ctrd.tar" lfctrd:v1 gzip,zstd,gzip yes "${STD_LAYERS[@]}"
run_ok lf import "$LF_TMP/ctrd.tar" itest/containerd:1
mount_and_compare itest/containerd:1 "$LF_TMP/ref"

step "without manifest.json: the platform is picked from the index"
containerd_archive "$LF_TMP/ctrd-oci.tar" lfctrd:v2 zstd no "${STD_LAYERS[@]}"
run_ok lf import "$LF_TMP/ctrd-oci.tar" itest/containerd:2
mount_and_compare itest/containerd:2 "$LF_TMP/ref"
