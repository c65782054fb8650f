/* Images in the store: refs in index.json, manifests and configs in blobs/. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

/* ---- refs: the store's own index.json (refs.c) ---- */

/* One named image of the store: an index.json descriptor with a ref.name annotation. */
struct lf_ref {
	char *name; /* "name:tag" */
	char *media_type;
	struct lf_digest digest; /* of the manifest */
	uint64_t size;
};

struct lf_refs {
	size_t n;
	struct lf_ref *refs; /* in index.json order */
};

/*
 * Validates a reference "name[:tag]" (docker's grammar: lowercase path components, an
 * optional registry host[:port] first, a tag of [A-Za-z0-9_.-] up to 128) and returns it with
 * ":latest" added when there is no tag. -EINVAL for anything else (digests included).
 */
int lf_ref_normalize(const char *in, char **ret);
/* Splits a normalized ref at its tag: returns a pointer to the tag inside ref. */
const char *lf_ref_tag(const char *ref);

/* Parses an index.json buffer (the caller owns *ret); entries without a ref name are skipped. */
int lf_refs_parse(const char *buf, size_t len, struct lf_refs **ret, struct lf_err *err);
/* Reads the store's index.json. */
int lf_refs_load(struct lf_store *s, struct lf_refs **ret, struct lf_err *err);
void lf_refs_free(struct lf_refs *r);
const struct lf_ref *lf_refs_find(const struct lf_refs *r, const char *name);

/*
 * Rewrites an index.json buffer with name pointing at (media_type, digest, size) — replacing
 * any entry of that name — or, when digest is NULL, with name removed (-ENOENT when absent).
 * Entries and members it does not understand are kept as they are.
 */
int lf_refs_edit(const char *buf, size_t len, const char *name, const char *media_type,
		 const struct lf_digest *digest, uint64_t size, char **ret, size_t *ret_len,
		 struct lf_err *err);
/* lf_refs_edit() on the store's index.json, under lf_store_meta_lock(), written atomically. */
int lf_refs_set(struct lf_store *s, const char *name, const char *media_type,
		const struct lf_digest *digest, uint64_t size, struct lf_err *err);
int lf_refs_remove(struct lf_store *s, const char *name, struct lf_err *err);
