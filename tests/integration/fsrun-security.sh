#!/usr/bin/env bash
# Attacks on fsrun, each tried and each asserted to fail, as root in the default mode and (where
# it matters most) with --userns=host: image symlinks at /etc/resolv.conf, /etc/hosts,
# /etc/hostname, /dev/null, /dev and /tmp that point at the host; a bind or tmpfs destination
# behind such a symlink; fds leaked by fsrun's caller; WorkingDir through /proc/self/fd or a
# symlink out of the root; /proc/1 (the init) as a way out; TIOCSTI on the caller's terminal;
# a setuid-root binary run as uid 1000; kill -9 -1 against the FUSE server; and what the payload
# holds: the OCI default capabilities (or fewer), no_new_privs, a seccomp filter, masked and
# read-only /proc paths.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib-fsrun.sh"
require_fsrun
require_fuse
require_root
require_cmd python3

# Host paths the attacks aim at, unique to this run, removed at exit.
pwn=/tmp/fsrun-pwn.$$.$RANDOM
LF_RESTORE+=("rm -rf '$pwn'.*")
hostdir=$LF_TMP/hostdir
mkdir -p "$hostdir"
: >"$hostdir/HOST_MARKER_FILE"
# Enough ../ to climb from any depth to the real root.
up=$(printf '../%.0s' {1..40})
# Relative symlink targets that climb out of any root to the host's $1.
climb() { printf '%s%s' "${up%/}" "$1"; }

img=itest/fsrsec:1
fsr_image "$img" ''
# The static helpers (tests/integration/fsrun-helpers), a TIOCSTI prober and a setuid-root id
# printer, in an image of their own.
l=$(fsr_layer helpers)
mkdir -p "$l/usr/bin"
ids_bin=$(fsr_compile ids)
cp "$(fsr_compile tiocsti)" "$l/usr/bin/tiocsti"
cp "$ids_bin" "$l/usr/bin/suid-ids"
chown 0:0 "$l/usr/bin/tiocsti" "$l/usr/bin/suid-ids"
chmod 0755 "$l/usr/bin/tiocsti"
chmod 4755 "$l/usr/bin/suid-ids"
fsr_image itest/fsrsec-helpers:1 '' "$l"

# The modes every attack below is tried in (root's default, and no user namespace at all).
MODES=(default userns-host)
margs_of() { if [ "$1" = default ]; then MARGS=(); else MARGS=(--userns=host); fi; }

# fsr_ok_or_refused WHAT ARGS...: fsrun either runs (status 0) or refuses with 125 and one line.
fsr_ok_or_refused() {
	local what=$1 n
	shift
	fsr_run "$@"
	case $FSR_RC in
	0) ;;
	125)
		n=$(printf '%s' "$FSR_ERR" | grep -c . || true)
		[ "$n" = 1 ] || fail "$what: refused with $n lines of error: $FSR_ERR"
		log "$what: refused: $FSR_ERR"
		;;
	*) fail "$what: fsrun exited with $FSR_RC (stdout: $FSR_OUT; stderr: $FSR_ERR)" ;;
	esac
}

step "/etc/resolv.conf, /etc/hosts, /etc/hostname as symlinks to host files"
l=$(fsr_layer etc-links)
mkdir -p "$l/etc"
ln -s "$(climb "$pwn.resolv")" "$l/etc/resolv.conf"
ln -s "$pwn.hosts" "$l/etc/hosts"
ln -s "$(climb "$pwn.hostname")" "$l/etc/hostname"
fsr_image itest/fsrsec-etc:1 '' "$l"
printf 'original\n' >"$pwn.hostname"
for mode in "${MODES[@]}"; do
	margs_of "$mode"
	fsr_ok_or_refused "/etc symlinks ($mode)" "${MARGS[@]}" --hostname fsr-evil \
		itest/fsrsec-etc:1 sh -c 'cat /etc/resolv.conf /etc/hosts /etc/hostname; true'
	assert_missing "$pwn.resolv"
	assert_missing "$pwn.hosts"
	assert_file_eq "$pwn.hostname" original
done

step "/dev/null a symlink to a file of the image, /dev/zero one to a host file"
l=$(fsr_layer devnull)
mkdir -p "$l/dev"
printf 'victim\n' >"$l/victim"
ln -s /victim "$l/dev/null"
ln -s "$(climb "$pwn.zero")" "$l/dev/zero"
fsr_image itest/fsrsec-devnull:1 '' "$l"
printf 'original\n' >"$pwn.zero"
for mode in "${MODES[@]}"; do
	margs_of "$mode"
	fsr_ok "${MARGS[@]}" itest/fsrsec-devnull:1 sh -c '
		stat -c "%F %t:%T" /dev/null /dev/zero
		echo written through >/dev/null; echo written through >/dev/zero; cat /victim'
	assert_eq "$FSR_OUT" "character special file 1:3
character special file 1:5
victim" "/dev/null and /dev/zero, and /victim after writing to them ($mode)"
	assert_file_eq "$pwn.zero" original
done

step "/dev and /tmp symlinks to host directories"
mkdir -p "$pwn.devdir" "$pwn.tmpdir"
l=$(fsr_layer devlink)
ln -s "$(climb "$pwn.devdir")" "$l/dev"
ln -s "$pwn.tmpdir" "$l/tmp"
fsr_image itest/fsrsec-devlink:1 '' "$l"
for mode in "${MODES[@]}"; do
	margs_of "$mode"
	fsr_ok_or_refused "/dev and /tmp symlinks ($mode)" "${MARGS[@]}" itest/fsrsec-devlink:1 \
		sh -c 'stat -c "%F %t:%T" /dev/null; echo x 2>/dev/null >/tmp/fsr-tmp-file; true'
	[ "$FSR_RC" != 0 ] ||
		assert_eq "$FSR_OUT" "character special file 1:3" "/dev/null with /dev a symlink ($mode)"
	assert_eq "$(ls -A "$pwn.devdir" "$pwn.tmpdir")" "$pwn.devdir:

$pwn.tmpdir:" "the host directories that /dev and /tmp of the image point to ($mode)"
done

step "a bind and a tmpfs whose destination is behind a symlink to a host directory"
mkdir -p "$pwn.bindtarget"
l=$(fsr_layer bindlink)
mkdir -p "$l/mnt"
ln -s "$(climb "$pwn.bindtarget")" "$l/mnt/escape"
fsr_image itest/fsrsec-bindlink:1 '' "$l"
printf 'a bound file\n' >"$LF_TMP/bound-file"
for mode in "${MODES[@]}"; do
	margs_of "$mode"
	fsr_ok_or_refused "-v onto /mnt/escape/new-file ($mode)" "${MARGS[@]}" \
		-v "$LF_TMP/bound-file:/mnt/escape/new-file" itest/fsrsec-bindlink:1 true
	fsr_ok_or_refused "--tmpfs /mnt/escape/new-dir ($mode)" "${MARGS[@]}" \
		--tmpfs /mnt/escape/new-dir itest/fsrsec-bindlink:1 true
	assert_eq "$(ls -A "$pwn.bindtarget")" "" \
		"the host directory behind the image's /mnt/escape ($mode)"
done

step "fds leaked by fsrun's caller are not in the payload"
leak=$LF_TMP/leaked-file
: >"$leak"
# the names in `ls -l` lines of symlinks (the 9th field; the fd ls itself opened is gone by the
# time ls reads the links, so its line has no "-> target")
fdnums() { awk '/^l/ { print $9 }' | sort -n | tr '\n' ' '; }
for mode in "${MODES[@]}"; do
	margs_of "$mode"
	fsr_ok "${MARGS[@]}" "$img" ls -l /proc/self/fd 3>"$leak" 5<"$leak" 9>>"$leak"
	assert_eq "$(printf '%s\n' "$FSR_OUT" | fdnums)" "0 1 2 3 " \
		"the fds of ls /proc/self/fd (3 is the one ls opens) ($mode)"
	assert_not_contains "$FSR_OUT" leaked-file "the fds of the payload ($mode)"
done

step "WorkingDir through /proc/self/fd/N or a symlink out of the root: refused or inside"
l=$(fsr_layer escapes)
ln -s "$(climb "$hostdir")" "$l/escape-rel"
ln -s "$hostdir" "$l/escape-abs"
fsr_image itest/fsrsec-wd-fd:1 '{WorkingDir: "/proc/self/fd/3"}'
fsr_image itest/fsrsec-wd-rel:1 '{WorkingDir: "/escape-rel"}' "$l"
fsr_image itest/fsrsec-wd-dots:1 "{WorkingDir: \"/$(climb "$hostdir")\"}"
# Prints where ../../.. from the working directory ends up, and the root's identity: equal
# when the working directory is inside the root.
wd_script="echo \"top=\$(stat -c %d:%i $up)\"; echo \"root=\$(stat -c %d:%i /)\"; ls -a"
wd_check() { # WHAT ARGS...
	local what=$1
	shift
	fsr_ok_or_refused "$what" "$@" sh -c "$wd_script"
	[ "$FSR_RC" = 0 ] || return 0
	assert_not_contains "$FSR_OUT" HOST_MARKER_FILE "$what: the working directory"
	assert_eq "$(fsr_get top)" "$(fsr_get root)" "$what: where .. from the working directory leads"
}
wd_check "WorkingDir /proc/self/fd/3 with fd 3 a host directory" itest/fsrsec-wd-fd:1 3<"$hostdir"
wd_check "WorkingDir /proc/self/fd/3" itest/fsrsec-wd-fd:1
wd_check "WorkingDir a relative symlink out of the root" itest/fsrsec-wd-rel:1
wd_check "WorkingDir /../../..$hostdir" itest/fsrsec-wd-dots:1
wd_check "-w /proc/self/fd/3 with fd 3 a host directory" --userns=host -w /proc/self/fd/3 \
	"$img" 3<"$hostdir"
for n in 3 4 5 6 7; do
	wd_check "-w /proc/self/fd/$n" -w "/proc/self/fd/$n" "$img"
done
wd_check "-w an absolute symlink to a host directory" -w /escape-abs itest/fsrsec-wd-rel:1

step "/proc/1 (the init): exe unreadable, root, cwd and fds lead nowhere outside"
# then: caps, no_new_privs, seccomp, masked and read-only /proc paths, in the same run
proc_script='
	echo "exe_bytes=$(head -c 16 /proc/1/exe 2>/dev/null | wc -c)"
	r=$(stat -c %d:%i /)
	for p in /proc/1/root /proc/1/cwd /proc/1/fd/* /proc/self/fd/*; do
		t=$(stat -L -c %d:%i "$p/'"$up"'" 2>/dev/null) || continue
		[ "$t" = "$r" ] || echo "escape=$p"
	done
	for p in /proc/kcore /proc/keys /proc/timer_list /proc/sched_debug /proc/scsi /proc/acpi; do
		if [ -d $p ]; then n=$(ls -A $p 2>/dev/null | wc -l)
		elif [ -e $p ]; then n=$(head -c 4096 $p 2>/dev/null | wc -c)
		else n=absent; fi
		echo "masked $p=$n"
	done
	for p in /proc/sys /proc/sysrq-trigger /proc/irq /proc/bus; do
		[ -e $p ] && echo "ro $p"
	done
	if echo fsr-evil 2>/dev/null >/proc/sys/kernel/domainname; then echo sysw=ok; else echo sysw=failed; fi
	if [ ! -e /proc/sysrq-trigger ]; then echo sysrq=absent
	elif echo h 2>/dev/null >/proc/sysrq-trigger; then echo sysrq=ok; else echo sysrq=failed; fi
	echo ==status; cat /proc/self/status
	echo ==mountinfo; cat /proc/self/mountinfo'
host_domain=$(cat /proc/sys/kernel/domainname)
for mode in "${MODES[@]}"; do
	margs_of "$mode"
	fsr_ok "${MARGS[@]}" "$img" sh -c "$proc_script"
	assert_eq "$(fsr_get exe_bytes)" 0 "bytes read from /proc/1/exe ($mode)"
	assert_eq "$(printf '%s\n' "$FSR_OUT" | grep '^escape=' || true)" "" \
		"paths of /proc that lead out of the root ($mode)"
	while read -r p n; do
		[ "$n" = 0 ] || [ "$n" = absent ] || fail "$p is not masked ($mode): read $n bytes or entries"
	done < <(printf '%s\n' "$FSR_OUT" | sed -n 's/^masked \(.*\)=\(.*\)$/\1 \2/p')
	mi=$(fsr_section mountinfo)
	for p in $(printf '%s\n' "$FSR_OUT" | sed -n 's/^ro //p'); do
		fsr_assert_mount "$mi" "$p" any ro "$p ($mode)"
	done
	assert_eq "$(fsr_get sysw)" failed "writing /proc/sys/kernel/domainname ($mode)"
	assert_ne "$(fsr_get sysrq)" ok "writing /proc/sysrq-trigger ($mode)"
	st=$(fsr_section status)
	assert_eq "$(fsr_status_field CapEff "$st")" "$FSR_OCI_CAPS" "CapEff of a root payload ($mode)"
	assert_eq "$(fsr_status_field CapPrm "$st")" "$FSR_OCI_CAPS" "CapPrm of a root payload ($mode)"
	assert_eq "$(fsr_status_field CapBnd "$st")" "$FSR_OCI_CAPS" "CapBnd of a root payload ($mode)"
	assert_eq "$(fsr_status_field NoNewPrivs "$st")" 1 "NoNewPrivs ($mode)"
	assert_eq "$(fsr_status_field Seccomp "$st")" 2 "Seccomp ($mode)"
done
assert_eq "$(cat /proc/sys/kernel/domainname)" "$host_domain" "the host's domainname"

step "--cap-drop, --cap-add, and a non-root user: fewer capabilities"
caps_run() { # ARGS...: fsrun ARGS cat /proc/self/status; sets ST
	fsr_ok "$@" cat /proc/self/status
	ST=$FSR_OUT
}
caps_run --cap-drop ALL "$img"
assert_eq "$(fsr_status_field CapEff "$ST")" 0000000000000000 "CapEff with --cap-drop ALL"
assert_eq "$(fsr_status_field CapPrm "$ST")" 0000000000000000 "CapPrm with --cap-drop ALL"
caps_run --cap-drop CHOWN "$img"
assert_eq "$(fsr_status_field CapEff "$ST")" "$(printf '%016x' $((0x$FSR_OCI_CAPS & ~1)))" \
	"CapEff with --cap-drop CHOWN (bit 0)"
caps_run --cap-add NET_ADMIN "$img"
assert_eq "$(fsr_status_field CapEff "$ST")" "$(printf '%016x' $((0x$FSR_OCI_CAPS | 1 << 12)))" \
	"CapEff with --cap-add NET_ADMIN (bit 12)"
caps_run -u 1000 "$img"
assert_eq "$(fsr_status_field CapEff "$ST")" 0000000000000000 "CapEff of a payload run as uid 1000"
assert_eq "$(fsr_status_field NoNewPrivs "$ST")" 1 "NoNewPrivs of a payload run as uid 1000"
assert_eq "$(fsr_status_field Seccomp "$ST")" 2 "Seccomp of a payload run as uid 1000"

step "TIOCSTI on the caller's terminal fails"
cat >"$LF_TMP/fsr/inpty.py" <<'PY'
# inpty.py CMD...: runs CMD on a new pseudo-terminal (its controlling terminal, and its stdin,
# stdout and stderr), prints what it wrote without the CRs, exits with its status.
import os, pty, sys
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
out = b""
while True:
    try:
        b = os.read(fd, 65536)
    except OSError:
        break
    if not b:
        break
    out += b
_, st = os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors="replace").replace("\r", ""))
sys.exit(os.WEXITSTATUS(st) if os.WIFEXITED(st) else 128 + os.WTERMSIG(st))
PY
for mode in "${MODES[@]}"; do
	margs_of "$mode"
	rc=0
	out=$(timeout -k 5 60 python3 "$LF_TMP/fsr/inpty.py" "$FSRUN" "${MARGS[@]}" \
		itest/fsrsec-helpers:1 /usr/bin/tiocsti </dev/null) || rc=$?
	log "tiocsti ($mode): $out"
	assert_eq "$rc" 0 "fsrun on a terminal running the TIOCSTI helper ($mode): $out"
	assert_contains "$out" "fd0 tty=1 " "the payload's stdin is the caller's terminal ($mode)"
	assert_not_contains "$out" "tiocsti=ok" "TIOCSTI from the payload ($mode)"
done

step "a setuid-root binary run as uid 1000 does not get euid 0"
# Once from the image (a FUSE mount, which may well be nosuid) and once from a bind of a host
# directory (a mount without nosuid unless fsrun adds it): no_new_privs must stop both. The
# host copy is given to the host uid that is 0 in the container (from its uid_map; a named
# container keeps its ids), so that it is setuid root inside.
suiddir=$LF_TMP/suid-dir
mkdir -p "$suiddir"
chmod 0755 "$suiddir"
cp "$ids_bin" "$suiddir/suid-ids"
for mode in "${MODES[@]}"; do
	margs_of "$mode"
	fsr_ok "${MARGS[@]}" --name "fsr-suid-$mode" itest/fsrsec-helpers:1 \
		sh -c 'cat /proc/self/uid_map; echo ==gid; cat /proc/self/gid_map'
	uid0=$(printf '%s\n' "$FSR_OUT" | sed '/^==gid$/,$d' | awk '$1 == 0 { print $2 }')
	gid0=$(fsr_section gid | awk '$1 == 0 { print $2 }')
	[ -n "$uid0" ] && [ -n "$gid0" ] ||
		fail "no host ids for 0 in the container's uid_map and gid_map: $FSR_OUT"
	chown "$uid0:$gid0" "$suiddir/suid-ids"
	chmod 4755 "$suiddir/suid-ids"
	for bin in /usr/bin/suid-ids /mnt/a/suid-ids; do
		fsr_ok "${MARGS[@]}" --name "fsr-suid-$mode" -u 1000 -v "$suiddir:/mnt/a" \
			itest/fsrsec-helpers:1 sh -c "stat -c mode=%a $bin; stat -c owner=%u $bin; $bin"
		assert_eq "$(fsr_get mode) $(fsr_get owner)" "4755 0" "$bin in the container ($mode)"
		assert_eq "$(fsr_get euid)" 1000 "the euid of setuid-root $bin run as uid 1000 ($mode)"
		assert_eq "$(fsr_get suid)" 1000 "the saved uid of setuid-root $bin run as uid 1000 ($mode)"
	done
	run_ok lf rm "fsr-suid-$mode"
done

step "kill -9 -1 inside does not kill the FUSE server"
for mode in "${MODES[@]}"; do
	margs_of "$mode"
	fsr_run "${MARGS[@]}" --name "fsr-kill-$mode" "$img" sh -c '
		echo before >/before; sleep 30 & s=$!
		kill -9 -1; wait $s; echo "sleeper=$?"; cat /before; echo alive'
	assert_not_contains "$FSR_OUT$FSR_ERR" "Transport endpoint is not connected" \
		"the run that did kill -9 -1 ($mode)"
	assert_eq "$FSR_RC" 0 "fsrun's status after kill -9 -1 inside ($mode) (stderr: $FSR_ERR)"
	assert_eq "$(fsr_get sleeper)" 137 "the payload's background sleep after kill -9 -1 ($mode)"
	assert_contains "$FSR_OUT" "before
alive" "the payload after kill -9 -1 ($mode)"
	fsr_ok "${MARGS[@]}" --name "fsr-kill-$mode" "$img" cat /before
	assert_eq "$FSR_OUT" before "the next run of the container after kill -9 -1 ($mode)"
	assert_not_contains "$FSR_ERR" "Transport endpoint is not connected" "the next run ($mode)"
	run_ok lf rm "fsr-kill-$mode"
done

fsr_no_containers "at the end"
