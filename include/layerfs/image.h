/* Images in the store: refs in index.json, manifests and configs in blobs/. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "layerfs/digest.h"
#include "layerfs/err.h"

struct lf_store;

struct lf_image {
	char *ref; /* "name:tag" that named it, or NULL when resolved by digest */
	struct lf_digest manifest;
	struct lf_digest config;
	size_t n_layers;
	struct lf_digest *diff_ids; /* n_layers, bottom first */
	struct lf_digest chain_id;
	char *config_json; /* the config blob, NUL-terminated */
};

/*
 * Resolves "name:tag", "name" (meaning name:latest), "sha256:<hex>" of a manifest or an
 * unambiguous hex prefix (>= 4 chars) of one. -ENOENT with a message when nothing matches.
 */
int lf_image_resolve(struct lf_store *s, const char *ref, struct lf_image **ret,
		     struct lf_err *err);
void lf_image_free(struct lf_image *img);

enum lf_import_flags {
	LF_IMPORT_ROOTFS = 1u << 0, /* SOURCE is a plain rootfs tarball or directory */
};

/*
 * Imports SOURCE (OCI layout directory or tar, docker-save archive of any generation, or a
 * rootfs tarball/directory with LF_IMPORT_ROOTFS), detected by content. ref names it in the
 * store ("name:tag"); when NULL the source's own name is used. *ret_manifest (optional) is
 * the stored manifest's digest.
 */
int lf_image_import(struct lf_store *s, const char *source, const char *ref, unsigned flags,
		    struct lf_digest *ret_manifest, struct lf_err *err);
