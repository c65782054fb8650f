/* layerfs images [--json]: the store's named images. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "layerfs/image.h"
#include "layerfs/log.h"
#include "layerfs/store.h"
#include "layerfs/util.h"
#include "cmd.h"

static int print_json(const struct lf_image_summary *v, size_t n)
{
	json_t *arr = json_array();
	char dg[LF_DIGEST_STR_MAX], hex[LF_DIGEST_HEX_LEN + 1];
	char *out;

	if (!arr)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		lf_digest_hex(&v[i].manifest, hex);
		hex[12] = 0;
		json_array_append_new(
			arr, json_pack("{s:s, s:s, s:s, s:I, s:I, s:s?}", "name", v[i].ref, "id",
				       hex, "digest", lf_digest_format(&v[i].manifest, dg),
				       "layers", (json_int_t)v[i].n_layers, "size",
				       (json_int_t)v[i].size, "created", v[i].created));
	}
	out = json_dumps(arr, JSON_INDENT(2));
	json_decref(arr);
	if (!out)
		return -ENOMEM;
	printf("%s\n", out);
	free(out);
	return 0;
}

static void print_table(const struct lf_image_summary *v, size_t n)
{
	int w = (int)strlen("REPOSITORY:TAG");

	for (size_t i = 0; i < n; i++)
		if ((int)strlen(v[i].ref) > w)
			w = strlen(v[i].ref);
	printf("%-*s  %-12s  %6s  %10s  %s\n", w, "REPOSITORY:TAG", "IMAGE ID", "LAYERS", "SIZE",
	       "CREATED");
	for (size_t i = 0; i < n; i++) {
		char hex[LF_DIGEST_HEX_LEN + 1], size[32], created[32] = "-";

		lf_digest_hex(&v[i].manifest, hex);
		if (v[i].created) {
			/* "2024-01-02T03:04:05.123Z" -> "2024-01-02 03:04:05" */
			snprintf(created, sizeof(created), "%.19s", v[i].created);
			if (strlen(created) > 10 && created[10] == 'T')
				created[10] = ' ';
		}
		printf("%-*s  %.12s  %6zu  %10s  %s\n", w, v[i].ref, hex, v[i].n_layers,
		       lf_format_bytes(v[i].size, size, sizeof(size)), created);
	}
}

LF_CMD(images)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	struct lf_image_summary *v = NULL;
	struct lf_store *s = NULL;
	struct lf_err err = {};
	bool json = false;
	size_t n = 0;
	int c, r;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
		if (c == 'j') {
			json = true;
		} else {
			fprintf(c == 'h' ? stdout : stderr, "usage: layerfs images [--json]\n");
			return c == 'h' ? LF_EXIT_OK : LF_EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "usage: layerfs images [--json]\n");
		return LF_EXIT_USAGE;
	}
	if (lf_cli_open_store(cli, true, &s) < 0)
		return LF_EXIT_FAILURE;
	r = lf_image_list(s, &v, &n, &err);
	lf_store_free(s);
	if (r < 0) {
		lf_log(LF_LOG_ERR, "%s", lf_err_str(&err, r));
		return LF_EXIT_FAILURE;
	}
	if (json)
		r = print_json(v, n);
	else
		print_table(v, n);
	lf_image_summaries_free(v, n);
	return r < 0 ? LF_EXIT_FAILURE : LF_EXIT_OK;
}
