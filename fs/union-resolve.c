/*
 * Pure union rules: what a name shows given its upper and lower entries, inode numbering,
 * and the merge of an upper directory listing with a lower one.
 */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "layerfs/macro.h"
#include "union.h"

void lf_union_resolve(const struct stat *upper, bool upper_opaque, uint32_t lower,
		      mode_t lower_mode, struct lf_resolved *ret)
{
	*ret = (struct lf_resolved){ .lower = LF_TREE_NONE, .lower_below = lower != LF_TREE_NONE };

	if (upper && lf_upper_is_whiteout(upper)) {
		ret->whiteout = true;
		return;
	}
	if (upper) {
		ret->visible = true;
		ret->has_upper = true;
		/* Only a directory over a directory merges, and not when it is opaque. */
		if (S_ISDIR(upper->st_mode) && lower != LF_TREE_NONE && S_ISDIR(lower_mode) &&
		    !upper_opaque)
			ret->lower = lower;
		return;
	}
	if (lower != LF_TREE_NONE) {
		ret->visible = true;
		ret->lower = lower;
	}
}

uint64_t lf_union_ino(uint32_t lower_or_origin, uint64_t upper_ino)
{
	if (lower_or_origin != LF_TREE_NONE)
		return (uint64_t)lower_or_origin + 1;
	return upper_ino | LF_UNION_UPPER_INO_BIT;
}

void lf_union_dirents_free(struct lf_union_dirent *d, size_t n)
{
	if (!d)
		return;
	for (size_t i = 0; i < n; i++)
		free(d[i].name);
	free(d);
}

static int cmp_dirent(const void *a, const void *b)
{
	const struct lf_union_dirent *x = a, *y = b;

	return strcmp(x->name, y->name);
}

static unsigned char dt_of(mode_t mode)
{
	return IFTODT(mode);
}

int lf_union_merge_dir(struct lf_union_dirent *upper, size_t n_upper, const struct lf_tree *tree,
		       uint32_t lower_dir, struct lf_union_dirent **ret, size_t *ret_n)
{
	uint32_t n_lower = lower_dir == LF_TREE_NONE ? 0 : lf_tree_dir_count(tree, lower_dir);
	struct lf_union_dirent *out;
	size_t i = 0, n = 0;
	uint32_t j = 0;
	int r = 0;

	out = calloc(n_upper + n_lower + 1, sizeof(*out));
	if (!out) {
		lf_union_dirents_free(upper, n_upper);
		return -ENOMEM;
	}
	if (n_upper)
		qsort(upper, n_upper, sizeof(*upper), cmp_dirent);

	while (i < n_upper || j < n_lower) {
		const char *lname = NULL;
		uint32_t lino = LF_TREE_NONE;
		size_t llen;
		int c;

		if (j < n_lower) {
			r = lf_tree_dir_entry(tree, lower_dir, j, &lname, &llen, &lino);
			if (r < 0)
				goto fail;
		}
		if (i >= n_upper)
			c = 1;
		else if (!lname)
			c = -1;
		else
			c = strcmp(upper[i].name, lname);

		if (c <= 0) {
			struct lf_union_dirent *e = &upper[i++];
			uint32_t below = c == 0 ? lino : LF_TREE_NONE;
			if (c == 0)
				j++;
			if (e->whiteout) {
				free(e->name);
				e->name = NULL;
				continue;
			}
			out[n] = *e;
			e->name = NULL;
			out[n].upper = true;
			out[n].lower = below;
			n++;
			continue;
		}
		{
			struct lf_tree_stat st;
			r = lf_tree_stat(tree, lino, &st);
			if (r < 0)
				goto fail;
			out[n].name = strndup(lname, llen);
			if (!out[n].name) {
				r = -ENOMEM;
				goto fail;
			}
			out[n].type = dt_of(st.mode);
			out[n].lower = lino;
			n++;
			j++;
		}
	}
	lf_union_dirents_free(upper, n_upper);
	*ret = out;
	*ret_n = n;
	return 0;
fail:
	lf_union_dirents_free(upper, n_upper);
	lf_union_dirents_free(out, n);
	return r;
}
