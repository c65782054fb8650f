/*
 * Union logic without a mount: the pure rules (resolution, readdir merge, inode numbers,
 * override_stat) and the union driven directly over a store-built image and a temporary
 * upper directory, checking what a user would see and what lands in the upper.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "layerfs/store.h"
#include "layerfs/tree.h"
#include "layerfs/util.h"
#include "union.h"

/* ---- pure rules ---- */

static struct stat st_of(mode_t mode, dev_t rdev)
{
	return (struct stat){ .st_mode = mode, .st_rdev = rdev };
}

START_TEST(test_resolve)
{
	struct lf_resolved r;
	struct stat wh = st_of(S_IFCHR, makedev(0, 0)), file = st_of(S_IFREG | 0644, 0),
		    dir = st_of(S_IFDIR | 0755, 0), dev = st_of(S_IFCHR, makedev(1, 3));

	/* Lower only. */
	lf_union_resolve(NULL, false, 7, S_IFREG, &r);
	ck_assert(r.visible && !r.has_upper && r.lower == 7 && r.lower_below);
	/* Nothing at all. */
	lf_union_resolve(NULL, false, LF_TREE_NONE, 0, &r);
	ck_assert(!r.visible && !r.lower_below);
	/* A whiteout hides the lower entry. */
	lf_union_resolve(&wh, false, 7, S_IFREG, &r);
	ck_assert(!r.visible && r.whiteout && r.lower_below);
	/* A real character device is not a whiteout. */
	lf_union_resolve(&dev, false, LF_TREE_NONE, 0, &r);
	ck_assert(r.visible && r.has_upper && !r.whiteout);
	/* An upper file replaces a lower directory: no merge. */
	lf_union_resolve(&file, false, 7, S_IFDIR, &r);
	ck_assert(r.visible && r.has_upper && r.lower == LF_TREE_NONE && r.lower_below);
	/* A directory over a directory merges... */
	lf_union_resolve(&dir, false, 7, S_IFDIR, &r);
	ck_assert(r.visible && r.has_upper && r.lower == 7);
	/* ...unless it is opaque, or the lower is not a directory. */
	lf_union_resolve(&dir, true, 7, S_IFDIR, &r);
	ck_assert(r.visible && r.lower == LF_TREE_NONE && r.lower_below);
	lf_union_resolve(&dir, false, 7, S_IFREG, &r);
	ck_assert(r.visible && r.lower == LF_TREE_NONE);
}
END_TEST

START_TEST(test_ino)
{
	ck_assert_uint_eq(lf_union_ino(0, 999), 1);
	ck_assert_uint_eq(lf_union_ino(41, 999), 42);
	ck_assert_uint_eq(lf_union_ino(LF_TREE_NONE, 999), 999 | LF_UNION_UPPER_INO_BIT);
	/* The ranges are disjoint for any 32-bit tree inode. */
	ck_assert_uint_lt(lf_union_ino(UINT32_MAX - 1, 0), LF_UNION_UPPER_INO_BIT);
}
END_TEST

START_TEST(test_override)
{
	struct lf_override o;
	char buf[64];

	ck_assert_int_eq(lf_override_parse("0:0:0755", 8, &o), 0);
	ck_assert_uint_eq(o.uid, 0);
	ck_assert_uint_eq(o.mode, 0755);
	ck_assert_int_eq(lf_override_parse("1000:100:04711:file", 19, &o), 0);
	ck_assert_uint_eq(o.uid, 1000);
	ck_assert_uint_eq(o.gid, 100);
	ck_assert_uint_eq(o.mode, 04711);
	ck_assert_int_eq(lf_override_parse("x:0:0755", 8, &o), -EINVAL);
	ck_assert_int_eq(lf_override_parse("0:0", 3, &o), -EINVAL);
	o = (struct lf_override){ .uid = 5, .gid = 6, .mode = 0640 };
	ck_assert_int_eq(lf_override_format(&o, buf), 8);
	ck_assert_str_eq(buf, "5:6:0640");
}
END_TEST

static struct lf_tree *tree_from(struct lf_tb *tb)
{
	struct lf_tree *t;
	void *buf;
	size_t len;

	ck_assert_int_eq(lf_tb_write_mem(tb, &buf, &len), 0);
	ck_assert_int_eq(lf_tree_open_mem(buf, len, &t), 0);
	free(buf);
	return t;
}

static void tb_add(struct lf_tb *tb, const char *path, mode_t mode)
{
	struct lf_tree_stat st = { .mode = mode };

	ck_assert_int_eq(lf_tb_add(tb, path, &st, NULL), 0);
}

static struct lf_union_dirent up_ent(const char *name, unsigned char type, bool wh)
{
	return (struct lf_union_dirent){ .name = strdup(name), .type = type, .whiteout = wh };
}

START_TEST(test_merge_dir)
{
	struct lf_union_dirent *up = calloc(4, sizeof(*up)), *out;
	struct lf_tb *tb;
	struct lf_tree *t;
	uint32_t d;
	size_t n;

	ck_assert_int_eq(lf_tb_new(&tb), 0);
	tb_add(tb, "d/a", S_IFREG | 0644);
	tb_add(tb, "d/b", S_IFREG | 0644);
	tb_add(tb, "d/c", S_IFREG | 0644);
	tb_add(tb, "d/sub", S_IFDIR | 0755);
	t = tree_from(tb);
	ck_assert_int_eq(lf_tree_lookup_path(t, "d", &d), 0);

	/* Given out of order: upper sorts before merging. */
	up[0] = up_ent("sub", DT_DIR, false);
	up[1] = up_ent("b", DT_CHR, true);
	up[2] = up_ent("z", DT_REG, false);
	up[3] = up_ent("c", DT_REG, false);
	ck_assert_int_eq(lf_union_merge_dir(up, 4, t, d, &out, &n), 0);
	ck_assert_uint_eq(n, 4);
	ck_assert_str_eq(out[0].name, "a");
	ck_assert(!out[0].upper && out[0].lower != LF_TREE_NONE && out[0].type == DT_REG);
	ck_assert_str_eq(out[1].name, "c"); /* upper wins, b is whited out */
	ck_assert(out[1].upper);
	ck_assert_str_eq(out[2].name, "sub");
	ck_assert(out[2].upper && out[2].lower != LF_TREE_NONE); /* merge candidate */
	ck_assert_str_eq(out[3].name, "z");
	ck_assert(out[3].upper && out[3].lower == LF_TREE_NONE);
	lf_union_dirents_free(out, n);

	/* Opaque (no lower dir): only the upper's non-whiteouts. */
	up = calloc(2, sizeof(*up));
	up[0] = up_ent("x", DT_CHR, true);
	up[1] = up_ent("y", DT_REG, false);
	ck_assert_int_eq(lf_union_merge_dir(up, 2, t, LF_TREE_NONE, &out, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(out[0].name, "y");
	lf_union_dirents_free(out, n);

	lf_tree_unref(t);
	lf_tb_free(tb);
}
END_TEST

/* ---- the union over a real store and upper ---- */

struct fixture {
	char root[64];
	struct lf_store *store;
	struct lf_tree *tree;
	struct lf_union *u;
};

static void add_file(struct lf_store *s, struct lf_tb *tb, const char *path, const char *data,
		     mode_t mode, uid_t uid, gid_t gid)
{
	struct lf_tree_stat st = { .mode = S_IFREG | mode,
				   .uid = uid,
				   .gid = gid,
				   .mtime_sec = 1600000000,
				   .mtime_nsec = 987654321 };
	struct lf_tb_node *n;
	struct lf_digest d;

	ck_assert_int_eq(lf_tb_add(tb, path, &st, &n), 0);
	if (*data) {
		ck_assert_int_eq(lf_cas_put(s, LF_CAS_OBJECT, data, strlen(data), &d), 0);
		lf_tb_node_set_object(n, &d, strlen(data));
	}
}

static void make_image(struct fixture *f)
{
	struct lf_tree_stat st = { .mode = S_IFDIR | 0755, .mtime_sec = 1500000000 };
	struct lf_tb_node *n;
	struct lf_tb *tb;

	ck_assert_int_eq(lf_tb_new(&tb), 0);
	ck_assert_int_eq(lf_tb_add(tb, "etc", &st, NULL), 0);
	add_file(f->store, tb, "etc/passwd", "root:x:0:0::/root:/bin/sh\n", 0644, 0, 0);
	add_file(f->store, tb, "etc/secret", "s3cret\n", 0640, 1234, 42);
	ck_assert_int_eq(lf_tb_find(tb, "etc/secret", &n), 0);
	ck_assert_int_eq(lf_tb_node_set_xattr(n, "user.note", "hi", 2), 0);
	add_file(f->store, tb, "etc/empty", "", 0600, 0, 0);
	add_file(f->store, tb, "lib/a", "A\n", 0644, 0, 0);
	add_file(f->store, tb, "lib/b", "B\n", 0644, 0, 0);
	add_file(f->store, tb, "lib/sub/c", "C\n", 0644, 0, 0);
	add_file(f->store, tb, "hl1", "linked\n", 0644, 0, 0);
	ck_assert_int_eq(lf_tb_link(tb, "hl2", "hl1"), 0);
	st = (struct lf_tree_stat){ .mode = S_IFLNK | 0777 };
	ck_assert_int_eq(lf_tb_add(tb, "link", &st, &n), 0);
	ck_assert_int_eq(lf_tb_node_set_symlink(n, "etc/passwd", 10), 0);
	f->tree = tree_from(tb);
	lf_tb_free(tb);
}

static struct lf_union *open_union(struct fixture *f, const char *upper)
{
	struct lf_lower *lower;
	struct lf_union *u;
	char path[128];
	int ufd, wfd;

	snprintf(path, sizeof(path), "%s/%s", f->root, upper);
	mkdir(path, 0755);
	ufd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	snprintf(path, sizeof(path), "%s/%s.work", f->root, upper);
	mkdir(path, 0700);
	wfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(ufd, 0);
	ck_assert_int_ge(wfd, 0);
	ck_assert_int_eq(lf_lower_new(f->tree, f->store->objects_fd, &lower), 0);
	ck_assert_int_eq(lf_union_new(lower, ufd, wfd, false, &u), 0);
	return u;
}

static struct fixture F;

static void setup(void)
{
	char store[96];

	umask(0);
	snprintf(F.root, sizeof(F.root), "/tmp/lf-union-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(F.root));
	snprintf(store, sizeof(store), "%s/store", F.root);
	ck_assert_int_eq(lf_store_open(store, true, &F.store), 0);
	make_image(&F);
	F.u = open_union(&F, "upper");
}

static void teardown(void)
{
	lf_union_free(F.u);
	lf_tree_unref(F.tree);
	lf_store_free(F.store);
	lf_rm_rf_at(AT_FDCWD, F.root);
}

/* Walks a path with lookups; NULL when a component is missing. */
static struct lf_node *walk(struct lf_union *u, const char *path, struct stat *st)
{
	char buf[256], *save, *c;
	struct lf_node *n = u->root;
	struct stat dummy;

	snprintf(buf, sizeof(buf), "%s", path);
	if (!st)
		st = &dummy;
	lf_union_getattr(u, n, st);
	for (c = strtok_r(buf, "/", &save); c; c = strtok_r(NULL, "/", &save))
		if (lf_union_lookup(u, n, c, &n, st) < 0)
			return NULL;
	return n;
}

static char *read_all(struct lf_union *u, const char *path)
{
	static char buf[4096];
	struct lf_node *n = walk(u, path, NULL);
	struct lf_file *f;
	ssize_t k = 0;
	int fd;

	ck_assert_ptr_nonnull(n);
	ck_assert_int_eq(lf_union_open(u, n, O_RDONLY, &f), 0);
	fd = lf_union_file_fd(u, f);
	if (fd >= 0)
		k = pread(fd, buf, sizeof(buf) - 1, 0);
	ck_assert_int_ge(k, 0);
	buf[k] = 0;
	lf_union_release(u, f);
	return buf;
}

static void write_at(struct lf_union *u, const char *path, const char *data, int flags)
{
	struct lf_node *n = walk(u, path, NULL);
	struct lf_file *f;

	ck_assert_ptr_nonnull(n);
	ck_assert_int_eq(lf_union_open(u, n, flags, &f), 0);
	ck_assert_int_eq(pwrite(f->fd, data, strlen(data), 0), (ssize_t)strlen(data));
	lf_union_release(u, f);
}

/* Names of a directory in the union, comma separated. */
static char *list(struct lf_union *u, const char *path)
{
	static char out[1024];
	struct lf_node *n = walk(u, path, NULL);
	struct lf_dir *d;

	out[0] = 0;
	ck_assert_ptr_nonnull(n);
	ck_assert_int_eq(lf_union_opendir(u, n, &d), 0);
	for (size_t i = 0; i < lf_union_dir_count(u, d); i++) {
		const char *name;
		unsigned char type;
		uint64_t ino;
		ck_assert_int_eq(lf_union_dir_entry(u, d, i, &name, &type, &ino), 0);
		if (out[0])
			strcat(out, ",");
		strcat(out, name);
	}
	lf_union_closedir(u, d);
	return out;
}

static int upper_lstat(const char *rel, struct stat *st)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/upper/%s", F.root, rel);
	return lstat(path, st) < 0 ? -errno : 0;
}

static struct lf_ctx root_ctx = { 0, 0 };

START_TEST(test_read_lower)
{
	struct stat st;
	uint32_t ino;
	char buf[64];

	ck_assert_ptr_nonnull(walk(F.u, "etc/secret", &st));
	ck_assert_uint_eq(st.st_uid, 1234);
	ck_assert_uint_eq(st.st_gid, 42);
	ck_assert_uint_eq(st.st_mode, S_IFREG | 0640);
	ck_assert_int_eq(st.st_size, 7);
	ck_assert_int_eq(st.st_mtim.tv_nsec, 987654321);
	ck_assert_int_eq(lf_tree_lookup_path(F.tree, "etc/secret", &ino), 0);
	ck_assert_uint_eq(st.st_ino, ino + 1);
	ck_assert_str_eq(read_all(F.u, "etc/secret"), "s3cret\n");
	ck_assert_str_eq(read_all(F.u, "etc/empty"), "");
	ck_assert_int_eq(lf_union_getxattr(F.u, walk(F.u, "etc/secret", NULL), "user.note", buf,
					   sizeof(buf)),
			 2);
	ck_assert_int_eq(lf_union_readlink(F.u, walk(F.u, "link", NULL), buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "etc/passwd");
	/* Hard links show one inode. */
	ck_assert_ptr_nonnull(walk(F.u, "hl1", &st));
	ck_assert_uint_eq(st.st_nlink, 2);
	ck_assert_str_eq(list(F.u, ""), "etc,hl1,hl2,lib,link");
	ck_assert_str_eq(list(F.u, "lib"), "a,b,sub");
	ck_assert_ptr_null(walk(F.u, "etc/nope", NULL));
	/* Root shows the image's root. */
	ck_assert_ptr_nonnull(walk(F.u, "", &st));
	ck_assert_uint_eq(st.st_ino, 1);
}
END_TEST

START_TEST(test_unlink_leaves_whiteout)
{
	struct stat st;

	ck_assert_int_eq(lf_union_unlink(F.u, walk(F.u, "etc", NULL), "secret"), 0);
	ck_assert_ptr_null(walk(F.u, "etc/secret", NULL));
	ck_assert_str_eq(list(F.u, "etc"), "empty,passwd");
	/* The upper holds a 0/0 character device and no copy of the data. */
	ck_assert_int_eq(upper_lstat("etc/secret", &st), 0);
	ck_assert(S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0));
	ck_assert_int_eq(lf_union_unlink(F.u, walk(F.u, "etc", NULL), "secret"), -ENOENT);
	ck_assert_int_eq(lf_union_unlink(F.u, F.u->root, "lib"), -EISDIR);
}
END_TEST

START_TEST(test_copy_up_on_write)
{
	struct stat before, after, ust;

	ck_assert_ptr_nonnull(walk(F.u, "etc/secret", &before));
	write_at(F.u, "etc/secret", "S", O_WRONLY);
	ck_assert_str_eq(read_all(F.u, "etc/secret"), "S3cret\n");
	ck_assert_ptr_nonnull(walk(F.u, "etc/secret", &after));
	/* Owner, mode, inode number and the untouched xattr survive the copy-up. */
	ck_assert_uint_eq(after.st_uid, 1234);
	ck_assert_uint_eq(after.st_gid, 42);
	ck_assert_uint_eq(after.st_mode, S_IFREG | 0640);
	ck_assert_uint_eq(after.st_ino, before.st_ino);
	ck_assert_int_eq(
		lf_union_getxattr(F.u, walk(F.u, "etc/secret", NULL), "user.note", NULL, 0), 2);
	ck_assert_int_eq(upper_lstat("etc/secret", &ust), 0);
	ck_assert(S_ISREG(ust.st_mode));
	/* A metadata-only change copies up with the times intact (to the ns). */
	ck_assert_int_eq(lf_union_setxattr(F.u, walk(F.u, "lib/a", NULL), "user.x", "1", 1, 0), 0);
	ck_assert_int_eq(upper_lstat("lib/a", &ust), 0);
	ck_assert_int_eq(ust.st_mtim.tv_sec, 1600000000);
	ck_assert_int_eq(ust.st_mtim.tv_nsec, 987654321);
	ck_assert_int_eq(ust.st_size, 2);
	/* Private xattrs do not show. */
	char names[256];
	ssize_t k = lf_union_listxattr(F.u, walk(F.u, "etc/secret", NULL), names, sizeof(names));
	ck_assert_int_eq(k, (ssize_t)sizeof("user.note"));
	ck_assert_str_eq(names, "user.note");
	/* Siblings stayed in the lower. */
	ck_assert_int_eq(upper_lstat("etc/passwd", &ust), -ENOENT);
	/* O_TRUNC copies no data. */
	write_at(F.u, "etc/passwd", "new\n", O_WRONLY | O_TRUNC);
	ck_assert_str_eq(read_all(F.u, "etc/passwd"), "new\n");
}
END_TEST

START_TEST(test_open_handle_follows_copy_up)
{
	struct lf_node *n = walk(F.u, "lib/a", NULL);
	struct lf_file *r;
	char buf[8] = {};

	ck_assert_int_eq(lf_union_open(F.u, n, O_RDONLY, &r), 0);
	write_at(F.u, "lib/a", "Z", O_WRONLY);
	ck_assert_int_eq(pread(lf_union_file_fd(F.u, r), buf, sizeof(buf) - 1, 0), 2);
	ck_assert_str_eq(buf, "Z\n");
	lf_union_release(F.u, r);
}
END_TEST

START_TEST(test_rmdir_and_opaque)
{
	struct lf_node *lib = walk(F.u, "lib", NULL), *n;
	struct stat st;
	char v[4];

	ck_assert_int_eq(lf_union_rmdir(F.u, F.u->root, "lib"), -ENOTEMPTY);
	ck_assert_int_eq(lf_union_unlink(F.u, lib, "a"), 0);
	ck_assert_int_eq(lf_union_unlink(F.u, lib, "b"), 0);
	ck_assert_int_eq(lf_union_rmdir(F.u, F.u->root, "lib"), -ENOTEMPTY);
	ck_assert_int_eq(lf_union_unlink(F.u, walk(F.u, "lib/sub", NULL), "c"), 0);
	ck_assert_int_eq(lf_union_rmdir(F.u, lib, "sub"), 0);
	/* Empty over the union although its upper holds whiteouts. */
	ck_assert_str_eq(list(F.u, "lib"), "");
	ck_assert_int_eq(lf_union_rmdir(F.u, F.u->root, "lib"), 0);
	ck_assert_ptr_null(walk(F.u, "lib", NULL));
	ck_assert_int_eq(upper_lstat("lib", &st), 0);
	ck_assert(S_ISCHR(st.st_mode));
	/* A new directory in its place is opaque: nothing of the old one shows. */
	ck_assert_int_eq(lf_union_mknod(F.u, F.u->root, "lib", S_IFDIR | 0750, 0, &root_ctx, 0, &n,
					&st, NULL),
			 0);
	ck_assert_str_eq(list(F.u, "lib"), "");
	ck_assert_ptr_null(walk(F.u, "lib/a", NULL));
	char path[128];
	snprintf(path, sizeof(path), "%s/upper/lib", F.root);
	ck_assert_int_eq(getxattr(path, F.u->upper.opaque_xattr, v, sizeof(v)), 1);
	ck_assert_uint_eq(st.st_mode, S_IFDIR | 0750);
}
END_TEST

START_TEST(test_create_over_whiteout)
{
	struct lf_node *etc = walk(F.u, "etc", NULL), *n;
	struct lf_file *f;
	struct stat st;

	ck_assert_int_eq(lf_union_unlink(F.u, etc, "passwd"), 0);
	ck_assert_int_eq(lf_union_mknod(F.u, etc, "passwd", S_IFREG | 0600, 0, &root_ctx, O_RDWR,
					&n, &st, &f),
			 0);
	ck_assert_int_eq(pwrite(f->fd, "x\n", 2, 0), 2);
	lf_union_release(F.u, f);
	ck_assert_str_eq(read_all(F.u, "etc/passwd"), "x\n");
	ck_assert_uint_eq(st.st_mode, S_IFREG | 0600);
	ck_assert(st.st_ino & LF_UNION_UPPER_INO_BIT); /* a new file, not the old one */
	ck_assert_int_eq(lf_union_mknod(F.u, etc, "passwd", S_IFREG | 0600, 0, &root_ctx, O_RDWR,
					&n, &st, &f),
			 -EEXIST);
	/* fifo and symlink */
	ck_assert_int_eq(
		lf_union_mknod(F.u, etc, "fifo", S_IFIFO | 0644, 0, &root_ctx, 0, &n, &st, NULL),
		0);
	ck_assert(S_ISFIFO(st.st_mode));
	ck_assert_int_eq(lf_union_symlink(F.u, etc, "sl", "passwd", &root_ctx, &n, &st), 0);
	ck_assert_str_eq(list(F.u, "etc"), "empty,fifo,passwd,secret,sl");
}
END_TEST

START_TEST(test_rename)
{
	struct lf_node *etc = walk(F.u, "etc", NULL), *lib = walk(F.u, "lib", NULL);
	struct stat st, before;

	ck_assert_ptr_nonnull(walk(F.u, "etc/secret", &before));
	ck_assert_int_eq(lf_union_rename(F.u, etc, "secret", lib, "moved", 0), 0);
	ck_assert_ptr_null(walk(F.u, "etc/secret", NULL));
	ck_assert_str_eq(read_all(F.u, "lib/moved"), "s3cret\n");
	ck_assert_ptr_nonnull(walk(F.u, "lib/moved", &st));
	ck_assert_uint_eq(st.st_ino, before.st_ino);
	ck_assert_uint_eq(st.st_uid, 1234);
	ck_assert_int_eq(upper_lstat("etc/secret", &st), 0);
	ck_assert(S_ISCHR(st.st_mode)); /* whiteout left at the source */
	/* Over an existing lower file. */
	ck_assert_int_eq(lf_union_rename(F.u, lib, "moved", lib, "a", RENAME_NOREPLACE), -EEXIST);
	ck_assert_int_eq(lf_union_rename(F.u, lib, "moved", lib, "a", 0), 0);
	ck_assert_str_eq(read_all(F.u, "lib/a"), "s3cret\n");
	ck_assert_str_eq(list(F.u, "lib"), "a,b,sub");
	/* Exchange. */
	ck_assert_int_eq(lf_union_rename(F.u, lib, "a", lib, "b", RENAME_EXCHANGE), 0);
	ck_assert_str_eq(read_all(F.u, "lib/a"), "B\n");
	ck_assert_str_eq(read_all(F.u, "lib/b"), "s3cret\n");
	/* A lower directory moves with a redirect: its lower contents follow it, the old name is
	 * a whiteout; exchanging it with another is refused (EXDEV: mv copies). */
	ck_assert_int_eq(lf_union_rename(F.u, F.u->root, "lib", F.u->root, "etc", RENAME_EXCHANGE),
			 -EXDEV);
	ck_assert_int_eq(lf_union_rename(F.u, F.u->root, "lib", F.u->root, "lib2", 0), 0);
	ck_assert_ptr_null(walk(F.u, "lib", NULL));
	ck_assert_str_eq(list(F.u, "lib2"), "a,b,sub");
	ck_assert_str_eq(read_all(F.u, "lib2/b"), "s3cret\n");
	ck_assert_int_eq(upper_lstat("lib", &st), 0);
	ck_assert(S_ISCHR(st.st_mode));
	ck_assert_int_eq(upper_lstat("lib2/b", &st),
			 0); /* written before the move, not copied by it */
	ck_assert_int_ne(upper_lstat("lib2/sub", &st), 0);
	/* Upper-only directories move. */
	struct lf_node *n;
	ck_assert_int_eq(lf_union_mknod(F.u, F.u->root, "new", S_IFDIR | 0755, 0, &root_ctx, 0, &n,
					&st, NULL),
			 0);
	ck_assert_int_eq(lf_union_rename(F.u, F.u->root, "new", etc, "newdir", 0), 0);
	ck_assert_ptr_nonnull(walk(F.u, "etc/newdir", NULL));
}
END_TEST

START_TEST(test_link_and_setattr)
{
	struct lf_node *n = walk(F.u, "etc/passwd", NULL);
	struct stat st, in = {};

	ck_assert_int_eq(lf_union_link(F.u, n, F.u->root, "pw", &st), 0);
	ck_assert_uint_eq(st.st_nlink, 2);
	write_at(F.u, "pw", "R", O_WRONLY);
	ck_assert_str_eq(read_all(F.u, "etc/passwd"), "Root:x:0:0::/root:/bin/sh\n");
	/* chmod/chown/utimens on a lower file copy it up with its data. */
	n = walk(F.u, "lib/b", NULL);
	in.st_mode = 0600;
	in.st_uid = 77;
	in.st_gid = 88;
	in.st_mtim.tv_sec = 1234567890;
	in.st_mtim.tv_nsec = 5;
	ck_assert_int_eq(lf_union_setattr(F.u, n, NULL,
					  LF_SET_MODE | LF_SET_UID | LF_SET_GID | LF_SET_MTIME, &in,
					  &st),
			 0);
	ck_assert_uint_eq(st.st_mode, S_IFREG | 0600);
	ck_assert_uint_eq(st.st_uid, 77);
	ck_assert_uint_eq(st.st_gid, 88);
	ck_assert_int_eq(st.st_mtim.tv_sec, 1234567890);
	ck_assert_int_eq(st.st_mtim.tv_nsec, 5);
	ck_assert_str_eq(read_all(F.u, "lib/b"), "B\n");
	/* ...without its bytes (metacopy): the upper file has the size, no blocks, a mark. */
	char path[256], got[8];
	struct stat ust;
	snprintf(path, sizeof(path), "%s/upper/lib/b", F.root);
	ck_assert_int_eq(upper_lstat("lib/b", &ust), 0);
	ck_assert_int_eq(ust.st_size, 2);
	ck_assert_int_le(ust.st_blocks, 8); /* at most an xattr block */
	ck_assert_int_ge(getxattr(path, F.u->upper.metacopy_xattr, NULL, 0), 0);
	ck_assert_int_eq(st.st_blocks, 1); /* what stat shows: the bytes exist */
	/* A write brings the bytes up, keeps the new times, drops the mark. */
	write_at(F.u, "lib/b", "b", O_WRONLY);
	ck_assert_str_eq(read_all(F.u, "lib/b"), "b\n");
	ck_assert_int_lt(getxattr(path, F.u->upper.metacopy_xattr, NULL, 0), 0);
	FILE *uf = fopen(path, "r");
	ck_assert_ptr_nonnull(uf);
	ck_assert_ptr_nonnull(fgets(got, sizeof(got), uf));
	fclose(uf);
	ck_assert_str_eq(got, "b\n");
	/* Truncate. */
	in.st_size = 1;
	ck_assert_int_eq(
		lf_union_setattr(F.u, walk(F.u, "lib/sub/c", NULL), NULL, LF_SET_SIZE, &in, &st),
		0);
	ck_assert_int_eq(st.st_size, 1);
	ck_assert_str_eq(read_all(F.u, "lib/sub/c"), "C");
	/* setxattr / removexattr */
	n = walk(F.u, "etc/secret", NULL);
	ck_assert_int_eq(lf_union_setxattr(F.u, n, "user.k", "v", 1, 0), 0);
	ck_assert_int_eq(lf_union_getxattr(F.u, n, "user.k", NULL, 0), 1);
	ck_assert_int_eq(lf_union_removexattr(F.u, n, "user.note"), 0);
	ck_assert_int_eq(lf_union_getxattr(F.u, n, "user.note", NULL, 0), -ENODATA);
	ck_assert_int_eq(lf_union_setxattr(F.u, n, "user.overlay.opaque", "y", 1, 0), -EPERM);
}
END_TEST

START_TEST(test_persist_and_isolate)
{
	struct lf_union *other;
	struct stat st, before;

	write_at(F.u, "etc/secret", "P", O_WRONLY);
	ck_assert_int_eq(lf_union_unlink(F.u, walk(F.u, "lib", NULL), "a"), 0);
	ck_assert_ptr_nonnull(walk(F.u, "etc/secret", &before));
	lf_union_free(F.u);
	/* Same upper again: the changes are there, with the same inode number. */
	F.u = open_union(&F, "upper");
	ck_assert_str_eq(read_all(F.u, "etc/secret"), "P3cret\n");
	ck_assert_ptr_null(walk(F.u, "lib/a", NULL));
	ck_assert_ptr_nonnull(walk(F.u, "etc/secret", &st));
	ck_assert_uint_eq(st.st_ino, before.st_ino);
	/* Another upper of the same image sees none of it. */
	other = open_union(&F, "upper2");
	ck_assert_str_eq(read_all(other, "etc/secret"), "s3cret\n");
	ck_assert_ptr_nonnull(walk(other, "lib/a", NULL));
	lf_union_free(other);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("union");
	TCase *pure = tcase_create("rules"), *live = tcase_create("union");
	SRunner *sr;
	int failed;

	tcase_add_test(pure, test_resolve);
	tcase_add_test(pure, test_ino);
	tcase_add_test(pure, test_override);
	tcase_add_test(pure, test_merge_dir);
	suite_add_tcase(s, pure);
	tcase_add_checked_fixture(live, setup, teardown);
	tcase_add_test(live, test_read_lower);
	tcase_add_test(live, test_unlink_leaves_whiteout);
	tcase_add_test(live, test_copy_up_on_write);
	tcase_add_test(live, test_open_handle_follows_copy_up);
	tcase_add_test(live, test_rmdir_and_opaque);
	tcase_add_test(live, test_create_over_whiteout);
	tcase_add_test(live, test_rename);
	tcase_add_test(live, test_link_and_setattr);
	tcase_add_test(live, test_persist_and_isolate);
	suite_add_tcase(s, live);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
