#!/usr/bin/env bash
# fsrun and the image config, and the options that change what the payload gets: Entrypoint and
# Cmd (and --entrypoint), Env (-e, --env-file; PATH and HOME added only when missing, HOME from
# the image's passwd), WorkingDir (-w), User (-u, resolved in the image's /etc/passwd and
# /etc/group, never the host's), --read-only, --name (changes persist to the next run of that
# name; --rm removes it), --hostname, -v/--bind (and :ro), --tmpfs, --net none|host and
# --preserve-fds.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib-fsrun.sh"
require_fsrun
require_fuse
require_root

plain=itest/fsrcfg-plain:1
fsr_image "$plain" ''
fsr_image itest/fsrcfg-ep:1 '{Entrypoint: ["/bin/echo", "ep"], Cmd: ["cmd1", "cmd2"]}'
fsr_image itest/fsrcfg-env:1 '{Env: ["FOO=from-image", "PATH=/bin:/custom/bin", "HOME=/image-home"]}'
fsr_image itest/fsrcfg-bare:1 '{Env: ["FOO=bare"], Cmd: ["/bin/env"]}'
fsr_image itest/fsrcfg-wd:1 '{WorkingDir: "/home/app", Cmd: ["/bin/pwd"]}'
fsr_image itest/fsrcfg-badwd:1 '{WorkingDir: "/no/such/dir"}'
fsr_image itest/fsrcfg-user:1 '{User: "app"}'
fsr_image itest/fsrcfg-usergrp:1 '{User: "daemon:root"}'
ids='echo "$(id -u):$(id -g)"'

step "Entrypoint + Cmd; arguments replace Cmd only; --entrypoint replaces Entrypoint and drops Cmd"
fsr_ok itest/fsrcfg-ep:1
assert_eq "$FSR_OUT" "ep cmd1 cmd2" "Entrypoint + Cmd"
fsr_ok itest/fsrcfg-ep:1 arg1 arg2
assert_eq "$FSR_OUT" "ep arg1 arg2" "Entrypoint + the command line's arguments"
fsr_ok --entrypoint /bin/echo itest/fsrcfg-ep:1
assert_eq "$FSR_OUT" "" "--entrypoint /bin/echo without arguments (the image's Cmd is dropped)"
fsr_ok --entrypoint /bin/echo itest/fsrcfg-ep:1 x y
assert_eq "$FSR_OUT" "x y" "--entrypoint /bin/echo x y"

step "Env: the config's, -e K=V over it, -e K copied from fsrun's environment, nothing else"
printf '# a comment line\nFILE_A=1\nFILE_B=two words\nFILE_C=x=y\n' >"$LF_TMP/env-file"
FSR_HOST_ONLY=must-not-leak FSR_COPIED=from-fsrun fsr_ok -e FOO=from-cli -e FSR_COPIED \
	--env NEW=a=b --env-file "$LF_TMP/env-file" itest/fsrcfg-env:1 env
assert_eq "$(fsr_get FOO)" from-cli "FOO (-e over the image's Env)"
assert_eq "$(fsr_get FSR_COPIED)" from-fsrun "-e FSR_COPIED (copied from fsrun's environment)"
assert_eq "$(fsr_get NEW)" a=b "--env NEW=a=b"
assert_eq "$(fsr_get FILE_A)" 1 "FILE_A from --env-file"
assert_eq "$(fsr_get FILE_B)" "two words" "FILE_B from --env-file"
assert_eq "$(fsr_get FILE_C)" x=y "FILE_C from --env-file"
assert_eq "$(fsr_get PATH)" /bin:/custom/bin "PATH from the image (not replaced)"
assert_eq "$(fsr_get HOME)" /image-home "HOME from the image (not replaced)"
assert_not_contains "$FSR_OUT" FSR_HOST_ONLY "the payload's environment"
assert_not_contains "$FSR_OUT" must-not-leak "the payload's environment"
[ -z "$(printf '%s\n' "$FSR_OUT" | grep '^#' || true)" ] ||
	fail "a comment of the --env-file became a variable: $FSR_OUT"
fsr_ok itest/fsrcfg-env:1 env
assert_eq "$(fsr_get FOO)" from-image "FOO from the image's Env"

step "PATH and HOME are added when the config has none; HOME from the image's passwd"
fsr_ok itest/fsrcfg-bare:1
assert_eq "$(fsr_get FOO)" bare "FOO from the image's Env"
assert_contains ":$(fsr_get PATH):" ":/bin:" "the default PATH"
assert_eq "$(fsr_get HOME)" /root "HOME of root (the image's /etc/passwd)"
fsr_ok itest/fsrcfg-bare:1 ls /.fsrun-root-marker
assert_eq "$FSR_OUT" /.fsrun-root-marker "a command found through the default PATH"
fsr_ok -u app itest/fsrcfg-bare:1 env
assert_eq "$(fsr_get HOME)" /home/app "HOME of app (the image's /etc/passwd)"
fsr_ok -u 1000 itest/fsrcfg-bare:1 env
assert_eq "$(fsr_get HOME)" / "HOME of a uid that has no passwd entry"

step "WorkingDir and -w"
fsr_ok itest/fsrcfg-wd:1
assert_eq "$FSR_OUT" /home/app "the working directory from the config"
fsr_ok -w /mnt/a itest/fsrcfg-wd:1 pwd
assert_eq "$FSR_OUT" /mnt/a "-w over the config's WorkingDir"
fsr_ok --workdir /tmp "$plain" pwd
assert_eq "$FSR_OUT" /tmp "--workdir /tmp"
# As docker and podman: a working directory the image lacks is created (owned by root)...
fsr_ok itest/fsrcfg-badwd:1 sh -c 'pwd; stat -c %u:%g .'
assert_eq "$FSR_OUT" "/no/such/dir
0:0" "a WorkingDir the image lacks is created"
fsr_ok -w /no/such/dir2 "$plain" pwd
assert_eq "$FSR_OUT" /no/such/dir2 "-w of a directory the image lacks is created"
# ...but not on a read-only root, where it is fsrun's own error.
fsr_own_error "a missing -w on a read-only root" /no/such/dir3 --read-only -w /no/such/dir3 \
	"$plain" true

step "User and -u: names and groups resolved in the image, never on the host"
fsr_ok itest/fsrcfg-user:1 sh -c "$ids"
assert_eq "$FSR_OUT" "$FSR_APP_UID:$FSR_APP_GID" "User app from the config"
fsr_ok itest/fsrcfg-usergrp:1 sh -c "$ids"
assert_eq "$FSR_OUT" "$FSR_DAEMON_UID:0" "User daemon:root from the config"
fsr_ok -u root itest/fsrcfg-user:1 sh -c "$ids"
assert_eq "$FSR_OUT" "0:0" "-u root over the config's User"
fsr_ok --user app:root "$plain" sh -c "$ids"
assert_eq "$FSR_OUT" "$FSR_APP_UID:0" "-u app:root"
fsr_ok -u "$FSR_APP_UID:appgrp" "$plain" sh -c "$ids"
assert_eq "$FSR_OUT" "$FSR_APP_UID:$FSR_APP_GID" "-u $FSR_APP_UID:appgrp"
fsr_ok -u 1000:1001 "$plain" sh -c "$ids"
assert_eq "$FSR_OUT" "1000:1001" "-u 1000:1001"
fsr_ok -u daemon "$plain" sh -c "$ids"
assert_eq "$FSR_OUT" "$FSR_DAEMON_UID:$FSR_DAEMON_GID" \
	"-u daemon (the image's daemon; the host's is $(id -u daemon 2>/dev/null || echo absent))"
fsr_own_error "-u of a user the image does not have" no-such-user -u no-such-user "$plain" true
host_only=$(getent passwd | cut -d: -f1 | grep -vx -e root -e app -e daemon | head -n 1 || true)
if [ -n "$host_only" ]; then
	fsr_own_error "-u $host_only (a host user, not in the image)" "$host_only" \
		-u "$host_only" "$plain" true
fi
fsr_own_error "-u with a group the image does not have" no-such-group \
	-u app:no-such-group "$plain" true
fsr_no_containers "after the runs with -u"

step "--read-only: writes fail with EROFS, reads work"
script='touch /etc/new-file; echo "touch=$?"; echo x >>/etc/passwd; echo "append=$?"
	cat /etc/passwd >/dev/null; echo "read=$?"'
fsr_ok --read-only "$plain" sh -c "$script"
fsr_assert_nonzero "$(fsr_get touch)" "the status of touch of a new file with --read-only"
fsr_assert_nonzero "$(fsr_get append)" "the status of appending to a file with --read-only"
assert_eq "$(fsr_get read)" 0 "reading a file with --read-only"
assert_contains "$FSR_ERR" "Read-only file system" "the error of a write with --read-only"
fsr_ok "$plain" sh -c "$script"
assert_eq "$(fsr_get touch)$(fsr_get append)$(fsr_get read)" 000 "the same writes without --read-only"

step "--name: changes persist to the next run of that name; --rm removes it"
fsr_ok --name fsr-keep "$plain" sh -c 'echo persisted >/data-file; rm /bin/notexec'
c=$(fsr_container_dir "$LF_STORE" fsr-keep)
assert_file_eq "$c/upper/data-file" persisted
lf ps --json | jq -e '.[] | select(.name == "fsr-keep") | .mountpoint == null' >/dev/null ||
	fail "'layerfs ps' does not list fsr-keep as an unmounted container: $(lf ps --json)"
fsr_ok --name fsr-keep "$plain" sh -c 'cat /data-file; [ -e /bin/notexec ] || echo notexec-gone'
assert_eq "$FSR_OUT" "persisted
notexec-gone" "the second run of --name fsr-keep sees the first one's changes"
fsr_status 1 "a run without --name does not see fsr-keep's file" "$plain" cat /data-file
fsr_ok --name fsr-keep --rm "$plain" cat /data-file
assert_eq "$FSR_OUT" persisted "the run with --name fsr-keep --rm"
fsr_no_containers "after --rm"
fsr_status 1 "a new container fsr-keep after --rm starts from the image" \
	--name fsr-keep "$plain" cat /data-file
run_ok lf rm fsr-keep

step "--hostname"
fsr_ok --hostname fsr-host.example "$plain" sh -c 'hostname; cat /etc/hostname'
assert_eq "$FSR_OUT" "fsr-host.example
fsr-host.example" "hostname and /etc/hostname with --hostname"

step "-v/--bind SRC:DST[:ro]"
# World-writable, so that writes depend on the mount only, whatever ids the container has.
share=$LF_TMP/share
mkdir -p "$share"
chmod 0777 "$share"
printf 'from the host\n' >"$share/host-file"
fsr_ok -v "$share:/mnt/a" --bind "$share:/mnt/b:ro" "$plain" sh -c '
	echo "a=$(cat /mnt/a/host-file)"; echo "b=$(cat /mnt/b/host-file)"
	echo from the container >/mnt/a/new; echo "rw=$?"
	touch /mnt/b/ro-attempt; echo "ro=$?"'
assert_eq "$(fsr_get a)" "from the host" "a host file through -v"
assert_eq "$(fsr_get b)" "from the host" "a host file through --bind :ro"
assert_eq "$(fsr_get rw)" 0 "writing through -v"
assert_file_eq "$share/new" "from the container"
fsr_assert_nonzero "$(fsr_get ro)" "the status of writing through --bind :ro"
assert_contains "$FSR_ERR" "Read-only file system" "the error of a write through :ro"
assert_missing "$share/ro-attempt"
fsr_own_error "a bind of a source that does not exist" "$LF_TMP/no-such-src" \
	-v "$LF_TMP/no-such-src:/mnt/c" "$plain" true

step "--tmpfs DST and /tmp: tmpfs, and nothing written there reaches the container's upper"
fsr_ok --name fsr-tmpfs --tmpfs /mnt/c "$plain" sh -c '
	echo t >/mnt/c/f && echo t >/tmp/f && echo written; cat /proc/self/mountinfo'
assert_contains "$FSR_OUT" written "writing to --tmpfs /mnt/c and /tmp"
fsr_assert_mount "$FSR_OUT" /mnt/c tmpfs rw "--tmpfs /mnt/c"
fsr_assert_mount "$FSR_OUT" /tmp tmpfs rw "/tmp"
c=$(fsr_container_dir "$LF_STORE" fsr-tmpfs)
assert_missing "$c/upper/mnt/c/f"
assert_missing "$c/upper/tmp/f"
fsr_ok --name fsr-tmpfs --rm "$plain" sh -c 'ls -A /mnt/c /tmp'
assert_eq "$FSR_OUT" "/mnt/c:

/tmp:" "/mnt/c and /tmp in the next run of the container"

step "--net none: only loopback, up; --net host: the host's interfaces"
ifaces() { awk -F: 'NR > 2 { gsub(/ /, "", $1); print $1 }' | sort | tr '\n' ' '; }
fsr_ok --net none "$plain" sh -c 'cat /proc/net/dev; echo ==ip; ip link show lo'
assert_eq "$(printf '%s\n' "$FSR_OUT" | sed '/^==ip$/,$d' | ifaces)" "lo " "interfaces with --net none"
printf '%s\n' "$(fsr_section ip)" | grep -qE '<([^>]*,)?UP[,>]' ||
	fail "lo is not up with --net none: $(fsr_section ip)"
host_ifaces=$(ifaces </proc/net/dev)
[ "$host_ifaces" != "lo " ] || log "the host has no interface but lo: --net none is not really tested"
fsr_ok --net host "$plain" cat /proc/net/dev
assert_eq "$(printf '%s\n' "$FSR_OUT" | ifaces)" "$host_ifaces" "interfaces with --net host"
fsr_ok "$plain" cat /proc/net/dev
assert_eq "$(printf '%s\n' "$FSR_OUT" | ifaces)" "$host_ifaces" "interfaces by default (host)"

step "--preserve-fds N: fds 3 .. 3+N-1 are passed, the others not"
printf 'read through fd 4\n' >"$LF_TMP/fd4"
fsr_ok --preserve-fds 2 "$plain" ls /proc/self/fd 3>"$LF_TMP/fd3" 4<"$LF_TMP/fd4" 5<"$LF_TMP/fd4"
assert_eq "$(printf '%s\n' "$FSR_OUT" | sort -n | tr '\n' ' ')" "0 1 2 3 4 5 " \
	"the fds of ls with --preserve-fds 2 (3 and 4 passed, 5 is the one ls opens)"
fsr_ok --preserve-fds 2 "$plain" sh -c 'echo written through fd 3 >&3; cat <&4' \
	3>"$LF_TMP/fd3" 4<"$LF_TMP/fd4"
assert_eq "$FSR_OUT" "read through fd 4" "reading a preserved fd"
assert_file_eq "$LF_TMP/fd3" "written through fd 3"

fsr_no_containers "at the end"
