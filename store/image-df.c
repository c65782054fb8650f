/*
 * Space accounting: per image the content bytes of its merged tree, and of the objects its
 * layers hold, those shared with another image and those only it holds; for the store the
 * logical bytes of all images against what is on disk, which is what dedup saves.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layerfs/image.h"
#include "layerfs/layer.h"
#include "layerfs/macro.h"
#include "layerfs/store.h"
#include "layerfs/tree.h"
#include "layerfs/util.h"
#include "image-internal.h"

DEFINE_FREEP(struct lf_refs, lf_refs_free)
DEFINE_FREEP(struct lf_image, lf_image_free)

void lf_df_free(struct lf_df *df)
{
	if (!df)
		return;
	for (size_t i = 0; i < df->n_images; i++)
		free(df->images[i].refs);
	free(df->images);
	free(df);
}
DEFINE_FREEP(struct lf_df, lf_df_free)

/* One (object, image) pair; sorted by object, the pairs of one object are adjacent. */
struct use {
	struct lf_digest object;
	uint32_t image;
};

static int cmp_use(const void *a, const void *b)
{
	const struct use *x = a, *y = b;
	int c = lf_digest_cmp(&x->object, &y->object);

	if (c)
		return c;
	return x->image < y->image ? -1 : x->image > y->image;
}

struct uses {
	struct use *v;
	size_t n, cap;
};

static int uses_add(struct uses *u, const struct lf_digest *d, uint32_t image)
{
	if (u->n == u->cap) {
		size_t cap = u->cap ? u->cap * 2 : 1024;
		struct use *v = reallocarray(u->v, cap, sizeof(*v));
		if (!v)
			return -ENOMEM;
		u->v = v;
		u->cap = cap;
	}
	u->v[u->n++] = (struct use){ .object = *d, .image = image };
	return 0;
}

static int append_ref(struct lf_df_image *im, const char *name)
{
	char *s = im->refs ? lf_strdup_printf("%s,%s", im->refs, name) : strdup(name);

	if (!s)
		return -ENOMEM;
	free(im->refs);
	im->refs = s;
	return 0;
}

static int image_uses(struct lf_store *s, const struct lf_image *img, uint32_t idx, struct uses *u,
		      uint64_t *ret_total, struct lf_err *err)
{
	struct lf_tree *t;
	int r;

	for (size_t i = 0; i < img->n_layers; i++) {
		char dg[LF_DIGEST_STR_MAX];

		r = lf_layer_open_tree(s, &img->diff_ids[i], &t);
		if (r < 0)
			return lf_err_set(err, r, "layer %s: %s",
					  lf_digest_format(&img->diff_ids[i], dg), strerror(-r));
		for (size_t k = 0; k < lf_tree_n_objects(t) && r >= 0; k++)
			r = uses_add(u, lf_tree_object_at(t, k), idx);
		lf_tree_unref(t);
		if (r < 0)
			return r;
	}
	*ret_total = 0;
	if (img->n_layers == 0)
		return 0;
	r = lf_tree_merged_open(s, img->diff_ids, img->n_layers, &t, err);
	if (r < 0)
		return r;
	*ret_total = lf_tree_content_bytes(t);
	lf_tree_unref(t);
	return 0;
}

/* Bytes of the regular files directly in dirfd/path (or of dirfd itself when path is "."). */
static uint64_t dir_bytes(int at_fd, const char *path, int depth)
{
	int fd = openat(at_fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;
	uint64_t sum = 0;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	while ((de = readdir(d))) {
		struct stat st;

		if (de->d_name[0] == '.')
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISREG(st.st_mode))
			sum += st.st_size;
		else if (S_ISDIR(st.st_mode) && depth > 0)
			sum += dir_bytes(dirfd(d), de->d_name, depth - 1);
	}
	closedir(d);
	return sum;
}

int lf_image_df(struct lf_store *s, struct lf_df **ret, struct lf_err *err)
{
	_cleanup_(lf_refs_freep) struct lf_refs *refs = NULL;
	_cleanup_(lf_df_freep) struct lf_df *df = NULL;
	struct uses u = {};
	int r;

	r = lf_refs_load(s, &refs, err);
	if (r < 0)
		return r;
	df = calloc(1, sizeof(*df));
	if (!df)
		return -ENOMEM;
	df->images = calloc(refs->n + 1, sizeof(*df->images));
	if (!df->images)
		return -ENOMEM;
	/* One row per distinct manifest: two tags of one image share nothing with each other. */
	for (size_t i = 0; i < refs->n; i++) {
		size_t k;

		for (k = 0; k < df->n_images; k++)
			if (lf_digest_eq(&df->images[k].manifest, &refs->refs[i].digest))
				break;
		if (k == df->n_images)
			df->images[df->n_images++].manifest = refs->refs[i].digest;
		r = append_ref(&df->images[k], refs->refs[i].name);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < df->n_images; i++) {
		_cleanup_(lf_image_freep) struct lf_image *img = NULL;

		r = lf_image_load(s, &df->images[i].manifest, NULL, &img, err);
		if (r >= 0)
			r = image_uses(s, img, i, &u, &df->images[i].total, err);
		if (r < 0) {
			free(u.v);
			return lf_err_prefix(err, r, "image '%s'", df->images[i].refs);
		}
		df->logical += df->images[i].total;
	}
	if (u.n)
		qsort(u.v, u.n, sizeof(*u.v), cmp_use);
	for (size_t i = 0; i < u.n;) {
		size_t j = i, n_images = 0;
		uint64_t size = 0;

		for (; j < u.n && lf_digest_eq(&u.v[j].object, &u.v[i].object); j++)
			if (j == i || u.v[j].image != u.v[j - 1].image)
				n_images++;
		lf_cas_size(s, LF_CAS_OBJECT, &u.v[i].object, &size);
		df->objects_bytes += size;
		df->n_objects++;
		for (size_t k = i; k < j; k++) {
			if (k > i && u.v[k].image == u.v[k - 1].image)
				continue;
			if (n_images > 1)
				df->images[u.v[k].image].shared += size;
			else
				df->images[u.v[k].image].unique += size;
		}
		i = j;
	}
	free(u.v);
	df->metadata_bytes = dir_bytes(s->blobs_fd, ".", 0) + dir_bytes(s->layers_fd, ".", 1) +
			     dir_bytes(s->merged_fd, ".", 0);
	df->on_disk = df->objects_bytes + df->metadata_bytes;
	*ret = TAKE_PTR(df);
	return 0;
}
