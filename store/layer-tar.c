/*
 * Tar entries of one layer into a tree builder. Every path, size and link from the archive
 * is untrusted: nothing is written to the filesystem by name, only objects by their sha256
 * into the stage, and every name is normalized and checked before it reaches the builder.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <archive.h>
#include <archive_entry.h>

#include "layerfs/macro.h"
#include "layerfs/store.h"
#include "layerfs/tree.h"
#include "layerfs/util.h"
#include "layer-stream.h"
#include "layer-tar.h"

#define PATH_LIMIT 4096
#define NAME_LIMIT 255
#define SYMLINK_LIMIT 4095
#define ENTRY_SIZE_LIMIT (UINT64_C(1) << 40) /* 1 TiB */
#define XATTR_NAME_LIMIT 255
#define XATTR_VALUE_LIMIT 65536
#define QUOTED_MAX 240

#define WHITEOUT_PREFIX ".wh."
#define WHITEOUT_META_PREFIX ".wh..wh."
#define WHITEOUT_OPAQUE ".wh..wh..opq"

struct tar_ctx {
	struct archive *a;
	struct lf_lstream *st;
	struct lf_store *s;
	int stage_fd;
	struct lf_tb *tb;
	struct lf_err *err;

	/* what the read callback saw go wrong in the stream below libarchive */
	int stream_r;
	struct lf_err stream_err;

	char qname[QUOTED_MAX + 8]; /* current entry's raw name, quoted for messages */
	bool have_entry;
};

static const uint8_t zeros[64 * 1024];

/* Copies a name for a one-line message: control bytes escaped, long names shortened. */
static void quote(const char *in, char *out, size_t outlen)
{
	size_t o = 0;

	for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
		if (o + 8 >= outlen) {
			memcpy(out + o, "...", 4);
			return;
		}
		if (*p < 0x20 || *p == 0x7f || *p == '\\' || *p == '\'')
			o += snprintf(out + o, outlen - o, "\\x%02x", *p);
		else
			out[o++] = *p;
	}
	out[o] = 0;
}

static int entry_err(struct tar_ctx *c, int r, const char *fmt, ...) _printf_(3, 4);
static int entry_err(struct tar_ctx *c, int r, const char *fmt, ...)
{
	char msg[LF_ERR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!c->have_entry)
		return lf_err_set(c->err, r, "%s", msg);
	return lf_err_set(c->err, r, "entry '%s': %s", c->qname, msg);
}

/* An error that libarchive reported: the stream's own, or the archive's. */
static int archive_err(struct tar_ctx *c, const char *what)
{
	const char *m = archive_error_string(c->a);

	if (c->stream_r < 0)
		return entry_err(c, c->stream_r, "%s", lf_err_str(&c->stream_err, c->stream_r));
	if (m && strcmp(m, "Truncated tar archive") == 0)
		return entry_err(c, -EBADMSG,
				 "truncated tar: the stream ends inside this entry's data "
				 "(cut short, or its size field is bogus)");
	return entry_err(c, -EBADMSG, "corrupt tar (%s): %s", what,
			 archive_error_string(c->a) ? archive_error_string(c->a) : "unknown error");
}

/* A header that could not be read names the entry before it. */
static int header_err(struct tar_ctx *c)
{
	const char *m = archive_error_string(c->a);
	int r = c->stream_r < 0 ? c->stream_r : -EBADMSG;
	char what[LF_ERR_MAX];

	if (c->stream_r < 0)
		snprintf(what, sizeof(what), "%s", lf_err_str(&c->stream_err, c->stream_r));
	else if (!c->have_entry)
		snprintf(what, sizeof(what), "not a tar archive: %s",
			 m ? m : "unrecognized format");
	else
		snprintf(what, sizeof(what), "corrupt tar: %s", m ? m : "bad header");
	if (!c->have_entry)
		return lf_err_set(c->err, r, "%s", what);
	return lf_err_set(c->err, r, "after entry '%s': %s", c->qname, what);
}

static la_ssize_t read_cb(struct archive *a, void *data, const void **buf)
{
	struct tar_ctx *c = data;
	ssize_t n = lf_lstream_read(c->st, buf, &c->stream_err);

	if (n < 0) {
		c->stream_r = (int)n;
		archive_set_error(a, EIO, "%s", lf_err_str(&c->stream_err, (int)n));
		return -1;
	}
	return n;
}

/*
 * Normalizes an entry path into out (PATH_LIMIT + 1 bytes): "./" prefixes, "." components,
 * repeated and trailing '/' dropped. "" is the root. Absolute paths, ".." and overlong names
 * are refused with *why set.
 */
static int normalize(const char *in, char *out, const char **why)
{
	size_t len = strlen(in), o = 0;
	const char *p = in;

	if (len == 0) {
		*why = "empty name";
		return -EBADMSG;
	}
	if (len > PATH_LIMIT) {
		*why = "path longer than 4096 bytes";
		return -ENAMETOOLONG;
	}
	if (in[0] == '/') {
		*why = "absolute path (entries must be relative to the layer root)";
		return -EBADMSG;
	}
	while (*p) {
		const char *comp = p;
		size_t cl;

		while (*p && *p != '/')
			p++;
		cl = p - comp;
		while (*p == '/')
			p++;
		if (cl == 1 && comp[0] == '.')
			continue;
		if (cl == 2 && comp[0] == '.' && comp[1] == '.') {
			*why = "path escapes the layer";
			return -EBADMSG;
		}
		if (cl > NAME_LIMIT) {
			*why = "path component longer than 255 bytes";
			return -ENAMETOOLONG;
		}
		if (o)
			out[o++] = '/';
		memcpy(out + o, comp, cl);
		o += cl;
	}
	out[o] = 0;
	return 0;
}

static const char *type_name(uint32_t mode, uint32_t flags)
{
	if (flags & LF_TREE_WHITEOUT)
		return "a whiteout";
	switch (mode & S_IFMT) {
	case S_IFDIR:
		return "a directory";
	case S_IFREG:
		return "a regular file";
	case S_IFLNK:
		return "a symlink";
	case S_IFCHR:
		return "a character device";
	case S_IFBLK:
		return "a block device";
	case S_IFIFO:
		return "a fifo";
	case S_IFSOCK:
		return "a socket";
	default:
		return "not a directory";
	}
}

/* Explains a -ENOTDIR from the builder: which of path and its parents is not a directory. */
static int parent_err(struct tar_ctx *c, const char *path)
{
	char prefix[PATH_LIMIT + 1];
	size_t len = strlen(path);

	for (size_t end = 0; end <= len; end++) {
		struct lf_tb_node *n;
		struct lf_tree_stat st;
		char q[QUOTED_MAX + 8];

		if (path[end] != '/' && path[end] != 0)
			continue;
		memcpy(prefix, path, end);
		prefix[end] = 0;
		if (lf_tb_find(c->tb, prefix, &n) < 0)
			break;
		lf_tb_node_stat(n, &st);
		if (S_ISDIR(st.mode) && !(st.flags & LF_TREE_WHITEOUT))
			continue;
		quote(prefix, q, sizeof(q));
		return entry_err(c, -ENOTDIR,
				 "'%s' is %s, not a directory (links are never followed)", q,
				 type_name(st.mode, st.flags));
	}
	return entry_err(c, -ENOTDIR, "a parent is not a directory");
}

static int tb_err(struct tar_ctx *c, int r, const char *path)
{
	if (r == -ENOTDIR)
		return parent_err(c, path);
	return entry_err(c, r, "cannot add it to the layer tree: %s", strerror(-r));
}

/*
 * The builder keeps OCI semantics: a whiteout only hides lower layers, so an entry of this
 * layer at or below a whited-out name wins (a directory there becomes opaque).
 */
static int whiteout(struct tar_ctx *c, const char *parent, const char *name)
{
	char path[PATH_LIMIT + 2 + NAME_LIMIT];
	int r;

	if (!lf_name_is_valid(name, strlen(name)))
		return entry_err(c, -EBADMSG, "whiteout of an invalid name");
	snprintf(path, sizeof(path), "%s%s%s", parent, *parent ? "/" : "", name);
	r = lf_tb_add_whiteout(c->tb, path);
	if (r < 0)
		return tb_err(c, r, path);
	return 0;
}

/* Handles .wh. names; returns 1 when the entry was one (consumed), 0 otherwise. */
static int whiteout_entry(struct tar_ctx *c, char *path)
{
	char *slash = strrchr(path, '/');
	char *base = slash ? slash + 1 : path;
	const char *parent = slash ? path : "";
	int r;

	/* aufs metadata (.wh..wh.plnk/, .wh..wh.aufs): not part of the tree, nor below it */
	for (const char *p = path; p; p = strchr(p, '/') ? strchr(p, '/') + 1 : NULL)
		if (strncmp(p, WHITEOUT_META_PREFIX, strlen(WHITEOUT_META_PREFIX)) == 0 &&
		    (p != base || strcmp(base, WHITEOUT_OPAQUE) != 0))
			return 1;
	if (strncmp(base, WHITEOUT_PREFIX, strlen(WHITEOUT_PREFIX)) != 0)
		return 0;
	if (slash)
		*slash = 0;
	if (strcmp(base, WHITEOUT_OPAQUE) == 0) {
		/*
		 * The flag stays when the directory's own entry comes later, so the marker
		 * applies whatever its position in the tar.
		 */
		r = lf_tb_set_opaque(c->tb, parent);
		if (r < 0)
			r = tb_err(c, r, parent);
	} else {
		r = whiteout(c, parent, base + strlen(WHITEOUT_PREFIX));
	}
	return r < 0 ? r : 1;
}

static int add_xattrs(struct tar_ctx *c, struct lf_tb_node *n, struct archive_entry *e)
{
	const char *name;
	const void *value;
	size_t len;
	int r;

	archive_entry_xattr_reset(e);
	while (archive_entry_xattr_next(e, &name, &value, &len) == ARCHIVE_OK) {
		size_t nl = name ? strlen(name) : 0;
		if (nl == 0 || nl > XATTR_NAME_LIMIT)
			return entry_err(c, -EBADMSG, "extended attribute with an invalid name");
		if (len > XATTR_VALUE_LIMIT)
			return entry_err(c, -E2BIG, "extended attribute '%s' is larger than 64 KiB",
					 name);
		r = lf_tb_node_set_xattr(n, name, value ? value : "", len);
		if (r < 0)
			return entry_err(c, r, "extended attribute '%s': %s", name, strerror(-r));
	}
	return 0;
}

/* Streams a regular file's data (sparse holes as zeros) into a staged object. */
static int store_data(struct tar_ctx *c, uint64_t size, struct lf_digest *ret)
{
	struct lf_cas_writer *w;
	uint64_t off = 0, got;
	int r;

	r = lf_cas_writer_new_staged(c->s, LF_CAS_OBJECT, c->stage_fd, &w);
	if (r < 0)
		return entry_err(c, r, "cannot stage its data: %s", strerror(-r));
	for (;;) {
		const void *buf;
		size_t len;
		la_int64_t offset;

		r = archive_read_data_block(c->a, &buf, &len, &offset);
		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN) {
			r = archive_err(c, "reading its data");
			goto out;
		}
		if (offset < 0 || (uint64_t)offset < off || (uint64_t)offset > size ||
		    len > size - (uint64_t)offset) {
			r = entry_err(c, -EBADMSG, "data block outside the entry's size");
			goto out;
		}
		for (; off < (uint64_t)offset; off += MIN(sizeof(zeros), offset - off))
			if ((r = lf_cas_writer_write(w, zeros, MIN(sizeof(zeros), offset - off))) <
			    0)
				goto write_err;
		if (len > 0 && (r = lf_cas_writer_write(w, buf, len)) < 0)
			goto write_err;
		off += len;
	}
	/* A sparse file may end in a hole. */
	for (; off < size; off += MIN(sizeof(zeros), size - off))
		if ((r = lf_cas_writer_write(w, zeros, MIN(sizeof(zeros), size - off))) < 0)
			goto write_err;
	r = lf_cas_writer_commit(w, NULL, ret, &got, NULL);
	if (r < 0)
		goto write_err;
	if (got != size)
		r = entry_err(c, -EBADMSG, "holds %llu bytes, its header says %llu",
			      (unsigned long long)got, (unsigned long long)size);
	goto out;
write_err:
	r = entry_err(c, r, "cannot stage its data: %s", strerror(-r));
out:
	lf_cas_writer_free(w);
	return r;
}

static int entry_stat(struct tar_ctx *c, struct archive_entry *e, struct lf_tree_stat *st)
{
	la_int64_t uid = archive_entry_uid(e), gid = archive_entry_gid(e);
	long nsec = archive_entry_mtime_nsec(e);

	if (uid < 0 || uid >= UINT32_MAX || gid < 0 || gid >= UINT32_MAX)
		return entry_err(c, -EBADMSG, "owner %lld:%lld out of range", (long long)uid,
				 (long long)gid);
	memset(st, 0, sizeof(*st));
	st->mode = (archive_entry_filetype(e) & S_IFMT) | (archive_entry_perm(e) & 07777);
	st->uid = uid;
	st->gid = gid;
	if (archive_entry_mtime_is_set(e)) {
		st->mtime_sec = archive_entry_mtime(e);
		st->mtime_nsec = nsec >= 0 && nsec < 1000000000 ? nsec : 0;
	}
	return 0;
}

static int hard_link(struct tar_ctx *c, const char *path, const char *raw_target)
{
	char target[PATH_LIMIT + 1];
	const char *why;
	int r;

	r = normalize(raw_target, target, &why);
	if (r < 0)
		return entry_err(c, r, "hard link target: %s", why);
	if (!*path || !*target)
		return entry_err(c, -EBADMSG, "hard link to or from the layer root");
	if (strcmp(path, target) == 0)
		return 0;
	r = lf_tb_link(c->tb, path, target);
	if (r == -ENOENT) {
		char q[QUOTED_MAX + 8];
		quote(raw_target, q, sizeof(q));
		return entry_err(c, r, "hard link to a path not (yet) in the layer: '%s'", q);
	}
	if (r == -EPERM)
		return entry_err(c, r, "hard link to a directory or a whiteout");
	if (r < 0)
		return tb_err(c, r, path);
	return 0;
}

static int process_entry(struct tar_ctx *c, struct archive_entry *e)
{
	char path[PATH_LIMIT + 1];
	const char *raw, *why, *link;
	struct lf_tree_stat st;
	struct lf_tb_node *n = NULL;
	struct lf_digest obj;
	int64_t size;
	int r;

	raw = archive_entry_pathname(e);
	if (!raw)
		raw = archive_entry_pathname_utf8(e);
	if (!raw) {
		c->have_entry = false;
		return entry_err(c, -EBADMSG, "an entry without a readable name");
	}
	quote(raw, c->qname, sizeof(c->qname));
	c->have_entry = true;

	r = normalize(raw, path, &why);
	if (r < 0)
		return entry_err(c, r, "%s", why);
	if (*path) {
		r = whiteout_entry(c, path);
		if (r != 0)
			return r < 0 ? r : 0;
	}
	link = archive_entry_hardlink(e);
	if (!link)
		link = archive_entry_hardlink_utf8(e);
	if (link)
		return hard_link(c, path, link);

	r = entry_stat(c, e, &st);
	if (r < 0)
		return r;
	if (!*path && !S_ISDIR(st.mode))
		return entry_err(c, -EBADMSG, "the layer root must be a directory");

	switch (st.mode & S_IFMT) {
	case S_IFREG:
		size = archive_entry_size_is_set(e) ? archive_entry_size(e) : 0;
		if (size < 0)
			return entry_err(c, -EBADMSG, "negative size");
		if ((uint64_t)size > ENTRY_SIZE_LIMIT)
			return entry_err(c, -EFBIG, "size %lld exceeds the 1 TiB limit",
					 (long long)size);
		st.size = size;
		if (size > 0) {
			r = store_data(c, size, &obj);
			if (r < 0)
				return r;
		}
		break;
	case S_IFCHR:
	case S_IFBLK:
		st.rdev = makedev(archive_entry_rdevmajor(e), archive_entry_rdevminor(e));
		break;
	case S_IFLNK:
		link = archive_entry_symlink(e);
		if (!link)
			link = archive_entry_symlink_utf8(e);
		if (!link || !*link)
			return entry_err(c, -EBADMSG, "symlink without a target");
		if (strlen(link) > SYMLINK_LIMIT)
			return entry_err(c, -ENAMETOOLONG, "symlink target longer than 4095 bytes");
		st.size = strlen(link);
		break;
	case S_IFDIR:
	case S_IFIFO:
	case S_IFSOCK:
		break;
	default:
		return entry_err(c, -EOPNOTSUPP, "unsupported entry type 0%o", st.mode & S_IFMT);
	}

	r = lf_tb_add(c->tb, path, &st, &n);
	if (r < 0)
		return tb_err(c, r, path);
	if (S_ISREG(st.mode) && st.size > 0)
		lf_tb_node_set_object(n, &obj, st.size);
	if (S_ISLNK(st.mode)) {
		r = lf_tb_node_set_symlink(n, link, st.size);
		if (r < 0)
			return entry_err(c, r, "cannot set its symlink target: %s", strerror(-r));
	}
	return add_xattrs(c, n, e);
}

static int read_entries(struct tar_ctx *c)
{
	struct archive_entry *e;
	la_int64_t end = 0;
	int r;

	for (;;) {
		r = archive_read_next_header(c->a, &e);
		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN)
			return header_err(c);
		r = process_entry(c, e);
		if (r < 0)
			return r;
		/* Consumes the rest of the entry and its padding, so the position is its end. */
		if (archive_read_data_skip(c->a) < ARCHIVE_WARN)
			return archive_err(c, "skipping its data");
		end = archive_filter_bytes(c->a, 0);
	}
	/*
	 * libarchive accepts a stream that stops at an entry boundary; a tar that lacks its
	 * end-of-archive blocks was cut short, and files after the cut would be silently lost.
	 */
	if (archive_filter_bytes(c->a, 0) - end < 512) {
		c->have_entry = false;
		return entry_err(
			c, -EBADMSG,
			"tar stream ends early (no end-of-archive marker): truncated layer");
	}
	return 0;
}

int lf_layer_tar_read(struct lf_lstream *st, struct lf_store *s, int stage_fd, struct lf_tb *tb,
		      struct lf_err *err)
{
	struct tar_ctx c = {
		.st = st,
		.s = s,
		.stage_fd = stage_fd,
		.tb = tb,
		.err = err,
	};
	int r;

	c.a = archive_read_new();
	if (!c.a)
		return -ENOMEM;
	/* tar only (ustar, pax, GNU): decompression happens below us, where it is hashed. */
	if (archive_read_support_format_tar(c.a) != ARCHIVE_OK ||
	    archive_read_open(c.a, &c, NULL, read_cb, NULL) != ARCHIVE_OK) {
		r = header_err(&c);
		goto out;
	}
	r = read_entries(&c);
out:
	archive_read_free(c.a);
	return r;
}
