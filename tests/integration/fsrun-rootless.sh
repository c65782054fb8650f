#!/usr/bin/env bash
# Rootless fsrun: an unprivileged user (created here; /dev/fuse made 0666 as distributions ship
# it) imports an image into a store of their own and runs it: inside they are uid 0 with no
# capabilities, no_new_privs and a seccomp filter; the image's root-owned files show as owned
# by 0 and can be changed; what they create lands in the container's upper owned by them on the
# host; kill -9 -1 inside does not kill the FUSE server; --userns=host is refused; nothing in
# their store ends up owned by anyone else.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib-fsrun.sh"
require_fsrun
require_root
require_fuse
require_cmd useradd userdel setpriv fusermount3 unshare

u=lfrl$$
useradd -m -s /bin/sh "$u" || skip "cannot create a user"
LF_USERS+=("$u")
uid=$(id -u "$u")
gid=$(id -g "$u")
home=$(getent passwd "$u" | cut -d: -f6)
FSR_WATCH_DIRS+=("$home")
LF_RESTORE+=("chmod $(stat -c %a /dev/fuse) /dev/fuse")
chmod 0666 /dev/fuse
[ -u "$(command -v fusermount3)" ] || skip "fusermount3 is not setuid root"
as_user "$u" unshare --user --map-root-user true 2>/dev/null ||
	skip "unprivileged user namespaces are disabled on this machine"

# The binaries must be reachable by the user.
chmod 0755 "$LF_TMP"
mkdir -p "$LF_TMP/bin"
chmod 0755 "$LF_TMP/bin"
fsrbin=$FSRUN lfbin=$LAYERFS
if ! as_user "$u" test -x "$fsrbin"; then
	cp "$FSRUN" "$LF_TMP/bin/fsrun"
	fsrbin=$LF_TMP/bin/fsrun
fi
if ! as_user "$u" test -x "$lfbin"; then
	cp "$LAYERFS" "$LF_TMP/bin/layerfs"
	lfbin=$LF_TMP/bin/layerfs
fi
chmod 0755 "$LF_TMP/bin"/* 2>/dev/null || true

ustore=$home/store
# From here on, fsr_run and friends run fsrun as the user, on the user's store.
cat >"$LF_TMP/bin/fsrun-as-user" <<EOF
#!/bin/sh
exec setpriv --reuid $uid --regid $gid --init-groups --reset-env -- \\
	env HOME='$home' LC_ALL=C.UTF-8 LAYERFS='$lfbin' LAYERFS_STORE='$ustore' '$fsrbin' "\$@"
EOF
chmod 0755 "$LF_TMP/bin/fsrun-as-user"
FSRUN=$LF_TMP/bin/fsrun-as-user
ulf() { as_user "$u" "$lfbin" --store "$ustore" "$@"; }

step "import as $u into their own store"
fsr_layout "$LF_TMP/fsr/rl-layout" ''
chmod -R a+rX "$LF_TMP/fsr"
run_ok ulf import "$LF_TMP/fsr/rl-layout" itest/rootless:1
img=itest/rootless:1

step "inside: uid 0, the image's root files owned by 0, no capabilities, no_new_privs, seccomp"
fsr_ok "$img" sh -c '
	echo "uid=$(id -u)"; echo "gid=$(id -g)"
	echo "passwd=$(stat -c %u:%g /etc/passwd)"; echo "busybox=$(stat -c %u:%g /bin/busybox)"
	echo ==status; cat /proc/self/status'
assert_eq "$(fsr_get uid)" 0 "id -u inside"
assert_eq "$(fsr_get gid)" 0 "id -g inside"
assert_eq "$(fsr_get passwd)" 0:0 "the owner of the image's /etc/passwd inside"
assert_eq "$(fsr_get busybox)" 0:0 "the owner of the image's /bin/busybox inside"
st=$(fsr_section status)
assert_eq "$(fsr_status_field CapEff "$st")" 0000000000000000 "CapEff of a rootless payload"
assert_eq "$(fsr_status_field CapBnd "$st")" 0000000000000000 "CapBnd of a rootless payload"
assert_eq "$(fsr_status_field NoNewPrivs "$st")" 1 "NoNewPrivs of a rootless payload"
assert_eq "$(fsr_status_field Seccomp "$st")" 2 "Seccomp of a rootless payload"
fsr_status 5 "the exit status of a rootless payload" "$img" sh -c 'exit 5'
assert_eq "$(fsr_count_containers "$ustore")" 0 \
	"containers in the user's store after runs without --name"
left=$(fsr_leftover_mounts)
[ -z "$left" ] || fail "still mounted after the runs: $(printf "%s " $left)"

step "what the payload creates or changes lands in the upper, owned by $u on the host"
fsr_ok --name rl-c "$img" sh -c '
	echo made inside >/made-inside; mkdir /dir-inside; echo appended >>/etc/passwd'
c=$(fsr_container_dir "$ustore" rl-c)
assert_file_eq "$c/upper/made-inside" "made inside"
assert_stat "$c/upper/made-inside" %u "$uid"
assert_stat "$c/upper/dir-inside" '%F %u' "directory $uid"
assert_stat "$c/upper/etc/passwd" %u "$uid"
fsr_ok --name rl-c "$img" sh -c '
	echo "made=$(stat -c %u:%g /made-inside)"; echo "passwd=$(stat -c %u:%g /etc/passwd)"
	echo "last=$(tail -n 1 /etc/passwd)"'
assert_eq "$(fsr_get made)" 0:0 "the owner, inside, of a file the payload created"
assert_eq "$(fsr_get passwd)" 0:0 "the owner, inside, of the changed /etc/passwd"
assert_eq "$(fsr_get last)" appended "the change to /etc/passwd in the next run"

step "kill -9 -1 inside does not kill the FUSE server"
fsr_run --name rl-c "$img" sh -c '
	sleep 30 & s=$!
	kill -9 -1; wait $s; echo "sleeper=$?"; cat /made-inside; echo alive'
assert_not_contains "$FSR_OUT$FSR_ERR" "Transport endpoint is not connected" \
	"the run that did kill -9 -1"
assert_eq "$FSR_RC" 0 "fsrun's status after kill -9 -1 inside (stderr: $FSR_ERR)"
assert_eq "$(fsr_get sleeper)" 137 "the payload's background sleep after kill -9 -1"
assert_contains "$FSR_OUT" "made inside
alive" "the payload after kill -9 -1"
fsr_ok --name rl-c "$img" cat /made-inside
assert_eq "$FSR_OUT" "made inside" "the next run of the container after kill -9 -1"
assert_not_contains "$FSR_ERR" "Transport endpoint is not connected" "the next run"

step "--uidmap: ranges from /etc/subuid through newuidmap; the image's users are real users"
require_cmd newuidmap newgidmap
for f in /etc/subuid /etc/subgid; do
	if ! grep -q "^$u:" "$f" 2>/dev/null; then
		LF_RESTORE+=("sed -i '/^$u:/d' $f")
		echo "$u:300000:65536" >>"$f"
	fi
done
sub=$(grep "^$u:" /etc/subuid | head -n 1 | cut -d: -f2)
subg=$(grep "^$u:" /etc/subgid | head -n 1 | cut -d: -f2)
maps=(--uidmap "0:$uid:1" --uidmap "1:$sub:65536" --gidmap "0:$gid:1" --gidmap "1:$subg:65536")
fsr_ok "${maps[@]}" -u app "$img" sh -c 'id -u; id -g; cat /proc/self/uid_map'
assert_contains "$FSR_OUT" "$FSR_APP_UID
$FSR_APP_GID" "the image's user app under --uidmap"
assert_contains "$FSR_OUT" "$sub" "the container's uid_map under --uidmap"
fsr_ok "${maps[@]}" -u "$FSR_DAEMON_UID" "$img" sh -c 'echo x >/tmp/f && stat -c %u /tmp/f'
assert_eq "$FSR_OUT" "$FSR_DAEMON_UID" "a file made by uid $FSR_DAEMON_UID under --uidmap"
fsr_own_error "a range /etc/subuid does not grant" "" --uidmap "0:$((uid + 1)):1" "$img" true

step "exec and stop as $u: joining a rootless container (its init is not dumpable)"
LF_RESTORE+=("'$FSRUN' stop -t 1 rl-svc >/dev/null 2>&1 || true")
fsr_ok --detach --name rl-svc "$img" sh -c 'echo up >/tmp/state; while :; do sleep 0.1; done'
fsr_ok exec rl-svc sh -c 'echo "$(id -u) $(cat /tmp/state) $(cat /proc/1/comm)"'
assert_eq "$FSR_OUT" "0 up fsrun" "what fsrun exec sees in a rootless container"
fsr_ok exec rl-svc sh -c 'grep -E "^(CapEff|NoNewPrivs|Seccomp):" /proc/self/status'
assert_contains "$FSR_OUT" "CapEff:	0000000000000000" "an exec'ed process's capabilities (rootless)"
assert_contains "$FSR_OUT" "Seccomp:	2" "an exec'ed process's seccomp (rootless)"
fsr_ok stop rl-svc
fsr_own_error "exec after stop" rl-svc exec rl-svc true
run_ok ulf rm rl-svc

step "--userns=host is for root only"
fsr_own_error "--userns=host as $u" "" --userns=host "$img" true

step "the user's store holds only the user's files"
run_ok ulf rm rl-c
left=$(find "$ustore" ! -user "$u" | head -n 5)
[ -z "$left" ] || fail "files in $u's store not owned by $u: $left"
