#!/usr/bin/env bash
# fsrun basics: it runs the image's Cmd or the given command in a fresh container and exits with
# its status (125 and one line for its own errors, 126 for a command that cannot be executed,
# 127 for one that is not found), passes stdin, stdout and stderr through, removes the
# container afterwards, runs on a plain directory with --root; and inside, the payload is pid 2
# under an init (pid 1) with a /proc of its own, a tmpfs /dev holding the real null zero full
# random urandom tty, devpts, shm and the /dev/fd links, a tmpfs /tmp, a read-only /sys, and
# /etc/hosts, /etc/hostname and /etc/resolv.conf made for the container.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib-fsrun.sh"
require_fsrun
require_fuse
require_root

img=itest/fsrbasic:1
fsr_image "$img" '{Cmd: ["/bin/echo", "hello from the image Cmd"]}'

step "no command: the image's Cmd runs; the container is removed afterwards"
fsr_ok "$img"
assert_eq "$FSR_OUT" "hello from the image Cmd" "output of the image's Cmd"
fsr_no_containers "after a run without --name"

step "a command replaces the Cmd; its exit status is fsrun's"
fsr_ok "$img" echo replaced
assert_eq "$FSR_OUT" replaced "output of 'echo replaced'"
fsr_status 3 "sh -c 'exit 3'" "$img" sh -c 'exit 3'
fsr_status 1 "false" "$img" false
fsr_status 0 "true" "$img" true
fsr_no_containers "after runs that failed"

step "arguments after IMAGE belong to the command, with or without --"
fsr_ok "$img" echo -e --rm -x
assert_eq "$FSR_OUT" "--rm -x" "options after IMAGE are the command's arguments"
fsr_ok "$img" -- sh -c 'echo "$0|$1"' -n --name
assert_eq "$FSR_OUT" "-n|--name" "arguments after --"

step "stdin, stdout and stderr pass through"
printf 'line one\nline two\n' >"$LF_TMP/stdin"
FSR_STDIN=$LF_TMP/stdin fsr_ok "$img" sh -c 'cat; echo to-stderr >&2'
assert_eq "$FSR_OUT" "line one
line two" "stdin copied to stdout by cat"
assert_contains "$FSR_ERR" to-stderr "the payload's stderr"

step "126: exists but cannot be executed; 127: not found"
fsr_status 126 "a 0644 file" "$img" /bin/notexec
fsr_status 126 "a directory" "$img" /etc
fsr_status 127 "an absolute path that does not exist" "$img" /no/such/command
fsr_status 127 "a name not in PATH" "$img" no-such-command
fsr_no_containers "after 126 and 127"

step "fsrun's own errors: 125 and a one-line message"
fsr_own_error "an unknown option" --no-such-option --no-such-option "$img" true
fsr_own_error "an unknown image" itest/no-such-image itest/no-such-image:1 true
fsr_own_error "--net with a bad value" bogus --net bogus "$img" true
fsr_status 125 "no arguments at all"
fsr_no_containers "after fsrun's own errors"

step "the store: --store, else \$LAYERFS_STORE"
run_ok "$LAYERFS" --store "$LF_TMP/other-store" import "$LF_TMP/fsr/layout1" itest/other:1
LAYERFS_STORE=$LF_TMP/other-store fsr_own_error "an image that is not in \$LAYERFS_STORE" \
	itest/fsrbasic "$img" true
LAYERFS_STORE=$LF_TMP/other-store fsr_ok --store "$LF_STORE" "$img" echo via --store
assert_eq "$FSR_OUT" "via --store" "output with --store overriding \$LAYERFS_STORE"
fsr_no_containers "after --store"

step "--root DIR: an existing directory as the root, no layerfs container"
rd=$LF_TMP/rootdir
cp -a "$LF_TMP/fsr/base" "$rd"
# world-writable: the write below must not depend on the ids the container runs with
mkdir -m 1777 "$rd/out"
fsr_ok --root "$rd" cat /.fsrun-root-marker
assert_eq "$FSR_OUT" "the root of the container" "a file of the --root directory read inside"
fsr_ok --root "$rd" -- sh -c 'echo "pid=$$"; echo written inside >/out/written-inside'
assert_eq "$(fsr_get pid)" 2 "the payload's pid with --root"
assert_file_eq "$rd/out/written-inside" "written inside"
fsr_status 4 "exit status with --root" --root "$rd" sh -c 'exit 4'
fsr_status 127 "a missing command with --root" --root "$rd" /no/such/command
assert_eq "$(count_containers)" 0 "containers in the store after --root runs"
fsr_own_error "--root without a command" "" --root "$rd"
fsr_own_error "--root of a missing directory" "$LF_TMP/no-such-root" \
	--root "$LF_TMP/no-such-root" true

step "pid 1 is the init, the payload pid 2; /proc shows only the container's processes"
fsr_ok "$img" ls /proc
assert_eq "$(printf '%s\n' "$FSR_OUT" | grep -xE '[0-9]+' | sort -n | tr '\n' ' ')" "1 2 " \
	"the pids in the container's /proc (init and ls)"
fsr_ok "$img" sh -c 'echo "pid=$$ ppid=$PPID"'
assert_eq "$FSR_OUT" "pid=2 ppid=1" "the payload's pid and parent"

step "inside: /dev, /tmp, /sys and the generated /etc files"
host_uts=$(hostname)
fsr_ok --name fsr-basic-c1 --rm "$img" sh -c '
	echo ==mountinfo; cat /proc/self/mountinfo
	echo ==dev; stat -c "%n|%F|%t:%T" /dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty
	echo ==devls; ls -A /dev
	echo ==links
	for l in /dev/fd /dev/stdin /dev/stdout /dev/stderr; do echo "$l=$(readlink $l)"; done
	echo ==io
	echo "full=$(head -c 1 /dev/zero 2>&1 >/dev/full)"
	echo "zero=$(head -c 1000 /dev/zero | wc -c)"
	echo "urandom=$(head -c 16 /dev/urandom | wc -c)"
	echo "null=$(echo gone >/dev/null && wc -c </dev/null)"
	echo shm-data >/dev/shm/f && echo "shm=$(cat /dev/shm/f)"
	echo tmp-data >/tmp/f && echo "tmp=$(cat /tmp/f)"
	echo "uts=$(hostname)"
	echo ==hostname; cat /etc/hostname
	echo ==hosts; cat /etc/hosts
	echo ==resolv; cat /etc/resolv.conf'
mi=$(fsr_section mountinfo)
io=$(fsr_section io)
fsr_assert_mount "$mi" /dev tmpfs any "/dev"
fsr_assert_mount "$mi" /dev/pts devpts any "/dev/pts"
fsr_assert_mount "$mi" /dev/shm tmpfs rw "/dev/shm"
fsr_assert_mount "$mi" /tmp tmpfs rw "/tmp"
fsr_assert_mount "$mi" /proc proc any "/proc"
fsr_assert_mount "$mi" /sys sysfs ro "/sys"
# and whatever is mounted under /sys
for sub in $(printf '%s\n' "$mi" | awk 'index($5, "/sys/") == 1 { print $5 }'); do
	fsr_assert_mount "$mi" "$sub" any ro "$sub, under /sys"
done
assert_eq "$(fsr_section dev)" \
	"$(stat -c '%n|%F|%t:%T' /dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty)" \
	"the devices of the container's /dev (as the host's real ones)"
allowed=" null zero full random urandom tty pts shm fd stdin stdout stderr ptmx console mqueue core "
for e in $(fsr_section devls); do
	[[ "$allowed" == *" $e "* ]] || fail "the container's /dev has '$e', which it must not"
done
assert_eq "$(fsr_section links)" "/dev/fd=/proc/self/fd
/dev/stdin=/proc/self/fd/0
/dev/stdout=/proc/self/fd/1
/dev/stderr=/proc/self/fd/2" "the /dev/fd, stdin, stdout and stderr links"
assert_contains "$(fsr_get full "$io")" "No space left on device" "writing /dev/full"
assert_eq "$(fsr_get zero "$io")" 1000 "bytes read from /dev/zero"
assert_eq "$(fsr_get urandom "$io")" 16 "bytes read from /dev/urandom"
assert_eq "$(fsr_get null "$io")" 0 "bytes read from /dev/null after writing to it"
assert_eq "$(fsr_get shm "$io")" shm-data "a file written in /dev/shm"
assert_eq "$(fsr_get tmp "$io")" tmp-data "a file written in /tmp"
assert_eq "$(fsr_get uts "$io")" fsr-basic-c1 "the hostname defaults to the container name"
assert_eq "$(fsr_section hostname)" fsr-basic-c1 "/etc/hostname"
hosts=$(fsr_section hosts)
assert_contains "$hosts" localhost "/etc/hosts"
assert_not_contains "$hosts" image-hosts-marker "/etc/hosts (the image's must be replaced)"
assert_not_contains "$(fsr_section resolv)" image-resolv-marker \
	"/etc/resolv.conf (the image's must be replaced)"
assert_eq "$(hostname)" "$host_uts" "the host's hostname after the run"
fsr_no_containers "after --name with --rm"

step "without --name the hostname is the generated container name, /etc/hostname says the same"
fsr_ok "$img" sh -c 'echo "uts=$(hostname)"; echo "file=$(cat /etc/hostname)"'
[ -n "$(fsr_get uts)" ] || fail "the container has an empty hostname"
assert_eq "$(fsr_get file)" "$(fsr_get uts)" "/etc/hostname and the hostname"
assert_ne "$(fsr_get uts)" image-hostname-marker "the hostname (not the image's /etc/hostname)"
