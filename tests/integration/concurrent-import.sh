#!/usr/bin/env bash
# Two imports at once, of the same image and of different images sharing a base layer: both
# succeed, the store is consistent (every image mounts as its reference), nothing is left in
# staging.
source "$(dirname "$0")/lib.sh"
require_fuse

std_setup
mkdir -p "$LF_TMP/img/other/srv"
head -c 2000000 /dev/urandom >"$LF_TMP/img/other/srv/other.bin"
set_times "$LF_TMP/img/other" 1650000000
mk_layer_tar "$LF_TMP/img/other" "$LF_TMP/img/other.tar"
ref_tar_apply "$LF_TMP/ref-other" "${STD_LAYERS[0]}" "$LF_TMP/img/other.tar"
oci_layout "$LF_TMP/oci-a" lfca:v1 gzip "${STD_LAYERS[@]}"
oci_layout "$LF_TMP/oci-a2" lfca:v1 zstd "${STD_LAYERS[@]}"
oci_layout "$LF_TMP/oci-b" lfcb:v1 gzip "${STD_LAYERS[0]}" "$LF_TMP/img/other.tar"

run_pair() { # SRC1 REF1 SRC2 REF2
	local p1 p2 r1=0 r2=0
	lf import "$1" "$2" 2>"$LF_TMP/err1" &
	p1=$!
	lf import "$3" "$4" 2>"$LF_TMP/err2" &
	p2=$!
	LF_PIDS+=("$p1" "$p2")
	wait "$p1" || r1=$?
	wait "$p2" || r2=$?
	[ $r1 = 0 ] || fail "concurrent import of $1 as $2 failed ($r1): $(cat "$LF_TMP/err1")"
	[ $r2 = 0 ] || fail "concurrent import of $3 as $4 failed ($r2): $(cat "$LF_TMP/err2")"
}

step "the same image twice at once (from two layouts with different compression)"
run_pair "$LF_TMP/oci-a" itest/ca:1 "$LF_TMP/oci-a2" itest/ca:2
step "different images sharing a base layer at once"
run_ok lf rmi itest/ca:2
run_pair "$LF_TMP/oci-b" itest/cb:1 "$LF_TMP/oci-a2" itest/ca:3
step "the same source and name twice at once"
run_pair "$LF_TMP/oci-b" itest/cb:2 "$LF_TMP/oci-b" itest/cb:2

for img in itest/ca:1 itest/ca:3; do
	mount_and_compare "$img" "$LF_TMP/ref"
done
for img in itest/cb:1 itest/cb:2; do
	mount_and_compare "$img" "$LF_TMP/ref-other"
done
[ -z "$(ls -A "$LF_STORE/tmp")" ] || fail "staging left in tmp/: $(ls -A "$LF_STORE/tmp")"
assert_eq "$(find "$LF_STORE/layers" -mindepth 1 -maxdepth 1 | wc -l)" 4 "layer trees in the store"
