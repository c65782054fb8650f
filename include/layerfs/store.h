/*
 * The store at rest (DESIGN.md §3): an OCI image layout plus layerfs' own directories.
 *
 *   oci-layout index.json layerfs.json
 *   blobs/sha256/<hex>          manifests and configs
 *   layers/<diffid-hex>/tree    layer tree index (+ info.json)
 *   objects/<2hex>/<62hex>      file contents by sha256, mode 0444
 *   merged/<chainid-hex>.tree   flattened layer stacks (a cache)
 *   containers/<id>/            upper/ work/ config.json
 *   run/                        leases of live mounts
 *   tmp/                        staging, same filesystem
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "layerfs/digest.h"

#define LF_STORE_FORMAT_VERSION 1
/* "xx/" + 62 hex + NUL */
#define LF_OBJECT_PATH_MAX 68

struct lf_store {
	char *path;
	int root_fd;
	int blobs_fd; /* blobs/sha256 */
	int objects_fd;
	int layers_fd;
	int merged_fd;
	int containers_fd;
	int run_fd;
	int tmp_fd;
	int lock_fd; /* held flock on "lock": shared or exclusive, -1 when not locked */
};

/* Default store path: $LAYERFS_STORE, /var/lib/layerfs for root, else XDG data dir. */
int lf_store_default_path(char **ret);

/*
 * Opens (creating it when create is true and it does not exist) the store at path.
 * Cleans stale staging in tmp/ left by dead processes. The caller owns *ret.
 */
int lf_store_open(const char *path, bool create, struct lf_store **ret);
void lf_store_free(struct lf_store *s);

enum lf_store_lock {
	LF_LOCK_NONE = 0,
	LF_LOCK_SHARED, /* imports, mounts */
	LF_LOCK_EXCLUSIVE, /* rmi, gc, rm */
};

/* Takes (or changes) the store-wide flock; blocks until granted. */
int lf_store_lock(struct lf_store *s, enum lf_store_lock how);

/*
 * Short exclusive lock around read-modify-write of index.json and other shared metadata;
 * returns a held fd in *ret_fd that the caller closes to unlock.
 */
int lf_store_meta_lock(struct lf_store *s, int *ret_fd);

/*
 * Creates a fresh empty staging directory under tmp/; returns its name (owned) and an fd that
 * holds a flock on it: keep the fd open while the stage is in use, since stages whose lock is
 * free are removed by the next lf_store_open() as left by a dead process.
 */
int lf_store_mkstage(struct lf_store *s, char **ret_name, int *ret_fd);

/*
 * Makes everything written to the store so far durable (syncfs). Imports call it once before
 * publishing a layer tree instead of fsyncing every object.
 */
int lf_store_sync(struct lf_store *s);

/* ---- content-addressed objects and blobs (cas.c) ---- */

enum lf_cas_kind {
	LF_CAS_OBJECT, /* objects/<2hex>/<62hex>, mode 0444 */
	LF_CAS_BLOB, /* blobs/sha256/<hex>, mode 0444 */
};

void lf_cas_object_relpath(const struct lf_digest *d, char out[LF_OBJECT_PATH_MAX]);

/* Opens an object read-only (O_RDONLY|O_NOFOLLOW|O_CLOEXEC); -ENOENT if absent. */
int lf_cas_open(struct lf_store *s, enum lf_cas_kind kind, const struct lf_digest *d, int *ret_fd);
bool lf_cas_has(struct lf_store *s, enum lf_cas_kind kind, const struct lf_digest *d);

/*
 * A writer hashes what it is given into a staging file in tmp/. Commit publishes it under its
 * sha256 (fsync, link into place, 0444), or drops the copy when the content is already present.
 * Freeing a writer that was not committed discards the staging file.
 */
struct lf_cas_writer;

int lf_cas_writer_new(struct lf_store *s, enum lf_cas_kind kind, struct lf_cas_writer **ret);
/*
 * A writer whose commit puts new content into a stage (a directory from lf_store_mkstage,
 * as <stage>/<kind>/<hex>) instead of the store, so that a failed import leaves the store
 * exactly as it was. Content already in the store or in the stage is dropped at commit.
 * lf_cas_publish_stage() then links everything staged into place.
 */
int lf_cas_writer_new_staged(struct lf_store *s, enum lf_cas_kind kind, int stage_fd,
			     struct lf_cas_writer **ret);
int lf_cas_publish_stage(struct lf_store *s, int stage_fd);
/* True when the content is in the store or in the stage (stage_fd may be -1). */
bool lf_cas_has_staged(struct lf_store *s, enum lf_cas_kind kind, int stage_fd,
		       const struct lf_digest *d);
int lf_cas_writer_write(struct lf_cas_writer *w, const void *buf, size_t len);
/*
 * If expect is not NULL and the content hashes differently, nothing is published and
 * -EILSEQ is returned. On success *ret_digest and *ret_size (both optional) are set and
 * *ret_new says whether the content was not present before (optional).
 */
int lf_cas_writer_commit(struct lf_cas_writer *w, const struct lf_digest *expect,
			 struct lf_digest *ret_digest, uint64_t *ret_size, bool *ret_new);
void lf_cas_writer_free(struct lf_cas_writer *w);

/* Stores a buffer as a blob or object; returns its digest. */
int lf_cas_put(struct lf_store *s, enum lf_cas_kind kind, const void *buf, size_t len,
	       struct lf_digest *ret);

/*
 * Reads a whole blob (at most max bytes, else -EFBIG), verifying its digest (-EILSEQ).
 * The buffer is NUL-terminated and owned by the caller.
 */
int lf_cas_read(struct lf_store *s, enum lf_cas_kind kind, const struct lf_digest *d, size_t max,
		char **ret_buf, size_t *ret_len);

/* Size in bytes of a stored object (st_size), or -ENOENT. */
int lf_cas_size(struct lf_store *s, enum lf_cas_kind kind, const struct lf_digest *d,
		uint64_t *ret_size);
