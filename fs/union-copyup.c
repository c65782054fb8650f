/*
 * Copy-up: a lower entry becomes an upper one before it is changed. The copy is built in
 * work/ (data with holes, owner, mode, xattrs, times with ns) and renamed into the parent's
 * upper directory only when complete, so the upper never holds half a file. Parents are
 * copied up first. The node keeps its identity: open handles follow it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "layerfs/macro.h"
#include "union.h"

static bool xattr_settable(const struct lf_upper *up, mode_t type, const char *name)
{
	if (lf_upper_xattr_is_private(name))
		return false;
	if (up->privileged)
		return true;
	/* Unprivileged: only user.* on regular files and directories. */
	return !strncmp(name, "user.", 5) && (type == S_IFREG || type == S_IFDIR);
}

/* Sets the lower inode's xattrs on work/<tmp> (by path, so symlinks work too). */
static int copy_xattrs(struct lf_union *u, uint32_t ino, mode_t type, const char *tmp)
{
	uint32_t n = lf_tree_xattr_count(u->lower->tree, ino);
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/fd/%d/%s", u->upper.work_fd, tmp);
	for (uint32_t i = 0; i < n; i++) {
		const char *name;
		const void *v;
		size_t len;
		int r = lf_tree_xattr(u->lower->tree, ino, i, &name, &v, &len);
		if (r < 0)
			return r;
		if (!xattr_settable(&u->upper, type, name))
			continue;
		if (lsetxattr(path, name, v, len, 0) < 0 && errno != ENOTSUP && errno != EPERM)
			return -errno;
	}
	return 0;
}

/* Builds the copy of lower inode ino as work/<tmp>; returns an fd on it (O_PATH except for
 * directories and regular files). */
static int build_copy(struct lf_union *u, struct lf_node *n, enum lf_copyup how, const char *tmp,
		      int *ret_fd)
{
	bool with_data = how == LF_COPYUP_DATA;
	struct lf_upper *up = &u->upper;
	struct timespec ts[2];
	const char *target;
	struct stat st;
	char v[16];
	size_t len;
	int fd = -1, src = -1, r;

	r = lf_lower_stat(u->lower, n->lower, &st);
	if (r < 0)
		return r;
	switch (st.st_mode & S_IFMT) {
	case S_IFREG:
		fd = openat(up->work_fd, tmp, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
		if (fd < 0)
			return -errno;
		if (with_data && st.st_size > 0) {
			r = lf_lower_open_data(u->lower, n->lower, &src);
			if (r == 0 && src >= 0) {
				r = lf_upper_copy_data(src, fd, st.st_size);
				close(src);
			}
			if (r < 0)
				goto fail;
		}
		break;
	case S_IFDIR:
		if (mkdirat(up->work_fd, tmp, 0700) < 0)
			return -errno;
		fd = openat(up->work_fd, tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		break;
	case S_IFLNK:
		r = lf_tree_readlink(u->lower->tree, n->lower, &target, &len);
		if (r < 0)
			return r;
		if (symlinkat(target, up->work_fd, tmp) < 0)
			return -errno;
		fd = openat(up->work_fd, tmp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		break;
	case S_IFCHR:
	case S_IFBLK:
	case S_IFIFO:
	case S_IFSOCK:
		/* Device nodes need CAP_MKNOD: an unprivileged mount cannot copy them up. */
		if (mknodat(up->work_fd, tmp, (st.st_mode & S_IFMT) | 0600, st.st_rdev) < 0)
			return -errno;
		fd = openat(up->work_fd, tmp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		break;
	default:
		return -EIO;
	}
	if (fd < 0) {
		r = -errno;
		goto fail;
	}
	r = copy_xattrs(u, n->lower, st.st_mode & S_IFMT, tmp);
	if (r < 0)
		goto fail;
	/* The origin keeps st_ino across copy-up; every name of a hard-link group is linked to
	 * this one copy (link_group), so it stands for the whole group. */
	if (!S_ISDIR(st.st_mode) && xattr_settable(up, st.st_mode & S_IFMT, "user.x")) {
		char path[64];
		int k = snprintf(v, sizeof(v), "%u", n->lower);
		snprintf(path, sizeof(path), "/proc/self/fd/%d/%s", up->work_fd, tmp);
		if (lsetxattr(path, up->origin_xattr, v, k, 0) == 0)
			n->origin = n->lower;
		else
			n->origin = LF_TREE_NONE;
	} else if (!S_ISDIR(st.st_mode)) {
		n->origin = LF_TREE_NONE;
	}
	/* Metacopy: the right size, no bytes, a mark; reads go to the object until a write. */
	n->metacopy = false;
	if (how == LF_COPYUP_META && S_ISREG(st.st_mode) && st.st_size > 0) {
		char path[64];
		snprintf(path, sizeof(path), "/proc/self/fd/%d/%s", up->work_fd, tmp);
		if (n->origin == n->lower && ftruncate(fd, st.st_size) == 0 &&
		    lsetxattr(path, up->metacopy_xattr, "", 0, 0) == 0) {
			n->metacopy = true;
		} else if (ftruncate(fd, 0) == 0 &&
			   lf_lower_open_data(u->lower, n->lower, &src) == 0 && src >= 0) {
			/* no mark possible: a full copy after all */
			r = lf_upper_copy_data(src, fd, st.st_size);
			close(src);
			if (r < 0)
				goto fail;
		}
	}
	r = lf_upper_set_owner_mode(up, fd, st.st_mode & S_IFMT, st.st_uid, st.st_gid, st.st_mode);
	if (r < 0)
		goto fail;
	ts[0] = st.st_atim;
	ts[1] = st.st_mtim;
	if (utimensat(up->work_fd, tmp, ts, AT_SYMLINK_NOFOLLOW) < 0) {
		r = -errno;
		goto fail;
	}
	*ret_fd = fd;
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	lf_upper_drop_tmp(up, tmp);
	return r;
}

void lf_upper_drop_tmp(const struct lf_upper *up, const char *tmp)
{
	if (unlinkat(up->work_fd, tmp, 0) < 0 && errno == EISDIR)
		unlinkat(up->work_fd, tmp, AT_REMOVEDIR);
}

/* Copy-up is not a change users see: the upper directory that receives a copy keeps its
 * times, as kernel overlayfs does. */
static void save_times(int dirfd, struct timespec ts[2])
{
	struct stat st;

	if (fstat(dirfd, &st) < 0) {
		ts[0].tv_nsec = ts[1].tv_nsec = UTIME_OMIT;
		return;
	}
	ts[0] = st.st_atim;
	ts[1] = st.st_mtim;
}

static uint32_t lower_nlink(struct lf_union *u, uint32_t ino)
{
	struct lf_tree_stat ts;

	return lf_tree_stat(u->lower->tree, ino, &ts) < 0 ? 0 : ts.nlink;
}

static void restore_times(int dirfd, const struct timespec ts[2])
{
	(void)futimens(dirfd, ts);
}

/*
 * The node of lower directory dir at its place in the union, referenced; NULL when the union
 * no longer shows it there (removed, replaced, or under an opaque directory).
 */
static int lower_dir_node(struct lf_union *u, uint32_t dir, struct lf_node **ret)
{
	_cleanup_free_ uint32_t *chain = NULL;
	size_t depth = 0, cap = 0;
	struct lf_node *cur = u->root;

	for (uint32_t d = dir; d != LF_TREE_ROOT;) {
		const struct lf_lower_name *up = lf_lower_dir_up(u->lower, d);
		if (!up || up->dir == LF_TREE_NONE)
			return -EIO;
		if (depth == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			void *p = realloc(chain, ncap * sizeof(*chain));
			if (!p)
				return -ENOMEM;
			chain = p;
			cap = ncap;
		}
		chain[depth++] = d;
		d = up->dir;
	}
	lf_node_ref_locked(cur);
	while (depth-- > 0) {
		const struct lf_lower_name *up = lf_lower_dir_up(u->lower, chain[depth]);
		struct lf_resolved res;
		struct lf_node *next;
		struct stat ust;
		const char *name;
		uint32_t ino;
		size_t len;
		int r = lf_tree_dir_entry(u->lower->tree, up->dir, up->idx, &name, &len, &ino);
		if (r == 0)
			r = lf_union_resolve_name(u, cur, name, &res, &ust);
		if (r == 0 && (!res.visible || res.lower != chain[depth]))
			r = -ENOENT;
		if (r == 0)
			r = lf_union_node_get(u, cur, name, &res, &ust, &next);
		if (r < 0) {
			lf_node_unref_locked(u, cur);
			return r == -ENOENT ? 0 : r;
		}
		lf_node_ref_locked(next);
		lf_node_unref_locked(u, cur);
		cur = next;
	}
	*ret = cur;
	return 1;
}

/* A node that showed another name of n's lower inode now shows n's upper file there. */
static void adopt_link(struct lf_union *u, struct lf_node *n, struct lf_node *other)
{
	int fd = openat(other->parent->upper_fd, other->name, O_PATH | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return; /* it keeps reading the lower bytes until forgotten */
	lf_node_unhash_lower(u, other);
	other->udev = n->udev;
	other->uino = n->uino;
	other->origin = n->origin;
	other->metacopy = n->metacopy;
	other->lower_shared = false;
	other->lower = LF_TREE_NONE;
	/* Not hashed: n holds the key, and lookups of any name of the group find n. */
	__atomic_store_n(&other->upper_fd, fd, __ATOMIC_RELEASE);
}

/*
 * After n, a name of lower inode ino with more links, was copied up: every other name of the
 * group that still shows ino becomes a hard link to the same upper file, so a change through
 * one name is seen through all, as on the image's own filesystem.
 */
static int link_group(struct lf_union *u, struct lf_node *n, uint32_t ino)
{
	const struct lf_lower_name *names;
	char path[32];
	size_t count;
	int r;

	r = lf_lower_names(u->lower, ino, &names, &count);
	if (r < 0)
		return r;
	lf_upper_fdpath(n->upper_fd, path);
	for (size_t i = 0; i < count; i++) {
		struct timespec ts[2];
		struct lf_resolved res;
		struct lf_node *dir, *other;
		struct stat ust;
		const char *name;
		uint32_t e;
		size_t len;

		r = lf_tree_dir_entry(u->lower->tree, names[i].dir, names[i].idx, &name, &len, &e);
		if (r < 0)
			return r;
		r = lower_dir_node(u, names[i].dir, &dir);
		if (r <= 0) {
			if (r < 0)
				return r;
			continue;
		}
		if (dir == n->parent && !strcmp(name, n->name))
			r = -EEXIST; /* n itself */
		else
			r = lf_union_resolve_name(u, dir, name, &res, &ust);
		if (r == 0 && (!res.visible || res.has_upper || res.lower != ino))
			r = -EEXIST; /* that name was changed since */
		if (r == 0)
			r = lf_union_copyup_locked(u, dir, LF_COPYUP_DATA);
		if (r == 0) {
			save_times(dir->upper_fd, ts);
			if (linkat(AT_FDCWD, path, dir->upper_fd, name, AT_SYMLINK_FOLLOW) < 0)
				r = -errno;
			restore_times(dir->upper_fd, ts);
		}
		if (r == 0) {
			other = lf_node_find_lower(u, ino, dir, name);
			if (other && other->upper_fd < 0 && other->parent == dir)
				adopt_link(u, n, other);
		}
		lf_node_unref_locked(u, dir);
		if (r < 0 && r != -EEXIST)
			return r;
	}
	return 0;
}

bool lf_union_metacopy_locked(struct lf_union *u, struct lf_node *n)
{
	char path[32];

	if (!n->metacopy)
		return false;
	lf_upper_fdpath(n->upper_fd, path);
	if (getxattr(path, u->upper.metacopy_xattr, NULL, 0) < 0 && errno == ENODATA)
		__atomic_store_n(&n->metacopy, false, __ATOMIC_RELEASE);
	return n->metacopy;
}

/*
 * The bytes of a metacopy file, from its origin's object into the upper file it already is
 * (so every name and open handle of it follows); the file keeps its times. EMPTY only drops
 * the mark: the caller truncates.
 */
static int copy_bytes_up(struct lf_union *u, struct lf_node *n, enum lf_copyup how)
{
	struct timespec ts[2];
	struct lf_tree_stat ts_lower;
	struct stat st;
	char path[32];
	int src = -1, dst, r = 0;

	if (!lf_union_metacopy_locked(u, n))
		return 0;
	lf_upper_fdpath(n->upper_fd, path);
	dst = open(path, O_WRONLY | O_CLOEXEC);
	if (dst < 0)
		return -errno;
	if (fstat(dst, &st) < 0) {
		r = -errno;
		goto out;
	}
	ts[0] = st.st_atim;
	ts[1] = st.st_mtim;
	if (how == LF_COPYUP_DATA) {
		r = lf_tree_stat(u->lower->tree, n->origin, &ts_lower);
		if (r == 0)
			r = lf_lower_open_data(u->lower, n->origin, &src);
		if (r == 0 && src >= 0)
			r = lf_upper_copy_data(src, dst, ts_lower.size);
		if (src >= 0)
			close(src);
		if (r < 0)
			goto out;
		(void)futimens(dst, ts);
	}
	if (fremovexattr(dst, u->upper.metacopy_xattr) < 0 && errno != ENODATA)
		r = -errno;
	else
		__atomic_store_n(&n->metacopy, false, __ATOMIC_RELEASE);
out:
	close(dst);
	return r;
}

int lf_union_copyup_locked(struct lf_union *u, struct lf_node *n, enum lf_copyup how)
{
	struct timespec pts[2];
	uint32_t lower = n->lower;
	struct lf_node *parent = n->parent;
	char tmp[40];
	struct stat st;
	int fd = -1, r;

	if (n->upper_fd >= 0)
		return how == LF_COPYUP_META ? 0 : copy_bytes_up(u, n, how);
	if (u->read_only)
		return -EROFS;
	if (!parent || n->lower == LF_TREE_NONE)
		return -ENOENT; /* unlinked while open */
	r = lf_union_copyup_locked(u, parent, LF_COPYUP_DATA);
	if (r < 0)
		return r;
	lf_upper_tmpname(tmp);
	r = build_copy(u, n, how, tmp, &fd);
	if (r < 0)
		return r;
	save_times(parent->upper_fd, pts);
	if (renameat2(u->upper.work_fd, tmp, parent->upper_fd, n->name, RENAME_NOREPLACE) < 0) {
		r = -errno;
		close(fd);
		lf_upper_drop_tmp(&u->upper, tmp);
		return r;
	}
	restore_times(parent->upper_fd, pts);
	if (n->type != S_IFDIR && n->type != S_IFREG) {
		/* already O_PATH */
	} else if (n->type == S_IFREG) {
		int pfd = openat(parent->upper_fd, n->name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (pfd < 0) {
			r = -errno;
			close(fd);
			return r;
		}
		close(fd);
		fd = pfd;
	}
	if (fstat(fd, &st) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	lf_node_unhash_lower(u, n);
	n->udev = st.st_dev;
	n->uino = st.st_ino;
	n->lower_shared = false;
	if (n->type != S_IFDIR)
		n->lower = LF_TREE_NONE;
	__atomic_store_n(&n->upper_fd, fd, __ATOMIC_RELEASE);
	lf_node_hash_upper(u, n);
	if (n->type != S_IFDIR && st.st_nlink == 1 && lower_nlink(u, lower) > 1)
		return link_group(u, n, lower);
	return 0;
}

/* Is lower directory dir inside the lower subtree rooted at top (or top itself)? */
static bool lower_dir_within(struct lf_union *u, uint32_t dir, uint32_t top)
{
	for (uint32_t d = dir, depth = 0; depth < lf_tree_n_inodes(u->lower->tree); depth++) {
		const struct lf_lower_name *up;
		if (d == top)
			return true;
		if (d == LF_TREE_ROOT)
			return false;
		up = lf_lower_dir_up(u->lower, d);
		if (!up || up->dir == LF_TREE_NONE)
			return false;
		d = up->dir;
	}
	return false;
}

int lf_union_copyup_links_below_locked(struct lf_union *u, uint32_t top)
{
	const struct lf_lower_name *names;
	size_t count;
	int r;

	/* Builds the table; ino 0 is the root, never a hard link. */
	r = lf_lower_names(u->lower, LF_TREE_ROOT, &names, &count);
	if (r < 0)
		return r;
	for (size_t i = 0; i < u->lower->n_links; i++) {
		const struct lf_lower_name *e = &u->lower->links[i];
		struct lf_resolved res;
		struct lf_node *dir, *n;
		struct stat ust;
		const char *name;
		uint32_t ino;
		size_t len;

		if (!lower_dir_within(u, e->dir, top))
			continue;
		r = lf_tree_dir_entry(u->lower->tree, e->dir, e->idx, &name, &len, &ino);
		if (r < 0)
			return r;
		r = lower_dir_node(u, e->dir, &dir);
		if (r <= 0) {
			if (r < 0)
				return r;
			continue;
		}
		r = lf_union_resolve_name(u, dir, name, &res, &ust);
		if (r == 0 && res.visible && !res.has_upper && res.lower == ino) {
			r = lf_union_node_get(u, dir, name, &res, &ust, &n);
			if (r == 0) {
				lf_node_ref_locked(n);
				/* Metadata only: the group gets one upper inode, no bytes are copied. */
				r = lf_union_copyup_locked(u, n, LF_COPYUP_META);
				lf_node_unref_locked(u, n);
			}
		}
		lf_node_unref_locked(u, dir);
		if (r < 0)
			return r;
	}
	return 0;
}
