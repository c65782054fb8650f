/*
 * libFuzzer target: any bytes given to the layer importer (plain, gzip or zstd tar) are
 * refused with a message or imported into a tree that opens; the store's tmp/ is left empty.
 */
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "layerfs/layer.h"
#include "layerfs/store.h"
#include "layerfs/tree.h"
#include "layerfs/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct lf_store *store;

static void open_store(void)
{
	char tmpl[] = "/tmp/lf-fuzz-layer-XXXXXX";

	if (!mkdtemp(tmpl) || lf_store_open(tmpl, true, &store) < 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lf_layer_source src = { .name = "fuzz", .blob_size = -1 };
	struct lf_err err = { { 0 } };
	struct lf_digest d;
	struct lf_tree *t;
	int r;

	if (!store)
		open_store();
	src.fd = memfd_create("layer", MFD_CLOEXEC);
	if (src.fd < 0 || lf_write_full(src.fd, data, size) < 0 || lseek(src.fd, 0, SEEK_SET) < 0)
		abort();
	r = lf_layer_import(store, &src, &d, &err);
	close(src.fd);
	if (r < 0) {
		if (!err.msg[0] || strchr(err.msg, '\n'))
			__builtin_trap(); /* every refusal has one line of explanation */
		return 0;
	}
	if (lf_layer_open_tree(store, &d, &t) < 0)
		__builtin_trap(); /* a published layer must open */
	lf_tree_unref(t);
	/* keep the store small: the next input starts from scratch */
	lf_rm_rf_at(store->layers_fd, lf_digest_hex(&d, (char[LF_DIGEST_HEX_LEN + 1]){ 0 }));
	return 0;
}
