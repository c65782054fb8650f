/* Importing one layer: a tar stream (plain, gzip or zstd) or a directory into the store. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "layerfs/digest.h"
#include "layerfs/err.h"

struct lf_store;

struct lf_layer_source {
	const char *name; /* what messages call it, e.g. "img.tar: blobs/sha256/ab12…" */
	int fd; /* read sequentially from its current offset; not closed */
	const struct lf_digest *blob_digest; /* digest of the bytes as given, or NULL */
	int64_t blob_size; /* size of the bytes as given, or -1 */
	const struct lf_digest *diff_id; /* expected DiffID, or NULL */
};

/*
 * Streams one layer: bytes -> blob sha256 -> decompressor (detected from magic) -> DiffID
 * sha256 -> tar entries. Regular files become objects, everything else (modes, owners,
 * times, xattrs, devices, hard links, whiteouts, opaque markers) goes into the layer's tree,
 * published as layers/<diffid-hex>/{tree,info.json}. Verifies blob digest and size and the
 * DiffID before publishing; on any error nothing new becomes visible except unreferenced
 * objects. When the layer is already present (expected diff_id given) it returns at once.
 */
int lf_layer_import(struct lf_store *s, const struct lf_layer_source *src,
		    struct lf_digest *ret_diff_id, struct lf_err *err);

/*
 * Imports a directory as one layer (`layerfs import --rootfs DIR`): writes a deterministic pax
 * tar of it (entries sorted bytewise, numeric owners, modes, mtimes with ns, xattrs, devices
 * and hard links kept, symlinks never followed, sockets skipped) into staging, then imports
 * that tar with lf_layer_import(), so the DiffID is the sha256 of a real tar. *ret_size
 * (optional) is the tar's size in bytes.
 */
int lf_layer_import_dir(struct lf_store *s, const char *dir, struct lf_digest *ret_diff_id,
			uint64_t *ret_size, struct lf_err *err);

/* Opens layers/<diffid-hex>/tree. */
struct lf_tree;
int lf_layer_open_tree(struct lf_store *s, const struct lf_digest *diff_id, struct lf_tree **ret);
bool lf_layer_exists(struct lf_store *s, const struct lf_digest *diff_id);
