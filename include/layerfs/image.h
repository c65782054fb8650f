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

/* ---- listing and inspecting (image.c) ---- */

struct lf_image_summary {
	char *ref; /* "name:tag" */
	struct lf_digest manifest;
	size_t n_layers;
	uint64_t size; /* sum of the layers' content bytes */
	char *created; /* config.created, or NULL */
};

/* One summary per ref, in index.json order. The caller frees with lf_image_summaries_free(). */
int lf_image_list(struct lf_store *s, struct lf_image_summary **ret, size_t *ret_n,
		  struct lf_err *err);
void lf_image_summaries_free(struct lf_image_summary *v, size_t n);

/* Content bytes and regular files of one layer (layers/<hex>/info.json, else its tree). */
int lf_image_layer_size(struct lf_store *s, const struct lf_digest *diff_id, uint64_t *ret_bytes,
			uint64_t *ret_files);

/*
 * The inspect document, JSON text owned by the caller: ref, names, manifestDigest,
 * manifestMediaType, configDigest, config (parsed), layers [{diffId, blobDigest, blobSize,
 * mediaType, size, files}], chainId, size.
 */
int lf_image_inspect(struct lf_store *s, const struct lf_image *img, char **ret,
		     struct lf_err *err);

/* Names img name ("name[:tag]", normalized), replacing what that name pointed at. */
int lf_image_tag(struct lf_store *s, const struct lf_image *img, const char *name,
		 struct lf_err *err);

/* ---- removal and garbage collection (image-gc.c) ---- */

/*
 * Removes a ref: the name given, or every name of the image given by digest or id. Refuses
 * (-EBUSY, naming it) when that would leave an image that a container uses without a name.
 * The caller should hold LF_LOCK_EXCLUSIVE. *ret_removed (optional) lists the removed names.
 */
int lf_image_untag(struct lf_store *s, const char *ref, char ***ret_removed, size_t *ret_n,
		   struct lf_err *err);

struct lf_gc_stats {
	size_t blobs, layers, merged, objects;
	uint64_t bytes;
};

/*
 * Frees every manifest, config, layer, merged tree and object that no ref and no container
 * (containers/<id>/config.json "image" and "diffIds") references. Takes LF_LOCK_EXCLUSIVE.
 * With dry_run nothing is removed and *ret says what would be.
 */
int lf_image_gc(struct lf_store *s, bool dry_run, struct lf_gc_stats *ret, struct lf_err *err);

/* ---- space accounting (image-df.c) ---- */

struct lf_df_image {
	char *refs; /* the image's names, comma-separated */
	struct lf_digest manifest;
	uint64_t total; /* content bytes of its merged tree */
	uint64_t shared; /* bytes of its objects that another image references too */
	uint64_t unique; /* bytes of its objects no other image references */
};

struct lf_df {
	size_t n_images; /* one per distinct manifest */
	struct lf_df_image *images;
	uint64_t logical; /* sum of the images' totals */
	uint64_t objects_bytes; /* every object any image references, once */
	uint64_t metadata_bytes; /* blobs, layer trees and merged trees */
	uint64_t on_disk; /* objects_bytes + metadata_bytes */
	size_t n_objects;
};

int lf_image_df(struct lf_store *s, struct lf_df **ret, struct lf_err *err);
void lf_df_free(struct lf_df *df);
