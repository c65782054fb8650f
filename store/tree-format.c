/*
 * Reader of the tree index: maps the file, verifies it completely once, then answers lookups
 * from the mapping without further checks. Verification covers the checksum, every offset and
 * count, name validity, sort order (binary search depends on it) and the shape of the
 * directory graph (every directory but the root is named exactly once), so that a corrupt or
 * hostile file is refused with -EBADMSG instead of misleading a walk.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layerfs/macro.h"
#include "layerfs/tree.h"
#include "tree-disk.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the tree index is read in place and assumes a little-endian host"
#endif

struct lf_tree {
	atomic_int refs;
	void *map;
	size_t map_len;
	bool heap; /* map is malloc'd, not mmap'd */
	const struct lf_tree_header *hdr;
	const struct lf_tree_disk_inode *inodes;
	const struct lf_tree_disk_dirent *dirents;
	const struct lf_tree_disk_xattr *xattrs;
	const struct lf_digest *objects;
	const char *strtab;
	uint64_t strtab_size;
};

static bool str_ok(const struct lf_tree *t, uint32_t off, uint32_t len)
{
	/* A string and its NUL terminator lie inside the string table. */
	return (uint64_t)off + len < t->strtab_size && t->strtab[off + len] == 0;
}

static int name_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int c = memcmp(a, b, MIN(alen, blen));

	if (c)
		return c;
	return alen < blen ? -1 : alen > blen;
}

static int verify_inode(const struct lf_tree *t, uint32_t ino, uint8_t *dir_refs)
{
	const struct lf_tree_disk_inode *n = &t->inodes[ino];
	uint32_t type = n->mode & S_IFMT;

	if (n->flags & ~LF_TREE_KNOWN_FLAGS)
		return -EBADMSG;
	if (n->mtime_nsec >= 1000000000u)
		return -EBADMSG;
	if ((uint64_t)n->xattr_start + n->xattr_count > t->hdr->n_xattrs)
		return -EBADMSG;
	for (uint32_t i = 0; i < n->xattr_count; i++) {
		const struct lf_tree_disk_xattr *x = &t->xattrs[n->xattr_start + i];
		if (x->name_len == 0 || !str_ok(t, x->name_off, x->name_len) ||
		    (uint64_t)x->value_off + x->value_len > t->strtab_size)
			return -EBADMSG;
	}
	if (n->flags & LF_TREE_WHITEOUT)
		return n->mode == 0 ? 0 : -EBADMSG;

	switch (type) {
	case S_IFDIR: {
		const struct lf_tree_disk_dirent *prev = NULL;
		if ((uint64_t)n->a + n->b > t->hdr->n_dirents)
			return -EBADMSG;
		for (uint32_t i = 0; i < n->b; i++) {
			const struct lf_tree_disk_dirent *e = &t->dirents[n->a + i];
			const char *name;
			if (e->ino >= t->hdr->n_inodes || e->ino == LF_TREE_ROOT)
				return -EBADMSG;
			if (!str_ok(t, e->name_off, e->name_len))
				return -EBADMSG;
			name = t->strtab + e->name_off;
			if (e->name_len == 0 || e->name_len > 255 ||
			    memchr(name, '/', e->name_len) ||
			    (e->name_len == 1 && name[0] == '.') ||
			    (e->name_len == 2 && name[0] == '.' && name[1] == '.'))
				return -EBADMSG;
			/* Strictly ascending: binary search and uniqueness depend on it. */
			if (prev && name_cmp(t->strtab + prev->name_off, prev->name_len, name,
					     e->name_len) >= 0)
				return -EBADMSG;
			prev = e;
			if ((t->inodes[e->ino].mode & S_IFMT) == S_IFDIR &&
			    !(t->inodes[e->ino].flags & LF_TREE_WHITEOUT)) {
				if (dir_refs[e->ino])
					return -EBADMSG; /* a directory named twice */
				dir_refs[e->ino] = 1;
			}
		}
		return 0;
	}
	case S_IFLNK:
		if (!str_ok(t, n->a, n->b) || n->b == 0 || n->size != n->b)
			return -EBADMSG;
		return 0;
	case S_IFREG:
		if ((n->flags & LF_TREE_HAS_OBJECT) && n->a >= t->hdr->n_objects)
			return -EBADMSG;
		if (!(n->flags & LF_TREE_HAS_OBJECT) && n->size != 0)
			return -EBADMSG;
		return 0;
	case S_IFCHR:
	case S_IFBLK:
	case S_IFIFO:
	case S_IFSOCK:
		return 0;
	default:
		return -EBADMSG;
	}
}

static int verify(struct lf_tree *t)
{
	const struct lf_tree_header *h = t->map;
	_cleanup_free_ uint8_t *dir_refs = NULL;
	struct lf_tree_layout l;
	struct lf_digest sum;

	if (t->map_len < sizeof(*h) || memcmp(h->magic, LF_TREE_MAGIC, 8) != 0)
		return -EBADMSG;
	if (h->version != LF_TREE_VERSION)
		return -EOPNOTSUPP;
	if (h->flags != 0 || h->file_size != t->map_len || h->n_inodes == 0)
		return -EBADMSG;
	lf_tree_layout_compute(h->n_inodes, h->n_dirents, h->n_xattrs, h->n_objects, h->strtab_size,
			       &l);
	if (l.end != t->map_len || h->strtab_size > UINT32_MAX)
		return -EBADMSG;
	lf_sha256_buf((const uint8_t *)t->map + sizeof(*h), t->map_len - sizeof(*h), &sum);
#ifndef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
	/* Fuzzing skips only this, so that mutations reach the structural checks below. */
	if (memcmp(sum.b, h->body_sha256, LF_DIGEST_LEN) != 0)
		return -EBADMSG;
#endif

	t->hdr = h;
	t->inodes = (const void *)((const uint8_t *)t->map + l.inodes);
	t->dirents = (const void *)((const uint8_t *)t->map + l.dirents);
	t->xattrs = (const void *)((const uint8_t *)t->map + l.xattrs);
	t->objects = (const void *)((const uint8_t *)t->map + l.objects);
	t->strtab = (const char *)t->map + l.strtab;
	t->strtab_size = h->strtab_size;

	if ((t->inodes[LF_TREE_ROOT].mode & S_IFMT) != S_IFDIR ||
	    (t->inodes[LF_TREE_ROOT].flags & LF_TREE_WHITEOUT))
		return -EBADMSG;
	for (uint32_t i = 1; i < h->n_objects; i++)
		if (lf_digest_cmp(&t->objects[i - 1], &t->objects[i]) >= 0)
			return -EBADMSG;
	dir_refs = calloc(h->n_inodes, 1);
	if (!dir_refs)
		return -ENOMEM;
	for (uint32_t i = 0; i < h->n_inodes; i++) {
		int r = verify_inode(t, i, dir_refs);
		if (r < 0)
			return r;
	}
	return 0;
}

static int tree_new(void *map, size_t len, bool heap, struct lf_tree **ret)
{
	struct lf_tree *t = calloc(1, sizeof(*t));
	int r;

	if (!t)
		return -ENOMEM;
	atomic_init(&t->refs, 1);
	t->map = map;
	t->map_len = len;
	t->heap = heap;
	r = verify(t);
	if (r < 0) {
		t->map = NULL; /* the caller still owns map on failure */
		free(t);
		return r;
	}
	*ret = t;
	return 0;
}

int lf_tree_open_fd(int fd, struct lf_tree **ret)
{
	struct stat st;
	void *map;
	int r;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EBADMSG;
	if ((uint64_t)st.st_size < sizeof(struct lf_tree_header))
		return -EBADMSG;
	map = mmap(NULL, st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		return -errno;
	r = tree_new(map, st.st_size, false, ret);
	if (r < 0)
		munmap(map, st.st_size);
	return r;
}

int lf_tree_open_at(int dirfd, const char *path, struct lf_tree **ret)
{
	_cleanup_close_ int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0)
		return -errno;
	return lf_tree_open_fd(fd, ret);
}

int lf_tree_open_mem(const void *buf, size_t len, struct lf_tree **ret)
{
	/* 8-byte alignment of the sections relies on an aligned base. */
	void *copy = malloc(len ? len : 1);
	int r;

	if (!copy)
		return -ENOMEM;
	memcpy(copy, buf, len);
	r = tree_new(copy, len, true, ret);
	if (r < 0)
		free(copy);
	return r;
}

struct lf_tree *lf_tree_ref(struct lf_tree *t)
{
	if (t)
		atomic_fetch_add(&t->refs, 1);
	return t;
}

void lf_tree_unref(struct lf_tree *t)
{
	if (!t || atomic_fetch_sub(&t->refs, 1) != 1)
		return;
	if (t->heap)
		free(t->map);
	else
		munmap(t->map, t->map_len);
	free(t);
}

uint32_t lf_tree_n_inodes(const struct lf_tree *t)
{
	return t->hdr->n_inodes;
}

void lf_tree_content_digest(const struct lf_tree *t, struct lf_digest *ret)
{
	memcpy(ret->b, t->hdr->body_sha256, LF_DIGEST_LEN);
}

int lf_tree_stat(const struct lf_tree *t, uint32_t ino, struct lf_tree_stat *ret)
{
	const struct lf_tree_disk_inode *n;

	if (ino >= t->hdr->n_inodes)
		return -EINVAL;
	n = &t->inodes[ino];
	*ret = (struct lf_tree_stat){
		.mode = n->mode,
		.uid = n->uid,
		.gid = n->gid,
		.nlink = n->nlink,
		.size = n->size,
		.rdev = n->rdev,
		.mtime_sec = n->mtime_sec,
		.mtime_nsec = n->mtime_nsec,
		.flags = n->flags & ~LF_TREE_IMPLICIT,
	};
	return 0;
}

static const struct lf_tree_disk_inode *dir_inode(const struct lf_tree *t, uint32_t dir)
{
	const struct lf_tree_disk_inode *n;

	if (dir >= t->hdr->n_inodes)
		return NULL;
	n = &t->inodes[dir];
	if ((n->mode & S_IFMT) != S_IFDIR || (n->flags & LF_TREE_WHITEOUT))
		return NULL;
	return n;
}

int lf_tree_lookup(const struct lf_tree *t, uint32_t dir, const char *name, size_t len,
		   uint32_t *ret_ino)
{
	const struct lf_tree_disk_inode *d = dir_inode(t, dir);
	uint32_t lo = 0, hi;

	if (!d)
		return dir < t->hdr->n_inodes ? -ENOTDIR : -EINVAL;
	hi = d->b;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		const struct lf_tree_disk_dirent *e = &t->dirents[d->a + mid];
		int c = name_cmp(name, len, t->strtab + e->name_off, e->name_len);
		if (c == 0) {
			*ret_ino = e->ino;
			return 0;
		}
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return -ENOENT;
}

int lf_tree_lookup_path(const struct lf_tree *t, const char *path, uint32_t *ret_ino)
{
	uint32_t cur = LF_TREE_ROOT;
	const char *p = path;

	while (*p) {
		const char *slash = strchrnul(p, '/');
		if (slash != p) {
			int r = lf_tree_lookup(t, cur, p, slash - p, &cur);
			if (r < 0)
				return r;
		}
		p = *slash ? slash + 1 : slash;
	}
	*ret_ino = cur;
	return 0;
}

uint32_t lf_tree_dir_count(const struct lf_tree *t, uint32_t dir)
{
	const struct lf_tree_disk_inode *d = dir_inode(t, dir);

	return d ? d->b : 0;
}

int lf_tree_dir_entry(const struct lf_tree *t, uint32_t dir, uint32_t idx, const char **ret_name,
		      size_t *ret_len, uint32_t *ret_ino)
{
	const struct lf_tree_disk_inode *d = dir_inode(t, dir);
	const struct lf_tree_disk_dirent *e;

	if (!d)
		return -ENOTDIR;
	if (idx >= d->b)
		return -ENOENT;
	e = &t->dirents[d->a + idx];
	*ret_name = t->strtab + e->name_off;
	if (ret_len)
		*ret_len = e->name_len;
	if (ret_ino)
		*ret_ino = e->ino;
	return 0;
}

int lf_tree_readlink(const struct lf_tree *t, uint32_t ino, const char **ret, size_t *ret_len)
{
	const struct lf_tree_disk_inode *n;

	if (ino >= t->hdr->n_inodes)
		return -EINVAL;
	n = &t->inodes[ino];
	if ((n->mode & S_IFMT) != S_IFLNK || (n->flags & LF_TREE_WHITEOUT))
		return -EINVAL;
	*ret = t->strtab + n->a;
	if (ret_len)
		*ret_len = n->b;
	return 0;
}

int lf_tree_object(const struct lf_tree *t, uint32_t ino, struct lf_digest *ret)
{
	const struct lf_tree_disk_inode *n;

	if (ino >= t->hdr->n_inodes)
		return -EINVAL;
	n = &t->inodes[ino];
	if ((n->mode & S_IFMT) != S_IFREG || (n->flags & LF_TREE_WHITEOUT))
		return -EINVAL;
	if (!(n->flags & LF_TREE_HAS_OBJECT))
		return -ENODATA;
	*ret = t->objects[n->a];
	return 0;
}

uint32_t lf_tree_xattr_count(const struct lf_tree *t, uint32_t ino)
{
	return ino < t->hdr->n_inodes ? t->inodes[ino].xattr_count : 0;
}

int lf_tree_xattr(const struct lf_tree *t, uint32_t ino, uint32_t idx, const char **ret_name,
		  const void **ret_value, size_t *ret_len)
{
	const struct lf_tree_disk_xattr *x;

	if (ino >= t->hdr->n_inodes || idx >= t->inodes[ino].xattr_count)
		return -ENOENT;
	x = &t->xattrs[t->inodes[ino].xattr_start + idx];
	*ret_name = t->strtab + x->name_off;
	*ret_value = t->strtab + x->value_off;
	*ret_len = x->value_len;
	return 0;
}

int lf_tree_getxattr(const struct lf_tree *t, uint32_t ino, const char *name,
		     const void **ret_value, size_t *ret_len)
{
	uint32_t n = lf_tree_xattr_count(t, ino);

	for (uint32_t i = 0; i < n; i++) {
		const struct lf_tree_disk_xattr *x = &t->xattrs[t->inodes[ino].xattr_start + i];
		if (strcmp(t->strtab + x->name_off, name) == 0) {
			*ret_value = t->strtab + x->value_off;
			*ret_len = x->value_len;
			return 0;
		}
	}
	return -ENODATA;
}

size_t lf_tree_n_objects(const struct lf_tree *t)
{
	return t->hdr->n_objects;
}

const struct lf_digest *lf_tree_object_at(const struct lf_tree *t, size_t idx)
{
	return idx < t->hdr->n_objects ? &t->objects[idx] : NULL;
}

uint64_t lf_tree_content_bytes(const struct lf_tree *t)
{
	uint64_t sum = 0;

	for (uint32_t i = 0; i < t->hdr->n_inodes; i++)
		if (t->inodes[i].flags & LF_TREE_HAS_OBJECT)
			sum += t->inodes[i].size;
	return sum;
}

uint32_t lf_tree_raw_flags(const struct lf_tree *t, uint32_t ino)
{
	return ino < t->hdr->n_inodes ? t->inodes[ino].flags : 0;
}
