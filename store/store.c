/* The store's directory layout, its locks and its staging area. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "layerfs/macro.h"
#include "layerfs/store.h"
#include "layerfs/util.h"

static const char oci_layout[] = "{\"imageLayoutVersion\":\"1.0.0\"}\n";
static const char empty_index[] = "{\"schemaVersion\":2,\"manifests\":[]}\n";

static int create_layout(int root_fd)
{
	static const char *const dirs[] = { "blobs",  "blobs/sha256", "objects", "layers",
					    "merged", "containers",   "run",	 "tmp" };
	char name[16];
	int r;

	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++)
		if (mkdirat(root_fd, dirs[i], 0755) < 0 && errno != EEXIST)
			return -errno;
	for (int i = 0; i < 256; i++) {
		snprintf(name, sizeof(name), "objects/%02x", i);
		if (mkdirat(root_fd, name, 0755) < 0 && errno != EEXIST)
			return -errno;
	}
	if (faccessat(root_fd, "oci-layout", F_OK, 0) < 0) {
		r = lf_write_file_atomic_at(root_fd, "oci-layout", oci_layout, strlen(oci_layout),
					    0644);
		if (r < 0)
			return r;
	}
	if (faccessat(root_fd, "index.json", F_OK, 0) < 0) {
		r = lf_write_file_atomic_at(root_fd, "index.json", empty_index, strlen(empty_index),
					    0644);
		if (r < 0)
			return r;
	}
	/* Written last: its presence says the layout is complete. */
	if (faccessat(root_fd, "layerfs.json", F_OK, 0) < 0) {
		char buf[128];
		int n = snprintf(buf, sizeof(buf), "{\"formatVersion\":%d,\"features\":[]}\n",
				 LF_STORE_FORMAT_VERSION);
		r = lf_write_file_atomic_at(root_fd, "layerfs.json", buf, n, 0644);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Removes staging entries whose owner died: every live one is flock'ed by its creator. */
static void clean_tmp(int tmp_fd)
{
	int fd = openat(tmp_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((de = readdir(d))) {
		int efd;
		if (de->d_name[0] == '.')
			continue;
		efd = openat(tmp_fd, de->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
		if (efd < 0)
			continue;
		if (flock(efd, LOCK_EX | LOCK_NB) == 0)
			lf_rm_rf_at(tmp_fd, de->d_name);
		close(efd);
	}
	closedir(d);
}

static int open_sub(int root_fd, const char *name, int *ret)
{
	int fd = openat(root_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0)
		return -errno;
	*ret = fd;
	return 0;
}

int lf_store_open(const char *path, bool create, struct lf_store **ret)
{
	struct lf_store *s;
	int r;

	if (create) {
		r = lf_mkdir_p_at(AT_FDCWD, path, 0755);
		if (r < 0)
			return r;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->root_fd = s->blobs_fd = s->objects_fd = s->layers_fd = s->merged_fd = -1;
	s->containers_fd = s->run_fd = s->tmp_fd = s->lock_fd = -1;
	s->path = strdup(path);
	if (!s->path) {
		r = -ENOMEM;
		goto fail;
	}
	s->root_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->root_fd < 0) {
		r = -errno;
		goto fail;
	}
	if (faccessat(s->root_fd, "layerfs.json", F_OK, 0) < 0) {
		if (!create) {
			r = -ENOENT;
			goto fail;
		}
		r = create_layout(s->root_fd);
		if (r < 0)
			goto fail;
	}
	if ((r = open_sub(s->root_fd, "blobs/sha256", &s->blobs_fd)) < 0 ||
	    (r = open_sub(s->root_fd, "objects", &s->objects_fd)) < 0 ||
	    (r = open_sub(s->root_fd, "layers", &s->layers_fd)) < 0 ||
	    (r = open_sub(s->root_fd, "merged", &s->merged_fd)) < 0 ||
	    (r = open_sub(s->root_fd, "containers", &s->containers_fd)) < 0 ||
	    (r = open_sub(s->root_fd, "run", &s->run_fd)) < 0 ||
	    (r = open_sub(s->root_fd, "tmp", &s->tmp_fd)) < 0)
		goto fail;
	clean_tmp(s->tmp_fd);
	*ret = s;
	return 0;
fail:
	lf_store_free(s);
	return r;
}

void lf_store_free(struct lf_store *s)
{
	int *fds[] = { &s->root_fd,   &s->blobs_fd,  &s->objects_fd,
		       &s->layers_fd, &s->merged_fd, &s->containers_fd,
		       &s->run_fd,    &s->tmp_fd,    &s->lock_fd };

	if (!s)
		return;
	for (size_t i = 0; i < ARRAY_SIZE(fds); i++)
		if (*fds[i] >= 0)
			close(*fds[i]);
	free(s->path);
	free(s);
}

int lf_store_lock(struct lf_store *s, enum lf_store_lock how)
{
	if (how == LF_LOCK_NONE) {
		if (s->lock_fd >= 0)
			close(s->lock_fd);
		s->lock_fd = -1;
		return 0;
	}
	if (s->lock_fd < 0) {
		s->lock_fd =
			openat(s->root_fd, "lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
		if (s->lock_fd < 0)
			return -errno;
	}
	while (flock(s->lock_fd, how == LF_LOCK_SHARED ? LOCK_SH : LOCK_EX) < 0)
		if (errno != EINTR)
			return -errno;
	return 0;
}

int lf_store_meta_lock(struct lf_store *s, int *ret_fd)
{
	int fd = openat(s->root_fd, "meta.lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);

	if (fd < 0)
		return -errno;
	while (flock(fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			int r = -errno;
			close(fd);
			return r;
		}
	}
	*ret_fd = fd;
	return 0;
}

int lf_store_mkstage(struct lf_store *s, char **ret_name, int *ret_fd)
{
	char hex[33], name[64], tmpname[64];
	int fd, r;

	r = lf_random_hex(hex);
	if (r < 0)
		return r;
	/*
	 * Made under a dot-name, which clean_tmp() skips, and renamed only once locked: a
	 * concurrent lf_store_open() must never see an unlocked stage and take it for stale.
	 */
	snprintf(tmpname, sizeof(tmpname), ".new-%s", hex);
	snprintf(name, sizeof(name), "stage-%s", hex);
	if (mkdirat(s->tmp_fd, tmpname, 0700) < 0)
		return -errno;
	fd = openat(s->tmp_fd, tmpname, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 || flock(fd, LOCK_EX) < 0 || renameat(s->tmp_fd, tmpname, s->tmp_fd, name) < 0) {
		r = -errno;
		if (fd >= 0)
			close(fd);
		unlinkat(s->tmp_fd, tmpname, AT_REMOVEDIR);
		return r;
	}
	*ret_name = strdup(name);
	if (!*ret_name) {
		close(fd);
		lf_rm_rf_at(s->tmp_fd, name);
		return -ENOMEM;
	}
	*ret_fd = fd;
	return 0;
}

int lf_store_sync(struct lf_store *s)
{
	if (syncfs(s->root_fd) < 0)
		return -errno;
	return 0;
}
