/*
 * Reading the union: name resolution over upper and lower, attributes, directory listings,
 * symlinks, xattrs, and opening files. A lower-only lookup is one binary search in the merged
 * tree, whatever the number of layers; a directory with an upper adds one fstatat.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "layerfs/macro.h"
#include "layerfs/util.h"
#include "union.h"

/* ---- the union object ---- */

/* Returns 1 when the upper holds nothing yet and the mount is read-only: the root is then the
 * lower root, metadata and all. */
static int init_root_metadata(struct lf_union *u)
{
	struct lf_upper *up = &u->upper;
	struct timespec ts[2];
	struct stat st;
	char v[16];
	int r;

	if (fgetxattr(up->dir_fd, up->origin_xattr, v, sizeof(v)) >= 0)
		return 0;
	if (u->read_only)
		return 1;
	r = lf_lower_stat(u->lower, LF_TREE_ROOT, &st);
	if (r < 0)
		return r;
	r = lf_upper_set_owner_mode(up, up->dir_fd, S_IFDIR, st.st_uid, st.st_gid, st.st_mode);
	if (r < 0)
		return r;
	ts[0] = st.st_atim;
	ts[1] = st.st_mtim;
	if (futimens(up->dir_fd, ts) < 0)
		return -errno;
	if (fsetxattr(up->dir_fd, up->origin_xattr, "0", 1, 0) < 0)
		return -errno;
	return 0;
}

int lf_union_new(struct lf_lower *lower, int upper_fd, int work_fd, bool read_only,
		 struct lf_union **ret)
{
	struct lf_union *u = calloc(1, sizeof(*u));
	struct stat st;
	int r;

	if (!u) {
		close(upper_fd);
		close(work_fd);
		lf_lower_free(lower);
		return -ENOMEM;
	}
	pthread_mutex_init(&u->lock, NULL);
	u->lower = lower;
	u->read_only = read_only;
	lf_upper_init(&u->upper, upper_fd, work_fd);
	r = lf_node_new(u, NULL, "", &u->root);
	if (r < 0)
		goto fail;
	if (fstat(upper_fd, &st) < 0) {
		r = -errno;
		goto fail;
	}
	r = init_root_metadata(u);
	if (r < 0)
		goto fail;
	u->root->type = S_IFDIR;
	u->root->lower = LF_TREE_ROOT;
	u->root->origin = LF_TREE_ROOT;
	u->root->nlookup = 1;
	if (r == 0) {
		u->root->upper_fd = fcntl(upper_fd, F_DUPFD_CLOEXEC, 3);
		if (u->root->upper_fd < 0) {
			r = -errno;
			goto fail;
		}
		u->root->udev = st.st_dev;
		u->root->uino = st.st_ino;
		lf_node_hash_upper(u, u->root);
	}
	*ret = u;
	return 0;
fail:
	lf_union_free(u);
	return r;
}

void lf_union_free(struct lf_union *u)
{
	if (!u)
		return;
	/* Nodes the kernel still held at unmount go with the union. */
	for (struct lf_node *n = u->all, *next; n; n = next) {
		next = n->all_next;
		if (n->upper_fd >= 0)
			close(n->upper_fd);
		free(n->name);
		free(n);
	}
	free(u->lower_tab);
	free(u->upper_tab);
	if (u->root) {
		if (u->root->upper_fd >= 0)
			close(u->root->upper_fd);
		free(u->root->name);
		free(u->root);
	}
	lf_upper_done(&u->upper);
	lf_lower_free(u->lower);
	pthread_mutex_destroy(&u->lock);
	free(u);
}

/* ---- resolution ---- */

static bool child_is_opaque(struct lf_union *u, int parent_fd, const char *name)
{
	char path[32 + 256 + 2], v[4];
	static const char *const names[] = { "trusted.overlay.opaque", "user.overlay.opaque" };

	snprintf(path, sizeof(path), "/proc/self/fd/%d/%s", parent_fd, name);
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (lgetxattr(path, names[i], v, sizeof(v)) == 1 && v[0] == 'y')
			return true;
	return false;
}

int lf_union_resolve_name(struct lf_union *u, struct lf_node *parent, const char *name,
			  struct lf_resolved *ret, struct stat *ret_ust)
{
	uint32_t lower = LF_TREE_NONE;
	bool have_upper = false, opaque = false;
	mode_t lmode = 0;
	int r;

	if (!S_ISDIR(parent->type))
		return -ENOTDIR;
	if (strlen(name) > 255)
		return -ENAMETOOLONG;
	if (!lf_name_is_valid(name, strlen(name)))
		return -EINVAL;
	if (parent->upper_fd >= 0) {
		if (fstatat(parent->upper_fd, name, ret_ust, AT_SYMLINK_NOFOLLOW) == 0)
			have_upper = true;
		else if (errno != ENOENT)
			return -errno;
	}
	if (parent->lower != LF_TREE_NONE) {
		r = lf_lower_lookup(u->lower, parent->lower, name, &lower);
		if (r < 0 && r != -ENOENT)
			return r;
		if (r == 0)
			lmode = lf_lower_mode(u->lower, lower);
	}
	if (have_upper && S_ISDIR(ret_ust->st_mode)) {
		uint32_t target;
		/* A renamed lower directory merges with where it came from, not with this name. */
		r = lf_upper_get_redirect(&u->upper, parent->upper_fd, name, &target);
		if (r == 0 && S_ISDIR(lf_lower_mode(u->lower, target))) {
			lf_union_resolve(ret_ust, false, lower, lmode, ret);
			ret->lower = target;
			return 0;
		}
		if (r < 0 && r != -ENODATA && r != -EBADMSG)
			return r;
		if (lower != LF_TREE_NONE && S_ISDIR(lmode))
			opaque = child_is_opaque(u, parent->upper_fd, name);
	}
	lf_union_resolve(have_upper ? ret_ust : NULL, opaque, lower, lmode, ret);
	return 0;
}

static uint32_t read_origin(struct lf_union *u, int fd)
{
	char path[32], v[16];
	unsigned long x;
	char *end;
	ssize_t n;

	lf_upper_fdpath(fd, path);
	n = getxattr(path, u->upper.origin_xattr, v, sizeof(v) - 1);
	if (n <= 0)
		return LF_TREE_NONE;
	v[n] = 0;
	x = strtoul(v, &end, 10);
	if (*end || x >= lf_tree_n_inodes(u->lower->tree))
		return LF_TREE_NONE;
	return x;
}

int lf_union_node_upper(struct lf_union *u, struct lf_node *parent, const char *name, int fd,
			uint32_t lower, struct lf_node **ret)
{
	struct lf_node *n;
	struct stat st;
	int r;

	if (fstat(fd, &st) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	n = lf_node_find_upper(u, st.st_dev, st.st_ino);
	if (n) {
		close(fd);
		*ret = n;
		return 0;
	}
	r = lf_node_new(u, parent, name, &n);
	if (r < 0) {
		close(fd);
		return r;
	}
	n->upper_fd = fd;
	n->type = st.st_mode & S_IFMT;
	n->udev = st.st_dev;
	n->uino = st.st_ino;
	if (S_ISDIR(st.st_mode)) {
		n->lower = lower;
		n->origin = lower;
	} else {
		char path[32];
		n->origin = read_origin(u, fd);
		lf_upper_fdpath(fd, path);
		n->metacopy = S_ISREG(st.st_mode) && n->origin != LF_TREE_NONE &&
			      getxattr(path, u->upper.metacopy_xattr, NULL, 0) >= 0;
	}
	lf_node_hash_upper(u, n);
	*ret = n;
	return 0;
}

static int node_lower(struct lf_union *u, struct lf_node *parent, const char *name, uint32_t lower,
		      struct lf_node **ret)
{
	struct lf_tree_stat ts;
	struct lf_node *n;
	int r;

	n = lf_node_find_lower(u, lower, parent, name);
	if (n) {
		*ret = n;
		return 0;
	}
	r = lf_tree_stat(u->lower->tree, lower, &ts);
	if (r < 0)
		return r;
	r = lf_node_new(u, parent, name, &n);
	if (r < 0)
		return r;
	n->lower = lower;
	n->origin = lower;
	n->type = ts.mode & S_IFMT;
	n->lower_shared = !S_ISDIR(ts.mode) && ts.nlink > 1;
	lf_node_hash_lower(u, n);
	*ret = n;
	return 0;
}

int lf_union_node_get(struct lf_union *u, struct lf_node *parent, const char *name,
		      const struct lf_resolved *res, const struct stat *ust, struct lf_node **ret)
{
	struct lf_node *n;
	int fd;

	if (!res->visible)
		return -ENOENT;
	if (!res->has_upper)
		return node_lower(u, parent, name, res->lower, ret);

	n = lf_node_find_upper(u, ust->st_dev, ust->st_ino);
	if (n) {
		*ret = n;
		return 0;
	}
	if (S_ISDIR(ust->st_mode))
		fd = openat(parent->upper_fd, name,
			    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	else
		fd = openat(parent->upper_fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	return lf_union_node_upper(u, parent, name, fd, res->lower, ret);
}

int lf_union_getattr_locked(struct lf_union *u, struct lf_node *n, struct stat *ret)
{
	struct stat st;
	int r;

	if (n->upper_fd < 0) {
		r = lf_lower_stat(u->lower, n->lower, &st);
		if (r < 0)
			return r;
		*ret = st;
		return 0;
	}
	if (fstat(n->upper_fd, &st) < 0)
		return -errno;
	if (!u->upper.privileged)
		lf_upper_apply_override(&u->upper, n->upper_fd, &st);
	if (S_ISDIR(st.st_mode)) {
		st.st_ino = lf_union_ino(n->lower, st.st_ino);
		/* A merged directory's link count is not known without a walk. */
		if (n->lower != LF_TREE_NONE)
			st.st_nlink = 1;
	} else {
		st.st_ino = lf_union_ino(n->origin, st.st_ino);
		/* A metacopy holds no blocks of its own, but its bytes do exist. */
		if (__atomic_load_n(&n->metacopy, __ATOMIC_ACQUIRE))
			st.st_blocks = (st.st_size + 511) / 512;
	}
	*ret = st;
	return 0;
}

int lf_union_lookup(struct lf_union *u, struct lf_node *parent, const char *name,
		    struct lf_node **ret, struct stat *ret_st)
{
	struct lf_resolved res;
	struct lf_node *n;
	struct stat ust, st;
	int r;

	pthread_mutex_lock(&u->lock);
	r = lf_union_resolve_name(u, parent, name, &res, &ust);
	if (r == 0)
		r = lf_union_node_get(u, parent, name, &res, &ust, &n);
	if (r == 0) {
		n->nlookup++;
		r = lf_union_getattr_locked(u, n, &st);
		if (r < 0) {
			n->nlookup--;
			lf_node_ref_locked(n);
			lf_node_unref_locked(u, n);
		}
	}
	pthread_mutex_unlock(&u->lock);
	if (r < 0)
		return r;
	*ret = n;
	*ret_st = st;
	return 0;
}

int lf_union_getattr(struct lf_union *u, struct lf_node *n, struct stat *ret)
{
	int r;

	pthread_mutex_lock(&u->lock);
	r = lf_union_getattr_locked(u, n, ret);
	pthread_mutex_unlock(&u->lock);
	return r;
}

int lf_union_readlink(struct lf_union *u, struct lf_node *n, char *buf, size_t size)
{
	const char *target;
	size_t len;
	ssize_t k;
	int r = 0;

	pthread_mutex_lock(&u->lock);
	if (n->type != S_IFLNK) {
		r = -EINVAL;
	} else if (n->upper_fd >= 0) {
		k = readlinkat(n->upper_fd, "", buf, size - 1);
		if (k < 0)
			r = -errno;
		else
			buf[k] = 0;
	} else {
		r = lf_tree_readlink(u->lower->tree, n->lower, &target, &len);
		if (r == 0) {
			len = MIN(len, size - 1);
			memcpy(buf, target, len);
			buf[len] = 0;
		}
	}
	pthread_mutex_unlock(&u->lock);
	return r;
}

/* ---- xattrs ---- */

ssize_t lf_union_getxattr(struct lf_union *u, struct lf_node *n, const char *name, void *value,
			  size_t size)
{
	char path[32];
	const void *v;
	size_t len;
	ssize_t r;

	if (lf_upper_xattr_is_private(name))
		return -ENODATA;
	pthread_mutex_lock(&u->lock);
	if (n->upper_fd >= 0) {
		if (n->type == S_IFLNK) {
			r = -ENODATA;
		} else {
			lf_upper_fdpath(n->upper_fd, path);
			r = getxattr(path, name, value, size);
			if (r < 0)
				r = errno == ENOTSUP ? -ENODATA : -errno;
		}
	} else {
		r = lf_tree_getxattr(u->lower->tree, n->lower, name, &v, &len);
		if (r == 0) {
			r = len;
			if (size && len > size)
				r = -ERANGE;
			else if (size)
				memcpy(value, v, len);
		}
	}
	pthread_mutex_unlock(&u->lock);
	return r;
}

static ssize_t filter_list(char *buf, ssize_t len)
{
	ssize_t out = 0;

	for (ssize_t i = 0; i < len;) {
		size_t l = strnlen(buf + i, len - i) + 1;
		if (!lf_upper_xattr_is_private(buf + i)) {
			memmove(buf + out, buf + i, l);
			out += l;
		}
		i += l;
	}
	return out;
}

ssize_t lf_union_listxattr(struct lf_union *u, struct lf_node *n, char *list, size_t size)
{
	ssize_t r = 0;

	pthread_mutex_lock(&u->lock);
	if (n->upper_fd >= 0) {
		char path[32];
		_cleanup_free_ char *buf = NULL;
		ssize_t len;
		if (n->type == S_IFLNK)
			goto out;
		lf_upper_fdpath(n->upper_fd, path);
		/* The list is read whole, so private names can be dropped before sizing. */
		len = listxattr(path, NULL, 0);
		if (len < 0) {
			r = errno == ENOTSUP ? 0 : -errno;
			goto out;
		}
		buf = malloc(len + 1);
		if (!buf) {
			r = -ENOMEM;
			goto out;
		}
		len = listxattr(path, buf, len);
		if (len < 0) {
			r = -errno;
			goto out;
		}
		r = filter_list(buf, len);
		if (size && r > (ssize_t)size)
			r = -ERANGE;
		else if (size)
			memcpy(list, buf, r);
	} else {
		uint32_t cnt = lf_tree_xattr_count(u->lower->tree, n->lower);
		size_t need = 0;
		for (uint32_t i = 0; i < cnt; i++) {
			const char *name;
			const void *v;
			size_t vl, nl;
			if (lf_tree_xattr(u->lower->tree, n->lower, i, &name, &v, &vl) < 0)
				continue;
			nl = strlen(name) + 1;
			if (size && need + nl > size) {
				r = -ERANGE;
				goto out;
			}
			if (size)
				memcpy(list + need, name, nl);
			need += nl;
		}
		r = need;
	}
out:
	pthread_mutex_unlock(&u->lock);
	return r;
}

int lf_union_statfs(struct lf_union *u, struct statvfs *ret)
{
	if (fstatvfs(u->upper.dir_fd, ret) < 0)
		return -errno;
	ret->f_namemax = 255;
	return 0;
}

/* ---- directories ---- */

int lf_union_read_upper_dir(struct lf_union *u, int dirfd, struct lf_union_dirent **ret,
			    size_t *ret_n)
{
	struct lf_union_dirent *ents = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *d;
	int fd, r = 0;

	fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		r = -errno;
		close(fd);
		return r;
	}
	while ((errno = 0, de = readdir(d))) {
		unsigned char type = de->d_type;
		bool wh = false;
		struct stat st;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (type == DT_UNKNOWN || type == DT_CHR) {
			if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
				continue; /* vanished */
			type = IFTODT(st.st_mode);
			wh = lf_upper_is_whiteout(&st);
		}
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 32;
			struct lf_union_dirent *ne = realloc(ents, ncap * sizeof(*ents));
			if (!ne) {
				r = -ENOMEM;
				break;
			}
			ents = ne;
			cap = ncap;
		}
		ents[n] = (struct lf_union_dirent){ .name = strdup(de->d_name),
						    .type = type,
						    .whiteout = wh,
						    .upper = true,
						    .lower = LF_TREE_NONE };
		if (!ents[n].name) {
			r = -ENOMEM;
			break;
		}
		n++;
	}
	if (r == 0 && errno)
		r = -errno;
	closedir(d);
	if (r < 0) {
		lf_union_dirents_free(ents, n);
		return r;
	}
	*ret = ents;
	*ret_n = n;
	return 0;
}

static int snapshot(struct lf_union *u, struct lf_dir *d)
{
	struct lf_union_dirent *up = NULL, *merged;
	size_t n_up = 0, n;
	int r;

	r = lf_union_read_upper_dir(u, d->node->upper_fd, &up, &n_up);
	if (r < 0)
		return r;
	r = lf_union_merge_dir(up, n_up, u->lower->tree, d->node->lower, &merged, &n);
	if (r < 0)
		return r;
	lf_union_dirents_free(d->ents, d->n_ents);
	d->ents = merged;
	d->n_ents = n;
	return 0;
}

int lf_union_opendir(struct lf_union *u, struct lf_node *n, struct lf_dir **ret)
{
	struct lf_dir *d;
	int r = 0;

	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	pthread_mutex_lock(&u->lock);
	if (n->type != S_IFDIR) {
		r = -ENOTDIR;
		goto out;
	}
	d->node = n;
	d->lower_dir = n->lower;
	d->lower_only = n->upper_fd < 0;
	if (!d->lower_only)
		r = snapshot(u, d);
	if (r == 0)
		lf_node_ref_locked(n);
out:
	pthread_mutex_unlock(&u->lock);
	if (r < 0) {
		free(d);
		return r;
	}
	*ret = d;
	return 0;
}

int lf_union_dir_refresh(struct lf_union *u, struct lf_dir *d)
{
	int r = 0;

	pthread_mutex_lock(&u->lock);
	if (d->node->upper_fd >= 0) {
		d->lower_only = false;
		r = snapshot(u, d);
	}
	pthread_mutex_unlock(&u->lock);
	return r;
}

size_t lf_union_dir_count(struct lf_union *u, const struct lf_dir *d)
{
	if (d->lower_only)
		return lf_tree_dir_count(u->lower->tree, d->lower_dir);
	return d->n_ents;
}

int lf_union_dir_entry(struct lf_union *u, struct lf_dir *d, size_t idx, const char **ret_name,
		       unsigned char *ret_type, uint64_t *ret_ino)
{
	const struct lf_union_dirent *e;
	struct lf_tree_stat ts;
	const char *name;
	size_t len;
	uint32_t ino;
	int r;

	if (d->lower_only) {
		r = lf_tree_dir_entry(u->lower->tree, d->lower_dir, idx, &name, &len, &ino);
		if (r < 0)
			return r;
		r = lf_tree_stat(u->lower->tree, ino, &ts);
		if (r < 0)
			return r;
		*ret_name = name;
		*ret_type = IFTODT(ts.mode);
		*ret_ino = (uint64_t)ino + 1;
		return 0;
	}
	if (idx >= d->n_ents)
		return -ENOENT;
	e = &d->ents[idx];
	*ret_name = e->name;
	*ret_type = e->type;
	if (!e->upper) {
		*ret_ino = (uint64_t)e->lower + 1;
	} else if (e->type == DT_DIR) {
		struct stat st;
		*ret_ino = 0;
		pthread_mutex_lock(&u->lock);
		if (fstatat(d->node->upper_fd, e->name, &st, AT_SYMLINK_NOFOLLOW) == 0)
			*ret_ino = lf_union_ino(e->lower, st.st_ino);
		pthread_mutex_unlock(&u->lock);
	} else {
		/* Copied-up files keep their lower number; ask the upper. */
		struct lf_resolved res;
		struct lf_node *n;
		struct stat ust, st;
		*ret_ino = 0;
		pthread_mutex_lock(&u->lock);
		if (lf_union_resolve_name(u, d->node, e->name, &res, &ust) == 0 &&
		    lf_union_node_get(u, d->node, e->name, &res, &ust, &n) == 0) {
			lf_node_ref_locked(n);
			if (lf_union_getattr_locked(u, n, &st) == 0)
				*ret_ino = st.st_ino;
			lf_node_unref_locked(u, n);
		}
		pthread_mutex_unlock(&u->lock);
	}
	return 0;
}

int lf_union_dir_lookup(struct lf_union *u, struct lf_dir *d, size_t idx, struct lf_node **ret,
			struct stat *ret_st, const char **ret_name)
{
	const char *name;
	size_t len;
	uint32_t ino;
	struct lf_node *n;
	int r;

	if (!d->lower_only) {
		if (idx >= d->n_ents)
			return -ENOENT;
		*ret_name = d->ents[idx].name;
		return lf_union_lookup(u, d->node, d->ents[idx].name, ret, ret_st);
	}
	r = lf_tree_dir_entry(u->lower->tree, d->lower_dir, idx, &name, &len, &ino);
	if (r < 0)
		return r;
	*ret_name = name;
	pthread_mutex_lock(&u->lock);
	if (d->node->upper_fd >= 0) {
		/* The directory was copied up since: the name may be gone. */
		pthread_mutex_unlock(&u->lock);
		return lf_union_lookup(u, d->node, name, ret, ret_st);
	}
	r = node_lower(u, d->node, name, ino, &n);
	if (r == 0) {
		n->nlookup++;
		r = lf_lower_stat(u->lower, ino, ret_st);
		if (r < 0) {
			n->nlookup--;
			lf_node_ref_locked(n);
			lf_node_unref_locked(u, n);
		}
	}
	pthread_mutex_unlock(&u->lock);
	if (r == 0)
		*ret = n;
	return r;
}

void lf_union_closedir(struct lf_union *u, struct lf_dir *d)
{
	if (!d)
		return;
	lf_union_unref(u, d->node);
	lf_union_dirents_free(d->ents, d->n_ents);
	free(d);
}

/* ---- open files ---- */

static int open_upper(struct lf_node *n, int flags, int *ret_fd)
{
	char path[32];
	int fd;

	lf_upper_fdpath(n->upper_fd, path);
	fd = open(path, (flags & ~(O_CREAT | O_EXCL | O_NOCTTY | O_NOFOLLOW)) | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	*ret_fd = fd;
	return 0;
}

int lf_union_open(struct lf_union *u, struct lf_node *n, int flags, struct lf_file **ret)
{
	bool write = (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC);
	struct lf_file *f;
	int r = 0;

	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->fd = f->old_fd = -1;
	f->flags = flags;
	pthread_mutex_init(&f->lock, NULL);
	pthread_mutex_lock(&u->lock);
	if (n->type == S_IFDIR) {
		r = -EISDIR;
		goto out;
	}
	if (write && u->read_only) {
		r = -EROFS;
		goto out;
	}
	if (write && (n->upper_fd < 0 || n->metacopy)) {
		r = lf_union_copyup_locked(u, n,
					   (flags & O_TRUNC) ? LF_COPYUP_EMPTY : LF_COPYUP_DATA);
		if (r < 0)
			goto out;
	}
	if (n->upper_fd >= 0 && !lf_union_metacopy_locked(u, n)) {
		r = open_upper(n, flags, &f->fd);
		f->upper = true;
	} else {
		/* lower-only, or a metacopy whose bytes are still the origin's object */
		r = lf_lower_open_data(u->lower, n->upper_fd >= 0 ? n->origin : n->lower, &f->fd);
	}
	if (r == 0) {
		f->node = n;
		lf_node_ref_locked(n);
	}
out:
	pthread_mutex_unlock(&u->lock);
	if (r < 0) {
		pthread_mutex_destroy(&f->lock);
		free(f);
		return r;
	}
	*ret = f;
	return 0;
}

int lf_union_file_fd(struct lf_union *u, struct lf_file *f)
{
	int fd = -1;

	if (f->upper)
		return f->fd;
	/* Another handle copied the file's bytes up: read what it writes from now on. */
	if (__atomic_load_n(&f->node->upper_fd, __ATOMIC_ACQUIRE) < 0 ||
	    __atomic_load_n(&f->node->metacopy, __ATOMIC_ACQUIRE))
		return f->fd;
	pthread_mutex_lock(&u->lock);
	pthread_mutex_lock(&f->lock);
	if (!f->upper && f->node->upper_fd >= 0 && !f->node->metacopy &&
	    open_upper(f->node, O_RDONLY, &fd) == 0) {
		f->old_fd = f->fd;
		f->fd = fd;
		f->upper = true;
	}
	fd = f->fd;
	pthread_mutex_unlock(&f->lock);
	pthread_mutex_unlock(&u->lock);
	return fd;
}

void lf_union_release(struct lf_union *u, struct lf_file *f)
{
	if (!f)
		return;
	if (f->fd >= 0)
		close(f->fd);
	if (f->old_fd >= 0)
		close(f->old_fd);
	if (f->node)
		lf_union_unref(u, f->node);
	pthread_mutex_destroy(&f->lock);
	free(f);
}
