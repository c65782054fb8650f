/* layerfs rm NAME...: removes containers (their upper data included) that are not mounted. */
#include <stdio.h>

#include "layerfs/container.h"
#include "layerfs/log.h"
#include "layerfs/store.h"
#include "cmd.h"

LF_CMD(rm)
{
	struct lf_store *s;
	int status = LF_EXIT_OK;

	if (argc < 2 || argv[1][0] == '-') {
		lf_log(LF_LOG_ERR, "usage: layerfs rm NAME...");
		return LF_EXIT_USAGE;
	}
	if (lf_cli_open_store(cli, false, &s) < 0)
		return LF_EXIT_FAILURE;
	for (int i = 1; i < argc; i++) {
		struct lf_container *c = NULL;
		struct lf_err err = {};
		int r = lf_container_lookup(s, argv[i], &c, &err);
		if (r == 0)
			r = lf_container_remove(s, c, &err);
		if (r < 0) {
			lf_log(LF_LOG_ERR, "%s", lf_err_str(&err, r));
			status = LF_EXIT_FAILURE;
		} else {
			printf("%s\n", c->name);
		}
		lf_container_free(c);
	}
	lf_store_free(s);
	return status;
}
