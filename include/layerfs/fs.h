/*
 * The mounted view (DESIGN.md §4): a container's upper directory over an image's merged tree,
 * served through FUSE. No libfuse types here; fs/fuse-*.c hold them.
 */
#pragma once

#include <stdbool.h>

#include "layerfs/err.h"

struct lf_tree;

struct lf_fs_options {
	const char *mountpoint;
	bool read_only; /* writes fail with EROFS */
	const char *fuse_options; /* extra "-o" options (allow_other, ...), or NULL */
	bool debug; /* libfuse's request trace on stderr */
};

struct lf_fs;

/*
 * Mounts merged (the image's merged tree, referenced) with objects from objects_fd (dup'ed)
 * and the container's upper_fd and work_fd (both taken, even on failure) at o->mountpoint.
 * The mount exists when this returns 0; lf_fs_run() then serves it.
 * Options always include fsname=layerfs, subtype=layerfs and default_permissions.
 */
int lf_fs_mount(struct lf_tree *merged, int objects_fd, int upper_fd, int work_fd,
		const struct lf_fs_options *o, struct lf_fs **ret, struct lf_err *err);
/* Serves requests on several threads until the mount goes away or SIGTERM/SIGINT/SIGHUP. */
int lf_fs_run(struct lf_fs *fs);
/* Unmounts (if still mounted) and frees. */
void lf_fs_free(struct lf_fs *fs);

/*
 * Unmounts a layerfs mount: umount2 as root, fusermount3 -u otherwise. A mount whose daemon
 * died ("Transport endpoint is not connected") is detached lazily.
 * -EINVAL when mountpoint is not a layerfs mount, -EBUSY when it is in use.
 */
int lf_fs_umount(const char *mountpoint, struct lf_err *err);
/*
 * The absolute, symlink-free form of a mountpoint, computed from its parent so that it works
 * for a dead mount too (whose root cannot be stat'ed).
 */
int lf_fs_canonical_path(const char *path, char **ret);
/* True when path is the mountpoint of a layerfs mount (dead or alive). */
bool lf_fs_is_mounted(const char *mountpoint);
