/*
 * The lower of a container: the image's merged tree index and the store's objects. Immutable,
 * so every function here is safe from any thread without locks, but for the hard-link table
 * that lf_lower_names() builds on first use.
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
	free(l->dir_up);
	free(l->links);
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

static int cmp_name(const void *a, const void *b)
{
	const struct lf_lower_name *x = a, *y = b;

	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	if (x->dir != y->dir)
		return x->dir < y->dir ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* One breadth-first walk: each directory's place in its parent, and every name of every
 * inode with more than one. Directories are never hard-linked, so each is queued once. */
static int build_names(struct lf_lower *l)
{
	uint32_t n = lf_tree_n_inodes(l->tree), head = 0, tail = 0;
	_cleanup_free_ struct lf_lower_name *up = calloc(n, sizeof(*up));
	_cleanup_free_ uint32_t *queue = malloc(n * sizeof(*queue));
	_cleanup_free_ struct lf_lower_name *links = NULL;
	size_t n_links = 0, cap = 0;

	if (!up || !queue)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++)
		up[i] = (struct lf_lower_name){ i, LF_TREE_NONE, 0 };
	queue[tail++] = LF_TREE_ROOT;
	while (head < tail) {
		uint32_t dir = queue[head++], count = lf_tree_dir_count(l->tree, dir);
		for (uint32_t idx = 0; idx < count; idx++) {
			struct lf_tree_stat ts;
			const char *name;
			uint32_t ino;
			size_t len;
			int r = lf_tree_dir_entry(l->tree, dir, idx, &name, &len, &ino);
			if (r == 0)
				r = lf_tree_stat(l->tree, ino, &ts);
			if (r < 0)
				return r;
			if (S_ISDIR(ts.mode)) {
				if (up[ino].dir != LF_TREE_NONE || tail >= n)
					return -EBADMSG;
				up[ino] = (struct lf_lower_name){ ino, dir, idx };
				queue[tail++] = ino;
			} else if (ts.nlink > 1) {
				if (n_links == cap) {
					size_t ncap = cap ? cap * 2 : 64;
					void *p = realloc(links, ncap * sizeof(*links));
					if (!p)
						return -ENOMEM;
					links = p;
					cap = ncap;
				}
				links[n_links++] = (struct lf_lower_name){ ino, dir, idx };
			}
		}
	}
	if (n_links)
		qsort(links, n_links, sizeof(*links), cmp_name);
	l->dir_up = TAKE_PTR(up);
	l->links = TAKE_PTR(links);
	l->n_links = n_links;
	return 0;
}

int lf_lower_names(struct lf_lower *l, uint32_t ino, const struct lf_lower_name **ret,
		   size_t *ret_n)
{
	size_t lo = 0, hi;
	int r;

	if (!l->dir_up) {
		r = build_names(l);
		if (r < 0)
			return r;
	}
	hi = l->n_links;
	while (lo < hi) { /* the first entry of ino */
		size_t mid = lo + (hi - lo) / 2;
		if (l->links[mid].ino < ino)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (hi = lo; hi < l->n_links && l->links[hi].ino == ino; hi++)
		;
	*ret = l->links + lo;
	*ret_n = hi - lo;
	return 0;
}

const struct lf_lower_name *lf_lower_dir_up(const struct lf_lower *l, uint32_t dir)
{
	if (!l->dir_up || dir >= lf_tree_n_inodes(l->tree))
		return NULL;
	return &l->dir_up[dir];
}
