/*
 * Import sources as directory trees. A tar source is unpacked into a stage with strict
 * hygiene: only directories, regular files and symlinks that stay inside the archive are
 * recreated, every name is a plain component, parents are walked with O_NOFOLLOW so nothing
 * is written through a symlink, and files are created O_EXCL. Large files are left as empty
 * placeholders until the importer knows it needs them (lf_imgsrc_fetch), so a multi-platform
 * archive costs only the platform imported.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "layerfs/macro.h"
#include "layerfs/oci.h"
#include "layerfs/store.h"
#include "layerfs/util.h"
#include "image-source.h"

/* Files up to this size are extracted in the first pass: every document we may need is. */
#define SMALL_FILE_MAX LF_OCI_CONFIG_MAX
#define MAX_ENTRIES (1u << 20)
#define COPY_BLOCK (64 * 1024)

struct placeholder {
	char *name;
	dev_t dev;
	ino_t ino;
	int64_t size;
	bool wanted;
	bool filled;
};

struct lf_imgsrc {
	char *label;
	int root_fd;
	struct lf_store *store;
	int tar_fd; /* -1 for a directory source */
	char *stage_name;
	struct placeholder *ph;
	size_t n_ph;
};

const char *lf_imgsrc_label(const struct lf_imgsrc *src)
{
	return src->label;
}

void lf_imgsrc_free(struct lf_imgsrc *src)
{
	if (!src)
		return;
	if (src->stage_name)
		lf_rm_rf_at(src->store->tmp_fd, src->stage_name);
	if (src->root_fd >= 0)
		close(src->root_fd); /* also drops the stage's lock */
	for (size_t i = 0; i < src->n_ph; i++)
		free(src->ph[i].name);
	free(src->ph);
	free(src->stage_name);
	free(src->label);
	free(src);
}
DEFINE_FREEP(struct lf_imgsrc, lf_imgsrc_free)

static struct lf_imgsrc *src_new(const char *label)
{
	struct lf_imgsrc *src = calloc(1, sizeof(*src));

	if (!src)
		return NULL;
	src->root_fd = src->tar_fd = -1;
	src->label = strdup(label);
	if (!src->label) {
		free(src);
		return NULL;
	}
	return src;
}

int lf_imgsrc_open_dir(const char *path, const char *label, struct lf_imgsrc **ret,
		       struct lf_err *err)
{
	_cleanup_(lf_imgsrc_freep) struct lf_imgsrc *src = src_new(label);

	if (!src)
		return -ENOMEM;
	src->root_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (src->root_fd < 0)
		return lf_err_set(err, -errno, "'%s': %s", label, strerror(errno));
	*ret = TAKE_PTR(src);
	return 0;
}

/* ---- opening beneath the root ---- */

static int open_beneath(struct lf_imgsrc *src, const char *path, int *ret_fd, struct stat *ret_st)
{
	struct open_how how = {
		.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
	};
	_cleanup_close_ int fd = syscall(SYS_openat2, src->root_fd, path, &how, sizeof(how));

	if (fd < 0)
		return -errno;
	if (fstat(fd, ret_st) < 0)
		return -errno;
	if (!S_ISREG(ret_st->st_mode))
		return -EINVAL;
	/* O_NONBLOCK only kept a fifo from blocking the open. */
	if (fcntl(fd, F_SETFL, 0) < 0)
		return -errno;
	*ret_fd = TAKE_FD(fd);
	return 0;
}

static struct placeholder *find_placeholder(struct lf_imgsrc *src, const struct stat *st)
{
	for (size_t i = 0; i < src->n_ph; i++)
		if (src->ph[i].dev == st->st_dev && src->ph[i].ino == st->st_ino)
			return &src->ph[i];
	return NULL;
}

bool lf_imgsrc_exists(struct lf_imgsrc *src, const char *path)
{
	struct stat st;
	int fd;

	if (open_beneath(src, path, &fd, &st) < 0)
		return false;
	close(fd);
	return true;
}

int lf_imgsrc_open(struct lf_imgsrc *src, const char *path, int *ret_fd, struct lf_err *err)
{
	struct placeholder *ph;
	struct stat st;
	int fd, r;

	r = open_beneath(src, path, &fd, &st);
	if (r == -ENOENT)
		return lf_err_set(err, r, "'%s': '%s' is missing", src->label, path);
	if (r == -EXDEV)
		return lf_err_set(err, r, "'%s': '%s' leads outside the archive", src->label, path);
	if (r == -EINVAL)
		return lf_err_set(err, -EBADMSG, "'%s': '%s' is not a regular file", src->label,
				  path);
	if (r == -ELOOP)
		return lf_err_set(err, r, "'%s': '%s': too many levels of symlinks", src->label,
				  path);
	if (r < 0)
		return lf_err_set(err, r, "'%s': cannot open '%s': %s", src->label, path,
				  strerror(-r));
	ph = find_placeholder(src, &st);
	if (ph && !ph->filled) {
		close(fd);
		return lf_err_set(err, -EAGAIN, "'%s': '%s' was not extracted", src->label, path);
	}
	*ret_fd = fd;
	return 0;
}

int lf_imgsrc_size(struct lf_imgsrc *src, const char *path, uint64_t *ret, struct lf_err *err)
{
	struct placeholder *ph;
	struct stat st;
	int fd, r;

	r = lf_imgsrc_open(src, path, &fd, err);
	if (r == -EAGAIN) {
		if (err)
			err->msg[0] = 0;
		r = open_beneath(src, path, &fd, &st);
		if (r < 0)
			return lf_err_set(err, r, "'%s': cannot open '%s': %s", src->label, path,
					  strerror(-r));
		close(fd);
		ph = find_placeholder(src, &st);
		*ret = ph ? (uint64_t)ph->size : (uint64_t)st.st_size;
		return 0;
	}
	if (r < 0)
		return r;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	close(fd);
	*ret = st.st_size;
	return 0;
}

int lf_imgsrc_read(struct lf_imgsrc *src, const char *path, size_t max, char **ret_buf,
		   size_t *ret_len, struct lf_err *err)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *buf = NULL;
	struct stat st;
	ssize_t r;

	r = lf_imgsrc_open(src, path, &fd, err);
	if (r == -EAGAIN) /* only files larger than any document are placeholders */
		return lf_err_set(err, -EFBIG, "'%s': '%s' is too large for a JSON document",
				  src->label, path);
	if (r < 0)
		return r;
	if (fstat(fd, &st) < 0)
		return -errno;
	if ((uint64_t)st.st_size > max)
		return lf_err_set(err, -EFBIG, "'%s': '%s' is too large (%lld bytes)", src->label,
				  path, (long long)st.st_size);
	buf = malloc(st.st_size + 1);
	if (!buf)
		return -ENOMEM;
	r = lf_pread_full(fd, buf, st.st_size, 0);
	if (r >= 0 && r != st.st_size)
		r = -EIO;
	if (r < 0)
		return lf_err_set(err, r, "'%s': cannot read '%s': %s", src->label, path,
				  strerror(-r));
	buf[st.st_size] = 0;
	*ret_buf = TAKE_PTR(buf);
	if (ret_len)
		*ret_len = st.st_size;
	return 0;
}

/* ---- tar staging ---- */

static void archive_freep(struct archive **a)
{
	if (*a)
		archive_read_free(*a);
}

static int tar_open(int fd, struct archive **ret)
{
	struct archive *a;

	if (lseek(fd, 0, SEEK_SET) < 0)
		return -errno;
	a = archive_read_new();
	if (!a)
		return -ENOMEM;
	archive_read_support_filter_all(a);
	archive_read_support_format_tar(a);
	if (archive_read_open_fd(a, fd, COPY_BLOCK) != ARCHIVE_OK) {
		archive_read_free(a);
		return -EMEDIUMTYPE;
	}
	*ret = a;
	return 0;
}

/*
 * Normalizes an entry name into out: leading "./" removed, a trailing '/' dropped, every
 * component a plain name. "" is the root. -EINVAL for anything unsafe.
 */
static int entry_path(const char *raw, char *out, size_t size)
{
	const char *p = raw;
	size_t n;

	if (!raw)
		return -EINVAL;
	while (p[0] == '.' && p[1] == '/')
		for (p += 2; *p == '/'; p++)
			;
	if (strcmp(p, ".") == 0)
		p = "";
	n = strlen(p);
	if (n >= size)
		return -EINVAL;
	memcpy(out, p, n + 1);
	if (n > 0 && out[n - 1] == '/')
		out[--n] = 0;
	if (n == 0)
		return 0;
	for (char *c = out;;) {
		char *slash = strchr(c, '/');
		size_t len = slash ? (size_t)(slash - c) : strlen(c);

		if (!lf_name_is_valid(c, len))
			return -EINVAL;
		if (!slash)
			return 0;
		c = slash + 1;
	}
}

/*
 * Opens the parent directory of path beneath root, creating missing directories when create
 * is set; never follows a symlink. *ret_leaf points into path.
 */
static int walk_parent(int root_fd, const char *path, bool create, int *ret_fd,
		       const char **ret_leaf)
{
	_cleanup_close_ int fd = fcntl(root_fd, F_DUPFD_CLOEXEC, 3);
	char comp[256];
	const char *p = path;

	if (fd < 0)
		return -errno;
	for (;;) {
		const char *slash = strchr(p, '/');
		size_t n;
		int nfd;

		if (!slash)
			break;
		n = slash - p;
		memcpy(comp, p, n);
		comp[n] = 0;
		nfd = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (nfd < 0 && errno == ENOENT && create) {
			if (mkdirat(fd, comp, 0700) < 0 && errno != EEXIST)
				return -errno;
			nfd = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		}
		if (nfd < 0)
			return errno == ELOOP ? -ENOTDIR : -errno;
		close(fd);
		fd = nfd;
		p = slash + 1;
	}
	*ret_fd = TAKE_FD(fd);
	*ret_leaf = p;
	return 0;
}

/* A relative symlink target that, read from the link's directory, stays inside the archive. */
static bool symlink_stays_inside(const char *path, const char *target)
{
	long depth = 0;

	if (!target || !*target || target[0] == '/')
		return false;
	for (const char *p = path; (p = strchr(p, '/')); p++)
		depth++;
	for (const char *c = target; *c;) {
		const char *slash = strchr(c, '/');
		size_t n = slash ? (size_t)(slash - c) : strlen(c);

		if (n == 2 && c[0] == '.' && c[1] == '.') {
			if (--depth < 0)
				return false;
		} else if (n > 0 && !(n == 1 && c[0] == '.')) {
			depth++;
		}
		if (!slash)
			break;
		c = slash + 1;
	}
	return true;
}

static int copy_data(struct archive *a, int fd, int64_t size)
{
	const void *buf;
	size_t len;
	la_int64_t off;
	int r;

	for (;;) {
		r = archive_read_data_block(a, &buf, &len, &off);
		if (r == ARCHIVE_EOF)
			break;
		if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
			return -EBADMSG;
		if (off < 0 || len > (uint64_t)INT64_MAX - (uint64_t)off ||
		    off + (int64_t)len > size)
			return -EBADMSG;
		for (size_t done = 0; done < len;) {
			ssize_t n = pwrite(fd, (const char *)buf + done, len - done, off + done);
			if (n < 0) {
				if (errno == EINTR)
					continue;
				return -errno;
			}
			done += n;
		}
	}
	if (ftruncate(fd, size) < 0)
		return -errno;
	return 0;
}

static int stage_entry(struct lf_imgsrc *src, struct archive *a, struct archive_entry *e,
		       const char *path, struct lf_err *err)
{
	_cleanup_close_ int dir_fd = -1, fd = -1;
	mode_t type = archive_entry_filetype(e);
	int64_t size = archive_entry_size(e);
	const char *leaf;
	struct stat st;
	int r;

	if (archive_entry_hardlink(e))
		return 0; /* never needed by any image format we read */
	if (type != AE_IFDIR && type != AE_IFREG && type != AE_IFLNK)
		return 0;
	if (!*path)
		return 0; /* the root itself */
	r = walk_parent(src->root_fd, path, true, &dir_fd, &leaf);
	if (r == -ENOTDIR)
		return lf_err_set(err, -EBADMSG,
				  "'%s': entry '%s': a parent is a symlink or not a directory",
				  src->label, path);
	if (r < 0)
		return lf_err_set(err, r, "'%s': entry '%s': %s", src->label, path, strerror(-r));

	if (type == AE_IFDIR) {
		if (mkdirat(dir_fd, leaf, 0700) < 0 && errno != EEXIST)
			return lf_err_set(err, -errno, "'%s': entry '%s': %s", src->label, path,
					  strerror(errno));
		if (fstatat(dir_fd, leaf, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
			return lf_err_set(err, -EBADMSG, "'%s': entry '%s': not a directory",
					  src->label, path);
		return 0;
	}
	if (type == AE_IFLNK) {
		const char *target = archive_entry_symlink(e);
		if (!symlink_stays_inside(path, target))
			return lf_err_set(
				err, -EBADMSG,
				"'%s': entry '%s': symlink to '%s' leads outside the archive",
				src->label, path, target ? target : "");
		if (symlinkat(target, dir_fd, leaf) < 0)
			return lf_err_set(err, errno == EEXIST ? -EBADMSG : -errno,
					  "'%s': entry '%s': %s", src->label, path,
					  errno == EEXIST ? "duplicate entry" : strerror(errno));
		return 0;
	}

	if (size < 0)
		return lf_err_set(err, -EBADMSG, "'%s': entry '%s': no size", src->label, path);
	fd = openat(dir_fd, leaf, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return lf_err_set(err, errno == EEXIST ? -EBADMSG : -errno, "'%s': entry '%s': %s",
				  src->label, path,
				  errno == EEXIST ? "duplicate entry" : strerror(errno));
	if (size > SMALL_FILE_MAX) {
		struct placeholder *v = reallocarray(src->ph, src->n_ph + 1, sizeof(*v));

		if (!v)
			return -ENOMEM;
		src->ph = v;
		if (fstat(fd, &st) < 0)
			return -errno;
		v[src->n_ph] = (struct placeholder){
			.name = strdup(path), .dev = st.st_dev, .ino = st.st_ino, .size = size
		};
		if (!v[src->n_ph].name)
			return -ENOMEM;
		src->n_ph++;
		return 0;
	}
	r = copy_data(a, fd, size);
	if (r == -EBADMSG)
		return lf_err_set(err, r, "'%s': entry '%s': %s", src->label, path,
				  archive_error_string(a) ? archive_error_string(a)
							  : "corrupt archive data");
	if (r < 0)
		return lf_err_set(err, r, "'%s': entry '%s': %s", src->label, path, strerror(-r));
	return 0;
}

/* Calls fn for every entry; -EMEDIUMTYPE when the very first header is not tar. */
static int tar_walk(struct lf_imgsrc *src,
		    int (*fn)(struct lf_imgsrc *src, struct archive *a, struct archive_entry *e,
			      const char *path, struct lf_err *err),
		    struct lf_err *err)
{
	_cleanup_(archive_freep) struct archive *a = NULL;
	struct archive_entry *e;
	char path[PATH_MAX];
	size_t n = 0;
	int r;

	r = tar_open(src->tar_fd, &a);
	if (r == -EMEDIUMTYPE)
		return lf_err_set(err, r, "'%s': not a tar archive", src->label);
	if (r < 0)
		return lf_err_set(err, r, "'%s': %s", src->label, strerror(-r));
	for (;; n++) {
		r = archive_read_next_header(a, &e);
		if (r == ARCHIVE_EOF)
			break;
		if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
			if (n == 0)
				return lf_err_set(err, -EMEDIUMTYPE, "'%s': not a tar archive",
						  src->label);
			return lf_err_set(err, -EBADMSG, "'%s': corrupt or truncated archive: %s",
					  src->label,
					  archive_error_string(a) ? archive_error_string(a) : "?");
		}
		if (n >= MAX_ENTRIES)
			return lf_err_set(err, -EFBIG, "'%s': more than %u entries", src->label,
					  MAX_ENTRIES);
		if (entry_path(archive_entry_pathname(e), path, sizeof(path)) < 0)
			return lf_err_set(
				err, -EBADMSG, "'%s': entry '%.200s': unsafe name", src->label,
				archive_entry_pathname(e) ? archive_entry_pathname(e) : "");
		r = fn(src, a, e, path, err);
		if (r < 0)
			return r;
	}
	if (n == 0)
		return lf_err_set(err, -EMEDIUMTYPE, "'%s': empty archive", src->label);
	return 0;
}

int lf_imgsrc_open_tar(struct lf_store *s, int fd, const char *label, struct lf_imgsrc **ret,
		       struct lf_err *err)
{
	_cleanup_(lf_imgsrc_freep) struct lf_imgsrc *src = src_new(label);
	int r;

	if (!src)
		return -ENOMEM;
	src->store = s;
	src->tar_fd = fd;
	r = lf_store_mkstage(s, &src->stage_name, &src->root_fd);
	if (r < 0)
		return lf_err_set(err, r, "cannot create a staging directory: %s", strerror(-r));
	r = tar_walk(src, stage_entry, err);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(src);
	return 0;
}

static int fill_entry(struct lf_imgsrc *src, struct archive *a, struct archive_entry *e,
		      const char *path, struct lf_err *err)
{
	_cleanup_close_ int dir_fd = -1, fd = -1;
	struct placeholder *ph = NULL;
	const char *leaf;
	struct stat st;
	int r;

	if (archive_entry_filetype(e) != AE_IFREG || archive_entry_hardlink(e))
		return 0;
	for (size_t i = 0; i < src->n_ph && !ph; i++)
		if (src->ph[i].wanted && !src->ph[i].filled && strcmp(src->ph[i].name, path) == 0)
			ph = &src->ph[i];
	if (!ph)
		return 0;
	r = walk_parent(src->root_fd, path, false, &dir_fd, &leaf);
	if (r < 0)
		return lf_err_set(err, r, "'%s': entry '%s': %s", src->label, path, strerror(-r));
	fd = openat(dir_fd, leaf, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0)
		return lf_err_set(err, -errno, "'%s': entry '%s': %s", src->label, path,
				  strerror(errno));
	if (st.st_ino != ph->ino || st.st_dev != ph->dev || archive_entry_size(e) != ph->size)
		return lf_err_set(err, -EIO, "'%s': entry '%s' changed while importing", src->label,
				  path);
	r = copy_data(a, fd, ph->size);
	if (r == -EBADMSG)
		return lf_err_set(err, r, "'%s': entry '%s': %s", src->label, path,
				  archive_error_string(a) ? archive_error_string(a)
							  : "corrupt archive data");
	if (r < 0)
		return lf_err_set(err, r, "'%s': entry '%s': %s", src->label, path, strerror(-r));
	ph->filled = true;
	return 0;
}

int lf_imgsrc_fetch(struct lf_imgsrc *src, char *const *paths, size_t n, struct lf_err *err)
{
	bool any = false;
	int r;

	if (src->tar_fd < 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		struct placeholder *ph;
		struct stat st;
		int fd;

		if (open_beneath(src, paths[i], &fd, &st) < 0)
			continue; /* reported when it is opened */
		close(fd);
		ph = find_placeholder(src, &st);
		if (ph && !ph->filled) {
			ph->wanted = true;
			any = true;
		}
	}
	if (!any)
		return 0;
	r = tar_walk(src, fill_entry, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < src->n_ph; i++)
		if (src->ph[i].wanted && !src->ph[i].filled)
			return lf_err_set(err, -EIO, "'%s': entry '%s' changed while importing",
					  src->label, src->ph[i].name);
	return 0;
}
