/*
 * Layer import: tars written by GNU tar, gzip, zstd and libarchive's writer (or by hand, for
 * headers no writer would produce) are imported into a temporary store and the resulting tree
 * and objects are checked against the source; every hostile input must fail with a message
 * naming the source and entry and leave the store byte-for-byte as it was.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <jansson.h>

#include "layerfs/layer.h"
#include "layerfs/store.h"
#include "layerfs/tree.h"

#define SRC_NAME "img.tar: blobs/sha256/ab12"

static char tmpdir[256];
static char store_path[300];
static struct lf_store *store;

/* ---- fixtures and helpers ---- */

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
	char cmd[8192];
	va_list ap;
	int r;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	r = system(cmd);
	ck_assert_msg(r == 0, "command failed (%d): %s", r, cmd);
}

/* Output of a shell command, NUL-terminated, malloc'd. */
static char *sh_out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *sh_out(const char *fmt, ...)
{
	char cmd[8192];
	size_t len = 0, cap = 4096;
	char *out = malloc(cap);
	va_list ap;
	FILE *f;
	size_t n;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	f = popen(cmd, "r");
	ck_assert_ptr_nonnull(f);
	while ((n = fread(out + len, 1, cap - len - 1, f)) > 0) {
		len += n;
		if (cap - len < 2)
			out = realloc(out, cap *= 2);
	}
	out[len] = 0;
	ck_assert_int_eq(pclose(f), 0);
	return out;
}

static void setup(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "%s/lf-layer-XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	snprintf(store_path, sizeof(store_path), "%s/store", tmpdir);
	ck_assert_int_eq(lf_store_open(store_path, true, &store), 0);
}

static void teardown(void)
{
	lf_store_free(store);
	store = NULL;
	sh("rm -rf '%s'", tmpdir);
}

/* What the store holds: every name, type, size and mode (directory sizes left out). */
static char *store_listing(void)
{
	char *tmp = sh_out("find '%s/tmp' -mindepth 1 | head -5", store_path);
	ck_assert_msg(tmp[0] == 0, "tmp/ is not empty: %s", tmp);
	free(tmp);
	return sh_out("cd '%s' && find . -path ./tmp -prune -o -type d -printf 'd %%p %%m\\n' "
		      "-o -printf '%%y %%p %%s %%m\\n' | LC_ALL=C sort",
		      store_path);
}

static void write_file(const char *path, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, buf, len), (ssize_t)len);
	close(fd);
}

static char *read_whole(const char *path, size_t *ret_len)
{
	struct stat st;
	char *buf;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fstat(fd, &st), 0);
	buf = malloc(st.st_size + 1);
	ck_assert_int_eq(read(fd, buf, st.st_size), st.st_size);
	buf[st.st_size] = 0;
	close(fd);
	*ret_len = st.st_size;
	return buf;
}

/* sha256sum's opinion of a file. */
static void sha256sum(const char *path, struct lf_digest *ret)
{
	char *out = sh_out("sha256sum '%s'", path);

	ck_assert_int_eq(lf_digest_parse_hex(out, 64, ret), 0);
	free(out);
}

static int import_file_ex(const char *path, const struct lf_digest *blob, int64_t blob_size,
			  const struct lf_digest *diff_id, struct lf_digest *ret,
			  struct lf_err *err)
{
	struct lf_layer_source src = {
		.name = SRC_NAME,
		.blob_digest = blob,
		.blob_size = blob_size,
		.diff_id = diff_id,
	};
	int r;

	memset(err, 0, sizeof(*err));
	src.fd = open(path, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(src.fd, 0);
	r = lf_layer_import(store, &src, ret, err);
	close(src.fd);
	return r;
}

static int import_file(const char *path, struct lf_digest *ret, struct lf_err *err)
{
	return import_file_ex(path, NULL, -1, NULL, ret, err);
}

static struct lf_tree *open_layer(const struct lf_digest *d)
{
	struct lf_tree *t;

	ck_assert_int_eq(lf_layer_open_tree(store, d, &t), 0);
	return t;
}

static uint32_t at(const struct lf_tree *t, const char *path)
{
	uint32_t ino;

	if (lf_tree_lookup_path(t, path, &ino) < 0)
		return LF_TREE_NONE;
	return ino;
}

static struct lf_tree_stat stat_at(const struct lf_tree *t, const char *path)
{
	struct lf_tree_stat st;
	uint32_t ino = at(t, path);

	ck_assert_msg(ino != LF_TREE_NONE, "'%s' missing from the tree", path);
	ck_assert_int_eq(lf_tree_stat(t, ino, &st), 0);
	return st;
}

/* The bytes of the object behind a regular file of the tree. */
static char *object_bytes(const struct lf_tree *t, const char *path, size_t *ret_len)
{
	struct lf_digest d;
	char *buf;
	int r;

	r = lf_tree_object(t, at(t, path), &d);
	ck_assert_int_eq(r, 0);
	ck_assert_int_eq(lf_cas_read(store, LF_CAS_OBJECT, &d, 1 << 26, &buf, ret_len), 0);
	return buf;
}

/* ---- tars written with libarchive (pax), to memory ---- */

struct membuf {
	char *p;
	size_t len, cap;
};

static la_ssize_t mem_write(struct archive *a, void *data, const void *buf, size_t n)
{
	struct membuf *m = data;

	if (m->len + n > m->cap) {
		m->cap = (m->len + n) * 2;
		m->p = realloc(m->p, m->cap);
	}
	memcpy(m->p + m->len, buf, n);
	m->len += n;
	return n;
}

static struct archive *tw_new(struct membuf *m)
{
	struct archive *a = archive_write_new();

	memset(m, 0, sizeof(*m));
	ck_assert_int_eq(archive_write_set_format_pax(a), ARCHIVE_OK);
	ck_assert_int_eq(archive_write_open(a, m, NULL, mem_write, NULL), ARCHIVE_OK);
	return a;
}

/* Adds one entry; data is the content (regular) or target (symlink); link a hard link. */
static void tw_add(struct archive *a, const char *path, mode_t mode, const char *data,
		   const char *link)
{
	struct archive_entry *e = archive_entry_new();

	archive_entry_set_pathname(e, path);
	archive_entry_set_mode(e, mode);
	archive_entry_set_mtime(e, 1600000000, 5);
	if (link) {
		archive_entry_set_hardlink(e, link);
	} else if (S_ISLNK(mode)) {
		archive_entry_set_symlink(e, data);
	} else if (S_ISREG(mode) && data) {
		archive_entry_set_size(e, strlen(data));
	}
	ck_assert_int_ge(archive_write_header(a, e), ARCHIVE_WARN);
	if (S_ISREG(mode) && data && !link)
		ck_assert_int_eq(archive_write_data(a, data, strlen(data)),
				 (la_ssize_t)strlen(data));
	archive_entry_free(e);
}

/* Closes the archive and writes it to tmpdir/name; returns the path (static buffer). */
static const char *tw_finish(struct archive *a, struct membuf *m, const char *name)
{
	static char path[512];

	ck_assert_int_eq(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	write_file(path, m->p, m->len);
	free(m->p);
	return path;
}

/* ---- hand-made ustar headers, for what no writer produces ---- */

static void ustar_header(char h[512], const char *name, char type, const char size[12])
{
	unsigned sum = 0;

	memset(h, 0, 512);
	snprintf(h, 100, "%s", name);
	memcpy(h + 100, "0000644", 8);
	memcpy(h + 108, "0000000", 8);
	memcpy(h + 116, "0000000", 8);
	memcpy(h + 124, size, 12);
	memcpy(h + 136, "14000000000", 12);
	h[156] = type;
	memcpy(h + 257, "ustar", 6);
	memcpy(h + 263, "00", 2);
	memset(h + 148, ' ', 8);
	for (int i = 0; i < 512; i++)
		sum += (unsigned char)h[i];
	snprintf(h + 148, 8, "%06o", sum);
}

/* Asserts a failed import: errno, message parts, and an unchanged store. */
static void assert_refused(int r, int expect, const struct lf_err *err, const char *before,
			   const char *part1, const char *part2)
{
	char *after = store_listing();

	ck_assert_msg(r == expect, "import returned %d (%s), expected %d; message: %s", r,
		      strerror(-r), expect, err->msg);
	ck_assert_msg(strncmp(err->msg, "'" SRC_NAME "': ", strlen(SRC_NAME) + 4) == 0,
		      "message does not name the source: %s", err->msg);
	ck_assert_msg(!strchr(err->msg, '\n'), "message is not one line: %s", err->msg);
	if (part1)
		ck_assert_msg(strstr(err->msg, part1), "message lacks '%s': %s", part1, err->msg);
	if (part2)
		ck_assert_msg(strstr(err->msg, part2), "message lacks '%s': %s", part2, err->msg);
	ck_assert_str_eq(before, after);
	free(after);
}

/* A store that already holds one layer, so "unchanged" is about something. */
static char *seeded_store(void)
{
	struct membuf m;
	struct archive *a = tw_new(&m);
	struct lf_digest d;
	struct lf_err err;

	tw_add(a, "seed", S_IFREG | 0644, "seed content\n", NULL);
	ck_assert_int_eq(import_file(tw_finish(a, &m, "seed.tar"), &d, &err), 0);
	return store_listing();
}

/* ---- a realistic layer built by GNU tar, compared with its source ---- */

static const char *src_root;
static const struct lf_tree *cmp_tree;
static int cmp_count;

static void compare_xattrs(const char *fpath, uint32_t ino, const char *rel)
{
	char names[4096], value[4096];
	ssize_t len = llistxattr(fpath, names, sizeof(names));
	uint32_t n = 0;

	ck_assert_int_ge(len, 0);
	for (ssize_t i = 0; i < len; i += strlen(names + i) + 1) {
		const void *tv;
		size_t tl;
		ssize_t vl = lgetxattr(fpath, names + i, value, sizeof(value));

		ck_assert_int_ge(vl, 0);
		ck_assert_msg(lf_tree_getxattr(cmp_tree, ino, names + i, &tv, &tl) == 0,
			      "'%s': xattr %s missing", rel, names + i);
		ck_assert_int_eq(tl, vl);
		ck_assert(memcmp(tv, value, vl) == 0);
		n++;
	}
	ck_assert_msg(lf_tree_xattr_count(cmp_tree, ino) == n, "'%s': %u xattrs, source has %u",
		      rel, lf_tree_xattr_count(cmp_tree, ino), n);
}

static int compare_one(const char *fpath, const struct stat *sb, int typeflag, struct FTW *ftw)
{
	const char *rel = fpath + strlen(src_root);
	struct lf_tree_stat st;
	uint32_t ino;

	while (*rel == '/')
		rel++;
	ino = at(cmp_tree, rel);
	ck_assert_msg(ino != LF_TREE_NONE, "'%s' missing from the tree", rel);
	ck_assert_int_eq(lf_tree_stat(cmp_tree, ino, &st), 0);
	ck_assert_msg(st.mode == sb->st_mode, "'%s': mode 0%o, source 0%o", rel, st.mode,
		      sb->st_mode);
	ck_assert_int_eq(st.uid, sb->st_uid);
	ck_assert_int_eq(st.gid, sb->st_gid);
	ck_assert_msg(st.mtime_sec == sb->st_mtim.tv_sec && st.mtime_nsec == sb->st_mtim.tv_nsec,
		      "'%s': mtime %lld.%09u, source %lld.%09ld", rel, (long long)st.mtime_sec,
		      st.mtime_nsec, (long long)sb->st_mtim.tv_sec, sb->st_mtim.tv_nsec);
	ck_assert_int_eq(st.flags & (LF_TREE_WHITEOUT | LF_TREE_OPAQUE), 0);
	if (!S_ISDIR(sb->st_mode))
		ck_assert_msg(st.nlink == sb->st_nlink, "'%s': nlink %u, source %lu", rel, st.nlink,
			      (unsigned long)sb->st_nlink);
	if (S_ISREG(sb->st_mode)) {
		ck_assert_int_eq(st.size, sb->st_size);
		if (sb->st_size > 0) {
			size_t len, flen;
			char *obj = object_bytes(cmp_tree, rel, &len);
			char *file = read_whole(fpath, &flen);
			ck_assert_int_eq(len, flen);
			ck_assert(memcmp(obj, file, len) == 0);
			free(obj);
			free(file);
		} else {
			struct lf_digest d;
			ck_assert_int_eq(lf_tree_object(cmp_tree, ino, &d), -ENODATA);
		}
	}
	if (S_ISLNK(sb->st_mode)) {
		char target[4096];
		const char *tt;
		size_t tl;
		ssize_t n = readlink(fpath, target, sizeof(target));
		ck_assert_int_eq(lf_tree_readlink(cmp_tree, ino, &tt, &tl), 0);
		ck_assert_int_eq(tl, n);
		ck_assert(memcmp(tt, target, n) == 0);
	}
	if (S_ISCHR(sb->st_mode) || S_ISBLK(sb->st_mode))
		ck_assert_int_eq(st.rdev, sb->st_rdev);
	compare_xattrs(fpath, ino, rel);
	cmp_count++;
	return 0;
}

/* Every entry of dir (root included) is in t with the same metadata and bytes. */
static void compare_with_dir(const struct lf_tree *t, const char *dir)
{
	src_root = dir;
	cmp_tree = t;
	cmp_count = 0;
	ck_assert_int_eq(nftw(dir, compare_one, 16, FTW_PHYS), 0);
}

/* Number of entries reachable in t from the root (root included). */
static int count_entries(const struct lf_tree *t, uint32_t dir)
{
	int n = 1;

	for (uint32_t i = 0; i < lf_tree_dir_count(t, dir); i++) {
		const char *name;
		size_t len;
		uint32_t ino;
		ck_assert_int_eq(lf_tree_dir_entry(t, dir, i, &name, &len, &ino), 0);
		n += count_entries(t, ino);
	}
	return n;
}

static bool is_root(void)
{
	return geteuid() == 0;
}

/* A source tree with every kind of entry; device nodes and foreign owners when root. */
static void make_source(const char *dir)
{
	sh("set -e; mkdir -p '%1$s/sub/deeper' '%1$s/empty-dir'; cd '%1$s';"
	   "printf 'hello\\n' > a.txt; : > empty; head -c 300000 /dev/urandom > big.bin;"
	   "printf 'same bytes\\n' > dup1; printf 'same bytes\\n' > sub/dup2;"
	   "printf x > sub/deeper/setuid; chmod 4755 sub/deeper/setuid; chmod 0750 sub;"
	   "ln -s ../a.txt sub/rel-link; ln -s /etc/passwd abs-link; ln a.txt hardlink;"
	   "mkfifo fifo; setfattr -n user.color -v blue a.txt;"
	   "printf a > sparse; truncate -s 2M sparse; printf b >> sparse; truncate -s 3M sparse;"
	   "printf u > \"na\303\257ve-\303\251\"; printf b > \"raw-$(printf '\\377')\";"
	   "mkdir -p \"$(head -c 150 /dev/zero | tr '\\0' d)/$(head -c 150 /dev/zero | tr '\\0' e)\";"
	   "setfattr -n user.dir -v yes sub;"
	   "touch -h -d '2021-03-04 05:06:07.123456789' a.txt sub/rel-link sub empty-dir .",
	   dir);
	if (is_root())
		sh("set -e; cd '%s'; mknod null c 1 3; mknod loop b 7 0; chown 1000:2000 dup1;"
		   "setfattr -n security.capability -v 0x0100000200200000000000000000000000000000 "
		   "big.bin;"
		   "chown -h 123:456 abs-link; chown 42:43 sub/deeper; touch -d @1500000000.5 .",
		   dir);
}

static void gnu_tar(const char *dir, const char *out)
{
	sh("tar --format=pax --sparse --xattrs --xattrs-include='*' --numeric-owner -C '%s' -cf '%s' .",
	   dir, out);
}

START_TEST(test_gnu_tar_layer)
{
	char dir[512], tar[512];
	struct lf_digest d, expect;
	struct lf_err err;
	struct lf_tree *t;
	struct lf_tree_stat a, h;

	snprintf(dir, sizeof(dir), "%s/src", tmpdir);
	snprintf(tar, sizeof(tar), "%s/layer.tar", tmpdir);
	make_source(dir);
	gnu_tar(dir, tar);
	sha256sum(tar, &expect);

	ck_assert_msg(import_file(tar, &d, &err) == 0, "%s", err.msg);
	ck_assert(lf_digest_eq(&d, &expect));
	ck_assert(lf_layer_exists(store, &d));
	t = open_layer(&d);
	compare_with_dir(t, dir);
	/* nothing more in the tree than in the source */
	ck_assert_int_eq(count_entries(t, LF_TREE_ROOT), cmp_count);

	/* hard links share one inode */
	ck_assert_int_eq(at(t, "a.txt"), at(t, "hardlink"));
	a = stat_at(t, "a.txt");
	h = stat_at(t, "hardlink");
	ck_assert_int_eq(a.nlink, 2);
	ck_assert_int_eq(h.nlink, 2);
	/* identical files are one object */
	{
		struct lf_digest d1, d2;
		ck_assert_int_eq(lf_tree_object(t, at(t, "dup1"), &d1), 0);
		ck_assert_int_eq(lf_tree_object(t, at(t, "sub/dup2"), &d2), 0);
		ck_assert(lf_digest_eq(&d1, &d2));
		ck_assert(lf_cas_has(store, LF_CAS_OBJECT, &d1));
	}
	/* objects: a.txt, big.bin, dup, setuid, two odd names, sparse (empty files: none) */
	ck_assert_int_eq(lf_tree_n_objects(t), 7);
	{
		char *n = sh_out("find '%s/objects' -type f | wc -l", store_path);
		ck_assert_int_eq(atoi(n), 7);
		free(n);
		n = sh_out("find '%s/objects' -type f ! -perm 0444 | wc -l", store_path);
		ck_assert_int_eq(atoi(n), 0);
		free(n);
	}
	lf_tree_unref(t);
}
END_TEST

START_TEST(test_info_json)
{
	char dir[512], tar[512], info[700];
	struct lf_digest d;
	struct lf_err err;
	char hex[LF_DIGEST_HEX_LEN + 1], *out;
	struct stat st;

	snprintf(dir, sizeof(dir), "%s/src", tmpdir);
	snprintf(tar, sizeof(tar), "%s/layer.tar", tmpdir);
	make_source(dir);
	gnu_tar(dir, tar);
	sh("gzip -9 -n -k '%s'", tar);
	snprintf(info, sizeof(info), "%s.gz", tar);
	ck_assert_int_eq(stat(info, &st), 0);
	ck_assert_msg(import_file(info, &d, &err) == 0, "%s", err.msg);
	snprintf(info, sizeof(info), "%s/layers/%s/info.json", store_path, lf_digest_hex(&d, hex));
	/* jq as the independent reader; sizes as stat and sha256sum see them */
	out = sh_out("jq -r '[.diffId, .size, .blobDigest, .blobSize, .files, .contentBytes] | "
		     "map(tostring) | join(\" \")' '%s'",
		     info);
	{
		char expect[1024];
		char *tsha = sh_out("sha256sum < '%s' | cut -c1-64 | tr -d '\\n'", tar);
		char *gsha = sh_out("sha256sum < '%s.gz' | cut -c1-64 | tr -d '\\n'", tar);
		char *tsize = sh_out("stat -c %%s '%s' | tr -d '\\n'", tar);
		/* a.txt(+hardlink) empty big.bin dup1 sub/dup2 setuid naïve raw sparse: 9 */
		snprintf(expect, sizeof(expect), "sha256:%s %s sha256:%s %lld 9 %d\n", tsha, tsize,
			 gsha, (long long)st.st_size,
			 6 + 300000 + 11 + 11 + 1 + 1 + 1 + 3 * 1024 * 1024);
		ck_assert_str_eq(out, expect);
		free(tsha);
		free(gsha);
		free(tsize);
	}
	free(out);
}
END_TEST

/* gzip (also multi-member), zstd (also multi-frame) and plain give one DiffID and tree. */
START_TEST(test_compressions_agree)
{
	static const char *const variants[] = {
		"gzip -n -c '%1$s' > '%1$s.v'",
		"head -c 5000 '%1$s' | gzip -c > '%1$s.v'; tail -c +5001 '%1$s' | gzip -1 -c >> '%1$s.v'",
		"zstd -q -c '%1$s' > '%1$s.v'",
		"head -c 7000 '%1$s' | zstd -q -c > '%1$s.v'; tail -c +7001 '%1$s' | zstd -q -c >> '%1$s.v'",
	};
	char dir[512], tar[512], v[600];
	struct lf_digest plain, d, pc, vc;
	struct lf_err err;
	struct lf_tree *t;

	snprintf(dir, sizeof(dir), "%s/src", tmpdir);
	snprintf(tar, sizeof(tar), "%s/layer.tar", tmpdir);
	snprintf(v, sizeof(v), "%s.v", tar);
	make_source(dir);
	gnu_tar(dir, tar);
	ck_assert_msg(import_file(tar, &plain, &err) == 0, "%s", err.msg);
	t = open_layer(&plain);
	lf_tree_content_digest(t, &pc);
	lf_tree_unref(t);
	for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
		struct lf_digest blob;
		char hex[LF_DIGEST_HEX_LEN + 1];

		sh(variants[i], tar);
		sha256sum(v, &blob);
		/* a fresh import each time, so the tree is really rebuilt from this stream */
		sh("rm -rf '%s/layers/%s'", store_path, lf_digest_hex(&plain, hex));
		ck_assert_msg(import_file_ex(v, &blob, -1, &plain, &d, &err) == 0, "%zu: %s", i,
			      err.msg);
		ck_assert(lf_digest_eq(&d, &plain));
		t = open_layer(&d);
		lf_tree_content_digest(t, &vc);
		ck_assert(lf_digest_eq(&vc, &pc));
		compare_with_dir(t, dir);
		lf_tree_unref(t);
	}
}
END_TEST

/* A gzip stream read from a pipe (no seeking, short reads). */
START_TEST(test_streams_from_pipe)
{
	char dir[512], tar[512];
	struct lf_digest d, expect;
	struct lf_err err = { { 0 } };
	struct lf_layer_source src = { .name = SRC_NAME, .blob_size = -1 };
	FILE *p;
	struct lf_tree *t;

	snprintf(dir, sizeof(dir), "%s/src", tmpdir);
	snprintf(tar, sizeof(tar), "%s/layer.tar", tmpdir);
	make_source(dir);
	gnu_tar(dir, tar);
	sha256sum(tar, &expect);
	src.diff_id = &expect;
	{
		char cmd[700];
		snprintf(cmd, sizeof(cmd), "gzip -c '%s'", tar);
		p = popen(cmd, "r");
	}
	ck_assert_ptr_nonnull(p);
	src.fd = fileno(p);
	ck_assert_msg(lf_layer_import(store, &src, &d, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(pclose(p), 0);
	ck_assert(lf_digest_eq(&d, &expect));
	t = open_layer(&d);
	compare_with_dir(t, dir);
	lf_tree_unref(t);
}
END_TEST

START_TEST(test_reimport_is_fast_and_changes_nothing)
{
	char dir[512], tar[512];
	struct lf_digest d, d2;
	struct lf_err err = { { 0 } };
	struct lf_layer_source src = { .name = SRC_NAME, .fd = -1, .blob_size = -1 };
	char *before, *after;

	snprintf(dir, sizeof(dir), "%s/src", tmpdir);
	snprintf(tar, sizeof(tar), "%s/layer.tar", tmpdir);
	make_source(dir);
	gnu_tar(dir, tar);
	ck_assert_int_eq(import_file(tar, &d, &err), 0);
	before = store_listing();
	/* with the DiffID known, nothing is read at all (fd -1 would fail) */
	src.diff_id = &d;
	ck_assert_int_eq(lf_layer_import(store, &src, &d2, &err), 0);
	ck_assert(lf_digest_eq(&d, &d2));
	/* without it, the stream is read again and the existing layer kept */
	ck_assert_msg(import_file(tar, &d2, &err) == 0, "%s", err.msg);
	ck_assert(lf_digest_eq(&d, &d2));
	after = store_listing();
	ck_assert_str_eq(before, after);
	free(before);
	free(after);
}
END_TEST

START_TEST(test_whiteouts_and_opaque)
{
	struct membuf m;
	struct archive *a = tw_new(&m);
	struct lf_digest d;
	struct lf_err err;
	struct lf_tree *t;
	struct lf_tree_stat st;

	tw_add(a, "etc/", S_IFDIR | 0755, NULL, NULL);
	tw_add(a, "etc/.wh.passwd", S_IFREG | 0644, NULL, NULL);
	tw_add(a, "var/cache/", S_IFDIR | 0700, NULL, NULL);
	tw_add(a, "var/cache/new", S_IFREG | 0644, "n", NULL);
	/* the opaque marker after its siblings still applies */
	tw_add(a, "var/cache/.wh..wh..opq", S_IFREG | 0644, NULL, NULL);
	/* opaque marker before its directory's entry: the entry keeps it opaque */
	tw_add(a, "opt/.wh..wh..opq", S_IFREG | 0644, NULL, NULL);
	tw_add(a, "opt/", S_IFDIR | 0711, NULL, NULL);
	/* aufs metadata is not part of the tree */
	tw_add(a, ".wh..wh.plnk/", S_IFDIR | 0700, NULL, NULL);
	tw_add(a, ".wh..wh.plnk/123.456", S_IFREG | 0644, "x", NULL);
	tw_add(a, ".wh..wh.aufs", S_IFREG | 0644, NULL, NULL);
	/* names are not otherwise reserved */
	tw_add(a, "notes.wh.txt", S_IFREG | 0644, "keep", NULL);
	tw_add(a, ".whimsy", S_IFREG | 0644, "keep", NULL);
	ck_assert_msg(import_file(tw_finish(a, &m, "wh.tar"), &d, &err) == 0, "%s", err.msg);
	t = open_layer(&d);

	st = stat_at(t, "etc/passwd");
	ck_assert_uint_eq(st.flags & LF_TREE_WHITEOUT, LF_TREE_WHITEOUT);
	ck_assert_int_eq(at(t, "etc/.wh.passwd"), LF_TREE_NONE);
	st = stat_at(t, "var/cache");
	ck_assert_uint_eq(st.flags & LF_TREE_OPAQUE, LF_TREE_OPAQUE);
	ck_assert_uint_eq(st.mode, S_IFDIR | 0700);
	ck_assert_uint_ne(at(t, "var/cache/new"), LF_TREE_NONE);
	ck_assert_int_eq(at(t, "var/cache/.wh..wh..opq"), LF_TREE_NONE);
	st = stat_at(t, "opt");
	ck_assert_uint_eq(st.flags & LF_TREE_OPAQUE, LF_TREE_OPAQUE);
	ck_assert_uint_eq(st.mode, S_IFDIR | 0711);
	st = stat_at(t, "var");
	ck_assert_uint_eq(st.flags & LF_TREE_OPAQUE, 0);
	st = stat_at(t, "etc");
	ck_assert_uint_eq(st.flags & LF_TREE_OPAQUE, 0);
	ck_assert_int_eq(at(t, ".wh..wh.plnk"), LF_TREE_NONE);
	ck_assert_int_eq(at(t, ".wh..wh.aufs"), LF_TREE_NONE);
	ck_assert_uint_ne(at(t, "notes.wh.txt"), LF_TREE_NONE);
	ck_assert_uint_ne(at(t, ".whimsy"), LF_TREE_NONE);
	ck_assert_int_eq(lf_tree_dir_count(t, LF_TREE_ROOT), 5);
	lf_tree_unref(t);
}
END_TEST

/* "./" prefixes, repeated and trailing slashes; "." itself is the root. */
START_TEST(test_path_normalization)
{
	struct membuf m;
	struct archive *a = tw_new(&m);
	struct lf_digest d;
	struct lf_err err;
	struct lf_tree *t;
	struct lf_tree_stat st;

	tw_add(a, "./", S_IFDIR | 0700, NULL, NULL);
	tw_add(a, "./a//b///", S_IFDIR | 0750, NULL, NULL);
	tw_add(a, "./a/./b//c", S_IFREG | 0600, "c", NULL);
	tw_add(a, "a/b/d", S_IFREG | 0600, "d", "./a//b/c");
	ck_assert_msg(import_file(tw_finish(a, &m, "norm.tar"), &d, &err) == 0, "%s", err.msg);
	t = open_layer(&d);
	st = stat_at(t, "");
	ck_assert_uint_eq(st.mode, S_IFDIR | 0700);
	ck_assert_int_eq(st.mtime_sec, 1600000000);
	ck_assert_uint_eq(st.mtime_nsec, 5);
	st = stat_at(t, "a/b");
	ck_assert_uint_eq(st.mode, S_IFDIR | 0750);
	/* "a" was implied by its child */
	st = stat_at(t, "a");
	ck_assert_uint_eq(st.mode, S_IFDIR | 0755);
	ck_assert_int_eq(at(t, "a/b/c"), at(t, "a/b/d"));
	ck_assert_int_eq(lf_tree_dir_count(t, at(t, "a/b")), 2);
	lf_tree_unref(t);
}
END_TEST

/* ---- hostile input ---- */

static void refuse_tar(const char *const *paths, const mode_t *modes, const char *const *data,
		       const char *const *links, size_t n, int expect, const char *part1,
		       const char *part2)
{
	char *before = seeded_store();
	struct membuf m;
	struct archive *a = tw_new(&m);
	struct lf_digest d;
	struct lf_err err;
	int r;

	for (size_t i = 0; i < n; i++)
		tw_add(a, paths[i], modes[i], data ? data[i] : NULL, links ? links[i] : NULL);
	r = import_file(tw_finish(a, &m, "bad.tar"), &d, &err);
	assert_refused(r, expect, &err, before, part1, part2);
	free(before);
}

START_TEST(test_refuses_dotdot)
{
	const char *p[] = { "ok", "a/../../etc/passwd" };
	mode_t mo[] = { S_IFREG | 0644, S_IFREG | 0644 };
	const char *dt[] = { "fine", "evil" };

	refuse_tar(p, mo, dt, NULL, 2, -EBADMSG, "entry 'a/../../etc/passwd'",
		   "path escapes the layer");
}
END_TEST

START_TEST(test_refuses_absolute)
{
	const char *p[] = { "ok", "/etc/shadow" };
	mode_t mo[] = { S_IFREG | 0644, S_IFREG | 0644 };
	const char *dt[] = { "fine", "evil" };

	refuse_tar(p, mo, dt, NULL, 2, -EBADMSG, "entry '/etc/shadow'", "absolute path");
}
END_TEST

START_TEST(test_refuses_symlink_parent)
{
	const char *p[] = { "ok", "etc", "etc/cron.d/evil" };
	mode_t mo[] = { S_IFREG | 0644, S_IFLNK | 0777, S_IFREG | 0644 };
	const char *dt[] = { "fine", "/etc", "evil" };

	refuse_tar(p, mo, dt, NULL, 3, -ENOTDIR, "entry 'etc/cron.d/evil'",
		   "'etc' is a symlink, not a directory");
}
END_TEST

START_TEST(test_refuses_file_parent)
{
	const char *p[] = { "f", "f/g" };
	mode_t mo[] = { S_IFREG | 0644, S_IFREG | 0644 };
	const char *dt[] = { "file", "under a file" };

	refuse_tar(p, mo, dt, NULL, 2, -ENOTDIR, "entry 'f/g'", "'f' is a regular file");
}
END_TEST

START_TEST(test_refuses_hardlink_outside)
{
	const char *p[] = { "ok", "pw" };
	mode_t mo[] = { S_IFREG | 0644, S_IFREG | 0644 };
	const char *dt[] = { "fine", NULL };
	const char *ln[] = { NULL, "../../../etc/passwd" };

	refuse_tar(p, mo, dt, ln, 2, -EBADMSG, "entry 'pw'", "hard link target: path escapes");
}
END_TEST

START_TEST(test_refuses_hardlink_absolute)
{
	const char *p[] = { "ok", "pw" };
	mode_t mo[] = { S_IFREG | 0644, S_IFREG | 0644 };
	const char *dt[] = { "fine", NULL };
	const char *ln[] = { NULL, "/etc/passwd" };

	refuse_tar(p, mo, dt, ln, 2, -EBADMSG, "entry 'pw'", "absolute path");
}
END_TEST

START_TEST(test_refuses_hardlink_not_yet_seen)
{
	const char *p[] = { "early", "later" };
	mode_t mo[] = { S_IFREG | 0644, S_IFREG | 0644 };
	const char *dt[] = { NULL, "content" };
	const char *ln[] = { "later", NULL };

	refuse_tar(p, mo, dt, ln, 2, -ENOENT, "entry 'early'",
		   "hard link to a path not (yet) in the layer");
}
END_TEST

START_TEST(test_refuses_hardlink_through_symlink)
{
	/* the target resolves through a symlink: not a path in the layer */
	const char *p[] = { "dir", "pw" };
	mode_t mo[] = { S_IFLNK | 0777, S_IFREG | 0644 };
	const char *dt[] = { "/etc", NULL };
	const char *ln[] = { NULL, "dir/passwd" };

	refuse_tar(p, mo, dt, ln, 2, -ENOENT, "entry 'pw'", "not (yet) in the layer");
}
END_TEST

START_TEST(test_refuses_long_name)
{
	char name[5000];
	const char *p[] = { name };
	mode_t mo[] = { S_IFREG | 0644 };
	const char *dt[] = { "x" };

	for (size_t i = 0; i < sizeof(name) - 1; i++)
		name[i] = i % 100 == 99 ? '/' : 'n';
	name[sizeof(name) - 1] = 0;
	refuse_tar(p, mo, dt, NULL, 1, -ENAMETOOLONG, "entry 'nnnn", "longer than 4096");
}
END_TEST

/* Writes a good tar of the seeded kind, compressed by cmd ("" for none); returns its path. */
static const char *good_blob(const char *name, const char *cmd)
{
	static char path[600];
	struct membuf m;
	struct archive *a = tw_new(&m);
	char *big = malloc(200001);
	const char *tar;

	/* incompressible-ish content, so a cut in the compressed stream lands in the data */
	srand(7);
	for (int i = 0; i < 200000; i++)
		big[i] = 'a' + rand() % 26;
	big[200000] = 0;
	tw_add(a, "first", S_IFREG | 0644, "first file\n", NULL);
	tw_add(a, "big", S_IFREG | 0644, big, NULL);
	tw_add(a, "last", S_IFREG | 0644, "last file\n", NULL);
	free(big);
	tar = tw_finish(a, &m, name);
	snprintf(path, sizeof(path), "%s", tar);
	if (*cmd) {
		sh("%s -c '%s' > '%s.c'", cmd, tar, tar);
		snprintf(path, sizeof(path), "%s.c", tar);
	}
	return path;
}

static void refuse_file(const char *path, const struct lf_digest *blob, int64_t size,
			const struct lf_digest *diff, int expect, const char *part1,
			const char *part2, const char *before)
{
	struct lf_digest d;
	struct lf_err err;
	int r = import_file_ex(path, blob, size, diff, &d, &err);

	assert_refused(r, expect, &err, before, part1, part2);
}

START_TEST(test_refuses_truncated_gzip)
{
	char *before = seeded_store();
	const char *gz = good_blob("t.tar", "gzip");

	sh("truncate -s $(( $(stat -c %%s '%1$s') / 2 )) '%1$s'", gz);
	refuse_file(gz, NULL, -1, NULL, -EBADMSG, "entry 'big'", "truncated gzip stream", before);
	/* cut in the trailer: the tar is complete, the gzip member is not */
	gz = good_blob("t2.tar", "gzip");
	sh("truncate -s $(( $(stat -c %%s '%1$s') - 4 )) '%1$s'", gz);
	refuse_file(gz, NULL, -1, NULL, -EBADMSG, "truncated gzip stream", NULL, before);
	free(before);
}
END_TEST

START_TEST(test_refuses_corrupt_gzip)
{
	char *before = seeded_store();
	const char *gz = good_blob("c.tar", "gzip");

	/* the CRC32 in the trailer */
	sh("printf '\\x00\\x00\\x00\\x00' | dd of='%1$s' bs=1 seek=$(( $(stat -c %%s '%1$s') - 8 )) "
	   "conv=notrunc status=none",
	   gz);
	refuse_file(gz, NULL, -1, NULL, -EBADMSG, "corrupt gzip stream", "incorrect data check",
		    before);
	/* garbage in the middle of the deflate data */
	gz = good_blob("c2.tar", "gzip");
	sh("head -c 4000 /dev/zero | tr '\\0' '\\377' | dd of='%1$s' bs=1 seek=$(( $(stat -c %%s '%1$s') / 2 )) "
	   "conv=notrunc status=none",
	   gz);
	refuse_file(gz, NULL, -1, NULL, -EBADMSG, "gzip", NULL, before);
	/* garbage after the last member */
	gz = good_blob("c3.tar", "gzip");
	sh("printf 'junk' >> '%s'", gz);
	refuse_file(gz, NULL, -1, NULL, -EBADMSG, "trailing data", NULL, before);
	free(before);
}
END_TEST

START_TEST(test_refuses_truncated_zstd)
{
	char *before = seeded_store();
	const char *zs = good_blob("z.tar", "zstd -q");

	sh("truncate -s $(( $(stat -c %%s '%1$s') / 2 )) '%1$s'", zs);
	refuse_file(zs, NULL, -1, NULL, -EBADMSG, "truncated zstd stream", NULL, before);
	zs = good_blob("z2.tar", "zstd -q");
	sh("truncate -s $(( $(stat -c %%s '%1$s') - 3 )) '%1$s'", zs);
	refuse_file(zs, NULL, -1, NULL, -EBADMSG, "truncated zstd stream", NULL, before);
	free(before);
}
END_TEST

START_TEST(test_refuses_corrupt_zstd)
{
	char *before = seeded_store();
	const char *zs = good_blob("zc.tar", "zstd -q");

	sh("head -c 64 /dev/zero | tr '\\0' '\\377' | dd of='%1$s' bs=1 seek=$(( $(stat -c %%s '%1$s') / 2 )) "
	   "conv=notrunc status=none",
	   zs);
	refuse_file(zs, NULL, -1, NULL, -EBADMSG, "zstd stream", NULL, before);
	free(before);
}
END_TEST

START_TEST(test_refuses_blob_digest_mismatch)
{
	char *before = seeded_store();
	const char *gz = good_blob("dg.tar", "gzip");
	struct lf_digest wrong;

	lf_sha256_buf("something else", 14, &wrong);
	refuse_file(gz, &wrong, -1, NULL, -EILSEQ, "blob digest mismatch", NULL, before);
	free(before);
}
END_TEST

START_TEST(test_refuses_blob_size_mismatch)
{
	char *before = seeded_store();
	const char *gz = good_blob("sz.tar", "gzip");
	struct stat st;
	struct lf_digest right;

	ck_assert_int_eq(stat(gz, &st), 0);
	sha256sum(gz, &right);
	refuse_file(gz, &right, st.st_size - 1, NULL, -EBADMSG, "larger than its declared size",
		    NULL, before);
	refuse_file(gz, &right, st.st_size + 1, NULL, -EBADMSG, "blob size mismatch", NULL, before);
	free(before);
}
END_TEST

START_TEST(test_refuses_diff_id_mismatch)
{
	char *before = seeded_store();
	const char *gz = good_blob("di.tar", "gzip");
	struct lf_digest blob, wrong;

	sha256sum(gz, &blob);
	/* the blob's own digest is not its DiffID */
	refuse_file(gz, &blob, -1, &blob, -EILSEQ, "DiffID mismatch", NULL, before);
	lf_sha256_buf("x", 1, &wrong);
	refuse_file(gz, NULL, -1, &wrong, -EILSEQ, "DiffID mismatch", NULL, before);
	free(before);
}
END_TEST

START_TEST(test_refuses_tar_ending_early)
{
	char *before = seeded_store();
	const char *tar = good_blob("e.tar", "");

	/* in the middle of big's data */
	sh("truncate -s 100000 '%s'", tar);
	refuse_file(tar, NULL, -1, NULL, -EBADMSG, "entry 'big'", "truncated tar", before);
	/* in the middle of the header after big (GNU tar says where big's header is) */
	tar = good_blob("e2.tar", "");
	sh("end=$(( ($(tar -tvR -f '%1$s' | awk '/ big$/ { sub(\":\", \"\", $2); print $2 }') "
	   "+ 1 + (200000 + 511) / 512) * 512 )); truncate -s $(( end + 300 )) '%1$s'",
	   tar);
	refuse_file(tar, NULL, -1, NULL, -EBADMSG, "runcated", NULL, before);
	/* exactly at an entry boundary: no end-of-archive marker */
	tar = good_blob("e3.tar", "");
	sh("end=$(( ($(tar -tvR -f '%1$s' | awk '/ big$/ { sub(\":\", \"\", $2); print $2 }') "
	   "+ 1 + (200000 + 511) / 512) * 512 )); truncate -s $end '%1$s'",
	   tar);
	refuse_file(tar, NULL, -1, NULL, -EBADMSG, "no end-of-archive marker", NULL, before);
	/* the same, gzip'ed: the stream is fine, the tar in it is cut */
	tar = good_blob("e4.tar", "");
	sh("end=$(( ($(tar -tvR -f '%1$s' | awk '/ big$/ { sub(\":\", \"\", $2); print $2 }') "
	   "+ 1 + (200000 + 511) / 512) * 512 )); truncate -s $end '%1$s'; gzip -c '%1$s' > '%1$s.gz'",
	   tar);
	{
		char gz[700];
		snprintf(gz, sizeof(gz), "%s.gz", tar);
		refuse_file(gz, NULL, -1, NULL, -EBADMSG, "no end-of-archive marker", NULL, before);
	}
	free(before);
}
END_TEST

START_TEST(test_refuses_absurd_size)
{
	char *before = seeded_store();
	char h[512], path[600], size[12];
	int fd;

	/* 8 GiB claimed, a few bytes present: must end as truncation, not an allocation */
	ustar_header(h, "huge", '0', "77777777777");
	snprintf(path, sizeof(path), "%s/absurd.tar", tmpdir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ck_assert_int_eq(write(fd, h, 512), 512);
	ck_assert_int_eq(write(fd, "tiny", 4), 4);
	close(fd);
	refuse_file(path, NULL, -1, NULL, -EBADMSG, "entry 'huge'", "truncated tar", before);

	/* base-256 size of 2^50: over the 1 TiB limit, refused before reading any data */
	memset(size, 0, sizeof(size));
	size[0] = (char)0x80;
	size[5] = 0x04; /* bytes 4..11 big-endian: 2^50 */
	ustar_header(h, "enormous", '0', size);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ck_assert_int_eq(write(fd, h, 512), 512);
	ck_assert_int_eq(write(fd, "tiny", 4), 4);
	close(fd);
	refuse_file(path, NULL, -1, NULL, -EFBIG, "entry 'enormous'", "1 TiB", before);
	free(before);
}
END_TEST

START_TEST(test_refuses_empty_name)
{
	char *before = seeded_store();
	char h[512], zero[1024] = { 0 }, path[600];
	int fd;

	ustar_header(h, "", '0', "00000000000");
	snprintf(path, sizeof(path), "%s/empty-name.tar", tmpdir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ck_assert_int_eq(write(fd, h, 512), 512);
	ck_assert_int_eq(write(fd, zero, 1024), 1024);
	close(fd);
	refuse_file(path, NULL, -1, NULL, -EBADMSG, "entry ''", "empty name", before);
	free(before);
}
END_TEST

START_TEST(test_refuses_not_a_tar)
{
	char *before = seeded_store();
	char path[600];
	char junk[4096];

	memset(junk, 'j', sizeof(junk));
	snprintf(path, sizeof(path), "%s/junk", tmpdir);
	write_file(path, junk, sizeof(junk));
	refuse_file(path, NULL, -1, NULL, -EBADMSG, "not a tar archive", NULL, before);
	write_file(path, "", 0);
	refuse_file(path, NULL, -1, NULL, -EBADMSG, NULL, NULL, before);
	free(before);
}
END_TEST

START_TEST(test_message_escapes_control_bytes)
{
	const char *p[] = { "../evil\nname" };
	mode_t mo[] = { S_IFREG | 0644 };
	const char *dt[] = { "x" };

	refuse_tar(p, mo, dt, NULL, 1, -EBADMSG, "entry '../evil\\x0aname'", "escapes");
}
END_TEST

/* Two imports of one layer at once: both succeed, one layer results. */
START_TEST(test_concurrent_imports)
{
	char dir[512], tar[512];
	struct lf_digest d, expect;
	struct lf_err err;
	struct lf_tree *t;
	pid_t pids[4];

	snprintf(dir, sizeof(dir), "%s/src", tmpdir);
	snprintf(tar, sizeof(tar), "%s/layer.tar", tmpdir);
	make_source(dir);
	gnu_tar(dir, tar);
	sha256sum(tar, &expect);
	for (int i = 0; i < 4; i++) {
		pids[i] = fork();
		ck_assert_int_ge(pids[i], 0);
		if (pids[i] == 0) {
			struct lf_store *s2;
			struct lf_layer_source src = { .name = SRC_NAME, .blob_size = -1 };
			if (lf_store_open(store_path, false, &s2) < 0)
				_exit(2);
			src.fd = open(tar, O_RDONLY | O_CLOEXEC);
			if (lf_layer_import(s2, &src, &d, &err) < 0) {
				fprintf(stderr, "%s\n", err.msg);
				_exit(1);
			}
			_exit(lf_digest_eq(&d, &expect) ? 0 : 3);
		}
	}
	for (int i = 0; i < 4; i++) {
		int status;
		ck_assert_int_eq(waitpid(pids[i], &status, 0), pids[i]);
		ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	t = open_layer(&expect);
	compare_with_dir(t, dir);
	lf_tree_unref(t);
	free(store_listing()); /* asserts tmp/ is empty */
	{
		char *n = sh_out("ls '%s/layers' | wc -l", store_path);
		ck_assert_int_eq(atoi(n), 1);
		free(n);
	}
}
END_TEST

/* ---- a directory as a layer ---- */

START_TEST(test_import_dir)
{
	char dir[512];
	struct lf_digest d, d2;
	uint64_t size, size2;
	struct lf_err err = { { 0 } };
	struct lf_tree *t;

	snprintf(dir, sizeof(dir), "%s/src", tmpdir);
	make_source(dir);
	sh("ln -s / '%1$s/to-root'; ln -s ../../.. '%1$s/sub/up'", dir);
	ck_assert_msg(lf_layer_import_dir(store, dir, &d, &size, &err) == 0, "%s", err.msg);
	t = open_layer(&d);
	compare_with_dir(t, dir);
	ck_assert_int_eq(count_entries(t, LF_TREE_ROOT), cmp_count);
	ck_assert_int_eq(at(t, "a.txt"), at(t, "hardlink"));
	/* symlinks were recorded, not followed */
	ck_assert_int_eq(lf_tree_dir_count(t, at(t, "to-root")), 0);
	lf_tree_unref(t);
	{
		char *n = sh_out("jq -r .size '%s/layers/%s/info.json'", store_path,
				 lf_digest_hex(&d, (char[LF_DIGEST_HEX_LEN + 1]){ 0 }));
		ck_assert_int_eq(strtoull(n, NULL, 10), size);
		free(n);
	}
	/* deterministic: the same tree gives the same tar, so the same DiffID */
	ck_assert_int_eq(lf_layer_import_dir(store, dir, &d2, &size2, &err), 0);
	ck_assert(lf_digest_eq(&d, &d2));
	ck_assert_int_eq(size, size2);
	/* a change shows */
	sh("touch -d @1 '%s/a.txt'", dir);
	ck_assert_int_eq(lf_layer_import_dir(store, dir, &d2, NULL, &err), 0);
	ck_assert(!lf_digest_eq(&d, &d2));
}
END_TEST

START_TEST(test_import_dir_missing)
{
	struct lf_digest d;
	struct lf_err err = { { 0 } };
	char *before = store_listing(), *after;
	char dir[512];

	snprintf(dir, sizeof(dir), "%s/nope", tmpdir);
	ck_assert_int_eq(lf_layer_import_dir(store, dir, &d, NULL, &err), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err.msg, dir));
	after = store_listing();
	ck_assert_str_eq(before, after);
	free(before);
	free(after);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("layer-import");
	TCase *tc = tcase_create("import");
	TCase *th = tcase_create("hostile");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_checked_fixture(th, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_set_timeout(th, 60);
	tcase_add_test(tc, test_gnu_tar_layer);
	tcase_add_test(tc, test_info_json);
	tcase_add_test(tc, test_compressions_agree);
	tcase_add_test(tc, test_streams_from_pipe);
	tcase_add_test(tc, test_reimport_is_fast_and_changes_nothing);
	tcase_add_test(tc, test_whiteouts_and_opaque);
	tcase_add_test(tc, test_path_normalization);
	tcase_add_test(tc, test_concurrent_imports);
	tcase_add_test(tc, test_import_dir);
	tcase_add_test(tc, test_import_dir_missing);
	tcase_add_test(th, test_refuses_dotdot);
	tcase_add_test(th, test_refuses_absolute);
	tcase_add_test(th, test_refuses_symlink_parent);
	tcase_add_test(th, test_refuses_file_parent);
	tcase_add_test(th, test_refuses_hardlink_outside);
	tcase_add_test(th, test_refuses_hardlink_absolute);
	tcase_add_test(th, test_refuses_hardlink_not_yet_seen);
	tcase_add_test(th, test_refuses_hardlink_through_symlink);
	tcase_add_test(th, test_refuses_long_name);
	tcase_add_test(th, test_refuses_truncated_gzip);
	tcase_add_test(th, test_refuses_corrupt_gzip);
	tcase_add_test(th, test_refuses_truncated_zstd);
	tcase_add_test(th, test_refuses_corrupt_zstd);
	tcase_add_test(th, test_refuses_blob_digest_mismatch);
	tcase_add_test(th, test_refuses_blob_size_mismatch);
	tcase_add_test(th, test_refuses_diff_id_mismatch);
	tcase_add_test(th, test_refuses_tar_ending_early);
	tcase_add_test(th, test_refuses_absurd_size);
	tcase_add_test(th, test_refuses_empty_name);
	tcase_add_test(th, test_refuses_not_a_tar);
	tcase_add_test(th, test_message_escapes_control_bytes);
	suite_add_tcase(s, tc);
	suite_add_tcase(s, th);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
