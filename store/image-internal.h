/* Shared between the store's image files (image.c, image-import.c, image-gc.c, image-df.c). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "layerfs/digest.h"
#include "layerfs/err.h"
#include "layerfs/image.h"

struct lf_store;

/* What an import created, to be freed again when it fails. */
struct lf_gc_candidates {
	const struct lf_digest *layers;
	size_t n_layers;
	const struct lf_digest *blobs;
	size_t n_blobs;
	const struct lf_digest *merged; /* chain ids */
	size_t n_merged;
	bool objects; /* also free every object no layer references */
};

/*
 * Frees the candidates that no ref and no container references; the caller holds
 * LF_LOCK_EXCLUSIVE. Used to leave the store as it was after a failed import.
 */
int lf_image_gc_candidates(struct lf_store *s, const struct lf_gc_candidates *c,
			   struct lf_err *err);

/* Loads the image whose manifest blob is digest (manifest and config read and verified). */
int lf_image_load(struct lf_store *s, const struct lf_digest *manifest, const char *ref,
		  struct lf_image **ret, struct lf_err *err);
