/*
 * Importing one layer: bytes -> blob sha256 -> decompressor -> DiffID sha256 -> tar entries
 * -> staged objects and a tree, verified, then published as layers/<diffid-hex>/ in one
 * rename. Until that rename nothing new is visible; a failure leaves the store as it was.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "layerfs/layer.h"
#include "layerfs/macro.h"
#include "layerfs/store.h"
#include "layerfs/tree.h"
#include "layerfs/util.h"
#include "layer-stream.h"
#include "layer-tar.h"

DEFINE_FREEP(struct lf_tb, lf_tb_free)
DEFINE_FREEP(struct lf_lstream, lf_lstream_free)
DEFINE_FREEP(struct lf_tree, lf_tree_unref)

static void tree_path(const struct lf_digest *diff_id, char out[LF_DIGEST_HEX_LEN + 8])
{
	lf_digest_hex(diff_id, out);
	strcat(out, "/tree");
}

bool lf_layer_exists(struct lf_store *s, const struct lf_digest *diff_id)
{
	char rel[LF_DIGEST_HEX_LEN + 8];

	tree_path(diff_id, rel);
	return faccessat(s->layers_fd, rel, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

int lf_layer_open_tree(struct lf_store *s, const struct lf_digest *diff_id, struct lf_tree **ret)
{
	char rel[LF_DIGEST_HEX_LEN + 8];

	tree_path(diff_id, rel);
	return lf_tree_open_at(s->layers_fd, rel, ret);
}

struct result {
	struct lf_digest blob, diff;
	uint64_t blob_size, diff_size;
	const char *codec;
};

static int write_info(int dirfd, const struct result *res, const struct lf_tree *t)
{
	char diff[LF_DIGEST_STR_MAX], blob[LF_DIGEST_STR_MAX];
	_cleanup_free_ char *text = NULL;
	uint64_t files = 0;
	json_t *o;
	int r;

	for (uint32_t ino = 0; ino < lf_tree_n_inodes(t); ino++) {
		struct lf_tree_stat st;
		if (lf_tree_stat(t, ino, &st) == 0 && S_ISREG(st.mode) &&
		    !(st.flags & LF_TREE_WHITEOUT))
			files++;
	}
	o = json_pack("{s:s, s:I, s:s, s:I, s:s, s:I, s:I}", "diffId",
		      lf_digest_format(&res->diff, diff), "size", (json_int_t)res->diff_size,
		      "blobDigest", lf_digest_format(&res->blob, blob), "blobSize",
		      (json_int_t)res->blob_size, "compression", res->codec, "files",
		      (json_int_t)files, "contentBytes", (json_int_t)lf_tree_content_bytes(t));
	if (!o)
		return -ENOMEM;
	text = json_dumps(o, JSON_INDENT(2));
	json_decref(o);
	if (!text)
		return -ENOMEM;
	r = lf_write_file_atomic_at(dirfd, "info.json", text, strlen(text), 0444);
	return r;
}

/* Writes stage/layer/{tree,info.json}, publishes staged objects, then renames the layer in. */
static int publish(struct lf_store *s, int stage_fd, struct lf_tb *tb, const struct result *res,
		   struct lf_err *err)
{
	char hex[LF_DIGEST_HEX_LEN + 1];
	_cleanup_(lf_tree_unrefp) struct lf_tree *t = NULL;
	_cleanup_close_ int layer_fd = -1;
	int r;

	if (mkdirat(stage_fd, "layer", 0755) < 0)
		return lf_err_set(err, -errno, "cannot create the layer: %s", strerror(errno));
	layer_fd = openat(stage_fd, "layer", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (layer_fd < 0)
		return lf_err_set(err, -errno, "cannot create the layer: %s", strerror(errno));
	r = lf_tb_write_at(tb, layer_fd, "tree");
	if (r < 0)
		return lf_err_set(err, r, "cannot write the layer tree: %s", strerror(-r));
	/* Reading back what was written checks it before anything refers to it. */
	r = lf_tree_open_at(layer_fd, "tree", &t);
	if (r < 0)
		return lf_err_set(err, r, "the written layer tree does not verify: %s",
				  strerror(-r));
	r = write_info(layer_fd, res, t);
	if (r < 0)
		return lf_err_set(err, r, "cannot write the layer's info.json: %s", strerror(-r));
	r = lf_cas_publish_stage(s, stage_fd);
	if (r < 0)
		return lf_err_set(err, r, "cannot publish the layer's objects: %s", strerror(-r));
	/* Objects must be durable before the tree that names them is visible. */
	r = lf_store_sync(s);
	if (r < 0)
		return lf_err_set(err, r, "cannot sync the store: %s", strerror(-r));
	lf_digest_hex(&res->diff, hex);
	if (renameat(stage_fd, "layer", s->layers_fd, hex) < 0) {
		r = -errno;
		/* A concurrent import of the same layer got there first: same content. */
		if ((r == -EEXIST || r == -ENOTEMPTY) && lf_layer_exists(s, &res->diff))
			return 0;
		return lf_err_set(err, r, "cannot publish the layer: %s", strerror(-r));
	}
	r = lf_fsync_dir_at(s->layers_fd, ".");
	if (r < 0)
		return lf_err_set(err, r, "cannot sync the layers directory: %s", strerror(-r));
	return 0;
}

static int verify(const struct lf_layer_source *src, const struct result *res, struct lf_err *err)
{
	char want[LF_DIGEST_STR_MAX], got[LF_DIGEST_STR_MAX];

	if (src->blob_size >= 0 && res->blob_size != (uint64_t)src->blob_size)
		return lf_err_set(err, -EBADMSG,
				  "blob size mismatch: expected %lld bytes, got %llu",
				  (long long)src->blob_size, (unsigned long long)res->blob_size);
	if (src->blob_digest && !lf_digest_eq(src->blob_digest, &res->blob))
		return lf_err_set(err, -EILSEQ, "blob digest mismatch: expected %s, got %s",
				  lf_digest_format(src->blob_digest, want),
				  lf_digest_format(&res->blob, got));
	if (src->diff_id && !lf_digest_eq(src->diff_id, &res->diff))
		return lf_err_set(
			err, -EILSEQ, "DiffID mismatch: expected %s, the uncompressed layer is %s",
			lf_digest_format(src->diff_id, want), lf_digest_format(&res->diff, got));
	return 0;
}

/* Reads and checks the whole stream into tb and the stage. */
static int read_layer(struct lf_store *s, const struct lf_layer_source *src, int stage_fd,
		      struct lf_tb *tb, struct result *res, struct lf_err *err)
{
	_cleanup_(lf_lstream_freep) struct lf_lstream *st = NULL;
	struct lf_err verr = { { 0 } };
	int r;

	r = lf_lstream_new(src->fd, src->blob_size, &st, err);
	if (r < 0)
		return lf_err_set(err, r, "cannot read: %s", strerror(-r));
	res->codec = lf_lstream_codec(st);
	r = lf_layer_tar_read(st, s, stage_fd, tb, err);
	if (r >= 0) {
		/* Both digests cover the whole stream, also what follows the tar's end. */
		r = lf_lstream_drain(st, err);
		if (r < 0)
			lf_err_prefix(err, r, "after the end of the tar");
	}
	if (r < 0) {
		/*
		 * A blob that is not the one referenced explains any damage inside it
		 * better than the damage does, so check its digest and size before
		 * reporting a corrupt stream or a bad entry.
		 */
		if ((src->blob_digest || src->blob_size >= 0) && lf_lstream_drain_raw(st) == 0) {
			struct lf_layer_source raw_only = *src;
			raw_only.diff_id = NULL;
			lf_lstream_result(st, &res->blob, &res->blob_size, &res->diff,
					  &res->diff_size);
			int vr = verify(&raw_only, res, &verr);
			if (vr < 0) {
				memcpy(err, &verr, sizeof(verr));
				return vr;
			}
		}
		return r;
	}
	lf_lstream_result(st, &res->blob, &res->blob_size, &res->diff, &res->diff_size);
	return verify(src, res, err);
}

int lf_layer_import(struct lf_store *s, const struct lf_layer_source *src,
		    struct lf_digest *ret_diff_id, struct lf_err *err)
{
	const char *name = src->name ? src->name : "layer";
	_cleanup_(lf_tb_freep) struct lf_tb *tb = NULL;
	_cleanup_free_ char *stage = NULL;
	struct lf_err e = { { 0 } };
	struct result res = { 0 };
	int stage_fd = -1, r;

	if (src->diff_id && lf_layer_exists(s, src->diff_id)) {
		if (ret_diff_id)
			*ret_diff_id = *src->diff_id;
		return 0;
	}
	r = lf_store_mkstage(s, &stage, &stage_fd);
	if (r < 0) {
		lf_err_set(&e, r, "cannot create a staging directory in '%s/tmp': %s", s->path,
			   strerror(-r));
		goto out;
	}
	r = lf_tb_new(&tb);
	if (r < 0)
		goto out;
	r = read_layer(s, src, stage_fd, tb, &res, &e);
	if (r < 0)
		goto out;
	if (!lf_layer_exists(s, &res.diff))
		r = publish(s, stage_fd, tb, &res, &e);
out:
	if (stage) {
		/* Removed while still locked, so no other process takes it for stale. */
		lf_rm_rf_at(s->tmp_fd, stage);
		close(stage_fd);
	}
	if (r < 0)
		return lf_err_set(err, r, "'%s': %s", name, lf_err_str(&e, r));
	if (ret_diff_id)
		*ret_diff_id = res.diff;
	return 0;
}
