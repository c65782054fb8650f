/*
 * A directory as a layer: walked fd-relative (openat, O_NOFOLLOW; a symlink is recorded,
 * never followed) into a deterministic pax tar, which is then imported like any layer.
 * Same tree in, same bytes out: entries sorted bytewise, parents first, numeric owners only,
 * no atime/ctime, hard links as links to the first path in that order.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "layerfs/layer.h"
#include "layerfs/macro.h"
#include "layerfs/store.h"
#include "layerfs/util.h"

#define COPY_BUF_SIZE (128 * 1024)

struct seen_link {
	dev_t dev;
	ino_t ino;
	char *path;
};

struct dir_ctx {
	struct archive *a;
	struct lf_err *err;
	struct seen_link *links;
	size_t n_links, cap_links;
	char *buf; /* COPY_BUF_SIZE */
};

static int path_err(struct dir_ctx *c, int r, const char *path, const char *fmt, ...)
	_printf_(4, 5);
static int path_err(struct dir_ctx *c, int r, const char *path, const char *fmt, ...)
{
	char msg[LF_ERR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return lf_err_set(c->err, r, "'%s': %s", *path ? path : ".", msg);
}

static int archive_fail(struct dir_ctx *c, const char *path)
{
	const char *m = archive_error_string(c->a);

	return path_err(c, -EIO, path, "cannot write the tar: %s", m ? m : "unknown error");
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_names(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* The names in a directory, sorted bytewise. */
static int list_dir(int dfd, char ***ret, size_t *ret_n)
{
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *d;
	int fd, r = 0;

	fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		r = -errno;
		close(fd);
		return r;
	}
	errno = 0;
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 32;
			char **nn = realloc(names, nc * sizeof(*nn));
			if (!nn) {
				r = -ENOMEM;
				break;
			}
			names = nn;
			cap = nc;
		}
		names[n] = strdup(de->d_name);
		if (!names[n]) {
			r = -ENOMEM;
			break;
		}
		n++;
		errno = 0;
	}
	if (r == 0 && errno)
		r = -errno;
	closedir(d);
	if (r < 0) {
		free_names(names, n);
		return r;
	}
	if (n)
		qsort(names, n, sizeof(*names), cmp_names);
	*ret = names;
	*ret_n = n;
	return 0;
}

/* Copies every extended attribute of proc_path (a /proc/self/fd path, not followed). */
static int add_xattrs(struct dir_ctx *c, struct archive_entry *e, const char *proc_path,
		      const char *path)
{
	_cleanup_free_ char *names = NULL;
	ssize_t len;

	len = llistxattr(proc_path, NULL, 0);
	if (len < 0)
		return errno == ENOTSUP ? 0
					: path_err(c, -errno, path, "cannot list xattrs: %s",
						   strerror(errno));
	if (len == 0)
		return 0;
	names = malloc(len);
	if (!names)
		return -ENOMEM;
	len = llistxattr(proc_path, names, len);
	if (len < 0)
		return path_err(c, -errno, path, "cannot list xattrs: %s", strerror(errno));
	/* Sorted, so the tar does not depend on the order the filesystem keeps them in. */
	size_t n = 0;
	for (ssize_t i = 0; i < len; i += strlen(names + i) + 1)
		n++;
	_cleanup_free_ char **sorted = calloc(n ? n : 1, sizeof(char *));
	if (!sorted)
		return -ENOMEM;
	n = 0;
	for (ssize_t i = 0; i < len; i += strlen(names + i) + 1)
		sorted[n++] = names + i;
	qsort(sorted, n, sizeof(*sorted), cmp_names);
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *value = NULL;
		ssize_t vl = lgetxattr(proc_path, sorted[i], NULL, 0);
		if (vl < 0) {
			if (errno == ENODATA)
				continue;
			return path_err(c, -errno, path, "cannot read xattr '%s': %s", sorted[i],
					strerror(errno));
		}
		value = malloc(vl ? vl : 1);
		if (!value)
			return -ENOMEM;
		vl = lgetxattr(proc_path, sorted[i], value, vl);
		if (vl < 0)
			return path_err(c, -errno, path, "cannot read xattr '%s': %s", sorted[i],
					strerror(errno));
		archive_entry_xattr_add_entry(e, sorted[i], value, vl);
	}
	return 0;
}

/* A second path of an inode already written: -> 1 and the entry made a hard link. */
static int check_link(struct dir_ctx *c, struct archive_entry *e, const struct stat *st,
		      const char *path)
{
	if (S_ISDIR(st->st_mode) || st->st_nlink < 2)
		return 0;
	for (size_t i = 0; i < c->n_links; i++)
		if (c->links[i].dev == st->st_dev && c->links[i].ino == st->st_ino) {
			archive_entry_set_hardlink(e, c->links[i].path);
			archive_entry_set_size(e, 0);
			return 1;
		}
	if (c->n_links == c->cap_links) {
		size_t nc = c->cap_links ? c->cap_links * 2 : 64;
		struct seen_link *nl = realloc(c->links, nc * sizeof(*nl));
		if (!nl)
			return -ENOMEM;
		c->links = nl;
		c->cap_links = nc;
	}
	c->links[c->n_links].path = strdup(path);
	if (!c->links[c->n_links].path)
		return -ENOMEM;
	c->links[c->n_links].dev = st->st_dev;
	c->links[c->n_links].ino = st->st_ino;
	c->n_links++;
	return 0;
}

static int write_data(struct dir_ctx *c, int dfd, const char *name, const struct stat *st,
		      const char *path)
{
	_cleanup_close_ int fd = -1;
	uint64_t left = st->st_size;
	struct stat st2;

	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return path_err(c, -errno, path, "cannot open: %s", strerror(errno));
	if (fstat(fd, &st2) < 0)
		return -errno;
	if (st2.st_ino != st->st_ino || st2.st_dev != st->st_dev)
		return path_err(c, -ESTALE, path, "replaced while being read");
	while (left > 0) {
		ssize_t n = read(fd, c->buf, MIN(left, (uint64_t)COPY_BUF_SIZE));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return path_err(c, -errno, path, "cannot read: %s", strerror(errno));
		if (n == 0)
			return path_err(c, -ESTALE, path, "shrank while being read");
		if (archive_write_data(c->a, c->buf, n) != n)
			return archive_fail(c, path);
		left -= n;
	}
	return 0;
}

static int walk(struct dir_ctx *c, int dfd, const char *rel);

/* One entry: name in dfd (NULL: dfd itself, the root), tar path path. */
static int write_entry(struct dir_ctx *c, int dfd, const char *name, const char *path)
{
	struct archive_entry *e;
	char proc[64 + NAME_MAX];
	struct stat st;
	int r, linked = 0;

	if (name) {
		if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return path_err(c, -errno, path, "cannot stat: %s", strerror(errno));
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d/%s", dfd, name);
	} else {
		if (fstat(dfd, &st) < 0)
			return -errno;
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", dfd);
	}
	if (S_ISSOCK(st.st_mode))
		return 0; /* tar cannot hold a socket; like GNU tar, leave it out */

	e = archive_entry_new();
	if (!e)
		return -ENOMEM;
	archive_entry_set_pathname(e, *path ? path : ".");
	archive_entry_set_mode(e, st.st_mode);
	archive_entry_set_uid(e, st.st_uid);
	archive_entry_set_gid(e, st.st_gid);
	archive_entry_set_mtime(e, st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
	r = check_link(c, e, &st, path);
	if (r < 0)
		goto out;
	linked = r;
	if (!linked) {
		if (S_ISREG(st.st_mode))
			archive_entry_set_size(e, st.st_size);
		if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
			archive_entry_set_rdevmajor(e, major(st.st_rdev));
			archive_entry_set_rdevminor(e, minor(st.st_rdev));
		}
		if (S_ISLNK(st.st_mode)) {
			char target[PATH_MAX + 1];
			ssize_t n = readlinkat(dfd, name, target, sizeof(target));
			if (n < 0 || n > PATH_MAX) {
				r = path_err(c, n < 0 ? -errno : -ENAMETOOLONG, path,
					     "cannot read the symlink: %s",
					     strerror(n < 0 ? errno : ENAMETOOLONG));
				goto out;
			}
			target[n] = 0;
			archive_entry_set_symlink(e, target);
		}
		r = add_xattrs(c, e, proc, path);
		if (r < 0)
			goto out;
	}
	if (archive_write_header(c->a, e) < ARCHIVE_WARN) {
		r = archive_fail(c, path);
		goto out;
	}
	r = 0;
	if (!linked && S_ISREG(st.st_mode) && st.st_size > 0)
		r = write_data(c, dfd, name, &st, path);
	else if (S_ISDIR(st.st_mode)) {
		_cleanup_close_ int sub = -1;
		if (name) {
			sub = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub < 0) {
				r = path_err(c, -errno, path, "cannot open: %s", strerror(errno));
				goto out;
			}
		}
		r = walk(c, name ? sub : dfd, path);
	}
out:
	archive_entry_free(e);
	return r;
}

static int walk(struct dir_ctx *c, int dfd, const char *rel)
{
	char **names = NULL;
	size_t n = 0;
	int r;

	r = list_dir(dfd, &names, &n);
	if (r < 0)
		return path_err(c, r, rel, "cannot list: %s", strerror(-r));
	for (size_t i = 0; i < n && r >= 0; i++) {
		_cleanup_free_ char *path =
			*rel ? lf_strdup_printf("%s/%s", rel, names[i]) : strdup(names[i]);
		if (!path) {
			r = -ENOMEM;
			break;
		}
		r = write_entry(c, dfd, names[i], path);
	}
	free_names(names, n);
	return r;
}

/* Writes the tar of the directory dfd to out_fd. */
static int write_tar(int dfd, int out_fd, struct lf_err *err)
{
	struct dir_ctx c = { .err = err };
	int r;

	c.buf = malloc(COPY_BUF_SIZE);
	c.a = archive_write_new();
	if (!c.buf || !c.a) {
		r = -ENOMEM;
		goto out;
	}
	if (archive_write_set_format_pax(c.a) != ARCHIVE_OK ||
	    archive_write_open_fd(c.a, out_fd) != ARCHIVE_OK) {
		r = archive_fail(&c, "");
		goto out;
	}
	r = write_entry(&c, dfd, NULL, "");
	if (r >= 0 && archive_write_close(c.a) != ARCHIVE_OK)
		r = archive_fail(&c, "");
out:
	if (c.a)
		archive_write_free(c.a);
	for (size_t i = 0; i < c.n_links; i++)
		free(c.links[i].path);
	free(c.links);
	free(c.buf);
	return r;
}

int lf_layer_import_dir(struct lf_store *s, const char *dir, struct lf_digest *ret_diff_id,
			uint64_t *ret_size, struct lf_err *err)
{
	_cleanup_close_ int dfd = -1, tar_fd = -1;
	_cleanup_free_ char *stage = NULL;
	struct lf_err e = { { 0 } };
	struct lf_digest diff_id;
	int stage_fd = -1, r;
	struct stat st;

	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return lf_err_set(err, -errno, "'%s': cannot open the directory: %s", dir,
				  strerror(errno));
	r = lf_store_mkstage(s, &stage, &stage_fd);
	if (r < 0)
		return lf_err_set(err, r, "cannot create a staging directory in '%s/tmp': %s",
				  s->path, strerror(-r));
	tar_fd = openat(stage_fd, "rootfs.tar", O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			0600);
	if (tar_fd < 0) {
		r = lf_err_set(&e, -errno, "cannot create a staging file: %s", strerror(errno));
		goto out;
	}
	r = write_tar(dfd, tar_fd, &e);
	if (r < 0) {
		lf_err_prefix(&e, r, "'%s'", dir);
		goto out;
	}
	if (fstat(tar_fd, &st) < 0 || lseek(tar_fd, 0, SEEK_SET) < 0) {
		r = -errno;
		goto out;
	}
	r = lf_layer_import(
		s, &(struct lf_layer_source){ .name = dir, .fd = tar_fd, .blob_size = st.st_size },
		&diff_id, &e);
out:
	lf_rm_rf_at(s->tmp_fd, stage);
	close(stage_fd);
	if (r < 0)
		return lf_err_set(err, r, "%s", lf_err_str(&e, r));
	if (ret_diff_id)
		*ret_diff_id = diff_id;
	if (ret_size)
		*ret_size = st.st_size;
	return 0;
}
