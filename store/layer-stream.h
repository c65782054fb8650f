/*
 * Private to store/: the byte pipeline of a layer import. Raw bytes are read from an fd and
 * hashed (blob digest), decompressed by the codec that their magic names (gzip, zstd, or none)
 * and hashed again (DiffID). Readers get the decompressed bytes.
 */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "layerfs/digest.h"
#include "layerfs/err.h"

struct lf_lstream;

/*
 * Starts reading fd at its current offset (not closed). max_raw >= 0 bounds the raw bytes:
 * reading more than that is an error (a blob larger than declared). Detects the codec from
 * the first bytes; -EOPNOTSUPP with a message for xz, bzip2 or lz4.
 */
int lf_lstream_new(int fd, int64_t max_raw, struct lf_lstream **ret, struct lf_err *err);
void lf_lstream_free(struct lf_lstream *st);

/* "gzip", "zstd" or "none". */
const char *lf_lstream_codec(const struct lf_lstream *st);

/*
 * Returns the count of decompressed bytes (0 at the end of the stream) and points *ret_buf at
 * them; the buffer is valid until the next call. -EBADMSG for corrupt or truncated input,
 * with a message; once failed, every later call fails the same way.
 */
ssize_t lf_lstream_read(struct lf_lstream *st, const void **ret_buf, struct lf_err *err);
/* Reads and hashes the rest of the stream; returns 0 at its end. */
int lf_lstream_drain(struct lf_lstream *st, struct lf_err *err);
/*
 * After a failure of the decompressor, hashes the remaining raw bytes only (no decoding),
 * so the blob digest can still be compared. Returns 0 at EOF.
 */
int lf_lstream_drain_raw(struct lf_lstream *st);

/* Digests and byte counts so far (complete after a read or drain returned 0). */
void lf_lstream_result(struct lf_lstream *st, struct lf_digest *ret_blob, uint64_t *ret_blob_size,
		       struct lf_digest *ret_diff, uint64_t *ret_diff_size);
