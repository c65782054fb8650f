/* layerfs import SOURCE [NAME:TAG] [--rootfs]: an image into the store. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "layerfs/image.h"
#include "layerfs/log.h"
#include "layerfs/store.h"
#include "cmd.h"

DEFINE_FREEP(struct lf_refs, lf_refs_free)

static void usage(FILE *f)
{
	fprintf(f,
		"usage: layerfs import SOURCE [NAME:TAG] [--rootfs]\n\n"
		"SOURCE is an OCI image layout (directory or tar), a docker save archive, or\n"
		"with --rootfs a plain root filesystem (tarball, plain/gzip/zstd, or directory).\n");
}

LF_CMD(import)
{
	static const struct option opts[] = {
		{ "rootfs", no_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	struct lf_store *s = NULL;
	_cleanup_(lf_refs_freep) struct lf_refs *refs = NULL;
	struct lf_err err = {};
	struct lf_digest d;
	char hex[LF_DIGEST_HEX_LEN + 1];
	unsigned flags = 0;
	int c, r;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
		switch (c) {
		case 'r':
			flags |= LF_IMPORT_ROOTFS;
			break;
		case 'h':
			usage(stdout);
			return LF_EXIT_OK;
		default:
			usage(stderr);
			return LF_EXIT_USAGE;
		}
	}
	if (argc - optind < 1 || argc - optind > 2) {
		usage(stderr);
		return LF_EXIT_USAGE;
	}
	if (lf_cli_open_store(cli, true, &s) < 0)
		return LF_EXIT_FAILURE;
	r = lf_image_import(s, argv[optind], argc - optind == 2 ? argv[optind + 1] : NULL, flags,
			    &d, &err);
	if (r < 0) {
		lf_log(LF_LOG_ERR, "import failed: %s", lf_err_str(&err, r));
		lf_store_free(s);
		return LF_EXIT_FAILURE;
	}
	lf_digest_hex(&d, hex);
	if (lf_refs_load(s, &refs, NULL) == 0)
		for (size_t i = 0; i < refs->n; i++)
			if (lf_digest_eq(&refs->refs[i].digest, &d))
				printf("%s %.12s\n", refs->refs[i].name, hex);
	lf_store_free(s);
	return LF_EXIT_OK;
}
