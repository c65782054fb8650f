# Image builders for the integration tests (sourced by lib.sh). Only independent tools are used:
# GNU tar (pax, xattrs, numeric owners), sha256sum, gzip, zstd, jq, busybox-static.
#
# A layer is built from a source directory into an uncompressed tar (mk_layer_tar); the
# packagers (oci_layout, oci_tar, docker_legacy, docker25, containerd_archive) take a list of
# such tars, compress them as asked and write the manifests with jq. Configs carry
# rootfs.diff_ids computed with sha256sum over the uncompressed tars.

LF_TAR_CREATE=(--format=pax --xattrs --xattrs-include='*' --numeric-owner --no-recursion
	--verbatim-files-from
	--pax-option='exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime')

is_root() { [ "$(id -u)" = 0 ]; }

sha_of() {
	sha256sum "$1" | cut -d' ' -f1
}

size_of() {
	stat -c %s "$1"
}

oci_arch() {
	case "$(uname -m)" in
	x86_64) echo amd64 ;;
	aarch64) echo arm64 ;;
	armv7l | armv6l) echo arm ;;
	i?86) echo 386 ;;
	ppc64le) echo ppc64le ;;
	s390x) echo s390x ;;
	riscv64) echo riscv64 ;;
	*) uname -m ;;
	esac
}

# Another architecture than this machine's, for platforms whose blobs are absent.
other_arch() {
	if [ "$(oci_arch)" = arm64 ]; then echo amd64; else echo arm64; fi
}

# layer_list SRC: the default entry order of a layer: the root, then every path sorted.
layer_list() {
	printf '.\n'
	(cd "$1" && find . -mindepth 1 -printf '%P\n' | LC_ALL=C sort)
}

# mk_layer_tar SRC OUT [LISTFILE]: an uncompressed pax layer tar of SRC, entries in the order of
# LISTFILE (default: layer_list).
mk_layer_tar() {
	local src=$1 out=$2 list=${3:-}
	if [ -z "$list" ]; then
		list=$out.list
		layer_list "$src" >"$list"
	fi
	tar -C "$src" "${LF_TAR_CREATE[@]}" -cf "$out" -T "$list"
}

# move_last LISTFILE PATH: moves PATH to the end of the entry list (an opaque marker placed after
# the directory's own entries).
move_last() {
	local list=$1 p=$2
	grep -vxF -- "$p" "$list" >"$list.tmp" || true
	printf '%s\n' "$p" >>"$list.tmp"
	mv "$list.tmp" "$list"
}

# set_times DIR BASE: gives every entry of DIR a distinct mtime with nanoseconds, after BASE.
set_times() {
	local dir=$1 base=$2 i=0 p
	while IFS= read -r -d '' p; do
		i=$((i + 1))
		touch -h -d "@$((base + i * 3607)).$(printf %09d $(((i * 123456791) % 1000000000)))" -- "$p"
	done < <(find "$dir" -depth -print0)
}

# compress_layer IN COMP OUT (COMP: none, gzip, zstd)
compress_layer() {
	case "$2" in
	none) cp "$1" "$3" ;;
	gzip) gzip -n -6 -c "$1" >"$3" ;;
	zstd) zstd -q -3 -c "$1" >"$3" ;;
	*) fail "unknown compression '$2'" ;;
	esac
}

layer_media_type() {
	case "$1" in
	none) echo application/vnd.oci.image.layer.v1.tar ;;
	gzip) echo application/vnd.oci.image.layer.v1.tar+gzip ;;
	zstd) echo application/vnd.oci.image.layer.v1.tar+zstd ;;
	esac
}

# add_blob LAYOUT FILE: copies FILE into LAYOUT/blobs/sha256/<hex>; prints <hex>.
add_blob() {
	local hex
	hex=$(sha_of "$2")
	mkdir -p "$1/blobs/sha256"
	cp "$2" "$1/blobs/sha256/$hex"
	printf '%s\n' "$hex"
}

# add_json_blob LAYOUT JSON: stores a JSON document (compacted by jq) as a blob; prints <hex>.
add_json_blob() {
	local f=$LF_TMP/.json-blob
	printf '%s' "$2" | jq -c . >"$f"
	add_blob "$1" "$f"
}

descriptor() { # MEDIATYPE HEX SIZE
	jq -nc --arg m "$1" --arg d "sha256:$2" --argjson s "$3" \
		'{mediaType: $m, digest: $d, size: $s}'
}

# mk_config ARCH DIFFID-HEX...: prints an OCI image config with rootfs.diff_ids.
mk_config() {
	local arch=$1
	shift
	printf '%s\n' "$@" | jq -R . | jq -sc --arg arch "$arch" '{
		architecture: $arch, os: "linux",
		created: "2024-01-02T03:04:05.123456789Z",
		config: {
			Env: ["PATH=/usr/bin:/bin", "LF_MARK=inspect-me"],
			Cmd: ["/bin/sh"], WorkingDir: "/"
		},
		rootfs: { type: "layers", diff_ids: map("sha256:" + .) },
		history: map({ created_by: "layer", comment: "built by the tests" })
	}'
}

# Set by the packagers: the last image's manifest, config and layer digests.
IMG_MANIFEST= IMG_CONFIG= IMG_DIFFIDS=() IMG_BLOBS=()

# oci_manifest LAYOUT COMPS ARCH TAR...: writes config, layer blobs and the manifest into
# LAYOUT; COMPS is one compression or a comma list, one per layer. Sets IMG_DESC to the
# manifest's descriptor (without annotations).
IMG_DESC=
oci_manifest() {
	local dir=$1 comps=$2 arch=$3
	shift 3
	local i=0 t comp blob hex layers=() cfg chex mhex
	IMG_DIFFIDS=() IMG_BLOBS=()
	mkdir -p "$dir/blobs/sha256"
	for t in "$@"; do
		IFS=, read -ra _c <<<"$comps"
		comp=${_c[i]:-${_c[0]}}
		blob=$LF_TMP/.layer-blob
		compress_layer "$t" "$comp" "$blob"
		hex=$(add_blob "$dir" "$blob")
		IMG_DIFFIDS+=("$(sha_of "$t")")
		IMG_BLOBS+=("$hex")
		layers+=("$(descriptor "$(layer_media_type "$comp")" "$hex" "$(size_of "$blob")")")
		i=$((i + 1))
	done
	cfg=$(mk_config "$arch" "${IMG_DIFFIDS[@]}")
	chex=$(add_json_blob "$dir" "$cfg")
	IMG_CONFIG=$chex
	mhex=$(printf '%s\n' "${layers[@]}" | jq -sc \
		--argjson c "$(descriptor application/vnd.oci.image.config.v1+json "$chex" \
			"$(size_of "$dir/blobs/sha256/$chex")")" '{
		schemaVersion: 2,
		mediaType: "application/vnd.oci.image.manifest.v1+json",
		config: $c, layers: .,
		annotations: { "org.example.unknown": "skipped, not an error" }
	}' | { cat >"$LF_TMP/.manifest"; add_blob "$dir" "$LF_TMP/.manifest"; })
	IMG_MANIFEST=$mhex
	IMG_DESC=$(descriptor application/vnd.oci.image.manifest.v1+json "$mhex" \
		"$(size_of "$dir/blobs/sha256/$mhex")")
}

write_oci_layout_file() {
	printf '{"imageLayoutVersion":"1.0.0"}' >"$1/oci-layout"
}

# oci_layout DIR REF COMPS TAR...: an OCI image layout directory with one image, named REF in
# org.opencontainers.image.ref.name.
oci_layout() {
	local dir=$1 ref=$2 comps=$3 desc
	shift 3
	mkdir -p "$dir"
	oci_manifest "$dir" "$comps" "$(oci_arch)" "$@"
	desc=$IMG_DESC
	write_oci_layout_file "$dir"
	jq -nc --argjson d "$desc" --arg r "$ref" '{
		schemaVersion: 2,
		mediaType: "application/vnd.oci.image.index.v1+json",
		manifests: [ $d + { annotations: { "org.opencontainers.image.ref.name": $r } } ]
	}' >"$dir/index.json"
}

# tar_dir DIR OUT: a tar of the contents of DIR (as skopeo or docker would write one).
tar_dir() {
	(cd "$1" && find . -mindepth 1 -printf '%P\n' | LC_ALL=C sort) >"$2.list"
	tar -C "$1" --format=pax --numeric-owner --owner=0 --group=0 --no-recursion \
		--verbatim-files-from -cf "$2" -T "$2.list"
}

# oci_tar OUT REF COMPS TAR...: an OCI layout as a tar.
oci_tar() {
	local out=$1 d=$LF_TMP/.oci-tar.$RANDOM
	shift
	oci_layout "$d" "$@"
	tar_dir "$d" "$out"
	rm -rf "$d"
}

# docker_legacy OUT REF TAR...: `docker save` before Docker 25: manifest.json, repositories,
# <config-hex>.json and <id>/{VERSION,json,layer.tar}; a layer that appears twice is a
# symlink to its first copy, as docker writes it.
docker_legacy() {
	local out=$1 ref=$2
	shift 2
	local d=$LF_TMP/.legacy.$RANDOM t id parent= diff cfg chex
	local -A first=()
	local paths=()
	mkdir -p "$d"
	IMG_DIFFIDS=()
	for t in "$@"; do
		IMG_DIFFIDS+=("$(sha_of "$t")")
	done
	cfg=$(mk_config "$(oci_arch)" "${IMG_DIFFIDS[@]}")
	printf '%s' "$cfg" >"$d/cfg.tmp"
	chex=$(sha_of "$d/cfg.tmp")
	mv "$d/cfg.tmp" "$d/$chex.json"
	IMG_CONFIG=$chex
	local i=0
	for t in "$@"; do
		diff=${IMG_DIFFIDS[i]}
		id=$(printf '%s %s %s' "$parent" "$diff" "$i" | sha256sum | cut -d' ' -f1)
		mkdir -p "$d/$id"
		printf '1.0' >"$d/$id/VERSION"
		jq -nc --arg id "$id" --arg p "$parent" \
			'{id: $id, created: "2024-01-02T03:04:05Z", container_config: {}} +
			 (if $p == "" then {} else {parent: $p} end)' >"$d/$id/json"
		if [ -n "${first[$diff]:-}" ]; then
			ln -s "../${first[$diff]}/layer.tar" "$d/$id/layer.tar"
		else
			cp "$t" "$d/$id/layer.tar"
			first[$diff]=$id
		fi
		paths+=("$id/layer.tar")
		parent=$id
		i=$((i + 1))
	done
	printf '%s\n' "${paths[@]}" | jq -R . | jq -sc --arg c "$chex.json" --arg r "$ref" \
		'[{Config: $c, RepoTags: [$r], Layers: .}]' >"$d/manifest.json"
	jq -nc --arg n "${ref%:*}" --arg t "${ref##*:}" --arg id "$parent" \
		'{($n): {($t): $id}}' >"$d/repositories"
	tar_dir "$d" "$out"
	rm -rf "$d"
}

# docker25 OUT REF TAR...: `docker save` of Docker 25+: an OCI layout with uncompressed layers
# plus manifest.json pointing into blobs/.
docker25() {
	local out=$1 ref=$2
	shift 2
	local d=$LF_TMP/.d25.$RANDOM desc b
	mkdir -p "$d"
	oci_manifest "$d" none "$(oci_arch)" "$@"
	desc=$IMG_DESC
	write_oci_layout_file "$d"
	jq -nc --argjson d "$desc" --arg r "$ref" --arg t "${ref##*:}" '{
		schemaVersion: 2,
		mediaType: "application/vnd.oci.image.index.v1+json",
		manifests: [ $d + { annotations: {
			"io.containerd.image.name": ("docker.io/library/" + $r),
			"org.opencontainers.image.ref.name": $t } } ]
	}' >"$d/index.json"
	printf '%s\n' "${IMG_BLOBS[@]}" | jq -R '"blobs/sha256/" + .' |
		jq -sc --arg c "blobs/sha256/$IMG_CONFIG" --arg r "$ref" \
			'[{Config: $c, RepoTags: [$r], Layers: .}]' >"$d/manifest.json"
	tar_dir "$d" "$out"
	rm -rf "$d"
}

# containerd_archive OUT REF COMPS MANIFEST_JSON TAR...: `docker save` from the containerd image
# store: index.json names an image index listing three platforms, of which only this machine's
# has its blobs in the archive; layers are the original compressed blobs. MANIFEST_JSON (yes/no)
# says whether a docker manifest.json is added too.
containerd_archive() {
	local out=$1 ref=$2 comps=$3 with_mj=$4
	shift 4
	local d=$LF_TMP/.ctrd.$RANDOM desc absent1 absent2 ihex
	mkdir -p "$d"
	oci_manifest "$d" "$comps" "$(oci_arch)" "$@"
	desc=$IMG_DESC
	write_oci_layout_file "$d"
	# Manifests of other platforms: digests of content that is not in the archive.
	absent1=$(printf 'absent manifest one' | sha256sum | cut -d' ' -f1)
	absent2=$(printf 'absent manifest two' | sha256sum | cut -d' ' -f1)
	ihex=$(add_json_blob "$d" "$(jq -nc --argjson d "$desc" --arg a1 "$absent1" \
		--arg a2 "$absent2" --arg me "$(oci_arch)" --arg other "$(other_arch)" '{
		schemaVersion: 2,
		mediaType: "application/vnd.oci.image.index.v1+json",
		manifests: [
			{ mediaType: "application/vnd.oci.image.manifest.v1+json",
			  digest: ("sha256:" + $a1), size: 1234,
			  platform: { architecture: $other, os: "linux" } },
			($d + { platform: { architecture: $me, os: "linux" } }),
			{ mediaType: "application/vnd.oci.image.manifest.v1+json",
			  digest: ("sha256:" + $a2), size: 987,
			  platform: { architecture: "s390x", os: "linux" } }
		]
	}')")
	jq -nc --arg h "$ihex" --argjson s "$(size_of "$d/blobs/sha256/$ihex")" --arg r "$ref" \
		--arg t "${ref##*:}" '{
		schemaVersion: 2,
		mediaType: "application/vnd.oci.image.index.v1+json",
		manifests: [ { mediaType: "application/vnd.oci.image.index.v1+json",
			digest: ("sha256:" + $h), size: $s,
			annotations: { "io.containerd.image.name": ("docker.io/library/" + $r),
				"org.opencontainers.image.ref.name": $t } } ]
	}' >"$d/index.json"
	if [ "$with_mj" = yes ]; then
		printf '%s\n' "${IMG_BLOBS[@]}" | jq -R '"blobs/sha256/" + .' |
			jq -sc --arg c "blobs/sha256/$IMG_CONFIG" --arg r "$ref" \
				'[{Config: $c, RepoTags: [$r], Layers: .}]' >"$d/manifest.json"
	fi
	tar_dir "$d" "$out"
	rm -rf "$d"
}

# ---- the standard test image -----------------------------------------------------------------
#
# mk_std_layers DIR: three layers exercising what an importer must get right, as DIR/l1.tar,
# DIR/l2.tar, DIR/l3.tar (sources in DIR/l1 ...), listed in STD_LAYERS. Root-only content
# (other owners, devices, fifos, security.capability) is added when running as root.
STD_LAYERS=()

busybox_bin() {
	local b
	for b in /bin/busybox /usr/bin/busybox; do
		[ -x "$b" ] && { echo "$b"; return; }
	done
	skip "needs busybox-static"
}

# pattern_file PATH SIZE SEED: deterministic content.
pattern_file() {
	{ yes "$3: a line of a deterministic test file" || true; } | head -c "$2" >"$1"
}

mk_std_layers() {
	local d=$1 l
	mkdir -p "$d"
	STD_LAYERS=("$d/l1.tar" "$d/l2.tar" "$d/l3.tar")

	# Layer 1: the base.
	l=$d/l1
	mkdir -p "$l"/{bin,etc,home/user,usr/bin,usr/lib,usr/share/doc/pkg,usr/share/doc/other} \
		"$l"/{var/empty,tmp,opt/x/sub,dev,run,a/b/c/d/e/f/g/h,srv}
	cp "$(busybox_bin)" "$l/bin/busybox"
	local a
	for a in sh ls cat echo mkdir rm mv ln cp stat; do
		ln -s busybox "$l/bin/$a"
	done
	printf 'root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\n' >"$l/etc/passwd"
	printf 'root:x:0:\nshadow:x:42:\nuser:x:1000:\n' >"$l/etc/group"
	printf 'base\n' >"$l/etc/hostname"
	printf 'welcome to the base layer\n' >"$l/etc/motd"
	printf '127.0.0.1 localhost\n' >"$l/etc/hosts"
	printf 'root:*:19000:0:99999:7:::\n' >"$l/etc/shadow"
	chmod 0640 "$l/etc/shadow"
	: >"$l/etc/empty"
	printf 'export PS1=x\n' >"$l/home/user/.profile"
	chmod 0750 "$l/home/user"
	pattern_file "$l/usr/bin/hl-a" 5000 hardlink
	ln "$l/usr/bin/hl-a" "$l/usr/bin/hl-b"
	ln "$l/usr/bin/hl-a" "$l/usr/bin/hl-c"
	printf '#!/bin/sh\necho setuid\n' >"$l/usr/bin/suid"
	chmod 4755 "$l/usr/bin/suid"
	printf '#!/bin/sh\necho setgid\n' >"$l/usr/bin/sgid"
	chmod 2755 "$l/usr/bin/sgid"
	printf '#!/bin/sh\necho capable\n' >"$l/usr/bin/capped"
	chmod 0755 "$l/usr/bin/capped"
	pattern_file "$l/usr/lib/libsame.so.1" 65536 shared-between-layers
	printf 'readme\n' >"$l/usr/share/doc/pkg/README"
	printf 'copying\n' >"$l/usr/share/doc/pkg/COPYING"
	printf 'other\n' >"$l/usr/share/doc/other/x"
	head -c 1048576 /dev/urandom >"$l/opt/data.bin"
	printf 'in a directory that becomes a file\n' >"$l/opt/x/file"
	printf 'deeper\n' >"$l/opt/x/sub/file"
	printf 'a file that becomes a directory\n' >"$l/opt/y"
	chmod 1777 "$l/tmp"
	chmod 0700 "$l/var/empty"
	printf 'deep\n' >"$l/a/b/c/d/e/f/g/h/deep"
	printf 'x\n' >"$l/srv/xattrs"
	setfattr -n user.foo -v bar "$l/srv/xattrs"
	setfattr -n user.bin -v 0x00ff00fe "$l/srv/xattrs"
	setfattr -n user.dirattr -v 1 "$l/srv"
	ln -s /etc/passwd "$l/srv/abs"
	ln -s /nonexistent/x "$l/srv/dangling"
	ln -s ../etc/motd "$l/srv/rel"
	ln -s ../usr "$l/srv/dirlink"
	ln -s rel "$l/srv/chain"
	printf 'space\n' >"$l/srv/with space"
	printf 'unicode\n' >"$l/srv/ünïcödé"
	printf 'dash\n' >"$l/srv/-dash"
	printf 'long\n' >"$l/srv/$(printf 'n%.0s' $(seq 250)).long"
	printf 'owned\n' >"$l/srv/owned"
	chmod 0604 "$l/srv/owned"
	setfattr -n user.bin -v 0x00ff00fe "$l/srv/owned"
	printf 'nobody\n' >"$l/srv/nobody"
	if is_root; then
		chown 1000:1000 "$l/home/user" "$l/home/user/.profile"
		chown 0:42 "$l/etc/shadow"
		chown 0:50 "$l/usr/bin/sgid"
		chmod 2755 "$l/usr/bin/sgid" # chown cleared it
		chown 4242:4343 "$l/srv/owned"
		chown -h 4242:4343 "$l/srv/rel"
		chown 65534:65534 "$l/srv/nobody"
		# cap_net_raw+ep, version 2
		setfattr -n security.capability -v 0x0100000200200000000000000000000000000000 \
			"$l/usr/bin/capped"
		mknod -m 0666 "$l/dev/null" c 1 3
		mknod -m 0660 "$l/dev/sda" b 8 0
		chown 0:6 "$l/dev/sda"
		mknod -m 0600 "$l/run/fifo" p
	fi
	set_times "$l" 1500000000
	mk_layer_tar "$l" "$d/l1.tar"

	# Layer 2: changes, whiteouts, an opaque directory whose marker comes last in the tar,
	# a directory replaced by a file and a file by a directory.
	l=$d/l2
	mkdir -p "$l"/{etc,usr/share/doc/newdoc,usr/lib,usr/bin,opt/y,home/user,var,srv,bin}
	printf 'the upper layer changed this\n' >"$l/etc/motd"
	: >"$l/etc/.wh.hostname"
	printf 'root:x:0:\nshadow:x:42:\nuser:x:1000:\n' >"$l/etc/group"
	chmod 0600 "$l/etc/group"
	: >"$l/usr/share/doc/.wh..wh..opq"
	printf 'kept: same layer as the opaque marker\n' >"$l/usr/share/doc/newdoc/README"
	pattern_file "$l/usr/lib/libother.so" 65536 shared-between-layers
	: >"$l/usr/bin/.wh.hl-c"
	printf 'new hard link group\n' >"$l/usr/bin/new-hl1"
	ln "$l/usr/bin/new-hl1" "$l/usr/bin/new-hl2"
	printf 'now a file\n' >"$l/opt/x"
	printf 'inside the new directory\n' >"$l/opt/y/inner"
	: >"$l/home/user/.wh..profile"
	printf 'hidden later by an opaque directory\n' >"$l/home/user/l2file"
	: >"$l/var/.wh.empty"
	: >"$l/srv/.wh.dangling"
	: >"$l/srv/.wh.abs"
	printf 'abs is a regular file now\n' >"$l/srv/abs"
	printf 'x\n' >"$l/srv/xattrs"
	setfattr -n user.foo -v changed "$l/srv/xattrs"
	setfattr -n user.dirattr -v 2 "$l/srv"
	if is_root; then
		chown 1000:1000 "$l/home/user"
		chown 0:42 "$l/etc/group"
		mkdir -p "$l/dev"
		: >"$l/dev/.wh.sda"
	fi
	chmod 0750 "$l/home/user"
	set_times "$l" 1600000000
	layer_list "$l" >"$d/l2.tar.list"
	move_last "$d/l2.tar.list" usr/share/doc/.wh..wh..opq
	mk_layer_tar "$l" "$d/l2.tar" "$d/l2.tar.list"

	# Layer 3: the opaque marker first, a file turned back into a directory, a re-added file,
	# a whiteout of something that never existed, a directory replaced by a symlink.
	l=$d/l3
	mkdir -p "$l"/{home/user,opt/x,etc,bin}
	: >"$l/home/user/.wh..wh..opq"
	printf 'new in the opaque directory\n' >"$l/home/user/new"
	printf 'a directory again\n' >"$l/opt/x/back"
	printf 'top\n' >"$l/etc/hostname"
	: >"$l/etc/.wh.nonexistent"
	ln -s x "$l/opt/y"
	: >"$l/bin/.wh.rm"
	if is_root; then
		chown 1000:1000 "$l/home/user" "$l/home/user/new"
	fi
	chmod 0755 "$l/home/user"
	set_times "$l" 1700000000
	mk_layer_tar "$l" "$d/l3.tar"
}

# mk_dup_layer DIR: a small layer (DIR/dup.tar) used twice in one stack.
mk_dup_layer() {
	local l=$1/dup
	mkdir -p "$l/dup"
	printf 'duplicated layer\n' >"$l/dup/file"
	set_times "$l" 1650000000
	mk_layer_tar "$l" "$1/dup.tar"
}
