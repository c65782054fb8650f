/* layerfs ps [--json]: containers, their images and where they are mounted. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layerfs/container.h"
#include "layerfs/log.h"
#include "layerfs/macro.h"
#include "layerfs/store.h"
#include "cmd.h"

LF_CMD(ps)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	struct lf_container **list = NULL;
	struct lf_store *s;
	bool json = false;
	size_t n = 0;
	json_t *arr = NULL;
	int c, r;

	while ((c = getopt_long(argc, argv, "jh", opts, NULL)) >= 0) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'h':
			printf("usage: layerfs ps [--json]\n");
			return LF_EXIT_OK;
		default:
			return LF_EXIT_USAGE;
		}
	}
	if (optind != argc) {
		lf_log(LF_LOG_ERR, "usage: layerfs ps [--json]");
		return LF_EXIT_USAGE;
	}
	if (lf_cli_open_store(cli, false, &s) < 0)
		return LF_EXIT_FAILURE;
	r = lf_container_list(s, &list, &n);
	if (r < 0) {
		lf_log_errno(LF_LOG_ERR, r, "cannot list containers");
		lf_store_free(s);
		return LF_EXIT_FAILURE;
	}
	if (json)
		arr = json_array();
	else
		printf("%-24s %-12s %-32s %s\n", "NAME", "ID", "IMAGE", "MOUNTPOINT");
	for (size_t i = 0; i < n; i++) {
		struct lf_container *ct = list[i];
		_cleanup_free_ char *mp = NULL;
		char img[LF_DIGEST_STR_MAX], hex[LF_DIGEST_HEX_LEN + 1];
		bool held = false;

		lf_container_lease_query(s, ct->id, &held, &mp);
		lf_digest_format(&ct->image, img);
		if (json) {
			json_t *o =
				json_pack("{s:s, s:s, s:s, s:o, s:o, s:s, s:b}", "name", ct->name,
					  "id", ct->id, "image", img, "ref",
					  ct->ref ? json_string(ct->ref) : json_null(),
					  "mountpoint", held && mp ? json_string(mp) : json_null(),
					  "created", ct->created, "readOnly", ct->read_only);
			if (o)
				json_array_append_new(arr, o);
			continue;
		}
		lf_digest_hex(&ct->image, hex);
		hex[12] = 0;
		printf("%-24s %-12.12s %-32s %s\n", ct->name, ct->id, ct->ref ? ct->ref : hex,
		       held && mp ? mp : "-");
	}
	if (json) {
		char *text = json_dumps(arr, JSON_INDENT(2));
		if (text)
			printf("%s\n", text);
		free(text);
		json_decref(arr);
	}
	lf_container_list_free(list, n);
	lf_store_free(s);
	return LF_EXIT_OK;
}
