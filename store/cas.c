/* Content-addressed objects and blobs: written once, atomically, under their sha256. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "layerfs/store.h"
#include "layerfs/util.h"

struct lf_cas_writer {
	struct lf_store *store;
	enum lf_cas_kind kind;
	int stage_fd; /* -1: publish straight into the store */
	int fd;
	char tmpname[64]; /* named staging file when O_TMPFILE is unavailable, else "" */
	struct lf_sha256 *hash;
	uint64_t size;
	bool committed;
};

void lf_cas_object_relpath(const struct lf_digest *d, char out[LF_OBJECT_PATH_MAX])
{
	char hex[LF_DIGEST_HEX_LEN + 1];

	lf_digest_hex(d, hex);
	out[0] = hex[0];
	out[1] = hex[1];
	out[2] = '/';
	memcpy(out + 3, hex + 2, LF_DIGEST_HEX_LEN - 2 + 1);
}

static int kind_path(struct lf_store *s, enum lf_cas_kind kind, const struct lf_digest *d,
		     char out[LF_OBJECT_PATH_MAX], int *ret_dirfd)
{
	if (kind == LF_CAS_OBJECT) {
		lf_cas_object_relpath(d, out);
		*ret_dirfd = s->objects_fd;
	} else {
		lf_digest_hex(d, out);
		*ret_dirfd = s->blobs_fd;
	}
	return 0;
}

int lf_cas_open(struct lf_store *s, enum lf_cas_kind kind, const struct lf_digest *d, int *ret_fd)
{
	char rel[LF_OBJECT_PATH_MAX];
	int dirfd, fd;

	kind_path(s, kind, d, rel, &dirfd);
	fd = openat(dirfd, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	*ret_fd = fd;
	return 0;
}

bool lf_cas_has(struct lf_store *s, enum lf_cas_kind kind, const struct lf_digest *d)
{
	char rel[LF_OBJECT_PATH_MAX];
	int dirfd;

	kind_path(s, kind, d, rel, &dirfd);
	return faccessat(dirfd, rel, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

int lf_cas_size(struct lf_store *s, enum lf_cas_kind kind, const struct lf_digest *d,
		uint64_t *ret_size)
{
	char rel[LF_OBJECT_PATH_MAX];
	struct stat st;
	int dirfd;

	kind_path(s, kind, d, rel, &dirfd);
	if (fstatat(dirfd, rel, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	*ret_size = st.st_size;
	return 0;
}

static const char *stage_subdir(enum lf_cas_kind kind)
{
	return kind == LF_CAS_OBJECT ? "objects" : "blobs";
}

bool lf_cas_has_staged(struct lf_store *s, enum lf_cas_kind kind, int stage_fd,
		       const struct lf_digest *d)
{
	char rel[16 + LF_DIGEST_HEX_LEN + 1];

	if (lf_cas_has(s, kind, d))
		return true;
	if (stage_fd < 0)
		return false;
	snprintf(rel, sizeof(rel), "%s/", stage_subdir(kind));
	lf_digest_hex(d, rel + strlen(rel));
	return faccessat(stage_fd, rel, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

int lf_cas_writer_new(struct lf_store *s, enum lf_cas_kind kind, struct lf_cas_writer **ret)
{
	return lf_cas_writer_new_staged(s, kind, -1, ret);
}

int lf_cas_writer_new_staged(struct lf_store *s, enum lf_cas_kind kind, int stage_fd,
			     struct lf_cas_writer **ret)
{
	struct lf_cas_writer *w = calloc(1, sizeof(*w));
	int r;

	if (!w)
		return -ENOMEM;
	w->store = s;
	w->kind = kind;
	w->stage_fd = stage_fd;
	if (stage_fd >= 0 && mkdirat(stage_fd, stage_subdir(kind), 0700) < 0 && errno != EEXIST) {
		free(w);
		return -errno;
	}
	r = lf_sha256_new(&w->hash);
	if (r < 0) {
		free(w);
		return r;
	}
	/* An unnamed file leaves nothing behind if we die before linking it into place. */
	w->fd = openat(s->tmp_fd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0644);
	if (w->fd < 0) {
		char hex[33];
		r = lf_random_hex(hex);
		if (r < 0)
			goto fail;
		char dotname[64];
		snprintf(dotname, sizeof(dotname), ".new-obj-%s", hex);
		snprintf(w->tmpname, sizeof(w->tmpname), "obj-%s", hex);
		w->fd = openat(s->tmp_fd, dotname,
			       O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
		if (w->fd < 0) {
			r = -errno;
			goto fail;
		}
		/*
		 * Locked before it gets a name clean_tmp() looks at, and held while we live,
		 * so a later lf_store_open() knows it is not stale.
		 */
		if (flock(w->fd, LOCK_EX) < 0 ||
		    renameat(s->tmp_fd, dotname, s->tmp_fd, w->tmpname) < 0) {
			r = -errno;
			close(w->fd);
			unlinkat(s->tmp_fd, dotname, 0);
			goto fail;
		}
	}
	*ret = w;
	return 0;
fail:
	lf_sha256_free(w->hash);
	free(w);
	return r;
}

int lf_cas_writer_write(struct lf_cas_writer *w, const void *buf, size_t len)
{
	int r = lf_write_full(w->fd, buf, len);

	if (r < 0)
		return r;
	lf_sha256_update(w->hash, buf, len);
	w->size += len;
	return 0;
}

static int link_into_place(struct lf_cas_writer *w, int dirfd, const char *rel)
{
	char proc[64];

	if (w->tmpname[0]) {
		if (linkat(w->store->tmp_fd, w->tmpname, dirfd, rel, 0) < 0)
			return -errno;
		return 0;
	}
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", w->fd);
	if (linkat(AT_FDCWD, proc, dirfd, rel, AT_SYMLINK_FOLLOW) < 0)
		return -errno;
	return 0;
}

int lf_cas_writer_commit(struct lf_cas_writer *w, const struct lf_digest *expect,
			 struct lf_digest *ret_digest, uint64_t *ret_size, bool *ret_new)
{
	char rel[96];
	struct lf_digest d;
	bool created = false;
	int dirfd, r;

	lf_sha256_final(w->hash, &d);
	if (expect && !lf_digest_eq(expect, &d))
		return -EILSEQ;
	kind_path(w->store, w->kind, &d, rel, &dirfd);
	if (w->stage_fd >= 0 && faccessat(dirfd, rel, F_OK, AT_SYMLINK_NOFOLLOW) < 0) {
		/* Staged: <stage>/<kind>/<hex>, linked into place by lf_cas_publish_stage(). */
		snprintf(rel, sizeof(rel), "%s/", stage_subdir(w->kind));
		lf_digest_hex(&d, rel + strlen(rel));
		dirfd = w->stage_fd;
	}
	if (faccessat(dirfd, rel, F_OK, AT_SYMLINK_NOFOLLOW) < 0) {
		if (fchmod(w->fd, 0444) < 0)
			return -errno;
		/*
		 * Durability comes from lf_store_sync() before anything references the
		 * object; a lost object after a crash is found missing, never half-written,
		 * because the tree that names it is published after the sync.
		 */
		r = link_into_place(w, dirfd, rel);
		if (r == 0)
			created = true;
		else if (r != -EEXIST) /* a concurrent import published the same bytes */
			return r;
	}
	w->committed = true;
	if (ret_digest)
		*ret_digest = d;
	if (ret_size)
		*ret_size = w->size;
	if (ret_new)
		*ret_new = created;
	return 0;
}

void lf_cas_writer_free(struct lf_cas_writer *w)
{
	if (!w)
		return;
	if (w->fd >= 0)
		close(w->fd);
	if (w->tmpname[0])
		unlinkat(w->store->tmp_fd, w->tmpname, 0);
	lf_sha256_free(w->hash);
	free(w);
}

int lf_cas_put(struct lf_store *s, enum lf_cas_kind kind, const void *buf, size_t len,
	       struct lf_digest *ret)
{
	struct lf_cas_writer *w;
	int r = lf_cas_writer_new(s, kind, &w);

	if (r < 0)
		return r;
	r = lf_cas_writer_write(w, buf, len);
	if (r >= 0)
		r = lf_cas_writer_commit(w, NULL, ret, NULL, NULL);
	lf_cas_writer_free(w);
	return r;
}

int lf_cas_read(struct lf_store *s, enum lf_cas_kind kind, const struct lf_digest *d, size_t max,
		char **ret_buf, size_t *ret_len)
{
	char rel[LF_OBJECT_PATH_MAX];
	struct lf_digest got;
	char *buf;
	size_t len;
	int dirfd, r;

	kind_path(s, kind, d, rel, &dirfd);
	r = lf_read_file_at(dirfd, rel, max, &buf, &len);
	if (r < 0)
		return r;
	lf_sha256_buf(buf, len, &got);
	if (!lf_digest_eq(&got, d)) {
		free(buf);
		return -EILSEQ;
	}
	*ret_buf = buf;
	if (ret_len)
		*ret_len = len;
	return 0;
}

static int publish_kind(struct lf_store *s, int stage_fd, enum lf_cas_kind kind)
{
	int fd = openat(stage_fd, stage_subdir(kind), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *de;
	DIR *d;
	int r = 0;

	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	d = fdopendir(fd);
	if (!d) {
		r = -errno;
		close(fd);
		return r;
	}
	while ((de = readdir(d))) {
		char rel[LF_OBJECT_PATH_MAX];
		struct lf_digest dg;
		int dst_fd;

		if (de->d_name[0] == '.')
			continue;
		if (lf_digest_parse_hex(de->d_name, strlen(de->d_name), &dg) < 0)
			continue;
		kind_path(s, kind, &dg, rel, &dst_fd);
		if (linkat(dirfd(d), de->d_name, dst_fd, rel, 0) < 0 && errno != EEXIST) {
			r = -errno;
			break;
		}
	}
	closedir(d);
	return r;
}

int lf_cas_publish_stage(struct lf_store *s, int stage_fd)
{
	int r = publish_kind(s, stage_fd, LF_CAS_OBJECT);

	if (r < 0)
		return r;
	return publish_kind(s, stage_fd, LF_CAS_BLOB);
}
