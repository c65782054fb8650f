/* The byte pipeline of a layer import: read, hash the blob, decompress, hash the DiffID. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>
#include <zstd.h>

#include "layerfs/macro.h"
#include "layer-stream.h"

#define RAW_BUF_SIZE (128 * 1024)
#define OUT_BUF_SIZE (128 * 1024)

enum codec {
	CODEC_NONE,
	CODEC_GZIP,
	CODEC_ZSTD,
};

struct lf_lstream {
	int fd;
	int64_t max_raw;
	enum codec codec;

	uint8_t *raw; /* RAW_BUF_SIZE */
	size_t raw_len, raw_pos;
	bool raw_eof;
	uint64_t raw_bytes;
	struct lf_sha256 *blob_hash;

	uint8_t *out; /* OUT_BUF_SIZE; unused for CODEC_NONE */
	uint64_t out_bytes;
	struct lf_sha256 *diff_hash;

	z_stream z;
	bool z_init;
	bool z_member_end; /* a gzip member ended; another may follow */
	ZSTD_DStream *zd;
	size_t zd_last; /* last ZSTD_decompressStream() hint; 0 when a frame is complete */

	bool done;
	bool digests_final;
	struct lf_digest blob_digest, diff_digest;
	int failed; /* sticky error */
	char failed_msg[256];
};

static int fail(struct lf_lstream *st, struct lf_err *err, int r, const char *msg)
{
	if (!st->failed) {
		st->failed = r;
		snprintf(st->failed_msg, sizeof(st->failed_msg), "%s", msg);
	}
	return lf_err_set(err, st->failed, "%s", st->failed_msg);
}

/* Refills the raw buffer (whatever was consumed is dropped). Returns 0, also at EOF. */
static int raw_fill(struct lf_lstream *st, struct lf_err *err)
{
	ssize_t n;

	if (st->raw_pos < st->raw_len) {
		memmove(st->raw, st->raw + st->raw_pos, st->raw_len - st->raw_pos);
		st->raw_len -= st->raw_pos;
	} else {
		st->raw_len = 0;
	}
	st->raw_pos = 0;
	if (st->raw_eof || st->raw_len == RAW_BUF_SIZE)
		return 0;
	do
		n = read(st->fd, st->raw + st->raw_len, RAW_BUF_SIZE - st->raw_len);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		int r = -errno;
		char msg[128];
		snprintf(msg, sizeof(msg), "read error: %s", strerror(-r));
		return fail(st, err, r, msg);
	}
	if (n == 0) {
		st->raw_eof = true;
		return 0;
	}
	lf_sha256_update(st->blob_hash, st->raw + st->raw_len, n);
	st->raw_len += n;
	st->raw_bytes += n;
	if (st->max_raw >= 0 && st->raw_bytes > (uint64_t)st->max_raw) {
		char msg[128];
		snprintf(msg, sizeof(msg), "blob is larger than its declared size of %lld bytes",
			 (long long)st->max_raw);
		return fail(st, err, -EBADMSG, msg);
	}
	return 0;
}

static bool is_zstd_magic(const uint8_t *b)
{
	/* A zstd frame, or a skippable frame (0x184D2A50..5F) that precedes one. */
	if (b[0] == 0x28 && b[1] == 0xb5 && b[2] == 0x2f && b[3] == 0xfd)
		return true;
	return (b[0] & 0xf0) == 0x50 && b[1] == 0x2a && b[2] == 0x4d && b[3] == 0x18;
}

static int detect(struct lf_lstream *st, struct lf_err *err)
{
	static const uint8_t xz[] = { 0xfd, '7', 'z', 'X', 'Z', 0 };
	const uint8_t *b = st->raw;
	int r;

	while (st->raw_len < 6 && !st->raw_eof) {
		r = raw_fill(st, err);
		if (r < 0)
			return r;
	}
	if (st->raw_len >= 2 && b[0] == 0x1f && b[1] == 0x8b) {
		st->codec = CODEC_GZIP;
		/* 16 + MAX_WBITS: gzip framing only, with its CRC and size checked. */
		if (inflateInit2(&st->z, 16 + MAX_WBITS) != Z_OK)
			return -ENOMEM;
		st->z_init = true;
	} else if (st->raw_len >= 4 && is_zstd_magic(b)) {
		st->codec = CODEC_ZSTD;
		st->zd = ZSTD_createDStream();
		if (!st->zd)
			return -ENOMEM;
		ZSTD_initDStream(st->zd);
		st->zd_last = 1;
	} else if (st->raw_len >= 6 && memcmp(b, xz, sizeof(xz)) == 0) {
		return fail(st, err, -EOPNOTSUPP, "xz-compressed layers are not supported");
	} else if (st->raw_len >= 3 && b[0] == 'B' && b[1] == 'Z' && b[2] == 'h') {
		return fail(st, err, -EOPNOTSUPP, "bzip2-compressed layers are not supported");
	} else if (st->raw_len >= 4 && b[0] == 0x04 && b[1] == 0x22 && b[2] == 0x4d &&
		   b[3] == 0x18) {
		return fail(st, err, -EOPNOTSUPP, "lz4-compressed layers are not supported");
	} else {
		st->codec = CODEC_NONE;
	}
	if (st->codec != CODEC_NONE) {
		st->out = malloc(OUT_BUF_SIZE);
		if (!st->out)
			return -ENOMEM;
	}
	return 0;
}

int lf_lstream_new(int fd, int64_t max_raw, struct lf_lstream **ret, struct lf_err *err)
{
	struct lf_lstream *st = calloc(1, sizeof(*st));
	int r;

	if (!st)
		return -ENOMEM;
	st->fd = fd;
	st->max_raw = max_raw;
	st->raw = malloc(RAW_BUF_SIZE);
	if (!st->raw) {
		r = -ENOMEM;
		goto fail;
	}
	if ((r = lf_sha256_new(&st->blob_hash)) < 0 || (r = lf_sha256_new(&st->diff_hash)) < 0)
		goto fail;
	r = detect(st, err);
	if (r < 0)
		goto fail;
	*ret = st;
	return 0;
fail:
	lf_lstream_free(st);
	return r;
}

void lf_lstream_free(struct lf_lstream *st)
{
	if (!st)
		return;
	if (st->z_init)
		inflateEnd(&st->z);
	ZSTD_freeDStream(st->zd);
	lf_sha256_free(st->blob_hash);
	lf_sha256_free(st->diff_hash);
	free(st->raw);
	free(st->out);
	free(st);
}

const char *lf_lstream_codec(const struct lf_lstream *st)
{
	switch (st->codec) {
	case CODEC_GZIP:
		return "gzip";
	case CODEC_ZSTD:
		return "zstd";
	default:
		return "none";
	}
}

static ssize_t read_none(struct lf_lstream *st, const void **ret_buf, struct lf_err *err)
{
	size_t n;
	int r;

	if (st->raw_pos == st->raw_len) {
		r = raw_fill(st, err);
		if (r < 0)
			return r;
		if (st->raw_len == 0)
			return 0;
	}
	n = st->raw_len - st->raw_pos;
	*ret_buf = st->raw + st->raw_pos;
	st->raw_pos = st->raw_len;
	return n;
}

/* Called when a gzip member ended: EOF, or the magic of the next member. */
static int gzip_next_member(struct lf_lstream *st, struct lf_err *err)
{
	size_t avail;
	int r;

	for (;;) {
		avail = st->raw_len - st->raw_pos;
		if (avail >= 2 || st->raw_eof)
			break;
		r = raw_fill(st, err);
		if (r < 0)
			return r;
	}
	if (avail == 0) {
		st->done = true;
		return 0;
	}
	if (avail < 2 || st->raw[st->raw_pos] != 0x1f || st->raw[st->raw_pos + 1] != 0x8b)
		return fail(st, err, -EBADMSG,
			    "corrupt gzip stream: trailing data after the last member");
	if (inflateReset(&st->z) != Z_OK)
		return fail(st, err, -EBADMSG, "corrupt gzip stream");
	st->z_member_end = false;
	return 0;
}

static ssize_t read_gzip(struct lf_lstream *st, struct lf_err *err)
{
	int r, zr;

	for (;;) {
		size_t produced, consumed;

		if (st->z_member_end) {
			r = gzip_next_member(st, err);
			if (r < 0)
				return r;
			if (st->done)
				return 0;
		}
		if (st->raw_pos == st->raw_len) {
			r = raw_fill(st, err);
			if (r < 0)
				return r;
		}
		st->z.next_in = st->raw + st->raw_pos;
		st->z.avail_in = st->raw_len - st->raw_pos;
		st->z.next_out = st->out;
		st->z.avail_out = OUT_BUF_SIZE;
		zr = inflate(&st->z, Z_NO_FLUSH);
		consumed = (st->raw_len - st->raw_pos) - st->z.avail_in;
		st->raw_pos += consumed;
		produced = OUT_BUF_SIZE - st->z.avail_out;
		if (zr == Z_STREAM_END) {
			st->z_member_end = true;
		} else if (zr == Z_BUF_ERROR || (zr == Z_OK && produced == 0 && consumed == 0)) {
			if (st->raw_pos == st->raw_len && st->raw_eof)
				return fail(st, err, -EBADMSG, "truncated gzip stream");
		} else if (zr != Z_OK) {
			char msg[160];
			snprintf(msg, sizeof(msg), "corrupt gzip stream: %s",
				 st->z.msg ? st->z.msg : "inflate failed");
			return fail(st, err, -EBADMSG, msg);
		}
		if (produced > 0)
			return produced;
	}
}

static ssize_t read_zstd(struct lf_lstream *st, struct lf_err *err)
{
	int r;

	for (;;) {
		ZSTD_inBuffer in;
		ZSTD_outBuffer out = { st->out, OUT_BUF_SIZE, 0 };
		size_t zr;

		if (st->raw_pos == st->raw_len) {
			r = raw_fill(st, err);
			if (r < 0)
				return r;
		}
		in = (ZSTD_inBuffer){ st->raw, st->raw_len, st->raw_pos };
		zr = ZSTD_decompressStream(st->zd, &out, &in);
		if (ZSTD_isError(zr)) {
			char msg[160];
			snprintf(msg, sizeof(msg), "corrupt zstd stream: %s",
				 ZSTD_getErrorName(zr));
			return fail(st, err, -EBADMSG, msg);
		}
		/* A call that did nothing (no input left) says nothing about the frame. */
		if (in.pos > st->raw_pos || out.pos > 0)
			st->zd_last = zr;
		st->raw_pos = in.pos;
		if (out.pos > 0)
			return out.pos;
		if (st->raw_pos == st->raw_len && st->raw_eof) {
			if (st->zd_last != 0)
				return fail(st, err, -EBADMSG, "truncated zstd stream");
			st->done = true;
			return 0;
		}
	}
}

ssize_t lf_lstream_read(struct lf_lstream *st, const void **ret_buf, struct lf_err *err)
{
	ssize_t n;

	if (st->failed)
		return lf_err_set(err, st->failed, "%s", st->failed_msg);
	if (st->done)
		return 0;
	switch (st->codec) {
	case CODEC_GZIP:
		n = read_gzip(st, err);
		*ret_buf = st->out;
		break;
	case CODEC_ZSTD:
		n = read_zstd(st, err);
		*ret_buf = st->out;
		break;
	default:
		n = read_none(st, ret_buf, err);
		break;
	}
	if (n > 0) {
		lf_sha256_update(st->diff_hash, *ret_buf, n);
		st->out_bytes += n;
	} else if (n == 0) {
		st->done = true;
	}
	return n;
}

int lf_lstream_drain(struct lf_lstream *st, struct lf_err *err)
{
	const void *buf;
	ssize_t n;

	while ((n = lf_lstream_read(st, &buf, err)) > 0)
		;
	return n;
}

int lf_lstream_drain_raw(struct lf_lstream *st)
{
	int r;

	st->raw_pos = st->raw_len;
	while (!st->raw_eof) {
		st->raw_pos = st->raw_len;
		r = raw_fill(st, NULL);
		if (r < 0)
			return r;
	}
	return 0;
}

void lf_lstream_result(struct lf_lstream *st, struct lf_digest *ret_blob, uint64_t *ret_blob_size,
		       struct lf_digest *ret_diff, uint64_t *ret_diff_size)
{
	if (!st->digests_final) {
		lf_sha256_final(st->blob_hash, &st->blob_digest);
		lf_sha256_final(st->diff_hash, &st->diff_digest);
		st->digests_final = true;
	}
	if (ret_blob)
		*ret_blob = st->blob_digest;
	if (ret_blob_size)
		*ret_blob_size = st->raw_bytes;
	if (ret_diff)
		*ret_diff = st->diff_digest;
	if (ret_diff_size)
		*ret_diff_size = st->out_bytes;
}
