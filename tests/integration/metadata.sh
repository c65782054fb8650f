#!/usr/bin/env bash
# Metadata that the store keeps in its tree index: owners other than root, setuid/setgid/
# sticky modes, security.capability and user xattrs (binary values, on files and directories),
# device nodes and fifos, mtimes with nanoseconds, symlink owners. stat and getfattr through the
# mount show exactly what the layers say.
source "$(dirname "$0")/lib.sh"
require_fuse
require_root

std_setup
oci_layout "$LF_TMP/oci" lfmeta:v1 zstd "${STD_LAYERS[@]}"
run_ok lf import "$LF_TMP/oci" itest/meta:1
m=$LF_TMP/m
lf_mount itest/meta:1 "$m"

r=$LF_TMP/ref
for p in usr/bin/suid usr/bin/sgid tmp srv/owned srv/nobody etc/shadow home/user dev/null \
	run/fifo srv/rel etc/motd opt/data.bin srv bin/sh; do
	assert_stat "$m/$p" '%F %a %u:%g %t:%T %.9Y' "$(stat -c '%F %a %u:%g %t:%T %.9Y' "$r/$p")"
done
assert_stat "$m/usr/bin/suid" %a 4755
assert_stat "$m/usr/bin/sgid" '%a %g' '2755 50'
assert_stat "$m/tmp" %a 1777
assert_stat "$m/srv/owned" '%u:%g %a' '4242:4343 604'
assert_stat "$m/srv/rel" '%u:%g' '4242:4343'
assert_stat "$m/dev/null" '%F %t:%T' 'character special file 1:3'
assert_stat "$m/run/fifo" '%F' 'fifo'
assert_stat "$m/etc/motd" '%.9Y' "$(stat -c %.9Y "$LF_TMP/img/l2/etc/motd")"
[[ "$(stat -c %.9Y "$m/etc/motd")" != *.000000000 ]] || fail "mtimes lost their nanoseconds"
assert_eq "$(getfattr --absolute-names --only-values -n security.capability "$m/usr/bin/capped" | od -An -tx1 | tr -d ' \n')" \
	0100000200200000000000000000000000000000 "security.capability of /usr/bin/capped"
assert_eq "$(getfattr --absolute-names -e hex -n user.bin "$m/srv/owned" | grep '^user')" \
	'user.bin=0x00ff00fe' "a binary xattr value"
assert_eq "$(getfattr --absolute-names -d -m - "$m/srv/xattrs" | grep -v '^#' | grep .)" \
	'user.foo="changed"' "xattrs of /srv/xattrs (user.bin removed by layer 2)"
assert_eq "$(getfattr --absolute-names --only-values -n user.dirattr "$m/srv")" 2 "user.dirattr of /srv"
assert_contains "$(cat "$m/etc/shadow")" "root:*" "content of a 0640 root:42 file read as root"
assert_trees_eq "$r" "$m"
lf_umount "$m"
