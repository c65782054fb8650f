/*
 * The upper directory in the kernel overlayfs format: whiteouts are character devices 0/0,
 * opaque directories carry trusted.overlay.opaque="y" (root) or user.overlay.opaque="y"
 * (unprivileged, as overlayfs' userxattr option reads them). An unprivileged mount keeps the
 * ownership and mode it cannot set for real in user.containers.override_stat, as
 * containers/storage does.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "layerfs/macro.h"
#include "layerfs/util.h"
#include "union.h"

int lf_upper_init(struct lf_upper *u, int dir_fd, int work_fd)
{
	*u = (struct lf_upper){
		.dir_fd = dir_fd,
		.work_fd = work_fd,
		.euid = geteuid(),
		.egid = getegid(),
	};
	u->privileged = u->euid == 0;
	u->opaque_xattr = u->privileged ? "trusted.overlay.opaque" : "user.overlay.opaque";
	u->origin_xattr = u->privileged ? "trusted.layerfs.origin" : "user.layerfs.origin";
	u->redirect_xattr = u->privileged ? "trusted.layerfs.redirect" : "user.layerfs.redirect";
	u->metacopy_xattr = u->privileged ? "trusted.layerfs.metacopy" : "user.layerfs.metacopy";
	return 0;
}

void lf_upper_done(struct lf_upper *u)
{
	if (u->dir_fd >= 0)
		close(u->dir_fd);
	if (u->work_fd >= 0)
		close(u->work_fd);
	u->dir_fd = u->work_fd = -1;
}

bool lf_upper_is_whiteout(const struct stat *st)
{
	return S_ISCHR(st->st_mode) && st->st_rdev == makedev(0, 0);
}

#define SHARED_WHITEOUT "whiteout"

/* Makes work/whiteout anew (through a staging name, so a reader never sees it half made). */
static int make_shared_whiteout(const struct lf_upper *u)
{
	char tmp[40];

	lf_upper_tmpname(tmp);
	if (mknodat(u->work_fd, tmp, S_IFCHR | 0000, makedev(0, 0)) < 0)
		return -errno;
	if (renameat(u->work_fd, tmp, u->work_fd, SHARED_WHITEOUT) < 0) {
		int r = -errno;
		unlinkat(u->work_fd, tmp, 0);
		return r;
	}
	return 0;
}

/*
 * Every whiteout is a hard link to one 0/0 node in work/, as kernel overlayfs does since
 * Linux 5.8: a link costs a directory entry, a new node also an inode (deleting a tree of
 * lower files is mostly whiteouts). A full link count (EMLINK) starts a new shared node;
 * where links do not work at all, each whiteout is its own node.
 */
int lf_upper_mkwhiteout(const struct lf_upper *u, int dirfd, const char *name)
{
	for (int attempt = 0; attempt < 2; attempt++) {
		if (linkat(u->work_fd, SHARED_WHITEOUT, dirfd, name, 0) == 0)
			return 0;
		if (errno == EEXIST)
			return -EEXIST;
		if ((errno != ENOENT && errno != EMLINK) || make_shared_whiteout(u) < 0)
			break;
	}
	if (mknodat(dirfd, name, S_IFCHR | 0000, makedev(0, 0)) < 0)
		return -errno;
	return 0;
}

int lf_upper_get_redirect(const struct lf_upper *u, int parent_fd, const char *name,
			  uint32_t *ret_ino)
{
	char path[32 + 256 + 2], v[16], *end;
	unsigned long x;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d/%s", parent_fd, name);
	n = lgetxattr(path, u->redirect_xattr, v, sizeof(v) - 1);
	if (n < 0)
		return errno == ENOTSUP ? -ENODATA : -errno;
	v[n] = 0;
	x = strtoul(v, &end, 10);
	if (n == 0 || *end || x >= UINT32_MAX)
		return -EBADMSG;
	*ret_ino = x;
	return 0;
}

int lf_upper_set_redirect(const struct lf_upper *u, int dirfd, uint32_t ino)
{
	char v[16];
	int k = snprintf(v, sizeof(v), "%u", ino);

	if (fsetxattr(dirfd, u->redirect_xattr, v, k, 0) < 0)
		return -errno;
	return 0;
}

bool lf_upper_is_opaque(const struct lf_upper *u, int dirfd)
{
	static const char *const names[] = { "trusted.overlay.opaque", "user.overlay.opaque" };
	char v[4];

	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		ssize_t n = fgetxattr(dirfd, names[i], v, sizeof(v));
		if (n == 1 && v[0] == 'y')
			return true;
	}
	return false;
}

int lf_upper_set_opaque(const struct lf_upper *u, int dirfd)
{
	if (fsetxattr(dirfd, u->opaque_xattr, "y", 1, 0) < 0)
		return -errno;
	return 0;
}

void lf_upper_tmpname(char buf[40])
{
	char hex[33];

	if (lf_random_hex(hex) < 0) {
		static unsigned long seq;
		snprintf(hex, sizeof(hex), "%d-%lu", getpid(), __atomic_add_fetch(&seq, 1, 0));
	}
	snprintf(buf, 40, "lf-%s", hex);
}

void lf_upper_fdpath(int fd, char buf[32])
{
	snprintf(buf, 32, "/proc/self/fd/%d", fd);
}

bool lf_upper_xattr_is_private(const char *name)
{
	return !strncmp(name, "trusted.overlay.", 16) || !strncmp(name, "user.overlay.", 13) ||
	       !strncmp(name, "trusted.layerfs.", 16) || !strncmp(name, "user.layerfs.", 13) ||
	       !strcmp(name, LF_OVERRIDE_XATTR);
}

int lf_override_parse(const char *s, size_t len, struct lf_override *ret)
{
	char buf[64], *end;
	unsigned long uid, gid, mode;
	const char *p = buf;

	if (len == 0 || len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, len);
	buf[len] = 0;
	errno = 0;
	uid = strtoul(p, &end, 10);
	if (end == p || *end != ':' || errno)
		return -EINVAL;
	p = end + 1;
	gid = strtoul(p, &end, 10);
	if (end == p || *end != ':' || errno)
		return -EINVAL;
	p = end + 1;
	mode = strtoul(p, &end, 8);
	if (end == p || (*end && *end != ':') || errno || uid > UINT32_MAX || gid > UINT32_MAX)
		return -EINVAL;
	*ret = (struct lf_override){ .uid = uid, .gid = gid, .mode = mode & 07777 };
	return 0;
}

int lf_override_format(const struct lf_override *o, char buf[64])
{
	return snprintf(buf, 64, "%u:%u:0%o", (unsigned)o->uid, (unsigned)o->gid,
			(unsigned)(o->mode & 07777));
}

int lf_upper_get_override(const struct lf_upper *u, int fd, struct lf_override *ret)
{
	char path[32], v[64];
	ssize_t n;

	lf_upper_fdpath(fd, path);
	n = getxattr(path, LF_OVERRIDE_XATTR, v, sizeof(v));
	if (n < 0)
		return errno == ENOTSUP ? -ENODATA : -errno;
	return lf_override_parse(v, n, ret);
}

int lf_upper_set_owner_mode(const struct lf_upper *u, int fd, mode_t type, uid_t uid, gid_t gid,
			    mode_t mode)
{
	struct lf_override o = { .uid = uid, .gid = gid, .mode = mode & 07777 };
	mode_t real;
	char path[32], v[64];
	int n;

	lf_upper_fdpath(fd, path);
	if (u->privileged) {
		if (fchownat(fd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
			return -errno;
		/* chown clears setuid/setgid, so the mode comes after it. */
		if (type != S_IFLNK && chmod(path, mode & 07777) < 0)
			return -errno;
		return 0;
	}
	/* Only regular files and directories can carry user.* xattrs. */
	if (type != S_IFREG && type != S_IFDIR) {
		if (type != S_IFLNK && chmod(path, mode & 07777) < 0)
			return -errno;
		return 0;
	}
	/* The daemon must keep access to what it owns, whatever mode the file shows. */
	real = (mode & 07777) | (type == S_IFDIR ? 0700 : 0600);
	if (chmod(path, real) < 0)
		return -errno;
	if (uid == u->euid && gid == u->egid && real == (mode & 07777)) {
		if (removexattr(path, LF_OVERRIDE_XATTR) < 0 && errno != ENODATA)
			return -errno;
		return 0;
	}
	n = lf_override_format(&o, v);
	if (setxattr(path, LF_OVERRIDE_XATTR, v, n, 0) < 0)
		return -errno;
	return 0;
}

void lf_upper_apply_override(const struct lf_upper *u, int fd, struct stat *st)
{
	struct lf_override o;

	if (!S_ISREG(st->st_mode) && !S_ISDIR(st->st_mode))
		return;
	if (lf_upper_get_override(u, fd, &o) < 0)
		return;
	st->st_uid = o.uid;
	st->st_gid = o.gid;
	st->st_mode = (st->st_mode & S_IFMT) | o.mode;
}

static int copy_rw(int src, int dst, off_t off, off_t end)
{
	char buf[65536];

	while (off < end) {
		ssize_t n = pread(src, buf, MIN((off_t)sizeof(buf), end - off), off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		for (ssize_t done = 0; done < n;) {
			ssize_t w = pwrite(dst, buf + done, n - done, off + done);
			if (w < 0) {
				if (errno == EINTR)
					continue;
				return -errno;
			}
			done += w;
		}
		off += n;
	}
	return 0;
}

static int copy_range(int src, int dst, off_t off, off_t end, bool *use_cfr)
{
	while (*use_cfr && off < end) {
		loff_t in = off, out = off;
		ssize_t n = copy_file_range(src, &in, dst, &out, end - off, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EXDEV || errno == EINVAL || errno == ENOSYS ||
			    errno == EOPNOTSUPP) {
				*use_cfr = false;
				break;
			}
			return -errno;
		}
		if (n == 0)
			return -EIO;
		off += n;
	}
	return copy_rw(src, dst, off, end);
}

int lf_upper_copy_data(int src, int dst, uint64_t size)
{
	bool use_cfr = true;
	off_t off = 0, data, hole;
	int r;

	if (size == 0)
		return 0;
	if (ioctl(dst, FICLONE, src) == 0)
		return 0;
	while ((uint64_t)off < size) {
		data = lseek(src, off, SEEK_DATA);
		if (data < 0) {
			if (errno == ENXIO)
				break; /* only a hole is left */
			/* No SEEK_DATA: copy everything. */
			data = off;
			hole = size;
		} else {
			hole = lseek(src, data, SEEK_HOLE);
			if (hole < 0)
				hole = size;
		}
		if ((uint64_t)hole > size)
			hole = size;
		r = copy_range(src, dst, data, hole, &use_cfr);
		if (r < 0)
			return r;
		off = hole;
	}
	if (ftruncate(dst, size) < 0)
		return -errno;
	return 0;
}
