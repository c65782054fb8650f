#!/usr/bin/env bash
# Signals and the init: kill -TERM of fsrun from outside reaches the payload (a trap's exit
# status becomes fsrun's, an untrapped payload gives 143), other signals are forwarded too, a
# payload killed by signal N gives 128+N, nothing of the container is left running or mounted
# afterwards, and the init (pid 1) reaps orphans so that no zombie stays.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib-fsrun.sh"
require_fsrun
require_fuse
require_root

img=itest/fsrsig:1
fsr_image "$img" ''
out=$LF_TMP/sig-out

# A number no other process has as its sleep argument: marks the container's background sleep.
mark=$((400000 + RANDOM))

# signal_run WHAT SIGNAL SCRIPT: runs SCRIPT (which starts `sleep $mark` in the background,
# then says "ready") in the background, waits for "ready", sends SIGNAL to fsrun, waits for
# fsrun to exit (FSR_RC) and checks that nothing of the container is left.
signal_run() {
	local what=$1 sig=$2 script=$3
	rm -f "$out" "$out.err"
	fsr_bg "$out" "$img" sh -c "$script"
	local deadline=$((SECONDS + 20))
	until grep -qx ready "$out"; do
		fsr_alive "$FSR_PID" ||
			fail "$what: fsrun exited before the payload was ready: $(cat "$out" "$out.err")"
		[ $SECONDS -lt $deadline ] || fail "$what: the payload was not ready within 20s"
		sleep 0.05
	done
	[ -n "$(fsr_procs_with sleep "$mark")" ] ||
		fail "$what: the payload's background 'sleep $mark' is not visible from the host"
	kill "-$sig" "$FSR_PID"
	fsr_wait "$what" 20
	log "$what: fsrun exited with $FSR_RC; stdout: $(cat "$out"); stderr: $(cat "$out.err")"
	fsr_no_procs "$what" sleep "$mark"
	fsr_no_containers "$what"
}

step "kill -TERM of fsrun: a payload that traps TERM exits 7, fsrun exits 7"
signal_run "TERM, trapped" TERM "sleep $mark & trap 'echo got-term; exit 7' TERM; echo ready
	while :; do sleep 0.1; done"
assert_eq "$FSR_RC" 7 "fsrun's exit status when the payload's TERM trap exits 7"
assert_contains "$(cat "$out")" got-term "the payload's output after its TERM trap ran"

step "kill -TERM of fsrun: an untrapped payload dies, fsrun exits 143"
signal_run "TERM, not trapped" TERM "sleep $mark & echo ready; while :; do sleep 0.1; done"
assert_eq "$FSR_RC" $((128 + $(kill -l TERM))) "fsrun's exit status when TERM killed the payload"

step "other signals are forwarded: HUP and USR1"
signal_run "HUP, trapped" HUP "sleep $mark & trap 'exit 9' HUP; echo ready
	while :; do sleep 0.1; done"
assert_eq "$FSR_RC" 9 "fsrun's exit status when the payload's HUP trap exits 9"
signal_run "USR1, not trapped" USR1 "sleep $mark & echo ready; while :; do sleep 0.1; done"
assert_eq "$FSR_RC" $((128 + $(kill -l USR1))) "fsrun's exit status when USR1 killed the payload"

step "a payload killed by signal N inside: 128+N"
fsr_status $((128 + $(kill -l KILL))) "a payload that kills itself with SIGKILL" \
	"$img" sh -c 'kill -KILL $$'
fsr_status $((128 + $(kill -l USR2))) "a payload that kills itself with SIGUSR2" \
	"$img" sh -c 'kill -USR2 $$'
fsr_no_containers "after payloads killed by signals"

step "the payload exits while a background child still runs: fsrun returns, nothing is left"
FSR_TIMEOUT=20 fsr_status 5 "a payload that leaves a background sleep behind" \
	"$img" sh -c "sleep $mark & exit 5"
fsr_no_procs "a background child of an exited payload" sleep "$mark"
fsr_no_containers "after a payload that left a background child"

step "init reaps orphaned zombies"
fsr_ok "$img" sh -c '
	(sleep 0.5 & echo $! >/tmp/orphan)
	o=$(cat /tmp/orphan)
	read -r pid comm state ppid rest </proc/$o/stat
	echo "orphan_ppid=$ppid"
	i=0
	while [ -e /proc/$o ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	if [ -e /proc/$o ]; then echo "orphan=$(cat /proc/$o/stat)"; else echo orphan=reaped; fi
	z=0
	for f in /proc/[0-9]*/stat; do
		read -r pid comm state rest 2>/dev/null <$f || continue
		[ "$state" = Z ] && z=$((z + 1))
	done
	echo "zombies=$z"'
assert_eq "$(fsr_get orphan_ppid)" 1 "the parent of an orphan (the init)"
assert_eq "$(fsr_get orphan)" reaped "the orphan, 5 s after it exited"
assert_eq "$(fsr_get zombies)" 0 "zombies in the container"
