# Shared helpers of the integration tests; every test sources this file first.
#
# It gives each test a temporary directory and a store of its own, a trap that always unmounts
# what the test mounted and removes what it made, skip and assertion helpers, and (from
# lib-image.sh and lib-ref.sh) image builders and reference trees made with independent tools
# only: GNU tar, sha256sum, gzip, zstd, jq, busybox-static, kernel overlayfs.
#
# meson passes LAYERFS (the binary), LF_SOURCE_ROOT and LF_BUILD_ROOT.
# LF_TEST_MUST_WORK=1 turns every skip into a failure.
set -euo pipefail
set -E
shopt -s inherit_errexit

LF_ITEST_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LF_SOURCE_ROOT=${LF_SOURCE_ROOT:-$(cd "$LF_ITEST_DIR/../.." && pwd)}
LF_BUILD_ROOT=${LF_BUILD_ROOT:-$LF_SOURCE_ROOT/build}
LAYERFS=${LAYERFS:-$LF_BUILD_ROOT/tools/layerfs/layerfs}
LF_TEST_NAME=$(basename "$0" .sh)
export LC_ALL=C.UTF-8 TZ=UTC

# Everything a test makes lives under $LF_TMP; its store is $LF_STORE.
LF_TMP=$(mktemp -d "${TMPDIR:-/tmp}/lf-$LF_TEST_NAME.XXXXXX")
LF_STORE=$LF_TMP/store
export LAYERFS_STORE=$LF_STORE
# A time before anything the test creates: mtimes at or after it were made by the test run.
LF_T0=$(date +%s)

LF_MOUNTS=()   # mountpoints to unmount at exit: "kind|store|path"
LF_PIDS=()     # background processes to kill at exit
LF_USERS=()    # users to delete at exit
LF_RESTORE=()  # commands to run at exit (eval'ed), last first

log() { printf '%s: %s\n' "$LF_TEST_NAME" "$*" >&2; }
step() { printf '\n== %s\n' "$*" >&2; }

fail() {
	printf 'FAIL: %s\n' "$*" >&2
	exit 1
}

on_err() {
	local rc=$? line=$1 cmd=$2
	printf 'FAIL: %s:%s: command exited with %s: %s\n' "$LF_TEST_NAME" "$line" "$rc" "$cmd" >&2
}
trap 'on_err "$LINENO" "$BASH_COMMAND"' ERR

# ---- skipping --------------------------------------------------------------------------------

skip() {
	if [ "${LF_TEST_MUST_WORK:-0}" = 1 ]; then
		printf 'FAIL: cannot run (LF_TEST_MUST_WORK=1 forbids skipping): %s\n' "$*" >&2
		exit 1
	fi
	printf 'SKIP: %s\n' "$*" >&2
	exit 77
}

require_root() {
	[ "$(id -u)" = 0 ] || skip "needs root"
}

require_cmd() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || skip "needs '$c'"
	done
}

require_fuse() {
	[ -c /dev/fuse ] || skip "no /dev/fuse"
	if [ "$(id -u)" = 0 ]; then
		grep -qw fuse /proc/filesystems || modprobe fuse 2>/dev/null || true
		grep -qw fuse /proc/filesystems || skip "the kernel has no fuse filesystem"
	else
		[ -r /dev/fuse ] && [ -w /dev/fuse ] || skip "/dev/fuse is not accessible"
		require_cmd fusermount3
	fi
	[ -x "$LAYERFS" ] || fail "the layerfs binary '$LAYERFS' does not exist (build first)"
}

require_overlay() {
	require_root
	grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null || true
	grep -qw overlay /proc/filesystems || skip "the kernel has no overlay filesystem"
}

have_overlay() {
	[ "$(id -u)" = 0 ] && { grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null; }
}

# ---- running layerfs -------------------------------------------------------------------------

# lf ARGS...: layerfs on the test's store.
lf() {
	"$LAYERFS" --store "$LF_STORE" "$@"
}

# run_ok CMD...: runs CMD; on failure prints the command, its status and its stderr and fails.
# Its stdout is passed through; its stderr is kept in $LF_ERR.
LF_ERR=
run_ok() {
	local errf=$LF_TMP/.stderr rc=0
	"$@" 2>"$errf" || rc=$?
	LF_ERR=$(cat "$errf")
	if [ $rc != 0 ]; then
		printf 'FAIL: command failed with exit status %s: %s\n' "$rc" "$*" >&2
		[ -n "$LF_ERR" ] && printf '  stderr: %s\n' "$LF_ERR" >&2
		exit 1
	fi
	[ -z "$LF_ERR" ] || printf '%s\n' "$LF_ERR" >&2
}

# run_fails CMD...: runs CMD, which must exit non-zero (and not by a signal);
# its stderr is kept in $LF_ERR, its status in $LF_RC.
LF_RC=0
run_fails() {
	local errf=$LF_TMP/.stderr
	LF_RC=0
	"$@" >"$LF_TMP/.stdout" 2>"$errf" || LF_RC=$?
	LF_ERR=$(cat "$errf")
	[ $LF_RC != 0 ] || fail "command succeeded but must fail: $*"
	[ $LF_RC -lt 128 ] || fail "command died by signal $((LF_RC - 128)): $* (stderr: $LF_ERR)"
}

# ---- mounts ----------------------------------------------------------------------------------

is_mounted() {
	# mountinfo, not stat: a mount whose daemon died answers ENOTCONN to stat.
	local p
	p=$(realpath -m "$1")
	awk -v p="$p" '$5 == p { found = 1 } END { exit !found }' /proc/self/mountinfo
}

# wait_mounted MNT [SECONDS]: polls until MNT is a mountpoint, failing after the deadline.
wait_mounted() {
	local mnt=$1 deadline=$((SECONDS + ${2:-20}))
	until mountpoint -q "$mnt"; do
		[ $SECONDS -lt $deadline ] || fail "'$mnt' did not become a mountpoint within ${2:-20}s"
		sleep 0.05
	done
}

# wait_unmounted MNT [SECONDS]
wait_unmounted() {
	local mnt=$1 deadline=$((SECONDS + ${2:-20}))
	while is_mounted "$mnt"; do
		[ $SECONDS -lt $deadline ] || fail "'$mnt' is still mounted after ${2:-20}s"
		sleep 0.05
	done
}

# wait_for DESCRIPTION SECONDS CMD...: polls CMD until it succeeds.
wait_for() {
	local what=$1 deadline=$((SECONDS + $2))
	shift 2
	until "$@"; do
		[ $SECONDS -lt $deadline ] || fail "timed out waiting for $what"
		sleep 0.05
	done
}

# track_mount KIND PATH: unmount PATH at exit (KIND: layerfs, overlay).
track_mount() {
	LF_MOUNTS+=("$1|$LF_STORE|$2")
}

# lf_mount IMAGE MNT [OPTIONS...]: layerfs mount, which must return only once the mount is ready.
lf_mount() {
	local image=$1 mnt=$2
	shift 2
	mkdir -p "$mnt"
	track_mount layerfs "$mnt"
	run_ok lf mount "$image" "$mnt" "$@"
	mountpoint -q "$mnt" || fail "'layerfs mount $image $mnt' returned before the mount was ready"
}

# lf_mount_fg IMAGE MNT [OPTIONS...]: layerfs mount -f in the background; sets LF_DAEMON_PID.
LF_DAEMON_PID=
lf_mount_fg() {
	local image=$1 mnt=$2
	shift 2
	mkdir -p "$mnt"
	track_mount layerfs "$mnt"
	# not through lf(): $! must be the daemon itself, not a subshell
	"$LAYERFS" --store "$LF_STORE" mount "$image" "$mnt" -f "$@" >"$LF_TMP/daemon.$$.log" 2>&1 &
	LF_DAEMON_PID=$!
	LF_PIDS+=("$LF_DAEMON_PID")
	local deadline=$((SECONDS + 20))
	until mountpoint -q "$mnt"; do
		if ! kill -0 "$LF_DAEMON_PID" 2>/dev/null; then
			cat "$LF_TMP/daemon.$$.log" >&2
			fail "'layerfs mount -f $image $mnt' exited before mounting"
		fi
		[ $SECONDS -lt $deadline ] || fail "'$mnt' did not become a mountpoint within 20s"
		sleep 0.05
	done
}

lf_umount() {
	run_ok lf umount "$1"
	! is_mounted "$1" || fail "'layerfs umount $1' returned but '$1' is still mounted"
}

force_unmount() {
	local kind=$1 store=$2 mnt=$3
	is_mounted "$mnt" || return 0
	if [ "$kind" = layerfs ] && [ -x "$LAYERFS" ]; then
		timeout 20 "$LAYERFS" --store "$store" umount "$mnt" >/dev/null 2>&1 || true
	fi
	is_mounted "$mnt" || return 0
	fusermount3 -u "$mnt" >/dev/null 2>&1 || umount "$mnt" >/dev/null 2>&1 || true
	is_mounted "$mnt" || return 0
	fusermount3 -uz "$mnt" >/dev/null 2>&1 || umount -l "$mnt" >/dev/null 2>&1 || true
}

cleanup() {
	local i entry kind store mnt pid
	set +e
	trap - ERR
	for ((i = ${#LF_MOUNTS[@]} - 1; i >= 0; i--)); do
		entry=${LF_MOUNTS[i]}
		kind=${entry%%|*}
		entry=${entry#*|}
		store=${entry%%|*}
		mnt=${entry#*|}
		force_unmount "$kind" "$store" "$mnt"
	done
	for ((i = ${#LF_PIDS[@]} - 1; i >= 0; i--)); do
		pid=${LF_PIDS[i]}
		kill -0 "$pid" 2>/dev/null && kill -TERM "$pid" 2>/dev/null
	done
	for ((i = ${#LF_PIDS[@]} - 1; i >= 0; i--)); do
		pid=${LF_PIDS[i]}
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	for ((i = ${#LF_RESTORE[@]} - 1; i >= 0; i--)); do
		eval "${LF_RESTORE[i]}"
	done
	for u in "${LF_USERS[@]}"; do
		pkill -KILL -u "$u" 2>/dev/null
		userdel -r "$u" >/dev/null 2>&1 || userdel "$u" >/dev/null 2>&1
	done
	# Never descend into something still mounted.
	if [ -n "${LF_KEEP_TMP:-}" ]; then
		printf 'kept %s\n' "$LF_TMP" >&2
	elif ! awk -v p="$LF_TMP/" 'index($5, p) == 1 { f = 1 } END { exit !f }' /proc/self/mountinfo; then
		chattr -R -i "$LF_TMP" >/dev/null 2>&1
		rm -rf --one-file-system "$LF_TMP"
	else
		printf 'warning: %s left in place: something under it is still mounted\n' "$LF_TMP" >&2
	fi
}
trap 'rc=$?; cleanup; exit $rc' EXIT

# ---- assertions ------------------------------------------------------------------------------

# assert_eq ACTUAL EXPECTED WHAT
assert_eq() {
	[ "$1" == "$2" ] || fail "$3: expected '$2', got '$1'"
}

assert_ne() {
	[ "$1" != "$2" ] || fail "$3: got '$1', which it must not be"
}

# assert_contains HAYSTACK NEEDLE WHAT
assert_contains() {
	[[ "$1" == *"$2"* ]] || fail "$3: '$2' not found in: $1"
}

assert_not_contains() {
	[[ "$1" != *"$2"* ]] || fail "$3: '$2' must not be in: $1"
}

# assert_file_eq PATH EXPECTED-CONTENT
assert_file_eq() {
	[ -f "$1" ] || fail "'$1' is not a regular file ($(stat -c %F "$1" 2>&1))"
	local got
	got=$(cat "$1") || fail "cannot read '$1'"
	[ "$got" == "$2" ] || fail "content of '$1': expected '$2', got '$got'"
}

assert_exists() {
	[ -e "$1" ] || [ -L "$1" ] || fail "'$1' does not exist"
}

assert_missing() {
	! [ -e "$1" ] && ! [ -L "$1" ] || fail "'$1' exists but must not ($(stat -c %F "$1"))"
}

# assert_stat PATH FORMAT EXPECTED: stat -c FORMAT of PATH (not following symlinks).
assert_stat() {
	local got
	got=$(stat -c "$2" -- "$1") || fail "cannot stat '$1'"
	[ "$got" == "$3" ] || fail "stat -c '$2' '$1': expected '$3', got '$got'"
}

# assert_whiteout PATH: PATH is an overlay whiteout (a character device 0/0).
assert_whiteout() {
	[ -c "$1" ] || fail "'$1' is not a whiteout: $(stat -c %F "$1" 2>&1)"
	assert_stat "$1" '%t:%T' '0:0'
}

# assert_trees_eq A B [treecmp options]: compares two whole trees, printing each difference.
assert_trees_eq() {
	local a=$1 b=$2
	shift 2
	python3 "$LF_ITEST_DIR/treecmp.py" "$@" "$a" "$b" ||
		fail "the trees '$a' and '$b' differ (see above)"
}

# assert_one_line_error SOURCE [ENTRY]: $LF_ERR is a single line naming SOURCE (and ENTRY).
assert_one_line_error() {
	local n
	n=$(printf '%s' "$LF_ERR" | grep -c . || true)
	[ "$n" = 1 ] || fail "expected a one-line error, got $n lines: $LF_ERR"
	[[ "$LF_ERR" == *"$1"* ]] || [[ "$LF_ERR" == *"$(basename "$1")"* ]] ||
		fail "the error does not name the source '$1': $LF_ERR"
	[ $# -lt 2 ] || [[ "$LF_ERR" == *"$2"* ]] ||
		fail "the error does not name the entry '$2': $LF_ERR"
}

# store_listing [STORE]: every path of the store with type, mode, owner, size, link target, and
# the sha256 and mtime of each regular file (LF_LISTING_MTIMES=0: no mtimes); directory mtimes
# are left out.
store_listing() {
	local s=${1:-$LF_STORE}
	[ -d "$s" ] || { echo "(no store)"; return 0; }
	(
		cd "$s"
		local t=' %T@'
		[ "${LF_LISTING_MTIMES:-1}" = 1 ] || t=
		find . -printf '%y %m %U:%G %p' \( -type l -printf ' -> %l' -o -true \) \
			\( -type f -printf " %s$t" -o -true \) -printf '\n' | LC_ALL=C sort
		find . -type f -print0 | LC_ALL=C sort -z | xargs -0r sha256sum
	)
}

# assert_store_unchanged BEFORE-FILE WHAT
assert_store_unchanged() {
	local after=$LF_TMP/.store-after
	store_listing >"$after"
	if ! diff -u "$1" "$after" >"$LF_TMP/.store-diff"; then
		head -n 40 "$LF_TMP/.store-diff" >&2
		fail "$2: the store changed (diff above)"
	fi
}

# images_has REF: `layerfs images --json` lists REF (as "name:tag" or as name and tag fields).
images_has() {
	local ref=$1 out
	out=$(lf images --json) || fail "'layerfs images --json' failed"
	printf '%s' "$out" | jq -e . >/dev/null || fail "'layerfs images --json' is not JSON: $out"
	printf '%s' "$out" | python3 "$LF_ITEST_DIR/jsonfind.py" has-ref "$ref"
}

# object bytes: logical (sum of sizes) and on disk (du) of the store's objects/
objects_bytes() {
	find "$LF_STORE/objects" -type f -printf '%s\n' 2>/dev/null | awk '{ s += $1 } END { print s + 0 }'
}

objects_listing() {
	(cd "$LF_STORE" && find objects -printf '%y %s %p\n' 2>/dev/null | LC_ALL=C sort)
}

# container_dir: the only container of the test's store.
container_dir() {
	local d n
	n=$(find "$LF_STORE/containers" -mindepth 1 -maxdepth 1 -type d | wc -l)
	[ "$n" = 1 ] || fail "expected exactly one container in the store, found $n"
	d=$(find "$LF_STORE/containers" -mindepth 1 -maxdepth 1 -type d)
	printf '%s\n' "$d"
}

count_containers() {
	find "$LF_STORE/containers" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l
}

# as_user USER CMD...: runs CMD as USER with a clean environment.
as_user() {
	local u=$1
	shift
	setpriv --reuid "$u" --regid "$(id -g "$u")" --init-groups --reset-env -- \
		env HOME="$(getent passwd "$u" | cut -d: -f6)" LC_ALL=C.UTF-8 "$@"
}

source "$LF_ITEST_DIR/lib-image.sh"
source "$LF_ITEST_DIR/lib-ref.sh"

# ---- common flows ----------------------------------------------------------------------------

# std_setup: builds the standard layers into $LF_TMP/img and their reference tree into
# $LF_TMP/ref (GNU tar plus whiteouts); where root, checks the reference against kernel
# overlayfs, so that the reference itself is proven.
std_setup() {
	mk_std_layers "$LF_TMP/img"
	ref_tar_apply "$LF_TMP/ref" "${STD_LAYERS[@]}"
	if have_overlay; then
		ref_overlay "$LF_TMP/ovl" "$LF_TMP/ovl-layers" "${STD_LAYERS[@]}"
		assert_trees_eq "$LF_TMP/ref" "$LF_TMP/ovl"
		umount "$LF_TMP/ovl"
	fi
}

# mount_and_compare IMAGE REFDIR [MOUNT-OPTIONS...]: mounts IMAGE, compares the whole tree
# with REFDIR, unmounts.
LF_MNT_SEQ=0
mount_and_compare() {
	local image=$1 ref=$2 mnt
	shift 2
	LF_MNT_SEQ=$((LF_MNT_SEQ + 1))
	mnt=$LF_TMP/mnt$LF_MNT_SEQ
	lf_mount "$image" "$mnt" "$@"
	assert_trees_eq "$ref" "$mnt"
	lf_umount "$mnt"
}
