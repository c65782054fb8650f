#!/usr/bin/env bash
# kill -9 of the mount daemon: data a program fsync'ed survives, `layerfs umount MNT` clears the
# dead mount, and a new mount of the same container works and has the data. Once for a
# foreground daemon (-f), once for the daemon of a normal mount.
source "$(dirname "$0")/lib.sh"
require_fuse

std_setup
oci_layout "$LF_TMP/oci" lfkill:v1 gzip "${STD_LAYERS[@]}"
run_ok lf import "$LF_TMP/oci" itest/kill:1
m=$LF_TMP/m

write_fsync() { # PATH CONTENT-SIZE
	python3 - "$1" "$2" <<'PY'
import os, sys
path, size = sys.argv[1], int(sys.argv[2])
data = (b"fsynced data that must survive a crash of the daemon\n" * (size // 54 + 1))[:size]
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
os.write(fd, data)
os.fsync(fd)
os.close(fd)
dfd = os.open(os.path.dirname(path), os.O_RDONLY | os.O_DIRECTORY)
os.fsync(dfd)
os.close(dfd)
print(__import__("hashlib").sha256(data).hexdigest())
PY
}

# daemon_pid MNT: the layerfs process serving MNT.
daemon_pid() {
	local p exe target
	target=$(readlink -f "$LAYERFS")
	for p in /proc/[0-9]*; do
		exe=$(readlink "$p/exe" 2>/dev/null) || continue
		[ "${exe% (deleted)}" = "$target" ] || continue
		tr '\0' '\n' <"$p/cmdline" 2>/dev/null | grep -xFc -- "$1" >/dev/null || continue
		tr '\0' '\n' <"$p/cmdline" | grep -xc mount >/dev/null || continue
		echo "${p#/proc/}"
	done
}

check_dead_and_recover() { # NAME SUM [SUM2]
	local name=$1 sum=$2
	is_mounted "$m" || fail "the dead mount disappeared by itself (expected a dead FUSE mount)"
	if stat "$m/etc" >/dev/null 2>&1; then
		fail "the mount still answers after its daemon was killed"
	fi
	run_ok lf umount "$m"
	! is_mounted "$m" || fail "'layerfs umount' did not clear the dead mount"
	lf_mount itest/kill:1 "$m" --name "$name"
	assert_eq "$(sha_of "$m/fsynced/file")" "$sum" "the fsync'ed file after kill -9 and remount"
	assert_file_eq "$m/etc/motd" "the upper layer changed this"
	printf 'after\n' >"$m/after-crash"
	assert_file_eq "$m/after-crash" after
}

step "foreground daemon"
lf_mount_fg itest/kill:1 "$m" --name k1
mkdir "$m/fsynced"
sum=$(write_fsync "$m/fsynced/file" 500000)
printf 'not synced\n' >"$m/unsynced"
kill -KILL "$LF_DAEMON_PID"
wait "$LF_DAEMON_PID" 2>/dev/null || true
check_dead_and_recover k1 "$sum"
lf_umount "$m"

step "daemon of a normal mount"
lf_mount itest/kill:1 "$m" --name k2
mkdir "$m/fsynced"
sum=$(write_fsync "$m/fsynced/file" 123456)
pids=$(daemon_pid "$m")
[ -n "$pids" ] || fail "cannot find the layerfs process serving '$m'"
[ "$(echo "$pids" | wc -l)" = 1 ] || fail "several processes serve '$m': $pids"
kill -KILL "$pids"
wait_for "the daemon to die" 10 sh -c "! kill -0 $pids 2>/dev/null"
check_dead_and_recover k2 "$sum"
lf_umount "$m"
