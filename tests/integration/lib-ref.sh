# Reference trees (sourced by lib.sh): the same layers applied without layerfs.
#
# ref_tar_apply: GNU tar extraction plus OCI whiteout processing, layer by layer.
# ref_overlay / ref_overlay_rw: kernel overlayfs over the layers, each extracted into its own
# directory with whiteouts converted to the overlay format (char 0/0, trusted.overlay.opaque).

LF_TAR_EXTRACT=(--xattrs --xattrs-include='*' --numeric-owner --same-permissions
	--delay-directory-restore)

# tar_plan TAR: "TYPE<TAB>NAME<NUL>" for each entry (see tarplan.py).
tar_plan() {
	python3 "$LF_ITEST_DIR/tarplan.py" "$1"
}

# ref_apply_layer ROOT TAR: applies one layer onto ROOT as the OCI image spec says.
ref_apply_layer() {
	local root=$1 tar=$2 t n dir base
	local opaque=() whiteouts=() entries=() types=()
	while IFS=$'\t' read -r -d '' t n; do
		base=${n##*/}
		dir=
		[[ "$n" == */* ]] && dir=${n%/*}
		if [ "$base" = .wh..wh..opq ]; then
			opaque+=("$dir")
		elif [[ "$base" == .wh.* ]]; then
			whiteouts+=("${dir:+$dir/}${base#.wh.}")
		else
			entries+=("$n")
			types+=("$t")
		fi
	done < <(tar_plan "$tar")

	# Whiteouts hide lower content only: apply them before this layer's own entries.
	for dir in "${opaque[@]}"; do
		if [ -d "$root/$dir" ] && ! [ -L "$root/$dir" ]; then
			find "$root/$dir" -mindepth 1 -maxdepth 1 -exec rm -rf --one-file-system {} +
		fi
	done
	for n in "${whiteouts[@]}"; do
		rm -rf --one-file-system "${root:?}/$n"
	done
	# A non-directory replaces a directory (and the reverse) as a whole. A directory over a
	# directory merges its contents but shows only its own metadata, xattrs included (GNU tar
	# would add the layer's xattrs to those already there).
	local i merged=()
	for i in "${!entries[@]}"; do
		n=${entries[i]}
		if [ "${types[i]}" = d ] && [ -d "$root/$n" ] && ! [ -L "$root/$n" ]; then
			merged+=("$root/$n")
		fi
		[ -n "$n" ] || continue
		if [ "${types[i]}" != d ] && [ -d "$root/$n" ] && ! [ -L "$root/$n" ]; then
			rm -rf --one-file-system "${root:?}/$n"
		elif [ "${types[i]}" = d ] && { [ -L "$root/$n" ] || { [ -e "$root/$n" ] && ! [ -d "$root/$n" ]; }; }; then
			rm -f "$root/$n"
		fi
	done
	if [ ${#merged[@]} -gt 0 ]; then
		python3 - "${merged[@]}" <<'PY'
import os, sys
for d in sys.argv[1:]:
    for x in os.listxattr(d, follow_symlinks=False):
        if not x.startswith("system."):
            os.removexattr(d, x, follow_symlinks=False)
PY
	fi
	tar -C "$root" "${LF_TAR_EXTRACT[@]}" --exclude='.wh.*' -xf "$tar"
}

# ref_tar_apply ROOT TAR...: the merged tree of a layer stack (bottom first), made by GNU tar.
ref_tar_apply() {
	local root=$1 t
	shift
	mkdir -p "$root"
	for t in "$@"; do
		ref_apply_layer "$root" "$t"
	done
}

# overlay_layer_dir TAR DIR: one layer as an overlayfs lower directory.
overlay_layer_dir() {
	local tar=$1 dir=$2 t n base parent
	mkdir -p "$dir"
	tar -C "$dir" "${LF_TAR_EXTRACT[@]}" --exclude='.wh.*' -xf "$tar"
	while IFS=$'\t' read -r -d '' t n; do
		base=${n##*/}
		parent=
		[[ "$n" == */* ]] && parent=${n%/*}
		if [ "$base" = .wh..wh..opq ]; then
			mkdir -p "$dir/$parent"
			setfattr -n trusted.overlay.opaque -v y "$dir/${parent:-.}"
		elif [[ "$base" == .wh.* ]]; then
			local target=${parent:+$parent/}${base#.wh.}
			if [ -d "$dir/$target" ] && ! [ -L "$dir/$target" ]; then
				# the layer also has a directory of that name: it hides what is below
				setfattr -n trusted.overlay.opaque -v y "$dir/$target"
			elif ! [ -e "$dir/$target" ] && ! [ -L "$dir/$target" ]; then
				mkdir -p "$dir/${parent:-.}"
				mknod "$dir/$target" c 0 0
			fi
		fi
	done < <(tar_plan "$tar")
	# mknod, mkdir and setfattr changed directory mtimes: restore them from the tar.
	python3 - "$tar" "$dir" <<'PY'
import os, sys, tarfile
with tarfile.open(sys.argv[1], "r:") as tf:
    for m in tf:
        if not m.isdir():
            continue
        name = m.name
        while name.startswith("./"):
            name = name[2:]
        p = os.path.join(sys.argv[2], name.rstrip("/")) if name not in ("", ".") else sys.argv[2]
        ns = m.pax_headers.get("mtime")
        if ns is not None:
            sec, _, frac = ns.partition(".")
            t = int(sec) * 10**9 + int((frac + "000000000")[:9])
        else:
            t = int(m.mtime) * 10**9
        os.utime(p, ns=(t, t), follow_symlinks=False)
PY
}

# ref_overlay_dirs BASE TAR...: extracts each layer into BASE/layer<N>; prints the lowerdir
# option (top layer first).
ref_overlay_dirs() {
	local base=$1 i=0 t lower=
	shift
	for t in "$@"; do
		overlay_layer_dir "$t" "$base/layer$i"
		lower=$base/layer$i${lower:+:$lower}
		i=$((i + 1))
	done
	printf '%s\n' "$lower"
}

# ref_overlay MNT BASE TAR...: a read-only kernel overlay mount of the layers at MNT.
ref_overlay() {
	local mnt=$1 base=$2 lower
	shift 2
	lower=$(ref_overlay_dirs "$base" "$@")
	mkdir -p "$mnt"
	[ "$#" -gt 1 ] || fail "ref_overlay needs at least two layers"
	mount -t overlay overlay -o "ro,lowerdir=$lower" "$mnt"
	track_mount overlay "$mnt"
}

# ref_overlay_rw MNT BASE TAR...: a writable kernel overlay mount (upper BASE/upper).
ref_overlay_rw() {
	local mnt=$1 base=$2 lower
	shift 2
	lower=$(ref_overlay_dirs "$base" "$@")
	mkdir -p "$mnt" "$base/upper" "$base/work"
	mount -t overlay overlay \
		-o "lowerdir=$lower,upperdir=$base/upper,workdir=$base/work,index=on,redirect_dir=on" \
		"$mnt" 2>/dev/null ||
		mount -t overlay overlay -o "lowerdir=$lower,upperdir=$base/upper,workdir=$base/work" "$mnt"
	track_mount overlay "$mnt"
}
