#!/usr/bin/env bash
# kill -9 of `layerfs import` at several points (as soon as it stages, midway through a big
# layer, and at random delays) leaves a store that works: the listing commands succeed, the
# image is either absent or complete, an image imported before still mounts, the next import
# of the same image succeeds and mounts as the reference, and the staging is cleaned.
source "$(dirname "$0")/lib.sh"
require_fuse

std_setup
oci_layout "$LF_TMP/oci-good" lfgood:v1 gzip "${STD_LAYERS[@]}"
run_ok lf import "$LF_TMP/oci-good" itest/good:1

step "build a big image"
big=$LF_TMP/img/big
mkdir -p "$big/many"
for i in $(seq 1 3000); do
	printf 'small file %d\n' "$i" >"$big/many/f$i"
done
head -c 100000000 /dev/urandom >"$big/huge.bin"
mk_layer_tar "$big" "$LF_TMP/img/big.tar"
oci_layout "$LF_TMP/oci-big" lfbig:v1 none "${STD_LAYERS[0]}" "$LF_TMP/img/big.tar"
ref_tar_apply "$LF_TMP/ref-big" "${STD_LAYERS[0]}" "$LF_TMP/img/big.tar"

staged_entries() {
	find "$LF_STORE/tmp" -mindepth 1 2>/dev/null | wc -l
}

# kill_import WHEN: starts the big import and kills it with SIGKILL at WHEN:
# "staging" (as soon as tmp/ has anything), "midway" (staging holds 1500 entries), or a delay
# in seconds.
kill_import() {
	local when=$1 pid deadline=$((SECONDS + 60))
	"$LAYERFS" --store "$LF_STORE" import "$LF_TMP/oci-big" itest/big:1 >/dev/null 2>&1 &
	pid=$!
	LF_PIDS+=("$pid")
	case $when in
	staging | midway)
		local need=1
		[ "$when" = midway ] && need=1500
		while kill -0 "$pid" 2>/dev/null && [ "$(staged_entries)" -lt $need ]; do
			[ $SECONDS -lt $deadline ] || fail "the import never staged $need entries"
			sleep 0.01
		done
		;;
	*) sleep "$when" ;;
	esac
	kill -STOP "$pid" 2>/dev/null || true
	local staged
	staged=$(staged_entries)
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	log "killed the import at '$when' with $staged staged entries"
}

check_store_works() {
	local out
	out=$(lf images) || fail "'layerfs images' fails after a killed import"
	lf images --json | jq -e . >/dev/null || fail "'layerfs images --json' is not JSON after a killed import"
	lf df >/dev/null || fail "'layerfs df' fails after a killed import"
	if images_has itest/big:1; then
		log "the import had completed before the kill; the image must then be whole"
		mount_and_compare itest/big:1 "$LF_TMP/ref-big"
		run_ok lf rmi itest/big:1
	fi
	mount_and_compare itest/good:1 "$LF_TMP/ref"
}

for when in staging midway 0.3 0.7; do
	step "kill -9 at: $when"
	kill_import "$when"
	check_store_works
done

step "the next import succeeds and the staging is cleaned"
run_ok lf import "$LF_TMP/oci-big" itest/big:1
mount_and_compare itest/big:1 "$LF_TMP/ref-big"
[ -z "$(ls -A "$LF_STORE/tmp")" ] || fail "staging left in tmp/ after the next import: $(ls -A "$LF_STORE/tmp")"
