/*
 * Changing the union. New entries go straight into the parent's upper directory, or, where a
 * whiteout holds the name, are built in work/ and renamed over it. Deleting a lower entry
 * only leaves a whiteout (nothing is copied); a directory that takes the place of a deleted
 * one is made opaque so the lower contents stay hidden.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "layerfs/macro.h"
#include "union.h"

/* Owner and group of a new entry: the caller's, or the parent's group under setgid. */
static int new_owner(struct lf_union *u, struct lf_node *parent, const struct lf_ctx *ctx,
		     mode_t *mode, uid_t *uid, gid_t *gid)
{
	struct stat pst;
	int r;

	r = lf_union_getattr_locked(u, parent, &pst);
	if (r < 0)
		return r;
	*uid = ctx->uid;
	*gid = ctx->gid;
	if (pst.st_mode & S_ISGID) {
		*gid = pst.st_gid;
		if (S_ISDIR(*mode))
			*mode |= S_ISGID;
	}
	return 0;
}

static int set_new_owner(struct lf_union *u, int fd, mode_t mode, uid_t uid, gid_t gid)
{
	struct stat st;

	if (u->upper.privileged) {
		if (fstat(fd, &st) < 0)
			return -errno;
		/* The common case (root creating as root with the exact mode) costs nothing. */
		if (st.st_uid == uid && st.st_gid == gid && (st.st_mode & 07777) == (mode & 07777))
			return 0;
	}
	return lf_upper_set_owner_mode(&u->upper, fd, mode & S_IFMT, uid, gid, mode);
}

/* Puts work/<tmp> at parent/name, replacing the whiteout there. */
static int replace_whiteout(struct lf_union *u, struct lf_node *parent, const char *tmp,
			    const char *name, bool is_dir)
{
	if (!is_dir) {
		if (renameat(u->upper.work_fd, tmp, parent->upper_fd, name) < 0)
			return -errno;
		return 0;
	}
	/* A directory cannot be renamed over a non-directory: swap, then drop the whiteout. */
	if (renameat2(u->upper.work_fd, tmp, parent->upper_fd, name, RENAME_EXCHANGE) < 0)
		return -errno;
	unlinkat(u->upper.work_fd, tmp, 0);
	return 0;
}

static int begin_create(struct lf_union *u, struct lf_node *parent, const char *name,
			struct lf_resolved *res)
{
	struct stat ust;
	int r;

	if (u->read_only)
		return -EROFS;
	r = lf_union_resolve_name(u, parent, name, res, &ust);
	if (r < 0)
		return r;
	if (res->visible)
		return -EEXIST;
	return lf_union_copyup_locked(u, parent, LF_COPYUP_DATA);
}

/* Finishes a new entry: the node, its lookup count and its attributes. */
static int finish_create(struct lf_union *u, struct lf_node *parent, const char *name, int fd,
			 struct lf_node **ret, struct stat *ret_st)
{
	struct lf_node *n;
	int r;

	r = lf_union_node_upper(u, parent, name, fd, LF_TREE_NONE, &n);
	if (r < 0)
		return r;
	n->nlookup++;
	r = lf_union_getattr_locked(u, n, ret_st);
	if (r < 0) {
		n->nlookup--;
		lf_node_ref_locked(n);
		lf_node_unref_locked(u, n);
		return r;
	}
	*ret = n;
	return 0;
}

int lf_union_mknod(struct lf_union *u, struct lf_node *parent, const char *name, mode_t mode,
		   dev_t rdev, const struct lf_ctx *ctx, int flags, struct lf_node **ret,
		   struct stat *ret_st, struct lf_file **ret_file)
{
	mode_t type = mode & S_IFMT, real;
	struct lf_resolved res;
	struct lf_file *f = NULL;
	char tmp[40];
	const char *cname;
	int dirfd, fd = -1, ofd = -1, r;
	uid_t uid;
	gid_t gid;

	if (ret_file) {
		f = calloc(1, sizeof(*f));
		if (!f)
			return -ENOMEM;
		f->fd = f->old_fd = -1;
		f->upper = true;
		f->flags = flags;
		pthread_mutex_init(&f->lock, NULL);
	}
	pthread_mutex_lock(&u->lock);
	r = begin_create(u, parent, name, &res);
	if (r < 0)
		goto out;
	r = new_owner(u, parent, ctx, &mode, &uid, &gid);
	if (r < 0)
		goto out;
	if (res.whiteout) {
		lf_upper_tmpname(tmp);
		dirfd = u->upper.work_fd;
		cname = tmp;
	} else {
		dirfd = parent->upper_fd;
		cname = name;
	}
	real = mode & 07777;
	if (!u->upper.privileged)
		real |= type == S_IFDIR ? 0700 : 0600;
	switch (type) {
	case S_IFREG:
		ofd = openat(dirfd, cname,
			     (flags & ~(O_TRUNC | O_NOFOLLOW)) | O_CREAT | O_EXCL | O_CLOEXEC |
				     O_NOFOLLOW,
			     real);
		if (ofd < 0)
			r = -errno;
		break;
	case S_IFDIR:
		if (mkdirat(dirfd, cname, real) < 0)
			r = -errno;
		break;
	case S_IFCHR:
	case S_IFBLK:
	case S_IFIFO:
	case S_IFSOCK:
		if (mknodat(dirfd, cname, type | real, rdev) < 0)
			r = -errno;
		break;
	default:
		r = -EINVAL;
	}
	if (r < 0)
		goto out;
	if (type == S_IFDIR)
		fd = openat(dirfd, cname, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	else
		fd = openat(dirfd, cname, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		goto undo;
	}
	r = set_new_owner(u, fd, type | (mode & 07777), uid, gid);
	if (r < 0)
		goto undo;
	/* A directory where a deleted one was must not show the old contents. */
	if (type == S_IFDIR && (res.whiteout || res.lower_below)) {
		r = lf_upper_set_opaque(&u->upper, fd);
		if (r < 0)
			goto undo;
	}
	if (res.whiteout) {
		r = replace_whiteout(u, parent, tmp, name, type == S_IFDIR);
		if (r < 0)
			goto undo;
	}
	r = finish_create(u, parent, name, TAKE_FD(fd), ret, ret_st);
	if (r < 0)
		goto out;
	if (f) {
		f->fd = TAKE_FD(ofd);
		f->node = *ret;
		lf_node_ref_locked(*ret);
	}
	goto out;
undo:
	if (type == S_IFDIR)
		unlinkat(dirfd, cname, AT_REMOVEDIR);
	else
		unlinkat(dirfd, cname, 0);
out:
	pthread_mutex_unlock(&u->lock);
	if (fd >= 0)
		close(fd);
	if (ofd >= 0)
		close(ofd);
	if (f && r < 0) {
		pthread_mutex_destroy(&f->lock);
		free(f);
		f = NULL;
	}
	if (ret_file && r == 0)
		*ret_file = f;
	return r;
}

int lf_union_symlink(struct lf_union *u, struct lf_node *parent, const char *name,
		     const char *target, const struct lf_ctx *ctx, struct lf_node **ret,
		     struct stat *ret_st)
{
	struct lf_resolved res;
	mode_t mode = S_IFLNK | 0777;
	const char *cname;
	char tmp[40];
	int dirfd, fd = -1, r;
	uid_t uid;
	gid_t gid;

	pthread_mutex_lock(&u->lock);
	r = begin_create(u, parent, name, &res);
	if (r < 0)
		goto out;
	r = new_owner(u, parent, ctx, &mode, &uid, &gid);
	if (r < 0)
		goto out;
	if (res.whiteout) {
		lf_upper_tmpname(tmp);
		dirfd = u->upper.work_fd;
		cname = tmp;
	} else {
		dirfd = parent->upper_fd;
		cname = name;
	}
	if (symlinkat(target, dirfd, cname) < 0) {
		r = -errno;
		goto out;
	}
	fd = openat(dirfd, cname, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		goto undo;
	}
	if (u->upper.privileged && (uid != 0 || gid != 0) &&
	    fchownat(fd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0) {
		r = -errno;
		goto undo;
	}
	if (res.whiteout) {
		r = replace_whiteout(u, parent, tmp, name, false);
		if (r < 0)
			goto undo;
	}
	r = finish_create(u, parent, name, TAKE_FD(fd), ret, ret_st);
	goto out;
undo:
	unlinkat(dirfd, cname, 0);
out:
	pthread_mutex_unlock(&u->lock);
	if (fd >= 0)
		close(fd);
	return r;
}

int lf_union_link(struct lf_union *u, struct lf_node *n, struct lf_node *parent, const char *name,
		  struct stat *ret_st)
{
	struct lf_resolved res;
	char tmp[40], path[32];
	int r;

	pthread_mutex_lock(&u->lock);
	if (n->type == S_IFDIR) {
		r = -EPERM;
		goto out;
	}
	r = begin_create(u, parent, name, &res);
	if (r < 0)
		goto out;
	r = lf_union_copyup_locked(u, n, LF_COPYUP_META);
	if (r < 0)
		goto out;
	lf_upper_fdpath(n->upper_fd, path);
	if (!res.whiteout) {
		if (linkat(AT_FDCWD, path, parent->upper_fd, name, AT_SYMLINK_FOLLOW) < 0)
			r = -errno;
	} else {
		lf_upper_tmpname(tmp);
		if (linkat(AT_FDCWD, path, u->upper.work_fd, tmp, AT_SYMLINK_FOLLOW) < 0) {
			r = -errno;
		} else {
			r = replace_whiteout(u, parent, tmp, name, false);
			if (r < 0)
				unlinkat(u->upper.work_fd, tmp, 0);
		}
	}
	if (r < 0)
		goto out;
	n->nlookup++;
	r = lf_union_getattr_locked(u, n, ret_st);
out:
	pthread_mutex_unlock(&u->lock);
	return r;
}

/* After an upper entry went away: a node whose file has no more links is forgotten by its
 * identity, since the filesystem may reuse the inode number. */
static void upper_gone(struct lf_union *u, const struct stat *ust)
{
	struct lf_node *n = lf_node_find_upper(u, ust->st_dev, ust->st_ino);
	struct stat st;

	if (!n)
		return;
	if (fstat(n->upper_fd, &st) == 0 && st.st_nlink > 0)
		return;
	lf_node_unhash_upper(u, n);
	lf_node_detach(u, n);
}

static void lower_gone(struct lf_union *u, struct lf_node *parent, const char *name, uint32_t lower)
{
	struct lf_node *n = lf_node_find_lower(u, lower, parent, name);

	if (n && n->upper_fd < 0)
		lf_node_detach(u, n);
}

/* Replaces the upper entry parent/name by a whiteout, atomically. */
static int whiteout_over(struct lf_union *u, struct lf_node *parent, const char *name, bool is_dir)
{
	char tmp[40];
	int r;

	lf_upper_tmpname(tmp);
	r = lf_upper_mkwhiteout(&u->upper, u->upper.work_fd, tmp);
	if (r < 0)
		return r;
	if (!is_dir) {
		if (renameat(u->upper.work_fd, tmp, parent->upper_fd, name) < 0) {
			r = -errno;
			unlinkat(u->upper.work_fd, tmp, 0);
		}
		return r;
	}
	if (renameat2(u->upper.work_fd, tmp, parent->upper_fd, name, RENAME_EXCHANGE) < 0) {
		r = -errno;
		unlinkat(u->upper.work_fd, tmp, 0);
		return r;
	}
	if (unlinkat(u->upper.work_fd, tmp, AT_REMOVEDIR) < 0)
		return -errno;
	return 0;
}

int lf_union_unlink(struct lf_union *u, struct lf_node *parent, const char *name)
{
	struct lf_resolved res;
	struct stat ust;
	int r;

	pthread_mutex_lock(&u->lock);
	if (u->read_only) {
		r = -EROFS;
		goto out;
	}
	r = lf_union_resolve_name(u, parent, name, &res, &ust);
	if (r < 0)
		goto out;
	if (!res.visible) {
		r = -ENOENT;
		goto out;
	}
	if (res.has_upper ? S_ISDIR(ust.st_mode) : S_ISDIR(lf_lower_mode(u->lower, res.lower))) {
		r = -EISDIR;
		goto out;
	}
	if (res.has_upper) {
		if (res.lower_below)
			r = whiteout_over(u, parent, name, false);
		else if (unlinkat(parent->upper_fd, name, 0) < 0)
			r = -errno;
		if (r == 0)
			upper_gone(u, &ust);
	} else {
		r = lf_union_copyup_locked(u, parent, LF_COPYUP_DATA);
		if (r == 0)
			r = lf_upper_mkwhiteout(&u->upper, parent->upper_fd, name);
		if (r == 0)
			lower_gone(u, parent, name, res.lower);
	}
out:
	pthread_mutex_unlock(&u->lock);
	return r;
}

/* Is the directory empty in the union? Its upper side may hold whiteouts only. */
static int dir_is_empty(struct lf_union *u, int upper_fd, uint32_t lower)
{
	struct lf_union_dirent *up = NULL, *merged = NULL;
	size_t n_up = 0, n = 0;
	int r;

	if (upper_fd < 0)
		return lower == LF_TREE_NONE || lf_tree_dir_count(u->lower->tree, lower) == 0;
	r = lf_union_read_upper_dir(u, upper_fd, &up, &n_up);
	if (r < 0)
		return r;
	r = lf_union_merge_dir(up, n_up, u->lower->tree, lower, &merged, &n);
	if (r < 0)
		return r;
	lf_union_dirents_free(merged, n);
	return n == 0;
}

/* Removes the whiteouts of an upper directory that is empty in the union. */
static int clear_whiteouts(struct lf_union *u, int dirfd)
{
	struct lf_union_dirent *up = NULL;
	size_t n = 0;
	int r;

	r = lf_union_read_upper_dir(u, dirfd, &up, &n);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n && r == 0; i++)
		if (up[i].whiteout && unlinkat(dirfd, up[i].name, 0) < 0 && errno != ENOENT)
			r = -errno;
	lf_union_dirents_free(up, n);
	return r;
}

static int open_child_dir(struct lf_node *parent, const char *name, int *ret_fd)
{
	int fd = openat(parent->upper_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	*ret_fd = fd;
	return 0;
}

int lf_union_rmdir(struct lf_union *u, struct lf_node *parent, const char *name)
{
	struct lf_resolved res;
	struct stat ust;
	int cfd = -1, r;

	pthread_mutex_lock(&u->lock);
	if (u->read_only) {
		r = -EROFS;
		goto out;
	}
	r = lf_union_resolve_name(u, parent, name, &res, &ust);
	if (r < 0)
		goto out;
	if (!res.visible) {
		r = -ENOENT;
		goto out;
	}
	if (res.has_upper ? !S_ISDIR(ust.st_mode) : !S_ISDIR(lf_lower_mode(u->lower, res.lower))) {
		r = -ENOTDIR;
		goto out;
	}
	if (res.has_upper) {
		r = open_child_dir(parent, name, &cfd);
		if (r < 0)
			goto out;
	}
	r = dir_is_empty(u, cfd, res.lower);
	if (r < 0)
		goto out;
	if (r == 0) {
		r = -ENOTEMPTY;
		goto out;
	}
	r = 0;
	if (res.has_upper) {
		r = clear_whiteouts(u, cfd);
		if (r < 0)
			goto out;
		if (res.lower_below)
			r = whiteout_over(u, parent, name, true);
		else if (unlinkat(parent->upper_fd, name, AT_REMOVEDIR) < 0)
			r = -errno;
		if (r == 0) {
			struct lf_node *n = lf_node_find_upper(u, ust.st_dev, ust.st_ino);
			if (n) {
				lf_node_unhash_upper(u, n);
				lf_node_detach(u, n);
			}
		}
	} else {
		r = lf_union_copyup_locked(u, parent, LF_COPYUP_DATA);
		if (r == 0)
			r = lf_upper_mkwhiteout(&u->upper, parent->upper_fd, name);
		if (r == 0)
			lower_gone(u, parent, name, res.lower);
	}
out:
	pthread_mutex_unlock(&u->lock);
	if (cfd >= 0)
		close(cfd);
	return r;
}

/* The node for a resolved entry, with a temporary reference. */
static int get_ref(struct lf_union *u, struct lf_node *parent, const char *name,
		   const struct lf_resolved *res, const struct stat *ust, struct lf_node **ret)
{
	int r = lf_union_node_get(u, parent, name, res, ust, ret);

	if (r == 0)
		lf_node_ref_locked(*ret);
	return r;
}

static bool is_dir_entry(struct lf_union *u, const struct lf_resolved *res, const struct stat *ust)
{
	return res->has_upper ? S_ISDIR(ust->st_mode)
			      : S_ISDIR(lf_lower_mode(u->lower, res->lower));
}

static int rename_locked(struct lf_union *u, struct lf_node *parent, const char *name,
			 struct lf_node *newparent, const char *newname, unsigned flags)
{
	struct lf_resolved src, dst;
	struct stat sust, dust;
	struct lf_node *sn = NULL, *dn = NULL;
	bool sdir, ddir, redirect;
	int r;

	if (u->read_only)
		return -EROFS;
	if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE))
		return -EINVAL;
	r = lf_union_resolve_name(u, parent, name, &src, &sust);
	if (r < 0)
		return r;
	r = lf_union_resolve_name(u, newparent, newname, &dst, &dust);
	if (r < 0)
		return r;
	if (!src.visible)
		return -ENOENT;
	if ((flags & RENAME_NOREPLACE) && dst.visible)
		return -EEXIST;
	if ((flags & RENAME_EXCHANGE) && !dst.visible)
		return -ENOENT;
	if (parent == newparent && !strcmp(name, newname))
		return 0;
	sdir = is_dir_entry(u, &src, &sust);
	ddir = dst.visible && is_dir_entry(u, &dst, &dust);
	/* A directory with lower contents moves with a redirect; exchanging two is not done. */
	redirect = sdir && src.lower != LF_TREE_NONE;
	if ((flags & RENAME_EXCHANGE) &&
	    (redirect || (ddir && (!dst.has_upper || dst.lower != LF_TREE_NONE))))
		return -EXDEV;
	if (dst.visible && !(flags & RENAME_EXCHANGE)) {
		if (sdir && !ddir)
			return -ENOTDIR;
		if (!sdir && ddir)
			return -EISDIR;
	}

	r = get_ref(u, parent, name, &src, &sust, &sn);
	if (r < 0)
		return r;
	if (dst.visible) {
		r = get_ref(u, newparent, newname, &dst, &dust, &dn);
		if (r < 0)
			goto out;
	}
	if (dn && ddir && !(flags & RENAME_EXCHANGE)) {
		int cfd = -1;
		if (dst.has_upper) {
			r = open_child_dir(newparent, newname, &cfd);
			if (r < 0)
				goto out;
		}
		r = dir_is_empty(u, cfd, dst.lower);
		if (r == 1)
			r = cfd >= 0 ? clear_whiteouts(u, cfd) : 0;
		else if (r == 0)
			r = -ENOTEMPTY;
		if (cfd >= 0)
			close(cfd);
		if (r < 0)
			goto out;
	}
	r = lf_union_copyup_locked(u, sn, LF_COPYUP_META);
	if (r < 0)
		goto out;
	r = lf_union_copyup_locked(u, newparent, LF_COPYUP_DATA);
	if (r < 0)
		goto out;
	if (redirect) {
		/* Hard-link groups below it are joined in the upper while their paths still hold. */
		r = lf_union_copyup_links_below_locked(u, src.lower);
		if (r < 0)
			goto out;
		/* Its lower contents follow it, whatever the new name has below. */
		r = lf_upper_set_redirect(&u->upper, sn->upper_fd, src.lower);
		if (r < 0)
			goto out;
	}

	if (flags & RENAME_EXCHANGE) {
		r = lf_union_copyup_locked(u, dn, LF_COPYUP_META);
		if (r < 0)
			goto out;
		if (renameat2(parent->upper_fd, name, newparent->upper_fd, newname,
			      RENAME_EXCHANGE) < 0) {
			r = -errno;
			goto out;
		}
		if (sdir && dst.lower_below)
			lf_upper_set_opaque(&u->upper, sn->upper_fd);
		if (ddir && src.lower_below)
			lf_upper_set_opaque(&u->upper, dn->upper_fd);
		r = lf_node_move(u, sn, newparent, newname);
		if (r == 0)
			r = lf_node_move(u, dn, parent, name);
		goto out;
	}

	if (sdir && dst.whiteout && unlinkat(newparent->upper_fd, newname, 0) < 0) {
		/* A directory cannot be renamed over the whiteout's device node. */
		r = -errno;
		goto out;
	}
	if (src.lower_below) {
		/* The source name must go on hiding the lower entry. */
		if (renameat2(parent->upper_fd, name, newparent->upper_fd, newname,
			      RENAME_WHITEOUT) < 0) {
			if (errno != EINVAL && errno != EPERM) {
				r = -errno;
				goto out;
			}
			if (renameat(parent->upper_fd, name, newparent->upper_fd, newname) < 0) {
				r = -errno;
				goto out;
			}
			r = lf_upper_mkwhiteout(&u->upper, parent->upper_fd, name);
			if (r < 0)
				goto out;
		}
	} else if (dst.visible && !dst.has_upper && ddir) {
		/* Over a lower-only (empty) directory: nothing in the upper to replace. */
		if (renameat2(parent->upper_fd, name, newparent->upper_fd, newname,
			      RENAME_NOREPLACE) < 0) {
			r = -errno;
			goto out;
		}
	} else if (renameat(parent->upper_fd, name, newparent->upper_fd, newname) < 0) {
		r = -errno;
		goto out;
	}
	if (sdir && dst.lower_below && !redirect) {
		r = lf_upper_set_opaque(&u->upper, sn->upper_fd);
		if (r < 0)
			goto out;
	}
	if (dn) {
		if (dn->upper_fd >= 0) {
			struct stat st;
			if (fstat(dn->upper_fd, &st) < 0 || st.st_nlink == 0 ||
			    S_ISDIR(st.st_mode)) {
				lf_node_unhash_upper(u, dn);
				lf_node_detach(u, dn);
			}
		} else {
			lf_node_detach(u, dn);
		}
	}
	r = lf_node_move(u, sn, newparent, newname);
out:
	if (dn)
		lf_node_unref_locked(u, dn);
	if (sn)
		lf_node_unref_locked(u, sn);
	return r;
}

int lf_union_rename(struct lf_union *u, struct lf_node *parent, const char *name,
		    struct lf_node *newparent, const char *newname, unsigned flags)
{
	int r;

	pthread_mutex_lock(&u->lock);
	r = rename_locked(u, parent, name, newparent, newname, flags);
	pthread_mutex_unlock(&u->lock);
	return r;
}

/* ---- attributes ---- */

static int set_times(int fd, const struct timespec ts[2])
{
	char path[32];

	if (utimensat(fd, "", ts, AT_EMPTY_PATH) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOENT)
		return -errno;
	lf_upper_fdpath(fd, path);
	if (utimensat(AT_FDCWD, path, ts, 0) < 0)
		return -errno;
	return 0;
}

int lf_union_setattr(struct lf_union *u, struct lf_node *n, struct lf_file *f, unsigned what,
		     const struct stat *in, struct stat *ret_st)
{
	struct stat cur;
	char path[32];
	int r;

	pthread_mutex_lock(&u->lock);
	if (u->read_only) {
		r = -EROFS;
		goto out;
	}
	r = lf_union_copyup_locked(u, n,
				   !(what & LF_SET_SIZE) ? LF_COPYUP_META
				   : in->st_size == 0	 ? LF_COPYUP_EMPTY
							 : LF_COPYUP_DATA);
	if (r < 0)
		goto out;
	lf_upper_fdpath(n->upper_fd, path);
	if (what & (LF_SET_MODE | LF_SET_UID | LF_SET_GID)) {
		r = lf_union_getattr_locked(u, n, &cur);
		if (r < 0)
			goto out;
		if (u->upper.privileged) {
			if ((what & (LF_SET_UID | LF_SET_GID)) &&
			    fchownat(n->upper_fd, "", (what & LF_SET_UID) ? in->st_uid : (uid_t)-1,
				     (what & LF_SET_GID) ? in->st_gid : (gid_t)-1,
				     AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0) {
				r = -errno;
				goto out;
			}
			if ((what & LF_SET_MODE) && n->type != S_IFLNK &&
			    chmod(path, in->st_mode & 07777) < 0) {
				r = -errno;
				goto out;
			}
		} else {
			uid_t uid = (what & LF_SET_UID) ? in->st_uid : cur.st_uid;
			gid_t gid = (what & LF_SET_GID) ? in->st_gid : cur.st_gid;
			mode_t mode = (what & LF_SET_MODE) ? in->st_mode : cur.st_mode;
			if (n->type != S_IFREG && n->type != S_IFDIR &&
			    (uid != u->upper.euid || gid != u->upper.egid)) {
				r = -EPERM;
				goto out;
			}
			r = lf_upper_set_owner_mode(&u->upper, n->upper_fd, n->type, uid, gid,
						    mode);
			if (r < 0)
				goto out;
		}
	}
	if (what & LF_SET_SIZE) {
		if (n->type != S_IFREG) {
			r = -EINVAL;
			goto out;
		}
		if (f && f->upper && (f->flags & O_ACCMODE) != O_RDONLY) {
			if (ftruncate(f->fd, in->st_size) < 0) {
				r = -errno;
				goto out;
			}
		} else if (truncate(path, in->st_size) < 0) {
			r = -errno;
			goto out;
		}
	}
	if (what & (LF_SET_ATIME | LF_SET_MTIME | LF_SET_ATIME_NOW | LF_SET_MTIME_NOW)) {
		struct timespec ts[2] = { { .tv_nsec = UTIME_OMIT }, { .tv_nsec = UTIME_OMIT } };
		if (what & LF_SET_ATIME_NOW)
			ts[0].tv_nsec = UTIME_NOW;
		else if (what & LF_SET_ATIME)
			ts[0] = in->st_atim;
		if (what & LF_SET_MTIME_NOW)
			ts[1].tv_nsec = UTIME_NOW;
		else if (what & LF_SET_MTIME)
			ts[1] = in->st_mtim;
		r = set_times(n->upper_fd, ts);
		if (r < 0)
			goto out;
	}
	r = lf_union_getattr_locked(u, n, ret_st);
out:
	pthread_mutex_unlock(&u->lock);
	return r;
}

int lf_union_setxattr(struct lf_union *u, struct lf_node *n, const char *name, const void *value,
		      size_t size, int flags)
{
	char path[32];
	int r;

	if (lf_upper_xattr_is_private(name))
		return -EPERM;
	pthread_mutex_lock(&u->lock);
	r = u->read_only ? -EROFS : lf_union_copyup_locked(u, n, LF_COPYUP_META);
	if (r == 0) {
		lf_upper_fdpath(n->upper_fd, path);
		if ((n->type == S_IFLNK ? lsetxattr(path, name, value, size, flags)
					: setxattr(path, name, value, size, flags)) < 0)
			r = -errno;
	}
	pthread_mutex_unlock(&u->lock);
	return r;
}

int lf_union_removexattr(struct lf_union *u, struct lf_node *n, const char *name)
{
	char path[32];
	int r;

	if (lf_upper_xattr_is_private(name))
		return -ENODATA;
	pthread_mutex_lock(&u->lock);
	r = u->read_only ? -EROFS : lf_union_copyup_locked(u, n, LF_COPYUP_META);
	if (r == 0) {
		lf_upper_fdpath(n->upper_fd, path);
		if ((n->type == S_IFLNK ? lremovexattr(path, name) : removexattr(path, name)) < 0)
			r = -errno;
	}
	pthread_mutex_unlock(&u->lock);
	return r;
}
