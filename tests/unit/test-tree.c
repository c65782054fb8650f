/* Tree index: builder rules, format round trip, corruption detection, layer merge rules. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "layerfs/tree.h"

static struct lf_tree_stat mk(uint32_t mode, uint32_t uid, uint32_t gid, int64_t mtime)
{
	return (struct lf_tree_stat){
		.mode = mode, .uid = uid, .gid = gid, .mtime_sec = mtime, .mtime_nsec = 123456789
	};
}

static struct lf_tree *write_and_open(struct lf_tb *tb)
{
	struct lf_tree *t;
	void *buf;
	size_t len;

	ck_assert_int_eq(lf_tb_write_mem(tb, &buf, &len), 0);
	ck_assert_int_eq(lf_tree_open_mem(buf, len, &t), 0);
	free(buf);
	return t;
}

static void add_file(struct lf_tb *tb, const char *path, const char *content, uint32_t mode)
{
	struct lf_tree_stat st = mk(S_IFREG | mode, 0, 0, 1000);
	struct lf_tb_node *n;
	struct lf_digest d;

	ck_assert_int_eq(lf_tb_add(tb, path, &st, &n), 0);
	if (content && *content) {
		lf_sha256_buf(content, strlen(content), &d);
		lf_tb_node_set_object(n, &d, strlen(content));
	}
}

static void add_dir(struct lf_tb *tb, const char *path, uint32_t mode)
{
	struct lf_tree_stat st = mk(S_IFDIR | mode, 0, 0, 1000);

	ck_assert_int_eq(lf_tb_add(tb, path, &st, NULL), 0);
}

/* Returns the inode at path or LF_TREE_NONE. */
static uint32_t at(const struct lf_tree *t, const char *path)
{
	uint32_t ino;

	return lf_tree_lookup_path(t, path, &ino) == 0 ? ino : LF_TREE_NONE;
}

static bool has_content(const struct lf_tree *t, const char *path, const char *content)
{
	struct lf_digest d, want;
	uint32_t ino = at(t, path);

	if (ino == LF_TREE_NONE || lf_tree_object(t, ino, &d) < 0)
		return false;
	lf_sha256_buf(content, strlen(content), &want);
	return lf_digest_eq(&d, &want);
}

START_TEST(test_round_trip)
{
	struct lf_tb *tb;
	struct lf_tree *t;
	struct lf_tree_stat st;
	struct lf_tb_node *n;
	const char *s;
	const void *v;
	size_t len;
	uint32_t ino, ino2;

	ck_assert_int_eq(lf_tb_new(&tb), 0);
	add_dir(tb, "etc", 0755);
	add_file(tb, "etc/passwd", "root:x:0:0::/root:/bin/sh\n", 0644);
	st = mk(S_IFREG | 04755, 1000, 100, 1700000000);
	ck_assert_int_eq(lf_tb_add(tb, "usr/bin/su", &st, &n), 0);
	ck_assert_int_eq(lf_tb_node_set_xattr(n, "security.capability", "\x01\x02\x00", 3), 0);
	ck_assert_int_eq(lf_tb_node_set_xattr(n, "user.note", "hi", 2), 0);
	st = mk(S_IFLNK | 0777, 0, 0, 5);
	ck_assert_int_eq(lf_tb_add(tb, "bin", &st, &n), 0);
	ck_assert_int_eq(lf_tb_node_set_symlink(n, "usr/bin", 7), 0);
	st = mk(S_IFCHR | 0600, 0, 0, 5);
	st.rdev = makedev(1, 3);
	ck_assert_int_eq(lf_tb_add(tb, "dev/null", &st, NULL), 0);
	ck_assert_int_eq(lf_tb_link(tb, "etc/passwd-", "etc/passwd"), 0);
	t = write_and_open(tb);

	/* Implicit parents exist as directories. */
	ck_assert_int_eq(lf_tree_lookup_path(t, "usr/bin", &ino), 0);
	ck_assert_int_eq(lf_tree_stat(t, ino, &st), 0);
	ck_assert(S_ISDIR(st.mode));

	ino = at(t, "usr/bin/su");
	ck_assert_int_ne(ino, LF_TREE_NONE);
	lf_tree_stat(t, ino, &st);
	ck_assert_uint_eq(st.mode, S_IFREG | 04755);
	ck_assert_uint_eq(st.uid, 1000);
	ck_assert_uint_eq(st.gid, 100);
	ck_assert_int_eq(st.mtime_sec, 1700000000);
	ck_assert_uint_eq(st.mtime_nsec, 123456789);
	ck_assert_uint_eq(lf_tree_xattr_count(t, ino), 2);
	ck_assert_int_eq(lf_tree_getxattr(t, ino, "security.capability", &v, &len), 0);
	ck_assert_uint_eq(len, 3);
	ck_assert_int_eq(memcmp(v, "\x01\x02\x00", 3), 0);
	ck_assert_int_eq(lf_tree_getxattr(t, ino, "user.none", &v, &len), -ENODATA);

	ck_assert_int_eq(lf_tree_readlink(t, at(t, "bin"), &s, &len), 0);
	ck_assert_str_eq(s, "usr/bin");
	lf_tree_stat(t, at(t, "dev/null"), &st);
	ck_assert_uint_eq(st.rdev, makedev(1, 3));

	/* Hard links share an inode with a true link count. */
	ino = at(t, "etc/passwd");
	ino2 = at(t, "etc/passwd-");
	ck_assert_uint_eq(ino, ino2);
	lf_tree_stat(t, ino, &st);
	ck_assert_uint_eq(st.nlink, 2);
	ck_assert(has_content(t, "etc/passwd-", "root:x:0:0::/root:/bin/sh\n"));

	/* Directories list sorted, and nlink counts subdirectories. */
	ck_assert_uint_eq(lf_tree_dir_count(t, LF_TREE_ROOT), 4);
	ck_assert_int_eq(lf_tree_dir_entry(t, LF_TREE_ROOT, 0, &s, &len, &ino), 0);
	ck_assert_str_eq(s, "bin");
	ck_assert_int_eq(lf_tree_dir_entry(t, LF_TREE_ROOT, 3, &s, &len, &ino), 0);
	ck_assert_str_eq(s, "usr");
	lf_tree_stat(t, LF_TREE_ROOT, &st);
	ck_assert_uint_eq(st.nlink, 2 + 3);
	ck_assert_int_eq(lf_tree_lookup(t, LF_TREE_ROOT, "zzz", 3, &ino), -ENOENT);
	ck_assert_int_eq(lf_tree_lookup(t, at(t, "bin"), "x", 1, &ino), -ENOTDIR);

	/* One object table entry per distinct content. */
	ck_assert_uint_eq(lf_tree_n_objects(t), 1);
	ck_assert_uint_eq(lf_tree_content_bytes(t), strlen("root:x:0:0::/root:/bin/sh\n"));
	lf_tree_unref(t);
	lf_tb_free(tb);
}
END_TEST

START_TEST(test_builder_refuses)
{
	struct lf_tree_stat st = mk(S_IFLNK | 0777, 0, 0, 0);
	struct lf_tb *tb;
	struct lf_tb_node *n;

	ck_assert_int_eq(lf_tb_new(&tb), 0);
	ck_assert_int_eq(lf_tb_add(tb, "lnk", &st, &n), 0);
	ck_assert_int_eq(lf_tb_node_set_symlink(n, "/etc", 4), 0);
	/* A symlink is never followed as a parent. */
	st = mk(S_IFREG | 0644, 0, 0, 0);
	ck_assert_int_eq(lf_tb_add(tb, "lnk/passwd", &st, NULL), -ENOTDIR);
	ck_assert_int_eq(lf_tb_add(tb, "a/../b", &st, NULL), -EINVAL);
	ck_assert_int_eq(lf_tb_add(tb, "a//b", &st, NULL), -EINVAL);
	ck_assert_int_eq(lf_tb_link(tb, "x", "missing"), -ENOENT);
	add_dir(tb, "d", 0755);
	ck_assert_int_eq(lf_tb_link(tb, "x", "d"), -EPERM);
	lf_tb_free(tb);
}
END_TEST

START_TEST(test_corruption_refused)
{
	struct lf_tb *tb;
	struct lf_tree *t;
	uint8_t *buf;
	size_t len;

	ck_assert_int_eq(lf_tb_new(&tb), 0);
	add_file(tb, "a/b/c", "data", 0644);
	add_file(tb, "a/d", "more", 0600);
	ck_assert_int_eq(lf_tb_write_mem(tb, (void **)&buf, &len), 0);
	ck_assert_int_eq(lf_tree_open_mem(buf, len, &t), 0);
	lf_tree_unref(t);
	/* Every single flipped byte, header or body, is refused (not in a fuzzing build, whose
	 * reader skips the checksum on purpose). */
#ifndef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
	for (size_t i = 0; i < len; i++) {
		buf[i] ^= 0x20;
		ck_assert_msg(lf_tree_open_mem(buf, len, &t) < 0, "flip at %zu accepted", i);
		buf[i] ^= 0x20;
	}
#endif
	/* Truncation and trailing bytes too. */
	ck_assert_int_lt(lf_tree_open_mem(buf, len - 1, &t), 0);
	ck_assert_int_lt(lf_tree_open_mem(buf, 10, &t), 0);
	free(buf);
	lf_tb_free(tb);
}
END_TEST

static struct lf_tree *layer(void (*fill)(struct lf_tb *))
{
	struct lf_tb *tb;
	struct lf_tree *t;

	ck_assert_int_eq(lf_tb_new(&tb), 0);
	fill(tb);
	t = write_and_open(tb);
	lf_tb_free(tb);
	return t;
}

static void base_layer(struct lf_tb *tb)
{
	add_dir(tb, "etc", 0755);
	add_file(tb, "etc/hosts", "base hosts", 0644);
	add_file(tb, "etc/motd", "base motd", 0644);
	add_dir(tb, "var/cache", 0755);
	add_file(tb, "var/cache/a", "cache a", 0644);
	add_file(tb, "var/cache/b", "cache b", 0644);
	add_dir(tb, "opt/app", 0700);
	add_file(tb, "opt/app/bin", "app", 0755);
	add_file(tb, "replace-me", "file", 0644);
	add_file(tb, "hl/one", "linked", 0644);
	ck_assert_int_eq(lf_tb_link(tb, "hl/two", "hl/one"), 0);
	ck_assert_int_eq(lf_tb_link(tb, "hl/three", "hl/one"), 0);
}

static void upper_layer(struct lf_tb *tb)
{
	/* delete a file, replace a file, hide a dir's contents, file<->dir swaps */
	ck_assert_int_eq(lf_tb_add_whiteout(tb, "etc/motd"), 0);
	add_file(tb, "etc/hosts", "upper hosts", 0600);
	ck_assert_int_eq(lf_tb_set_opaque(tb, "var/cache"), 0);
	add_file(tb, "var/cache/c", "cache c", 0644);
	add_file(tb, "opt/app", "now a file", 0644);
	add_dir(tb, "replace-me", 0711);
	add_file(tb, "replace-me/inside", "in", 0644);
	add_file(tb, "hl/two", "broken link", 0644);
	ck_assert_int_eq(lf_tb_add_whiteout(tb, "nonexistent"), 0);
}

static void third_layer(struct lf_tb *tb)
{
	/* the file becomes a directory again; a deleted name comes back */
	add_dir(tb, "opt/app", 0750);
	add_file(tb, "opt/app/new", "new", 0644);
	add_file(tb, "etc/motd", "motd again", 0644);
}

START_TEST(test_merge_rules)
{
	struct lf_tree *l1 = layer(base_layer), *l2 = layer(upper_layer), *l3 = layer(third_layer);
	struct lf_tree_stat st;
	struct lf_tb *tb;
	struct lf_tree *m;
	uint32_t ino;

	/* The layer tree itself keeps whiteout and opaque records. */
	ck_assert_int_eq(lf_tree_lookup_path(l2, "etc/motd", &ino), 0);
	lf_tree_stat(l2, ino, &st);
	ck_assert(st.flags & LF_TREE_WHITEOUT);
	lf_tree_stat(l2, at(l2, "var/cache"), &st);
	ck_assert(st.flags & LF_TREE_OPAQUE);

	ck_assert_int_eq(lf_tb_new(&tb), 0);
	ck_assert_int_eq(lf_tb_apply(tb, l1), 0);
	ck_assert_int_eq(lf_tb_apply(tb, l2), 0);
	m = write_and_open(tb);

	ck_assert_uint_eq(at(m, "etc/motd"), LF_TREE_NONE);
	ck_assert_uint_eq(at(m, "nonexistent"), LF_TREE_NONE);
	ck_assert(has_content(m, "etc/hosts", "upper hosts"));
	lf_tree_stat(m, at(m, "etc/hosts"), &st);
	ck_assert_uint_eq(st.mode, S_IFREG | 0600);
	ck_assert_uint_eq(at(m, "var/cache/a"), LF_TREE_NONE);
	ck_assert_uint_eq(at(m, "var/cache/b"), LF_TREE_NONE);
	ck_assert(has_content(m, "var/cache/c", "cache c"));
	lf_tree_stat(m, at(m, "var/cache"), &st);
	ck_assert(!(st.flags & (LF_TREE_OPAQUE | LF_TREE_WHITEOUT)));
	lf_tree_stat(m, at(m, "opt/app"), &st);
	ck_assert(S_ISREG(st.mode));
	ck_assert_uint_eq(at(m, "opt/app/bin"), LF_TREE_NONE);
	lf_tree_stat(m, at(m, "replace-me"), &st);
	ck_assert_uint_eq(st.mode, S_IFDIR | 0711);
	ck_assert(has_content(m, "replace-me/inside", "in"));
	/* Replacing one name of a hard-link group leaves the others linked. */
	ck_assert_uint_eq(at(m, "hl/one"), at(m, "hl/three"));
	ck_assert_uint_ne(at(m, "hl/one"), at(m, "hl/two"));
	lf_tree_stat(m, at(m, "hl/one"), &st);
	ck_assert_uint_eq(st.nlink, 2);
	ck_assert(has_content(m, "hl/two", "broken link"));
	/* The object table holds only what is still visible. */
	for (size_t i = 0; i < lf_tree_n_objects(m); i++) {
		struct lf_digest gone;
		lf_sha256_buf("base motd", 9, &gone);
		ck_assert(!lf_digest_eq(lf_tree_object_at(m, i), &gone));
	}
	lf_tree_unref(m);

	ck_assert_int_eq(lf_tb_apply(tb, l3), 0);
	m = write_and_open(tb);
	lf_tree_stat(m, at(m, "opt/app"), &st);
	ck_assert_uint_eq(st.mode, S_IFDIR | 0750);
	ck_assert(has_content(m, "opt/app/new", "new"));
	ck_assert_uint_eq(at(m, "opt/app/bin"), LF_TREE_NONE);
	ck_assert(has_content(m, "etc/motd", "motd again"));
	lf_tree_unref(m);

	lf_tb_free(tb);
	lf_tree_unref(l1);
	lf_tree_unref(l2);
	lf_tree_unref(l3);
}
END_TEST

static void implicit_parent_layer(struct lf_tb *tb)
{
	/* only a file: its parent "opt" is implied, not named */
	add_file(tb, "opt/extra", "x", 0644);
}

static void base_opt(struct lf_tb *tb)
{
	struct lf_tree_stat st = mk(S_IFDIR | 0700, 42, 43, 77);

	ck_assert_int_eq(lf_tb_add(tb, "opt", &st, NULL), 0);
}

START_TEST(test_implicit_parent_keeps_lower_metadata)
{
	struct lf_tree *l1 = layer(base_opt), *l2 = layer(implicit_parent_layer), *m;
	struct lf_tree_stat st;
	struct lf_tb *tb;

	ck_assert_int_eq(lf_tb_new(&tb), 0);
	ck_assert_int_eq(lf_tb_apply(tb, l1), 0);
	ck_assert_int_eq(lf_tb_apply(tb, l2), 0);
	m = write_and_open(tb);
	lf_tree_stat(m, at(m, "opt"), &st);
	ck_assert_uint_eq(st.mode, S_IFDIR | 0700);
	ck_assert_uint_eq(st.uid, 42);
	ck_assert_int_eq(st.mtime_sec, 77);
	ck_assert(has_content(m, "opt/extra", "x"));
	lf_tree_unref(m);
	lf_tb_free(tb);
	lf_tree_unref(l1);
	lf_tree_unref(l2);
}
END_TEST

static void same_layer_whiteout(struct lf_tb *tb)
{
	/* the OCI spec: a whiteout hides only lower layers, whatever its order in the tar */
	add_file(tb, "etc/hosts", "this layer", 0644);
	ck_assert_int_eq(lf_tb_add_whiteout(tb, "etc/hosts"), 0);
	ck_assert_int_eq(lf_tb_add_whiteout(tb, "var/cache"), 0);
	add_file(tb, "var/cache/new", "n", 0644);
}

START_TEST(test_whiteout_same_layer)
{
	struct lf_tree *l1 = layer(base_layer), *l2 = layer(same_layer_whiteout), *m;
	struct lf_tb *tb;

	ck_assert_int_eq(lf_tb_new(&tb), 0);
	ck_assert_int_eq(lf_tb_apply(tb, l1), 0);
	ck_assert_int_eq(lf_tb_apply(tb, l2), 0);
	m = write_and_open(tb);
	ck_assert(has_content(m, "etc/hosts", "this layer"));
	ck_assert(has_content(m, "var/cache/new", "n"));
	ck_assert_uint_eq(at(m, "var/cache/a"), LF_TREE_NONE);
	lf_tree_unref(m);
	lf_tb_free(tb);
	lf_tree_unref(l1);
	lf_tree_unref(l2);
}
END_TEST

START_TEST(test_many_entries)
{
	struct lf_tb *tb;
	struct lf_tree *t;
	char path[64];

	ck_assert_int_eq(lf_tb_new(&tb), 0);
	for (int i = 0; i < 20000; i++) {
		snprintf(path, sizeof(path), "usr/lib/d%d/f%d", i % 97, i);
		add_file(tb, path, NULL, 0644);
	}
	for (int i = 0; i < 20000; i += 2) {
		snprintf(path, sizeof(path), "usr/lib/d%d/f%d", i % 97, i);
		ck_assert_int_eq(lf_tb_remove(tb, path), 0);
	}
	t = write_and_open(tb);
	for (int i = 0; i < 20000; i++) {
		snprintf(path, sizeof(path), "usr/lib/d%d/f%d", i % 97, i);
		ck_assert_msg((at(t, path) != LF_TREE_NONE) == (i % 2 == 1), "%s", path);
	}
	lf_tree_unref(t);
	lf_tb_free(tb);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("tree");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_builder_refuses);
	tcase_add_test(tc, test_corruption_refused);
	tcase_add_test(tc, test_merge_rules);
	tcase_add_test(tc, test_implicit_parent_keeps_lower_metadata);
	tcase_add_test(tc, test_whiteout_same_layer);
	tcase_add_test(tc, test_many_entries);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
