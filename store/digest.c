/* sha256 through libcrypto's EVP interface, and the "sha256:<hex>" text form. */
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "layerfs/digest.h"
#include "layerfs/macro.h"

struct lf_sha256 {
	EVP_MD_CTX *ctx;
};

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int lf_digest_parse_hex(const char *hex, size_t len, struct lf_digest *ret)
{
	struct lf_digest d;

	if (len != LF_DIGEST_HEX_LEN)
		return -EINVAL;
	for (size_t i = 0; i < LF_DIGEST_LEN; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -EINVAL;
		d.b[i] = (uint8_t)(hi << 4 | lo);
	}
	*ret = d;
	return 0;
}

int lf_digest_parse(const char *s, struct lf_digest *ret)
{
	const char *colon = strchr(s, ':');

	if (!colon)
		return -EINVAL;
	if ((size_t)(colon - s) != 6 || memcmp(s, "sha256", 6) != 0)
		return -EOPNOTSUPP;
	/* The OCI spec requires lowercase hex for sha256. */
	for (const char *p = colon + 1; *p; p++)
		if (*p >= 'A' && *p <= 'F')
			return -EINVAL;
	return lf_digest_parse_hex(colon + 1, strlen(colon + 1), ret);
}

char *lf_digest_hex(const struct lf_digest *d, char out[LF_DIGEST_HEX_LEN + 1])
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < LF_DIGEST_LEN; i++) {
		out[2 * i] = digits[d->b[i] >> 4];
		out[2 * i + 1] = digits[d->b[i] & 15];
	}
	out[LF_DIGEST_HEX_LEN] = 0;
	return out;
}

char *lf_digest_format(const struct lf_digest *d, char out[LF_DIGEST_STR_MAX])
{
	memcpy(out, "sha256:", 7);
	lf_digest_hex(d, out + 7);
	return out;
}

int lf_sha256_new(struct lf_sha256 **ret)
{
	struct lf_sha256 *h = calloc(1, sizeof(*h));

	if (!h)
		return -ENOMEM;
	h->ctx = EVP_MD_CTX_new();
	if (!h->ctx || EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1) {
		lf_sha256_free(h);
		return -ENOMEM;
	}
	*ret = h;
	return 0;
}

void lf_sha256_update(struct lf_sha256 *h, const void *buf, size_t len)
{
	EVP_DigestUpdate(h->ctx, buf, len);
}

void lf_sha256_final(struct lf_sha256 *h, struct lf_digest *ret)
{
	unsigned int n = LF_DIGEST_LEN;

	EVP_DigestFinal_ex(h->ctx, ret->b, &n);
}

void lf_sha256_reset(struct lf_sha256 *h)
{
	EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL);
}

void lf_sha256_free(struct lf_sha256 *h)
{
	if (!h)
		return;
	EVP_MD_CTX_free(h->ctx);
	free(h);
}

void lf_sha256_buf(const void *buf, size_t len, struct lf_digest *ret)
{
	unsigned int n = LF_DIGEST_LEN;

	EVP_Digest(buf, len, ret->b, &n, EVP_sha256(), NULL);
}

int lf_sha256_fd(int fd, struct lf_digest *ret, uint64_t *ret_size)
{
	struct lf_sha256 *h;
	uint64_t total = 0;
	uint8_t buf[65536];
	int r = lf_sha256_new(&h);

	if (r < 0)
		return r;
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			lf_sha256_free(h);
			return r;
		}
		if (n == 0)
			break;
		lf_sha256_update(h, buf, n);
		total += n;
	}
	lf_sha256_final(h, ret);
	lf_sha256_free(h);
	if (ret_size)
		*ret_size = total;
	return 0;
}

void lf_chain_id(const struct lf_digest *diff_ids, size_t n, struct lf_digest *ret)
{
	char a[LF_DIGEST_STR_MAX], b[LF_DIGEST_STR_MAX], buf[2 * LF_DIGEST_STR_MAX + 1];
	struct lf_digest cur;

	if (n == 0) {
		memset(ret, 0, sizeof(*ret));
		return;
	}
	cur = diff_ids[0];
	for (size_t i = 1; i < n; i++) {
		int len = snprintf(buf, sizeof(buf), "%s %s", lf_digest_format(&cur, a),
				   lf_digest_format(&diff_ids[i], b));
		lf_sha256_buf(buf, len, &cur);
	}
	*ret = cur;
}
