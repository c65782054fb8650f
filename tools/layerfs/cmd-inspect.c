/* layerfs inspect IMAGE: manifest, config, layers and sizes as JSON. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layerfs/image.h"
#include "layerfs/log.h"
#include "layerfs/store.h"
#include "cmd.h"

LF_CMD(inspect)
{
	struct lf_image *img = NULL;
	struct lf_store *s = NULL;
	struct lf_err err = {};
	char *doc = NULL;
	int r;

	if (argc != 2 || argv[1][0] == '-') {
		bool help = argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"));
		fprintf(help ? stdout : stderr, "usage: layerfs inspect IMAGE\n");
		return help ? LF_EXIT_OK : LF_EXIT_USAGE;
	}
	if (lf_cli_open_store(cli, false, &s) < 0)
		return LF_EXIT_FAILURE;
	r = lf_image_resolve(s, argv[1], &img, &err);
	if (r >= 0)
		r = lf_image_inspect(s, img, &doc, &err);
	lf_image_free(img);
	lf_store_free(s);
	if (r < 0) {
		lf_log(LF_LOG_ERR, "%s", lf_err_str(&err, r));
		return LF_EXIT_FAILURE;
	}
	printf("%s\n", doc);
	free(doc);
	return LF_EXIT_OK;
}
