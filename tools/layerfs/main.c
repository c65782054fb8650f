/* layerfs: content-addressed image store and userspace union mounts. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "layerfs/log.h"
#include "layerfs/store.h"
#include "cmd.h"

struct command {
	const char *name;
	int (*run)(const struct lf_cli *cli, int argc, char **argv);
	const char *usage;
};

static const struct command commands[] = {
	{ "import", lf_cmd_import, "import SOURCE [NAME:TAG] [--rootfs]" },
	{ "images", lf_cmd_images, "images [--json]" },
	{ "inspect", lf_cmd_inspect, "inspect IMAGE" },
	{ "tag", lf_cmd_tag, "tag IMAGE NAME:TAG" },
	{ "rmi", lf_cmd_rmi, "rmi IMAGE..." },
	{ "df", lf_cmd_df, "df [--json]" },
	{ "mount", lf_cmd_mount, "mount IMAGE MNT [--name NAME] [--read-only] [-f] [-o OPTIONS]" },
	{ "umount", lf_cmd_umount, "umount MNT" },
	{ "ps", lf_cmd_ps, "ps [--json]" },
	{ "rm", lf_cmd_rm, "rm NAME..." },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: layerfs [--store DIR] [-v] COMMAND [ARGS]\n\ncommands:\n");
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		fprintf(f, "  layerfs %s\n", commands[i].usage);
	fprintf(f, "\nThe store is --store DIR, else $LAYERFS_STORE, else /var/lib/layerfs (root)\n"
		   "or ${XDG_DATA_HOME:-~/.local/share}/layerfs.\n");
}

int lf_cli_open_store(const struct lf_cli *cli, bool create, struct lf_store **ret)
{
	_cleanup_free_ char *path = NULL;
	int r;

	if (cli->store_path) {
		path = strdup(cli->store_path);
		if (!path)
			return lf_log_errno(LF_LOG_ERR, -ENOMEM, "out of memory");
	} else {
		r = lf_store_default_path(&path);
		if (r < 0)
			return lf_log_errno(LF_LOG_ERR, r,
					    "cannot find the store; use --store DIR");
	}
	r = lf_store_open(path, create, ret);
	if (r == -ENOENT && !create)
		return lf_log_errno(LF_LOG_ERR, r,
				    "store '%s' does not exist; import an image first", path);
	if (r < 0)
		return lf_log_errno(LF_LOG_ERR, r, "cannot open store '%s'", path);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "store", required_argument, NULL, 's' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{},
	};
	struct lf_cli cli = {};
	int c;

	lf_log_set_prog("layerfs");
	/* '+': stop at the subcommand, whose options are its own. */
	while ((c = getopt_long(argc, argv, "+s:vh", opts, NULL)) >= 0) {
		switch (c) {
		case 's':
			cli.store_path = optarg;
			break;
		case 'v':
			cli.verbose++;
			break;
		case 'h':
			usage(stdout);
			return LF_EXIT_OK;
		case 'V':
			printf("layerfs %s\n", LAYERFS_VERSION);
			return LF_EXIT_OK;
		default:
			usage(stderr);
			return LF_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return LF_EXIT_USAGE;
	}
	if (cli.verbose)
		lf_log_set_level(cli.verbose > 1 ? LF_LOG_DEBUG : LF_LOG_INFO);

	for (size_t i = 0; i < ARRAY_SIZE(commands); i++) {
		if (strcmp(argv[optind], commands[i].name) != 0)
			continue;
		argc -= optind;
		argv += optind;
		optind = 0; /* full reset of getopt for the subcommand */
		return commands[i].run(&cli, argc, argv);
	}
	lf_log(LF_LOG_ERR, "unknown command '%s'; see 'layerfs --help'", argv[optind]);
	return LF_EXIT_USAGE;
}
