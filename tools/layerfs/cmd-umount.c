/*
 * layerfs umount MNT: unmounts a layerfs mount (a dead one too, lazily) and waits until the
 * daemon has let go of the container's lease, so that the container can be mounted again
 * or removed right away.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "layerfs/container.h"
#include "layerfs/fs.h"
#include "layerfs/log.h"
#include "layerfs/macro.h"
#include "layerfs/store.h"
#include "cmd.h"

#define LEASE_WAIT_MS 10000

/* The id of the container whose live lease names mountpoint, if any (in the store). */
static int find_lease(struct lf_store *s, const char *mountpoint, char id[LF_CONTAINER_ID_LEN + 1])
{
	struct lf_container **list = NULL;
	size_t n = 0;
	int found = 0;

	if (lf_container_list(s, &list, &n) < 0)
		return 0;
	for (size_t i = 0; i < n && !found; i++) {
		_cleanup_free_ char *mp = NULL;
		bool held;
		if (lf_container_lease_query(s, list[i]->id, &held, &mp) == 0 && held && mp &&
		    !strcmp(mp, mountpoint)) {
			memcpy(id, list[i]->id, LF_CONTAINER_ID_LEN + 1);
			found = 1;
		}
	}
	lf_container_list_free(list, n);
	return found;
}

static void wait_lease(struct lf_store *s, const char *id)
{
	for (int waited = 0; waited < LEASE_WAIT_MS; waited += 20) {
		bool held = true;
		if (lf_container_lease_query(s, id, &held, NULL) < 0 || !held)
			return;
		nanosleep(&(struct timespec){ .tv_nsec = 20 * 1000 * 1000 }, NULL);
	}
	lf_log(LF_LOG_WARNING, "the daemon of container %.12s is still running", id);
}

LF_CMD(umount)
{
	_cleanup_free_ char *mp = NULL;
	char id[LF_CONTAINER_ID_LEN + 1];
	struct lf_store *s = NULL;
	struct lf_err err = {};
	int r, found = 0;

	if (argc != 2 || argv[1][0] == '-') {
		lf_log(LF_LOG_ERR, "usage: layerfs umount MNT");
		return LF_EXIT_USAGE;
	}
	r = lf_fs_canonical_path(argv[1], &mp);
	if (r < 0) {
		lf_log_errno(LF_LOG_ERR, r, "cannot find '%s'", argv[1]);
		return LF_EXIT_FAILURE;
	}
	/* The store is optional here: the mount may belong to another store. */
	{
		_cleanup_free_ char *path = NULL;
		if (cli->store_path)
			path = strdup(cli->store_path);
		else
			lf_store_default_path(&path);
		if (path && lf_store_open(path, false, &s) == 0)
			found = find_lease(s, mp, id);
	}
	r = lf_fs_umount(mp, &err);
	if (r < 0) {
		lf_log(LF_LOG_ERR, "%s", lf_err_str(&err, r));
		lf_store_free(s);
		return LF_EXIT_FAILURE;
	}
	if (found)
		wait_lease(s, id);
	lf_store_free(s);
	return LF_EXIT_OK;
}
