/* Writes a few valid trees into DIR as the fuzz-tree seed corpus. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layerfs/tree.h"

static int add(struct lf_tb *tb, const char *path, uint32_t mode, const char *data)
{
	struct lf_tree_stat st = { .mode = mode, .uid = 1, .gid = 2, .mtime_sec = 3 };
	struct lf_tb_node *n;
	struct lf_digest d;
	int r = lf_tb_add(tb, path, &st, &n);

	if (r < 0)
		return r;
	if (S_ISLNK(mode))
		return lf_tb_node_set_symlink(n, data, strlen(data));
	if (data) {
		lf_sha256_buf(data, strlen(data), &d);
		lf_tb_node_set_object(n, &d, strlen(data));
		lf_tb_node_set_xattr(n, "user.x", data, strlen(data));
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct lf_tb *tb;
	int dfd;

	if (argc != 2 || (dfd = open(argv[1], O_RDONLY | O_DIRECTORY)) < 0) {
		fprintf(stderr, "usage: gen-tree-seeds DIR\n");
		return 2;
	}
	lf_tb_new(&tb);
	lf_tb_write_at(tb, dfd, "empty");
	add(tb, "a/b/c", S_IFREG | 0644, "hello");
	add(tb, "a/l", S_IFLNK | 0777, "b/c");
	add(tb, "d", S_IFDIR | 0700, NULL);
	lf_tb_link(tb, "a/h", "a/b/c");
	lf_tb_add_whiteout(tb, "w");
	lf_tb_set_opaque(tb, "d");
	lf_tb_write_at(tb, dfd, "small");
	lf_tb_free(tb);
	return 0;
}
