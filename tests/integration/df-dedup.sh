#!/usr/bin/env bash
# Dedup, checked on the store's objects/ with find and du, and as `layerfs df` reports it:
# - a second container of an image adds no object bytes (and writing in it adds none either);
# - two images sharing a base layer store that layer once;
# - two different layers containing an identical file store its bytes once.
source "$(dirname "$0")/lib.sh"
require_fuse

# Base layer: a 1 MiB file and a 256 KiB file; image A adds a layer with a copy of the 256 KiB
# file under another name and another owner; image B adds a different layer on the same base.
b=$LF_TMP/img/base
mkdir -p "$b/opt" "$b/etc"
head -c 1048576 /dev/urandom >"$b/opt/big.bin"
head -c 262144 /dev/urandom >"$b/opt/shared.bin"
printf 'base\n' >"$b/etc/base"
set_times "$b" 1500000000
mk_layer_tar "$b" "$LF_TMP/img/base.tar"

a=$LF_TMP/img/a
mkdir -p "$a/usr/lib"
cp "$b/opt/shared.bin" "$a/usr/lib/copy-of-shared.bin"
chmod 0600 "$a/usr/lib/copy-of-shared.bin"
head -c 131072 /dev/urandom >"$a/usr/lib/only-a.bin"
set_times "$a" 1600000000
mk_layer_tar "$a" "$LF_TMP/img/a.tar"

c=$LF_TMP/img/b
mkdir -p "$c/srv"
head -c 196608 /dev/urandom >"$c/srv/only-b.bin"
set_times "$c" 1600000000
mk_layer_tar "$c" "$LF_TMP/img/b.tar"

oci_layout "$LF_TMP/oci-a" lfa:1 gzip "$LF_TMP/img/base.tar" "$LF_TMP/img/a.tar"
oci_layout "$LF_TMP/oci-b" lfb:1 zstd "$LF_TMP/img/base.tar" "$LF_TMP/img/b.tar"

step "image A: identical files in two layers are stored once"
run_ok lf import "$LF_TMP/oci-a" itest/a:1
h=$(sha_of "$b/opt/shared.bin")
[ -f "$LF_STORE/objects/${h:0:2}/${h:2}" ] ||
	fail "no object objects/${h:0:2}/${h:2} for /opt/shared.bin"
# Every object is named by the sha256 of its content, and each content is there once.
n_shared=$(find "$LF_STORE/objects" -type f -size 262144c -exec sha256sum {} + | grep -c "^$h " || true)
assert_eq "$n_shared" 1 "objects holding the bytes of the file present in both layers of A"
find "$LF_STORE/objects" -type f -exec sha256sum {} + | while read -r sum path; do
	[ "${path##*/objects/}" = "${sum:0:2}/${sum:2}" ] ||
		fail "object '$path' is not named by its sha256 $sum"
done
big=$((1048576 + 262144 + 131072))
a_bytes=$(objects_bytes)
[ "$a_bytes" -ge $big ] || fail "objects/ holds $a_bytes bytes, less than the $big of A's files"
[ "$a_bytes" -lt $((big + 262144)) ] ||
	fail "objects/ holds $a_bytes bytes after A: the 256 KiB file shared by two layers is stored twice"
a_disk=$(du -s --block-size=1 "$LF_STORE/objects" | cut -f1)
log "after A: $a_bytes bytes in objects, $a_disk on disk"

step "a second container of A adds no object bytes"
lf_mount itest/a:1 "$LF_TMP/m1" --name one
before=$(objects_listing)
lf_mount itest/a:1 "$LF_TMP/m2" --name two
cat "$LF_TMP/m2/opt/big.bin" >/dev/null
head -c 300000 /dev/urandom >"$LF_TMP/m2/new-in-two"
printf 'x' >>"$LF_TMP/m2/opt/shared.bin"
assert_eq "$(objects_listing)" "$before" "objects/ after a second container and writes in it"
lf_umount "$LF_TMP/m2"
lf_umount "$LF_TMP/m1"

step "image B shares A's base layer: it is stored once"
run_ok lf import "$LF_TMP/oci-b" itest/b:1
b_bytes=$(objects_bytes)
added=$((b_bytes - a_bytes))
[ $added -ge 196608 ] || fail "importing B added $added object bytes, less than its own 192 KiB file"
[ $added -lt $((196608 + 65536)) ] ||
	fail "importing B added $added object bytes: its base layer (1.25 MiB) was stored again"
n=$(find "$LF_STORE/layers" -mindepth 1 -maxdepth 1 | wc -l)
assert_eq "$n" 3 "layer trees for two images of 2 layers sharing one"

step "layerfs df"
out=$(lf df) || fail "'layerfs df' failed"
printf '%s\n' "$out" >&2
assert_contains "$out" "itest/a" "df lists image A"
assert_contains "$out" "itest/b" "df lists image B"
json=$(lf df --json) || fail "'layerfs df --json' failed"
printf '%s' "$json" | jq -e . >/dev/null || fail "'layerfs df --json' is not JSON: $json"
for img in itest/a:1 itest/b:1; do
	shared=$(printf '%s' "$json" | python3 "$LF_ITEST_DIR/jsonfind.py" number "$img" shared) ||
		fail "df --json has no figure of shared bytes for $img: $json"
	[ "$shared" -ge 1048576 ] ||
		fail "df --json says $img shares $shared bytes; the common base layer has 1.25 MiB"
	[ "$shared" -le $((1048576 + 262144 + 65536)) ] ||
		fail "df --json says $img shares $shared bytes, more than the common base layer"
done
