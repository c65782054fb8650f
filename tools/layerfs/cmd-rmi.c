/* layerfs rmi IMAGE...: removes names, then frees what nothing references any more. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "layerfs/image.h"
#include "layerfs/log.h"
#include "layerfs/store.h"
#include "layerfs/util.h"
#include "cmd.h"

LF_CMD(rmi)
{
	struct lf_store *s = NULL;
	struct lf_gc_stats st = {};
	struct lf_err err = {};
	bool failed = false;
	char bytes[32];
	int r;

	if (argc < 2 || argv[1][0] == '-') {
		fprintf(stderr, "usage: layerfs rmi IMAGE...\n");
		return LF_EXIT_USAGE;
	}
	if (lf_cli_open_store(cli, false, &s) < 0)
		return LF_EXIT_FAILURE;
	/* Exclusive from the check that no container uses an image to the sweep. */
	r = lf_store_lock(s, LF_LOCK_EXCLUSIVE);
	if (r < 0) {
		lf_log_errno(LF_LOG_ERR, r, "cannot lock the store");
		lf_store_free(s);
		return LF_EXIT_FAILURE;
	}
	for (int i = 1; i < argc; i++) {
		char **removed = NULL;
		size_t n = 0;

		err.msg[0] = 0;
		r = lf_image_untag(s, argv[i], &removed, &n, &err);
		if (r < 0) {
			lf_log(LF_LOG_ERR, "%s", lf_err_str(&err, r));
			failed = true;
			continue;
		}
		for (size_t k = 0; k < n; k++) {
			printf("untagged %s\n", removed[k]);
			free(removed[k]);
		}
		free(removed);
	}
	err.msg[0] = 0;
	r = lf_image_gc(s, false, &st, &err);
	lf_store_free(s);
	if (r < 0) {
		lf_log(LF_LOG_ERR, "%s", lf_err_str(&err, r));
		return LF_EXIT_FAILURE;
	}
	if (st.blobs || st.layers || st.objects || st.merged)
		printf("freed %zu layers, %zu objects, %zu blobs, %zu merged trees: %s\n",
		       st.layers, st.objects, st.blobs, st.merged,
		       lf_format_bytes(st.bytes, bytes, sizeof(bytes)));
	return failed ? LF_EXIT_FAILURE : LF_EXIT_OK;
}
