/* libFuzzer target: the tree reader must refuse or fully accept any bytes, never misbehave. */
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "layerfs/tree.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void walk(const struct lf_tree *t, uint32_t dir, int depth)
{
	uint32_t n = lf_tree_dir_count(t, dir);

	if (depth > 64)
		return;
	for (uint32_t i = 0; i < n; i++) {
		struct lf_tree_stat st;
		const char *name, *target;
		const void *v;
		size_t len;
		uint32_t ino, found;
		struct lf_digest d;

		if (lf_tree_dir_entry(t, dir, i, &name, &len, &ino) < 0)
			continue;
		if (lf_tree_lookup(t, dir, name, len, &found) < 0 || found != ino)
			__builtin_trap(); /* every listed name must be found again */
		lf_tree_stat(t, ino, &st);
		lf_tree_readlink(t, ino, &target, &len);
		lf_tree_object(t, ino, &d);
		for (uint32_t x = 0; x < lf_tree_xattr_count(t, ino); x++)
			lf_tree_xattr(t, ino, x, &name, &v, &len);
		if (S_ISDIR(st.mode))
			walk(t, ino, depth + 1);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lf_tree *t;

	if (lf_tree_open_mem(data, size, &t) < 0)
		return 0;
	walk(t, LF_TREE_ROOT, 0);
	lf_tree_content_bytes(t);
	lf_tree_unref(t);
	return 0;
}
