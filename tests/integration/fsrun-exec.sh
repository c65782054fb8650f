#!/usr/bin/env bash
# A running container: --detach returns once the payload runs, fsrun exec joins its
# namespaces (same root, pid namespace, hostname, user from the image, restrictions), fsrun
# stop ends it through its init; -t gives the payload a terminal of its own; --pids-limit and
# --memory put it in a cgroup that holds.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib-fsrun.sh"
require_fsrun
require_fuse
require_root

img=itest/fsrexec:1
fsr_image "$img" ''

step "--detach: returns once the payload runs, with the container's name"
# A test that fails half-way must not leave its detached containers running.
LF_RESTORE+=("'$FSRUN' stop -t 1 svc >/dev/null 2>&1 || true"
	"'$FSRUN' stop -t 1 stubborn >/dev/null 2>&1 || true")
fsr_ok --detach --name svc --hostname svc-host "$img" sh -c '
	echo started >/tmp/state; trap "echo stopping >/tmp/state; exit 0" TERM
	while :; do sleep 0.1; done'
assert_eq "$FSR_OUT" svc "what fsrun --detach prints"
fsr_ok exec svc cat /tmp/state
assert_eq "$FSR_OUT" started "the detached payload's file, read through fsrun exec"

step "fsrun exec: the container's pid namespace, hostname, root and restrictions"
fsr_ok exec svc sh -c 'echo "pid1=$(cat /proc/1/comm) host=$(hostname)"; ls /proc | grep -c "^[0-9]"
	grep -E "^(NoNewPrivs|Seccomp):" /proc/self/status'
assert_contains "$FSR_OUT" "pid1=fsrun host=svc-host" "what exec sees as pid 1 and hostname"
assert_contains "$FSR_OUT" "NoNewPrivs:	1" "no_new_privs of an exec'ed process"
assert_contains "$FSR_OUT" "Seccomp:	2" "seccomp of an exec'ed process"
fsr_ok exec -u app svc id -u
assert_eq "$FSR_OUT" "$FSR_APP_UID" "exec -u app: the image's user"
fsr_ok exec -e EXTRA=1 -w /etc svc sh -c 'echo "$EXTRA $(pwd)"'
assert_eq "$FSR_OUT" "1 /etc" "exec -e and -w"
fsr_status 7 "the exit status of an exec'ed command" exec svc sh -c 'exit 7'
fsr_status 127 "exec of a command the image lacks" exec svc no-such-command
fsr_own_error "exec into a container that is not running" nope exec nope true

step "a second run of a running container is refused"
fsr_own_error "a second run of 'svc'" svc --name svc "$img" true

step "fsrun stop: SIGTERM reaches the payload, the container stops and unmounts"
fsr_ok stop svc
fsr_own_error "exec after stop" svc exec svc true
left=$(fsr_leftover_mounts)
[ -z "$left" ] || fail "still mounted after fsrun stop: $left"
fsr_ok --name svc --rm "$img" sh -c 'cat /tmp/state 2>/dev/null; true'
assert_eq "$FSR_OUT" "" "/tmp of a stopped container is gone (a tmpfs)"

step "fsrun stop kills a payload that ignores SIGTERM after -t seconds"
fsr_ok --detach --name stubborn "$img" sh -c 'trap "" TERM; while :; do sleep 0.1; done'
start=$SECONDS
fsr_ok stop -t 1 stubborn
[ $((SECONDS - start)) -le 8 ] || fail "fsrun stop -t 1 took $((SECONDS - start)) s"
fsr_own_error "exec after a forced stop" stubborn exec stubborn true
run_ok lf rm stubborn

step "-t: the payload's stdio is a terminal of the container's own devpts"
FSR_STDIN=/dev/null fsr_ok -t "$img" sh -c 'readlink /proc/self/fd/0; stty size 2>/dev/null || true'
assert_contains "$FSR_OUT" /dev/pts/0 "the payload's stdin under -t"

step "-t: the window size is the caller's, and follows SIGWINCH"
fsr_winch=$(python3 - "$FSRUN" "$img" <<'PY'
import fcntl, os, pty, select, signal, struct, sys, termios, time
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], [sys.argv[1], "-t", sys.argv[2], "sh", "-c",
                           "stty size; echo ready; sleep 1; stty size"])
fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 20, 70, 0, 0))
out, deadline, resized = b"", time.time() + 20, False
while time.time() < deadline:
    r, _, _ = select.select([fd], [], [], 0.1)
    if r:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    if b"ready" in out and not resized:
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 111, 0, 0))
        os.kill(pid, signal.SIGWINCH)
        resized = True
os.waitpid(pid, 0)
print(out.decode(errors="replace").replace("\r", ""))
PY
)
assert_contains "$fsr_winch" "20 70" "the payload's window size under -t"
assert_contains "$fsr_winch" "33 111" "the payload's window size after SIGWINCH"

step "kill -9 of fsrun takes the container with it"
fsr_bg "$LF_TMP/k9" "$img" sh -c 'sleep 424242 & echo ready; wait'
deadline=$((SECONDS + 20))
until grep -qx ready "$LF_TMP/k9"; do
	[ $SECONDS -lt $deadline ] || fail "the payload was not ready within 20s"
	sleep 0.05
done
kill -9 "$FSR_PID"
fsr_no_procs "after kill -9 of fsrun" sleep 424242
deadline=$((SECONDS + 20))
while [ -n "$(fsr_leftover_mounts)" ]; do
	[ $SECONDS -lt $deadline ] || fail "still mounted after kill -9 of fsrun: $(fsr_leftover_mounts)"
	sleep 0.05
done
# Its daemon, outside the container, removes the container made for that one run.
deadline=$((SECONDS + 20))
until [ "$(count_containers)" = 0 ]; do
	[ $SECONDS -lt $deadline ] || fail "the container of a killed fsrun is still in the store"
	sleep 0.05
done

step "--pids-limit: the container cannot fork past its limit"
# A failed fork ends the (sub)shell: the children that started are counted in a file, with
# builtins only, so that counting needs no pid of its own.
forks='( for i in 1 2 3 4 5 6 7 8 9 10 11 12; do sleep 5 & echo x >>/tmp/n; done ) 2>/dev/null
	n=0; while read -r l; do n=$((n + 1)); done </tmp/n; echo "started=$n"; kill -9 -1; true'
fsr_ok --pids-limit 8 "$img" sh -c "$forks"
started=$(fsr_get started)
[ -n "$started" ] && [ "$started" -lt 12 ] || fail "--pids-limit 8 let $started of 12 children start"
fsr_ok "$img" sh -c "$forks"
assert_eq "$(fsr_get started)" 12 "children started without --pids-limit"

step "--memory: the container's cgroup has the limit"
fsr_ok --memory 64m "$img" sh -c '
	if l=$(grep ":memory:" /proc/self/cgroup); then
		cat "/sys/fs/cgroup/memory${l#*:memory:}/memory.limit_in_bytes"
	else
		l=$(grep "^0::" /proc/self/cgroup); cat "/sys/fs/cgroup${l#0::}/memory.max"
	fi'
assert_eq "$FSR_OUT" $((64 * 1024 * 1024)) "the memory limit of the container's cgroup"
fsr_no_containers "the end"
