/*
 * Removing images and collecting garbage: mark what the refs and the containers reference
 * (manifests, configs, layers, merged trees, and the objects of those layers), sweep the rest.
 * Runs under LF_LOCK_EXCLUSIVE, so no import is between publishing a layer and its ref.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layerfs/image.h"
#include "layerfs/layer.h"
#include "layerfs/macro.h"
#include "layerfs/oci.h"
#include "layerfs/store.h"
#include "layerfs/tree.h"
#include "layerfs/util.h"
#include "image-internal.h"

#define CONTAINER_CONFIG_MAX (1u << 20)

DEFINE_FREEP(struct lf_refs, lf_refs_free)
DEFINE_FREEP(struct lf_image, lf_image_free)

/* ---- a sorted set of digests ---- */

struct dset {
	struct lf_digest *v;
	size_t n, cap;
};

static int dset_add(struct dset *s, const struct lf_digest *d)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		struct lf_digest *v = reallocarray(s->v, cap, sizeof(*v));
		if (!v)
			return -ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = *d;
	return 0;
}

static int cmp_digest(const void *a, const void *b)
{
	return lf_digest_cmp(a, b);
}

static void dset_finish(struct dset *s)
{
	size_t k = 0;

	if (!s->n)
		return;
	qsort(s->v, s->n, sizeof(*s->v), cmp_digest);
	for (size_t i = 1; i < s->n; i++)
		if (!lf_digest_eq(&s->v[i], &s->v[k]))
			s->v[++k] = s->v[i];
	s->n = k + 1;
}

static bool dset_has(const struct dset *s, const struct lf_digest *d)
{
	return s->n && bsearch(d, s->v, s->n, sizeof(*s->v), cmp_digest);
}

struct live {
	struct dset blobs, layers, merged, objects;
};

static void live_clear(struct live *l)
{
	free(l->blobs.v);
	free(l->layers.v);
	free(l->merged.v);
	free(l->objects.v);
}

/* ---- containers ---- */

struct container_use {
	char *name;
	bool has_image;
	struct lf_digest image;
	size_t n_diff_ids;
	struct lf_digest *diff_ids;
};

static void container_use_clear(struct container_use *c)
{
	free(c->name);
	free(c->diff_ids);
	*c = (struct container_use){};
}

/* Reads containers/<id>/config.json; -ENOENT for a directory without one. */
static int container_read(struct lf_store *s, const char *id, struct container_use *ret,
			  struct lf_err *err)
{
	_cleanup_free_ char *path = lf_strdup_printf("%s/config.json", id), *buf = NULL;
	_cleanup_(json_decrefp) json_t *j = NULL;
	struct container_use c = {};
	json_t *image, *ids, *name;
	size_t len;
	int r;

	if (!path)
		return -ENOMEM;
	r = lf_read_file_at(s->containers_fd, path, CONTAINER_CONFIG_MAX, &buf, &len);
	if (r == -ENOENT)
		return r;
	if (r < 0)
		return lf_err_set(err, r, "container '%s': cannot read config.json: %s", id,
				  strerror(-r));
	j = json_loadb(buf, len, 0, NULL);
	if (!json_is_object(j))
		return lf_err_set(
			err, -EBADMSG,
			"container '%s': config.json is not valid; not freeing anything it might use",
			id);
	name = json_object_get(j, "name");
	c.name = strdup(json_is_string(name) ? json_string_value(name) : id);
	if (!c.name)
		return -ENOMEM;
	image = json_object_get(j, "image");
	if (json_is_string(image) && lf_digest_parse(json_string_value(image), &c.image) == 0)
		c.has_image = true;
	ids = json_object_get(j, "diffIds");
	if (json_is_array(ids) && json_array_size(ids) > 0) {
		c.diff_ids = calloc(json_array_size(ids), sizeof(*c.diff_ids));
		if (!c.diff_ids) {
			container_use_clear(&c);
			return -ENOMEM;
		}
		for (size_t i = 0; i < json_array_size(ids); i++) {
			const char *v = json_string_value(json_array_get(ids, i));
			if (!v || lf_digest_parse(v, &c.diff_ids[c.n_diff_ids]) < 0) {
				container_use_clear(&c);
				return lf_err_set(
					err, -EBADMSG,
					"container '%s': config.json has a bad diffIds entry", id);
			}
			c.n_diff_ids++;
		}
	}
	*ret = c;
	return 0;
}

/* Calls fn for every container; stops at the first error. */
static int containers_each(struct lf_store *s,
			   int (*fn)(struct lf_store *s, const struct container_use *c, void *data),
			   void *data, struct lf_err *err)
{
	int fd = openat(s->containers_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;
	int r = 0;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return lf_err_set(err, -errno, "cannot list containers: %s", strerror(errno));
	}
	while ((de = readdir(d))) {
		struct container_use c;

		if (de->d_name[0] == '.')
			continue;
		r = container_read(s, de->d_name, &c, err);
		if (r == -ENOENT) {
			r = 0;
			continue;
		}
		if (r < 0)
			break;
		r = fn(s, &c, data);
		container_use_clear(&c);
		if (r < 0)
			break;
	}
	closedir(d);
	return r;
}

/* ---- mark ---- */

static int mark_stack(struct live *l, const struct lf_digest *diff_ids, size_t n)
{
	struct lf_digest chain;
	int r;

	for (size_t i = 0; i < n; i++) {
		r = dset_add(&l->layers, &diff_ids[i]);
		if (r < 0)
			return r;
	}
	if (n == 0)
		return 0;
	lf_chain_id(diff_ids, n, &chain);
	return dset_add(&l->merged, &chain);
}

static int mark_image(struct lf_store *s, struct live *l, const struct lf_digest *manifest,
		      bool required, struct lf_err *err)
{
	_cleanup_(lf_image_freep) struct lf_image *img = NULL;
	struct lf_err e2 = {};
	int r;

	r = dset_add(&l->blobs, manifest);
	if (r < 0)
		return r;
	r = lf_image_load(s, manifest, NULL, &img, &e2);
	if (r < 0) {
		if (!required)
			return 0;
		if (err)
			*err = e2;
		return lf_err_prefix(err, r, "not collecting garbage");
	}
	r = dset_add(&l->blobs, &img->config);
	if (r < 0)
		return r;
	return mark_stack(l, img->diff_ids, img->n_layers);
}

static int mark_container(struct lf_store *s, const struct container_use *c, void *data)
{
	struct live *l = data;
	int r;

	if (c->has_image) {
		r = mark_image(s, l, &c->image, false, NULL);
		if (r < 0)
			return r;
	}
	return mark_stack(l, c->diff_ids, c->n_diff_ids);
}

static int mark(struct lf_store *s, struct live *l, struct lf_err *err)
{
	_cleanup_(lf_refs_freep) struct lf_refs *refs = NULL;
	int r;

	r = lf_refs_load(s, &refs, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < refs->n; i++) {
		r = mark_image(s, l, &refs->refs[i].digest, true, err);
		if (r < 0)
			return r;
	}
	r = containers_each(s, mark_container, l, err);
	if (r < 0)
		return r;
	dset_finish(&l->blobs);
	dset_finish(&l->layers);
	dset_finish(&l->merged);
	for (size_t i = 0; i < l->layers.n; i++) {
		struct lf_tree *t;

		r = lf_layer_open_tree(s, &l->layers.v[i], &t);
		if (r == -ENOENT)
			continue;
		if (r < 0) {
			char dg[LF_DIGEST_STR_MAX];
			return lf_err_set(
				err, r,
				"layer %s: cannot open its tree (%s); not collecting garbage",
				lf_digest_format(&l->layers.v[i], dg), strerror(-r));
		}
		for (size_t k = 0; k < lf_tree_n_objects(t) && r >= 0; k++)
			r = dset_add(&l->objects, lf_tree_object_at(t, k));
		lf_tree_unref(t);
		if (r < 0)
			return r;
	}
	dset_finish(&l->objects);
	return 0;
}

/* ---- sweep ---- */

static void count(struct lf_gc_stats *st, size_t *what, int dirfd, const char *path)
{
	struct stat sb;

	(*what)++;
	if (fstatat(dirfd, path, &sb, AT_SYMLINK_NOFOLLOW) == 0)
		st->bytes += sb.st_size;
}

static int remove_blob(struct lf_store *s, const struct lf_digest *d, bool dry,
		       struct lf_gc_stats *st)
{
	char hex[LF_DIGEST_HEX_LEN + 1];

	lf_digest_hex(d, hex);
	if (faccessat(s->blobs_fd, hex, F_OK, AT_SYMLINK_NOFOLLOW) < 0)
		return 0;
	count(st, &st->blobs, s->blobs_fd, hex);
	if (!dry && unlinkat(s->blobs_fd, hex, 0) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

static int remove_layer(struct lf_store *s, const struct lf_digest *d, bool dry,
			struct lf_gc_stats *st)
{
	char hex[LF_DIGEST_HEX_LEN + 1], path[LF_DIGEST_HEX_LEN + 16];
	struct stat sb;

	lf_digest_hex(d, hex);
	if (fstatat(s->layers_fd, hex, &sb, AT_SYMLINK_NOFOLLOW) < 0)
		return 0;
	st->layers++;
	snprintf(path, sizeof(path), "%s/tree", hex);
	if (fstatat(s->layers_fd, path, &sb, 0) == 0)
		st->bytes += sb.st_size;
	snprintf(path, sizeof(path), "%s/info.json", hex);
	if (fstatat(s->layers_fd, path, &sb, 0) == 0)
		st->bytes += sb.st_size;
	return dry ? 0 : lf_rm_rf_at(s->layers_fd, hex);
}

static int remove_merged(struct lf_store *s, const struct lf_digest *d, bool dry,
			 struct lf_gc_stats *st)
{
	char hex[LF_DIGEST_HEX_LEN + 1], name[LF_DIGEST_HEX_LEN + 8];

	snprintf(name, sizeof(name), "%s.tree", lf_digest_hex(d, hex));
	if (faccessat(s->merged_fd, name, F_OK, AT_SYMLINK_NOFOLLOW) < 0)
		return 0;
	count(st, &st->merged, s->merged_fd, name);
	if (!dry && unlinkat(s->merged_fd, name, 0) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

enum dir_kind { DIR_BLOBS, DIR_LAYERS, DIR_MERGED };

/* Everything in blobs/, layers/ or merged/ that is not live. */
static int sweep_dir(struct lf_store *s, enum dir_kind kind, const struct live *l, bool dry,
		     struct lf_gc_stats *st)
{
	int dirfd = kind == DIR_BLOBS	 ? s->blobs_fd
		    : kind == DIR_LAYERS ? s->layers_fd
					 : s->merged_fd;
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;
	int r = 0;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return -errno;
	}
	while ((de = readdir(d)) && r >= 0) {
		size_t n = strlen(de->d_name);
		struct lf_digest dg;

		if (kind == DIR_MERGED && (n != LF_DIGEST_HEX_LEN + 5 ||
					   strcmp(de->d_name + LF_DIGEST_HEX_LEN, ".tree") != 0))
			continue;
		if (kind != DIR_MERGED && n != LF_DIGEST_HEX_LEN)
			continue;
		if (lf_digest_parse_hex(de->d_name, LF_DIGEST_HEX_LEN, &dg) < 0)
			continue;
		if (kind == DIR_BLOBS && !dset_has(&l->blobs, &dg))
			r = remove_blob(s, &dg, dry, st);
		else if (kind == DIR_LAYERS && !dset_has(&l->layers, &dg))
			r = remove_layer(s, &dg, dry, st);
		else if (kind == DIR_MERGED && !dset_has(&l->merged, &dg))
			r = remove_merged(s, &dg, dry, st);
	}
	closedir(d);
	return r;
}

static int sweep_objects(struct lf_store *s, const struct live *l, bool dry, struct lf_gc_stats *st)
{
	for (int i = 0; i < 256; i++) {
		char sub[3], hex[LF_DIGEST_HEX_LEN + 1];
		struct dirent *de;
		int fd;
		DIR *d;

		snprintf(sub, sizeof(sub), "%02x", i);
		fd = openat(s->objects_fd, sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
		if (fd < 0)
			continue;
		d = fdopendir(fd);
		if (!d) {
			close(fd);
			return -errno;
		}
		while ((de = readdir(d))) {
			struct lf_digest dg;

			if (strlen(de->d_name) != LF_DIGEST_HEX_LEN - 2)
				continue;
			memcpy(hex, sub, 2);
			memcpy(hex + 2, de->d_name, LF_DIGEST_HEX_LEN - 2 + 1);
			if (lf_digest_parse_hex(hex, LF_DIGEST_HEX_LEN, &dg) < 0 ||
			    dset_has(&l->objects, &dg))
				continue;
			count(st, &st->objects, dirfd(d), de->d_name);
			if (!dry && unlinkat(dirfd(d), de->d_name, 0) < 0 && errno != ENOENT) {
				int r = -errno;
				closedir(d);
				return r;
			}
		}
		closedir(d);
	}
	return 0;
}

int lf_image_gc(struct lf_store *s, bool dry_run, struct lf_gc_stats *ret, struct lf_err *err)
{
	struct lf_gc_stats st = {};
	struct live l = {};
	int r;

	r = lf_store_lock(s, LF_LOCK_EXCLUSIVE);
	if (r < 0)
		return lf_err_set(err, r, "cannot lock the store: %s", strerror(-r));
	r = mark(s, &l, err);
	if (r >= 0)
		r = sweep_dir(s, DIR_MERGED, &l, dry_run, &st);
	if (r >= 0)
		r = sweep_dir(s, DIR_LAYERS, &l, dry_run, &st);
	if (r >= 0)
		r = sweep_dir(s, DIR_BLOBS, &l, dry_run, &st);
	if (r >= 0)
		r = sweep_objects(s, &l, dry_run, &st);
	live_clear(&l);
	if (r < 0)
		return lf_err_set(err, r, "garbage collection failed: %s", strerror(-r));
	if (ret)
		*ret = st;
	return 0;
}

int lf_image_gc_candidates(struct lf_store *s, const struct lf_gc_candidates *c, struct lf_err *err)
{
	struct lf_gc_stats st = {};
	struct live l = {};
	int r;

	r = mark(s, &l, err);
	for (size_t i = 0; r >= 0 && i < c->n_merged; i++)
		if (!dset_has(&l.merged, &c->merged[i]))
			r = remove_merged(s, &c->merged[i], false, &st);
	for (size_t i = 0; r >= 0 && i < c->n_layers; i++)
		if (!dset_has(&l.layers, &c->layers[i]))
			r = remove_layer(s, &c->layers[i], false, &st);
	for (size_t i = 0; r >= 0 && i < c->n_blobs; i++)
		if (!dset_has(&l.blobs, &c->blobs[i]))
			r = remove_blob(s, &c->blobs[i], false, &st);
	if (r >= 0 && c->objects)
		r = sweep_objects(s, &l, false, &st);
	live_clear(&l);
	return r;
}

/* ---- rmi ---- */

struct in_use {
	const struct lf_digest *manifest;
	char *container;
};

static int find_user(struct lf_store *s, const struct container_use *c, void *data)
{
	struct in_use *u = data;

	if (c->has_image && lf_digest_eq(&c->image, u->manifest)) {
		u->container = strdup(c->name);
		return u->container ? -EBUSY : -ENOMEM;
	}
	return 0;
}

int lf_image_untag(struct lf_store *s, const char *ref, char ***ret_removed, size_t *ret_n,
		   struct lf_err *err)
{
	_cleanup_(lf_image_freep) struct lf_image *img = NULL;
	_cleanup_(lf_refs_freep) struct lf_refs *refs = NULL;
	_cleanup_free_ bool *drop = NULL;
	size_t n_drop = 0, n_keep = 0;
	char **removed;
	int r;

	r = lf_image_resolve(s, ref, &img, err);
	if (r < 0)
		return r;
	r = lf_refs_load(s, &refs, err);
	if (r < 0)
		return r;
	drop = calloc(refs->n + 1, sizeof(*drop));
	if (!drop)
		return -ENOMEM;
	for (size_t i = 0; i < refs->n; i++) {
		if (!lf_digest_eq(&refs->refs[i].digest, &img->manifest))
			continue;
		/* By name: that name only. By digest or id: every name of the image. */
		drop[i] = !img->ref || strcmp(img->ref, refs->refs[i].name) == 0;
		if (drop[i])
			n_drop++;
		else
			n_keep++;
	}
	if (n_drop == 0)
		return lf_err_set(err, -ENOENT, "image '%s' has no name to remove", ref);
	if (n_keep == 0) {
		struct in_use u = { .manifest = &img->manifest };
		r = containers_each(s, find_user, &u, err);
		if (r == -EBUSY) {
			lf_err_set(
				err, r,
				"image '%s' is used by container '%s'; remove the container first (layerfs rm %s)",
				ref, u.container, u.container);
			free(u.container);
			return r;
		}
		if (r < 0)
			return r;
	}
	removed = calloc(n_drop + 1, sizeof(*removed));
	if (!removed)
		return -ENOMEM;
	n_drop = 0;
	for (size_t i = 0; i < refs->n; i++) {
		if (!drop[i])
			continue;
		r = lf_refs_remove(s, refs->refs[i].name, err);
		if (r < 0)
			break;
		removed[n_drop++] = TAKE_PTR(refs->refs[i].name);
	}
	if (r < 0 || !ret_removed) {
		for (size_t i = 0; i < n_drop; i++)
			free(removed[i]);
		free(removed);
		return r < 0 ? r : 0;
	}
	*ret_removed = removed;
	*ret_n = n_drop;
	return 0;
}
