/*
 * An import source seen as a directory tree (image-source.c): an OCI layout or docker archive
 * directory, or a tar of one whose entries are extracted into a stage. Everything read from
 * it is opened beneath its root (openat2 RESOLVE_BENEATH), so a symlink in the source can
 * only point at another file of the source.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "layerfs/err.h"

struct lf_store;
struct lf_imgsrc;

/* A directory source; label is what messages call it (SOURCE as given). */
int lf_imgsrc_open_dir(const char *path, const char *label, struct lf_imgsrc **ret,
		       struct lf_err *err);
/*
 * A tar source (plain or compressed; fd is read from offset 0 and not closed): every directory,
 * regular file and in-archive symlink is recreated in a stage of the store, small regular
 * files with their contents and large ones as empty placeholders filled by lf_imgsrc_fetch().
 * Entries with unsafe names, symlinks leading outside the archive, duplicates and other entry
 * types (devices, hard links) are refused or ignored as the code says. -EMEDIUMTYPE when fd is
 * not a tar at all.
 */
int lf_imgsrc_open_tar(struct lf_store *s, int fd, const char *label, struct lf_imgsrc **ret,
		       struct lf_err *err);
void lf_imgsrc_free(struct lf_imgsrc *src);

const char *lf_imgsrc_label(const struct lf_imgsrc *src);
/* True when path names a regular file (through in-source symlinks). */
bool lf_imgsrc_exists(struct lf_imgsrc *src, const char *path);
/*
 * Opens a regular file of the source read-only. -ENOENT when absent, -EXDEV when it resolves
 * outside the source, -EAGAIN when it is a placeholder that lf_imgsrc_fetch() has not filled.
 */
int lf_imgsrc_open(struct lf_imgsrc *src, const char *path, int *ret_fd, struct lf_err *err);
/* Size of a regular file of the source, also of one not extracted yet. */
int lf_imgsrc_size(struct lf_imgsrc *src, const char *path, uint64_t *ret, struct lf_err *err);
/* Reads a whole file (at most max bytes, NUL-terminated, owned by the caller). */
int lf_imgsrc_read(struct lf_imgsrc *src, const char *path, size_t max, char **ret_buf,
		   size_t *ret_len, struct lf_err *err);
/* Makes the given paths readable: fills their placeholders in one more pass over the tar. */
int lf_imgsrc_fetch(struct lf_imgsrc *src, char *const *paths, size_t n, struct lf_err *err);
