#!/usr/bin/env bash
# Every write operation through a mount: create, write (append, overwrite in the middle of a
# lower file), truncate (shrink, to zero, extend), mkdir, mkfifo/mknod, symlink, link (of upper
# and lower files), unlink and rmdir of lower entries, a lower directory removed and made again,
# rename of lower and upper files (also over an existing file and across directories),
# chmod/chown/utimens/setxattr/removexattr of lower entries.
#
# The same sequence runs on a plain copy of the reference tree and, where root, on kernel
# overlayfs over the same layers; the three merged trees must be equal (mtimes that the
# operations set at run time are not compared). The upper directory must be in the overlay
# format: whiteouts are char 0/0, a directory made again is opaque, deleted lower files were
# not copied. Everything persists across umount and mount of the same container.
source "$(dirname "$0")/lib.sh"
require_fuse

ops() {
	(
		set -e
		cd "$1"
		printf 'new file\n' >newfile
		mkdir newdir
		printf 'inner\n' >newdir/inner
		mkdir -p usr/newsub/deeper
		printf 'appended\n' >>etc/passwd
		printf 'XYZ' | dd of=opt/data.bin bs=1 seek=4096 conv=notrunc status=none
		truncate -s 3 etc/group
		truncate -s 0 etc/hosts
		truncate -s 200000 usr/lib/libsame.so.1
		mkfifo srv/newfifo
		ln -s /etc/passwd newlink
		ln -s dangling-target srv/newdangling
		ln newfile newfile-hardlink
		ln usr/bin/suid usr/bin/suid-hardlink
		printf 'short-lived\n' >etc/tmpfile
		rm etc/tmpfile
		rm etc/motd
		rm srv/rel
		rm bin/ls
		rm a/b/c/d/e/f/g/h/deep
		rmdir a/b/c/d/e/f/g/h
		rm -r usr/share/doc
		mkdir usr/share/doc
		printf 'recreated\n' >usr/share/doc/fresh
		rm -r opt/x
		mv etc/shadow etc/shadow.moved
		mv newfile newfile.renamed
		mv srv/nobody srv/owned
		mv "srv/with space" newdir/moved-across-dirs
		chmod 0600 usr/bin/hl-a
		chmod 0700 srv
		chmod 4711 usr/bin/sgid
		touch -d @1234567890.987654321 etc/empty
		touch -h -d @1111111111.5 srv/dirlink
		setfattr -n user.added -v value opt/data.bin
		setfattr -n user.foo -v replaced srv/xattrs
		setfattr -x user.dirattr srv
		# a POSIX ACL (system.posix_acl_access), kept and enforced like the mode
		setfacl -m u:1234:r,m::r etc/group
		if [ "$(id -u)" = 0 ]; then
			mknod dev/newnull c 1 3
			mknod dev/newblk b 7 0
			rm dev/null
			rm run/fifo
			chown 1234:5678 etc/hostname
			chown -h 777:888 srv/chain
			chown 4321:4321 home/user
		fi
	)
}

std_setup
oci_layout "$LF_TMP/oci" lfops:v1 gzip "${STD_LAYERS[@]}"
run_ok lf import "$LF_TMP/oci" itest/ops:1
m=$LF_TMP/m
lf_mount itest/ops:1 "$m" --name ops

step "the operations on layerfs, on a plain copy and on kernel overlayfs"
ops "$m" || fail "an operation failed on the layerfs mount"
ref_tar_apply "$LF_TMP/native" "${STD_LAYERS[@]}"
ops "$LF_TMP/native" || fail "an operation failed on the plain directory"
overlay=
if have_overlay; then
	ref_overlay_rw "$LF_TMP/ovl" "$LF_TMP/ovl-layers" "${STD_LAYERS[@]}"
	ops "$LF_TMP/ovl" || fail "an operation failed on kernel overlayfs"
	overlay=$LF_TMP/ovl
fi

compare_all() {
	assert_trees_eq "$LF_TMP/native" "$m" --skip-mtime-since "$LF_T0"
	[ -z "$overlay" ] || assert_trees_eq "$overlay" "$m" --skip-mtime-since "$LF_T0"
}
step "compare the merged trees"
compare_all
assert_file_eq "$m/usr/share/doc/fresh" recreated
assert_eq "$(ls -A "$m/usr/share/doc")" fresh "a lower directory removed and made again"
assert_stat "$m/etc/empty" %.9Y 1234567890.987654321

step "the upper directory is in the overlay format"
u=$(container_dir)/upper
[ -d "$u" ] || fail "no upper directory at '$u'"
for p in etc/motd etc/shadow srv/rel srv/nobody bin/ls a/b/c/d/e/f/g/h opt/x "srv/with space"; do
	assert_whiteout "$u/$p"
done
if is_root; then
	assert_whiteout "$u/dev/null"
	assert_whiteout "$u/run/fifo"
fi
assert_missing "$u/etc/tmpfile"
opq=$(getfattr --absolute-names --only-values -n trusted.overlay.opaque "$u/usr/share/doc" 2>/dev/null ||
	getfattr --absolute-names --only-values -n user.overlay.opaque "$u/usr/share/doc" 2>/dev/null || true)
assert_eq "$opq" y "the opaque xattr of the directory made again"
assert_stat "$u/opt/data.bin" '%F %s' "regular file 1048576"
assert_stat "$u/etc/shadow.moved" '%F' "regular file"
assert_stat "$u/newfile.renamed" '%F' "regular file"
# Deleting lower files copied nothing: the only regular files in the upper are those written,
# renamed or whose metadata changed.
extra=$(cd "$u" && find . -type f -printf '%P\n' | LC_ALL=C sort | grep -vxF -f <(printf '%s\n' \
	newfile.renamed newfile-hardlink newdir/inner newdir/moved-across-dirs etc/passwd \
	opt/data.bin etc/group etc/hosts usr/lib/libsame.so.1 usr/bin/suid usr/bin/suid-hardlink \
	usr/share/doc/fresh etc/shadow.moved srv/owned usr/bin/hl-a usr/bin/hl-b usr/bin/sgid \
	etc/empty srv/xattrs etc/hostname) || true)
[ -z "$extra" ] || fail "regular files in the upper that no operation wrote: $extra"

step "everything persists across umount and mount of the same container"
lf_umount "$m"
lf_mount itest/ops:1 "$m" --name ops
compare_all
lf_umount "$m"
