#!/usr/bin/env bash
# layerfs ps / rm: ps lists containers and where they are mounted (text and JSON); rm refuses a
# mounted container and removes an unmounted one with its upper directory.
source "$(dirname "$0")/lib.sh"
require_fuse

mkdir -p "$LF_TMP/src/etc"
printf 'x\n' >"$LF_TMP/src/etc/x"
run_ok lf import "$LF_TMP/src" itest/ps:1 --rootfs
m=$LF_TMP/m
lf_mount itest/ps:1 "$m" --name c-one
printf 'data\n' >"$m/written"

out=$(lf ps) || fail "'layerfs ps' failed"
log "ps: $out"
assert_contains "$out" c-one "ps lists the container"
assert_contains "$out" "$m" "ps shows where the container is mounted"
json=$(lf ps --json) || fail "'layerfs ps --json' failed"
printf '%s' "$json" | jq -e . >/dev/null || fail "'layerfs ps --json' is not JSON: $json"
assert_contains "$json" c-one "ps --json lists the container"
assert_contains "$json" "$m" "ps --json shows the mountpoint"

run_fails lf rm c-one
assert_contains "$LF_ERR" c-one "the error of rm of a mounted container names it"
mountpoint -q "$m" || fail "rm of a mounted container broke the mount"
assert_file_eq "$m/written" data
lf_umount "$m"

out=$(lf ps) || fail "'layerfs ps' failed"
assert_contains "$out" c-one "an unmounted container is still listed"
assert_eq "$(count_containers)" 1 "containers in the store"
run_ok lf rm c-one
out=$(lf ps) || fail "'layerfs ps' failed"
assert_not_contains "$out" c-one "ps after rm"
assert_eq "$(count_containers)" 0 "containers in the store after rm"
run_fails lf rm c-one

step "a new container of the same name starts empty"
lf_mount itest/ps:1 "$m" --name c-one
assert_missing "$m/written"
lf_umount "$m"

step "mount --rm: the container goes with its mount"
run_ok lf rm c-one
lf_mount itest/ps:1 "$m" --name c-tmp --rm
echo data >"$m/written"
assert_contains "$(lf ps)" c-tmp "ps while a --rm container is mounted"
lf_umount "$m"
no_containers() { [ "$(count_containers)" = 0 ]; }
wait_for "the --rm container to be removed" 10 no_containers
