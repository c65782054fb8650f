#!/usr/bin/env bash
# Hostile inputs at the CLI: each import fails with a non-zero status and a one-line error that
# names the source (and the entry, for tar entries), nothing escapes the store, no image is
# added, and the store is byte-for-byte as before.
source "$(dirname "$0")/lib.sh"
require_fuse

w=$LF_TMP/w
mkdir -p "$w"
outside=$LF_TMP/outside
mkdir -p "$outside"

step "a good image first, so the store has content to protect"
mk_std_layers "$LF_TMP/img"
oci_layout "$LF_TMP/good" lfgood:v1 gzip "${STD_LAYERS[@]}"
run_ok lf import "$LF_TMP/good" itest/good:1
before=$LF_TMP/store-before
store_listing >"$before"

# A small valid layer: the base of every hostile case.
mkdir -p "$w/src/etc"
printf 'fine\n' >"$w/src/etc/ok"
printf 'evil\n' >"$w/src/evil"
set_times "$w/src" 1500000000

# hostile_check NAME SOURCE [ENTRY]: import must fail and change nothing.
hostile_check() {
	local name=$1 src=$2
	shift 2
	step "hostile: $name"
	run_fails lf import "$src" "itest/hostile-$name:1"
	log "exit status $LF_RC: $LF_ERR"
	assert_one_line_error "$src" "$@"
	assert_store_unchanged "$before" "after the rejected import '$name'"
	if images_has "itest/hostile-$name:1"; then
		fail "the rejected image itest/hostile-$name:1 is listed by 'layerfs images'"
	fi
	[ -z "$(ls -A "$outside")" ] || fail "'$name' wrote outside the store: $(ls -A "$outside")"
	[ ! -e "$w/evil-written" ] && [ ! -e "$LF_TMP/evil-written" ] ||
		fail "'$name' wrote outside the store"
}

# layout_with TAR NAME [COMP]: an OCI layout of one layer.
layout_with() {
	oci_layout "$w/$2" "lfhostile:$2" "${3:-gzip}" "$1"
}

# set_manifest DIR JQ: rewrites the manifest of layout DIR with a jq filter, fixing the index.
set_manifest() {
	local dir=$1 filter=$2 m hex
	m=$(jq -c "$filter" "$dir/blobs/sha256/$IMG_MANIFEST")
	printf '%s' "$m" >"$w/.m"
	hex=$(add_blob "$dir" "$w/.m")
	jq -c --arg d "sha256:$hex" --argjson s "$(size_of "$w/.m")" \
		'.manifests[0].digest = $d | .manifests[0].size = $s' "$dir/index.json" >"$w/.i"
	mv "$w/.i" "$dir/index.json"
	IMG_MANIFEST=$hex
}

# set_layer_blob DIR FILE: replaces the layer blob by FILE, with a correct digest and size.
set_layer_blob() {
	local dir=$1 file=$2 hex
	hex=$(add_blob "$dir" "$file")
	set_manifest "$dir" ".layers[0].digest = \"sha256:$hex\" | .layers[0].size = $(size_of "$file")"
}

# an entry with ".."
printf 'etc\netc/ok\nevil\n' >"$w/l.list"
tar -C "$w/src" "${LF_TAR_CREATE[@]}" -P --transform='s,^evil$,../evil-written,' \
	-cf "$w/dotdot.tar" -T "$w/l.list" 2>/dev/null
tar -tf "$w/dotdot.tar" 2>/dev/null | grep -xc '../evil-written' >/dev/null || fail "could not build the '..' tar"
layout_with "$w/dotdot.tar" dotdot
hostile_check dotdot "$w/dotdot" "evil-written"

# an absolute path
tar -C "$w/src" "${LF_TAR_CREATE[@]}" -P --transform="s,^evil\$,$outside/abs-evil," \
	-cf "$w/abs.tar" -T "$w/l.list" 2>/dev/null
tar -tf "$w/abs.tar" 2>/dev/null | grep -c '^/' >/dev/null || fail "could not build the absolute-path tar"
layout_with "$w/abs.tar" absolute
hostile_check absolute "$w/absolute" "abs-evil"

# a symlink as the parent of a later entry
mkdir -p "$w/sym/via"
ln -s "$outside" "$w/sym/link"
printf 'escaped\n' >"$w/sym/via/escaped"
printf 'link\nvia/escaped\n' >"$w/sym.list"
tar -C "$w/sym" "${LF_TAR_CREATE[@]}" --transform='s,^via/,link/,' -cf "$w/symparent.tar" \
	-T "$w/sym.list"
tar -tf "$w/symparent.tar" | grep -xc 'link/escaped' >/dev/null || fail "could not build the symlink-parent tar"
layout_with "$w/symparent.tar" symparent
hostile_check symparent "$w/symparent" "link"

# a hard link to a path outside the layer
mkdir -p "$w/hl"
printf 'a\n' >"$w/hl/a"
ln "$w/hl/a" "$w/hl/b"
printf 'a\nb\n' >"$w/hl.list"
tar -C "$w/hl" "${LF_TAR_CREATE[@]}" -P --transform='s,^a$,../../../etc/passwd,RS' \
	-cf "$w/hardout.tar" -T "$w/hl.list" 2>/dev/null
tar -P -tvf "$w/hardout.tar" 2>/dev/null | grep -c 'link to ../../../etc/passwd' >/dev/null ||
	fail "could not build the hard-link-outside tar"
layout_with "$w/hardout.tar" hardout none
hostile_check hardout "$w/hardout"

# a truncated gzip blob (its digest and size are those of the truncated bytes)
mk_layer_tar "$LF_TMP/img/l1" "$w/big.tar"
layout_with "$w/big.tar" truncgz gzip
b=$w/truncgz/blobs/sha256/${IMG_BLOBS[0]}
head -c $(($(size_of "$b") / 2)) "$b" >"$w/trunc.gz"
set_layer_blob "$w/truncgz" "$w/trunc.gz"
hostile_check truncated-gzip "$w/truncgz"

# a corrupt zstd blob (a byte changed in the middle; digest and size match the bad bytes)
layout_with "$w/big.tar" badzstd zstd
b=$w/badzstd/blobs/sha256/${IMG_BLOBS[0]}
cp "$b" "$w/bad.zst"
printf '\xff\xff\xff\xff' | dd of="$w/bad.zst" bs=1 seek=$(($(size_of "$b") / 2)) conv=notrunc status=none
set_layer_blob "$w/badzstd" "$w/bad.zst"
hostile_check corrupt-zstd "$w/badzstd"

# a blob whose content does not match its digest (same size)
layout_with "$w/dotdot.tar" digest
b=$w/digest/blobs/sha256/${IMG_BLOBS[0]}
chmod u+w "$b"
printf '\x00' | dd of="$b" bs=1 seek=20 conv=notrunc status=none
hostile_check digest-mismatch "$w/digest"

# a descriptor whose size is wrong
mkdir -p "$w/okl"
printf 'ok\n' >"$w/okl/file"
mk_layer_tar "$w/okl" "$w/ok.tar"
layout_with "$w/ok.tar" size
set_manifest "$w/size" '.layers[0].size += 1'
hostile_check size-mismatch "$w/size"

# a config whose diff_ids do not match the layer
layout_with "$w/ok.tar" diffid
cfg=$(jq -c '.rootfs.diff_ids = ["sha256:'"$(printf nope | sha256sum | cut -d' ' -f1)"'"]' \
	"$w/diffid/blobs/sha256/$IMG_CONFIG")
printf '%s' "$cfg" >"$w/cfg"
chex=$(add_blob "$w/diffid" "$w/cfg")
set_manifest "$w/diffid" ".config.digest = \"sha256:$chex\" | .config.size = $(size_of "$w/cfg")"
hostile_check diffid-mismatch "$w/diffid"

# a tar that ends early (uncompressed, digest and DiffID of the short bytes)
head -c $(($(size_of "$w/big.tar") / 3)) "$w/big.tar" >"$w/short.tar"
layout_with "$w/short.tar" short none
hostile_check tar-ends-early "$w/short"

# JSON that is not an OCI document: a manifest that is an array, an index that is not an index
layout_with "$w/ok.tar" notoci
printf '[1, 2, 3]' >"$w/arr.json"
hex=$(add_blob "$w/notoci" "$w/arr.json")
jq -c --arg d "sha256:$hex" --argjson s "$(size_of "$w/arr.json")" \
	'.manifests[0].digest = $d | .manifests[0].size = $s' "$w/notoci/index.json" >"$w/.i"
mv "$w/.i" "$w/notoci/index.json"
hostile_check not-oci-manifest "$w/notoci"

layout_with "$w/ok.tar" notindex
printf '{"hello": "world", "manifests": "not a list"}' >"$w/notindex/index.json"
hostile_check not-oci-index "$w/notindex"

printf 'this is not json {' >"$w/garbage.json"
mkdir -p "$w/garbage"
cp "$w/garbage.json" "$w/garbage/index.json"
write_oci_layout_file "$w/garbage"
hostile_check garbage-index "$w/garbage"

step "the store still works"
ref_tar_apply "$LF_TMP/ref" "${STD_LAYERS[@]}"
mount_and_compare itest/good:1 "$LF_TMP/ref"
