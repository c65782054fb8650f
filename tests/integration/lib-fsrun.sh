# Shared helpers of the fsrun integration tests; a test sources lib.sh, then this file.
#
# Test images are a busybox-static rootfs (fsr_base) plus whatever layers a test adds, packed
# into an OCI layout with a config built by jq (fsr_layout) and put into the store with
# `layerfs import` (fsr_image). fsr_run runs fsrun and keeps its status, stdout and stderr.
#
# FSRUN is the binary under test (default: the build tree's tools/fsrun/fsrun); fsrun finds
# layerfs through $LAYERFS and the store through $LAYERFS_STORE (both set by lib.sh) or --store.

FSRUN=${FSRUN:-$LF_BUILD_ROOT/tools/fsrun/fsrun}
export LAYERFS

# Host paths the tests hand to fsrun (--root DIR, -v SRC) live under $LF_TMP; let any id reach
# them, so that what a test checks does not depend on which ids the container (a user namespace
# over a private id range, for root) resolves them with.
chmod 0755 "$LF_TMP"

fsrun() { "$FSRUN" "$@"; }

# require_fsrun: the binary must exist; a missing one is a failure, never a skip.
require_fsrun() {
	[ -x "$FSRUN" ] || fail "the fsrun binary '$FSRUN' does not exist (build first)"
}

# Applets of the test rootfs, each a symlink to /bin/busybox.
FSR_APPLETS=(sh cat ls id echo env pwd sleep kill ps hostname grep mkdir touch stat readlink head
	tail wc true false printf test ip rm stty)

# The image-only user app: a uid and gid that do not exist on the host.
FSR_APP_UID=1234 FSR_APP_GID=2345
# A user the image names like a host user (daemon, uid 1 on Debian) but with another uid: -u
# daemon must resolve through the image's /etc/passwd, never the host's.
FSR_DAEMON_UID=4321 FSR_DAEMON_GID=4322

# fsr_base: builds the base rootfs into $LF_TMP/fsr/base and its layer tar (once per test);
# sets FSR_BASE_TAR. Content: busybox and its applets in /bin; /etc/passwd and /etc/group with
# root, app (1234:2345, /home/app) and daemon (4321:4322); marker contents in /etc/hosts,
# /etc/hostname and /etc/resolv.conf (fsrun must replace them); /bin/notexec, a 0644 script;
# /.fsrun-root-marker at the root; empty /dev /proc /sys /tmp /mnt/{a,b,c}.
FSR_BASE_TAR=
fsr_base() {
	local d=$LF_TMP/fsr/base a
	[ -z "$FSR_BASE_TAR" ] || return 0
	mkdir -p "$d"/{bin,usr/bin,etc,root,home/app,tmp,dev,proc,sys,run,mnt/a,mnt/b,mnt/c,srv}
	cp "$(busybox_bin)" "$d/bin/busybox"
	chmod 0755 "$d/bin/busybox"
	for a in "${FSR_APPLETS[@]}"; do
		ln -s busybox "$d/bin/$a"
	done
	cat >"$d/etc/passwd" <<-EOF
		root:x:0:0:root:/root:/bin/sh
		app:x:$FSR_APP_UID:$FSR_APP_GID:app:/home/app:/bin/sh
		daemon:x:$FSR_DAEMON_UID:$FSR_DAEMON_GID:daemon:/srv:/bin/sh
	EOF
	cat >"$d/etc/group" <<-EOF
		root:x:0:
		appgrp:x:$FSR_APP_GID:
		daemon:x:$FSR_DAEMON_GID:
	EOF
	printf '10.9.8.7 image-hosts-marker\n' >"$d/etc/hosts"
	printf 'image-hostname-marker\n' >"$d/etc/hostname"
	printf 'nameserver 10.9.8.7 # image-resolv-marker\n' >"$d/etc/resolv.conf"
	printf '#!/bin/sh\necho must not run\n' >"$d/bin/notexec"
	chmod 0644 "$d/bin/notexec"
	printf 'the root of the container\n' >"$d/.fsrun-root-marker"
	chmod 1777 "$d/tmp"
	chmod 0700 "$d/root"
	if is_root; then
		chown "$FSR_APP_UID:$FSR_APP_GID" "$d/home/app"
		chown "$FSR_DAEMON_UID:$FSR_DAEMON_GID" "$d/srv"
	fi
	set_times "$d" 1500000000
	FSR_BASE_TAR=$LF_TMP/fsr/base.tar
	mk_layer_tar "$d" "$FSR_BASE_TAR"
}

# fsr_config EXPR: the image's "config" object: the defaults (Env with PATH, Cmd /bin/sh)
# updated by the jq object expression EXPR, e.g. '{Entrypoint: ["/bin/echo"], User: "app"}';
# a key set to null is left out (e.g. '{Env: null}': no Env at all).
fsr_config() {
	local e=${1:-}
	[ -n "$e" ] || e='{}'
	jq -nc --argjson d '{"Env": ["PATH=/usr/bin:/bin"], "Cmd": ["/bin/sh"]}' \
		"\$d + ($e) | with_entries(select(.value != null))"
}

# fsr_layout DIR CONFIG-EXPR [LAYER-DIR...]: an OCI layout (uncompressed layers) of the base
# layer plus a layer made of each LAYER-DIR, with the config of fsr_config CONFIG-EXPR.
fsr_layout() {
	local dir=$1 cfgexpr=$2 src t hex cfg chex mhex mdesc
	shift 2
	fsr_base
	local tars=("$FSR_BASE_TAR") layers=() diffids=()
	for src in "$@"; do
		t=$src.tar
		mk_layer_tar "$src" "$t"
		tars+=("$t")
	done
	mkdir -p "$dir/blobs/sha256"
	for t in "${tars[@]}"; do
		hex=$(add_blob "$dir" "$t")
		diffids+=("$hex")
		layers+=("$(descriptor "$(layer_media_type none)" "$hex" "$(size_of "$t")")")
	done
	cfg=$(printf '%s\n' "${diffids[@]}" | jq -R . | jq -sc --arg arch "$(oci_arch)" \
		--argjson c "$(fsr_config "$cfgexpr")" '{
		architecture: $arch, os: "linux",
		created: "2024-01-02T03:04:05Z",
		config: $c,
		rootfs: { type: "layers", diff_ids: map("sha256:" + .) },
		history: map({ created_by: "fsrun test layer" })
	}')
	chex=$(add_json_blob "$dir" "$cfg")
	mhex=$(printf '%s\n' "${layers[@]}" | jq -sc \
		--argjson c "$(descriptor application/vnd.oci.image.config.v1+json "$chex" \
			"$(size_of "$dir/blobs/sha256/$chex")")" '{
		schemaVersion: 2,
		mediaType: "application/vnd.oci.image.manifest.v1+json",
		config: $c, layers: .
	}' | { cat >"$LF_TMP/.fsr-manifest"; add_blob "$dir" "$LF_TMP/.fsr-manifest"; })
	mdesc=$(descriptor application/vnd.oci.image.manifest.v1+json "$mhex" \
		"$(size_of "$dir/blobs/sha256/$mhex")")
	write_oci_layout_file "$dir"
	jq -nc --argjson d "$mdesc" '{
		schemaVersion: 2,
		mediaType: "application/vnd.oci.image.index.v1+json",
		manifests: [ $d + { annotations: { "org.opencontainers.image.ref.name": "fsrun-test" } } ]
	}' >"$dir/index.json"
}

# fsr_image REF CONFIG-EXPR [LAYER-DIR...]: fsr_layout, imported into the test's store as REF.
FSR_SEQ=0
fsr_image() {
	local ref=$1
	shift
	FSR_SEQ=$((FSR_SEQ + 1))
	fsr_layout "$LF_TMP/fsr/layout$FSR_SEQ" "$@"
	run_ok lf import "$LF_TMP/fsr/layout$FSR_SEQ" "$ref"
}

# fsr_layer NAME: a new, empty source directory for an extra layer; prints its path.
fsr_layer() {
	local d=$LF_TMP/fsr/layer-$1
	rm -rf "$d"
	mkdir -p "$d"
	printf '%s\n' "$d"
}

# fsr_run [fsrun ARGS...]: runs fsrun with stdin from /dev/null (unless FSR_STDIN names a
# file) and a deadline; sets FSR_RC, FSR_OUT (stdout) and FSR_ERR (stderr). Never fails by
# itself, except when fsrun hangs past the deadline. Redirections of the call (3>FILE) reach
# fsrun.
FSR_RC=0 FSR_OUT='' FSR_ERR=''
fsr_run() {
	FSR_RC=0
	timeout -k 5 "${FSR_TIMEOUT:-60}" "$FSRUN" "$@" <"${FSR_STDIN:-/dev/null}" \
		>"$LF_TMP/.fsr-out" 2>"$LF_TMP/.fsr-err" || FSR_RC=$?
	FSR_OUT=$(cat "$LF_TMP/.fsr-out")
	FSR_ERR=$(cat "$LF_TMP/.fsr-err")
	[ "$FSR_RC" != 124 ] || fail "fsrun $* did not finish within ${FSR_TIMEOUT:-60}s" \
		"(stdout: $FSR_OUT; stderr: $FSR_ERR)"
}

# fsr_ok ARGS...: fsr_run, which must exit 0.
fsr_ok() {
	fsr_run "$@"
	[ "$FSR_RC" = 0 ] || fail "fsrun $* exited with $FSR_RC (stdout: $FSR_OUT; stderr: $FSR_ERR)"
}

# fsr_status EXPECTED WHAT ARGS...: fsr_run, which must exit with EXPECTED.
fsr_status() {
	local want=$1 what=$2
	shift 2
	fsr_run "$@"
	[ "$FSR_RC" = "$want" ] ||
		fail "$what: fsrun $* exited with $FSR_RC, expected $want (stdout: $FSR_OUT; stderr: $FSR_ERR)"
}

# fsr_own_error WHAT [NEEDLE] ARGS...: an error of fsrun itself: status 125 and a one-line
# message on stderr (that contains NEEDLE, unless it is empty).
fsr_own_error() {
	local what=$1 needle=$2 n
	shift 2
	fsr_status 125 "$what" "$@"
	n=$(printf '%s' "$FSR_ERR" | grep -c . || true)
	[ "$n" = 1 ] || fail "$what: expected a one-line error, got $n lines: $FSR_ERR"
	[ -z "$needle" ] || [[ "$FSR_ERR" == *"$needle"* ]] ||
		fail "$what: the error does not name '$needle': $FSR_ERR"
}

# fsr_get KEY [TEXT]: the value of the first line "KEY=VALUE" of TEXT (default: $FSR_OUT).
fsr_get() {
	local text=${2-$FSR_OUT}
	printf '%s\n' "$text" | awk -v k="$1" '!done && index($0, k "=") == 1 { print substr($0, length(k) + 2); done = 1 }'
}

# fsr_section NAME [TEXT]: the lines of TEXT (default: $FSR_OUT) between a line "==NAME" and the
# next line starting with "==".
fsr_section() {
	local text=${2-$FSR_OUT}
	printf '%s\n' "$text" | awk -v s="==$1" '$0 == s { on = 1; next } /^==/ { on = 0 } on'
}

# fsr_mount_of MOUNTINFO PATH: "FSTYPE OPTIONS" of the mount that holds PATH in the text of a
# /proc/self/mountinfo (the longest mountpoint that is PATH or a parent of it; of equal ones,
# the last, which covers the others).
fsr_mount_of() {
	printf '%s\n' "$1" | awk -v p="$2" '
		{
			mp = $5; fst = ""
			for (i = 7; i <= NF; i++) if ($i == "-") { fst = $(i + 1); break }
			if (mp == p || mp == "/" || index(p, mp "/") == 1) {
				if (length(mp) >= best) { best = length(mp); r = fst " " $6 }
			}
		}
		END { if (r == "") exit 1; print r }'
}

# fsr_assert_mount MOUNTINFO PATH FSTYPE ro|rw|any WHAT
fsr_assert_mount() {
	local got fst opts
	got=$(fsr_mount_of "$1" "$2") || fail "$5: no mount holds '$2' in: $1"
	fst=${got%% *} opts=${got#* }
	[ "$3" = any ] || [ "$fst" = "$3" ] || fail "$5: '$2' is on $fst, expected $3 ($got)"
	case $4 in
	ro) [[ ",$opts," == *,ro,* ]] || fail "$5: '$2' is not mounted read-only ($got)" ;;
	rw) [[ ",$opts," == *,rw,* ]] || fail "$5: '$2' is not mounted read-write ($got)" ;;
	esac
}

# fsr_container_dir STORE NAME: the directory of the container NAME in STORE (found by the name
# in its config.json).
fsr_container_dir() {
	local f
	for f in "$1"/containers/*/config.json; do
		[ -f "$f" ] || continue
		if [ "$(jq -r .name "$f")" = "$2" ]; then
			dirname "$f"
			return 0
		fi
	done
	fail "no container named '$2' in the store '$1'"
}

# fsr_procs_with ARGS: pids of processes whose command line is exactly ARGS (space-joined).
fsr_procs_with() {
	local p c
	for p in /proc/[0-9]*; do
		c=$(tr '\0' ' ' 2>/dev/null <"$p/cmdline") || continue
		[ "${c% }" = "$*" ] && printf '%s\n' "${p#/proc/}"
	done
	return 0
}

# fsr_compile NAME: compiles fsrun-helpers/NAME.c statically into $LF_TMP/fsr/NAME; prints the
# path. Skips only when this machine cannot link static binaries at all.
fsr_compile() {
	local src=$LF_ITEST_DIR/fsrun-helpers/$1.c out=$LF_TMP/fsr/$1
	[ -f "$src" ] || fail "the helper source '$src' is missing"
	require_cmd gcc
	mkdir -p "$LF_TMP/fsr"
	printf 'int main(void) { return 0; }\n' >"$LF_TMP/fsr/.probe.c"
	gcc -static -o "$LF_TMP/fsr/.probe" "$LF_TMP/fsr/.probe.c" >/dev/null 2>&1 ||
		skip "gcc cannot link static binaries (libc6-dev missing?)"
	gcc -static -O2 -Wall -o "$out" "$src" || fail "cannot compile '$src'"
	printf '%s\n' "$out"
}

# The status line of /proc/self/status named KEY, from TEXT: fsr_status_field KEY TEXT
fsr_status_field() {
	printf '%s\n' "$2" | awk -v k="$1:" '!done && $1 == k { print $2; done = 1 }'
}

# The OCI runtime spec's default capability set (what docker, podman and runc give a root
# container): CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID SETPCAP NET_BIND_SERVICE
# NET_RAW SYS_CHROOT MKNOD AUDIT_WRITE SETFCAP.
FSR_OCI_CAPS=00000000a80425fb

# fsr_bg OUT ARGS...: fsrun ARGS in the background (not through a subshell: FSR_PID is fsrun
# itself), stdin from /dev/null, stdout into OUT and stderr into OUT.err; killed at exit if
# still running.
FSR_PID=
fsr_bg() {
	local out=$1
	shift
	"$FSRUN" "$@" </dev/null >"$out" 2>"$out.err" &
	FSR_PID=$!
	LF_PIDS+=("$FSR_PID")
}

# fsr_alive PID: PID runs (exists and is not a zombie).
fsr_alive() {
	local st
	st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "${st%% *}" != Z ]
}

# fsr_wait WHAT [SECONDS]: waits until the background fsrun (FSR_PID) exits; sets FSR_RC.
fsr_wait() {
	local what=$1 deadline=$((SECONDS + ${2:-20}))
	while fsr_alive "$FSR_PID"; do
		[ $SECONDS -lt $deadline ] || fail "$what: fsrun (pid $FSR_PID) still runs after ${2:-20}s"
		sleep 0.05
	done
	FSR_RC=0
	wait "$FSR_PID" || FSR_RC=$?
}

# fsr_no_procs WHAT ARGS...: within 10 s no process has the command line ARGS.
fsr_no_procs() {
	local what=$1 deadline=$((SECONDS + 10)) left
	shift
	while left=$(fsr_procs_with "$@") && [ -n "$left" ]; do
		[ $SECONDS -lt $deadline ] ||
			fail "$what: processes '$*' are left behind: $(printf "%s " $left)"
		sleep 0.05
	done
}

# fsr_count_containers STORE: how many containers STORE has.
fsr_count_containers() {
	if [ -d "$1/containers" ]; then
		find "$1/containers" -mindepth 1 -maxdepth 1 | wc -l
	else
		echo 0
	fi
}

# Directories under which fsrun must leave nothing mounted once it has exited (the test's
# $LF_TMP, which holds its store; a test adds others, such as a user's home).
FSR_WATCH_DIRS=("$LF_TMP")

# fsr_leftover_mounts: mountpoints under FSR_WATCH_DIRS, deepest first.
fsr_leftover_mounts() {
	local d
	for d in "${FSR_WATCH_DIRS[@]}"; do
		awk -v p="$(realpath -m "$d")/" 'index($5, p) == 1 { print length($5), $5 }' \
			/proc/self/mountinfo
	done | sort -rn | cut -d' ' -f2-
}

# At exit, before lib.sh removes $LF_TMP: unmount whatever fsrun left mounted there.
fsr_unmount_leftovers() {
	local m
	for m in $(fsr_leftover_mounts); do
		printf 'warning: unmounting %s, left mounted by fsrun\n' "$m" >&2
		fusermount3 -u "$m" >/dev/null 2>&1 || umount "$m" >/dev/null 2>&1 ||
			fusermount3 -uz "$m" >/dev/null 2>&1 || umount -l "$m" >/dev/null 2>&1
	done
}
LF_RESTORE+=(fsr_unmount_leftovers)

# fsr_no_containers WHAT: the test's store has no container, `layerfs ps` lists none, and
# nothing is left mounted under FSR_WATCH_DIRS.
fsr_no_containers() {
	local left
	assert_eq "$(count_containers)" 0 "$1: containers in the store"
	assert_eq "$(lf ps --json | jq length)" 0 "$1: containers listed by 'layerfs ps --json'"
	left=$(fsr_leftover_mounts)
	[ -z "$left" ] || fail "$1: still mounted: $(printf "%s " $left)"
}

# fsr_assert_nonzero VALUE WHAT: VALUE (an exit status printed by the payload) is a number > 0.
fsr_assert_nonzero() {
	[[ "$1" =~ ^[1-9][0-9]*$ ]] || fail "$2: expected a failure status, got '$1'"
}
