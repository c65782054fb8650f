/* Shared by layerfs' subcommands: one cmd-<name>.c each, dispatched from main.c. */
#pragma once

#include <stdbool.h>

struct lf_store;

/* Global options, parsed by main.c before the subcommand. */
struct lf_cli {
	const char *store_path; /* --store, or NULL for the default */
	int verbose;
};

/* Exit statuses shared by the subcommands. */
enum {
	LF_EXIT_OK = 0,
	LF_EXIT_FAILURE = 1,
	LF_EXIT_USAGE = 2,
};

/* Opens the store named by --store/$LAYERFS_STORE/default; logs and returns -errno. */
int lf_cli_open_store(const struct lf_cli *cli, bool create, struct lf_store **ret);

/*
 * Each subcommand gets argv with argv[0] being its own name and returns an exit status.
 * getopt_long is reset by main.c before the call.
 */
#define LF_CMD(name) int lf_cmd_##name(const struct lf_cli *cli, int argc, char **argv)

LF_CMD(import);
LF_CMD(images);
LF_CMD(inspect);
LF_CMD(tag);
LF_CMD(rmi);
LF_CMD(df);
LF_CMD(mount);
LF_CMD(umount);
LF_CMD(ps);
LF_CMD(rm);
