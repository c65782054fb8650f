/*
 * The lower of a container: the image's merged tree index and the store's objects. Immutable,
 * so every function here is safe from any thread without locks.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layerfs/macro.h"
#include "layerfs/store.h"
#include "union.h"

int lf_lower_new(struct lf_tree *tree, int objects_fd, struct lf_lower **ret)
{
	struct lf_lower *l = calloc(1, sizeof(*l));

	if (!l)
		return -ENOMEM;
	l->objects_fd = fcntl(objects_fd, F_DUPFD_CLOEXEC, 3);
	if (l->objects_fd < 0) {
		int r = -errno;
		free(l);
		return r;
	}
	l->tree = lf_tree_ref(tree);
	*ret = l;
	return 0;
}

void lf_lower_free(struct lf_lower *l)
{
	if (!l)
		return;
	lf_tree_unref(l->tree);
	if (l->objects_fd >= 0)
		close(l->objects_fd);
	free(l);
}

int lf_lower_stat(const struct lf_lower *l, uint32_t ino, struct stat *st)
{
	struct lf_tree_stat ts;
	int r;

	r = lf_tree_stat(l->tree, ino, &ts);
	if (r < 0)
		return r;
	*st = (struct stat){
		.st_ino = (ino_t)ino + 1,
		.st_mode = ts.mode,
		.st_nlink = ts.nlink ? ts.nlink : 1,
		.st_uid = ts.uid,
		.st_gid = ts.gid,
		.st_rdev = ts.rdev,
		.st_size = ts.size,
		.st_blksize = 4096,
		.st_blocks = (ts.size + 511) / 512,
	};
	st->st_mtim.tv_sec = ts.mtime_sec;
	st->st_mtim.tv_nsec = ts.mtime_nsec;
	st->st_atim = st->st_mtim;
	st->st_ctim = st->st_mtim;
	return 0;
}

mode_t lf_lower_mode(const struct lf_lower *l, uint32_t ino)
{
	struct lf_tree_stat ts;

	if (ino == LF_TREE_NONE || lf_tree_stat(l->tree, ino, &ts) < 0)
		return 0;
	return ts.mode;
}

int lf_lower_lookup(const struct lf_lower *l, uint32_t dir, const char *name, uint32_t *ret_ino)
{
	if (dir == LF_TREE_NONE)
		return -ENOENT;
	return lf_tree_lookup(l->tree, dir, name, strlen(name), ret_ino);
}

int lf_lower_open_data(const struct lf_lower *l, uint32_t ino, int *ret_fd)
{
	char rel[LF_OBJECT_PATH_MAX];
	struct lf_digest d;
	int fd, r;

	r = lf_tree_object(l->tree, ino, &d);
	if (r == -ENODATA) {
		*ret_fd = -1;
		return 0;
	}
	if (r < 0)
		return r;
	lf_cas_object_relpath(&d, rel);
	fd = openat(l->objects_fd, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -EIO : -errno; /* a missing object is a damaged store */
	*ret_fd = fd;
	return 0;
}
