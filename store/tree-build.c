/*
 * The mutable tree: what a layer import fills entry by entry and what a merge folds layers
 * into, before it is written once to the immutable format. Nodes are inodes (hard links share
 * one, counted in refs); each directory keeps its children in an open-addressing hash table so
 * that building is linear in the number of entries whatever their order in the tar.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layerfs/macro.h"
#include "layerfs/tree.h"
#include "layerfs/util.h"
#include "tree-disk.h"

struct xattr {
	char *name;
	void *value;
	size_t len;
};

struct child {
	char *name; /* NULL: empty slot; TOMBSTONE: removed */
	uint32_t len;
	uint32_t hash;
	struct lf_tb_node *node;
};

static char tombstone_mark;
#define TOMBSTONE (&tombstone_mark)

struct lf_tb_node {
	struct lf_tree_stat st;
	uint32_t refs; /* names that refer to this node */
	uint32_t serial; /* inode number while writing */
	char *symlink;
	size_t symlink_len;
	struct lf_digest object;
	struct xattr *xattrs;
	size_t n_xattrs;
	/* directories */
	struct child *slots;
	uint32_t n_slots; /* power of two, or 0 */
	uint32_t n_children;
	uint32_t n_used; /* children + tombstones */
};

struct lf_tb {
	struct lf_tb_node *root;
};

static bool is_dir(const struct lf_tb_node *n)
{
	return (n->st.mode & S_IFMT) == S_IFDIR && !(n->st.flags & LF_TREE_WHITEOUT);
}

static uint32_t name_hash(const char *s, size_t len)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (uint8_t)s[i]) * 16777619u;
	return h;
}

static void node_unref(struct lf_tb_node *n);

static void node_clear_children(struct lf_tb_node *n)
{
	for (uint32_t i = 0; i < n->n_slots; i++) {
		struct child *c = &n->slots[i];
		if (c->name && c->name != TOMBSTONE) {
			free(c->name);
			node_unref(c->node);
		}
	}
	free(n->slots);
	n->slots = NULL;
	n->n_slots = n->n_children = n->n_used = 0;
}

static void node_clear_xattrs(struct lf_tb_node *n)
{
	for (size_t i = 0; i < n->n_xattrs; i++) {
		free(n->xattrs[i].name);
		free(n->xattrs[i].value);
	}
	free(n->xattrs);
	n->xattrs = NULL;
	n->n_xattrs = 0;
}

static void node_unref(struct lf_tb_node *n)
{
	if (!n || --n->refs > 0)
		return;
	node_clear_children(n);
	node_clear_xattrs(n);
	free(n->symlink);
	free(n);
}

static struct lf_tb_node *node_new(const struct lf_tree_stat *st)
{
	struct lf_tb_node *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	n->st = *st;
	n->st.nlink = 0;
	n->refs = 1;
	n->serial = LF_TREE_NONE;
	return n;
}

static struct lf_tb_node *implicit_dir_new(void)
{
	struct lf_tree_stat st = { .mode = S_IFDIR | 0755, .flags = LF_TREE_IMPLICIT };

	return node_new(&st);
}

static struct child *child_find(const struct lf_tb_node *dir, const char *name, size_t len,
				uint32_t hash)
{
	if (dir->n_slots == 0)
		return NULL;
	for (uint32_t i = hash & (dir->n_slots - 1);; i = (i + 1) & (dir->n_slots - 1)) {
		struct child *c = &dir->slots[i];
		if (!c->name)
			return NULL;
		if (c->name != TOMBSTONE && c->hash == hash && c->len == len &&
		    memcmp(c->name, name, len) == 0)
			return c;
	}
}

static int child_grow(struct lf_tb_node *dir)
{
	uint32_t n = dir->n_slots ? dir->n_slots * 2 : 8;
	struct child *slots = calloc(n, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	/* Rehash live entries only; tombstones vanish. */
	if (dir->n_children * 4 < dir->n_slots)
		n = dir->n_slots;
	for (uint32_t i = 0; i < dir->n_slots; i++) {
		struct child *c = &dir->slots[i];
		uint32_t j;
		if (!c->name || c->name == TOMBSTONE)
			continue;
		for (j = c->hash & (n - 1); slots[j].name; j = (j + 1) & (n - 1))
			;
		slots[j] = *c;
	}
	free(dir->slots);
	dir->slots = slots;
	dir->n_slots = n;
	dir->n_used = dir->n_children;
	return 0;
}

/* Inserts a new name (the caller checked it is absent); takes a reference to node. */
static int child_insert(struct lf_tb_node *dir, const char *name, size_t len, uint32_t hash,
			struct lf_tb_node *node)
{
	struct child *c;
	uint32_t i;
	int r;

	if ((dir->n_used + 1) * 4 > dir->n_slots * 3) {
		r = child_grow(dir);
		if (r < 0)
			return r;
	}
	for (i = hash & (dir->n_slots - 1); dir->slots[i].name && dir->slots[i].name != TOMBSTONE;
	     i = (i + 1) & (dir->n_slots - 1))
		;
	c = &dir->slots[i];
	if (!c->name)
		dir->n_used++;
	c->name = strndup(name, len);
	if (!c->name) {
		c->name = TOMBSTONE;
		return -ENOMEM;
	}
	c->len = len;
	c->hash = hash;
	c->node = node;
	node->refs++;
	dir->n_children++;
	return 0;
}

static void child_remove(struct lf_tb_node *dir, struct child *c)
{
	free(c->name);
	c->name = TOMBSTONE;
	node_unref(c->node);
	c->node = NULL;
	dir->n_children--;
}

/* Replaces or inserts name -> node in dir; takes a new reference to node. */
static int child_set(struct lf_tb_node *dir, const char *name, size_t len, struct lf_tb_node *node)
{
	uint32_t hash = name_hash(name, len);
	struct child *c = child_find(dir, name, len, hash);

	if (c) {
		struct lf_tb_node *old = c->node;
		node->refs++;
		c->node = node;
		node_unref(old);
		return 0;
	}
	return child_insert(dir, name, len, hash, node);
}

int lf_tb_new(struct lf_tb **ret)
{
	struct lf_tb *tb = calloc(1, sizeof(*tb));

	if (!tb)
		return -ENOMEM;
	tb->root = implicit_dir_new();
	if (!tb->root) {
		free(tb);
		return -ENOMEM;
	}
	*ret = tb;
	return 0;
}

void lf_tb_free(struct lf_tb *tb)
{
	if (!tb)
		return;
	node_unref(tb->root);
	free(tb);
}

struct lf_tb_node *lf_tb_root(struct lf_tb *tb)
{
	return tb->root;
}

/* A new directory where a whiteout was hides what the lower layers had there: opaque. */
static struct lf_tb_node *dir_over_whiteout(void)
{
	struct lf_tb_node *n = implicit_dir_new();

	if (n)
		n->st.flags |= LF_TREE_OPAQUE;
	return n;
}

/*
 * Walks to the parent of path, creating implicit directories, and returns the parent and the
 * last component. -ENOTDIR when a component exists and is not a directory.
 */
static int walk_parent(struct lf_tb *tb, const char *path, bool create,
		       struct lf_tb_node **ret_parent, const char **ret_name, size_t *ret_len)
{
	struct lf_tb_node *cur = tb->root;
	const char *p = path;

	for (;;) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);
		struct child *c;
		uint32_t hash;

		if (!lf_name_is_valid(p, len))
			return -EINVAL;
		if (!slash || slash[1] == 0) {
			*ret_parent = cur;
			*ret_name = p;
			*ret_len = len;
			return 0;
		}
		hash = name_hash(p, len);
		c = child_find(cur, p, len, hash);
		if (c && is_dir(c->node)) {
			cur = c->node;
		} else if (c && !(c->node->st.flags & LF_TREE_WHITEOUT)) {
			return -ENOTDIR;
		} else if (!create) {
			return -ENOENT;
		} else {
			struct lf_tb_node *d = c ? dir_over_whiteout() : implicit_dir_new();
			int r;
			if (!d)
				return -ENOMEM;
			r = child_set(cur, p, len, d);
			node_unref(d); /* the directory holds the only reference now */
			if (r < 0)
				return r;
			cur = d;
		}
		p = slash + 1;
	}
}

int lf_tb_find(struct lf_tb *tb, const char *path, struct lf_tb_node **ret)
{
	struct lf_tb_node *parent;
	const char *name;
	struct child *c;
	size_t len;
	int r;

	if (!*path) {
		*ret = tb->root;
		return 0;
	}
	r = walk_parent(tb, path, false, &parent, &name, &len);
	if (r < 0)
		return r;
	c = child_find(parent, name, len, name_hash(name, len));
	if (!c)
		return -ENOENT;
	*ret = c->node;
	return 0;
}

static void set_meta(struct lf_tb_node *n, const struct lf_tree_stat *st)
{
	uint32_t keep = n->st.flags & (LF_TREE_OPAQUE | LF_TREE_HAS_OBJECT);

	n->st.mode = st->mode;
	n->st.uid = st->uid;
	n->st.gid = st->gid;
	n->st.mtime_sec = st->mtime_sec;
	n->st.mtime_nsec = st->mtime_nsec;
	n->st.rdev = st->rdev;
	n->st.flags = keep | (st->flags & (LF_TREE_OPAQUE | LF_TREE_WHITEOUT));
}

int lf_tb_add(struct lf_tb *tb, const char *path, const struct lf_tree_stat *st,
	      struct lf_tb_node **ret_node)
{
	struct lf_tb_node *parent, *n;
	const char *name;
	struct child *c;
	size_t len;
	int r;

	if (!*path) {
		/* The root itself: only its metadata can change. */
		if (!S_ISDIR(st->mode))
			return -EISDIR;
		set_meta(tb->root, st);
		if (ret_node)
			*ret_node = tb->root;
		return 0;
	}
	r = walk_parent(tb, path, true, &parent, &name, &len);
	if (r < 0)
		return r;
	c = child_find(parent, name, len, name_hash(name, len));
	if (c && is_dir(c->node) && S_ISDIR(st->mode)) {
		set_meta(c->node, st);
		if (ret_node)
			*ret_node = c->node;
		return 0;
	}
	n = node_new(st);
	if (!n)
		return -ENOMEM;
	n->st.flags &= LF_TREE_OPAQUE;
	/* A directory created where this layer whited out a name replaces the lower one. */
	if (c && (c->node->st.flags & LF_TREE_WHITEOUT) && S_ISDIR(st->mode))
		n->st.flags |= LF_TREE_OPAQUE;
	if (!S_ISREG(st->mode))
		n->st.size = 0;
	r = child_set(parent, name, len, n);
	node_unref(n);
	if (r < 0)
		return r;
	if (ret_node)
		*ret_node = n;
	return 0;
}

int lf_tb_add_whiteout(struct lf_tb *tb, const char *path)
{
	static const struct lf_tree_stat wh = { .flags = LF_TREE_WHITEOUT };
	struct lf_tb_node *parent, *n;
	const char *name;
	struct child *c;
	size_t len;
	int r;

	r = walk_parent(tb, path, true, &parent, &name, &len);
	if (r < 0)
		return r;
	c = child_find(parent, name, len, name_hash(name, len));
	if (c) {
		/*
		 * A whiteout only hides lower layers (OCI image spec). An entry of this layer
		 * already replaces the lower one; a directory of this layer must also hide the
		 * lower directory's contents.
		 */
		if (is_dir(c->node))
			c->node->st.flags |= LF_TREE_OPAQUE;
		return 0;
	}
	n = node_new(&wh);
	if (!n)
		return -ENOMEM;
	r = child_insert(parent, name, len, name_hash(name, len), n);
	node_unref(n);
	return r;
}

int lf_tb_set_opaque(struct lf_tb *tb, const char *path)
{
	struct lf_tb_node *parent, *d;
	const char *name;
	struct child *c;
	size_t len;
	int r;

	if (!*path) {
		tb->root->st.flags |= LF_TREE_OPAQUE;
		return 0;
	}
	r = walk_parent(tb, path, true, &parent, &name, &len);
	if (r < 0)
		return r;
	c = child_find(parent, name, len, name_hash(name, len));
	if (c && is_dir(c->node)) {
		c->node->st.flags |= LF_TREE_OPAQUE;
		return 0;
	}
	if (c && !(c->node->st.flags & LF_TREE_WHITEOUT))
		return -ENOTDIR;
	d = dir_over_whiteout();
	if (!d)
		return -ENOMEM;
	r = child_set(parent, name, len, d);
	node_unref(d);
	return r;
}

int lf_tb_link(struct lf_tb *tb, const char *path, const char *target)
{
	struct lf_tb_node *t, *parent;
	const char *name;
	size_t len;
	int r;

	r = lf_tb_find(tb, target, &t);
	if (r < 0)
		return r == -ENOTDIR ? -ENOENT : r;
	if (is_dir(t) || (t->st.flags & LF_TREE_WHITEOUT))
		return -EPERM;
	r = walk_parent(tb, path, true, &parent, &name, &len);
	if (r < 0)
		return r;
	return child_set(parent, name, len, t);
}

int lf_tb_remove(struct lf_tb *tb, const char *path)
{
	struct lf_tb_node *parent;
	const char *name;
	struct child *c;
	size_t len;
	int r;

	r = walk_parent(tb, path, false, &parent, &name, &len);
	if (r < 0)
		return r;
	c = child_find(parent, name, len, name_hash(name, len));
	if (!c)
		return -ENOENT;
	child_remove(parent, c);
	return 0;
}

void lf_tb_node_stat(const struct lf_tb_node *n, struct lf_tree_stat *ret)
{
	*ret = n->st;
	ret->flags &= ~LF_TREE_IMPLICIT;
	ret->nlink = n->refs;
}

void lf_tb_node_set_object(struct lf_tb_node *n, const struct lf_digest *d, uint64_t size)
{
	n->object = *d;
	n->st.size = size;
	n->st.flags |= LF_TREE_HAS_OBJECT;
}

int lf_tb_node_set_symlink(struct lf_tb_node *n, const char *target, size_t len)
{
	char *s;

	if (len == 0 || memchr(target, 0, len))
		return -EINVAL;
	s = strndup(target, len);
	if (!s)
		return -ENOMEM;
	free(n->symlink);
	n->symlink = s;
	n->symlink_len = len;
	n->st.size = len;
	return 0;
}

int lf_tb_node_set_xattr(struct lf_tb_node *n, const char *name, const void *value, size_t len)
{
	struct xattr *x = NULL;
	void *v;

	if (!*name || len > UINT32_MAX)
		return -EINVAL;
	for (size_t i = 0; i < n->n_xattrs; i++)
		if (strcmp(n->xattrs[i].name, name) == 0)
			x = &n->xattrs[i];
	v = malloc(len ? len : 1);
	if (!v)
		return -ENOMEM;
	memcpy(v, value, len);
	if (!x) {
		struct xattr *nx = realloc(n->xattrs, (n->n_xattrs + 1) * sizeof(*nx));
		if (!nx) {
			free(v);
			return -ENOMEM;
		}
		n->xattrs = nx;
		x = &nx[n->n_xattrs];
		x->name = strdup(name);
		if (!x->name) {
			free(v);
			return -ENOMEM;
		}
		n->n_xattrs++;
	} else {
		free(x->value);
	}
	x->value = v;
	x->len = len;
	return 0;
}

/* ---- applying a layer ---- */

struct apply {
	const struct lf_tree *layer;
	struct lf_tb_node **map; /* layer inode -> node made for it, for hard links */
};

static int copy_inode(struct apply *a, uint32_t ino, const struct lf_tree_stat *st,
		      struct lf_tb_node *n)
{
	uint32_t nx = lf_tree_xattr_count(a->layer, ino);
	int r;

	node_clear_xattrs(n);
	for (uint32_t i = 0; i < nx; i++) {
		const char *name;
		const void *value;
		size_t len;
		r = lf_tree_xattr(a->layer, ino, i, &name, &value, &len);
		if (r < 0)
			return r;
		r = lf_tb_node_set_xattr(n, name, value, len);
		if (r < 0)
			return r;
	}
	if (S_ISLNK(st->mode)) {
		const char *target;
		size_t len;
		r = lf_tree_readlink(a->layer, ino, &target, &len);
		if (r < 0)
			return r;
		return lf_tb_node_set_symlink(n, target, len);
	}
	if (S_ISREG(st->mode) && (st->flags & LF_TREE_HAS_OBJECT)) {
		struct lf_digest d;
		r = lf_tree_object(a->layer, ino, &d);
		if (r < 0)
			return r;
		lf_tb_node_set_object(n, &d, st->size);
	}
	return 0;
}

/*
 * A directory of the layer over a directory of the stack: an opaque one hides what was below;
 * an explicit one (named by an entry of its layer) takes over mode, owner, times and xattrs,
 * while one implied only as a parent keeps the metadata from below.
 */
static int merge_dir_meta(struct apply *a, struct lf_tb_node *d, uint32_t ino,
			  const struct lf_tree_stat *st)
{
	uint32_t raw = lf_tree_raw_flags(a->layer, ino);
	int r;

	if (raw & LF_TREE_OPAQUE)
		node_clear_children(d);
	if (raw & LF_TREE_IMPLICIT)
		return 0;
	d->st.mode = st->mode;
	d->st.uid = st->uid;
	d->st.gid = st->gid;
	d->st.mtime_sec = st->mtime_sec;
	d->st.mtime_nsec = st->mtime_nsec;
	d->st.flags = 0;
	r = copy_inode(a, ino, st, d);
	return r;
}

static int apply_dir(struct apply *a, struct lf_tb_node *dir, uint32_t layer_dir)
{
	uint32_t count = lf_tree_dir_count(a->layer, layer_dir);
	int r;

	for (uint32_t i = 0; i < count; i++) {
		struct lf_tree_stat st;
		const char *name;
		struct child *c;
		uint32_t ino, hash;
		size_t len;

		r = lf_tree_dir_entry(a->layer, layer_dir, i, &name, &len, &ino);
		if (r < 0)
			return r;
		lf_tree_stat(a->layer, ino, &st);
		hash = name_hash(name, len);
		c = child_find(dir, name, len, hash);

		if (st.flags & LF_TREE_WHITEOUT) {
			if (c)
				child_remove(dir, c);
			continue;
		}
		if (S_ISDIR(st.mode)) {
			struct lf_tb_node *d;
			if (c && is_dir(c->node)) {
				d = c->node;
			} else {
				d = implicit_dir_new();
				if (!d)
					return -ENOMEM;
				r = child_set(dir, name, len, d);
				node_unref(d);
				if (r < 0)
					return r;
			}
			r = merge_dir_meta(a, d, ino, &st);
			if (r < 0)
				return r;
			r = apply_dir(a, d, ino);
			if (r < 0)
				return r;
			continue;
		}
		if (a->map[ino]) {
			r = child_set(dir, name, len, a->map[ino]);
			if (r < 0)
				return r;
			continue;
		}
		struct lf_tb_node *n = node_new(&st);
		if (!n)
			return -ENOMEM;
		n->st.flags &= LF_TREE_HAS_OBJECT;
		r = copy_inode(a, ino, &st, n);
		if (r >= 0)
			r = child_set(dir, name, len, n);
		node_unref(n);
		if (r < 0)
			return r;
		a->map[ino] = n;
	}
	return 0;
}

int lf_tb_apply(struct lf_tb *tb, const struct lf_tree *layer)
{
	struct apply a = { .layer = layer };
	struct lf_tree_stat st;
	int r;

	a.map = calloc(lf_tree_n_inodes(layer), sizeof(*a.map));
	if (!a.map)
		return -ENOMEM;
	lf_tree_stat(layer, LF_TREE_ROOT, &st);
	r = merge_dir_meta(&a, tb->root, LF_TREE_ROOT, &st);
	if (r >= 0)
		r = apply_dir(&a, tb->root, LF_TREE_ROOT);
	free(a.map);
	return r;
}

/* ---- writing the immutable format ---- */

struct buf {
	uint8_t *p;
	size_t len, cap;
};

static int buf_reserve(struct buf *b, size_t more)
{
	size_t cap;
	uint8_t *p;

	if (b->len + more <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 4096;
	while (cap < b->len + more)
		cap *= 2;
	p = realloc(b->p, cap);
	if (!p)
		return -ENOMEM;
	b->p = p;
	b->cap = cap;
	return 0;
}

/* Appends bytes plus a NUL; returns the offset or -ENOMEM/-EFBIG. */
static int64_t buf_add_str(struct buf *b, const void *s, size_t len, bool nul)
{
	size_t off = b->len;

	if (b->len + len + 1 > UINT32_MAX)
		return -EFBIG;
	if (buf_reserve(b, len + 1) < 0)
		return -ENOMEM;
	memcpy(b->p + b->len, s, len);
	b->len += len;
	if (nul)
		b->p[b->len++] = 0;
	return off;
}

struct writer {
	struct lf_tb_node **order; /* serial -> node */
	uint32_t n_nodes, cap_nodes;
	uint64_t n_dirents, n_xattrs;
	struct lf_digest *objects;
	size_t n_objects, cap_objects;
};

static int order_add(struct writer *w, struct lf_tb_node *n)
{
	if (n->serial != LF_TREE_NONE)
		return 0;
	if (w->n_nodes == UINT32_MAX - 1)
		return -EFBIG;
	if (w->n_nodes == w->cap_nodes) {
		uint32_t cap = w->cap_nodes ? w->cap_nodes * 2 : 1024;
		struct lf_tb_node **o = realloc(w->order, cap * sizeof(*o));
		if (!o)
			return -ENOMEM;
		w->order = o;
		w->cap_nodes = cap;
	}
	n->serial = w->n_nodes;
	w->order[w->n_nodes++] = n;
	w->n_xattrs += n->n_xattrs;
	if (n->st.flags & LF_TREE_HAS_OBJECT) {
		if (w->n_objects == w->cap_objects) {
			size_t cap = w->cap_objects ? w->cap_objects * 2 : 1024;
			struct lf_digest *o = realloc(w->objects, cap * sizeof(*o));
			if (!o)
				return -ENOMEM;
			w->objects = o;
			w->cap_objects = cap;
		}
		w->objects[w->n_objects++] = n->object;
	}
	return 0;
}

static int child_cmp(const void *a, const void *b)
{
	const struct child *x = a, *y = b;
	int c = memcmp(x->name, y->name, MIN(x->len, y->len));

	if (c)
		return c;
	return x->len < y->len ? -1 : x->len > y->len;
}

static int digest_cmp(const void *a, const void *b)
{
	return lf_digest_cmp(a, b);
}

/* Children of a directory, sorted by name, in a new array. */
static int sorted_children(const struct lf_tb_node *dir, struct child **ret)
{
	struct child *v = malloc((dir->n_children ? dir->n_children : 1) * sizeof(*v));
	uint32_t k = 0;

	if (!v)
		return -ENOMEM;
	for (uint32_t i = 0; i < dir->n_slots; i++)
		if (dir->slots[i].name && dir->slots[i].name != TOMBSTONE)
			v[k++] = dir->slots[i];
	if (k > 1)
		qsort(v, k, sizeof(*v), child_cmp);
	*ret = v;
	return 0;
}

static void reset_serials(struct lf_tb_node *n)
{
	n->serial = LF_TREE_NONE;
	for (uint32_t i = 0; i < n->n_slots; i++)
		if (n->slots[i].name && n->slots[i].name != TOMBSTONE)
			reset_serials(n->slots[i].node);
}

static void writer_free(struct writer *w)
{
	free(w->order);
	free(w->objects);
}

/*
 * Numbers inodes breadth-first (the root is 0, a directory's children get consecutive
 * numbers, which keeps a directory's inodes together in the file), then lays out the file.
 */
static int serialize(struct lf_tb *tb, struct buf *out)
{
	struct writer w = {};
	struct buf strtab = {};
	struct lf_tree_layout l;
	struct lf_tree_header *h;
	uint64_t dirent_i = 0, xattr_i = 0;
	uint8_t *base;
	int r;

	reset_serials(tb->root);
	r = order_add(&w, tb->root);
	for (uint32_t i = 0; r >= 0 && i < w.n_nodes; i++) {
		struct lf_tb_node *n = w.order[i];
		_cleanup_free_ struct child *kids = NULL;
		if (!is_dir(n))
			continue;
		w.n_dirents += n->n_children;
		r = sorted_children(n, &kids);
		for (uint32_t k = 0; r >= 0 && k < n->n_children; k++)
			r = order_add(&w, kids[k].node);
	}
	if (r < 0)
		goto out;
	if (w.n_dirents > UINT32_MAX || w.n_xattrs > UINT32_MAX) {
		r = -EFBIG;
		goto out;
	}
	if (w.n_objects > 1)
		qsort(w.objects, w.n_objects, sizeof(*w.objects), digest_cmp);
	{
		size_t k = 0;
		for (size_t i = 0; i < w.n_objects; i++)
			if (k == 0 || !lf_digest_eq(&w.objects[k - 1], &w.objects[i]))
				w.objects[k++] = w.objects[i];
		w.n_objects = k;
	}

	/* The string table is built first, as a separate buffer, since its size is needed. */
	lf_tree_layout_compute(w.n_nodes, w.n_dirents, w.n_xattrs, w.n_objects, 0, &l);
	r = buf_reserve(out, l.strtab);
	if (r < 0)
		goto out;
	memset(out->p, 0, l.strtab);
	out->len = l.strtab;
	base = out->p;

	for (uint32_t i = 0; i < w.n_nodes; i++) {
		struct lf_tb_node *n = w.order[i];
		struct lf_tree_disk_inode *d = (void *)(base + l.inodes) + i * sizeof(*d);
		uint32_t subdirs = 0;

		d->mode = n->st.mode;
		d->uid = n->st.uid;
		d->gid = n->st.gid;
		d->size = n->st.size;
		d->rdev = n->st.rdev;
		d->mtime_sec = n->st.mtime_sec;
		d->mtime_nsec = n->st.mtime_nsec;
		d->flags = n->st.flags & LF_TREE_KNOWN_FLAGS;
		d->xattr_start = xattr_i;
		d->xattr_count = n->n_xattrs;
		for (size_t x = 0; x < n->n_xattrs; x++) {
			struct lf_tree_disk_xattr *dx =
				(void *)(base + l.xattrs) + (xattr_i++) * sizeof(*dx);
			int64_t no = buf_add_str(&strtab, n->xattrs[x].name,
						 strlen(n->xattrs[x].name), true);
			int64_t vo = no < 0 ? no
					    : buf_add_str(&strtab, n->xattrs[x].value,
							  n->xattrs[x].len, false);
			if (vo < 0) {
				r = vo;
				goto out;
			}
			dx->name_off = no;
			dx->name_len = strlen(n->xattrs[x].name);
			dx->value_off = vo;
			dx->value_len = n->xattrs[x].len;
		}
		if (is_dir(n)) {
			_cleanup_free_ struct child *kids = NULL;
			r = sorted_children(n, &kids);
			if (r < 0)
				goto out;
			d->a = dirent_i;
			d->b = n->n_children;
			for (uint32_t k = 0; k < n->n_children; k++) {
				struct lf_tree_disk_dirent *e =
					(void *)(base + l.dirents) + (dirent_i++) * sizeof(*e);
				int64_t off = buf_add_str(&strtab, kids[k].name, kids[k].len, true);
				if (off < 0) {
					r = off;
					goto out;
				}
				e->name_off = off;
				e->name_len = kids[k].len;
				e->ino = kids[k].node->serial;
				if (is_dir(kids[k].node))
					subdirs++;
			}
			d->nlink = 2 + subdirs;
		} else {
			d->nlink = n->st.flags & LF_TREE_WHITEOUT ? 1 : n->refs;
		}
		if (S_ISLNK(n->st.mode) && !(n->st.flags & LF_TREE_WHITEOUT)) {
			int64_t off;
			if (!n->symlink) {
				r = -EINVAL; /* a symlink without a target cannot be written */
				goto out;
			}
			off = buf_add_str(&strtab, n->symlink, n->symlink_len, true);
			if (off < 0) {
				r = off;
				goto out;
			}
			d->a = off;
			d->b = n->symlink_len;
			d->size = n->symlink_len;
		}
		if (n->st.flags & LF_TREE_HAS_OBJECT) {
			struct lf_digest *o = bsearch(&n->object, w.objects, w.n_objects,
						      sizeof(*w.objects), digest_cmp);
			d->a = o - w.objects;
		}
	}
	if (w.n_objects > 0)
		memcpy(base + l.objects, w.objects, w.n_objects * sizeof(*w.objects));

	r = buf_reserve(out, strtab.len);
	if (r < 0)
		goto out;
	if (strtab.len > 0)
		memcpy(out->p + out->len, strtab.p, strtab.len);
	out->len += strtab.len;

	h = (struct lf_tree_header *)out->p;
	memcpy(h->magic, LF_TREE_MAGIC, 8);
	h->version = LF_TREE_VERSION;
	h->n_inodes = w.n_nodes;
	h->n_dirents = w.n_dirents;
	h->n_xattrs = w.n_xattrs;
	h->n_objects = w.n_objects;
	h->strtab_size = strtab.len;
	h->file_size = out->len;
	{
		struct lf_digest sum;
		lf_sha256_buf(out->p + sizeof(*h), out->len - sizeof(*h), &sum);
		memcpy(h->body_sha256, sum.b, LF_DIGEST_LEN);
	}
	r = 0;
out:
	free(strtab.p);
	writer_free(&w);
	return r;
}

int lf_tb_write_mem(struct lf_tb *tb, void **ret_buf, size_t *ret_len)
{
	struct buf b = {};
	int r = serialize(tb, &b);

	if (r < 0) {
		free(b.p);
		return r;
	}
	*ret_buf = b.p;
	*ret_len = b.len;
	return 0;
}

int lf_tb_write_fd(struct lf_tb *tb, int fd)
{
	_cleanup_free_ void *buf = NULL;
	size_t len;
	int r = lf_tb_write_mem(tb, &buf, &len);

	if (r < 0)
		return r;
	if (ftruncate(fd, 0) < 0 || lseek(fd, 0, SEEK_SET) < 0)
		return -errno;
	return lf_write_full(fd, buf, len);
}

int lf_tb_write_at(struct lf_tb *tb, int dirfd, const char *name)
{
	_cleanup_free_ void *buf = NULL;
	size_t len;
	int r = lf_tb_write_mem(tb, &buf, &len);

	if (r < 0)
		return r;
	return lf_write_file_atomic_at(dirfd, name, buf, len, 0444);
}
