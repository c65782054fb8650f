#!/usr/bin/env bash
# Builds image sources for the image tests with independent tools only (GNU tar, gzip, zstd,
# sha256sum, jq): image-fixtures.sh KIND OUT
#
#   oci        OUT/oci/            OCI layout, gzip + zstd layers, ref.name "1.0"
#   oci-tar    OUT/oci.tar         the same layout as a tar
#   legacy     OUT/legacy.tar      docker save (legacy): <id>/layer.tar, a symlinked duplicate
#   docker25   OUT/docker25.tar    docker save 25+: OCI layout + manifest.json, plain layers
#   containerd OUT/containerd.tar  containerd store export: nested index, absent platforms
#   rootfs     OUT/rootfs.tar.gz and OUT/rootfs/   a plain root filesystem
#   multi      OUT/multi/          OCI layout holding two images, "a" and "b"
#   oci-gz     OUT/oci-gz/         as oci, both layers gzip
#
# and edits of an OCI layout that keep every digest right, so what is tested is the content:
#   image-fixtures.sh edit-manifest DIR JQ-FILTER   rewrites the (first) manifest
#   image-fixtures.sh edit-config DIR JQ-FILTER     rewrites its config
#
# The layers: layer 1 has etc/base.txt "base", etc/gone.txt, bin/tool "shared";
# layer 2 changes etc/base.txt to "changed", adds etc/upper.txt "upper", deletes etc/gone.txt.
set -euo pipefail

kind=$1
out=$2

# edit DIR JQ: rewrites the first manifest of DIR's index.json, fixing the index's descriptor
edit_manifest() {
	local dir=$1 filter=$2 m h
	m=$(jq -r '.manifests[0].digest' "$dir/index.json" | cut -d: -f2)
	jq -c "$filter" "$dir/blobs/sha256/$m" >"$dir/.m"
	h=$(sha256sum "$dir/.m" | cut -d' ' -f1)
	mv "$dir/.m" "$dir/blobs/sha256/$h"
	jq -c --arg d "sha256:$h" --argjson s "$(stat -c %s "$dir/blobs/sha256/$h")" \
		'.manifests[0].digest = $d | .manifests[0].size = $s' "$dir/index.json" >"$dir/.i"
	mv "$dir/.i" "$dir/index.json"
}

case "$kind" in
edit-manifest)
	edit_manifest "$out" "$3"
	exit 0
	;;
edit-config)
	m=$(jq -r '.manifests[0].digest' "$out/index.json" | cut -d: -f2)
	c=$(jq -r '.config.digest' "$out/blobs/sha256/$m" | cut -d: -f2)
	jq -c "$3" "$out/blobs/sha256/$c" >"$out/.c"
	h=$(sha256sum "$out/.c" | cut -d' ' -f1)
	mv "$out/.c" "$out/blobs/sha256/$h"
	edit_manifest "$out" ".config.digest = \"sha256:$h\" | .config.size = $(stat -c %s "$out/blobs/sha256/$h")"
	exit 0
	;;
esac

mkdir -p "$out"
work=$(mktemp -d "$out/.work.XXXXXX")
trap 'rm -rf "$work"' EXIT

case "$(uname -m)" in
x86_64) arch=amd64 other=arm64 ;;
aarch64) arch=arm64 other=amd64 ;;
*) arch=$(uname -m) other=s390x ;;
esac

mktar() { # DIR OUT: a reproducible layer tar of DIR's contents
	tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@1700000000 \
		--format=pax --pax-option=delete=atime,delete=ctime -C "$1" -cf "$2" .
}

sha() { sha256sum "$1" | cut -d' ' -f1; }
size() { stat -c %s "$1"; }

layers() {
	mkdir -p "$work/r1/etc" "$work/r1/bin" "$work/r2/etc"
	echo base >"$work/r1/etc/base.txt"
	echo gone >"$work/r1/etc/gone.txt"
	echo shared >"$work/r1/bin/tool"
	chmod 755 "$work/r1/bin/tool"
	echo changed >"$work/r2/etc/base.txt"
	echo upper >"$work/r2/etc/upper.txt"
	: >"$work/r2/etc/.wh.gone.txt"
	mktar "$work/r1" "$work/l1.tar"
	mktar "$work/r2" "$work/l2.tar"
	d1=sha256:$(sha "$work/l1.tar")
	d2=sha256:$(sha "$work/l2.tar")
}

# put FILE DIR: copies FILE into DIR/blobs/sha256/<hex>; prints the hex
put() {
	local h
	h=$(sha "$1")
	mkdir -p "$2/blobs/sha256"
	cp "$1" "$2/blobs/sha256/$h"
	echo "$h"
}

config_json() { # DIFF_ID...
	jq -cn --arg arch "$arch" --args '{architecture: $arch, os: "linux",
		created: "2024-01-02T03:04:05Z",
		config: {Env: ["PATH=/usr/bin:/bin"], Cmd: ["/bin/sh"]},
		rootfs: {type: "layers", diff_ids: $ARGS.positional},
		history: [$ARGS.positional[] | {created_by: "test"}]}' "$@"
}

desc() { # MEDIATYPE HEX SIZE
	jq -cn --arg m "$1" --arg d "sha256:$2" --argjson s "$3" \
		'{mediaType: $m, digest: $d, size: $s}'
}

manifest_json() { # CONFIGDESC LAYERDESC...
	local c=$1
	shift
	jq -cn --argjson c "$c" --jsonargs '{schemaVersion: 2,
		mediaType: "application/vnd.oci.image.manifest.v1+json",
		config: $c, layers: $ARGS.positional}' "$@"
}

oci_layout() { # DIR [REFNAME [gzip]]: the two-layer image as an OCI layout
	local dir=$1 ref=${2:-1.0} g1 g2 c m mt2=application/vnd.oci.image.layer.v1.tar+zstd
	mkdir -p "$dir"
	gzip -n -c "$work/l1.tar" >"$work/l1.tar.gz"
	if [ "${3:-}" = gzip ]; then
		gzip -n -c "$work/l2.tar" >"$work/l2.tar.zst"
		mt2=application/vnd.oci.image.layer.v1.tar+gzip
	else
		zstd -q -c "$work/l2.tar" >"$work/l2.tar.zst"
	fi
	g1=$(put "$work/l1.tar.gz" "$dir")
	g2=$(put "$work/l2.tar.zst" "$dir")
	config_json "$d1" "$d2" >"$work/config.json"
	c=$(put "$work/config.json" "$dir")
	manifest_json "$(desc application/vnd.oci.image.config.v1+json "$c" "$(size "$work/config.json")")" \
		"$(desc application/vnd.oci.image.layer.v1.tar+gzip "$g1" "$(size "$work/l1.tar.gz")")" \
		"$(desc "$mt2" "$g2" "$(size "$work/l2.tar.zst")")" \
		>"$work/manifest.json"
	m=$(put "$work/manifest.json" "$dir")
	echo '{"imageLayoutVersion":"1.0.0"}' >"$dir/oci-layout"
	jq -cn --arg d "sha256:$m" --argjson s "$(size "$work/manifest.json")" --arg r "$ref" \
		'{schemaVersion: 2, manifests: [{mediaType: "application/vnd.oci.image.manifest.v1+json",
		  digest: $d, size: $s, annotations: {"org.opencontainers.image.ref.name": $r,
		  "com.example.unknown": "ignored"}}]}' >"$dir/index.json"
}

legacy() {
	local dir=$work/legacy id1 id2 id3 c
	id1=$(echo one | sha256sum | cut -d' ' -f1)
	id2=$(echo two | sha256sum | cut -d' ' -f1)
	id3=$(echo three | sha256sum | cut -d' ' -f1)
	mkdir -p "$dir/$id1" "$dir/$id2" "$dir/$id3"
	cp "$work/l1.tar" "$dir/$id1/layer.tar"
	cp "$work/l2.tar" "$dir/$id2/layer.tar"
	# the third layer repeats the first: docker writes it as a symlink
	ln -s "../$id1/layer.tar" "$dir/$id3/layer.tar"
	for id in "$id1" "$id2" "$id3"; do
		echo 1.0 >"$dir/$id/VERSION"
		jq -cn --arg id "$id" '{id: $id}' >"$dir/$id/json"
	done
	config_json "$d1" "$d2" "$d1" >"$work/config.json"
	c=$(sha "$work/config.json")
	cp "$work/config.json" "$dir/$c.json"
	jq -cn --arg c "$c.json" --arg a "$id1/layer.tar" --arg b "$id2/layer.tar" \
		--arg d "$id3/layer.tar" \
		'[{Config: $c, RepoTags: ["legacy/app:v1"], Layers: [$a, $b, $d]}]' >"$dir/manifest.json"
	jq -cn --arg id "$id3" '{"legacy/app": {v1: $id}}' >"$dir/repositories"
	(cd "$dir" && tar --owner=0 --group=0 -cf "$out/legacy.tar" -- *)
}

docker25() {
	local dir=$work/d25 l1 l2 c m
	mkdir -p "$dir"
	l1=$(put "$work/l1.tar" "$dir")
	l2=$(put "$work/l2.tar" "$dir")
	config_json "$d1" "$d2" >"$work/config.json"
	c=$(put "$work/config.json" "$dir")
	manifest_json "$(desc application/vnd.oci.image.config.v1+json "$c" "$(size "$work/config.json")")" \
		"$(desc application/vnd.oci.image.layer.v1.tar "$l1" "$(size "$work/l1.tar")")" \
		"$(desc application/vnd.oci.image.layer.v1.tar "$l2" "$(size "$work/l2.tar")")" \
		>"$work/manifest.json"
	m=$(put "$work/manifest.json" "$dir")
	echo '{"imageLayoutVersion":"1.0.0"}' >"$dir/oci-layout"
	jq -cn --arg d "sha256:$m" --argjson s "$(size "$work/manifest.json")" \
		'{schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json",
		  manifests: [{mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $d,
		  size: $s, annotations: {"io.containerd.image.name": "docker.io/library/d25:latest",
		  "org.opencontainers.image.ref.name": "latest"}}]}' >"$dir/index.json"
	jq -cn --arg c "blobs/sha256/$c" --arg a "blobs/sha256/$l1" --arg b "blobs/sha256/$l2" \
		'[{Config: $c, RepoTags: ["d25:latest"], Layers: [$a, $b]}]' >"$dir/manifest.json"
	echo '{"d25":{"latest":"'"$m"'"}}' >"$dir/repositories"
	(cd "$dir" && tar --owner=0 --group=0 -cf "$out/docker25.tar" -- *)
}

containerd() {
	local dir=$work/ctrd g1 g2 c m idx absent
	mkdir -p "$dir"
	gzip -n -c "$work/l1.tar" >"$work/l1.tar.gz"
	gzip -n -c "$work/l2.tar" >"$work/l2.tar.gz"
	g1=$(put "$work/l1.tar.gz" "$dir")
	g2=$(put "$work/l2.tar.gz" "$dir")
	config_json "$d1" "$d2" >"$work/config.json"
	c=$(put "$work/config.json" "$dir")
	jq -cn --argjson c "$(desc application/vnd.docker.container.image.v1+json "$c" "$(size "$work/config.json")")" \
		--argjson a "$(desc application/vnd.docker.image.rootfs.diff.tar.gzip "$g1" "$(size "$work/l1.tar.gz")")" \
		--argjson b "$(desc application/vnd.docker.image.rootfs.diff.tar.gzip "$g2" "$(size "$work/l2.tar.gz")")" \
		'{schemaVersion: 2, mediaType: "application/vnd.docker.distribution.manifest.v2+json",
		  config: $c, layers: [$a, $b]}' >"$work/manifest.json"
	m=$(put "$work/manifest.json" "$dir")
	absent=$(echo absent | sha256sum | cut -d' ' -f1)
	# The other platform and an attestation are listed without their blobs, as containerd
	# exports do; so is a first entry for this platform.
	jq -cn --arg m "sha256:$m" --argjson s "$(size "$work/manifest.json")" --arg x "sha256:$absent" \
		--arg arch "$arch" --arg other "$other" \
		'{schemaVersion: 2, mediaType: "application/vnd.docker.distribution.manifest.list.v2+json",
		  manifests: [
		    {mediaType: "application/vnd.docker.distribution.manifest.v2+json", digest: $x,
		     size: 100, platform: {architecture: $other, os: "linux"}},
		    {mediaType: "application/vnd.docker.distribution.manifest.v2+json", digest: $x,
		     size: 100, platform: {architecture: $arch, os: "linux"}},
		    {mediaType: "application/vnd.docker.distribution.manifest.v2+json", digest: $m,
		     size: $s, platform: {architecture: $arch, os: "linux"}},
		    {mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $x, size: 100,
		     platform: {architecture: "unknown", os: "unknown"},
		     annotations: {"vnd.docker.reference.type": "attestation-manifest"}}]}' \
		>"$work/list.json"
	idx=$(put "$work/list.json" "$dir")
	echo '{"imageLayoutVersion":"1.0.0"}' >"$dir/oci-layout"
	jq -cn --arg d "sha256:$idx" --argjson s "$(size "$work/list.json")" \
		'{schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json",
		  manifests: [{mediaType: "application/vnd.docker.distribution.manifest.list.v2+json",
		  digest: $d, size: $s, annotations: {"io.containerd.image.name": "docker.io/library/ctrd:2",
		  "org.opencontainers.image.ref.name": "2"}}]}' >"$dir/index.json"
	jq -cn --arg c "blobs/sha256/$c" --arg a "blobs/sha256/$g1" --arg b "blobs/sha256/$g2" \
		'[{Config: $c, RepoTags: ["ctrd:2"], Layers: [$a, $b]}]' >"$dir/manifest.json"
	(cd "$dir" && tar --owner=0 --group=0 -cf "$out/containerd.tar" -- *)
}

layers
case "$kind" in
oci) oci_layout "$out/oci" ;;
oci-gz) oci_layout "$out/oci-gz" 1.0 gzip ;;
oci-tar)
	oci_layout "$work/oci"
	tar --owner=0 --group=0 -C "$work/oci" -cf "$out/oci.tar" .
	;;
legacy) legacy ;;
docker25) docker25 ;;
containerd) containerd ;;
rootfs)
	cp -a "$work/r1" "$out/rootfs"
	tar --owner=0 --group=0 -C "$work/r1" -czf "$out/rootfs.tar.gz" .
	;;
multi)
	oci_layout "$out/multi" a
	# a second image "b": layer 1 only
	cp "$work/l1.tar" "$work/only.tar"
	c=$(config_json "$d1" | tee "$work/config-b.json" >/dev/null; put "$work/config-b.json" "$out/multi")
	l=$(put "$work/l1.tar" "$out/multi")
	manifest_json "$(desc application/vnd.oci.image.config.v1+json "$c" "$(size "$work/config-b.json")")" \
		"$(desc application/vnd.oci.image.layer.v1.tar "$l" "$(size "$work/l1.tar")")" >"$work/mb.json"
	mb=$(put "$work/mb.json" "$out/multi")
	jq --arg d "sha256:$mb" --argjson s "$(size "$work/mb.json")" \
		'.manifests += [{mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $d,
		  size: $s, annotations: {"org.opencontainers.image.ref.name": "b"}}]' \
		"$out/multi/index.json" >"$work/index.json"
	mv "$work/index.json" "$out/multi/index.json"
	;;
*)
	echo "unknown kind '$kind'" >&2
	exit 2
	;;
esac
