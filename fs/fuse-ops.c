/*
 * The FUSE low-level callbacks: each turns a request into one lf_union_* call and its result
 * into one reply. Node ids are the addresses of struct lf_node (the root is FUSE_ROOT_ID).
 * Lower-only entries never change behind the kernel's back, so they get long timeouts,
 * keep_cache and cached readdir; reads are spliced from the object or upper file.
 */
#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "layerfs/log.h"
#include "layerfs/macro.h"
#include "fuse-ops.h"
#include "union.h"

#define LOWER_TIMEOUT 86400.0
#define UPPER_TIMEOUT 1.0

static struct lf_union *U(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static struct lf_node *N(fuse_req_t req, fuse_ino_t ino)
{
	if (ino == FUSE_ROOT_ID)
		return U(req)->root;
	return (struct lf_node *)(uintptr_t)ino;
}

static fuse_ino_t node_id(struct lf_union *u, struct lf_node *n)
{
	return n == u->root ? FUSE_ROOT_ID : (fuse_ino_t)(uintptr_t)n;
}

static double timeout_of(struct lf_node *n)
{
	return lf_node_is_lower_only(n) ? LOWER_TIMEOUT : UPPER_TIMEOUT;
}

static void fill_entry(struct lf_union *u, struct lf_node *n, const struct stat *st,
		       struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	e->ino = node_id(u, n);
	e->attr = *st;
	e->attr_timeout = e->entry_timeout = timeout_of(n);
}

static void reply_err(fuse_req_t req, int r)
{
	fuse_reply_err(req, -r);
}

static void reply_entry(fuse_req_t req, int r, struct lf_node *n, const struct stat *st)
{
	struct fuse_entry_param e;

	if (r < 0) {
		reply_err(req, r);
		return;
	}
	fill_entry(U(req), n, st, &e);
	if (fuse_reply_entry(req, &e) == -ENOENT)
		lf_union_forget(U(req), n, 1); /* the request was interrupted */
}

static struct lf_ctx ctx_of(fuse_req_t req)
{
	const struct fuse_ctx *c = fuse_req_ctx(req);

	return (struct lf_ctx){ .uid = c->uid, .gid = c->gid };
}

static void lf_op_init(void *userdata, struct fuse_conn_info *conn)
{
	unsigned want[] = { FUSE_CAP_SPLICE_WRITE,    FUSE_CAP_SPLICE_MOVE,
			    FUSE_CAP_SPLICE_READ,     FUSE_CAP_CACHE_SYMLINKS,
			    FUSE_CAP_READDIRPLUS,     FUSE_CAP_READDIRPLUS_AUTO,
			    FUSE_CAP_PARALLEL_DIROPS, FUSE_CAP_POSIX_ACL };

	for (size_t i = 0; i < ARRAY_SIZE(want); i++)
		if (conn->capable & want[i])
			conn->want |= want[i];
	/* Without OPENDIR the kernel caches every directory's listing and drops it when a
	 * change through this mount touches the directory: a warm walk then costs no round
	 * trip per directory. */
	if (conn->capable & FUSE_CAP_NO_OPENDIR_SUPPORT) {
		conn->want |= FUSE_CAP_NO_OPENDIR_SUPPORT;
		((struct lf_union *)userdata)->stateless_dirs = true;
	}
	/* Writes go straight to the upper, so fsync'ed data is on disk, not in our cache. */
	conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
}

static void lf_op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct lf_node *p = N(req, parent), *n;
	struct fuse_entry_param e;
	struct stat st;
	int r;

	r = lf_union_lookup(U(req), p, name, &n, &st);
	if (r == -ENOENT && lf_node_is_lower_only(p)) {
		/* Cache the miss too: only this mount can make the name appear. */
		memset(&e, 0, sizeof(e));
		e.entry_timeout = LOWER_TIMEOUT;
		fuse_reply_entry(req, &e);
		return;
	}
	reply_entry(req, r, n, &st);
}

static void lf_op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	lf_union_forget(U(req), N(req, ino), nlookup);
	fuse_reply_none(req);
}

static void lf_op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	for (size_t i = 0; i < count; i++)
		lf_union_forget(U(req), N(req, forgets[i].ino), forgets[i].nlookup);
	fuse_reply_none(req);
}

static void lf_op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct lf_node *n = N(req, ino);
	struct stat st;
	int r;

	r = lf_union_getattr(U(req), n, &st);
	if (r < 0)
		reply_err(req, r);
	else
		fuse_reply_attr(req, &st, timeout_of(n));
}

static void lf_op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
			  struct fuse_file_info *fi)
{
	static const struct {
		int fuse;
		unsigned lf;
	} map[] = {
		{ FUSE_SET_ATTR_MODE, LF_SET_MODE },
		{ FUSE_SET_ATTR_UID, LF_SET_UID },
		{ FUSE_SET_ATTR_GID, LF_SET_GID },
		{ FUSE_SET_ATTR_SIZE, LF_SET_SIZE },
		{ FUSE_SET_ATTR_ATIME, LF_SET_ATIME },
		{ FUSE_SET_ATTR_MTIME, LF_SET_MTIME },
		{ FUSE_SET_ATTR_ATIME_NOW, LF_SET_ATIME_NOW },
		{ FUSE_SET_ATTR_MTIME_NOW, LF_SET_MTIME_NOW },
		{ FUSE_SET_ATTR_CTIME, LF_SET_CTIME },
	};
	struct lf_node *n = N(req, ino);
	unsigned what = 0;
	struct stat st;
	int r;

	for (size_t i = 0; i < ARRAY_SIZE(map); i++)
		if (to_set & map[i].fuse)
			what |= map[i].lf;
	r = lf_union_setattr(U(req), n, fi ? (struct lf_file *)(uintptr_t)fi->fh : NULL, what, attr,
			     &st);
	if (r < 0)
		reply_err(req, r);
	else
		fuse_reply_attr(req, &st, timeout_of(n));
}

static void lf_op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	char buf[PATH_MAX + 1];
	int r;

	r = lf_union_readlink(U(req), N(req, ino), buf, sizeof(buf));
	if (r < 0)
		reply_err(req, r);
	else
		fuse_reply_readlink(req, buf);
}

static void lf_op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
			dev_t rdev)
{
	struct lf_ctx ctx = ctx_of(req);
	struct lf_node *n;
	struct stat st;
	int r;

	r = lf_union_mknod(U(req), N(req, parent), name, mode, rdev, &ctx, 0, &n, &st, NULL);
	reply_entry(req, r, n, &st);
}

static void lf_op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct lf_ctx ctx = ctx_of(req);
	struct lf_node *n;
	struct stat st;
	int r;

	r = lf_union_mknod(U(req), N(req, parent), name, S_IFDIR | (mode & 07777), 0, &ctx, 0, &n,
			   &st, NULL);
	reply_entry(req, r, n, &st);
}

static void lf_op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	struct lf_ctx ctx = ctx_of(req);
	struct lf_node *n;
	struct stat st;
	int r;

	r = lf_union_symlink(U(req), N(req, parent), name, link, &ctx, &n, &st);
	reply_entry(req, r, n, &st);
}

static void lf_op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	struct lf_node *n = N(req, ino);
	struct stat st;
	int r;

	r = lf_union_link(U(req), n, N(req, newparent), newname, &st);
	reply_entry(req, r, n, &st);
}

static void lf_op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fuse_reply_err(req, -lf_union_unlink(U(req), N(req, parent), name));
}

static void lf_op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fuse_reply_err(req, -lf_union_rmdir(U(req), N(req, parent), name));
}

static void lf_op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
			 const char *newname, unsigned int flags)
{
	fuse_reply_err(req, -lf_union_rename(U(req), N(req, parent), name, N(req, newparent),
					     newname, flags));
}

static void set_open_flags(struct lf_file *f, struct fuse_file_info *fi)
{
	fi->fh = (uintptr_t)f;
	/* Only this mount changes the data, and the kernel sees every change it makes. */
	fi->keep_cache = 1;
}

static void lf_op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct lf_file *f;
	int r;

	r = lf_union_open(U(req), N(req, ino), fi->flags, &f);
	if (r < 0) {
		reply_err(req, r);
		return;
	}
	set_open_flags(f, fi);
	if (fuse_reply_open(req, fi) == -ENOENT)
		lf_union_release(U(req), f);
}

static void lf_op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
			 struct fuse_file_info *fi)
{
	struct lf_ctx ctx = ctx_of(req);
	struct fuse_entry_param e;
	struct lf_file *f;
	struct lf_node *n;
	struct stat st;
	int r;

	r = lf_union_mknod(U(req), N(req, parent), name, S_IFREG | (mode & 07777), 0, &ctx,
			   fi->flags, &n, &st, &f);
	if (r < 0) {
		reply_err(req, r);
		return;
	}
	fill_entry(U(req), n, &st, &e);
	set_open_flags(f, fi);
	if (fuse_reply_create(req, &e, fi) == -ENOENT) {
		lf_union_release(U(req), f);
		lf_union_forget(U(req), n, 1);
	}
}

static void lf_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	struct lf_file *f = (struct lf_file *)(uintptr_t)fi->fh;
	struct fuse_bufvec buf = FUSE_BUFVEC_INIT(size);
	int fd = lf_union_file_fd(U(req), f);

	if (fd < 0) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	buf.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
	buf.buf[0].fd = fd;
	buf.buf[0].pos = off;
	fuse_reply_data(req, &buf, FUSE_BUF_SPLICE_MOVE);
}

static void lf_op_write_buf(fuse_req_t req, fuse_ino_t ino, struct fuse_bufvec *in, off_t off,
			    struct fuse_file_info *fi)
{
	struct lf_file *f = (struct lf_file *)(uintptr_t)fi->fh;
	struct fuse_bufvec out = FUSE_BUFVEC_INIT(fuse_buf_size(in));
	ssize_t n;

	if (!f->upper || f->fd < 0) {
		fuse_reply_err(req, EBADF);
		return;
	}
	out.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
	out.buf[0].fd = f->fd;
	out.buf[0].pos = off;
	n = fuse_buf_copy(&out, in, 0);
	if (n < 0)
		fuse_reply_err(req, -n);
	else
		fuse_reply_write(req, n);
}

static void lf_op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	lf_union_release(U(req), (struct lf_file *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

static void lf_op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	struct lf_file *f = (struct lf_file *)(uintptr_t)fi->fh;
	int r = 0;

	if (f->upper && f->fd >= 0 && (datasync ? fdatasync(f->fd) : fsync(f->fd)) < 0)
		r = -errno;
	fuse_reply_err(req, -r);
}

static void lf_op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length,
			    struct fuse_file_info *fi)
{
	struct lf_file *f = (struct lf_file *)(uintptr_t)fi->fh;
	int r = 0;

	if (!f->upper)
		r = -EBADF;
	else if (fallocate(f->fd, mode, offset, length) < 0)
		r = -errno;
	fuse_reply_err(req, -r);
}

static void lf_op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct lf_dir *d;
	int r;

	if (U(req)->stateless_dirs) {
		reply_err(req, -ENOSYS); /* the kernel stops asking */
		return;
	}
	r = lf_union_opendir(U(req), N(req, ino), &d);
	if (r < 0) {
		reply_err(req, r);
		return;
	}
	fi->fh = (uintptr_t)d;
	if (d->lower_only) {
		fi->cache_readdir = 1;
		fi->keep_cache = 1;
	}
	if (fuse_reply_open(req, fi) == -ENOENT)
		lf_union_closedir(U(req), d);
}

static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi, bool plus)
{
	struct lf_union *u = U(req);
	struct lf_dir *d = (struct lf_dir *)(uintptr_t)fi->fh;
	_cleanup_free_ char *buf = NULL;
	bool own = !d; /* no OPENDIR: a snapshot for this call only */
	size_t pos = 0, total;
	int r = 0;

	buf = malloc(size);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (own) {
		r = lf_union_opendir(u, N(req, ino), &d);
		if (r < 0) {
			reply_err(req, r);
			return;
		}
	} else if (off == 0 && !d->lower_only) {
		r = lf_union_dir_refresh(u, d);
		if (r < 0) {
			reply_err(req, r);
			return;
		}
	}
	total = 2 + lf_union_dir_count(u, d);
	for (size_t idx = off; idx < total; idx++) {
		struct fuse_entry_param e = {};
		struct lf_node *n = NULL;
		const char *name;
		size_t len;

		if (idx < 2) {
			name = idx == 0 ? "." : "..";
			e.attr.st_mode = S_IFDIR;
			e.attr.st_ino =
				idx == 0 ? (d->lower_dir != LF_TREE_NONE ? d->lower_dir + 1 : 1)
					 : 1;
		} else if (plus) {
			struct stat st;
			r = lf_union_dir_lookup(u, d, idx - 2, &n, &st, &name);
			if (r == -ENOENT)
				continue; /* deleted since the snapshot */
			if (r < 0)
				break;
			fill_entry(u, n, &st, &e);
		} else {
			unsigned char type;
			uint64_t sino;
			r = lf_union_dir_entry(u, d, idx - 2, &name, &type, &sino);
			if (r < 0)
				break;
			e.attr.st_ino = sino;
			e.attr.st_mode = DTTOIF(type);
		}
		if (plus)
			len = fuse_add_direntry_plus(req, buf + pos, size - pos, name, &e, idx + 1);
		else
			len = fuse_add_direntry(req, buf + pos, size - pos, name, &e.attr, idx + 1);
		if (len > size - pos) {
			if (n)
				lf_union_forget(u, n, 1);
			break;
		}
		pos += len;
	}
	if (own)
		lf_union_closedir(u, d);
	if (r < 0 && pos == 0) {
		reply_err(req, r);
		return;
	}
	fuse_reply_buf(req, buf, pos);
}

static void lf_op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			  struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, false);
}

static void lf_op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			      struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, true);
}

static void lf_op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	lf_union_closedir(U(req), (struct lf_dir *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

static void lf_op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	struct lf_dir *d = (struct lf_dir *)(uintptr_t)fi->fh;
	struct lf_node *n = d ? d->node : N(req, ino);
	int fd = __atomic_load_n(&n->upper_fd, __ATOMIC_ACQUIRE), r = 0;

	if (fd >= 0 && fsync(fd) < 0)
		r = -errno;
	fuse_reply_err(req, -r);
}

static void lf_op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs st;
	int r;

	r = lf_union_statfs(U(req), &st);
	if (r < 0)
		reply_err(req, r);
	else
		fuse_reply_statfs(req, &st);
}

static void lf_op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
			   size_t size, int flags)
{
	fuse_reply_err(req, -lf_union_setxattr(U(req), N(req, ino), name, value, size, flags));
}

static void lf_op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	_cleanup_free_ char *buf = NULL;
	ssize_t r;

	if (size) {
		buf = malloc(size);
		if (!buf) {
			fuse_reply_err(req, ENOMEM);
			return;
		}
	}
	r = lf_union_getxattr(U(req), N(req, ino), name, buf, size);
	if (r < 0)
		fuse_reply_err(req, -r);
	else if (size == 0)
		fuse_reply_xattr(req, r);
	else
		fuse_reply_buf(req, buf, r);
}

static void lf_op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	_cleanup_free_ char *buf = NULL;
	ssize_t r;

	if (size) {
		buf = malloc(size);
		if (!buf) {
			fuse_reply_err(req, ENOMEM);
			return;
		}
	}
	r = lf_union_listxattr(U(req), N(req, ino), buf, size);
	if (r < 0)
		fuse_reply_err(req, -r);
	else if (size == 0)
		fuse_reply_xattr(req, r);
	else
		fuse_reply_buf(req, buf, r);
}

static void lf_op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	fuse_reply_err(req, -lf_union_removexattr(U(req), N(req, ino), name));
}

const struct fuse_lowlevel_ops lf_fuse_ops = {
	.init = lf_op_init,
	.lookup = lf_op_lookup,
	.forget = lf_op_forget,
	.forget_multi = lf_op_forget_multi,
	.getattr = lf_op_getattr,
	.setattr = lf_op_setattr,
	.readlink = lf_op_readlink,
	.mknod = lf_op_mknod,
	.mkdir = lf_op_mkdir,
	.symlink = lf_op_symlink,
	.link = lf_op_link,
	.unlink = lf_op_unlink,
	.rmdir = lf_op_rmdir,
	.rename = lf_op_rename,
	.open = lf_op_open,
	.create = lf_op_create,
	.read = lf_op_read,
	.write_buf = lf_op_write_buf,
	/* No flush: writes reach the upper as they come, so close() has nothing to report,
	 * and without the op the kernel stops sending FLUSH, a round trip per close(). */
	.release = lf_op_release,
	.fsync = lf_op_fsync,
	.fallocate = lf_op_fallocate,
	.opendir = lf_op_opendir,
	.readdir = lf_op_readdir,
	.readdirplus = lf_op_readdirplus,
	.releasedir = lf_op_releasedir,
	.fsyncdir = lf_op_fsyncdir,
	.statfs = lf_op_statfs,
	.setxattr = lf_op_setxattr,
	.getxattr = lf_op_getxattr,
	.listxattr = lf_op_listxattr,
	.removexattr = lf_op_removexattr,
};
