/* layerfs df [--json]: per image total, shared and unique bytes; store dedup ratio. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "layerfs/image.h"
#include "layerfs/log.h"
#include "layerfs/store.h"
#include "layerfs/util.h"
#include "cmd.h"

static double ratio(const struct lf_df *df)
{
	return df->on_disk ? (double)df->logical / (double)df->on_disk : 0.0;
}

static int print_json(const struct lf_df *df)
{
	json_t *images = json_array(), *doc;
	char dg[LF_DIGEST_STR_MAX];
	char *out;

	if (!images)
		return -ENOMEM;
	for (size_t i = 0; i < df->n_images; i++) {
		const struct lf_df_image *im = &df->images[i];
		json_t *names = json_array();
		_cleanup_free_ char *copy = strdup(im->refs);
		char *save = NULL;

		for (char *t = copy ? strtok_r(copy, ",", &save) : NULL; t;
		     t = strtok_r(NULL, ",", &save))
			json_array_append_new(names, json_string(t));
		json_array_append_new(
			images, json_pack("{s:o, s:s, s:I, s:I, s:I}", "names", names, "digest",
					  lf_digest_format(&im->manifest, dg), "total",
					  (json_int_t)im->total, "shared", (json_int_t)im->shared,
					  "unique", (json_int_t)im->unique));
	}
	doc = json_pack("{s:o, s:{s:I, s:I, s:I, s:I, s:I, s:f}}", "images", images, "store",
			"logical", (json_int_t)df->logical, "onDisk", (json_int_t)df->on_disk,
			"objects", (json_int_t)df->n_objects, "objectBytes",
			(json_int_t)df->objects_bytes, "metadataBytes",
			(json_int_t)df->metadata_bytes, "dedupRatio", ratio(df));
	if (!doc)
		return -ENOMEM;
	out = json_dumps(doc, JSON_INDENT(2));
	json_decref(doc);
	if (!out)
		return -ENOMEM;
	printf("%s\n", out);
	free(out);
	return 0;
}

static void print_table(const struct lf_df *df)
{
	char a[32], b[32], c[32];
	int w = (int)strlen("IMAGE");

	for (size_t i = 0; i < df->n_images; i++)
		if ((int)strlen(df->images[i].refs) > w)
			w = strlen(df->images[i].refs);
	printf("%-*s  %-12s  %10s  %10s  %10s\n", w, "IMAGE", "IMAGE ID", "TOTAL", "SHARED",
	       "UNIQUE");
	for (size_t i = 0; i < df->n_images; i++) {
		const struct lf_df_image *im = &df->images[i];
		char hex[LF_DIGEST_HEX_LEN + 1];

		printf("%-*s  %.12s  %10s  %10s  %10s\n", w, im->refs,
		       lf_digest_hex(&im->manifest, hex), lf_format_bytes(im->total, a, sizeof(a)),
		       lf_format_bytes(im->shared, b, sizeof(b)),
		       lf_format_bytes(im->unique, c, sizeof(c)));
	}
	printf("\nlogical %s, on disk %s (objects %s in %zu files, metadata %s), dedup ratio %.2f\n",
	       lf_format_bytes(df->logical, a, sizeof(a)),
	       lf_format_bytes(df->on_disk, b, sizeof(b)),
	       lf_format_bytes(df->objects_bytes, c, sizeof(c)), df->n_objects,
	       lf_format_bytes(df->metadata_bytes, a, sizeof(a)), ratio(df));
}

LF_CMD(df)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	struct lf_store *s = NULL;
	struct lf_df *df = NULL;
	struct lf_err err = {};
	bool json = false;
	int c, r;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
		if (c == 'j') {
			json = true;
		} else {
			fprintf(c == 'h' ? stdout : stderr, "usage: layerfs df [--json]\n");
			return c == 'h' ? LF_EXIT_OK : LF_EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "usage: layerfs df [--json]\n");
		return LF_EXIT_USAGE;
	}
	if (lf_cli_open_store(cli, true, &s) < 0)
		return LF_EXIT_FAILURE;
	r = lf_store_lock(s, LF_LOCK_SHARED);
	if (r >= 0)
		r = lf_image_df(s, &df, &err);
	lf_store_free(s);
	if (r < 0) {
		lf_log(LF_LOG_ERR, "%s", lf_err_str(&err, r));
		return LF_EXIT_FAILURE;
	}
	if (json)
		r = print_json(df);
	else
		print_table(df);
	lf_df_free(df);
	return r < 0 ? LF_EXIT_FAILURE : LF_EXIT_OK;
}
