/*
 * The union: a read-only lower (the image's merged tree) under a writable upper directory in
 * the kernel overlayfs format. Internal to fs/: fuse-*.c translate FUSE requests into these
 * calls, and unit tests drive them directly on a temporary upper directory, without a mount.
 *
 * Everything here takes and returns plain values (struct stat, names, fds, -errno) and knows
 * nothing of libfuse.
 *
 * Inode numbers (st_ino), stable across remounts:
 *   - an entry that comes from the lower tree, or a merged directory, or an upper file that
 *     was copied up from a lower file with a single link: lower tree ino + 1 (the root is 1);
 *   - anything else that lives in the upper: the upper file's st_ino | LF_UNION_UPPER_INO_BIT.
 * Tree inos are 32-bit, so the two ranges never meet. A copied-up file records its origin in
 * the xattr <trusted|user>.layerfs.origin (decimal tree ino), which keeps its number.
 *
 * Locking: one mutex (struct lf_union.lock) serializes everything that reads or changes the
 * namespace or the node table; file data is read and written without it.
 */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>

#include "layerfs/tree.h"

#define LF_UNION_UPPER_INO_BIT (UINT64_C(1) << 62)

struct lf_store;

/* ---- lower-tree.c: the image's merged tree and its objects ---- */

/* One name of a lower inode: entry idx of directory dir. */
struct lf_lower_name {
	uint32_t ino, dir, idx;
};

struct lf_lower {
	struct lf_tree *tree;
	int objects_fd; /* objects/ of the store, owned */

	/* Built on first use by lf_lower_names() (under the union's lock), NULL until then. */
	struct lf_lower_name *dir_up; /* per inode: for a directory, its own name in its parent */
	struct lf_lower_name *links; /* every name of a multiply-linked inode, sorted by ino */
	size_t n_links;
};

/* Takes a reference on tree and dups objects_fd. */
int lf_lower_new(struct lf_tree *tree, int objects_fd, struct lf_lower **ret);
void lf_lower_free(struct lf_lower *l);
/* Fills st from the tree (st_ino = ino + 1; atime and ctime are the mtime). */
int lf_lower_stat(const struct lf_lower *l, uint32_t ino, struct stat *st);
mode_t lf_lower_mode(const struct lf_lower *l, uint32_t ino);
int lf_lower_lookup(const struct lf_lower *l, uint32_t dir, const char *name, uint32_t *ret_ino);
/* Opens the object with the file's bytes; *ret_fd is -1 for an empty file without one. */
int lf_lower_open_data(const struct lf_lower *l, uint32_t ino, int *ret_fd);
/*
 * Every name of a multiply-linked non-directory ino (*ret points into l; *ret_n is 0 for an
 * inode with one name). The first call walks the whole tree once to build the table, so it
 * is not thread-safe: the union calls it under its lock.
 */
int lf_lower_names(struct lf_lower *l, uint32_t ino, const struct lf_lower_name **ret,
		   size_t *ret_n);
/* The name of directory dir in its parent (dir_up of the table above; ino == dir). */
const struct lf_lower_name *lf_lower_dir_up(const struct lf_lower *l, uint32_t dir);

/* ---- upper.c: the upper directory's on-disk conventions ---- */

struct lf_upper {
	int dir_fd; /* the upper directory, owned */
	int work_fd; /* work/, same filesystem, owned */
	bool privileged; /* can chown and set trusted.* (root) */
	uid_t euid;
	gid_t egid;
	const char *opaque_xattr; /* trusted.overlay.opaque or user.overlay.opaque */
	const char *origin_xattr; /* trusted.layerfs.origin or user.layerfs.origin */
	const char *redirect_xattr; /* trusted.layerfs.redirect or user.layerfs.redirect */
	const char *metacopy_xattr; /* trusted.layerfs.metacopy or user.layerfs.metacopy */
};

#define LF_OVERRIDE_XATTR "user.containers.override_stat"

/* Takes ownership of both fds. */
int lf_upper_init(struct lf_upper *u, int dir_fd, int work_fd);
void lf_upper_done(struct lf_upper *u);

/* A whiteout is a character device 0/0. */
bool lf_upper_is_whiteout(const struct stat *st);
/* Creates a whiteout at name (which must not exist). */
int lf_upper_mkwhiteout(const struct lf_upper *u, int dirfd, const char *name);
/* Does the directory (an fd opened O_RDONLY|O_DIRECTORY) carry an opaque xattr? */
bool lf_upper_is_opaque(const struct lf_upper *u, int dirfd);
int lf_upper_set_opaque(const struct lf_upper *u, int dirfd);
/*
 * A renamed lower directory keeps showing its lower contents through a redirect: the xattr
 * <trusted|user>.layerfs.redirect on its upper directory holds the lower tree ino it merges
 * with, in place of the lower entry of the same name. Reads the redirect of parent_fd/name
 * (-ENODATA when it has none).
 */
int lf_upper_get_redirect(const struct lf_upper *u, int parent_fd, const char *name,
			  uint32_t *ret_ino);
int lf_upper_set_redirect(const struct lf_upper *u, int dirfd, uint32_t ino);
/* A fresh unique name for staging in work/. */
void lf_upper_tmpname(char buf[40]);
/* "/proc/self/fd/N": lets path-based calls reach an O_PATH fd's inode. */
void lf_upper_fdpath(int fd, char buf[32]);
/* True for the xattrs the union keeps for itself and hides from users. */
bool lf_upper_xattr_is_private(const char *name);

/* Ownership and permissions an unprivileged mount keeps in user.containers.override_stat. */
struct lf_override {
	uid_t uid;
	gid_t gid;
	mode_t mode; /* permission bits (07777) */
};
/* Parses "uid:gid:0mode" (an optional ":type" suffix is ignored); -EINVAL when malformed. */
int lf_override_parse(const char *s, size_t len, struct lf_override *ret);
/* Formats "uid:gid:0mode"; returns the length. */
int lf_override_format(const struct lf_override *o, char buf[64]);
/* Reads the override of an upper file (fd may be O_PATH); -ENODATA when there is none. */
int lf_upper_get_override(const struct lf_upper *u, int fd, struct lf_override *ret);
/*
 * Gives an upper file the owner, group and mode it should show: for real when privileged,
 * else as an override (and a real mode the daemon can still use). fd may be O_PATH; type is
 * the file's S_IFMT.
 */
int lf_upper_set_owner_mode(const struct lf_upper *u, int fd, mode_t type, uid_t uid, gid_t gid,
			    mode_t mode);
/* Applies an override, if any, to st (only regular files and directories carry one). */
void lf_upper_apply_override(const struct lf_upper *u, int fd, struct stat *st);
/*
 * Copies size bytes from src to dst (both at offset 0), keeping holes: FICLONE, else
 * copy_file_range over the data segments (SEEK_DATA/SEEK_HOLE), else read/write.
 */
int lf_upper_copy_data(int src, int dst, uint64_t size);

/* ---- union-resolve.c: what one name shows (pure) ---- */

struct lf_resolved {
	bool visible; /* the name exists in the union */
	bool whiteout; /* the upper holds a whiteout at this name */
	bool has_upper; /* an upper entry (not a whiteout) is what shows */
	uint32_t lower; /* the lower entry that shows or merges, or LF_TREE_NONE */
	bool lower_below; /* a lower entry at this name exists under the parent */
};

/*
 * Decides what a name shows from its upper entry (NULL when the upper has none; upper_opaque
 * for an upper directory with an opaque xattr) and the lower entry at the same name in the
 * parent's lower directory (LF_TREE_NONE when the parent has no lower or lacks the name).
 */
void lf_union_resolve(const struct stat *upper, bool upper_opaque, uint32_t lower,
		      mode_t lower_mode, struct lf_resolved *ret);

/* st_ino of an entry, by the rule at the top of this file. */
uint64_t lf_union_ino(uint32_t lower_or_origin, uint64_t upper_ino);

struct lf_union_dirent {
	char *name; /* owned */
	unsigned char type; /* DT_* */
	bool whiteout; /* upper input only */
	bool upper; /* comes from the upper */
	uint32_t lower; /* lower tree ino, or LF_TREE_NONE */
};

void lf_union_dirents_free(struct lf_union_dirent *d, size_t n);

/*
 * Merges an upper directory listing (any order; names are moved out of it, the array is
 * freed) with the lower directory lower_dir of tree (LF_TREE_NONE: no lower, or opaque).
 * Whiteouts hide lower names and are dropped; an upper name hides the same lower name (a
 * directory over a directory keeps the lower ino so the caller can merge). The result is
 * sorted bytewise by name.
 */
int lf_union_merge_dir(struct lf_union_dirent *upper, size_t n_upper, const struct lf_tree *tree,
		       uint32_t lower_dir, struct lf_union_dirent **ret, size_t *ret_n);

/* ---- union-node.c: nodes the kernel knows about ---- */

struct lf_node {
	/* Identity. A lower-only node is found by (lower, and for hard links parent + name);
	 * a node with an upper by the upper file's (dev, ino). */
	struct lf_node *parent; /* referenced; NULL for the root and after unlink */
	char *name;
	uint32_t lower; /* lower tree ino that shows or merges, LF_TREE_NONE if none */
	uint32_t origin; /* lower ino st_ino is derived from, LF_TREE_NONE if none */
	int upper_fd; /* -1, or O_PATH (non-directories) / O_RDONLY|O_DIRECTORY (directories) */
	dev_t udev;
	ino_t uino;
	mode_t type; /* S_IFMT */
	bool opaque;
	bool lower_shared; /* lower-only with nlink > 1: keyed by parent + name too */
	bool metacopy; /* an upper regular file whose bytes are still origin's object */
	bool hashed_lower, hashed_upper;

	uint64_t nlookup; /* the kernel's lookup count */
	uint64_t refs; /* children, open handles, in-flight users */
	struct lf_node *next_lower, *next_upper; /* hash chains */
	struct lf_node *all_prev, *all_next; /* every live node, for teardown */
};

struct lf_union {
	pthread_mutex_t lock;
	struct lf_lower *lower;
	struct lf_upper upper;
	bool read_only;
	/* Set by the FUSE glue when the kernel sends no OPENDIR/RELEASEDIR: every readdir then
	 * works from a snapshot of its own (the kernel caches the listings). */
	bool stateless_dirs;
	struct lf_node *root;
	struct lf_node *all; /* every node but the root */

	struct lf_node **lower_tab, **upper_tab;
	size_t tab_size, n_lower, n_upper;
};

/*
 * Creates the union over lower (taken) and the upper directory (dir_fd and work_fd taken).
 * The first time an upper is used its root takes the lower root's owner, mode and times.
 */
int lf_union_new(struct lf_lower *lower, int upper_fd, int work_fd, bool read_only,
		 struct lf_union **ret);
void lf_union_free(struct lf_union *u);

/* Table operations; the caller holds u->lock. */
struct lf_node *lf_node_find_lower(struct lf_union *u, uint32_t lower, struct lf_node *parent,
				   const char *name);
struct lf_node *lf_node_find_upper(struct lf_union *u, dev_t dev, ino_t ino);
int lf_node_new(struct lf_union *u, struct lf_node *parent, const char *name, struct lf_node **ret);
void lf_node_hash_lower(struct lf_union *u, struct lf_node *n);
void lf_node_unhash_lower(struct lf_union *u, struct lf_node *n);
void lf_node_hash_upper(struct lf_union *u, struct lf_node *n);
void lf_node_unhash_upper(struct lf_union *u, struct lf_node *n);
/* Drops one internal reference; frees the node (and maybe its parents) when unused. */
void lf_node_unref_locked(struct lf_union *u, struct lf_node *n);
void lf_node_ref_locked(struct lf_node *n);
/* Moves n under a new parent and name (rename). */
int lf_node_move(struct lf_union *u, struct lf_node *n, struct lf_node *parent, const char *name);
/* Forgets the node's parent and name (its last name went away). */
void lf_node_detach(struct lf_union *u, struct lf_node *n);

/* ---- union-lookup.c: reading the namespace ---- */

/* Internal helpers shared by union-*.c; the caller holds u->lock. */
/* Resolves name under parent; *ret_ust is the upper entry's lstat when res->has_upper or
 * res->whiteout. */
int lf_union_resolve_name(struct lf_union *u, struct lf_node *parent, const char *name,
			  struct lf_resolved *ret, struct stat *ret_ust);
/* Finds or makes the node a resolved entry stands for. Counts are not raised: the caller
 * raises nlookup or refs before dropping the lock. */
int lf_union_node_get(struct lf_union *u, struct lf_node *parent, const char *name,
		      const struct lf_resolved *res, const struct stat *ust, struct lf_node **ret);
/* Makes the node for an upper entry created just now at parent/name (fd taken). */
int lf_union_node_upper(struct lf_union *u, struct lf_node *parent, const char *name, int fd,
			uint32_t lower, struct lf_node **ret);
int lf_union_getattr_locked(struct lf_union *u, struct lf_node *n, struct stat *ret);
/* Lists an upper directory: names, DT_* types, whiteouts marked. */
int lf_union_read_upper_dir(struct lf_union *u, int dirfd, struct lf_union_dirent **ret,
			    size_t *ret_n);

/* Per-request identity of the caller. */
struct lf_ctx {
	uid_t uid;
	gid_t gid;
};

/* Caching hints for an entry: lower-only entries never change behind the kernel's back. */
static inline bool lf_node_is_lower_only(const struct lf_node *n)
{
	return n->upper_fd < 0;
}

/* Kernel lookup: on success the node's lookup count is raised by one. */
int lf_union_lookup(struct lf_union *u, struct lf_node *parent, const char *name,
		    struct lf_node **ret, struct stat *ret_st);
/* The kernel forgot n nlookup times. */
void lf_union_forget(struct lf_union *u, struct lf_node *n, uint64_t nlookup);
/* Takes/drops an internal reference (open handles). */
void lf_union_ref(struct lf_union *u, struct lf_node *n);
void lf_union_unref(struct lf_union *u, struct lf_node *n);
int lf_union_getattr(struct lf_union *u, struct lf_node *n, struct stat *ret);
/* Readlink: the target is copied into buf (NUL-terminated, at most size - 1 bytes). */
int lf_union_readlink(struct lf_union *u, struct lf_node *n, char *buf, size_t size);
/* xattrs: value NULL/size 0 asks for the size. Returns the size or -errno (-ERANGE). */
ssize_t lf_union_getxattr(struct lf_union *u, struct lf_node *n, const char *name, void *value,
			  size_t size);
ssize_t lf_union_listxattr(struct lf_union *u, struct lf_node *n, char *list, size_t size);
int lf_union_statfs(struct lf_union *u, struct statvfs *ret);

/* A snapshot of a directory for readdir. */
struct lf_dir {
	struct lf_node *node; /* referenced */
	bool lower_only; /* entries read from the immutable tree by index */
	uint32_t lower_dir;
	struct lf_union_dirent *ents;
	size_t n_ents;
};

int lf_union_opendir(struct lf_union *u, struct lf_node *n, struct lf_dir **ret);
/* Rereads a merged directory (rewinddir). */
int lf_union_dir_refresh(struct lf_union *u, struct lf_dir *d);
size_t lf_union_dir_count(struct lf_union *u, const struct lf_dir *d);
/* Entry idx of the snapshot: name, DT_* type, st_ino. */
int lf_union_dir_entry(struct lf_union *u, struct lf_dir *d, size_t idx, const char **ret_name,
		       unsigned char *ret_type, uint64_t *ret_ino);
/* Lookup of entry idx (readdirplus): like lf_union_lookup; *ret_name is the entry's name,
 * valid while d is. */
int lf_union_dir_lookup(struct lf_union *u, struct lf_dir *d, size_t idx, struct lf_node **ret,
			struct stat *ret_st, const char **ret_name);
void lf_union_closedir(struct lf_union *u, struct lf_dir *d);

/* ---- open files (union-lookup.c) ---- */

struct lf_file {
	struct lf_node *node; /* referenced */
	pthread_mutex_t lock;
	int fd; /* upper file, lower object, or -1 for an empty lower file */
	int old_fd; /* the lower object after a copy-up, kept until release */
	bool upper;
	int flags;
};

/* Opens a file; write access or O_TRUNC copies a lower file up first. */
int lf_union_open(struct lf_union *u, struct lf_node *n, int flags, struct lf_file **ret);
/* The fd to read from now (follows a copy-up made through another handle); -1 = empty. */
int lf_union_file_fd(struct lf_union *u, struct lf_file *f);
void lf_union_release(struct lf_union *u, struct lf_file *f);

/* ---- union-copyup.c ---- */

enum lf_copyup {
	LF_COPYUP_DATA, /* metadata and bytes: the file is about to be written */
	LF_COPYUP_EMPTY, /* no bytes: the file is about to be truncated to 0 */
	/* Only metadata changes (chmod, chown, utimens, xattrs, link, rename): a regular file's
	 * bytes stay in the store's object until it is written (metacopy). */
	LF_COPYUP_META,
};
/* Copies n (and its parents) up unless it already has an upper, or copies a metacopy file's
 * bytes up for LF_COPYUP_DATA. Caller holds u->lock. */
int lf_union_copyup_locked(struct lf_union *u, struct lf_node *n, enum lf_copyup how);
/*
 * Before lower directory top moves (a redirect): every multiply-linked file below it is
 * copied up (metadata only), which links all names of its group to one upper inode. After
 * the move the names below it are no longer at their lower paths, where the copy-up of
 * another name of the group would look for them.
 */
int lf_union_copyup_links_below_locked(struct lf_union *u, uint32_t top);
/* Is the upper file of a metacopy node still without its bytes (another name of it may have
 * copied them)? Clears n->metacopy when not. Caller holds u->lock. */
bool lf_union_metacopy_locked(struct lf_union *u, struct lf_node *n);
/* Removes a staging entry from work/ (file or empty directory). */
void lf_upper_drop_tmp(const struct lf_upper *up, const char *tmp);

/* ---- union-write.c: changing the namespace ---- */

/* Creates a regular file, directory, device, fifo or socket (mode has the type). A regular
 * file is opened with flags and returned in *ret_file (optional for other types). */
int lf_union_mknod(struct lf_union *u, struct lf_node *parent, const char *name, mode_t mode,
		   dev_t rdev, const struct lf_ctx *ctx, int flags, struct lf_node **ret,
		   struct stat *ret_st, struct lf_file **ret_file);
int lf_union_symlink(struct lf_union *u, struct lf_node *parent, const char *name,
		     const char *target, const struct lf_ctx *ctx, struct lf_node **ret,
		     struct stat *ret_st);
int lf_union_link(struct lf_union *u, struct lf_node *n, struct lf_node *parent, const char *name,
		  struct stat *ret_st);
int lf_union_unlink(struct lf_union *u, struct lf_node *parent, const char *name);
int lf_union_rmdir(struct lf_union *u, struct lf_node *parent, const char *name);
/* flags: RENAME_NOREPLACE, RENAME_EXCHANGE. */
int lf_union_rename(struct lf_union *u, struct lf_node *parent, const char *name,
		    struct lf_node *newparent, const char *newname, unsigned flags);

enum {
	LF_SET_MODE = 1u << 0,
	LF_SET_UID = 1u << 1,
	LF_SET_GID = 1u << 2,
	LF_SET_SIZE = 1u << 3,
	LF_SET_ATIME = 1u << 4,
	LF_SET_MTIME = 1u << 5,
	LF_SET_ATIME_NOW = 1u << 6,
	LF_SET_MTIME_NOW = 1u << 7,
	LF_SET_CTIME = 1u << 8,
};
/* Changes attributes (copying up first); f, when given, is the handle of an ftruncate etc. */
int lf_union_setattr(struct lf_union *u, struct lf_node *n, struct lf_file *f, unsigned what,
		     const struct stat *in, struct stat *ret_st);
int lf_union_setxattr(struct lf_union *u, struct lf_node *n, const char *name, const void *value,
		      size_t size, int flags);
int lf_union_removexattr(struct lf_union *u, struct lf_node *n, const char *name);
