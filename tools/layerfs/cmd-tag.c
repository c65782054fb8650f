/* layerfs tag IMAGE NAME:TAG: another name for an image. */
#include <stdio.h>

#include "layerfs/image.h"
#include "layerfs/log.h"
#include "layerfs/store.h"
#include "cmd.h"

LF_CMD(tag)
{
	struct lf_image *img = NULL;
	struct lf_store *s = NULL;
	struct lf_err err = {};
	int r;

	if (argc != 3 || argv[1][0] == '-') {
		fprintf(stderr, "usage: layerfs tag IMAGE NAME:TAG\n");
		return LF_EXIT_USAGE;
	}
	if (lf_cli_open_store(cli, false, &s) < 0)
		return LF_EXIT_FAILURE;
	r = lf_store_lock(s, LF_LOCK_SHARED);
	if (r >= 0)
		r = lf_image_resolve(s, argv[1], &img, &err);
	if (r >= 0)
		r = lf_image_tag(s, img, argv[2], &err);
	lf_image_free(img);
	lf_store_free(s);
	if (r < 0) {
		lf_log(LF_LOG_ERR, "%s", lf_err_str(&err, r));
		return LF_EXIT_FAILURE;
	}
	return LF_EXIT_OK;
}
