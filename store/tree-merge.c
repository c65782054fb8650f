/*
 * Merged trees: a layer stack flattened once into merged/<chainid>.tree, so that a lookup in
 * the mounted view costs one binary search per path component however deep the stack is.
 * The file is a cache: deleting it is always safe, and a damaged one is rebuilt.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "layerfs/macro.h"
#include "layerfs/store.h"
#include "layerfs/tree.h"

DEFINE_FREEP(struct lf_tb, lf_tb_free)

static int build(struct lf_store *s, const struct lf_digest *diff_ids, size_t n, const char *name,
		 struct lf_err *err)
{
	_cleanup_(lf_tb_freep) struct lf_tb *tb = NULL;
	char hex[LF_DIGEST_HEX_LEN + 1], path[LF_DIGEST_HEX_LEN + 8];
	int r;

	r = lf_tb_new(&tb);
	if (r < 0)
		return lf_err_set(err, r, "cannot allocate a tree");
	for (size_t i = 0; i < n; i++) {
		struct lf_tree *layer;
		snprintf(path, sizeof(path), "%s/tree", lf_digest_hex(&diff_ids[i], hex));
		r = lf_tree_open_at(s->layers_fd, path, &layer);
		if (r < 0)
			return lf_err_set(err, r, "layer sha256:%s: cannot open its tree: %s", hex,
					  r == -EBADMSG ? "corrupt" : strerror(-r));
		r = lf_tb_apply(tb, layer);
		lf_tree_unref(layer);
		if (r < 0)
			return lf_err_set(err, r, "layer sha256:%s: cannot merge: %s", hex,
					  strerror(-r));
	}
	r = lf_tb_write_at(tb, s->merged_fd, name);
	if (r < 0)
		return lf_err_set(err, r, "cannot write merged tree '%s': %s", name, strerror(-r));
	return 0;
}

int lf_tree_merged_open(struct lf_store *s, const struct lf_digest *diff_ids, size_t n,
			struct lf_tree **ret, struct lf_err *err)
{
	char hex[LF_DIGEST_HEX_LEN + 1], name[LF_DIGEST_HEX_LEN + 8];
	struct lf_digest chain;
	int r;

	lf_chain_id(diff_ids, n, &chain);
	snprintf(name, sizeof(name), "%s.tree", lf_digest_hex(&chain, hex));
	r = lf_tree_open_at(s->merged_fd, name, ret);
	if (r == 0)
		return 0;
	if (r != -ENOENT && r != -EBADMSG && r != -EOPNOTSUPP)
		return lf_err_set(err, r, "cannot open merged tree '%s': %s", name, strerror(-r));
	r = build(s, diff_ids, n, name, err);
	if (r < 0)
		return r;
	r = lf_tree_open_at(s->merged_fd, name, ret);
	if (r < 0)
		return lf_err_set(err, r, "cannot open merged tree '%s': %s", name, strerror(-r));
	return 0;
}
