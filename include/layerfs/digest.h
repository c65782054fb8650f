/* sha256 digests (libcrypto EVP) and their "sha256:<hex>" text form. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define LF_DIGEST_LEN 32
#define LF_DIGEST_HEX_LEN 64
/* "sha256:" + 64 hex + NUL */
#define LF_DIGEST_STR_MAX 72

struct lf_digest {
	uint8_t b[LF_DIGEST_LEN];
};

/* Parses "sha256:<64 lowercase hex>"; -EOPNOTSUPP for another algorithm, -EINVAL otherwise. */
int lf_digest_parse(const char *s, struct lf_digest *ret);
/* Parses exactly 64 hex characters (lower or upper case) of len bytes. */
int lf_digest_parse_hex(const char *hex, size_t len, struct lf_digest *ret);
/* Writes 64 lowercase hex characters and a NUL. Returns out. */
char *lf_digest_hex(const struct lf_digest *d, char out[LF_DIGEST_HEX_LEN + 1]);
/* Writes "sha256:<hex>" and a NUL. Returns out. */
char *lf_digest_format(const struct lf_digest *d, char out[LF_DIGEST_STR_MAX]);

static inline int lf_digest_cmp(const struct lf_digest *a, const struct lf_digest *b)
{
	return memcmp(a->b, b->b, LF_DIGEST_LEN);
}

static inline bool lf_digest_eq(const struct lf_digest *a, const struct lf_digest *b)
{
	return memcmp(a->b, b->b, LF_DIGEST_LEN) == 0;
}

/* Streaming sha256. */
struct lf_sha256;

int lf_sha256_new(struct lf_sha256 **ret);
void lf_sha256_update(struct lf_sha256 *h, const void *buf, size_t len);
/* Finishes the hash; the context may be reused after lf_sha256_reset(). */
void lf_sha256_final(struct lf_sha256 *h, struct lf_digest *ret);
void lf_sha256_reset(struct lf_sha256 *h);
void lf_sha256_free(struct lf_sha256 *h);

void lf_sha256_buf(const void *buf, size_t len, struct lf_digest *ret);
/* Hashes a whole fd from its current offset to EOF. */
int lf_sha256_fd(int fd, struct lf_digest *ret, uint64_t *ret_size);

/*
 * ChainID of a layer stack (OCI image spec): chain[0] = diffid[0],
 * chain[i] = sha256(chain[i-1] + " " + diffid[i]) over the "sha256:<hex>" strings.
 */
void lf_chain_id(const struct lf_digest *diff_ids, size_t n, struct lf_digest *ret);
